// Turns a statement's actions into verdicts under the session's policy and
// acts on them: ERROR (SQLSTATE GD001) for enforce, WARNING for warn.
#pragma once

#include "pg/prelude.hpp"

#include "core/ddl_record.hpp"
#include "core/rule_policy.hpp"
#include "pg/relation_size.hpp"
#include "pg/report.hpp"
#include "pg/statement_actions.hpp"

// SQLSTATE of a statement blocked by a rule: class "GD", guarded_ddl's own.
#define GD_ERRCODE_BLOCKED MAKE_SQLSTATE('G', 'D', '0', '0', '1')

struct GdDecision {
    GdRelationSize size;
    bool large;
    guarded_ddl::Verdict verdict;
    int64 approval_id; // > 0: a DBA's approval turned a block into allow
};

// Sizes the action's relation and decides under guarded_ddl.mode,
// guarded_ddl.rules, the table's own policy and the approvals. Relations
// created in this transaction and temporary tables are never large: nobody
// else can be waiting for them. consume_approval counts the approval's use
// (the hook does; explain() only looks).
GdDecision gd_decide(const GdAction *action, bool consume_approval);

// The relations whose rewrite the current statement was allowed, for the
// table_rewrite backstop.
struct GdAllowedRewrites {
    int n;
    Oid relids[gd_max_actions];
};

// For the hook: blocks (ERROR) or warns about the statement's actions;
// records the rule ids that fired and the outcome in record, and fills allowed.
void gd_enforce_rules(const GdAction *actions, int n, const char *command_tag,
                      guarded_ddl::StatementRecord *record, GdAllowedRewrites *allowed);

// The block/warn report for one action, as palloc'd text.
GdReport gd_rule_report(guarded_ddl::RuleId rule, const GdAction *action, const char *command_tag,
                        const GdDecision *decision);

// The rewrite allowance of the statement running now (NULL when the guard
// is not inspecting one); set and restored by the hook.
extern GdAllowedRewrites *gd_current_rewrites;
