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
// locked and checked again before each insert, with search_path pinned to
// pg_catalog, pg_temp and every function, type and operator of its SQL
// qualified. What runs in the insert is then the tables' own defaults,
// constraints and indexes, which only a superuser can have defined.
#include "pg/prelude.hpp"

#include "pg/audit_shmem.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/extension_objects.hpp"
#include "pg/report.hpp"

#include "core/audit_json.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void gd_audit_writer_main(Datum main_arg);
}

#include <new>

using guarded_ddl::AuditEntry;
using guarded_ddl::LockRecord;
using guarded_ddl::pg::invoke_cpp;
using guarded_ddl::pg::pg_call;

namespace {

constexpr long idle_exit_ms = 1000;
constexpr long retry_pause_ms = 100;
constexpr long gather_pause_ms = 5;
constexpr long hand_over_poll_ms = 50;

// Both inserts take one array per column and unnest them, so a batch of
// records costs two statements, and one record alone (the fallback when a
// batch fails) goes through the very same path. Objects and rule ids travel
// as one string per record ('\n' and ',' separated): arrays of arrays would
// have to be rectangular.
//
// Every function, type and operator is qualified, and the search_path is
// pinned besides: a database owner can put functions, domains and
// operators named like these ahead of pg_catalog with ALTER DATABASE or
// ALTER ROLE ALL IN DATABASE ... SET search_path. The target table is the
// first %s: the verified table's qualified name. The second and third %s
// add the system_identifier column and its value, a constant of this server
// (empty on 1.0's tables, which have no such column).
const char *const insert_statements_sql =
    "INSERT INTO %s (started_at, session_role, executing_role, "
    "application_name, client_addr, backend_pid, xid, nesting_level, command, statement, "
    "objects, verdict, guard_mode, rules, approval_id, sqlstate, error_message, duration_ms, "
    "lock_wait_ms, lock_attempts, setting, old_value, new_value, statement_xid, rollback, "
    "backend_start, backend_seq, recipe_id, recipe_statement%s) "
    "SELECT r.c1, r.c2, r.c3, r.c4, r.c5::pg_catalog.inet, r.c6, r.c7::pg_catalog.xid8, r.c8, "
    "r.c9, r.c10, "
    "COALESCE(pg_catalog.string_to_array(r.c11, E'\\n'::pg_catalog.text), "
    "'{}'::pg_catalog.text[]), r.c12, r.c13, "
    "COALESCE(pg_catalog.string_to_array(r.c14, ','::pg_catalog.text), '{}'::pg_catalog.text[]), "
    "r.c15, r.c16, r.c17, r.c18, r.c19, r.c20, r.c21, r.c22, r.c23, r.c24::pg_catalog.xid8, "
    "r.c25, r.c26, r.c27, r.c28, r.c29%s "
    "FROM %s WITH ORDINALITY "
    "AS r(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, "
    "c19, c20, c21, c22, c23, c24, c25, c26, c27, c28, c29, n) ORDER BY r.n USING "
    "OPERATOR(pg_catalog.<) "
    "RETURNING id";
constexpr int statement_columns = 29;
const Oid statement_column_types[statement_columns] = {
    TIMESTAMPTZOID, TEXTOID,        TEXTOID,   TEXTOID, TEXTOID, INT4OID, TEXTOID, INT4OID,
    TEXTOID,        TEXTOID,        TEXTOID,   TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
    TEXTOID,        FLOAT8OID,      FLOAT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
    TEXTOID,        TIMESTAMPTZOID, INT8OID,   INT8OID, TEXTOID};

const char *const insert_locks_sql =
    "INSERT INTO %s (ddl_id, relation_oid, relation, lock_mode, granted, "
    "wait_ms, attempts, blockers, granted_at%s) "
    "SELECT r.c1, r.c2, r.c3, r.c4, r.c5, r.c6, r.c7, r.c8::pg_catalog.jsonb, r.c9%s "
    "FROM %s AS r(c1, c2, c3, c4, c5, c6, c7, c8, c9)";
constexpr int lock_columns = 9;
const Oid lock_column_types[lock_columns] = {INT8OID,   OIDOID,  TEXTOID, TEXTOID,       BOOLOID,
                                             FLOAT8OID, INT4OID, TEXTOID, TIMESTAMPTZOID};

// How long each lock was held, once its transaction or savepoint ended: for
// the lock rows of a backend's statements first..last not filled in yet.
// The first %s is lock_log, the second ddl_log, the third the unnest, the
// fourth keeps to this server's rows (a central review database holds other
// servers' rows too, whose pids and session starts may be the same).
const char *const locks_released_sql =
    "UPDATE %s AS l SET held_ms = pg_catalog.date_part('epoch'::pg_catalog.text, "
    "r.c5 OPERATOR(pg_catalog.-) l.granted_at) OPERATOR(pg_catalog.*) 1000::pg_catalog.float8 "
    "FROM %s AS d, %s AS r(c1, c2, c3, c4, c5) "
    "WHERE d.backend_pid OPERATOR(pg_catalog.=) r.c1 "
    "AND d.backend_seq OPERATOR(pg_catalog.>=) r.c3 AND d.backend_seq OPERATOR(pg_catalog.<=) r.c4 "
    "AND d.backend_start OPERATOR(pg_catalog.=) r.c2 "
    "AND l.ddl_id OPERATOR(pg_catalog.=) d.id AND l.granted AND l.held_ms IS NULL%s";
const char *const own_rows_sql = " AND d.system_identifier OPERATOR(pg_catalog.=) %s "
                                 "AND l.system_identifier OPERATOR(pg_catalog.=) %s";
constexpr int released_columns = 5;
const Oid released_column_types[released_columns] = {INT4OID, TIMESTAMPTZOID, INT8OID, INT8OID,
                                                     TIMESTAMPTZOID};

const char *qualified_name(Oid relid) {
    return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                      get_rel_name(relid));
}

