// Statement text as the audit log keeps it: secrets replaced, length
// bounded.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace guarded_ddl {

inline constexpr std::string_view redacted_literal = "'********'";

// Replaces the secrets among sql's string literals:
//  - the literal after the keyword PASSWORD (CREATE/ALTER ROLE|USER ...
//    PASSWORD '...'; OPTIONS (password '...') of user mappings and servers,
//    also spelled "password") becomes redacted_literal;
//  - in the connection string after CONNECTION (CREATE/ALTER SUBSCRIPTION),
//    each password value (key = value form, and user:password@ or
//    ?password= in the URI form) becomes ********, the rest is kept; a
//    literal that is not a connection string libpq would take, or that this
//    scanner cannot decode, becomes redacted_literal whole.
// Knows SQL's quoting: standard, E'' and U&'' strings, quoted identifiers,
// dollar quotes, comments and literals continued on the next line, so a
// "password" in a comment or a literal is left alone and a literal hiding a
// quote is replaced whole.
std::string redact_passwords(std::string_view sql);

// A libpq connection string (key = value pairs or a postgresql:// URI) with
// its passwords replaced by ********; nullopt when libpq would not parse it.
std::optional<std::string> redact_conninfo(std::string_view conninfo);

// sql without the whitespace around it (where a statement of a
// multi-statement string starts depends on the PostgreSQL version),
// redacted, and cut to fit max_bytes (terminating NUL included) at a UTF-8
// character boundary, with a marker saying how many bytes were cut.
std::string audit_statement_text(std::string_view sql, std::size_t max_bytes);

} // namespace guarded_ddl
