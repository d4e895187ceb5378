// JSON renderings of audit data: the blockers column of lock_log, and the
// one-line summary written to the server log when a record cannot reach the
// tables (queue full, insert failed, extension not installed).
#pragma once

#include "core/no_postgres.hpp"

#include "core/audit_entry.hpp"

#include <string>
#include <string_view>

namespace guarded_ddl {

// text as a JSON string literal, quotes included. A truncated multi-byte
// character at the end is dropped so the result is always valid UTF-8 JSON
// for valid UTF-8 input.
std::string json_string(std::string_view text);

// [{"pid":..,"role":..,"application":..,"state":..,"xact_age_ms":..,"query":..}, ...]
std::string blockers_json(const LockRecord &lock);

std::string_view outcome_name(Outcome outcome) noexcept;

// Everything of the entry a reviewer needs, as one JSON object.
std::string audit_entry_json(const AuditEntry &entry);

} // namespace guarded_ddl