// ROWS FROM (pg_catalog.unnest($1), ..., pg_catalog.unnest($columns)).
const char *unnest_sql(int columns) {
    StringInfoData rows;
    initStringInfo(&rows);
    appendStringInfoString(&rows, "ROWS FROM (");
    for (int c = 1; c <= columns; c++)
        appendStringInfo(&rows, "%spg_catalog.unnest($%d)", c > 1 ? ", " : "", c);
    appendStringInfoChar(&rows, ')');
    return rows.data;
}

constexpr int max_lock_rows = gd_audit_max_batch * guarded_ddl::max_locks_per_statement;

// Prepared once per writer for the verified tables; kept across
// transactions, and prepared again when the tables are other ones (the
// extension was dropped and created again).
SPIPlanPtr insert_statements_plan = nullptr;
SPIPlanPtr insert_locks_plan = nullptr;
SPIPlanPtr locks_released_plan = nullptr;
Oid planned_ddl_log = InvalidOid;
Oid planned_lock_log = InvalidOid;
bool planned_fleet_rows = false;

void plan_for(Oid ddl_log, Oid lock_log, bool fleet_rows) {
    if (ddl_log == planned_ddl_log && lock_log == planned_lock_log &&
        fleet_rows == planned_fleet_rows)
        return;
    for (SPIPlanPtr *plan : {&insert_statements_plan, &insert_locks_plan, &locks_released_plan}) {
        if (*plan != nullptr)
            (void)SPI_freeplan(*plan);
        *plan = nullptr;
    }
    planned_ddl_log = ddl_log;
    planned_lock_log = lock_log;
    planned_fleet_rows = fleet_rows;
}

// This server's system identifier as an SQL constant: the same for every
// row the writer writes (pg_control_system() shows it as a bigint).
const char *system_identifier_sql() {
    return psprintf(INT64_FORMAT "::pg_catalog.int8", static_cast<int64>(GetSystemIdentifier()));
}

