// guarded_ddl.explain(sql, single_transaction): what each statement of a
// migration would do after the ones before it, and what guarded_ddl would
// say, without executing anything or taking any lock
// that could wait, but for guarded_ddl's own tables and the ordinary locks
// of planning a DML statement (rule dml_under_strong_lock), waited for no
// longer than guarded_ddl.lock_timeout. It runs the very analysis the hook
// runs.
#include "pg/prelude.hpp"

#include "core/audit_entry.hpp"
#include "core/audit_text.hpp"
#include "core/input_limits.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/dml_guard.hpp"
#include "pg/lock_guard.hpp"
#include "pg/report.hpp"
#include "pg/gucs.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/sql_text.hpp"
#include "pg/statement_actions.hpp"
#include "pg/statement_filter.hpp"
#include "pg/statement_rollback.hpp"
#include "pg/subtransaction.hpp"
#include "pg/text_state.hpp"
#include "pg/transaction_locks.hpp"

#include <string>

extern "C" {
#include "catalog/pg_authid_d.h"
#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
}

using guarded_ddl::pg::invoke_cpp;
using guarded_ddl::pg::pg_call;

extern "C" {
PG_FUNCTION_INFO_V1(gd_explain);
}

namespace {

enum ExplainColumn {
    COL_STATEMENT_NO,
    COL_COMMAND,
    COL_RELATION,
    COL_LOCK_MODE,
    COL_EFFECT,
    COL_ROLLBACK,
    COL_RULE,
    COL_VERDICT,
    COL_RELATION_SIZE,
    COL_HINT,
    N_COLUMNS
};

bool is_plannable(Node *stmt) {
    return IsA(stmt, SelectStmt) || IsA(stmt, InsertStmt) || IsA(stmt, UpdateStmt) ||
           IsA(stmt, DeleteStmt) || IsA(stmt, MergeStmt);
}

// Whether the caller may learn the relation's size, policy and approvals:
// it owns the relation or holds any privilege on it (pg_read_all_data and
// the like included), as has_table_privilege would say. Names are in
// pg_class for everyone; what the guard knows about the data is not.
bool may_see_relation(Oid relid) {
    bool missing = false;
    AclMode any = ACL_ALL_RIGHTS_RELATION | ACL_USAGE;
    return pg_class_aclcheck_ext(relid, GetUserId(), any, &missing) == ACLCHECK_OK && !missing;
}

// floor: the statement's own rollback class; unknown: why the action's
// effect cannot be known without running the text's earlier statements, or
// null.
void emit_action(ReturnSetInfo *rsinfo, int statement_no, const char *command, const GdAction *a,
                 guarded_ddl::Rollback floor, const char *unknown) {
    Datum values[N_COLUMNS] = {};
    bool nulls[N_COLUMNS] = {};

    values[COL_STATEMENT_NO] = Int32GetDatum(statement_no);
    values[COL_COMMAND] = CStringGetTextDatum(command);
    values[COL_RELATION] = CStringGetTextDatum(a->relation);
    values[COL_LOCK_MODE] = CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, a->lock));
    values[COL_EFFECT] = gd_text_datum(guarded_ddl::effect_name(a->effect));
    // Follows from the form and the column's types alone, as the effect
    // does: shown whatever the caller may see of the relation.
    values[COL_ROLLBACK] =
        gd_text_datum(guarded_ddl::rollback_name(guarded_ddl::worst(a->rollback, floor)));
    if (a->rule)
        values[COL_RULE] = gd_text_datum(guarded_ddl::rule(*a->rule).name);
    else
        nulls[COL_RULE] = true;

    // A relation the caller may not see: what the statement would do (the
    // form alone says that), not the verdict, size or recipe, which follow
    // from its size, row count, policy and approvals. Nothing about them is
    // even read.
    if (OidIsValid(a->relid) && !may_see_relation(a->relid)) {
        nulls[COL_VERDICT] = nulls[COL_RELATION_SIZE] = nulls[COL_HINT] = true;
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        return;
    }

    GdDecision d = gd_decide(a, false);
    if (d.refused) // PostgreSQL refuses the statement: no rule says anything
        nulls[COL_RULE] = true;
    values[COL_VERDICT] = unknown != nullptr ? gd_text_datum("unknown")
                                             : gd_text_datum(guarded_ddl::verdict_name(d.verdict));
    values[COL_RELATION_SIZE] = Int64GetDatum(d.size.bytes);
    if (unknown != nullptr)
        values[COL_HINT] = CStringGetTextDatum(unknown);
    else if (a->rule && !d.refused)
        values[COL_HINT] = CStringGetTextDatum(gd_rule_report(*a->rule, a, command, &d).hint);
    else
        nulls[COL_HINT] = true;
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

