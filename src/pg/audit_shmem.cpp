#include "pg/audit_shmem.hpp"

#include "pg/gucs.hpp"

#include "core/audit_json.hpp"
#include "core/audit_queue.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

using guarded_ddl::AuditEntry;
using guarded_ddl::SlotHeader;

namespace {

// Databases that can have a writer at the same time; a database waits for a
// free slot, which idle writers give back within a second.
constexpr int max_writers = 16;

// A writer that failed is not restarted for its database before this.
constexpr int writer_restart_delay_ms = 1000;
// A writer registered but never attached is presumed dead after this.
constexpr int writer_start_timeout_ms = 10000;

enum class WriterState : uint8 { Empty, Starting, Running, Backoff };

struct WriterSlot {
    WriterState state;
    Oid dbid;
    int pid;
    Latch *latch;
    TimestampTz since;
};

struct AuditQueue {
    LWLock *lock;
    ConditionVariable written_cv;
    uint64 next_seq;
    int hint;
    GdAuditCounters counters;
    WriterSlot writers[max_writers];
    // Then gd_audit_queue_size SlotHeaders and as many AuditEntries.
};

AuditQueue *queue = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

Size headers_offset() {
    return MAXALIGN(sizeof(AuditQueue));
}

Size entries_offset() {
    return MAXALIGN(headers_offset() + mul_size(gd_audit_queue_size, sizeof(SlotHeader)));
}

Size queue_size() {
    return add_size(entries_offset(), mul_size(gd_audit_queue_size, sizeof(AuditEntry)));
}

SlotHeader *headers() {
    return reinterpret_cast<SlotHeader *>(reinterpret_cast<char *>(queue) + headers_offset());
}

AuditEntry *entries() {
    return reinterpret_cast<AuditEntry *>(reinterpret_cast<char *>(queue) + entries_offset());
}

void gd_audit_shmem_request() {
    if (prev_shmem_request_hook)
        prev_shmem_request_hook();
    RequestAddinShmemSpace(queue_size());
    RequestNamedLWLockTranche("guarded_ddl", 1);
}

void gd_audit_shmem_startup() {
    if (prev_shmem_startup_hook)
        prev_shmem_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    queue =
        static_cast<AuditQueue *>(ShmemInitStruct("guarded_ddl audit queue", queue_size(), &found));
    if (!found) {
        memset(queue, 0, queue_size());
        queue->lock = &(GetNamedLWLockTranche("guarded_ddl"))->lock;
        ConditionVariableInit(&queue->written_cv);
    }
    LWLockRelease(AddinShmemInitLock);
}

WriterSlot *writer_for(Oid dbid) {
    for (WriterSlot &w : queue->writers)
        if (w.state != WriterState::Empty && w.dbid == dbid)
            return &w;
    return nullptr;
}

bool writer_connected = false;

// Starts dbid's writer unless one runs, is starting or failed a moment ago;
// otherwise wakes the running one. Called without the queue lock.
void ensure_writer(Oid dbid) {
    TimestampTz now = GetCurrentTimestamp();
    Latch *wake = nullptr;
    int slot = -1;

    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    WriterSlot *w = writer_for(dbid);
    if (w != nullptr && w->state == WriterState::Running) {
        wake = w->latch;
    } else if (w != nullptr) {
        int delay =
            w->state == WriterState::Starting ? writer_start_timeout_ms : writer_restart_delay_ms;
        if (TimestampDifferenceExceeds(w->since, now, delay))
            slot = static_cast<int>(w - queue->writers);
    } else {
        for (int i = 0; i < max_writers && slot < 0; i++)
            if (queue->writers[i].state == WriterState::Empty)
                slot = i;
    }
    if (slot >= 0)
        queue->writers[slot] = WriterSlot{WriterState::Starting, dbid, 0, nullptr, now};
    LWLockRelease(queue->lock);

    if (wake != nullptr)
        SetLatch(wake);
    if (slot < 0)
        return;

    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(worker.bgw_library_name, "guarded_ddl", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "gd_audit_writer_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "guarded_ddl audit writer for database %u", dbid);
    strlcpy(worker.bgw_type, "guarded_ddl audit writer", BGW_MAXLEN);
    worker.bgw_main_arg = ObjectIdGetDatum(dbid);
    memcpy(worker.bgw_extra, &slot, sizeof slot);
    if (RegisterDynamicBackgroundWorker(&worker, nullptr))
        return;

    // Try again later: the records wait in the queue meanwhile.
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    queue->writers[slot].state = WriterState::Backoff;
    LWLockRelease(queue->lock);
    ereport(LOG, (errmsg("guarded_ddl: could not start the audit writer for database %u", dbid),
                  errhint("Raise max_worker_processes; audit records wait in the queue.")));
}

} // namespace

// The entry up to its last lock record in use: most statements take one
// lock, and the unused lock records are two thirds of an entry. Nothing
// reads past n_locks.
static_assert(offsetof(guarded_ddl::StatementRecord, locks) +
                      sizeof(guarded_ddl::StatementRecord::locks) ==
                  sizeof(guarded_ddl::StatementRecord),
              "the lock records end a StatementRecord");
static_assert(offsetof(AuditEntry, record) + sizeof(AuditEntry::record) == sizeof(AuditEntry),
              "the StatementRecord ends an AuditEntry");
static size_t gd_audit_entry_used_size(const AuditEntry *entry) {
    int n_locks = Max(0, Min(entry->record.n_locks, guarded_ddl::max_locks_per_statement));
    return offsetof(AuditEntry, record) + offsetof(guarded_ddl::StatementRecord, locks) +
           n_locks * sizeof(guarded_ddl::LockRecord);
}

void gd_audit_install_shmem_hooks(void) {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = gd_audit_shmem_request;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = gd_audit_shmem_startup;
}

void gd_audit_submit(const AuditEntry *entry) {
    if (queue == nullptr)
        return;
    Latch *writer_latch = nullptr;
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    int slot = guarded_ddl::claim_slot(headers(), gd_audit_queue_size, &queue->hint, MyDatabaseId,
                                       ++queue->next_seq);
    if (slot >= 0)
        queue->counters.queued++;
    else
        queue->counters.overflowed++;
    LWLockRelease(queue->lock);

    // The copy happens outside the lock: 22 kB under it made every DDL
    // statement of every session queue behind each other's memcpy.
    if (slot >= 0) {
        memcpy(&entries()[slot], entry, gd_audit_entry_used_size(entry));
        LWLockAcquire(queue->lock, LW_EXCLUSIVE);
        guarded_ddl::publish_slot(headers(), slot);
        WriterSlot *w = writer_for(MyDatabaseId);
        if (w != nullptr && w->state == WriterState::Running)
            writer_latch = w->latch;
        LWLockRelease(queue->lock);
    }

    // The common case, a writer at work: wake it (cheap when it is awake).
    if (writer_latch != nullptr) {
        SetLatch(writer_latch);
        return;
    }
    if (slot >= 0) {
        ensure_writer(MyDatabaseId);
        return;
    }
    gd_audit_log_entry(entry, "audit queue full (raise guarded_ddl.audit_queue_size)");
}

void gd_audit_log_entry(const AuditEntry *entry, const char *why) {
    // malloc, not palloc: no PostgreSQL call while the std::string lives.
    char *json = nullptr;
    try {
        std::string text = guarded_ddl::audit_entry_json(*entry);
        json = static_cast<char *>(malloc(text.size() + 1));
        if (json != nullptr)
            memcpy(json, text.c_str(), text.size() + 1);
    } catch (...) {
        json = nullptr;
    }
    ereport(LOG, (errmsg("guarded_ddl: audit record written to the server log: %s", why),
                  errdetail_internal("%s", json != nullptr ? json : "(out of memory)")));
    free(json);
}

bool gd_audit_wait_written(int64 timeout_ms) {
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
    LWLockAcquire(queue->lock, LW_SHARED);
    uint64 target = queue->next_seq;
    LWLockRelease(queue->lock);

    bool written = false;
    for (;;) {
        LWLockAcquire(queue->lock, LW_SHARED);
        written =
            !guarded_ddl::pending_through(headers(), gd_audit_queue_size, MyDatabaseId, target);
        LWLockRelease(queue->lock);
        if (written)
            break;
        // The writer may have stopped since: this brings it back.
        ensure_writer(MyDatabaseId);
        long remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
        if (remaining <= 0)
            break;
        ConditionVariableTimedSleep(&queue->written_cv, Min(remaining, 100), PG_WAIT_EXTENSION);
    }
    ConditionVariableCancelSleep();
    return written;
}

GdAuditCounters gd_audit_counters(void) {
    LWLockAcquire(queue->lock, LW_SHARED);
    GdAuditCounters c = queue->counters;
    c.pending = guarded_ddl::count_pending(headers(), gd_audit_queue_size);
    LWLockRelease(queue->lock);
    return c;
}

static void gd_audit_writer_exit(int, Datum arg) {
    int slot = DatumGetInt32(arg);
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    WriterSlot &w = queue->writers[slot];
    int discarded[gd_audit_max_batch];
    int n_discarded = 0;
    if (w.pid == MyProcPid && !writer_connected) {
        // The database could not be connected to (dropped, or not accepting
        // connections): its records would wait forever.
        n_discarded = guarded_ddl::take_batch(headers(), gd_audit_queue_size, w.dbid, discarded,
                                              gd_audit_max_batch);
    }
    if (w.pid == MyProcPid) {
        guarded_ddl::requeue_writing(headers(), gd_audit_queue_size, w.dbid);
        // An idle writer cleared its slot itself; reaching here means it
        // stopped on an error, so its database waits a moment.
        w.state = WriterState::Backoff;
        w.pid = 0;
        w.latch = nullptr;
        w.since = GetCurrentTimestamp();
    }
    LWLockRelease(queue->lock);

    if (n_discarded > 0) {
        GdWriteResult results[gd_audit_max_batch];
        for (int i = 0; i < n_discarded; i++) {
            gd_audit_log_entry(&entries()[discarded[i]], "its database cannot be connected to");
            results[i] = GD_WRITE_FAILED;
        }
        gd_audit_finish_batch(discarded, results, n_discarded);
    }
    ConditionVariableBroadcast(&queue->written_cv);
}

void gd_audit_writer_connected(void) {
    writer_connected = true;
}

void gd_audit_writer_attach(Oid dbid, int slot) {
    if (slot < 0 || slot >= max_writers)
        elog(FATAL, "guarded_ddl: audit writer slot %d out of range", slot);
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    WriterSlot &w = queue->writers[slot];
    bool mine = w.state == WriterState::Starting && w.dbid == dbid;
    if (mine) {
        w = WriterSlot{WriterState::Running, dbid, MyProcPid, &MyProc->procLatch,
                       GetCurrentTimestamp()};
        guarded_ddl::requeue_writing(headers(), gd_audit_queue_size, dbid);
    }
    LWLockRelease(queue->lock);
    // A slot taken over after a start timeout belongs to a newer writer.
    if (!mine)
        proc_exit(0);
    before_shmem_exit(gd_audit_writer_exit, Int32GetDatum(slot));
}

int gd_audit_take_batch(Oid dbid, int *slots, int max) {
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    int n = guarded_ddl::take_batch(headers(), gd_audit_queue_size, dbid, slots, max);
    LWLockRelease(queue->lock);
    return n;
}

const AuditEntry *gd_audit_entry(int slot) {
    return &entries()[slot];
}

void gd_audit_finish_batch(const int *slots, const GdWriteResult *results, int n) {
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    for (int i = 0; i < n; i++) {
        SlotHeader &h = headers()[slots[i]];
        switch (results[i]) {
        case GD_WRITE_RETRY:
            h.state = guarded_ddl::SlotState::Ready;
            continue;
        case GD_WRITE_DONE:
            queue->counters.written++;
            break;
        case GD_WRITE_FAILED:
            queue->counters.failed++;
            break;
        case GD_WRITE_NOT_INSTALLED:
            queue->counters.not_installed++;
            break;
        }
        h.state = guarded_ddl::SlotState::Free;
    }
    LWLockRelease(queue->lock);
    ConditionVariableBroadcast(&queue->written_cv);
}

bool gd_audit_writer_detach_if_idle(Oid dbid) {
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    bool idle = !guarded_ddl::pending_through(headers(), gd_audit_queue_size, dbid, UINT64_MAX);
    if (idle) {
        WriterSlot *w = writer_for(dbid);
        if (w != nullptr && w->pid == MyProcPid)
            *w = WriterSlot{};
    }
    LWLockRelease(queue->lock);
    return idle;
}
