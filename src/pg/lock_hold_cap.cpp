#include "pg/lock_hold_cap.hpp"

#include "pg/audit_capture.hpp"
#include "pg/audit_shmem.hpp"
#include "pg/gucs.hpp"
#include "pg/transaction_locks.hpp"

#include "core/block_message.hpp"

extern "C" {
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/datetime.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
}

namespace {

// PostgreSQL has no cancel with a message of one's own: the timer raises an
// ordinary cancel (or, for an idle session, a termination), and the report
// of that error is rewritten on its way out (emit_log_hook) and into the
// audit log (gd_cap_describe). fired says the cancel is the cap's.
TimeoutId cap_timeout = MAX_TIMEOUTS;
// A second timer with the same handler, a second after the cap: a cancel
// can be lost (it fires after the statement's last interrupt check, just as
// the session goes idle), and then this one terminates the session.
TimeoutId backstop_timeout = MAX_TIMEOUTS;
constexpr int backstop_ms = 1000;
constexpr int cap_grace_ms = 100;
volatile sig_atomic_t fired = 0;
bool armed = false;
bool session_filled = false;
emit_log_hook_type prev_emit_log_hook = nullptr;

// Filled once the cap fired, outside the signal handler: what the session,
// the server log and the audit row say, for a cancel or a termination.
bool described = false;
bool described_terminating = false;
char message[512];
char detail[1024];
char hint[256];
// The audit row, its session part filled while arming: the callbacks that
// queue it may not look anything up in the catalogs.
guarded_ddl::AuditEntry cap_entry;

// A signal handler: flags and the latch only.
void on_cap_timeout(void) {
    fired = fired + 1;
    // A cancel is ignored while the backend waits for the client's next
    // command, so an idle session is terminated instead; and one that
    // survived the cancel is terminated the second time.
    // (A savepoint's failure leaves the session idle in an aborted
    // subtransaction, the outer locks still held.) With track_activities
    // off the state is unknown: terminated too.
    BackendState state = MyBEEntry != nullptr ? MyBEEntry->st_state : STATE_DISABLED;
    bool idle = state == STATE_IDLEINTRANSACTION || state == STATE_IDLEINTRANSACTION_ABORTED ||
                state == STATE_DISABLED;
    if (idle || fired > 1)
        ProcDiePending = true;
    else
        QueryCancelPending = true;
    InterruptPending = true;
    SetLatch(MyLatch);
}

bool idle_now(void) {
    return MyBEEntry == nullptr || MyBEEntry->st_state != STATE_RUNNING;
}

// Formats the cap's report for the lock whose deadline passed first. No
// allocation that could fail into an ERROR, no exception out: this runs
// while an error is being reported.
void describe(bool terminating) {
    if (described && described_terminating == terminating)
        return;
    const GdHeldLock *lock = gd_expired_lock();
    if (lock == nullptr)
        return;
    char cap[32];
    snprintf(cap, sizeof cap, "%dms", gd_max_lock_hold_ms);
    if (gd_max_lock_hold_ms % 1000 == 0)
        snprintf(cap, sizeof cap, "%ds", gd_max_lock_hold_ms / 1000);
    char taken_at[MAXDATELEN + 1];
    strlcpy(taken_at, timestamptz_to_str(lock->granted), sizeof taken_at);
    try {
        guarded_ddl::Message m = guarded_ddl::cap_message(
            {GetLockmodeName(DEFAULT_LOCKMETHOD, lock->mode), lock->relation, taken_at,
             lock->taken_by, cap, terminating, idle_now()});
        strlcpy(message, m.message.c_str(), sizeof message);
        strlcpy(detail, m.detail.c_str(), sizeof detail);
        strlcpy(hint, m.hint.c_str(), sizeof hint);
    } catch (...) {
        snprintf(message, sizeof message,
                 "guarded_ddl: this transaction has held %s on large table \"%s\" longer than "
                 "guarded_ddl.max_lock_hold (%s)",
                 GetLockmodeName(DEFAULT_LOCKMETHOD, lock->mode), lock->relation, cap);
        detail[0] = hint[0] = '\0';
    }
    described = true;
    described_terminating = terminating;

    guarded_ddl::StatementRecord &r = cap_entry.record;
    strlcpy(r.command_tag, "LOCK HOLD CAP", sizeof r.command_tag);
    strlcpy(r.objects, lock->relation, sizeof r.objects);
    strlcpy(r.error_message, message, sizeof r.error_message);
    strlcpy(r.sqlstate, unpack_sql_state(GD_ERRCODE_LOCK_HELD_TOO_LONG), sizeof r.sqlstate);
    r.outcome = guarded_ddl::Outcome::Blocked;
    r.start_us = GetCurrentTimestamp();
    cap_entry.statement[0] = '\0';
    if (!idle_now() && debug_query_string != nullptr)
        strlcpy(cap_entry.statement, debug_query_string, sizeof cap_entry.statement);
}

void cap_emit_log(ErrorData *edata) {
    if (fired)
        (void)gd_cap_describe(edata);
    if (prev_emit_log_hook)
        prev_emit_log_hook(edata);
}

void disarm(void) {
    if (armed) {
        DisableTimeoutParams both[2] = {{cap_timeout, false}, {backstop_timeout, false}};
        disable_timeouts(both, 2);
    }
    armed = false;
}

} // namespace

