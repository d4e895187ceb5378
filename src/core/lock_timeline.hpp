// guarded_ddl.lock_timeline(): the locks of a time window drawn as a
// self-contained SVG document, one lane per relation. Plain structs in, text
// out; the PG zone reads the audit log and fills the structs.
//
// The document has no scripts, no links or references outside itself and no
// event handler attributes: it is safe to open from a review ticket. Every
// text from the log is XML-escaped and stripped of characters XML 1.0 does
// not allow, so any statement text yields well-formed XML.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace guarded_ddl {

// How the statement behind a lock, or a statement without a lock row, ended.
enum class TimelineOutcome { Ok, Blocked, Failed };

// All times are microseconds since the Unix epoch, UTC.
struct TimelineLock {
    std::string relation; // the lane
    std::string mode;     // AccessExclusiveLock, ...
    std::int64_t wait_start_us = 0;
    // When the lock was granted; nullopt: never granted, the wait ran until
    // wait_end_us.
    std::optional<std::int64_t> granted_us;
    std::int64_t wait_end_us = 0; // only for a lock never granted
    // When the lock was released; nullopt: still held, or the release was
    // not recorded. The bar then runs to the end of the window, open-ended.
    std::optional<std::int64_t> released_us;
    TimelineOutcome outcome = TimelineOutcome::Ok;
    std::int64_t statement_end_us = 0; // where a blocked/failed marker goes
    std::string statement;
    std::string executing_role;
    std::string session_role;
    std::string verdict;
};

// A statement drawn as a marker on a relation's lane: the lock-hold cap
// (command LOCK HOLD CAP), or a blocked/failed statement that has no lock row.
struct TimelineEvent {
    enum class Kind { Blocked, Failed, Capped };
    Kind kind = Kind::Blocked;
    std::string relation;
    std::int64_t at_us = 0;
    std::string statement;
    std::string executing_role;
    std::string session_role;
    std::string message; // the error message, if any
};

struct TimelineInput {
    std::int64_t since_us = 0;
    std::int64_t until_us = 0;
    std::vector<TimelineLock> locks;
    std::vector<TimelineEvent> events;
    std::size_t locks_left_out = 0;  // rows the caller did not pass (row bound)
    std::size_t events_left_out = 0; // likewise for events
};

// The SVG document (UTF-8, with an XML declaration). Deterministic: the same
// input gives the same bytes.
std::string render_lock_timeline(const TimelineInput &input);

// text as XML character data or attribute value: & < > " ' escaped; control
// characters other than tab and newline dropped; invalid UTF-8 and
// codepoints XML 1.0 forbids (U+FFFE, U+FFFF) replaced by U+FFFD.
std::string xml_escape(std::string_view text);

// "2024-05-02 10:00:01.234" (UTC), the milliseconds only when not zero.
std::string format_utc(std::int64_t unix_us);

// "0.8 ms", "12.3 ms", "4.56 s", "2 min 3.4 s", "1 h 02 min".
std::string format_duration(std::int64_t us);

} // namespace guarded_ddl
