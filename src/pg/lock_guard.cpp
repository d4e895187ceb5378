#include "pg/lock_guard.hpp"

#include "core/lock_failure.hpp"
#include "core/retry_schedule.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/gucs.hpp"
#include "pg/lock_blockers.hpp"
#include "pg/report.hpp"
#include "pg/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
#include "common/pg_prng.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

using guarded_ddl::LockRecord;
using guarded_ddl::StatementRecord;

namespace {

struct Resolved {
    Oid relid;
    LOCKMODE mode;
    bool held; // by this statement's current round
    LockRecord *record;
};

int64 ms_since(TimestampTz start) {
    return (GetCurrentTimestamp() - start) / 1000;
}

// Held in this mode, or in the one mode that leaves nothing to wait for.
bool already_held(Oid relid, LOCKMODE mode) {
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
    return gd_lock_held(&tag, mode) || gd_lock_held(&tag, AccessExclusiveLock);
}

// Locks of ShareLock and above block other sessions' writes; sleeping while
// holding one stalls them for the whole sleep. Only asked after a failed
// attempt, so reading the shared lock table is affordable.
bool holds_strong_locks(void) {
    LockData *locks = GetLockStatusData();
    bool strong = false;
    for (int i = 0; i < locks->nelements && !strong; i++) {
        const LockInstanceData *inst = &locks->locks[i];
        strong = inst->pid == MyProcPid && inst->locktag.locktag_type == LOCKTAG_RELATION &&
                 (inst->holdMask & ~(LOCKBIT_ON(ShareLock) - 1)) != 0;
    }
    pfree(locks->locks);
    pfree(locks);
    return strong;
}

LockRecord *add_record(StatementRecord *rec, Oid relid, LOCKMODE mode) {
    if (rec->n_locks >= guarded_ddl::max_locks_per_statement)
        return nullptr;
    LockRecord *lr = &rec->locks[rec->n_locks++];
    memset(lr, 0, sizeof *lr);
    lr->relid = relid;
    lr->lock_mode = mode;
    char *nsp = get_namespace_name(get_rel_namespace(relid));
    char *rel = get_rel_name(relid);
    if (nsp != nullptr && rel != nullptr)
        strlcpy(lr->relation, quote_qualified_identifier(nsp, rel), sizeof lr->relation);
    return lr;
}

void add_target(Resolved *out, int *n, StatementRecord *rec, Oid relid, LOCKMODE mode) {
    for (int i = 0; i < *n; i++)
        if (out[i].relid == relid) {
            // ALTER TABLE takes the strongest of its subcommands' levels.
            out[i].mode = Max(out[i].mode, mode);
            out[i].record->lock_mode = out[i].mode;
            return;
        }
    if (already_held(relid, mode))
        return;
    if (LockRecord *lr = add_record(rec, relid, mode))
        out[(*n)++] = Resolved{relid, mode, false, lr};
}

// The relations of the statement's actions (each one the session may touch:
// gd_statement_actions checked). Its own temporary tables nobody else can
// wait for are left to PostgreSQL.
int resolve_targets(const GdAction *actions, int n_actions, StatementRecord *rec, Resolved *out) {
    int n = 0;
    for (int i = 0; i < n_actions; i++) {
        const GdAction &a = actions[i];
        if (gd_is_temp_relation(a.relid))
            continue;
        add_target(out, &n, rec, a.relid, a.lock);
        if (OidIsValid(a.index_relid))
            add_target(out, &n, rec, a.index_relid, a.index_lock);
    }
    return n;
}

struct BoundedWait {
    void (*wait)(const void *);
    const void *arg;
    int64 timeout_ms;
};

void wait_with_lock_timeout(void *arg) {
    auto *w = static_cast<BoundedWait *>(arg);
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld", static_cast<long long>(Max(w->timeout_ms, 1)));
    int nest_level = NewGUCNestLevel();
    (void)set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    w->wait(w->arg);
    AtEOXact_GUC(true, nest_level);
}

// Runs wait(arg), a lock-manager wait, bounded by timeout_ms, in an internal
// subtransaction so that a lock timeout can be caught and the wait cleaned
// up: the PL/pgSQL exception-block pattern. Returns false on lock timeout;
// any other error (cancel, statement_timeout, deadlock) propagates unchanged.
// Locks the wait took move to the caller's transaction.
bool bounded_wait(void (*wait)(const void *), const void *arg, int64 timeout_ms) {
    BoundedWait w{wait, arg, timeout_ms};
    ErrorData *error = gd_try_in_subtransaction(wait_with_lock_timeout, &w);
    if (error == nullptr)
        return true;
    if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
        ReThrowError(error);
    FreeErrorData(error);
    return false;
}

// A queued attempt: the statement's place in the table's lock queue, where
// every later query on the table waits behind it.
bool queued_attempt(const Resolved &t, int64 timeout_ms) {
    return bounded_wait(
        [](const void *arg) {
            auto *target = static_cast<const Resolved *>(arg);
            LockRelationOid(target->relid, target->mode);
        },
        &t, timeout_ms);
}

// Waits for the transactions that hold a conflicting lock right now to end,
// as CREATE INDEX CONCURRENTLY waits for old transactions: on each one's
// virtual transaction id, never in the table's lock queue, so readers of the
// table are not stalled meanwhile.
enum class HolderWait { NoHolders, Ended, StillHeld };

HolderWait wait_for_holders(const Resolved &t, int64 timeout_ms) {
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, t.relid);
    VirtualTransactionId *holders = GetLockConflicts(&tag, t.mode, nullptr);
    if (!VirtualTransactionIdIsValid(holders[0]))
        return HolderWait::NoHolders;
    bool ended = bounded_wait(
        [](const void *arg) {
            for (auto *v = static_cast<const VirtualTransactionId *>(arg);
                 VirtualTransactionIdIsValid(*v); v++)
                (void)VirtualXactLock(*v, true);
        },
        holders, timeout_ms);
    return ended ? HolderWait::Ended : HolderWait::StillHeld;
}

