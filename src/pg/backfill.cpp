// CALL guarded_ddl.backfill(relation, set_clause, where_clause, batch_size,
// pause, max_duration): examples/backfill.sh done in the server. The rows
// matching where_clause are updated in primary-key order, batch_size at a
// time; each batch locks its rows with FOR UPDATE SKIP LOCKED (a row someone
// else is writing is left for a later walk, never waited for) and commits.
// When a walk reaches the end of the table and rows still match (busy, or
// inserted meanwhile), it walks again from the lowest key, until nothing
// matches or max_duration has passed. The data itself says what is left, so
// running the same call again after an interruption carries on.
//
// The fragments are the caller's SQL, run as the caller: PostgreSQL checks
// the caller's privileges when each batch runs. They are parsed, each alone
// inside a fixed wrapper, and accepted only when the parse tree is exactly
// one statement of the wrapper's shape with the fragment as its SET list or
// its WHERE condition, containing no data-modifying statement and no
// parameter reference. Their text is never placed into another statement:
// the batch statement is guarded_ddl's own text (quoted names, no fragment)
// parsed alone, and the fragments' parse nodes are grafted into its parse
// tree, which then goes through parse analysis, planning and the executor as
// any statement does. Each node keeps its position in a source text made of
// both fragments and the statement, so an error in a fragment points into
// that fragment.
//
// Progress goes to guarded_ddl.backfill_run (read through the view
// guarded_ddl.backfills), written with the batch in the same transaction,
// as the extension's owner with search_path pinned: callers cannot write
// that table, so they cannot forge another role's rows.
//
// PG-zone code in C style: nothing with a destructor is alive here.
#include "pg/prelude.hpp"

#include "pg/extension_objects.hpp"
#include "pg/subtransaction.hpp"
#include "pg/transaction_locks.hpp"

extern "C" {
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parser.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PG_FUNCTION_INFO_V1(gd_backfill);
}

namespace {

constexpr int kMaxBatchSize = 1000000;
constexpr int64 kMaxPauseUs = INT64CONST(3600) * USECS_PER_SEC;
constexpr int kMaxKeyColumns = INDEX_MAX_KEYS;

struct Backfill {
    // Arguments.
    Oid relid;
    char *set_clause;
    char *where_clause;
    // The fragments parsed: the SET list's ResTargets and the condition,
    // their locations offsets into every statement's source text, which
    // begins with prefix: "UPDATE gd_backfill_target SET <set_clause>\n
    // SELECT WHERE <where_clause>\n".
    List *set_targets;
    Node *where;
    char *prefix;
    int prefix_len;
    int set_start;   // where set_clause begins in prefix
    int where_start; // where where_clause begins in prefix
    int batch_size;
    int64 pause_us;
    int64 max_duration_us; // 0: no limit
    // The relation and its primary key.
    char *relation; // qualified and quoted
    int n_keys;
    char *key_names[kMaxKeyColumns]; // quoted
    Oid key_types[kMaxKeyColumns];
    int16 key_len[kMaxKeyColumns];
    bool key_byval[kMaxKeyColumns];
    // The progress table and who writes it.
    char *run_table; // qualified and quoted
    Oid run_owner;
    int64 run_id;
    // Where the walk is.
    bool have_key;
    Datum last_key[kMaxKeyColumns];
    TimestampTz started;
    int64 rows_done;
    int64 batches;
    int64 passes;
    int64 pass_rows; // rows this walk updated
    int64 left_base; // rows matching at the last count (or the estimate)
    bool left_exact; // left_base was counted, not estimated
    int64 done_at_base;
    int idle_walks; // walks in a row that found every matching row busy
    // What the next step does and what the last one found.
    bool need_count;
    int64 sleep_us;
    int64 batch_rows;
    bool finished; // nothing matches any more
    bool stopped;  // max_duration reached
};

int64 interval_us(const Interval *iv) {
    return iv->time + (static_cast<int64>(iv->month) * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY;
}

int64 rows_left(const Backfill *b) {
    int64 left = b->left_base - (b->rows_done - b->done_at_base);
    return left > 0 ? left : 0;
}

// ---- Parsing the fragments ----

// What a fragment's raw tree must not hold: a data-modifying statement (a
// writable CTE in a sub-SELECT, say), or a parameter reference ($1), which
// would read the batch statement's own parameters (the last key).
bool raw_walk(Node *node, void *context) {
    if (node == nullptr)
        return false;
    auto *found = static_cast<const char **>(context);
    if (IsA(node, InsertStmt) || IsA(node, UpdateStmt) || IsA(node, DeleteStmt) ||
        IsA(node, MergeStmt)) {
        *found = "It contains a data-modifying statement (INSERT, UPDATE, DELETE or MERGE).";
        return true;
    }
    if (IsA(node, ParamRef)) {
        *found = "It refers to a parameter ($n).";
        return true;
    }
    // PostgreSQL 15 declares the walker without parameters.
    auto walker = reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(raw_walk));
    return raw_expression_tree_walker(node, walker, context);
}

const char *forbidden_node(Node *node) {
    const char *found = nullptr;
    (void)raw_walk(node, &found);
    return found;
}

[[noreturn]] void refuse_fragment(const char *which, const char *fragment, const char *detail) {
    ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR),
                    errmsg("guarded_ddl.backfill: %s is not %s", which,
                           strcmp(which, "set_clause") == 0 ? "a single list of column assignments"
                                                            : "a single boolean expression"),
                    errdetail("%s", detail),
                    errhint("%s", strcmp(which, "set_clause") == 0
                                      ? "Pass only the assignments, as in \"full_name = name, "
                                        "display_name = split_part(name, ' ', 1)\"."
                                      : "Pass only the condition, as in \"full_name IS NULL\"."),
                    errcontext("%s: %s", which, fragment)));
}