// A statement that touches no existing relation: one row saying what kind
// of statement it is, with a note on what it does to the text's state, or
// why its effect is unknown.
void emit_statement(ReturnSetInfo *rsinfo, int statement_no, const char *command, Node *stmt,
                    const char *note, const char *unknown) {
    Datum values[N_COLUMNS] = {};
    bool nulls[N_COLUMNS] = {};
    for (bool &n : nulls)
        n = true;
    values[COL_STATEMENT_NO] = Int32GetDatum(statement_no);
    values[COL_COMMAND] = CStringGetTextDatum(command);
    bool ddl = !is_plannable(stmt) && gd_statement_is_guarded(stmt);
    values[COL_EFFECT] = gd_text_datum(ddl ? "metadata" : "none");
    values[COL_VERDICT] = gd_text_datum(unknown != nullptr ? "unknown" : "allow");
    nulls[COL_STATEMENT_NO] = nulls[COL_COMMAND] = nulls[COL_EFFECT] = nulls[COL_VERDICT] = false;
    if (const char *hint = unknown != nullptr ? unknown : note) {
        values[COL_HINT] = CStringGetTextDatum(hint);
        nulls[COL_HINT] = false;
    }
    // Statements other than DDL (SELECT, DML) are not the guard's: no class.
    if (ddl) {
        values[COL_ROLLBACK] =
            gd_text_datum(guarded_ddl::rollback_name(gd_statement_rollback_floor(stmt)));
        nulls[COL_ROLLBACK] = false;
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

// ---- Rule dml_under_strong_lock: DML under a lock the text took ----

// A statement's part of the explained text as the hook's list of strong
// locks names the one that took a lock: redacted as the audit log keeps it,
// cut as the list keeps it. (The parser counts the whitespace after the
// previous semicolon, and the last statement's trailing part, as the
// statement's.)
char *statement_text(const char *query, const RawStmt *raw) {
    int start, len;
    gd_statement_span(query, raw, &start, &len);
    char *text = invoke_cpp([&] {
        std::string redacted = guarded_ddl::audit_statement_text(
            std::string_view(query + start, len), guarded_ddl::max_audit_statement_bytes);
        return pg_call([&] { return pnstrdup(redacted.data(), redacted.size()); });
    });
    int keep = pg_mbcliplen(text, static_cast<int>(strlen(text)),
                            static_cast<int>(sizeof(GdHeldLock::taken_by)) - 1);
    text[keep] = '\0';
    return text;
}

// The lock the hook would name when the DML runs: the strongest of SHARE ROW
// EXCLUSIVE or stronger the text's transaction holds on a large relation,
// the first taken among equals. Relations the caller may not see are left
// out: whether the rule fires would tell their size (and PostgreSQL refuses
// the caller the statements that lock them anyway).
const GdTextLock *strong_lock_held(void) {
    const GdTextLock *strongest = nullptr;
    ListCell *lc;
    foreach (lc, gd_text_locks()) {
        const auto *l = static_cast<const GdTextLock *>(lfirst(lc));
        if (l->mode < ShareRowExclusiveLock || (strongest != nullptr && strongest->mode >= l->mode))
            continue;
        GdRelationSize size;
        GdTablePolicy policy;
        if (may_see_relation(l->relid) && gd_relation_is_large(l->relid, &size, &policy))
            strongest = l;
    }
    return strongest;
}

bool modifying_with(const WithClause *with) {
    if (with == nullptr)
        return false;
    ListCell *lc;
    foreach (lc, with->ctes)
        if (!IsA(lfirst_node(CommonTableExpr, lc)->ctequery, SelectStmt))
            return true;
    return false;
}

// What the executor hook judges: INSERT, UPDATE, DELETE, MERGE, a SELECT
// with a data-modifying WITH; and COPY FROM, judged by the utility hook.
bool is_judged_dml(Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_InsertStmt:
    case T_UpdateStmt:
    case T_DeleteStmt:
    case T_MergeStmt:
        return true;
    case T_SelectStmt:
        return modifying_with(castNode(SelectStmt, stmt)->withClause);
    case T_CopyStmt:
        return castNode(CopyStmt, stmt)->is_from;
    default:
        return false;
    }
}

const RangeVar *dml_target(Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_InsertStmt:
        return castNode(InsertStmt, stmt)->relation;
    case T_UpdateStmt:
        return castNode(UpdateStmt, stmt)->relation;
    case T_DeleteStmt:
        return castNode(DeleteStmt, stmt)->relation;
    case T_MergeStmt:
        return castNode(MergeStmt, stmt)->relation;
    default:
        return nullptr;
    }
}

