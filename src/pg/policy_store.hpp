// The DBA's policy kept in the extension's tables: per-table overrides and
// approvals. Read straight from the tables (or through the extension's own
// SECURITY DEFINER function), so a migration role needs no privilege on
// schema guarded_ddl for its DDL to be judged by them. In a database without
// the extension there is no such policy.
#pragma once

#include "pg/prelude.hpp"

#include "core/rule_policy.hpp"

#include <optional>

struct GdTablePolicy {
    std::optional<bool> large;
    bool has_rules;
    guarded_ddl::RuleOverrides rules;
};

// The policy set with guarded_ddl.set_table_policy for relid, if any.
// Cached per backend; a read of the table waits for its lock no longer than
// the guard's lock timeout, then fails with 55P03.
GdTablePolicy gd_table_policy(Oid relid);

// Whether gd_table_policy(relid) would answer without waiting for a lock:
// the answer is cached, or the table's lock is free right now (it is then
// taken). For work no rule asks for, which must not queue behind a DBA.
bool gd_table_policy_at_hand(Oid relid);

// An active approval of rule on relid: its id, or 0. consume counts a use
// (in the statement's own transaction, so a failed statement uses nothing).
// Like gd_table_policy, waits for a lock on guarded_ddl's table no longer
// than the guard's lock timeout, then fails with 55P03 (own_table_lock.hpp).
int64 gd_take_approval(guarded_ddl::RuleId rule, Oid relid, bool consume);

// A dropped relation's policy and approvals end with it, in the transaction
// that drops it. The object access hook notes every relation dropped
// (OAT_DROP on pg_class: by DROP TABLE, SCHEMA ... CASCADE, OWNED, a
// function, ...); the utility statement during which they were dropped
// forgets their rows when it ends, so a rollback of the statement, its
// savepoint or its transaction keeps them. No sql_drop event trigger: one
// would make PostgreSQL track the dropped objects of every DDL statement.
void gd_install_drop_watch(void);

// Where the list of dropped relations stands before a utility statement;
// each mark ends with exactly one gd_drop_discard or gd_drop_forget_since.
struct GdDropMark {
    uint64 generation;
    int n;
};
GdDropMark gd_drop_mark(void);
// The statement failed: the relations it dropped are not dropped after all.
void gd_drop_discard(GdDropMark mark);
// The statement succeeded: the policies and approvals of the relations it
// dropped end now (guarded_ddl.forget_tables, when one of them has a row).
void gd_drop_forget_since(GdDropMark mark);
