#include "pg/own_table_lock.hpp"

#include "pg/lock_blockers.hpp"
#include "pg/lock_guard.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

namespace {

const char *table_name(Oid relid) {
    char *nsp = get_namespace_name(get_rel_namespace(relid));
    char *rel = get_rel_name(relid);
    return nsp != nullptr && rel != nullptr ? quote_qualified_identifier(nsp, rel)
                                            : "guarded_ddl's table";
}

constexpr const char *own_table_hint =
    "A DBA's session holds a lock on guarded_ddl's own table (see pg_locks). End that "
    "transaction, then run the statement again; guarded_ddl.lock_timeout bounds this wait.";

// The wait for a table lock ran out: name the sessions that hold a
// conflicting one.
[[noreturn]] void report_table_timeout(const GdOwnTableLock *lock, int timeout_ms) {
    StringInfoData detail;
    initStringInfo(&detail);
    appendStringInfoString(&detail, lock->purpose);
    auto *record = static_cast<guarded_ddl::LockRecord *>(palloc0(sizeof(guarded_ddl::LockRecord)));
    (void)gd_find_blockers(lock->relid, lock->mode, record);
    for (int i = 0; i < record->n_blockers; i++)
        appendStringInfo(&detail,
                         " Process %d (role \"%s\", application \"%s\") holds a conflicting lock "
                         "on it.",
                         record->blockers[i].pid, record->blockers[i].role,
                         record->blockers[i].application);
    if (record->n_blockers == 0)
        appendStringInfoString(&detail, " A session queued for a conflicting lock on it (an "
                                        "ALTER TABLE, for example) is ahead.");
    ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                    errmsg("guarded_ddl: could not obtain %s on its table %s within %d ms",
                           GetLockmodeName(DEFAULT_LOCKMETHOD, lock->mode), table_name(lock->relid),
                           timeout_ms),
                    errdetail_internal("%s", detail.data), errhint("%s", own_table_hint)));
    pg_unreachable();
}

// The tables were locked, and a wait inside fn (for a row, or an index)
// ran out.
[[noreturn]] void report_row_timeout(const GdOwnTableLock *locks, int n, int timeout_ms) {
    StringInfoData names;
    initStringInfo(&names);
    for (int i = 0; i < n; i++)
        appendStringInfo(&names, "%s%s", i > 0 ? ", " : "", table_name(locks[i].relid));
    ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                    errmsg("guarded_ddl: could not lock rows of its table %s within %d ms",
                           names.data, timeout_ms),
                    errdetail("%s Another transaction holds a lock on one of its rows or "
                              "indexes: a guarded_ddl.revoke_approval() not yet committed, for "
                              "example.",
                              locks[n - 1].purpose),
                    errhint("%s", own_table_hint)));
    pg_unreachable();
}

} // namespace

void gd_access_own_tables(const GdOwnTableLock *locks, int n, void (*fn)(void *), void *arg) {
    int guard_timeout_ms = gd_effective_lock_timeout_ms();
    MemoryContext caller_context = CurrentMemoryContext;
    volatile int locking = 0; // the lock being waited for; n once all are held

    int nest_level = NewGUCNestLevel();
    if (guard_timeout_ms > 0) {
        char timeout[32];
        snprintf(timeout, sizeof timeout, "%d", guard_timeout_ms);
        (void)set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_SAVE, true, 0, false);
    }
    int timeout_ms = LockTimeout;
    PG_TRY();
    {
        for (locking = 0; locking < n; locking++)
            LockRelationOid(locks[locking].relid, locks[locking].mode);
        if (fn != nullptr)
            fn(arg);
    }
    PG_CATCH();
    {
        // No subtransaction to roll back: this error ends the statement
        // anyway, and the (sub)transaction abort that follows ends the wait
        // and restores lock_timeout.
        MemoryContextSwitchTo(caller_context);
        ErrorData *edata = CopyErrorData();
        if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE || n == 0)
            PG_RE_THROW();
        FlushErrorState();
        if (locking < n)
            report_table_timeout(&locks[locking], timeout_ms);
        report_row_timeout(locks, n, timeout_ms);
    }
    PG_END_TRY();
    AtEOXact_GUC(true, nest_level);
}