// Spaces, n of them: what goes before a text parsed at offset n of a
// statement's source text, so that its nodes' locations are offsets there.
char *padding(int n, const char *then) {
    size_t len = strlen(then);
    char *text = static_cast<char *>(palloc(static_cast<size_t>(n) + len + 1));
    memset(text, ' ', static_cast<size_t>(n));
    memcpy(text + n, then, len + 1);
    return text;
}

// The fragment parsed inside the wrapper, the wrapper at offset at of the
// source text, or an error saying why not. Syntax errors are reported
// against the fragment, not the wrapper's text.
RawStmt *parse_in_wrapper(const char *which, int at, const char *wrapper, const char *fragment) {
    char *sql = padding(at, psprintf("%s%s", wrapper, fragment));
    MemoryContext context = CurrentMemoryContext;
    List *volatile stmts = NIL;
    ErrorData *volatile error = nullptr;
    PG_TRY();
    { stmts = raw_parser(sql, RAW_PARSE_DEFAULT); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (error != nullptr) {
        if (error->sqlerrcode != ERRCODE_SYNTAX_ERROR)
            ReThrowError(error);
        refuse_fragment(which, fragment, psprintf("Parsing it failed: %s.", error->message));
    }
    if (list_length(stmts) != 1)
        refuse_fragment(which, fragment, "It contains more than one statement.");
    auto *raw = linitial_node(RawStmt, stmts);
    // A trailing semicolon ends the statement before the end of the text.
    if (raw->stmt_len != 0)
        refuse_fragment(which, fragment, "It contains a semicolon.");
    return raw;
}

const char *const set_wrapper = "UPDATE gd_backfill_target SET ";
const char *const where_wrapper = "SELECT WHERE ";

// The SET list of "UPDATE gd_backfill_target SET <fragment>".
List *parse_set_clause(const Backfill *b) {
    const char *fragment = b->set_clause;
    RawStmt *raw = parse_in_wrapper(
        "set_clause", b->set_start - static_cast<int>(strlen(set_wrapper)), set_wrapper, fragment);
    if (!IsA(raw->stmt, UpdateStmt))
        refuse_fragment("set_clause", fragment, "It does not parse as a SET list.");
    auto *u = castNode(UpdateStmt, raw->stmt);
    if (u->whereClause != nullptr)
        refuse_fragment("set_clause", fragment,
                        "It contains a WHERE clause; the condition goes in where_clause.");
    if (u->fromClause != NIL)
        refuse_fragment("set_clause", fragment, "It contains a FROM clause.");
    if (gd_update_returning(u) != NIL)
        refuse_fragment("set_clause", fragment, "It contains a RETURNING clause.");
    if (u->withClause != nullptr || u->targetList == NIL)
        refuse_fragment("set_clause", fragment, "It does not parse as a SET list.");
    ListCell *lc;
    foreach (lc, u->targetList) {
        auto *target = lfirst_node(ResTarget, lc);
        if (target->name == nullptr)
            refuse_fragment("set_clause", fragment, "An assignment names no column.");
        if (const char *why = forbidden_node(reinterpret_cast<Node *>(target)))
            refuse_fragment("set_clause", fragment, why);
    }
    return u->targetList;
}

// The WHERE condition of "SELECT WHERE <fragment>", which must be nothing
// else.
Node *parse_where_clause(const Backfill *b) {
    const char *fragment = b->where_clause;
    RawStmt *raw =
        parse_in_wrapper("where_clause", b->where_start - static_cast<int>(strlen(where_wrapper)),
                         where_wrapper, fragment);
    if (!IsA(raw->stmt, SelectStmt))
        refuse_fragment("where_clause", fragment, "It does not parse as a condition.");
    auto *s = castNode(SelectStmt, raw->stmt);
    if (s->op != SETOP_NONE)
        refuse_fragment("where_clause", fragment, "It contains UNION, INTERSECT or EXCEPT.");
    if (s->targetList != NIL || s->fromClause != NIL || s->intoClause != nullptr ||
        s->valuesLists != NIL || s->withClause != nullptr || s->whereClause == nullptr)
        refuse_fragment("where_clause", fragment, "It does not parse as a condition.");
    if (s->groupClause != NIL || s->havingClause != nullptr || s->windowClause != NIL ||
        s->distinctClause != NIL)
        refuse_fragment("where_clause", fragment,
                        "It contains a GROUP BY, HAVING, WINDOW or DISTINCT clause.");
    if (s->sortClause != NIL || s->limitCount != nullptr || s->limitOffset != nullptr ||
        s->lockingClause != NIL)
        refuse_fragment("where_clause", fragment,
                        "It contains an ORDER BY, LIMIT, OFFSET or locking clause.");
    if (const char *why = forbidden_node(s->whereClause))
        refuse_fragment("where_clause", fragment, why);
    return s->whereClause;
}

// Where each part of the source text begins: the SET list, then the
// condition, each in its wrapper and on a line of its own, then the
// statement.
void lay_out_source(Backfill *b) {
    b->set_start = static_cast<int>(strlen(set_wrapper));
    b->where_start = b->set_start + static_cast<int>(strlen(b->set_clause)) + 1 +
                     static_cast<int>(strlen(where_wrapper));
    b->prefix =
        psprintf("%s%s\n%s%s\n", set_wrapper, b->set_clause, where_wrapper, b->where_clause);
    b->prefix_len = static_cast<int>(strlen(b->prefix));
}

// ---- Preconditions ----

[[noreturn]] void refuse_under_lock(const char *relation, LOCKMODE mode) {
    ereport(ERROR,
            (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
             errmsg("guarded_ddl.backfill cannot run while the transaction holds %s on \"%s\"",
                    GetLockmodeName(DEFAULT_LOCKMETHOD, mode), relation),
             errdetail("The backfill commits after each batch. Run under this lock, every batch "
                       "would block the table's readers or writers until the transaction "
                       "ends."),
             errhint("Commit the schema change first, then CALL guarded_ddl.backfill(...) on its "
                     "own, outside any transaction block.")));
}

// A strong lock the transaction holds: one a guarded statement took on a
// large table, or SHARE or stronger on the target itself.
void check_no_strong_lock(Oid relid) {
    if (const GdHeldLock *held = gd_held_strong_lock(ShareRowExclusiveLock))
        refuse_under_lock(held->relation, held->mode);
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
    for (LOCKMODE mode = AccessExclusiveLock; mode >= ShareLock; mode--) {
        if (gd_lock_held(&tag, mode)) {
            char *nsp = get_namespace_name(get_rel_namespace(relid));
            char *name = get_rel_name(relid);
            refuse_under_lock(psprintf("%s.%s", nsp ? nsp : "?", name ? name : "?"), mode);
        }
    }
}

void check_arguments(FunctionCallInfo fcinfo, Backfill *b) {
    for (int i = 0; i < 5; i++)
        if (PG_ARGISNULL(i))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("guarded_ddl.backfill: relation, set_clause, where_clause, "
                                   "batch_size and pause must not be null")));
    b->relid = PG_GETARG_OID(0);
    b->batch_size = PG_GETARG_INT32(3);
    if (b->batch_size < 1 || b->batch_size > kMaxBatchSize)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("guarded_ddl.backfill: batch_size must be between 1 and %d", kMaxBatchSize),
                 errdetail("It is %d.", b->batch_size)));
    b->pause_us = interval_us(PG_GETARG_INTERVAL_P(4));
    if (b->pause_us < 0 || b->pause_us > kMaxPauseUs)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("guarded_ddl.backfill: pause must be between 0 and 1 hour")));
    b->max_duration_us = 0;
    if (!PG_ARGISNULL(5)) {
        b->max_duration_us = interval_us(PG_GETARG_INTERVAL_P(5));
        if (b->max_duration_us <= 0)
            ereport(
                ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg(
                     "guarded_ddl.backfill: max_duration must be positive, or null for no limit")));
    }
}

