#include "pg/audit_shmem.hpp"

#include "pg/gucs.hpp"

#include "core/audit_json.hpp"
#include "core/audit_queue.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
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

// Databases that can have a writer at the same time. More databases with
// queued records than this take turns: a writer with nothing left to write
// gives its slot at once to the database that has waited longest, a busy
// one after a time slice (hand_over_policy), so every database is served
// within a few slices.
constexpr int max_writers = 64;

// A writer that failed is not restarted for its database before this.
constexpr int writer_restart_delay_ms = 1000;
// A writer registered but never attached is presumed dead after this.
constexpr int writer_start_timeout_ms = 10000;
// How often the launcher looks again while a database waits for a writer
// (a worker process of another kind may have ended, a delay expired).
constexpr long launcher_poll_ms = 100;
// No worker process free for this long: say so, at most once a minute.
constexpr long short_log_after_ms = 1000;
constexpr long short_log_every_ms = 60000;

// In microseconds: 10 ms idle, a 100 ms slice.
constexpr guarded_ddl::HandOverPolicy hand_over_policy{int64_t{10} * 1000, int64_t{100} * 1000};

// Empty -> Assigned (chosen for a waiting database) -> Starting (its worker
// registered) -> Running (attached) -> Empty (idle, or handed over); a
// writer that stops on an error leaves Backoff, a delay before its
// database's next writer.
enum class WriterState : uint8 { Empty, Assigned, Starting, Running, Backoff };

struct WriterSlot {
    WriterState state;
    Oid dbid;
    int pid;
    Latch *latch;
    TimestampTz since;
    // Records queued for the writer since it last took a batch, and
    // whether it waits for a batch to fill (gd_audit_writer_gather).
    int queued;
    bool gathering;
};

