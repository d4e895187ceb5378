// What the transaction guard knows about the current transaction's locks:
// the strong ones guarded statements took on large tables (rule
// dml_under_strong_lock and the lock-hold cap judge by them), and which
// audited statements hold locks at all, so the audit log learns how long
// each was held when the transaction or savepoint that took it ends.
#pragma once

#include "pg/prelude.hpp"

#include "core/audit_entry.hpp"

// A lock of SHARE or stronger a guarded statement took on a large table.
struct GdHeldLock {
    Oid relid;
    LOCKMODE mode;
    TimestampTz granted;
    // When the hold cap ends the transaction; 0 while an approved statement
    // still runs (its own run does not count against the cap).
    TimestampTz deadline;
    SubTransactionId subxact; // released when this subtransaction aborts
    char relation[192];       // qualified, as the statement's lock record names it
    char taken_by[256];       // the statement that took it, redacted and cut
};

// True while the transaction holds at least one such lock: the only thing
// DML pays for the transaction guard.
extern bool gd_strong_locks_held;

// Once a guarded statement holds its locks, before it runs: remembers those
// of SHARE or stronger on large tables. approved: the statement runs under a
// DBA's approval, so the cap's clock starts when it ends.
void gd_note_strong_locks(const guarded_ddl::AuditEntry *entry, bool approved);

// The statement succeeded: an approved one's locks start their cap clock.
void gd_note_statement_done(void);

// The strongest lock of at least min_mode this transaction still holds
// (a savepoint rolled back since may have released one), or NULL.
const GdHeldLock *gd_held_strong_lock(LOCKMODE min_mode);

// The lock whose cap deadline passed first, or NULL.
const GdHeldLock *gd_expired_lock(void);

// The earliest cap deadline of the locks held, 0 when none is capped.
TimestampTz gd_next_cap_deadline(void);

// An audited statement holding granted locks was queued with number seq:
// its locks' release is reported when its transaction or savepoint ends.
void gd_note_audited_locks(int64 seq);

void gd_install_transaction_callbacks(void);
