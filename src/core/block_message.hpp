// The report for a statement a rule fired on: the same text is an ERROR
// (enforce) or a WARNING (warn).
#pragma once

#include "core/no_postgres.hpp"

#include "core/message.hpp"
#include "core/rule_catalogue.hpp"

#include <string_view>

namespace guarded_ddl {

// For a lock-hold rule: the lock the transaction holds, the statement that
// took it, and what the DML about to run would do under it.
struct HeldLockContext {
    std::string_view mode;     // PostgreSQL's name, e.g. "AccessExclusiveLock"
    std::string_view taken_by; // the statement that took the lock
    double dml_rows;           // the planner's estimate, < 0 when unknown
    long max_rows;             // guarded_ddl.max_rows_under_lock
};

struct RuleHit {
    const Rule *rule;
    std::string_view command; // command tag, e.g. "ALTER TABLE"
    std::string_view size;    // as pg_size_pretty prints it
    double rows;              // planner estimate, < 0 when unknown
    RecipeNames names;        // names.table: qualified, quoted where needed
    // The figure is the imported size profile's (production's), not this
    // server's: the message says so.
    bool size_from_profile = false;
    bool rows_from_profile = false;
    const HeldLockContext *held = nullptr; // set for Effect::LockHold rules
};

Message block_message(const RuleHit &hit);

// The lock-hold cap (guarded_ddl.max_lock_hold) ends a transaction: what the
// cancelled statement's session, or for an idle one the server log, is told.
struct CapHit {
    std::string_view mode;     // PostgreSQL's name, e.g. "AccessExclusiveLock"
    std::string_view relation; // qualified
    std::string_view taken_at; // timestamp text
    std::string_view taken_by; // the statement that took the lock
    std::string_view cap;      // e.g. "10s"
    bool terminating;          // the session is terminated, not just its statement cancelled
    bool idle;                 // it sat idle in the transaction
};

Message cap_message(const CapHit &hit);

} // namespace guarded_ddl
