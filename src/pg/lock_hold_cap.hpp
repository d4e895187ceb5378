// The lock-hold cap, guarded_ddl.max_lock_hold: a transaction that has held
// SHARE or stronger on a large table (taken by a guarded statement) for
// longer is ended. A running statement is cancelled; an idle session is
// terminated, as idle_in_transaction_session_timeout does. Either way the
// error names the table, the lock, when it was taken and by which statement,
// and the audit log gets a row for it.
#pragma once

#include "pg/prelude.hpp"

// SQLSTATE of a transaction the cap ended.
#define GD_ERRCODE_LOCK_HELD_TOO_LONG MAKE_SQLSTATE('G', 'D', '0', '0', '2')

// Arms the cap's timer for the earliest deadline of the locks held (or
// disarms it when there is none).
void gd_cap_rearm(void);

// A subtransaction aborted: its locks are gone, and an error's recovery
// disarmed every timer. A transaction that outlives the cap's cancel (a
// savepoint caught it) is terminated a moment later.
void gd_cap_subtransaction_aborted(void);

// The transaction ended: the cap's audit row, if it fired, is queued.
void gd_cap_transaction_ended(bool aborted);

// Rewrites the cancel or termination the cap caused into its own error;
// false, edata untouched, for any other error.
bool gd_cap_describe(ErrorData *edata);

void gd_install_cap_log_hook(void);