void check_context(FunctionCallInfo fcinfo, Oid relid) {
    check_no_strong_lock(relid);
    bool atomic = true;
    if (fcinfo->context != nullptr && IsA(fcinfo->context, CallContext))
        atomic = castNode(CallContext, fcinfo->context)->atomic;
    if (IsTransactionBlock() || atomic)
        ereport(ERROR, (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                        errmsg("guarded_ddl.backfill cannot run inside a transaction block"),
                        errdetail("It commits after each batch, so that no batch holds its rows "
                                  "locked for long."),
                        errhint("CALL it on its own, outside BEGIN ... COMMIT and not from a "
                                "function.")));
}

// Existence, kind and privileges, then the primary key. The caller needs
// UPDATE on the table or on every column the SET list assigns; PostgreSQL
// checks the rest (SELECT on the columns read) when the first query runs.
void resolve_relation(Backfill *b, List *targets) {
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(b->relid)))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", b->relid)));
    char kind = get_rel_relkind(b->relid);
    char *name = get_rel_name(b->relid);
    if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("guarded_ddl.backfill: \"%s\" is not a table", name)));
    Oid user = GetUserId();
    if (pg_class_aclcheck(b->relid, user, ACL_UPDATE) != ACLCHECK_OK) {
        ListCell *lc;
        foreach (lc, targets) {
            auto *target = lfirst_node(ResTarget, lc);
            AttrNumber attnum = get_attnum(b->relid, target->name);
            if (attnum == InvalidAttrNumber)
                continue; // PostgreSQL says it does not exist
            if (pg_attribute_aclcheck(b->relid, attnum, user, ACL_UPDATE) != ACLCHECK_OK)
                aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, name);
        }
    }
    b->relation = quote_qualified_identifier(get_namespace_name(get_rel_namespace(b->relid)), name);

    // ROW EXCLUSIVE: what every batch's UPDATE takes anyway.
    Relation rel = table_open(b->relid, RowExclusiveLock);
    Oid pk = gd_primary_key_index(rel);
    table_close(rel, NoLock);
    if (!OidIsValid(pk))
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("guarded_ddl.backfill: table %s has no primary key", b->relation),
                 errdetail("The backfill walks the table in primary-key order and remembers "
                           "where it is by key."),
                 errhint("Add a primary key first (CREATE UNIQUE INDEX CONCURRENTLY, then ALTER "
                         "TABLE ... ADD PRIMARY KEY USING INDEX).")));
    HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "cache lookup failed for index %u", pk);
    auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
    b->n_keys = index->indnkeyatts;
    for (int i = 0; i < b->n_keys; i++) {
        AttrNumber attnum = index->indkey.values[i];
        char *attname = get_attname(b->relid, attnum, false);
        b->key_names[i] = pstrdup(quote_identifier(attname));
        b->key_types[i] = get_atttype(b->relid, attnum);
        get_typlenbyval(b->key_types[i], &b->key_len[i], &b->key_byval[i]);
        ListCell *lc;
        foreach (lc, targets) {
            auto *target = lfirst_node(ResTarget, lc);
            if (strcmp(target->name, attname) == 0)
                ereport(ERROR,
                        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                         errmsg("guarded_ddl.backfill: set_clause assigns primary key column "
                                "\"%s\"",
                                attname),
                         errdetail("The backfill walks the table by primary key; a key that "
                                   "changes under the walk loses or repeats rows.")));
        }
    }
    ReleaseSysCache(tuple);
}

