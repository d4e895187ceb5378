// Which existing relations a utility statement locks first, and in which
// mode: exactly the mode PostgreSQL 15 itself takes first, so that taking it
// early never turns into a lock upgrade (and a deadlock risk) later.
#pragma once

#include "pg/prelude.hpp"

// What the session must be allowed to do to a relation before the guard may
// queue a lock on it. When the check fails the guard leaves the relation
// alone and PostgreSQL reports its own permission error.
enum GdPrivilege {
    GD_PRIV_OWNER,      // ALTER, DROP, CREATE INDEX, CLUSTER, REFRESH, ...
    GD_PRIV_TRUNCATE,   // TRUNCATE
    GD_PRIV_TRIGGER,    // CREATE TRIGGER
    GD_PRIV_REFERENCES, // the table a new foreign key points to
    GD_PRIV_LOCK,       // LOCK TABLE: the privilege depends on the mode
    GD_PRIV_MAINTAIN,   // VACUUM, ANALYZE: owner or database owner
};

struct GdLockTarget {
    const RangeVar *relation; // borrowed from the parse tree, never modified
    LOCKMODE mode;
    GdPrivilege privilege;
    // The name is an index whose table PostgreSQL locks first, in this mode
    // (DROP INDEX, REINDEX INDEX); NoLock otherwise.
    LOCKMODE table_mode_first;
};

// Fills targets (at most max) and returns how many. Statements that lock no
// existing relation return 0.
int gd_collect_lock_targets(Node *stmt, GdLockTarget *targets, int max);

// Statements that refuse to run in a transaction block (CREATE INDEX
// CONCURRENTLY, VACUUM, ...): they commit internally, so the guard must not
// wrap anything of theirs in a subtransaction or a GUC nesting level.
bool gd_statement_is_nontransactional(Node *stmt);

// VACUUM, and CLUSTER without a table, lock each table in a transaction of
// their own: locking early in the caller's transaction would be released at
// their first internal commit.
bool gd_statement_locks_in_own_transactions(Node *stmt);
