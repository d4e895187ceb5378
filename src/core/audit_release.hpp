// Which records of one audit batch release the locks of which statements.
// A transaction's LocksReleased record follows its statements in the queue,
// so the two usually travel in the same batch: the writer then gives the
// lock rows their hold time as it inserts them, and searches the tables
// only for statements written by an earlier batch.
#pragma once

#include "core/no_postgres.hpp"

#include "core/audit_entry.hpp"

namespace guarded_ddl {

// Whether release (a LocksReleased record) names statement's locks: the same
// backend, and the statement's number within its range.
bool releases(const AuditEntry &release, const AuditEntry &statement) noexcept;

// When the locks of batch[i] were released, as the first later record of
// the batch releasing them says; 0 when none does.
int64_t released_in_batch(const AuditEntry *const *batch, int n, int i) noexcept;

// Whether every statement release batch[j] names came earlier in the batch:
// all of them got their hold time as they were inserted, from batch[j] or
// from an earlier release in the batch.
bool released_within_batch(const AuditEntry *const *batch, int j) noexcept;

} // namespace guarded_ddl