[[noreturn]] void not_installed(void) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("guarded_ddl.backfill: guarded_ddl is not installed in this database"),
                    errhint("CREATE EXTENSION guarded_ddl;")));
}

// The progress table, found as the audit writer finds its tables: by OID,
// a member of the installed extension, owned by a superuser.
void resolve_run_table(Backfill *b) {
    const GdExtensionObjects *installed = gd_extension_objects();
    if (!OidIsValid(installed->backfill_run))
        not_installed();
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(installed->backfill_run));
    if (!HeapTupleIsValid(tuple))
        not_installed(); // dropped since the look-up
    b->run_owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    b->run_table =
        quote_qualified_identifier(get_namespace_name(installed->schema), "backfill_run");
}

// ---- Statements ----

void append_keys(StringInfo sql, const Backfill *b, const char *prefix) {
    for (int i = 0; i < b->n_keys; i++)
        appendStringInfo(sql, "%s%s%s", i ? ", " : "", prefix, b->key_names[i]);
}

// A statement of guarded_ddl's own (no fragment in its text), parsed at its
// place in the source text, with that source text.
struct Statement {
    RawStmt *raw;
    char *source;
};

Statement parse_own(const Backfill *b, const char *sql) {
    List *parsed = raw_parser(padding(b->prefix_len, sql), RAW_PARSE_DEFAULT);
    if (list_length(parsed) != 1)
        elog(ERROR, "guarded_ddl.backfill: its own statement parsed as %d", list_length(parsed));
    return Statement{linitial_node(RawStmt, parsed), psprintf("%s%s", b->prefix, sql)};
}

[[noreturn]] void unexpected_shape(void) {
    elog(ERROR, "guarded_ddl.backfill: its own statement has an unexpected parse tree");
}

// A copy of the condition for one place in the tree: analysis must not see
// one node twice.
Node *where_copy(const Backfill *b) {
    return static_cast<Node *>(copyObjectImpl(b->where));
}

// select's WHERE becomes "<its condition> AND <where_clause>".
void add_condition(const Backfill *b, Node *select) {
    if (select == nullptr || !IsA(select, SelectStmt))
        unexpected_shape();
    auto *s = castNode(SelectStmt, select);
    s->whereClause = s->whereClause == nullptr
                         ? where_copy(b)
                         : reinterpret_cast<Node *>(makeBoolExpr(
                               AND_EXPR, list_make2(s->whereClause, where_copy(b)), -1));
}

