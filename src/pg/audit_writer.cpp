// The audit writer: a background worker per database with queued records.
// It writes them into guarded_ddl.ddl_log and lock_log in transactions of
// its own, so they outlive the DDL's rollback and the backend's exit. It
// exits after a second with nothing to do, or earlier when another database
// waits for its slot (pg/audit_shmem.cpp: the slots are taken in turns).
//
// It must never wedge or crash-loop: it waits at most a short lock_timeout
// for its tables (DDL on them only delays it), gives each record a
// subtransaction so one it cannot insert is logged to the server log and
// skipped, and sends records to the server log when the database has no
// guarded_ddl.
//
// It runs as a superuser in databases whose owners are not, so it trusts
// nothing there by name: it writes only into the tables that pg_depend
// shows are members of the installed extension (pg/extension_objects.hpp),
// locked and checked again before each insert, and it runs no SQL: the rows
// go through the table access method (pg/audit_rows.hpp). What runs in the
// insert is then the tables' own defaults, constraints and indexes, which
// only a superuser can have defined.
#include "pg/prelude.hpp"

#include "pg/audit_rows.hpp"
#include "pg/audit_shmem.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/extension_objects.hpp"
#include "pg/report.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void gd_audit_writer_main(Datum main_arg);
}

namespace {

constexpr long idle_exit_ms = 1000;
constexpr long retry_pause_ms = 100;
// After a partial batch the writer waits this long for more records: each
// batch is a transaction whose commit flushes WAL, and with DDL arriving in
// a stream, batches of one or two records made the writer the largest CPU
// cost of the audit log (bench/ddl_cpu.sh). A full batch's worth or a
// flush() ends the wait early; the first record after a quiet spell is
// written at once.
constexpr long gather_window_ms = 50;
constexpr long hand_over_poll_ms = 50;

// Locks the log tables found installed for the insert, then checks that
// they still are the extension's: a DROP EXTENSION may have committed since
// they were looked up, and a look-alike taken their names. Holding the
// locks, nobody can drop, rename or alter them until the writer commits.
// False when they changed: try again later. *fleet_rows: whether they have
// the system_identifier column (1.1 on), as they are now that they are
// locked (ALTER EXTENSION UPDATE may have added it meanwhile).
bool lock_log_tables(Oid ddl_log, Oid lock_log, bool *fleet_rows) {
    LockRelationOid(ddl_log, RowExclusiveLock);
    LockRelationOid(lock_log, RowExclusiveLock);
    const GdExtensionObjects *now = gd_extension_objects();
    *fleet_rows = now->fleet_rows;
    return now->ddl_log == ddl_log && now->lock_log == lock_log;
}

// Writes records into the log tables in a subtransaction; what became of
// them goes to results. Returns false when the insert failed for a reason
// other than a busy lock, leaving the results alone.
bool write_entries(const int *slots, int n, Oid ddl_log, Oid lock_log, GdWriteResult *results,
                   MemoryContext batch_context) {
    ResourceOwner owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(batch_context);
    bool written = true;
    PG_TRY();
    {
        GdWriteResult result = GD_WRITE_RETRY;
        bool fleet_rows = false;
        if (lock_log_tables(ddl_log, lock_log, &fleet_rows)) {
            gd_audit_write_rows(slots, n, ddl_log, lock_log, fleet_rows);
            result = GD_WRITE_DONE;
        }
        ReleaseCurrentSubTransaction();
        for (int i = 0; i < n; i++)
            results[i] = result;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(batch_context);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        GdWriteResult result = GD_WRITE_FAILED;
        if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE) {
            result = GD_WRITE_RETRY;
        } else if (edata->sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
                   edata->sqlerrcode == ERRCODE_INVALID_SCHEMA_NAME) {
            // DROP EXTENSION committed after this batch looked for the tables.
            result = GD_WRITE_NOT_INSTALLED;
        } else if (n > 1) {
            written = false; // the caller tries them one by one
        } else {
            gd_audit_log_entry(gd_audit_entry(slots[0]),
                               psprintf("the insert failed: %s", edata->message));
        }
        for (int i = 0; written && i < n; i++) {
            results[i] = result;
            if (result == GD_WRITE_NOT_INSTALLED)
                gd_audit_log_entry(gd_audit_entry(slots[i]),
                                   "guarded_ddl is not installed in this database");
        }
        FreeErrorData(edata);
    }
    PG_END_TRY();
    MemoryContextSwitchTo(batch_context);
    CurrentResourceOwner = owner;
    return written;
}