// The rows of one insert, column by column, turned into array parameters.
template <int Columns, int MaxRows> struct ColumnBatch {
    const Oid *types;
    Datum values[Columns][MaxRows];
    bool nulls[Columns][MaxRows];
    int rows = 0;
    int column = 0;

    explicit ColumnBatch(const Oid *column_types) : types(column_types) {}

    void next_row() {
        rows++;
        column = 0;
    }
    void add(Datum value, bool is_null = false) {
        values[column][rows] = value;
        nulls[column++][rows] = is_null;
    }
    // Empty text is NULL: the fixed-size fields have no other way to say so.
    void text(const char *value) {
        add(value[0] != '\0' ? CStringGetTextDatum(value) : Datum(0), value[0] == '\0');
    }
    // A FullTransactionId as text for an xid8 cast; 0 (none assigned) is NULL.
    void xid(uint64 value) {
        add(value != 0 ? CStringGetTextDatum(psprintf(UINT64_FORMAT, value)) : Datum(0),
            value == 0);
    }
    Datum array(int c) const {
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(types[c], &typlen, &typbyval, &typalign);
        int dims[1] = {rows};
        int lbs[1] = {1};
        return PointerGetDatum(construct_md_array(const_cast<Datum *>(values[c]),
                                                  const_cast<bool *>(nulls[c]), 1, dims, lbs,
                                                  types[c], typlen, typbyval, typalign));
    }
    // Runs the plan with the batch's arrays, preparing it first from
    // make_sql() when there is none yet. expected < 0: any row count.
    template <typename MakeSql>
    void execute(SPIPlanPtr *plan, MakeSql make_sql, int expected) const {
        Datum params[Columns];
        Oid array_types[Columns];
        for (int c = 0; c < Columns; c++) {
            params[c] = array(c);
            array_types[c] = get_array_type(types[c]);
        }
        if (*plan == nullptr) {
            *plan = SPI_prepare(make_sql(), Columns, array_types);
            if (*plan == nullptr)
                elog(ERROR, "guarded_ddl: could not prepare audit write: %s",
                     SPI_result_code_string(SPI_result));
            SPI_keepplan(*plan);
        }
        int rc = SPI_execute_plan(*plan, params, nullptr, false, 0);
        if (rc < 0 || (expected >= 0 && SPI_processed != static_cast<uint64>(expected)))
            elog(ERROR, "guarded_ddl: audit write touched " UINT64_FORMAT " rows, not %d",
                 SPI_processed, expected);
    }
};

using StatementBatch = ColumnBatch<statement_columns, gd_audit_max_batch>;
using LockBatch = ColumnBatch<lock_columns, max_lock_rows>;

Datum blockers_datum(const LockRecord &lock) {
    return invoke_cpp([&] {
        std::string json = guarded_ddl::blockers_json(lock);
        return pg_call([&] { return CStringGetTextDatum(json.c_str()); });
    });
}

void add_statement_row(StatementBatch &b, const AuditEntry &e) {
    const guarded_ddl::StatementRecord &r = e.record;
    int64 lock_wait_us = 0;
    int attempts = 0;
    for (int i = 0; i < r.n_locks; i++) {
        lock_wait_us += r.locks[i].wait_us;
        attempts += r.locks[i].attempts;
    }
    StringInfoData rules;
    initStringInfo(&rules);
    for (int i = 0; i < Min(r.n_rules, guarded_ddl::max_rules_per_statement); i++)
        appendStringInfo(&rules, "%s%s", i > 0 ? "," : "", r.rules[i]);

    b.add(TimestampTzGetDatum(r.start_us));
    b.text(e.session.session_role);
    b.text(e.session.current_role);
    b.text(e.session.application);
    b.text(e.session.client_addr);
    b.add(Int32GetDatum(e.session.backend_pid));
    b.xid(e.session.xid);
    b.add(Int32GetDatum(r.nesting_level));
    b.text(r.command_tag);
    b.text(e.statement);
    b.text(r.objects);
    b.add(gd_text_datum(guarded_ddl::outcome_name(r.outcome)));
    b.add(gd_text_datum(guarded_ddl::mode_name(e.mode)));
    b.text(rules.data);
    b.add(Int64GetDatum(r.approval_id), r.approval_id == 0);
    b.text(r.sqlstate);
    b.text(r.error_message);
    b.add(Float8GetDatum(r.duration_us / 1000.0));
    b.add(Float8GetDatum(lock_wait_us / 1000.0), r.n_locks == 0);
    b.add(Int32GetDatum(attempts), r.n_locks == 0);
    b.text(e.setting.name);
    b.text(e.setting.old_value);
    b.text(e.setting.new_value);
    b.xid(e.session.statement_xid);
    b.text(guarded_ddl::rollback_name(r.rollback).data()); // "" (NULL) when unknown
    b.add(TimestampTzGetDatum(e.session.backend_start_us));
    b.add(Int64GetDatum(e.session.backend_seq));
    b.add(Int64GetDatum(e.recipe_id), e.recipe_id == 0);
    b.text(e.recipe_statement);
    Assert(b.column == statement_columns);
    b.next_row();
}