// One batch: lock the next rows, update them, and return the highest key
// updated, how many, and whether any still matches where_clause afterwards
// (a SET list that leaves rows matching would never finish). Parsed from
//   WITH gd_backfill_batch (<keys>) AS MATERIALIZED (
//    SELECT <keys> FROM <table> [WHERE ROW(<keys>) > ROW($1, ...)]
//    ORDER BY <keys> LIMIT <batch_size> FOR UPDATE SKIP LOCKED
//   ), gd_backfill_updated AS (
//    UPDATE <table> SET gd_backfill_set = NULL FROM gd_backfill_batch
//    WHERE <table>.<key> = gd_backfill_batch.<key> ...
//    RETURNING <keys>, NULL AS gd_still_matches)
//   SELECT <keys>, count(*) OVER (), bool_or(gd_still_matches) OVER ()
//    FROM gd_backfill_updated ORDER BY <keys> DESC LIMIT 1
// then, in the parse tree: the batch's WHERE gets "AND <where_clause>", the
// UPDATE's SET list becomes set_clause's, and gd_still_matches becomes
// "(<where_clause>) IS TRUE".
Statement batch_statement(const Backfill *b) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfoString(&sql, "WITH gd_backfill_batch (");
    for (int i = 0; i < b->n_keys; i++)
        appendStringInfo(&sql, "%sgd_key_%d", i ? ", " : "", i + 1);
    appendStringInfoString(&sql, ") AS MATERIALIZED (\n SELECT ");
    append_keys(&sql, b, "");
    appendStringInfo(&sql, " FROM %s\n", b->relation);
    if (b->have_key) {
        appendStringInfoString(&sql, " WHERE ROW(");
        append_keys(&sql, b, "");
        appendStringInfoString(&sql, ") OPERATOR(pg_catalog.>) ROW(");
        for (int i = 0; i < b->n_keys; i++)
            appendStringInfo(&sql, "%s$%d", i ? ", " : "", i + 1);
        appendStringInfoString(&sql, ")\n");
    }
    appendStringInfoString(&sql, " ORDER BY ");
    append_keys(&sql, b, "");
    appendStringInfo(&sql, "\n LIMIT %d FOR UPDATE SKIP LOCKED\n), gd_backfill_updated AS (\n",
                     b->batch_size);
    appendStringInfo(&sql,
                     " UPDATE %s SET gd_backfill_set = NULL\n FROM gd_backfill_batch\n WHERE ",
                     b->relation);
    for (int i = 0; i < b->n_keys; i++)
        appendStringInfo(&sql, "%s%s.%s OPERATOR(pg_catalog.=) gd_backfill_batch.gd_key_%d",
                         i ? " AND " : "", b->relation, b->key_names[i], i + 1);
    appendStringInfoString(&sql, "\n RETURNING ");
    for (int i = 0; i < b->n_keys; i++)
        appendStringInfo(&sql, "%s.%s AS gd_key_%d, ", b->relation, b->key_names[i], i + 1);
    appendStringInfoString(&sql, "NULL AS gd_still_matches\n)\nSELECT ");
    for (int i = 0; i < b->n_keys; i++)
        appendStringInfo(&sql, "gd_key_%d, ", i + 1);
    appendStringInfoString(&sql,
                           "pg_catalog.count(*) OVER (), pg_catalog.bool_or(gd_still_matches) "
                           "OVER ()\n FROM gd_backfill_updated ORDER BY ");
    for (int i = 0; i < b->n_keys; i++)
        appendStringInfo(&sql, "%sgd_key_%d DESC", i ? ", " : "", i + 1);
    appendStringInfoString(&sql, " LIMIT 1");

    Statement st = parse_own(b, sql.data);
    auto *top = castNode(SelectStmt, st.raw->stmt);
    if (top->withClause == nullptr || list_length(top->withClause->ctes) != 2)
        unexpected_shape();
    add_condition(b, linitial_node(CommonTableExpr, top->withClause->ctes)->ctequery);
    Node *update = lsecond_node(CommonTableExpr, top->withClause->ctes)->ctequery;
    if (!IsA(update, UpdateStmt))
        unexpected_shape();
    auto *u = castNode(UpdateStmt, update);
    u->targetList = static_cast<List *>(copyObjectImpl(b->set_targets));
    auto *still = llast_node(ResTarget, gd_update_returning(u));
    BooleanTest *test = makeNode(BooleanTest);
    test->arg = reinterpret_cast<Expr *>(where_copy(b));
    test->booltesttype = IS_TRUE;
    test->location = -1;
    still->val = reinterpret_cast<Node *>(test);
    return st;
}

// "SELECT count(*) FROM (SELECT FROM <table> WHERE <where_clause> LIMIT
// <limit>) gd_backfill_matching": how many rows match, counted up to limit.
Statement count_statement(const Backfill *b, int64 limit) {
    Statement st = parse_own(
        b,
        psprintf("SELECT pg_catalog.count(*) FROM (SELECT FROM %s LIMIT %lld) gd_backfill_matching",
                 b->relation, static_cast<long long>(limit)));
    auto *top = castNode(SelectStmt, st.raw->stmt);
    if (list_length(top->fromClause) != 1 || !IsA(linitial(top->fromClause), RangeSubselect))
        unexpected_shape();
    add_condition(b, linitial_node(RangeSubselect, top->fromClause)->subquery);
    return st;
}

// "SELECT FROM <table> WHERE <where_clause>": planned only, for the
// planner's estimate of the matching rows.
Statement estimate_statement(const Backfill *b) {
    Statement st = parse_own(b, psprintf("SELECT FROM %s", b->relation));
    add_condition(b, st.raw->stmt);
    return st;
}

// An error whose position is in the source text: shown in the fragment (or
// the statement) it points into, as an internal query, with a CONTEXT line
// saying which.
struct PositionMap {
    const Backfill *b;
    const Statement *st;
};

void position_callback(void *arg) {
    auto *map = static_cast<const PositionMap *>(arg);
    const Backfill *b = map->b;
    int position = geterrposition();
    if (position <= 0)
        return;
    int at = position - 1;
    int set_end = b->set_start + static_cast<int>(strlen(b->set_clause));
    int where_end = b->where_start + static_cast<int>(strlen(b->where_clause));
    errposition(0);
    if (at >= b->set_start && at <= set_end) {
        internalerrposition(at - b->set_start + 1);
        internalerrquery(b->set_clause);
        errcontext("set_clause of guarded_ddl.backfill");
    } else if (at >= b->where_start && at <= where_end) {
        internalerrposition(at - b->where_start + 1);
        internalerrquery(b->where_clause);
        errcontext("where_clause of guarded_ddl.backfill");
    } else if (at >= b->prefix_len) {
        internalerrposition(at - b->prefix_len + 1);
        internalerrquery(map->st->source + b->prefix_len);
        errcontext("statement of guarded_ddl.backfill");
    }
}

// Receives the first row of a statement's result into values / nulls,
// copied into keep; counts the rows.
struct FirstRow {
    DestReceiver pub;
    MemoryContext keep;
    int natts;
    Datum values[kMaxKeyColumns + 2];
    bool nulls[kMaxKeyColumns + 2];
    int64 rows;
};