// Writes a batch in one transaction. Returns true when something has to be
// retried later (a lock on the log tables was not free).
bool write_batch(const int *slots, int n, MemoryContext batch_context) {
    GdWriteResult results[gd_audit_max_batch];
    bool retry = false;

    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "writing audit records");
    const GdExtensionObjects *installed = gd_extension_objects();
    Oid ddl_log = installed->ddl_log;
    Oid lock_log = installed->lock_log;
    if (!OidIsValid(ddl_log) || !OidIsValid(lock_log)) {
        for (int i = 0; i < n; i++) {
            gd_audit_log_entry(gd_audit_entry(slots[i]),
                               "guarded_ddl is not installed in this database");
            results[i] = GD_WRITE_NOT_INSTALLED;
        }
    } else if (!write_entries(slots, n, ddl_log, lock_log, results, batch_context)) {
        // One record the table refuses must not cost the others: one by one.
        for (int i = 0; i < n; i++) {
            if (retry)
                results[i] = GD_WRITE_RETRY;
            else
                (void)write_entries(&slots[i], 1, ddl_log, lock_log, &results[i], batch_context);
            retry = results[i] == GD_WRITE_RETRY;
        }
    } else {
        retry = results[0] == GD_WRITE_RETRY;
    }
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
    gd_audit_finish_batch(slots, results, n);
    return retry;
}

} // namespace

void gd_audit_writer_main(Datum main_arg) {
    Oid dbid = DatumGetObjectId(main_arg);
    int slot = 0;
    memcpy(&slot, MyBgworkerEntry->bgw_extra, sizeof slot);

    pqsignal(SIGTERM, die);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    gd_audit_writer_attach(dbid, slot);
    BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
    gd_audit_writer_connected();

    // The writer waits briefly for its tables, then lets go of them and
    // tries again later: shorter than guarded_ddl.lock_timeout, so DDL on
    // the log tables (DROP EXTENSION among them) gets through first.
    SetConfigOption("lock_timeout", "20ms", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("application_name", "guarded_ddl audit writer", PGC_USERSET, PGC_S_OVERRIDE);
    SetConfigOption("guarded_ddl.audit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    // The writer is the one superuser the log's refuse_change trigger would
    // let through, and it inserts a record's lock rows right after the
    // record: neither trigger nor foreign-key check has anything to find.
    // Triggers a DBA adds to the log tables fire for it only when ENABLE
    // ALWAYS.
    SetConfigOption("session_replication_role", "replica", PGC_SUSET, PGC_S_OVERRIDE);
    // The database's owner sets what ALTER DATABASE and ALTER ROLE ALL IN
    // DATABASE apply to every session, this one included: none of it may
    // resolve a name in the writer's SQL, or keep it from writing.
    SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);

    // A batch needs a few kB; the sizes are spelt out because PostgreSQL's
    // ALLOCSET_*_SIZES macros multiply in int.
    constexpr Size batch_block = Size{8} * 1024;
    MemoryContext batch_context = AllocSetContextCreate(TopMemoryContext, "guarded_ddl audit batch",
                                                        0, batch_block, 64 * batch_block);
    TimestampTz attached_at = GetCurrentTimestamp();
    TimestampTz idle_since = attached_at;
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }

        int slots[gd_audit_max_batch];
        int n = gd_audit_take_batch(dbid, slots, gd_audit_max_batch);
        if (n > 0) {
            MemoryContextSwitchTo(batch_context);
            bool retry = write_batch(slots, n, batch_context);
            MemoryContextReset(batch_context);
            idle_since = GetCurrentTimestamp();
            // Another database waits for a slot: this one's turn is over
            // when it has nothing left, or has had its time slice.
            if (gd_audit_writer_hand_over(dbid, attached_at))
                proc_exit(0);
            // After a busy lock, try later; after a partial batch, let the
            // queue fill.
            if (retry)
                (void)WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, retry_pause_ms,
                                PG_WAIT_EXTENSION);
            else if (n < gd_audit_max_batch)
                gd_audit_writer_gather(dbid, gather_window_ms);
            continue;
        }

        if (gd_audit_writer_hand_over(dbid, attached_at))
            proc_exit(0);
        long idle_ms = TimestampDifferenceMilliseconds(idle_since, GetCurrentTimestamp());
        if (idle_ms >= idle_exit_ms && gd_audit_writer_detach_if_idle(dbid))
            proc_exit(0);
        // Nobody wakes an idle writer when another database starts
        // waiting for its slot: it looks every hand_over_poll_ms.
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        Max(Min(idle_exit_ms - idle_ms, hand_over_poll_ms), 10), PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}
