#include "pg/toplevel_worker.hpp"

#include "pg/recipe_context.hpp"

extern "C" {
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "mb/pg_wchar.h"
#include "parser/analyze.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc_tables.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
}

namespace {

constexpr uint64 toplevel_magic = 0x67647470UL; // "gdtp"
constexpr Size queue_size = Size{64} * 1024;

enum ToplevelKey : uint64 { KeyFixed = 1, KeySql, KeyRecipeStatement, KeySettings, KeyQueue };

// Who the worker is and what it runs, as the caller's session has it.
struct ToplevelFixed {
    Oid database_id;
    Oid session_user_id; // the worker connects as the caller's session user
    Oid outer_role_id;   // SET ROLE in effect (InvalidOid: none)
    bool outer_role_is_superuser;
    Oid current_user_id; // and runs as the caller's current user
    int sec_context;
    int64 recipe_id;
    bool succeeded; // set by the worker once the statement committed
};

const char *const worker_context =
    "top-level step of guarded_ddl.apply, run by a background worker";

// ---- Settings ----

// Every setting the caller's session changed and a session may set, as
// name/value pairs: 's' or 'u' (set with superuser's or user's rights: a
// superuser-only setting in effect for the caller, or an ordinary one), the
// name and the value, each NUL-terminated; an empty name ends the list.
// Left out: role and session_authorization (the worker's identity is set
// from the caller's user ids), the transaction's own settings, and the
// client encoding (the worker talks to the caller in the server's).
char *serialize_settings(Size *len) {
    StringInfoData buf;
    initStringInfo(&buf);
    int n = 0;
    struct config_generic **vars = gd_guc_variables(&n);
    for (int i = 0; i < n; i++) {
        const struct config_generic *g = vars[i];
        if (g->source == PGC_S_DEFAULT || (g->context != PGC_USERSET && g->context != PGC_SUSET) ||
            (g->flags & GUC_NO_RESET_ALL) != 0 || strcmp(g->name, "client_encoding") == 0)
            continue;
        const char *value = GetConfigOption(g->name, true, false);
        if (value == nullptr)
            continue;
        bool privileged = g->context == PGC_SUSET && (g->flags & GUC_CUSTOM_PLACEHOLDER) == 0;
        appendStringInfoChar(&buf, privileged ? 's' : 'u');
        appendBinaryStringInfo(&buf, g->name, static_cast<int>(strlen(g->name)) + 1);
        appendBinaryStringInfo(&buf, value, static_cast<int>(strlen(value)) + 1);
    }
    appendStringInfoChar(&buf, '\0');
    *len = static_cast<Size>(buf.len);
    return buf.data;
}

void restore_settings(const char *p) {
    while (*p != '\0') {
        GucContext context = *p == 's' ? PGC_SUSET : PGC_USERSET;
        const char *name = p + 1;
        const char *value = name + strlen(name) + 1;
        (void)set_config_option(name, value, context, PGC_S_SESSION, GUC_ACTION_SET, true, ERROR,
                                false);
        p = value + strlen(value) + 1;
    }
}

void *toc_copy(shm_toc *toc, uint64 key, const void *data, Size len) {
    void *space = shm_toc_allocate(toc, len);
    memcpy(space, data, len);
    shm_toc_insert(toc, key, space);
    return space;
}

// ---- The caller's side ----

// Re-raises a NOTICE, WARNING or ERROR the worker sent. The worker's cursor
// position points into the step's text, shown as an internal query.
void rethrow_message(StringInfo msg, const char *sql, const char *failure_hint) {
    ErrorData edata;
    pq_parse_errornotice(msg, &edata);
    // The worker's death (FATAL) is the step's failure, not the caller's.
    edata.elevel = Min(edata.elevel, ERROR);
    if (edata.elevel == ERROR && edata.hint == nullptr && failure_hint != nullptr)
        edata.hint = pstrdup(failure_hint);
    if (edata.cursorpos > 0) {
        edata.internalpos = edata.cursorpos;
        edata.internalquery = pstrdup(sql);
        edata.cursorpos = 0;
    }
    // The CONTEXT lines naming the step are added by step_context(), as
    // for every error raised while the caller follows the worker.
    ThrowErrorData(&edata);
}

// The CONTEXT of whatever is raised while the caller follows the worker
// (the worker's messages, a cancel, the worker stopping early): the step, as
// SPI names the statement of a step run in the caller, then who ran it.
void step_context(void *arg) {
    errcontext("SQL statement \"%s\"", static_cast<const char *>(arg));
    errcontext("%s", worker_context);
}

// Reads the worker's messages until it detaches from the queue (it ended),
// re-raising each as it comes; the worker's ERROR, once it has ended.
void follow_worker(shm_mq_handle *mqh, const char *sql, const char *failure_hint) {
    StringInfoData error_msg;
    bool failed = false;
    for (;;) {
        Size nbytes;
        void *data;
        shm_mq_result res = shm_mq_receive(mqh, &nbytes, &data, false);
        if (res != SHM_MQ_SUCCESS)
            break;
        StringInfoData msg;
        initStringInfo(&msg);
        appendBinaryStringInfo(&msg, static_cast<const char *>(data), static_cast<int>(nbytes));
        char type = static_cast<char>(pq_getmsgbyte(&msg));
        if (type == 'E' && !failed) {
            error_msg = msg;
            failed = true;
        } else if (type == 'N') {
            rethrow_message(&msg, sql, nullptr);
        }
        // Anything else (ParameterStatus, ...) means nothing to the caller.
    }
    if (failed)
        rethrow_message(&error_msg, sql, failure_hint);
}

} // namespace

