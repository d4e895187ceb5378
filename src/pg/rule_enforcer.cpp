#include "pg/rule_enforcer.hpp"

#include "core/block_message.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/gucs.hpp"
#include "pg/relation_preconditions.hpp"
#include "pg/policy_store.hpp"
#include "pg/size_profile.hpp"

#include <optional>

extern "C" {
#include "access/relation.h"
#include "access/xact.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/lock.h"
#include "utils/rel.h"
}

GdAllowedRewrites *gd_current_rewrites = nullptr;

namespace {

bool created_in_this_transaction(Oid relid) {
    // Only a relation this transaction holds ACCESS EXCLUSIVE on can be new
    // in it, and only then may it be opened without taking a lock.
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
    if (!gd_lock_held(&tag, AccessExclusiveLock))
        return false;
    Relation rel = relation_open(relid, NoLock);
    bool created = rel->rd_createSubid != InvalidSubTransactionId;
    relation_close(rel, NoLock);
    return created;
}

bool exceeds(double value, int threshold) {
    return threshold >= 0 && value >= threshold;
}

char *size_text(int64 bytes) {
    return text_to_cstring(
        DatumGetTextPP(DirectFunctionCall1(pg_size_pretty, Int64GetDatum(bytes))));
}

void record_rule(guarded_ddl::StatementRecord *record, std::string_view name) {
    if (record->n_rules < guarded_ddl::max_rules_per_statement)
        strlcpy(record->rules[record->n_rules++], name.data(),
                Min(name.size() + 1, sizeof record->rules[0]));
}

bool large_by(Oid relid, const GdRelationSize &size, std::optional<bool> policy_large) {
    bool big = policy_large
                   ? *policy_large
                   : exceeds(static_cast<double>(size.bytes) / 1024.0, gd_large_table_size_kb) ||
                         (size.rows >= 0 && exceeds(size.rows, gd_large_table_rows));
    return big && !gd_is_temp_relation(relid) && !created_in_this_transaction(relid);
}

// The last judgement, for the transaction guard's look at the same relation
// right after the rules' (sizing reads every fork's file).
struct LastJudged {
    LocalTransactionId lxid;
    CommandId command;
    Oid relid;
    bool large;
};
LastJudged last_judged{InvalidLocalTransactionId, InvalidCommandId, InvalidOid, false};

bool judged_in_this_command(Oid relid, bool *large) {
    if (last_judged.relid != relid || last_judged.lxid != gd_local_xid() ||
        last_judged.command != GetCurrentCommandId(false))
        return false;
    *large = last_judged.large;
    return true;
}

} // namespace

bool gd_relation_is_large(Oid relid, GdRelationSize *size, GdTablePolicy *policy) {
    // The larger of the live figures and an imported size profile's, so a
    // CI server with production's profile judges as production would.
    *size = gd_judged_relation_size(relid);
    *policy = gd_table_policy(relid);
    bool large = large_by(relid, *size, policy->large);
    last_judged = {gd_local_xid(), GetCurrentCommandId(false), relid, large};
    return large;
}

bool gd_relation_is_large_now(Oid relid) {
    bool large;
    if (judged_in_this_command(relid, &large))
        return large;
    if (gd_table_policy_at_hand(relid) && gd_profile_size_at_hand(relid)) {
        GdRelationSize size;
        GdTablePolicy policy;
        return gd_relation_is_large(relid, &size, &policy);
    }
    return large_by(relid, gd_relation_size(relid), std::nullopt);
}

GdDecision gd_decide(const GdAction *a, bool consume_approval) {
    GdDecision d{{0, -1, false, false}, false, guarded_ddl::Verdict::Allow, 0, false};
    if (!OidIsValid(a->relid))
        return d;
    GdTablePolicy policy;
    d.large = gd_relation_is_large(a->relid, &d.size, &policy);

    // With the guard off nothing is blocked, whatever the per-rule overrides.
    if (!a->rule || gd_mode == GD_MODE_OFF)
        return d;
    const auto rule = *a->rule;
    auto mode = guarded_ddl::effective_mode(static_cast<guarded_ddl::Mode>(gd_mode),
                                            gd_rule_overrides(), rule);
    if (policy.has_rules)
        mode = guarded_ddl::effective_mode(mode, policy.rules, rule);
    d.verdict = guarded_ddl::decide(mode, d.large);
    // A rule never fires for a statement PostgreSQL refuses anyway.
    if (d.verdict != guarded_ddl::Verdict::Allow && a->restrict_check &&
        gd_drop_is_restricted(a->relid, a->restrict_attnum)) {
        d.verdict = guarded_ddl::Verdict::Allow;
        d.refused = true;
        return d;
    }
    if (d.verdict == guarded_ddl::Verdict::Block) {
        d.approval_id = gd_take_approval(rule, a->relid, consume_approval);
        if (d.approval_id > 0)
            d.verdict = guarded_ddl::Verdict::Allow;
    }
    return d;
}

