// guarded_ddl.explain(sql, single_transaction): what each statement of a
// migration would do after the ones before it, and what guarded_ddl would
// say, without executing anything or taking any lock
// that could wait, but for guarded_ddl's own tables, waited for no longer
// than guarded_ddl.lock_timeout. It runs the very analysis the hook runs.
#include "pg/prelude.hpp"

#include "core/input_limits.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/report.hpp"
#include "pg/gucs.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/statement_actions.hpp"
#include "pg/statement_filter.hpp"
#include "pg/statement_rollback.hpp"
#include "pg/text_state.hpp"

extern "C" {
#include "parser/parser.h"
#include "storage/lock.h"
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
    return pg_class_aclmask_ext(relid, GetUserId(), any, ACLMASK_ANY, &missing) != 0 && !missing;
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

// A syntax error's position points into the explained text, not into the
// query that called explain(): report it as an internal query, as SPI does.
void explained_text_error_callback(void *arg) {
    int position = geterrposition();
    if (position > 0) {
        errposition(0);
        internalerrposition(position);
        internalerrquery(static_cast<const char *>(arg));
    }
}

List *parse_explained_text(char *query) {
    ErrorContextCallback callback{error_context_stack, explained_text_error_callback, query};
    error_context_stack = &callback;
    List *parsed = raw_parser(query, RAW_PARSE_DEFAULT);
    error_context_stack = callback.previous;
    return parsed;
}

// Explains each statement as it would run after the ones before it: the
// text's state (transaction, locks, settings, what it created) carries on.
void explain_statements(ReturnSetInfo *rsinfo, List *parsed, GdTextState *state) {
    GdAction *actions = static_cast<GdAction *>(palloc(sizeof(GdAction) * gd_max_actions));
    int statement_no = 0;
    ListCell *lc;
    foreach (lc, parsed) {
        Node *stmt = castNode(RawStmt, lfirst(lc))->stmt;
        const char *command = GetCommandTagName(CreateCommandTag(stmt));
        statement_no++;
        bool skipped;
        const char *note = gd_text_state_before(state, stmt, &skipped);
        GdAnalysisOutcome outcome{nullptr, false};
        int n = skipped || is_plannable(stmt)
                    ? 0
                    : gd_statement_actions(stmt, actions, gd_max_actions, &outcome);
        if (n == 0)
            emit_statement(rsinfo, statement_no, command, stmt, note, outcome.unknown);
        guarded_ddl::Rollback floor = gd_statement_rollback_floor(stmt);
        for (int i = 0; i < n; i++)
            emit_action(rsinfo, statement_no, command, &actions[i], floor, outcome.unknown);
        if (outcome.refused)
            gd_text_state_fails(state);
        else if (!skipped)
            gd_text_state_after(state, stmt, actions, n);
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
        return pg_call([&] { return parse_explained_text(query); });
    });

    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    GdTextState *state = gd_text_state_begin(single_transaction);
    gd_text_state = state;
    PG_TRY();
    { explain_statements(rsinfo, parsed, state); }
    PG_FINALLY();
    { gd_text_state = nullptr; }
    PG_END_TRY();
    return static_cast<Datum>(0);
}