void gd_run_toplevel(const char *sql, const char *failure_hint) {
    const char *recipe_statement =
        gd_current_recipe.statement != nullptr ? gd_current_recipe.statement : "";
    Size settings_len;
    char *settings = serialize_settings(&settings_len);

    shm_toc_estimator e;
    shm_toc_initialize_estimator(&e);
    shm_toc_estimate_chunk(&e, sizeof(ToplevelFixed));
    shm_toc_estimate_chunk(&e, strlen(sql) + 1);
    shm_toc_estimate_chunk(&e, strlen(recipe_statement) + 1);
    shm_toc_estimate_chunk(&e, settings_len);
    shm_toc_estimate_chunk(&e, queue_size);
    shm_toc_estimate_keys(&e, 5);
    Size segsize = shm_toc_estimate(&e);

    dsm_segment *seg = dsm_create(segsize, 0);
    shm_toc *toc = shm_toc_create(toplevel_magic, dsm_segment_address(seg), segsize);

    ToplevelFixed fixed{};
    fixed.database_id = MyDatabaseId;
    fixed.session_user_id = GetSessionUserId();
    fixed.outer_role_id = GetCurrentRoleId();
    fixed.outer_role_is_superuser =
        OidIsValid(fixed.outer_role_id) && superuser_arg(fixed.outer_role_id);
    GetUserIdAndSecContext(&fixed.current_user_id, &fixed.sec_context);
    fixed.recipe_id = gd_current_recipe.id;
    fixed.succeeded = false;
    auto *shared =
        static_cast<volatile ToplevelFixed *>(toc_copy(toc, KeyFixed, &fixed, sizeof fixed));
    toc_copy(toc, KeySql, sql, strlen(sql) + 1);
    toc_copy(toc, KeyRecipeStatement, recipe_statement, strlen(recipe_statement) + 1);
    toc_copy(toc, KeySettings, settings, settings_len);
    shm_mq *mq = shm_mq_create(shm_toc_allocate(toc, queue_size), queue_size);
    shm_toc_insert(toc, KeyQueue, mq);
    shm_mq_set_receiver(mq, MyProc);
    shm_mq_handle *mqh = shm_mq_attach(mq, seg, nullptr);

    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_ConsistentState;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(worker.bgw_library_name, "guarded_ddl", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "gd_toplevel_worker_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "guarded_ddl apply worker for PID %d", MyProcPid);
    strlcpy(worker.bgw_type, "guarded_ddl apply worker", BGW_MAXLEN);
    worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
    worker.bgw_notify_pid = MyProcPid;

    BackgroundWorkerHandle *handle;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle))
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_RESOURCES),
                 errmsg("guarded_ddl.apply: could not start a background worker for a top-level "
                        "step"),
                 errdetail("The step must run outside any transaction block, in a background "
                           "worker of its own: %s",
                           sql),
                 errhint("Raise max_worker_processes, or wait until fewer background workers "
                         "run, then run the same apply again: it continues where it stopped.")));
    // A worker that dies before attaching to the queue detaches it too.
    shm_mq_set_handle(mqh, handle);

    // The worker's statement may wait for every transaction that has a
    // snapshot (CREATE INDEX CONCURRENTLY does): the caller, waiting for
    // the worker, must have none.
    InvalidateCatalogSnapshot();
    if (TransactionIdIsValid(MyProc->xmin))
        elog(ERROR, "guarded_ddl.apply: a top-level step cannot start while the caller holds a "
                    "snapshot");

    PG_TRY();
    {
        // Popped by PG_CATCH on an error (PG_TRY restores the stack).
        ErrorContextCallback callback{error_context_stack, step_context, const_cast<char *>(sql)};
        error_context_stack = &callback;
        follow_worker(mqh, sql, failure_hint);
        if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
            ereport(FATAL, (errcode(ERRCODE_ADMIN_SHUTDOWN),
                            errmsg("postmaster exited during a guarded_ddl.apply step")));
        pg_memory_barrier();
        if (!shared->succeeded)
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("guarded_ddl.apply: the background worker of a top-level step "
                                   "stopped before the step ended"),
                            errdetail("The step was: %s", sql),
                            errhint("The server log says why. Run the same apply again: it "
                                    "continues where it stopped.")));
        error_context_stack = callback.previous;
    }
    PG_CATCH();
    {
        // Cancelled, or an error: the worker stops first (its statement is
        // rolled back, as the caller's would be), then the error goes on.
        HOLD_INTERRUPTS();
        TerminateBackgroundWorker(handle);
        (void)WaitForBackgroundWorkerShutdown(handle);
        RESUME_INTERRUPTS();
        PG_RE_THROW();
    }
    PG_END_TRY();
    dsm_detach(seg);
}