struct Planning {
    RawStmt *raw;      // a copy: parse analysis may scribble on it
    const char *query; // the explained text, which raw's location points into
    bool top_rows;     // the plan's own rows (a stand-in SELECT), not ModifyTable's input's
    double rows;       // -1: nothing is modified
};

void plan_statement(void *arg) {
    auto *p = static_cast<Planning *>(arg);
    List *queries = pg_analyze_and_rewrite_fixedparams(p->raw, p->query, nullptr, 0, nullptr);
    List *plans = pg_plan_queries(queries, p->query, CURSOR_OPT_PARALLEL_OK, nullptr);
    p->rows = -1;
    ListCell *lc;
    foreach (lc, plans) {
        auto *planned = lfirst_node(PlannedStmt, lc);
        if (planned->commandType == CMD_UTILITY)
            continue;
        double rows = p->top_rows ? planned->planTree->plan_rows : gd_planned_dml_rows(planned);
        p->rows = Max(p->rows, rows);
    }
}

// Plans the statement as PostgreSQL's own EXPLAIN (without ANALYZE) does:
// parse analysis, the rewriter and the planner, whose constant folding runs
// immutable functions as the caller; nothing is executed. In a subtransaction
// rolled back afterwards, so an error (a column the text adds earlier, which
// does not exist yet) is survived and the ordinary locks planning takes
// (ROW EXCLUSIVE on the target, ACCESS SHARE on the rest) are released
// again; they are waited for no longer than guarded_ddl.lock_timeout.
// Returns the error, or null.
ErrorData *plan_in_subtransaction(Planning *p) {
    int saved = LockTimeout;
    if (int timeout_ms = gd_effective_lock_timeout_ms(); timeout_ms > 0)
        LockTimeout = timeout_ms;
    ErrorData *error = gd_try_in_subtransaction(plan_statement, p, true);
    LockTimeout = saved;
    if (error != nullptr && gd_error_must_propagate(error->sqlerrcode))
        ReThrowError(error);
    return error;
}

// SELECT 1 FROM <target> [, FROM / USING items] WHERE <condition>, from an
// UPDATE's or DELETE's parse tree: the rows it would touch, when the
// statement itself cannot be planned yet (typically, it sets a column an
// earlier statement of the text adds).
RawStmt *stand_in_select(Node *stmt) {
    RangeVar *target;
    List *from;
    Node *where;
    WithClause *with;
    if (IsA(stmt, UpdateStmt)) {
        auto *u = castNode(UpdateStmt, stmt);
        target = u->relation;
        from = u->fromClause;
        where = u->whereClause;
        with = u->withClause;
    } else {
        auto *d = castNode(DeleteStmt, stmt);
        target = d->relation;
        from = d->usingClause;
        where = d->whereClause;
        with = d->withClause;
    }
    auto *one = makeNode(A_Const);
    one->val.ival.type = T_Integer;
    one->val.ival.ival = 1;
    one->location = -1;
    auto *column = makeNode(ResTarget);
    column->val = reinterpret_cast<Node *>(one);
    column->location = -1;
    auto *select = makeNode(SelectStmt);
    select->targetList = list_make1(column);
    select->fromClause = lcons(copyObjectImpl(target), static_cast<List *>(copyObjectImpl(from)));
    select->whereClause = static_cast<Node *>(copyObjectImpl(where));
    select->withClause = static_cast<WithClause *>(copyObjectImpl(with));
    auto *raw = makeNode(RawStmt);
    raw->stmt = reinterpret_cast<Node *>(select);
    raw->stmt_location = -1;
    return raw;
}