GdReport gd_rule_report(guarded_ddl::RuleId rule, const GdAction *a, const char *command_tag,
                        const GdDecision *d, const guarded_ddl::HeldLockContext *held) {
    char *size = size_text(d->size.bytes);
    return guarded_ddl::pg::invoke_cpp([&] {
        guarded_ddl::RuleHit hit{&guarded_ddl::rule(rule),
                                 command_tag,
                                 size,
                                 d->size.rows,
                                 {a->relation, a->column, a->constraint_name, a->index},
                                 d->size.bytes_from_profile,
                                 d->size.rows_from_profile,
                                 held};
        return gd_report_from(guarded_ddl::block_message(hit));
    });
}

void gd_enforce_rules(const GdAction *actions, int n, const char *command_tag,
                      guarded_ddl::StatementRecord *record, GdAllowedRewrites *allowed,
                      GdPendingApprovals *pending) {
    allowed->n = 0;
    pending->n = 0;

    for (int i = 0; i < n; i++) {
        const GdAction *a = &actions[i];
        if (!a->rule)
            continue;
        // Only a look at the approvals: the use is taken by
        // gd_use_approvals once the statement holds its locks.
        GdDecision d = gd_decide(a, false);
        std::string_view name = guarded_ddl::rule(*a->rule).name;
        if (d.verdict == guarded_ddl::Verdict::Allow) {
            if (a->effect == guarded_ddl::Effect::Rewrite)
                allowed->relids[allowed->n++] = a->relid;
            if (d.approval_id > 0) {
                pending->actions[pending->n] = i;
                pending->decisions[pending->n++] = d;
            }
            continue;
        }
        record_rule(record, name);
        GdReport report = gd_rule_report(*a->rule, a, command_tag, &d);
        if (d.verdict == guarded_ddl::Verdict::Block) {
            record->outcome = guarded_ddl::Outcome::Blocked;
            gd_ereport(ERROR, GD_ERRCODE_BLOCKED, report);
        }
        record->outcome = guarded_ddl::Outcome::Warned;
        gd_ereport(WARNING, GD_ERRCODE_BLOCKED, report);
        if (a->effect == guarded_ddl::Effect::Rewrite)
            allowed->relids[allowed->n++] = a->relid;
    }
}

void gd_use_approvals(const GdAction *actions, const char *command_tag,
                      guarded_ddl::StatementRecord *record, GdPendingApprovals *pending) {
    for (int p = 0; p < pending->n; p++) {
        const GdAction *a = &actions[pending->actions[p]];
        const auto rule = *a->rule;
        std::string_view name = guarded_ddl::rule(rule).name;

        // One statement uses one approval of a rule on a table, however
        // many of its subcommands the rule covers.
        int64 approval_id = 0;
        for (int q = 0; q < p && approval_id == 0; q++) {
            const GdAction *earlier = &actions[pending->actions[q]];
            if (*earlier->rule == rule && earlier->relid == a->relid)
                approval_id = pending->decisions[q].approval_id;
        }
        if (approval_id > 0)
            continue;

        // An approval never grants a privilege: a statement the role may not
        // run on the table has no actions (gd_statement_actions), so it
        // never gets here to take a use.
        approval_id = gd_take_approval(rule, a->relid, true);
        if (approval_id == 0) {
            // Used up or revoked meanwhile.
            record_rule(record, name);
            record->outcome = guarded_ddl::Outcome::Blocked;
            GdDecision d = pending->decisions[p];
            d.approval_id = 0;
            d.verdict = guarded_ddl::Verdict::Block;
            gd_ereport(ERROR, GD_ERRCODE_BLOCKED, gd_rule_report(rule, a, command_tag, &d));
        }
        pending->decisions[p].approval_id = approval_id;
        record_rule(record, name);
        record->outcome = guarded_ddl::Outcome::Approved;
        record->approval_id = approval_id;
        ereport(NOTICE, (errmsg("guarded_ddl: rule %s on \"%s\" passes under approval %lld",
                                name.data(), a->relation, static_cast<long long>(approval_id))));
    }
}
