// The hook's own reads and writes of guarded_ddl's tables (policy,
// approvals) wait for a lock no longer than the guard lets DDL wait for any
// other lock: a DBA holding a lock on one of them, or an ALTER TABLE queued
// on it, slows the guard down by guarded_ddl.lock_timeout at most and never
// stalls every DDL statement of the cluster. When the wait runs out the
// statement fails with 55P03 naming the table; it is never judged as if the
// table were empty (that would turn blocks into allows, or approvals into
// blocks, without a word).
#pragma once

#include "pg/prelude.hpp"

struct GdOwnTableLock {
    Oid relid; // one of guarded_ddl's tables
    LOCKMODE mode;
    const char *purpose; // a sentence for the DETAIL: why the guard needs it
};

// Takes each lock (kept until the end of the transaction, as the executor
// keeps its own) and runs fn(arg), with every lock wait, table or row,
// bounded by the guard's effective lock timeout (guarded_ddl.lock_timeout,
// or the session's lock_timeout when stricter; with guarded_ddl.lock_timeout
// = 0 the session's lock_timeout alone). fn may be null. A lock timeout is
// reported as ERROR 55P03 naming the table and who holds it; any other error
// passes through unchanged.
void gd_access_own_tables(const GdOwnTableLock *locks, int n, void (*fn)(void *), void *arg);