void sleep_ms(int64 ms) {
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
    for (;;) {
        long remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
        if (remaining <= 0)
            break;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, remaining,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

[[noreturn]] void report_failure(const LockRecord *lr, int64 elapsed_ms, int64 timeout_ms,
                                 bool fail_fast) {
    const char *mode_name = GetLockmodeName(DEFAULT_LOCKMETHOD, lr->lock_mode);
    GdReport report = guarded_ddl::pg::invoke_cpp([&] {
        return gd_report_from(
            guarded_ddl::lock_failure_message({lr, mode_name, elapsed_ms, timeout_ms, fail_fast}));
    });
    gd_ereport(ERROR, ERRCODE_LOCK_NOT_AVAILABLE, report);
    pg_unreachable();
}

void log_granted(const LockRecord *lr) {
    const char *mode = GetLockmodeName(DEFAULT_LOCKMETHOD, lr->lock_mode);
    if (lr->attempts == 1)
        elog(DEBUG1, "guarded_ddl: %s on relation \"%s\" granted at once", mode, lr->relation);
    else
        elog(DEBUG1, "guarded_ddl: %s on relation \"%s\" granted after %d attempts, waited %lld ms",
             mode, lr->relation, lr->attempts, static_cast<long long>(lr->wait_us / 1000));
}

} // namespace

int gd_effective_lock_timeout_ms(void) {
    if (gd_lock_timeout_ms == 0)
        return 0;
    return LockTimeout > 0 ? Min(LockTimeout, gd_lock_timeout_ms) : gd_lock_timeout_ms;
}

void gd_acquire_statement_locks(Node *stmt, const GdAction *actions, int n_actions,
                                StatementRecord *rec) {
    int timeout_ms = gd_effective_lock_timeout_ms();
    if (timeout_ms == 0 || gd_statement_locks_in_own_transactions(stmt))
        return;

    Resolved targets[guarded_ddl::max_locks_per_statement];
    int n = resolve_targets(actions, n_actions, rec, targets);
    if (n == 0)
        return;

    // A statement that commits internally cannot have a subtransaction of
    // ours around its locks: it only gets try-locks.
    bool queued_allowed = !gd_statement_is_nontransactional(stmt);
    guarded_ddl::RetryPolicy policy{timeout_ms, gd_lock_retry_delay_ms, gd_lock_retries,
                                    gd_lock_budget_ms, false};
    TimestampTz start = GetCurrentTimestamp();

    // Queue only when the sessions that blocked the last attempt are gone:
    // while they hold the lock, a queued attempt would just stall every
    // reader of the table for its whole timeout.
    bool holders_remain = true;
    for (int round = 1;; round++) {
        bool queue = queued_allowed && round > 1 && !holders_remain;
        Resolved *failed = nullptr;
        for (int i = 0; i < n && failed == nullptr; i++) {
            Resolved &t = targets[i];
            if (t.held)
                continue;
            t.record->attempts++;
            bool got =
                queue ? queued_attempt(t, guarded_ddl::attempt_timeout_ms(policy, ms_since(start)))
                      : ConditionalLockRelationOid(t.relid, t.mode);
            if (!got) {
                failed = &t;
                break;
            }
            t.held = true;
            t.record->granted = true;
            t.record->granted_us = GetCurrentTimestamp();
            t.record->wait_us = t.record->granted_us - start;
        }
        if (failed == nullptr)
            break;

        // Never wait holding what this round took: others would queue
        // behind it meanwhile.
        for (int i = 0; i < n; i++)
            if (targets[i].held && targets[i].record->granted) {
                UnlockRelationOid(targets[i].relid, targets[i].mode);
                targets[i].held = false;
                targets[i].record->granted = false;
            }

        int64 elapsed_ms = ms_since(start);
        if (gd_find_blockers(failed->relid, failed->mode, failed->record) > 0 &&
            elapsed_ms >= DeadlockTimeout)
            gd_cancel_autovacuum_blockers(failed->record);

        policy.fail_fast = holds_strong_locks();
        std::optional<int64_t> delay = guarded_ddl::next_delay_ms(
            policy, round, elapsed_ms, pg_prng_double(&pg_global_prng_state));
        if (!delay) {
            failed->record->wait_us = GetCurrentTimestamp() - start;
            report_failure(failed->record, elapsed_ms, timeout_ms, policy.fail_fast);
        }

        // The pause between attempts is spent waiting for the holders to end
        // (cut short when they do), unless that needs a subtransaction we
        // may not open or would keep this transaction's strong locks held.
        HolderWait wait = HolderWait::NoHolders;
        if (queued_allowed && !policy.fail_fast)
            wait = wait_for_holders(*failed, *delay);
        if (wait == HolderWait::NoHolders)
            sleep_ms(*delay);
        holders_remain = wait == HolderWait::StillHeld;
    }

    for (int i = 0; i < n; i++)
        if (targets[i].record->granted)
            log_granted(targets[i].record);
}