// The rows the statement would touch, as the planner estimates them: true
// with *rows (-1: it modifies nothing), or false with *why.
bool estimate_rows(const RawStmt *raw, const char *query, double *rows, const char **why) {
    Node *stmt = raw->stmt;
    if (const RangeVar *target = dml_target(stmt);
        target != nullptr && gd_text_touches_relation(target)) {
        *why = psprintf("An earlier statement of the text creates, drops or renames \"%s\": how "
                        "many rows this statement touches is not known before it runs.",
                        target->relname);
        return false;
    }
    Planning p{static_cast<RawStmt *>(copyObjectImpl(raw)), query, false, -1};
    ErrorData *error = plan_in_subtransaction(&p);
    if (error == nullptr) {
        *rows = p.rows;
        return true;
    }
    const char *failure = pstrdup(error->message);
    FreeErrorData(error);
    if (IsA(stmt, UpdateStmt) || IsA(stmt, DeleteStmt)) {
        Planning stand_in{stand_in_select(stmt), query, true, -1};
        error = plan_in_subtransaction(&stand_in);
        if (error == nullptr) {
            *rows = stand_in.rows;
            return true;
        }
        FreeErrorData(error);
    }
    *why = psprintf("How many rows this statement touches cannot be estimated before the text's "
                    "earlier statements run: planning it now fails (%s).",
                    failure);
    return false;
}

// The DML statement's row for rule dml_under_strong_lock on the relation the
// text's transaction holds strongly, when the hook would judge it: on top
// of the usual columns, the lock_mode is the one held, and the hint the
// hook's message (DETAIL: which statement took the lock) with the recipe.
// Returns false when the hook would let the statement pass silently: then
// it is reported as any statement that takes no strong lock.
bool explain_dml(ReturnSetInfo *rsinfo, int statement_no, const char *command, const RawStmt *raw,
                 const char *query) {
    Node *stmt = raw->stmt;
    if (!is_judged_dml(stmt) || gd_max_rows_under_lock < 0)
        return false;
    const GdTextLock *lock = strong_lock_held();
    if (lock == nullptr)
        return false;

    GdAction action{};
    action.relid = lock->relid;
    char *nsp = get_namespace_name(get_rel_namespace(lock->relid));
    char *rel = get_rel_name(lock->relid);
    if (nsp == nullptr || rel == nullptr) // dropped meanwhile
        return false;
    strlcpy(action.relation, quote_qualified_identifier(nsp, rel), sizeof action.relation);
    action.lock = lock->mode;
    action.effect = guarded_ddl::Effect::LockHold;
    action.rule = guarded_ddl::RuleId::DmlUnderStrongLock;
    GdDecision d = gd_decide(&action, false);
    // Off for the table, or the guard off: the hook never looks at the rows.
    if (d.verdict == guarded_ddl::Verdict::Allow && d.approval_id == 0)
        return false;

    const char *mode = GetLockmodeName(DEFAULT_LOCKMETHOD, lock->mode);
    double rows = -1; // COPY FROM STDIN or PROGRAM: judged as exceeding, as the hook does
    const char *unknown = nullptr;
    if (IsA(stmt, CopyStmt)) {
        auto *copy = castNode(CopyStmt, stmt);
        if (gd_copy_reads_text_file(copy)) {
            // The hook counts a server file's lines, for a role that may
            // read it (PostgreSQL refuses COPY to any other); explain()
            // reads no file.
            if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
                return false;
            unknown = psprintf("explain() does not read server files: when it runs, the file's "
                               "lines are counted against guarded_ddl.max_rows_under_lock (%d) "
                               "while this transaction holds %s on large table \"%s\".",
                               gd_max_rows_under_lock, mode, action.relation);
        }
    } else if (!estimate_rows(raw, query, &rows, &unknown)) {
        unknown = psprintf("%s It runs while this transaction holds %s on large table \"%s\", "
                           "under guarded_ddl.max_rows_under_lock (%d).",
                           unknown, mode, action.relation, gd_max_rows_under_lock);
    } else if (rows < 0 || rows <= gd_max_rows_under_lock) {
        return false; // modifies nothing, or few enough rows
    }

    Datum values[N_COLUMNS] = {};
    bool nulls[N_COLUMNS] = {};
    values[COL_STATEMENT_NO] = Int32GetDatum(statement_no);
    values[COL_COMMAND] = CStringGetTextDatum(command);
    values[COL_RELATION] = CStringGetTextDatum(action.relation);
    values[COL_LOCK_MODE] = CStringGetTextDatum(mode);
    values[COL_EFFECT] = gd_text_datum(guarded_ddl::effect_name(action.effect));
    nulls[COL_ROLLBACK] = true; // DML is not the guard's to class
    values[COL_RULE] = gd_text_datum(guarded_ddl::rule(*action.rule).name);
    values[COL_RELATION_SIZE] = Int64GetDatum(d.size.bytes);
    if (unknown != nullptr) {
        values[COL_VERDICT] = gd_text_datum("unknown");
        values[COL_HINT] = CStringGetTextDatum(unknown);
    } else {
        values[COL_VERDICT] = gd_text_datum(guarded_ddl::verdict_name(d.verdict));
        guarded_ddl::HeldLockContext held{mode, lock->taken_by, rows, gd_max_rows_under_lock};
        GdReport r = gd_rule_report(*action.rule, &action, command, &d, &held);
        values[COL_HINT] = CStringGetTextDatum(
            psprintf("%s\n%s\n%s", r.message, r.detail ? r.detail : "", r.hint ? r.hint : ""));
    }
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    return true;
}

