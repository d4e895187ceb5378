// The audit writer: a background worker per database with queued records.
// It writes them into guarded_ddl.ddl_log and lock_log in transactions of
// its own, so they outlive the DDL's rollback and the backend's exit, and
// exits after a second with nothing to do.
//
// It must never wedge or crash-loop: it waits at most a short lock_timeout
// for its tables (DDL on them only delays it), gives each record a
// subtransaction so one it cannot insert is logged to the server log and
// skipped, and sends records to the server log when the database has no
// guarded_ddl.
#include "pg/prelude.hpp"

#include "pg/audit_shmem.hpp"
#include "pg/cpp_boundary.hpp"

#include "core/audit_json.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void gd_audit_writer_main(Datum main_arg);
}

using guarded_ddl::AuditEntry;
using guarded_ddl::LockRecord;
using guarded_ddl::pg::invoke_cpp;
using guarded_ddl::pg::pg_call;

namespace {

constexpr long idle_exit_ms = 1000;
constexpr long retry_pause_ms = 100;

const char *const insert_statement_sql =
    "INSERT INTO guarded_ddl.ddl_log (started_at, session_role, executing_role, "
    "application_name, client_addr, backend_pid, xid, nesting_level, command, statement, "
    "objects, verdict, guard_mode, rules, approval_id, sqlstate, error_message, duration_ms, "
    "lock_wait_ms, lock_attempts, setting, old_value, new_value) "
    "VALUES ($1, $2, $3, $4, $5::inet, $6, $7::xid8, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
    "$17, $18, $19, $20, $21, $22, $23) RETURNING id";
constexpr int insert_statement_nargs = 23;
Oid insert_statement_types[insert_statement_nargs] = {
    TIMESTAMPTZOID, TEXTOID,   TEXTOID,      TEXTOID, TEXTOID, INT4OID,      TEXTOID, INT4OID,
    TEXTOID,        TEXTOID,   TEXTARRAYOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT8OID, TEXTOID,
    TEXTOID,        FLOAT8OID, FLOAT8OID,    INT4OID, TEXTOID, TEXTOID,      TEXTOID};

const char *const insert_lock_sql =
    "INSERT INTO guarded_ddl.lock_log (ddl_id, relation_oid, relation, lock_mode, granted, "
    "wait_ms, attempts, blockers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)";
constexpr int insert_lock_nargs = 8;
Oid insert_lock_types[insert_lock_nargs] = {INT8OID, OIDOID,    TEXTOID, TEXTOID,
                                            BOOLOID, FLOAT8OID, INT4OID, TEXTOID};

// Prepared once per writer; kept across transactions.
SPIPlanPtr insert_statement_plan = nullptr;
SPIPlanPtr insert_lock_plan = nullptr;

struct Args {
    Datum values[insert_statement_nargs];
    char nulls[insert_statement_nargs];
    int n = 0;

    void add(Datum value, bool is_null = false) {
        values[n] = value;
        nulls[n++] = is_null ? 'n' : ' ';
    }
    // Empty text is NULL: the fixed-size fields have no other way to say so.
    void text(const char *value) {
        add(value[0] != '\0' ? CStringGetTextDatum(value) : Datum(0), value[0] == '\0');
    }
};

// Text array from fields separated by '\n' (the objects) or from the rule
// ids.
Datum text_array(const char *const *items, int n) {
    Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * Max(n, 1)));
    for (int i = 0; i < n; i++)
        elems[i] = CStringGetTextDatum(items[i]);
    return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum objects_array(const char *objects) {
    char *copy = pstrdup(objects);
    const char *items[64];
    int n = 0;
    for (char *save = nullptr, *tok = strtok_r(copy, "\n", &save); tok != nullptr && n < 64;
         tok = strtok_r(nullptr, "\n", &save))
        items[n++] = tok;
    return text_array(items, n);
}

Datum rules_array(const guarded_ddl::StatementRecord &r) {
    const char *items[guarded_ddl::max_rules_per_statement];
    int n = Min(r.n_rules, guarded_ddl::max_rules_per_statement);
    for (int i = 0; i < n; i++)
        items[i] = r.rules[i];
    return text_array(items, n);
}

Datum blockers_datum(const LockRecord &lock) {
    return invoke_cpp([&] {
        std::string json = guarded_ddl::blockers_json(lock);
        return pg_call([&] { return CStringGetTextDatum(json.c_str()); });
    });
}

Datum name_datum(std::string_view name) {
    return invoke_cpp([&] {
        std::string copy(name);
        return pg_call([&] { return CStringGetTextDatum(copy.c_str()); });
    });
}