struct AuditQueue {
    LWLock *lock;
    ConditionVariable written_cv;
    uint64 next_seq;
    int hint;
    GdAuditCounters counters;
    WriterSlot writers[max_writers];
    // The launcher, while it runs: it starts the writers.
    Latch *launcher_latch;
    int launcher_pid;
    // Since when no worker process could be registered (0: one could), and
    // when that was last logged.
    TimestampTz short_since;
    TimestampTz short_logged;
    // A database may have records and no writer at work: set whenever one
    // might, cleared when a look at the whole queue found none. Spares the
    // writers that look after every batch a scan of the queue.
    bool maybe_waiting;
    // Slots not Free: from half the queue on, writers stop gathering.
    int used;
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

bool free_slot() {
    for (const WriterSlot &w : queue->writers)
        if (w.state == WriterState::Empty)
            return true;
    return false;
}

bool writer_connected = false;

// Stops every gathering writer (wake_all: every running writer), and
// returns their latches, to be set once the lock is released. For a queue
// that filled up so far that gathering must end.
int writers_to_wake(bool wake_all, Latch **out) {
    int n = 0;
    for (WriterSlot &w : queue->writers) {
        if (w.state != WriterState::Running || !(wake_all || w.gathering))
            continue;
        w.gathering = false;
        out[n++] = w.latch;
    }
    return n;
}

// A session whose last wait for room ended with the queue still full: it
// does not wait again until it found room, so an overload costs a session
// one wait, not one per statement.
bool waited_in_vain = false;

// Frees the slots whose writer will not come (a start that timed out, a
// backoff that is over), then gives each free slot to the database that
// has waited longest for one. Caller holds the lock exclusively.
void assign_slots(TimestampTz now) {
    uint32 served[max_writers];
    int n_served = 0;
    for (WriterSlot &w : queue->writers) {
        if ((w.state == WriterState::Backoff &&
             TimestampDifferenceExceeds(w.since, now, writer_restart_delay_ms)) ||
            (w.state == WriterState::Starting &&
             TimestampDifferenceExceeds(w.since, now, writer_start_timeout_ms))) {
            w = WriterSlot{};
            queue->maybe_waiting = true;
        }
        if (w.state != WriterState::Empty)
            served[n_served++] = w.dbid;
    }
    for (WriterSlot &w : queue->writers) {
        if (w.state != WriterState::Empty)
            continue;
        guarded_ddl::Waiting next;
        if (!guarded_ddl::longest_waiting(headers(), gd_audit_queue_size, served, n_served, &next))
            break;
        w = WriterSlot{WriterState::Assigned, next.dbid, 0, nullptr, now};
        served[n_served++] = next.dbid;
    }
}

// Registers the background worker for writer slot `slot`; false when no
// worker process is free. Changes no slot.
bool register_writer(int slot, Oid dbid, int notify_pid) {
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
    // The launcher hears when the writer stops, so it can give the worker
    // process to the next database at once.
    worker.bgw_notify_pid = notify_pid;
    return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

// Out of worker processes: the records wait. Said in the server log once
// the shortage has lasted a second, and then at most once a minute.
void note_short(TimestampTz now) {
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    if (queue->short_since == 0)
        queue->short_since = now;
    bool log = TimestampDifferenceExceeds(queue->short_since, now, short_log_after_ms) &&
               (queue->short_logged == 0 ||
                TimestampDifferenceExceeds(queue->short_logged, now, short_log_every_ms));
    if (log)
        queue->short_logged = now;
    LWLockRelease(queue->lock);
    if (log)
        ereport(LOG, (errmsg("guarded_ddl: no background worker process free for an audit writer"),
                      errdetail("Audit records wait in the queue until a worker process is free."),
                      errhint("Raise max_worker_processes.")));
}

// Gives free writer slots to the databases that waited longest and starts
// their writers, oldest assignment first. Returns whether a database still
// waits or a slot is in transition: look again soon.
bool dispatch_writers() {
    TimestampTz now = GetCurrentTimestamp();
    int slots[max_writers];
    Oid dbids[max_writers];
    TimestampTz assigned_at[max_writers];
    int n = 0;
    bool again = false;

    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    assign_slots(now);
    int notify_pid = queue->launcher_pid;
    for (int i = 0; i < max_writers; i++) {
        WriterSlot &w = queue->writers[i];
        if (w.state != WriterState::Assigned)
            continue;
        int pos = n++;
        while (pos > 0 && assigned_at[pos - 1] > w.since) {
            slots[pos] = slots[pos - 1];
            dbids[pos] = dbids[pos - 1];
            assigned_at[pos] = assigned_at[pos - 1];
            pos--;
        }
        slots[pos] = i;
        dbids[pos] = w.dbid;
        assigned_at[pos] = w.since;
        w.state = WriterState::Starting;
        w.since = now;
    }
    for (const WriterSlot &w : queue->writers)
        again = again || (w.state != WriterState::Empty && w.state != WriterState::Running);
    LWLockRelease(queue->lock);

    bool short_of_workers = false;
    for (int k = 0; k < n; k++) {
        if (!short_of_workers && register_writer(slots[k], dbids[k], notify_pid))
            continue;
        // Try again later: the records wait in the queue meanwhile.
        short_of_workers = true;
        LWLockAcquire(queue->lock, LW_EXCLUSIVE);
        WriterSlot &w = queue->writers[slots[k]];
        if (w.state == WriterState::Starting && w.dbid == dbids[k]) {
            w.state = WriterState::Assigned;
            w.since = assigned_at[k];
            queue->maybe_waiting = true;
        }
        LWLockRelease(queue->lock);
    }
    if (short_of_workers) {
        note_short(now);
        again = true;
    } else if (n > 0) {
        LWLockAcquire(queue->lock, LW_EXCLUSIVE);
        queue->short_since = 0;
        LWLockRelease(queue->lock);
    }
    return again;
}

// Asks for writers for the databases that wait: the launcher's job, done
// here when it does not run (it is restarting, or was never registered).
void kick_dispatch(Latch *launcher) {
    if (launcher != nullptr)
        SetLatch(launcher);
    else
        (void)dispatch_writers();
}

// For a database that has records and no running writer: the launcher
// gives it a slot when one is free (and wakes the running one otherwise).
void ensure_writer(Oid dbid) {
    Latch *wake = nullptr;
    bool kick = false;
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    WriterSlot *w = writer_for(dbid);
    if (w != nullptr && w->state == WriterState::Running)
        wake = w->latch;
    else
        kick = true;
    Latch *launcher = queue->launcher_latch;
    LWLockRelease(queue->lock);
    if (wake != nullptr)
        SetLatch(wake);
    if (kick)
        kick_dispatch(launcher);
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

// A slot for this backend's next record, or -1 when the queue is full.
// Caller holds the lock exclusively.
static int claim_now(TimestampTz now) {
    int slot = guarded_ddl::claim_slot(headers(), gd_audit_queue_size, &queue->hint, MyDatabaseId,
                                       ++queue->next_seq, now);
    if (slot >= 0) {
        queue->counters.queued++;
        queue->used++;
    }
    return slot;
}

// The queue is full: every writer is woken (none may gather now), and the
// session waits for one to free a slot, up to audit_queue_wait. A DDL
// statement a moment slower is better than its record only in the server
// log. Interrupts are held: this runs at commit and abort too, where a
// cancel must not be served, and the wait is bounded.
static int claim_waiting(TimestampTz now) {
    if (gd_audit_queue_wait_ms <= 0 || waited_in_vain)
        return -1;
    Latch *wake[max_writers];
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    int n_wake = writers_to_wake(true, wake);
    Latch *launcher = queue->launcher_latch;
    LWLockRelease(queue->lock);
    for (int i = 0; i < n_wake; i++)
        SetLatch(wake[i]);
    // Records of databases without a writer at work need one started.
    kick_dispatch(launcher);

    TimestampTz deadline = TimestampTzPlusMilliseconds(now, gd_audit_queue_wait_ms);
    int slot = -1;
    HOLD_INTERRUPTS();
    ConditionVariablePrepareToSleep(&queue->written_cv);
    for (;;) {
        LWLockAcquire(queue->lock, LW_EXCLUSIVE);
        slot = claim_now(GetCurrentTimestamp());
        LWLockRelease(queue->lock);
        long remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
        if (slot >= 0 || remaining <= 0)
            break;
        (void)ConditionVariableTimedSleep(&queue->written_cv, remaining, PG_WAIT_EXTENSION);
    }
    ConditionVariableCancelSleep();
    RESUME_INTERRUPTS();
    waited_in_vain = slot < 0;
    return slot;
}

void gd_audit_submit(const AuditEntry *entry) {
    if (queue == nullptr)
        return;
    Latch *writer_latch = nullptr;
    Latch *launcher = nullptr;
    bool kick = false;
    TimestampTz now = GetCurrentTimestamp();
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    int slot = claim_now(now);
    LWLockRelease(queue->lock);
    if (slot >= 0)
        waited_in_vain = false;
    else
        slot = claim_waiting(now);

    // The copy happens outside the lock: 22 kB under it made every DDL
    // statement of every session queue behind each other's memcpy.
    Latch *gatherers[max_writers];
    int n_gatherers = 0;
    if (slot >= 0) {
        memcpy(&entries()[slot], entry, gd_audit_entry_used_size(entry));
        LWLockAcquire(queue->lock, LW_EXCLUSIVE);
        guarded_ddl::publish_slot(headers(), slot);
        WriterSlot *w = writer_for(MyDatabaseId);
        if (w != nullptr && w->state == WriterState::Running) {
            // A gathering writer is woken once a batch is full, not by
            // each record: a wake-up per record would cost what gathering
            // saves.
            if (++w->queued == gd_audit_max_batch || !w->gathering)
                writer_latch = w->latch;
        } else if (w == nullptr) {
            queue->maybe_waiting = true;
            // Without a slot it waits its turn: worth waking the launcher
            // only when a slot is free (a writer handing its slot over does
            // the rest). The launcher also looks every launcher_poll_ms
            // while a slot is in transition.
            kick = free_slot();
        } else if (w->state == WriterState::Assigned) {
            queue->maybe_waiting = true; // for a worker process
        }
        // Half the queue in use: no writer may gather any longer, whatever
        // its own count (0 here).
        if (!guarded_ddl::worth_gathering(0, gd_audit_max_batch, queue->used, gd_audit_queue_size))
            n_gatherers = writers_to_wake(false, gatherers);
        // Without the launcher (not started yet, or restarting) this
        // backend starts what waits, a writer after a backoff included.
        launcher = queue->launcher_latch;
        kick = kick || (launcher == nullptr && writer_latch == nullptr);
        LWLockRelease(queue->lock);
    } else {
        LWLockAcquire(queue->lock, LW_EXCLUSIVE);
        queue->counters.overflowed++;
        LWLockRelease(queue->lock);
    }

    // The common case, a writer at work: wake it (cheap when it is awake).
    if (writer_latch != nullptr)
        SetLatch(writer_latch);
    for (int i = 0; i < n_gatherers; i++)
        SetLatch(gatherers[i]);
    if (kick)
        kick_dispatch(launcher);
    if (slot < 0)
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
    Latch *launcher = queue->launcher_latch;
    LWLockRelease(queue->lock);
    // The launcher gives the slot on after the backoff (and hears of the
    // worker process's end from the postmaster too).
    if (launcher != nullptr)
        SetLatch(launcher);

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
    // What was queued is in this batch, or (a full batch) left for the
    // next one, which the writer takes without gathering.
    WriterSlot *mine = writer_for(dbid);
    if (mine != nullptr && mine->pid == MyProcPid)
        mine->queued = 0;
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
        queue->used--;
    }
    LWLockRelease(queue->lock);
    ConditionVariableBroadcast(&queue->written_cv);
}

void gd_audit_writer_gather(Oid dbid, long window_ms) {
    // Wake-ups from before are spent: records that arrived while the last
    // batch was written are counted here instead. A flush() that woke the
    // writer in between wakes it again within its 100 ms.
    ResetLatch(MyLatch);
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    WriterSlot *mine = writer_for(dbid);
    bool gathering = mine != nullptr && mine->pid == MyProcPid &&
                     guarded_ddl::worth_gathering(mine->queued, gd_audit_max_batch, queue->used,
                                                  gd_audit_queue_size);
    if (gathering)
        mine->gathering = true;
    LWLockRelease(queue->lock);
    if (!gathering)
        return;
    // Woken early by a full batch, a flush() (which wakes the writer
    // itself), or a signal.
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, window_ms,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    mine = writer_for(dbid);
    if (mine != nullptr && mine->pid == MyProcPid)
        mine->gathering = false;
    LWLockRelease(queue->lock);
}

bool gd_audit_writer_hand_over(Oid dbid, TimestampTz attached_at) {
    TimestampTz now = GetCurrentTimestamp();
    bool give = false;
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    WriterSlot *mine = writer_for(dbid);
    if (mine != nullptr && mine->pid == MyProcPid && queue->maybe_waiting) {
        // Waiting: databases with records and no writer at work, those
        // whose slot waits for a worker process among them.
        uint32 served[max_writers];
        int n_served = 0;
        for (const WriterSlot &w : queue->writers)
            if (w.state == WriterState::Running || w.state == WriterState::Starting ||
                w.state == WriterState::Backoff)
                served[n_served++] = w.dbid;
        guarded_ddl::Waiting next;
        int64 waited = -1;
        if (guarded_ddl::longest_waiting(headers(), gd_audit_queue_size, served, n_served, &next))
            waited = Max(now - next.queued_us, 0);
        else
            queue->maybe_waiting = false;
        give = guarded_ddl::should_hand_over(
            hand_over_policy, guarded_ddl::has_ready(headers(), gd_audit_queue_size, dbid),
            now - attached_at, waited);
        if (give) {
            // The slot goes to the database that waited longest; this
            // one's records wait their turn like any other's. When that
            // database has a slot already, waiting for a worker process,
            // this writer's process is what it needs: the launcher gives
            // the free slot on.
            *mine = WriterSlot{};
            queue->maybe_waiting = true; // this database's records, if any
            if (writer_for(next.dbid) == nullptr)
                *mine = WriterSlot{WriterState::Assigned, next.dbid, 0, nullptr, now};
        }
    }
    Latch *launcher = queue->launcher_latch;
    LWLockRelease(queue->lock);
    if (give)
        kick_dispatch(launcher);
    return give;
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

// The audit launcher: a background worker without a database that starts
// the writers. It runs from server start (so a worker process is always
// there to do it), wakes when a database needs a writer and when a writer's
// worker process ends (the postmaster tells it: bgw_notify_pid), and looks
// again every launcher_poll_ms while a database waits.
static void gd_audit_launcher_sigusr1(int) {
    int save_errno = errno;
    SetLatch(MyLatch);
    errno = save_errno;
}

static void gd_audit_launcher_exit(int, Datum) {
    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    if (queue->launcher_pid == MyProcPid) {
        queue->launcher_latch = nullptr;
        queue->launcher_pid = 0;
    }
    LWLockRelease(queue->lock);
}

void gd_audit_register_launcher(void) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 1;
    strlcpy(worker.bgw_library_name, "guarded_ddl", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "gd_audit_launcher_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, "guarded_ddl audit launcher", BGW_MAXLEN);
    strlcpy(worker.bgw_type, "guarded_ddl audit launcher", BGW_MAXLEN);
    RegisterBackgroundWorker(&worker);
}

void gd_audit_launcher_main(Datum) {
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGUSR1, gd_audit_launcher_sigusr1);
    BackgroundWorkerUnblockSignals();

    LWLockAcquire(queue->lock, LW_EXCLUSIVE);
    queue->launcher_latch = MyLatch;
    queue->launcher_pid = MyProcPid;
    LWLockRelease(queue->lock);
    before_shmem_exit(gd_audit_launcher_exit, 0);

    while (!ShutdownRequestPending) {
        ResetLatch(MyLatch);
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        bool again = dispatch_writers();
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        again ? launcher_poll_ms : 10000, PG_WAIT_EXTENSION);
    }
    proc_exit(0);
}
