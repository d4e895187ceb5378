#include "core/input_limits.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

namespace guarded_ddl {

void check_explain_input(std::size_t bytes) {
    if (bytes <= max_explain_bytes)
        return;
    throw Error(sqlstate::program_limit_exceeded,
                fmt::format("guarded_ddl.explain: SQL text of {} bytes is too long", bytes),
                fmt::format("The limit is {} bytes.", max_explain_bytes),
                "Explain the migration one file or one statement at a time.");
}

} // namespace guarded_ddl