SPIPlanPtr prepare(const char *sql, int nargs, Oid *types) {
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (plan == nullptr)
        elog(ERROR, "guarded_ddl: could not prepare audit insert: %s",
             SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    return plan;
}

void insert_entry(const AuditEntry &e) {
    const guarded_ddl::StatementRecord &r = e.record;
    int64 lock_wait_us = 0;
    int attempts = 0;
    for (int i = 0; i < r.n_locks; i++) {
        lock_wait_us += r.locks[i].wait_us;
        attempts += r.locks[i].attempts;
    }

    Args a;
    a.add(TimestampTzGetDatum(r.start_us));
    a.text(e.session.session_role);
    a.text(e.session.current_role);
    a.text(e.session.application);
    a.text(e.session.client_addr);
    a.add(Int32GetDatum(e.session.backend_pid));
    char xid[32];
    snprintf(xid, sizeof xid, UINT64_FORMAT, static_cast<uint64>(e.session.xid));
    a.text(e.session.xid != 0 ? xid : "");
    a.add(Int32GetDatum(r.nesting_level));
    a.text(r.command_tag);
    a.text(e.statement);
    a.add(objects_array(r.objects));
    a.add(name_datum(guarded_ddl::outcome_name(r.outcome)));
    a.add(name_datum(guarded_ddl::mode_name(e.mode)));
    a.add(rules_array(r));
    a.add(Int64GetDatum(r.approval_id), r.approval_id == 0);
    a.text(r.sqlstate);
    a.text(r.error_message);
    a.add(Float8GetDatum(r.duration_us / 1000.0));
    a.add(Float8GetDatum(lock_wait_us / 1000.0), r.n_locks == 0);
    a.add(Int32GetDatum(attempts), r.n_locks == 0);
    a.text(e.setting.name);
    a.text(e.setting.old_value);
    a.text(e.setting.new_value);
    Assert(a.n == insert_statement_nargs);

    if (insert_statement_plan == nullptr)
        insert_statement_plan =
            prepare(insert_statement_sql, insert_statement_nargs, insert_statement_types);
    if (SPI_execute_plan(insert_statement_plan, a.values, a.nulls, false, 1) !=
            SPI_OK_INSERT_RETURNING ||
        SPI_processed != 1)
        elog(ERROR, "guarded_ddl: audit insert into ddl_log failed");
    bool isnull = false;
    Datum id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

    if (insert_lock_plan == nullptr)
        insert_lock_plan = prepare(insert_lock_sql, insert_lock_nargs, insert_lock_types);
    for (int i = 0; i < Min(r.n_locks, guarded_ddl::max_locks_per_statement); i++) {
        const LockRecord &l = r.locks[i];
        Args la;
        la.add(id);
        la.add(ObjectIdGetDatum(l.relid));
        la.text(l.relation);
        la.add(CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, l.lock_mode)));
        la.add(BoolGetDatum(l.granted));
        la.add(Float8GetDatum(l.wait_us / 1000.0));
        la.add(Int32GetDatum(l.attempts));
        la.add(blockers_datum(l));
        if (SPI_execute_plan(insert_lock_plan, la.values, la.nulls, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "guarded_ddl: audit insert into lock_log failed");
    }
}

bool log_tables_exist() {
    Oid nsp = get_namespace_oid("guarded_ddl", true);
    return OidIsValid(nsp) && OidIsValid(get_relname_relid("ddl_log", nsp)) &&
           OidIsValid(get_relname_relid("lock_log", nsp));
}

// Writes one record in a subtransaction. Returns what became of it.
GdWriteResult write_one(const AuditEntry &e, MemoryContext batch_context) {
    ResourceOwner owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(batch_context);
    GdWriteResult result = GD_WRITE_DONE;
    PG_TRY();
    {
        insert_entry(e);
        ReleaseCurrentSubTransaction();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(batch_context);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE) {
            result = GD_WRITE_RETRY;
        } else if (edata->sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
                   edata->sqlerrcode == ERRCODE_INVALID_SCHEMA_NAME) {
            // DROP EXTENSION committed after this batch looked for the tables.
            gd_audit_log_entry(&e, "guarded_ddl is not installed in this database");
            result = GD_WRITE_NOT_INSTALLED;
        } else {
            gd_audit_log_entry(&e, psprintf("the insert failed: %s", edata->message));
            result = GD_WRITE_FAILED;
        }
        FreeErrorData(edata);
    }
    PG_END_TRY();
    MemoryContextSwitchTo(batch_context);
    CurrentResourceOwner = owner;
    return result;
}

// Writes a batch in one transaction. Returns true when something has to be
// retried later (a lock on the log tables was not free).
bool write_batch(const int *slots, int n, MemoryContext batch_context) {
    GdWriteResult results[gd_audit_max_batch];
    bool retry = false;

    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "writing audit records");
    bool installed = log_tables_exist();
    for (int i = 0; i < n; i++) {
        const AuditEntry &e = *gd_audit_entry(slots[i]);
        if (retry) {
            results[i] = GD_WRITE_RETRY;
        } else if (!installed) {
            gd_audit_log_entry(&e, "guarded_ddl is not installed in this database");
            results[i] = GD_WRITE_NOT_INSTALLED;
        } else {
            results[i] = write_one(e, batch_context);
            retry = results[i] == GD_WRITE_RETRY;
        }
    }
    SPI_finish();
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

    // A batch needs a few kB; the sizes are spelt out because PostgreSQL's
    // ALLOCSET_*_SIZES macros multiply in int.
    constexpr Size batch_block = Size{8} * 1024;
    MemoryContext batch_context = AllocSetContextCreate(TopMemoryContext, "guarded_ddl audit batch",
                                                        0, batch_block, 64 * batch_block);
    TimestampTz idle_since = GetCurrentTimestamp();
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
            if (retry)
                (void)WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, retry_pause_ms,
                                PG_WAIT_EXTENSION);
            continue;
        }

        long idle_ms = TimestampDifferenceMilliseconds(idle_since, GetCurrentTimestamp());
        if (idle_ms >= idle_exit_ms && gd_audit_writer_detach_if_idle(dbid))
            proc_exit(0);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        Max(idle_exit_ms - idle_ms, 10), PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}
