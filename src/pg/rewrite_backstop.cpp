// The table_rewrite event trigger: PostgreSQL's own word, just before it
// starts rewriting a table for ALTER TABLE or ALTER TYPE. If the rules did
// not already allow this rewrite (classification missed it, or it comes
// from a form the rules do not model), a large table's rewrite is decided
// here, under the rule that matches PostgreSQL's reason.
#include "pg/prelude.hpp"

#include "pg/gucs.hpp"
#include "pg/rule_enforcer.hpp"

extern "C" {
#include "catalog/partition.h"
#include "commands/event_trigger.h"
#include "utils/fmgrprotos.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(gd_table_rewrite_guard);
}

namespace {

guarded_ddl::RuleId rule_for_reason(int reason) {
    if (reason & AT_REWRITE_COLUMN_REWRITE)
        return guarded_ddl::RuleId::AlterColumnTypeRewrite;
    if (reason & AT_REWRITE_DEFAULT_VAL)
        return guarded_ddl::RuleId::AddColumnVolatileDefault;
    if (reason & AT_REWRITE_ALTER_PERSISTENCE)
        return guarded_ddl::RuleId::SetLoggedUnlogged;
    if (reason & AT_REWRITE_ACCESS_METHOD)
        return guarded_ddl::RuleId::SetAccessMethod;
    return guarded_ddl::RuleId::AlterColumnTypeRewrite;
}

bool allowed_relid(Oid relid) {
    for (int i = 0; i < gd_current_rewrites->n; i++)
        if (gd_current_rewrites->relids[i] == relid)
            return true;
    return false;
}

// A statement on a partitioned table rewrites its partitions one by one: the
// decision taken for the parent covers them.
bool already_allowed(Oid relid) {
    if (allowed_relid(relid))
        return true;
    if (!get_rel_relispartition(relid))
        return false;
    List *ancestors = get_partition_ancestors(relid);
    ListCell *lc;
    foreach (lc, ancestors)
        if (allowed_relid(lfirst_oid(lc)))
            return true;
    return false;
}

} // namespace

extern "C" Datum gd_table_rewrite_guard(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("guarded_ddl.table_rewrite_guard() must be called as an event trigger")));

    // Statements the hook does not inspect (guard off, extension scripts)
    // are not the backstop's business either.
    if (gd_current_rewrites == nullptr || gd_mode == GD_MODE_OFF)
        PG_RETURN_VOID();

    Oid relid = DatumGetObjectId(DirectFunctionCall1(pg_event_trigger_table_rewrite_oid, 0));
    int reason = DatumGetInt32(DirectFunctionCall1(pg_event_trigger_table_rewrite_reason, 0));
    if (already_allowed(relid))
        PG_RETURN_VOID();

    GdAction action{};
    action.relid = relid;
    action.lock = AccessExclusiveLock;
    action.rule = rule_for_reason(reason);
    action.effect = guarded_ddl::Effect::Rewrite;
    strlcpy(action.relation,
            quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                       get_rel_name(relid)),
            sizeof action.relation);
    GdDecision d = gd_decide(&action, true);
    if (d.verdict == guarded_ddl::Verdict::Allow)
        PG_RETURN_VOID();

    auto *trigger = reinterpret_cast<EventTriggerData *>(fcinfo->context);
    const char *command = GetCommandTagName(trigger->tag);
    gd_ereport(d.verdict == guarded_ddl::Verdict::Block ? ERROR : WARNING, GD_ERRCODE_BLOCKED,
               gd_rule_report(*action.rule, &action, command, &d));
    PG_RETURN_VOID();
}
