// CALL guarded_ddl.apply(sql): runs a migration's statements one by one,
// each in its own transaction and through the hook, and a statement a rule
// blocks as the rule's mechanical recipe instead, step by step. What to do
// with a statement is decided by the hook's own analysis, so apply never
// runs a statement the hook would block, and never thinks one blocked that
// the hook would let through.
#include "pg/prelude.hpp"

#include "core/input_limits.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/recipe_context.hpp"
#include "pg/recipe_steps.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/sql_text.hpp"
#include "pg/statement_actions.hpp"
#include "pg/statement_filter.hpp"
#include "pg/toplevel_worker.hpp"

extern "C" {
#include "executor/spi.h"
#include "nodes/execnodes.h"
}

using guarded_ddl::RuleId;
using guarded_ddl::pg::invoke_cpp;
using guarded_ddl::pg::pg_call;

extern "C" {
PG_FUNCTION_INFO_V1(gd_apply);
}

namespace {

// apply commits between steps: refused where it cannot (an explicit
// transaction block, a function, a CALL in an atomic context).
void refuse_transaction_block(FunctionCallInfo fcinfo) {
    bool atomic = fcinfo->context == nullptr || !IsA(fcinfo->context, CallContext) ||
                  castNode(CallContext, fcinfo->context)->atomic;
    if (atomic || IsTransactionBlock())
        ereport(ERROR,
                (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                 errmsg("guarded_ddl.apply cannot run inside a transaction block"),
                 errdetail("apply commits after each statement and each step of a recipe."),
                 errhint("Run CALL guarded_ddl.apply(...) on its own, outside BEGIN ... COMMIT, "
                         "functions and procedures called in a transaction block.")));
}

// Statements apply cannot run for the author: transaction control (apply
// owns the transactions). Checked for the whole text before anything runs.
void refuse_unsupported(List *parsed) {
    int statement_no = 0;
    ListCell *lc;
    foreach (lc, parsed) {
        Node *stmt = lfirst_node(RawStmt, lc)->stmt;
        statement_no++;
        const char *command = GetCommandTagName(CreateCommandTag(stmt));
        if (IsA(stmt, TransactionStmt))
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("guarded_ddl.apply: statement %d is %s", statement_no, command),
                            errdetail("apply runs each statement in a transaction of its own."),
                            errhint("Remove the transaction control statements from the text.")));
    }
}

// What the guard would do with the statement: the rule that blocks it (with
// no approval), if any. *mixed: blocked by more than one rule.
std::optional<RuleId> blocking_rule(Node *stmt, bool *mixed) {
    *mixed = false;
    if (!gd_statement_is_guarded(stmt))
        return std::nullopt;
    auto *actions = static_cast<GdAction *>(palloc(sizeof(GdAction) * gd_max_actions));
    GdAnalysisOutcome outcome{nullptr, false};
    int n = gd_statement_actions(stmt, actions, gd_max_actions, &outcome);
    std::optional<RuleId> rule;
    for (int i = 0; i < n && !outcome.refused; i++) {
        if (!actions[i].rule)
            continue;
        GdDecision d = gd_decide(&actions[i], false);
        if (d.refused || d.verdict != guarded_ddl::Verdict::Block || d.approval_id > 0)
            continue;
        if (rule && *rule != *actions[i].rule)
            *mixed = true;
        rule = actions[i].rule;
    }
    pfree(actions);
    return rule;
}

const char *rule_name_of(RuleId rule) {
    std::string_view name = guarded_ddl::rule(rule).name;
    return pnstrdup(name.data(), name.size());
}

// Runs one statement of text through SPI: the hook sees it as any statement
// of a procedure. Then commits, so the next one starts afresh.
void run_and_commit(const char *sql) {
    int rc = SPI_execute(sql, false, 0);
    if (rc < 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("guarded_ddl.apply: running a statement failed: %s",
                               SPI_result_code_string(rc))));
    SPI_commit();
}

// Runs one statement at top level, outside any transaction block, in a
// background worker connected as the caller: first commits, so that the
// caller holds no snapshot or lock the statement would wait for.
void run_toplevel_and_commit(const char *sql, const char *failure_hint) {
    SPI_commit();
    gd_run_toplevel(sql, failure_hint);
    SPI_commit();
}

