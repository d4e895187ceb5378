#include "pg/lock_blockers.hpp"

extern "C" {
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/backend_status.h"
#include "utils/timestamp.h"
}

#include <csignal>

namespace {

const char *backend_state_name(BackendState state) {
    switch (state) {
    case STATE_IDLE:
        return "idle";
    case STATE_RUNNING:
        return "active";
    case STATE_IDLEINTRANSACTION:
        return "idle in transaction";
    case STATE_FASTPATH:
        return "fastpath function call";
    case STATE_IDLEINTRANSACTION_ABORTED:
        return "idle in transaction (aborted)";
    case STATE_DISABLED:
        return "disabled";
    default:
        return "unknown";
    }
}

bool holds_conflicting_mode(const LockInstanceData *inst, LOCKMODE mode) {
    for (LOCKMODE m = 1; m <= MaxLockMode; m++)
        if ((inst->holdMask & LOCKBIT_ON(m)) && DoLockModesConflict(m, mode))
            return true;
    return false;
}

void describe_session(int pid, guarded_ddl::Blocker *b) {
    b->pid = pid;
    b->xact_age_ms = -1;
    strlcpy(b->state, pid == 0 ? "prepared" : "unknown", sizeof b->state);
    if (pid == 0)
        return;

    int n = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= n; i++) {
        LocalPgBackendStatus *local = gd_backend_status(i);
        if (local == nullptr || local->backendStatus.st_procpid != pid)
            continue;
        PgBackendStatus *be = &local->backendStatus;
        if (be->st_backendType == B_AUTOVAC_WORKER)
            strlcpy(b->role, "autovacuum", sizeof b->role);
        else if (const char *role = GetUserNameFromId(be->st_userid, true))
            strlcpy(b->role, role, sizeof b->role);
        strlcpy(b->application, be->st_appname, sizeof b->application);
        strlcpy(b->state, backend_state_name(be->st_state), sizeof b->state);
        if (be->st_xact_start_timestamp != 0)
            b->xact_age_ms = (GetCurrentTimestamp() - be->st_xact_start_timestamp) / 1000;
        char *query = pgstat_clip_activity(be->st_activity_raw);
        strlcpy(b->query, query, sizeof b->query);
        pfree(query);
        return;
    }
}

} // namespace

int gd_find_blockers(Oid relid, LOCKMODE mode, guarded_ddl::LockRecord *lock) {
    LockData *locks = GetLockStatusData();
    int pids[guarded_ddl::max_blockers_per_lock];
    int n = 0;

    for (int i = 0; i < locks->nelements && n < guarded_ddl::max_blockers_per_lock; i++) {
        LockInstanceData *inst = &locks->locks[i];
        if (inst->locktag.locktag_type != LOCKTAG_RELATION ||
            inst->locktag.locktag_field1 != MyDatabaseId || inst->locktag.locktag_field2 != relid ||
            inst->pid == MyProcPid || !holds_conflicting_mode(inst, mode))
            continue;
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen = seen || pids[j] == inst->pid;
        if (!seen)
            pids[n++] = inst->pid;
    }
    pfree(locks->locks);
    pfree(locks);

    // The backend status snapshot is cached per transaction; a retry needs
    // the sessions as they are now.
    pgstat_clear_backend_activity_snapshot();
    int autovacuum = 0;
    lock->n_blockers = n;
    for (int i = 0; i < n; i++) {
        memset(&lock->blockers[i], 0, sizeof lock->blockers[i]);
        describe_session(pids[i], &lock->blockers[i]);
        autovacuum += strcmp(lock->blockers[i].role, "autovacuum") == 0;
    }
    return autovacuum;
}

void gd_cancel_autovacuum_blockers(const guarded_ddl::LockRecord *lock) {
    for (int i = 0; i < lock->n_blockers; i++) {
        const guarded_ddl::Blocker *b = &lock->blockers[i];
        if (strcmp(b->role, "autovacuum") != 0)
            continue;
        LWLockAcquire(ProcArrayLock, LW_SHARED);
        PGPROC *proc = BackendPidGetProcWithLock(b->pid);
        bool cancel = proc != nullptr &&
                      (ProcGlobal->statusFlags[proc->pgxactoff] & PROC_IS_AUTOVACUUM) &&
                      !(ProcGlobal->statusFlags[proc->pgxactoff] & PROC_VACUUM_FOR_WRAPAROUND);
        LWLockRelease(ProcArrayLock);
        if (!cancel)
            continue;
        ereport(LOG, (errmsg("guarded_ddl: cancelling autovacuum process %d that blocks %s on "
                             "relation \"%s\"",
                             b->pid, GetLockmodeName(DEFAULT_LOCKMETHOD, lock->lock_mode),
                             lock->relation)));
        kill(b->pid, SIGINT);
    }
}