bool first_row_receive(TupleTableSlot *slot, DestReceiver *self) {
    auto *r = reinterpret_cast<FirstRow *>(self);
    if (r->rows++ > 0)
        return true;
    slot_getallattrs(slot);
    TupleDesc desc = slot->tts_tupleDescriptor;
    MemoryContext old = MemoryContextSwitchTo(r->keep);
    for (int i = 0; i < r->natts && i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        r->nulls[i] = slot->tts_isnull[i];
        r->values[i] =
            r->nulls[i] ? Datum{0} : datumCopy(slot->tts_values[i], att->attbyval, att->attlen);
    }
    MemoryContextSwitchTo(old);
    return true;
}

void first_row_startup(DestReceiver *, int, TupleDesc) {}
void first_row_nothing(DestReceiver *) {}

// Parse analysis, rewriting and planning of the statement, as the caller,
// under the active snapshot: one plan, or an error.
PlannedStmt *plan_statement(const Backfill *b, const Statement *st, int nparams, int options) {
    PositionMap map{b, st};
    ErrorContextCallback callback{error_context_stack, position_callback, &map};
    error_context_stack = &callback;
    List *queries = pg_analyze_and_rewrite_fixedparams(
        st->raw, st->source, nparams > 0 ? const_cast<Oid *>(b->key_types) : nullptr, nparams,
        nullptr);
    List *plans = pg_plan_queries(queries, st->source, options, nullptr);
    error_context_stack = callback.previous;
    if (list_length(plans) != 1 || linitial_node(PlannedStmt, plans)->commandType != CMD_SELECT)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("guarded_ddl.backfill: a rule on %s makes the batch more than one "
                               "statement",
                               b->relation)));
    return linitial_node(PlannedStmt, plans);
}

// Plans and runs the statement as SPI would for a procedure's statement (a
// new command id and snapshot, the executor run to completion, the
// statement's effects visible afterwards), with $1... bound to params;
// returns the first row of its result in *row.
void run_statement(const Backfill *b, const Statement *st, int nparams, const Datum *params,
                   FirstRow *row, MemoryContext keep, bool read_only) {
    memset(row, 0, sizeof *row);
    row->pub.receiveSlot = first_row_receive;
    row->pub.rStartup = first_row_startup;
    row->pub.rShutdown = first_row_nothing;
    row->pub.rDestroy = first_row_nothing;
    row->pub.mydest = DestNone;
    row->keep = keep;
    row->natts = kMaxKeyColumns + 2;

    if (!read_only)
        CommandCounterIncrement();
    PushActiveSnapshot(GetTransactionSnapshot());
    PlannedStmt *plan = plan_statement(b, st, nparams, read_only ? CURSOR_OPT_PARALLEL_OK : 0);
    ParamListInfo list = nullptr;
    if (nparams > 0) {
        list = makeParamList(nparams);
        for (int i = 0; i < nparams; i++) {
            list->params[i].value = params[i];
            list->params[i].isnull = false;
            list->params[i].pflags = PARAM_FLAG_CONST;
            list->params[i].ptype = b->key_types[i];
        }
    }
    UpdateActiveSnapshotCommandId();
    PositionMap map{b, st};
    ErrorContextCallback callback{error_context_stack, position_callback, &map};
    error_context_stack = &callback;
    QueryDesc *query = CreateQueryDesc(plan, st->source, GetActiveSnapshot(), InvalidSnapshot,
                                       &row->pub, list, nullptr, 0);
    ExecutorStart(query, 0);
    gd_executor_run(query);
    ExecutorFinish(query);
    ExecutorEnd(query);
    FreeQueryDesc(query);
    error_context_stack = callback.previous;
    PopActiveSnapshot();
    if (!read_only)
        CommandCounterIncrement();
}

// The rows matching where_clause, counted up to a bound: ten batches' worth
// (at least 10,000): above it, the planner's estimate (no scan of a large
// table just for a progress figure). Counting also finds that nothing
// matches any more, which ends the backfill.
void measure_left(Backfill *b) {
    int64 bound = Max(INT64CONST(10000), static_cast<int64>(b->batch_size) * 10);
    Statement st = count_statement(b, bound);
    FirstRow row;
    run_statement(b, &st, 0, nullptr, &row, CurrentMemoryContext, true);
    if (row.rows != 1 || row.nulls[0])
        elog(ERROR, "guarded_ddl.backfill: counting the matching rows failed");
    int64 counted = DatumGetInt64(row.values[0]);
    b->left_exact = counted < bound;
    b->left_base = counted;
    if (!b->left_exact) {
        Statement est = estimate_statement(b);
        PushActiveSnapshot(GetTransactionSnapshot());
        PlannedStmt *plan = plan_statement(b, &est, 0, 0);
        PopActiveSnapshot();
        b->left_base = Max(counted, static_cast<int64>(plan->planTree->plan_rows));
    }
}

