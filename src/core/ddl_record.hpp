// What guarded_ddl learns about one guarded statement: the locks it took (and
// how long that took, and who was in the way), its verdict and its outcome.
// Plain fixed-size data on purpose: the hook fills it from PostgreSQL frames
// without owning C++ objects, and the audit log copies it into shared memory
// whole. Text fields are NUL-terminated and truncated to fit.
#pragma once

#include "core/no_postgres.hpp"

#include "core/rollback_class.hpp"

#include <cstdint>

namespace guarded_ddl {

inline constexpr int max_blockers_per_lock = 4;
inline constexpr int max_locks_per_statement = 8;
inline constexpr int max_rules_per_statement = 8;

// A session holding or waiting for a lock that conflicts with ours.
struct Blocker {
    int32_t pid;
    int64_t xact_age_ms; // -1 when the session has no transaction open
    char role[64];
    char application[64];
    char state[32];
    char query[256];
};

// One relation lock the statement needed.
struct LockRecord {
    uint32_t relid;
    int32_t lock_mode; // PostgreSQL's LOCKMODE numbering (see core/lock_mode.hpp)
    bool granted;
    int32_t attempts;
    int64_t wait_us;
    int64_t granted_us; // TimestampTz of the grant, 0 when not granted
    char relation[192]; // schema-qualified, quoted where needed, captured before the statement ran
    int32_t n_blockers;
    Blocker blockers[max_blockers_per_lock];
};

enum class Outcome : int8_t { Allowed, Warned, Blocked, Approved, Failed };

// How the statement ended and why; the audit log persists this.
struct StatementRecord {
    int32_t nesting_level; // 0 = top level, > 0 inside a function or DO block
    int64_t start_us;      // PostgreSQL TimestampTz: microseconds since 2000-01-01 UTC
    int64_t duration_us;
    Outcome outcome;
    Rollback rollback; // the worst of the actions'; 0 when not analysed
    char sqlstate[6];  // empty unless the statement failed or was blocked
    char error_message[512];
    char command_tag[64];
    char objects[512]; // relations the statement names, quoted, comma-separated
    int32_t n_rules;
    char rules[max_rules_per_statement][48]; // rule ids that fired
    int64_t approval_id;                     // 0 when no approval was used
    int32_t n_locks;
    LockRecord locks[max_locks_per_statement];
};

} // namespace guarded_ddl
