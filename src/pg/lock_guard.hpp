// Takes a statement's locks before it runs: a try-lock first, then queued
// attempts bounded by guarded_ddl.lock_timeout with jittered exponential
// backoff between them, until guarded_ddl.lock_retries or lock_budget runs
// out (then ERROR 55P03 naming the blockers). Only the lock acquisition is
// retried, each queued attempt in an internal subtransaction; the statement
// itself runs once.
#pragma once

#include "pg/prelude.hpp"

#include "core/ddl_record.hpp"
#include "pg/statement_actions.hpp"

// Takes the locks of the statement's actions, in their order, each relation
// once in the strongest mode it needs.
void gd_acquire_statement_locks(Node *stmt, const GdAction *actions, int n_actions,
                                guarded_ddl::StatementRecord *record);

// The lock_timeout the guard works with: its own, or the session's when that
// is stricter. 0 when the guard does not manage lock waits.
int gd_effective_lock_timeout_ms(void);