void add_lock_row(LockBatch &b, Datum ddl_id, const LockRecord &l) {
    b.add(ddl_id);
    b.add(ObjectIdGetDatum(l.relid));
    b.text(l.relation);
    b.add(CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, l.lock_mode)));
    b.add(BoolGetDatum(l.granted));
    b.add(Float8GetDatum(l.wait_us / 1000.0));
    b.add(Int32GetDatum(l.attempts));
    b.add(blockers_datum(l));
    b.add(TimestampTzGetDatum(l.granted_us), !l.granted);
    b.next_row();
}

using ReleasedBatch = ColumnBatch<released_columns, gd_audit_max_batch>;

void add_released_row(ReleasedBatch &b, const AuditEntry &e) {
    b.add(Int32GetDatum(e.session.backend_pid));
    b.add(TimestampTzGetDatum(e.session.backend_start_us));
    b.add(Int64GetDatum(e.released.first_seq));
    b.add(Int64GetDatum(e.released.last_seq));
    b.add(TimestampTzGetDatum(e.released.released_us));
    b.next_row();
}

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

// Inserts the statement records (slots of the queue) and their lock rows
// into the verified tables, then fills in the hold times the LocksReleased
// records give: three statements, whatever the number of records. A
// transaction's release comes after its statements in the queue, so here
// too.
void insert_entries(const int *slots, int n, Oid ddl_log, Oid lock_log, bool fleet_rows) {
    plan_for(ddl_log, lock_log, fleet_rows);
    const char *sysid_column = fleet_rows ? ", system_identifier" : "";
    const char *sysid_value = fleet_rows ? psprintf(", %s", system_identifier_sql()) : "";
    auto *statements = static_cast<StatementBatch *>(palloc(sizeof(StatementBatch)));
    new (statements) StatementBatch(statement_column_types);
    auto *released = static_cast<ReleasedBatch *>(palloc(sizeof(ReleasedBatch)));
    new (released) ReleasedBatch(released_column_types);
    for (int i = 0; i < n; i++) {
        const AuditEntry &e = *gd_audit_entry(slots[i]);
        if (e.kind == guarded_ddl::EntryKind::LocksReleased)
            add_released_row(*released, e);
        else
            add_statement_row(*statements, e);
    }

    if (statements->rows > 0) {
        statements->execute(
            &insert_statements_plan,
            [&] {
                return psprintf(insert_statements_sql, qualified_name(ddl_log), sysid_column,
                                sysid_value, unnest_sql(statement_columns));
            },
            statements->rows);
        auto *locks = static_cast<LockBatch *>(palloc(sizeof(LockBatch)));
        new (locks) LockBatch(lock_column_types);
        int row = 0;
        for (int i = 0; i < n; i++) {
            const AuditEntry &e = *gd_audit_entry(slots[i]);
            if (e.kind != guarded_ddl::EntryKind::Statement)
                continue;
            bool isnull = false;
            Datum id = SPI_getbinval(SPI_tuptable->vals[row++], SPI_tuptable->tupdesc, 1, &isnull);
            for (int l = 0; l < Min(e.record.n_locks, guarded_ddl::max_locks_per_statement); l++)
                add_lock_row(*locks, id, e.record.locks[l]);
        }
        if (locks->rows > 0)
            locks->execute(
                &insert_locks_plan,
                [&] {
                    return psprintf(insert_locks_sql, qualified_name(lock_log), sysid_column,
                                    sysid_value, unnest_sql(lock_columns));
                },
                locks->rows);
    }
    if (released->rows > 0)
        released->execute(
            &locks_released_plan,
            [&] {
                const char *sysid = system_identifier_sql();
                return psprintf(locks_released_sql, qualified_name(lock_log),
                                qualified_name(ddl_log), unnest_sql(released_columns),
                                fleet_rows ? psprintf(own_rows_sql, sysid, sysid) : "");
            },
            -1);
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
            insert_entries(slots, n, ddl_log, lock_log, fleet_rows);
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
    SPI_connect();
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
            // queue fill a little: a transaction per handful of records,
            // not per record, when DDL arrives in a stream.
            if (retry || n < gd_audit_max_batch)
                (void)WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                                retry ? retry_pause_ms : gather_pause_ms, PG_WAIT_EXTENSION);
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