void gd_cap_rearm(void) {
    TimestampTz deadline = gd_next_cap_deadline();
    if (deadline == 0) {
        disarm();
        return;
    }
    if (cap_timeout == MAX_TIMEOUTS) {
        cap_timeout = RegisterTimeout(USER_TIMEOUT, on_cap_timeout);
        backstop_timeout = RegisterTimeout(USER_TIMEOUT, on_cap_timeout);
    }
    if (!session_filled)
        gd_audit_fill_session(&cap_entry);
    session_filled = true;
    EnableTimeoutParams both[2] = {
        {cap_timeout, TMPARAM_AT, 0, deadline},
        {backstop_timeout, TMPARAM_AT, 0, TimestampTzPlusMilliseconds(deadline, backstop_ms)}};
    enable_timeouts(both, 2);
    armed = true;
}

void gd_cap_subtransaction_aborted(void) {
    // Error recovery disabled every timer before the abort got here.
    armed = armed && (get_timeout_active(cap_timeout) || get_timeout_active(backstop_timeout));
    if (fired && gd_next_cap_deadline() != 0) {
        // The cap's cancel is on its way out through this subtransaction.
        // If something catches it (an exception block, a client's
        // savepoint) and the transaction still holds the lock a moment
        // later, the second firing terminates the session.
        enable_timeout_after(cap_timeout, cap_grace_ms);
        armed = true;
        return;
    }
    gd_cap_rearm();
}

void gd_cap_transaction_ended(bool aborted) {
    // Fired as the transaction was committing: the cancel has nothing left
    // to end, and must not hit the statement after the commit instead.
    if (fired && !aborted)
        QueryCancelPending = false;
    if (fired) {
        describe(described_terminating);
        if (described && gd_audit) {
            FullTransactionId xid = GetTopFullTransactionIdIfAny();
            cap_entry.session.xid =
                FullTransactionIdIsValid(xid) ? U64FromFullTransactionId(xid) : 0;
            cap_entry.session.backend_seq = gd_audit_next_seq();
            cap_entry.record.duration_us = GetCurrentTimestamp() - cap_entry.record.start_us;
            gd_audit_submit(&cap_entry);
        }
    }
    disarm();
    fired = 0;
    described = false;
    session_filled = false;
}

bool gd_cap_describe(ErrorData *edata) {
    if (!fired || (edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
                   edata->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN))
        return false;
    describe(edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN);
    if (!described)
        return false;
    edata->sqlerrcode = GD_ERRCODE_LOCK_HELD_TOO_LONG;
    edata->message = pstrdup(message);
    edata->detail = detail[0] != '\0' ? pstrdup(detail) : nullptr;
    edata->hint = hint[0] != '\0' ? pstrdup(hint) : nullptr;
    return true;
}

void gd_install_cap_log_hook(void) {
    prev_emit_log_hook = emit_log_hook;
    emit_log_hook = cap_emit_log;
}
