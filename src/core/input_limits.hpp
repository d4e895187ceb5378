// Bounds on text handed to guarded_ddl's SQL functions, so a huge argument
// is refused up front with a clear error rather than parsed.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>

namespace guarded_ddl {

inline constexpr std::size_t max_explain_bytes = std::size_t{1024} * 1024;

// Throws Error (54000 program_limit_exceeded) when the SQL text is too long.
void check_explain_input(std::size_t bytes);

} // namespace guarded_ddl
