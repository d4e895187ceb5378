// What one utility statement will do to each relation it touches: the lock
// PostgreSQL takes, the effect on the table's data and the rule it triggers,
// read from the parse tree and the catalogs without taking any lock that
// could wait. The same analysis serves the hook and guarded_ddl.explain(),
// so explain always agrees with execution.
#pragma once

#include "pg/prelude.hpp"

#include "core/form_classifier.hpp"
#include "pg/relation_preconditions.hpp"

#include <optional>

struct GdAction {
    Oid relid; // InvalidOid: the statement names no existing relation
    char relation[192];
    LOCKMODE lock; // the mode PostgreSQL 15 takes on relid, first
    GdPrivilege privilege;
    // DROP INDEX, REINDEX INDEX: relid is the index's table, which
    // PostgreSQL locks first; the index itself is locked next, in index_lock.
    Oid index_relid;
    LOCKMODE index_lock;
    guarded_ddl::Effect effect;
    std::optional<guarded_ddl::RuleId> rule;
    guarded_ddl::Rollback rollback; // what undoing the action takes
    char column[NAMEDATALEN];
    char constraint_name[NAMEDATALEN];
    char index[NAMEDATALEN];
    // DROP ... RESTRICT: PostgreSQL refuses it if another object depends on
    // the relation (restrict_attnum 0) or the column. Reading pg_depend for
    // that is left to when a rule would fire (gd_decide).
    bool restrict_check;
    AttrNumber restrict_attnum;
};

inline constexpr int gd_max_actions = 32;

// Fills actions (at most max) and returns how many, in the order PostgreSQL
// locks their relations: none when PostgreSQL will refuse the statement
// (a missing or wrong kind of object, a privilege the session lacks), so that
// its own error is what the session sees.
// What guarded_ddl.explain() needs besides the actions: why the
// statement's effect cannot be known without running the text's earlier
// statements (or null), and whether PostgreSQL will refuse it.
struct GdAnalysisOutcome {
    const char *unknown;
    bool refused;
};

int gd_statement_actions(Node *stmt, GdAction *actions, int max,
                         GdAnalysisOutcome *outcome = nullptr);

// Statements that refuse to run in a transaction block (CREATE INDEX
// CONCURRENTLY, VACUUM, ...): they commit internally, so the guard must not
// wrap anything of theirs in a subtransaction or a GUC nesting level.
bool gd_statement_is_nontransactional(Node *stmt);

// VACUUM, and CLUSTER without a table, lock each table in a transaction of
// their own: locking early in the caller's transaction would be released at
// their first internal commit.
bool gd_statement_locks_in_own_transactions(Node *stmt);