// Runs one batch; sets batch_rows and the last key.
void run_batch(Backfill *b, MemoryContext keep) {
    Statement st = batch_statement(b);
    FirstRow row;
    run_statement(b, &st, b->have_key ? b->n_keys : 0, b->last_key, &row, CurrentMemoryContext,
                  false);
    b->batch_rows = 0;
    if (row.rows == 1) {
        b->batch_rows = DatumGetInt64(row.values[b->n_keys]);
        bool still = !row.nulls[b->n_keys + 1] && DatumGetBool(row.values[b->n_keys + 1]);
        if (still)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("guarded_ddl.backfill: rows still match where_clause after set_clause "
                            "updated them"),
                     errdetail("A backfill whose SET list leaves rows matching its condition "
                               "would never end; this batch was rolled back."),
                     errhint("Make where_clause select only rows the SET list changes, for "
                             "instance \"full_name IS NULL AND name IS NOT NULL\".")));
        MemoryContext old = MemoryContextSwitchTo(keep);
        for (int i = 0; i < b->n_keys; i++) {
            if (b->have_key && !b->key_byval[i])
                pfree(DatumGetPointer(b->last_key[i]));
            b->last_key[i] = datumCopy(row.values[i], b->key_byval[i], b->key_len[i]);
        }
        MemoryContextSwitchTo(old);
        b->have_key = true;
    }
}

// ---- Progress ----

// Runs sql as the progress table's owner (a superuser), in a restricted
// operation with search_path pinned, so that nothing the caller or a
// database owner defined runs with those rights. Values are parameters.
void write_progress(const Backfill *b, const char *sql, int nargs, Oid *types, Datum *values,
                    const char *nulls, int expected) {
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(b->run_owner, saved_context | SECURITY_LOCAL_USERID_CHANGE |
                                             SECURITY_RESTRICTED_OPERATION);
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
    if (rc != expected)
        elog(ERROR, "guarded_ddl.backfill: recording progress failed: %s",
             SPI_result_code_string(rc));
    AtEOXact_GUC(true, nest);
    SetUserIdAndSecContext(saved_user, saved_context);
}

int64 insert_run(Backfill *b) {
    char *sql =
        psprintf("INSERT INTO %s (relid, relation, set_clause, where_clause, batch_size, role, "
                 "backend_pid, backend_start, rows_left_estimate, started_at, state) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'running') RETURNING id",
                 b->run_table);
    Oid types[10] = {OIDOID,  TEXTOID, TEXTOID,        TEXTOID, INT4OID,
                     NAMEOID, INT4OID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID};
    Datum values[10] = {
        ObjectIdGetDatum(b->relid),
        CStringGetTextDatum(b->relation),
        CStringGetTextDatum(b->set_clause),
        CStringGetTextDatum(b->where_clause),
        Int32GetDatum(b->batch_size),
        DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false))),
        Int32GetDatum(MyProcPid),
        TimestampTzGetDatum(MyStartTimestamp),
        Int64GetDatum(b->left_base),
        TimestampTzGetDatum(b->started)};
    write_progress(b, sql, 10, types, values, nullptr, SPI_OK_INSERT_RETURNING);
    bool isnull;
    int64 id =
        DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_freetuptable(SPI_tuptable);
    return id;
}

void update_run(const Backfill *b, const char *state, const char *error) {
    char *sql =
        psprintf("UPDATE %s SET rows_done = $2, rows_left_estimate = $3, batches = $4, state = $5, "
                 "error = $6, last_batch_at = CASE WHEN $7 THEN pg_catalog.clock_timestamp() ELSE "
                 "last_batch_at END, finished_at = CASE WHEN $5 = 'running' THEN NULL ELSE "
                 "pg_catalog.clock_timestamp() END WHERE id = $1",
                 b->run_table);
    Oid types[7] = {INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID};
    Datum values[7] = {Int64GetDatum(b->run_id),       Int64GetDatum(b->rows_done),
                       Int64GetDatum(rows_left(b)),    Int64GetDatum(b->batches),
                       CStringGetTextDatum(state),     error ? CStringGetTextDatum(error) : 0,
                       BoolGetDatum(b->batch_rows > 0)};
    char nulls[8] = "       ";
    if (error == nullptr)
        nulls[5] = 'n';
    write_progress(b, sql, 7, types, values, nulls, SPI_OK_UPDATE);
}

// ---- The walk ----

// Sleeps up to us, or until the deadline, answering cancels meanwhile.
void pause_for(const Backfill *b, int64 us) {
    TimestampTz until = GetCurrentTimestamp() + us;
    if (b->max_duration_us > 0 && until > b->started + b->max_duration_us)
        until = b->started + b->max_duration_us;
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        long ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
        if (ms <= 0)
            break;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}

// One step, in its own subtransaction of the batch's transaction: the pause
// before it, then a batch, or a count of what still matches once a walk has
// reached the end of the table. Its progress row is written with it.
void step(void *arg) {
    auto *b = static_cast<Backfill *>(arg);
    MemoryContext keep = CurrentMemoryContext;
    b->batch_rows = 0;
    if (b->sleep_us > 0)
        pause_for(b, b->sleep_us);
    CHECK_FOR_INTERRUPTS();
    if (b->max_duration_us > 0 && GetCurrentTimestamp() >= b->started + b->max_duration_us) {
        b->stopped = true;
        update_run(b, "stopped", nullptr);
        return;
    }
    if (b->need_count) {
        measure_left(b);
        b->done_at_base = b->rows_done;
        b->need_count = false;
        b->finished = b->left_base == 0;
        update_run(b, b->finished ? "done" : "running", nullptr);
        return;
    }
    run_batch(b, keep);
    if (b->batch_rows > 0) {
        b->rows_done += b->batch_rows;
        b->pass_rows += b->batch_rows;
        b->batches++;
    }
    update_run(b, "running", nullptr);
}