// ---- The worker ----

void gd_toplevel_worker_main(Datum main_arg) {
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();

    CurrentResourceOwner = ResourceOwnerCreate(nullptr, "guarded_ddl apply worker");
    dsm_segment *seg = dsm_attach(DatumGetUInt32(main_arg));
    if (seg == nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("guarded_ddl apply worker: could not map its shared memory")));
    shm_toc *toc = shm_toc_attach(toplevel_magic, dsm_segment_address(seg));
    if (toc == nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("guarded_ddl apply worker: bad shared memory segment")));
    auto *fixed = static_cast<volatile ToplevelFixed *>(shm_toc_lookup(toc, KeyFixed, false));
    auto *mq = static_cast<shm_mq *>(shm_toc_lookup(toc, KeyQueue, false));
    shm_mq_set_sender(mq, MyProc);
    shm_mq_handle *mqh = shm_mq_attach(mq, seg, nullptr);
    // From here on, every message the worker emits goes to the caller.
    pq_redirect_to_shm_mq(seg, mqh);

    // The caller's session user (who logged in), then its SET ROLE and
    // current user: the statement runs with exactly the caller's rights.
    BackgroundWorkerInitializeConnectionByOid(fixed->database_id, fixed->session_user_id, 0);
    SetClientEncoding(GetDatabaseEncoding());

    char *sql = MemoryContextStrdup(TopMemoryContext,
                                    static_cast<const char *>(shm_toc_lookup(toc, KeySql, false)));
    char *recipe_statement = MemoryContextStrdup(
        TopMemoryContext,
        static_cast<const char *>(shm_toc_lookup(toc, KeyRecipeStatement, false)));

    StartTransactionCommand();
    restore_settings(static_cast<const char *>(shm_toc_lookup(toc, KeySettings, false)));
    SetCurrentRoleId(fixed->outer_role_id, fixed->outer_role_is_superuser);
    CommitTransactionCommand();
    SetUserIdAndSecContext(fixed->current_user_id, fixed->sec_context);

    if (fixed->recipe_id != 0) {
        gd_current_recipe.id = fixed->recipe_id;
        gd_current_recipe.statement = recipe_statement;
    }

    // As a simple query runs it (exec_simple_query): parsed, analysed and
    // planned, then run by a portal at top level, so PreventInTransactionBlock
    // passes and the hook sees it as a top-level statement.
    MemoryContext statement_context = AllocSetContextCreate(
        TopMemoryContext, "guarded_ddl apply statement", 0, Size{8} * 1024, Size{8} * 1024 * 1024);
    debug_query_string = sql;
    pgstat_report_activity(STATE_RUNNING, sql);
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    MemoryContext old = MemoryContextSwitchTo(statement_context);
    List *parsed = pg_parse_query(sql);
    if (list_length(parsed) != 1)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("guarded_ddl apply worker: a step must be one statement")));
    RawStmt *raw = linitial_node(RawStmt, parsed);
    CommandTag tag = CreateCommandTag(raw->stmt);
    bool snapshot = analyze_requires_snapshot(raw);
    if (snapshot)
        PushActiveSnapshot(GetTransactionSnapshot());
    List *queries = pg_analyze_and_rewrite_fixedparams(raw, sql, nullptr, 0, nullptr);
    List *plans = pg_plan_queries(queries, sql, CURSOR_OPT_PARALLEL_OK, nullptr);
    if (snapshot)
        PopActiveSnapshot();
    Portal portal = CreatePortal("", true, true);
    portal->visible = false;
    PortalDefineQuery(portal, nullptr, sql, tag, plans, nullptr);
    PortalStart(portal, nullptr, 0, InvalidSnapshot);
    DestReceiver *receiver = CreateDestReceiver(DestNone);
    QueryCompletion qc;
    InitializeQueryCompletion(&qc);
    MemoryContextSwitchTo(old);
    gd_run_portal(portal, receiver, &qc);
    receiver->rDestroy(receiver);
    PortalDrop(portal, false);
    CommitTransactionCommand();

    fixed->succeeded = true;
    pg_memory_barrier();
    pgstat_report_activity(STATE_IDLE, nullptr);
    debug_query_string = nullptr;
    // Exiting detaches the queue: the caller knows the step ended.
}
