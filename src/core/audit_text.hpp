// Statement text as the audit log keeps it: secrets replaced, length
// bounded.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace guarded_ddl {

inline constexpr std::string_view redacted_literal = "'********'";

// Replaces the string literal that follows the keyword PASSWORD (CREATE/ALTER
// ROLE|USER ... PASSWORD '...', user mapping OPTIONS (password '...')) with
// redacted_literal. Knows SQL's quoting: standard and E'' strings, quoted
// identifiers, dollar quotes and comments, so a quoted "password" or one in
// a comment is left alone and a literal hiding a quote is replaced whole.
std::string redact_passwords(std::string_view sql);

// sql, redacted, and cut to fit max_bytes (terminating NUL included) at a
// UTF-8 character boundary, with a marker saying how many bytes were cut.
std::string audit_statement_text(std::string_view sql, std::size_t max_bytes);

} // namespace guarded_ddl