void run_recipe(int statement_no, const char *command, RuleId rule, const char *original,
                const GdRecipe *recipe) {
    const char *rule_name = rule_name_of(rule);
    ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d (%s) runs as the recipe of rule %s, "
                            "in %d steps",
                            statement_no, command, rule_name, recipe->n),
                     recipe->note != nullptr ? errdetail("%s", recipe->note) : 0));
    gd_current_recipe.id = gd_next_recipe_id();
    gd_current_recipe.statement = original;
    PG_TRY();
    {
        for (int i = 0; i < recipe->n; i++) {
            const GdRecipeStep &step = recipe->steps[i];
            if (step.done != nullptr) {
                ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d, step %d of %d: done "
                                        "already (%s): %s",
                                        statement_no, i + 1, recipe->n, step.done, step.sql)));
                continue;
            }
            ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d, step %d of %d: %s",
                                    statement_no, i + 1, recipe->n, step.sql)));
            if (step.toplevel)
                run_toplevel_and_commit(step.sql, step.failure_hint);
            else
                run_and_commit(step.sql);
        }
    }
    PG_FINALLY();
    { gd_current_recipe = {0, nullptr}; }
    PG_END_TRY();
}

void apply_statements(List *parsed, const char *query) {
    int statement_no = 0;
    ListCell *lc;
    foreach (lc, parsed) {
        auto *raw = lfirst_node(RawStmt, lc);
        const char *command = GetCommandTagName(CreateCommandTag(raw->stmt));
        statement_no++;
        int start, len;
        gd_statement_span(query, raw, &start, &len);
        char *original = pnstrdup(query + start, len);

        bool mixed;
        std::optional<RuleId> rule = blocking_rule(raw->stmt, &mixed);
        const char *why = nullptr;
        GdRecipe *recipe = static_cast<GdRecipe *>(palloc0(sizeof(GdRecipe)));
        if (rule && mixed)
            why = "More than one rule blocks it.";
        else if (rule && !gd_recipe_plan(*rule, raw, query, recipe, &why))
            Assert(why != nullptr);
        if (rule && why == nullptr) {
            run_recipe(statement_no, command, *rule, original, recipe);
            continue;
        }
        RuleId leftover_rule;
        if (!rule && gd_recipe_leftover(raw, query, recipe, &leftover_rule)) {
            run_recipe(statement_no, command, leftover_rule, original, recipe);
            continue;
        }
        // A rerun of a finished recipe, or a statement whose effect is in
        // place: PostgreSQL would refuse it (the index is gone, the table
        // is a partition already), and nothing is left to do.
        const char *done = rule ? nullptr : gd_recipe_done_already(raw, query, original);
        if (done != nullptr) {
            ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d (%s): done already (%s), "
                                    "skipped",
                                    statement_no, command, done)));
            continue;
        }
        // Allowed, or blocked with no recipe: it runs as it is, and the
        // hook blocks it (GD001) as it would anywhere else.
        if (rule)
            ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d (%s): no mechanical recipe "
                                    "for rule %s",
                                    statement_no, command, rule_name_of(*rule)),
                             errdetail("%s", why)));
        else if (gd_statement_is_nontransactional(raw->stmt))
            ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d (%s) runs as it is, at top "
                                    "level",
                                    statement_no, command)));
        else
            ereport(NOTICE, (errmsg("guarded_ddl.apply: statement %d (%s) runs as it is",
                                    statement_no, command)));
        if (gd_statement_is_nontransactional(raw->stmt))
            run_toplevel_and_commit(original, nullptr);
        else
            run_and_commit(original);
    }
}

} // namespace

extern "C" Datum gd_apply(PG_FUNCTION_ARGS) {
    refuse_transaction_block(fcinfo);
    if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect_ext failed");
    // In SPI's procedure context, which outlives the commits between steps.
    text *sql = PG_GETARG_TEXT_PP(0);
    size_t bytes = VARSIZE_ANY_EXHDR(sql);
    char *query = text_to_cstring(sql);
    List *parsed = invoke_cpp([&] {
        guarded_ddl::check_explain_input(bytes);
        return pg_call([&] { return gd_parse_sql_text(query); });
    });
    refuse_unsupported(parsed);
    apply_statements(parsed, query);
    SPI_finish();
    PG_RETURN_VOID();
}
