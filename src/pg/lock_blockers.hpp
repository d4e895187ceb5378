// Who stands in the way of a relation lock, for the DETAIL of a lock-timeout
// error and the audit log. Only runs after an attempt failed, never on the
// path of a statement that got its locks at once.
#pragma once

#include "pg/prelude.hpp"

#include "core/ddl_record.hpp"

// Fills lock->blockers with the sessions holding a lock on relid that
// conflicts with mode. Returns how many of them are autovacuum workers that
// could be cancelled (see gd_cancel_autovacuum_blockers).
int gd_find_blockers(Oid relid, LOCKMODE mode, guarded_ddl::LockRecord *lock);

// Cancels the autovacuum workers among lock->blockers, unless they prevent
// wraparound: what PostgreSQL's own lock waiter does after deadlock_timeout,
// which the guard's short attempts never reach.
void gd_cancel_autovacuum_blockers(const guarded_ddl::LockRecord *lock);