// Explains each statement as it would run after the ones before it: the
// text's state (transaction, locks, settings, what it created) carries on.
void explain_statements(ReturnSetInfo *rsinfo, List *parsed, GdTextState *state,
                        const char *query) {
    GdAction *actions = static_cast<GdAction *>(palloc(sizeof(GdAction) * gd_max_actions));
    int statement_no = 0;
    ListCell *lc;
    foreach (lc, parsed) {
        auto *raw = castNode(RawStmt, lfirst(lc));
        Node *stmt = raw->stmt;
        const char *command = GetCommandTagName(CreateCommandTag(stmt));
        statement_no++;
        bool skipped;
        const char *note = gd_text_state_before(state, stmt, &skipped);
        GdAnalysisOutcome outcome{nullptr, false};
        int n = skipped || is_plannable(stmt)
                    ? 0
                    : gd_statement_actions(stmt, actions, gd_max_actions, &outcome);
        // DML after a strong lock the text took: rule dml_under_strong_lock.
        bool judged = !skipped && explain_dml(rsinfo, statement_no, command, raw, query);
        if (n == 0 && !judged)
            emit_statement(rsinfo, statement_no, command, stmt, note, outcome.unknown);
        guarded_ddl::Rollback floor = gd_statement_rollback_floor(stmt);
        for (int i = 0; i < n; i++)
            emit_action(rsinfo, statement_no, command, &actions[i], floor, outcome.unknown);
        if (outcome.refused)
            gd_text_state_fails(state);
        else if (!skipped)
            gd_text_state_after(state, stmt, actions, n,
                                n > 0 ? statement_text(query, raw) : nullptr);
    }
    if (const char *open_block = gd_text_state_end(state))
        ereport(NOTICE, (errmsg("guarded_ddl.explain: the text ends inside a transaction block"),
                         errdetail("%s", open_block)));
}

} // namespace

extern "C" Datum gd_explain(PG_FUNCTION_ARGS) {
    text *sql = PG_GETARG_TEXT_PP(0);
    bool single_transaction = PG_GETARG_BOOL(1);
    size_t bytes = VARSIZE_ANY_EXHDR(sql);
    char *query = text_to_cstring(sql);

    // Through the C++ boundary: the size limit lives in the logic zone, and a
    // syntax error keeps its SQLSTATE and position on the way back out.
    List *parsed = invoke_cpp([&] {
        guarded_ddl::check_explain_input(bytes);
        return pg_call([&] { return gd_parse_sql_text(query); });
    });

    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    GdTextState *state = gd_text_state_begin(single_transaction);
    gd_text_state = state;
    PG_TRY();
    { explain_statements(rsinfo, parsed, state, query); }
    PG_FINALLY();
    { gd_text_state = nullptr; }
    PG_END_TRY();
    return static_cast<Datum>(0);
}
