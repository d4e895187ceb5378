// Turns a statement's actions into verdicts under the session's policy and
// acts on them: ERROR (SQLSTATE GD001) for enforce, WARNING for warn.
#pragma once

#include "pg/prelude.hpp"

#include "core/block_message.hpp"
#include "core/ddl_record.hpp"
#include "core/rule_policy.hpp"
#include "pg/policy_store.hpp"
#include "pg/relation_size.hpp"
#include "pg/report.hpp"
#include "pg/statement_actions.hpp"

// SQLSTATE of a statement blocked by a rule: class "GD", guarded_ddl's own.
#define GD_ERRCODE_BLOCKED MAKE_SQLSTATE('G', 'D', '0', '0', '1')

struct GdDecision {
    GdRelationSize size; // what the relation was judged by (size_profile.hpp)
    bool large;
    guarded_ddl::Verdict verdict;
    int64 approval_id; // > 0: a DBA's approval turned a block into allow
    bool refused;      // PostgreSQL refuses the statement: no rule applies
};

// Whether the guard counts relid as large: its judged size (size_profile.hpp)
// against guarded_ddl.large_table_size and large_table_rows, unless the
// table's policy says otherwise. Temporary tables and relations created in
// this transaction never are: nobody else can be waiting for them.
bool gd_relation_is_large(Oid relid, GdRelationSize *size, GdTablePolicy *policy);

// The same judgement, never waiting: when guarded_ddl's policy or profile
// table is locked by someone else, from the live size alone. For the
// transaction guard's bookkeeping after a statement no rule judged.
bool gd_relation_is_large_now(Oid relid);

// Sizes the action's relation and decides under guarded_ddl.mode,
// guarded_ddl.rules, the table's own policy and the approvals. Relations
// created in this transaction and temporary tables are never large: nobody
// else can be waiting for them. consume_approval counts the approval's use
// (the hook does; explain() only looks).
GdDecision gd_decide(const GdAction *action, bool consume_approval);

// The relations whose rewrite the current statement was allowed, for the
// rewrite backstop (rewrite_backstop.cpp), and the statement.
struct GdAllowedRewrites {
    const Node *statement;
    int n;
    Oid relids[gd_max_actions];
};

// Installs the rewrite backstop (an object access hook).
void gd_install_rewrite_backstop(void);

// The actions a DBA's approval lets through, with their decisions, until
// gd_use_approvals takes the uses.
struct GdPendingApprovals {
    int n;
    int actions[gd_max_actions]; // indexes into the statement's actions
    GdDecision decisions[gd_max_actions];
};

// For the hook, before any lock is taken: blocks (ERROR) or warns about the
// statement's actions; records the rule ids that fired and the outcome in
// record, and fills allowed. Approvals are only looked at: the actions one
// would let through go to pending.
void gd_enforce_rules(const GdAction *actions, int n, const char *command_tag,
                      guarded_ddl::StatementRecord *record, GdAllowedRewrites *allowed,
                      GdPendingApprovals *pending);

// For the hook, once the statement holds its locks (so two statements on the
// table cannot race for one use): takes one use of an approval per rule and
// relation, with a NOTICE naming it, or blocks (ERROR GD001) when none is
// left, it was revoked meanwhile, or the session may not run the statement
// on the relation at all.
void gd_use_approvals(const GdAction *actions, const char *command_tag,
                      guarded_ddl::StatementRecord *record, GdPendingApprovals *pending);

// The block/warn report for one action, as palloc'd text; held is the
// context of a lock-hold rule.
GdReport gd_rule_report(guarded_ddl::RuleId rule, const GdAction *action, const char *command_tag,
                        const GdDecision *decision,
                        const guarded_ddl::HeldLockContext *held = nullptr);

// The rewrite allowance of the statement running now (NULL when the guard
// is not inspecting one); set and restored by the hook.
extern GdAllowedRewrites *gd_current_rewrites;