void report_batch(const Backfill *b) {
    double seconds = static_cast<double>(GetCurrentTimestamp() - b->started) / USECS_PER_SEC;
    ereport(NOTICE,
            (errmsg("guarded_ddl.backfill: batch %lld: %lld rows, %lld done, about %lld "
                    "left, %.0f rows/s",
                    static_cast<long long>(b->batches), static_cast<long long>(b->batch_rows),
                    static_cast<long long>(b->rows_done), static_cast<long long>(rows_left(b)),
                    seconds > 0 ? b->rows_done / seconds : 0.0)));
}

void walk(Backfill *b) {
    MemoryContext keep = CurrentMemoryContext;
    for (;;) {
        bool counting = b->need_count;
        ErrorData *error = gd_try_in_subtransaction(step, b);
        if (error != nullptr) {
            // The step rolled back; the progress row says so (it survives
            // the error), then the error goes on to the caller.
            MemoryContextSwitchTo(keep);
            b->batch_rows = 0;
            update_run(b, "failed", error->message);
            SPI_commit();
            SPI_start_transaction();
            ReThrowError(error);
        }
        SPI_commit();
        SPI_start_transaction();
        if (b->stopped || b->finished)
            return;
        if (counting) {
            // Rows still match: busy when the walk passed them, or new.
            // Walk again from the lowest key; when the last walk found
            // every one of them busy, wait longer (up to a second).
            ereport(NOTICE, (errmsg("guarded_ddl.backfill: %lld rows still match (busy or new); "
                                    "walking the table again",
                                    static_cast<long long>(b->left_base))));
            int64 wait = 0;
            if (b->idle_walks > 0)
                wait = Min(INT64CONST(100000) << Min(b->idle_walks - 1, 4), USECS_PER_SEC);
            b->sleep_us = Max(b->pause_us, wait);
            continue;
        }
        if (b->batch_rows > 0) {
            report_batch(b);
            b->sleep_us = b->pause_us;
            continue;
        }
        // Nothing more after the last key: the walk is over. Count what
        // still matches.
        b->need_count = true;
        b->sleep_us = 0;
        b->have_key = false;
        b->passes++;
        b->idle_walks = b->pass_rows == 0 ? b->idle_walks + 1 : 0;
        b->pass_rows = 0;
    }
}

} // namespace

extern "C" Datum gd_backfill(PG_FUNCTION_ARGS) {
    Backfill *b = static_cast<Backfill *>(palloc0(sizeof(Backfill)));
    check_arguments(fcinfo, b);
    check_context(fcinfo, b->relid);
    b->started = GetCurrentTimestamp();

    if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect_ext failed");
    // From here on allocations are in SPI's procedure context, which lives
    // across the batches' commits.
    b = static_cast<Backfill *>(memcpy(palloc(sizeof(Backfill)), b, sizeof(Backfill)));
    b->set_clause = text_to_cstring(PG_GETARG_TEXT_PP(1));
    b->where_clause = text_to_cstring(PG_GETARG_TEXT_PP(2));
    lay_out_source(b);
    b->set_targets = parse_set_clause(b);
    b->where = parse_where_clause(b);
    resolve_relation(b, b->set_targets);
    resolve_run_table(b);

    // Planning the batch statement now reports errors in the fragments
    // (unknown columns, a set-returning function in the SET list, a
    // condition that is not boolean) before anything runs; counting the
    // matching rows checks the caller's SELECT privileges.
    PushActiveSnapshot(GetTransactionSnapshot());
    Statement first = batch_statement(b);
    (void)plan_statement(b, &first, 0, 0);
    PopActiveSnapshot();
    measure_left(b);
    b->done_at_base = 0;
    b->run_id = insert_run(b);
    SPI_commit();
    SPI_start_transaction();
    if (b->left_exact)
        ereport(NOTICE, (errmsg("guarded_ddl.backfill: %lld rows of %s match, batches of %d",
                                static_cast<long long>(b->left_base), b->relation, b->batch_size)));
    else
        ereport(NOTICE,
                (errmsg("guarded_ddl.backfill: about %lld rows of %s match, batches of %d",
                        static_cast<long long>(b->left_base), b->relation, b->batch_size),
                 errdetail("At least %lld rows match; the rest is the planner's estimate.",
                           static_cast<long long>(
                               Max(INT64CONST(10000), static_cast<int64>(b->batch_size) * 10)))));

    walk(b);

    double seconds = static_cast<double>(GetCurrentTimestamp() - b->started) / USECS_PER_SEC;
    if (b->stopped)
        ereport(NOTICE,
                (errmsg("guarded_ddl.backfill: stopped after max_duration, %lld rows done in %lld "
                        "batches, about %lld left",
                        static_cast<long long>(b->rows_done), static_cast<long long>(b->batches),
                        static_cast<long long>(rows_left(b))),
                 errhint("Run the same CALL again to go on: where_clause still selects the rows "
                         "left.")));
    else
        ereport(NOTICE, (errmsg("guarded_ddl.backfill: done, %lld rows in %lld batches, %.1f s",
                                static_cast<long long>(b->rows_done),
                                static_cast<long long>(b->batches), seconds)));
    SPI_finish();
    PG_RETURN_VOID();
}
