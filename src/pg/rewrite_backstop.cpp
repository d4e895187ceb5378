// The rewrite backstop: PostgreSQL's own word, as it starts rewriting a
// table for ALTER TABLE or ALTER TYPE. If the rules did not already allow
// this rewrite (classification missed it, or it comes from a form the rules
// do not model), a large table's rewrite is decided here, under the rule
// that matches the rewrite.
//
// A rewrite begins with make_new_heap creating the transient heap that will
// receive the rows, with pg_class.relrewrite naming the table rewritten; the
// object access hook sees that creation (OAT_POST_CREATE) before any row is
// copied. No table_rewrite event trigger: one would make PostgreSQL track
// the dropped objects of every DDL statement (trackDroppedObjectsNeeded).
#include "pg/prelude.hpp"

#include "pg/gucs.hpp"
#include "pg/rule_enforcer.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

namespace {

object_access_hook_type prev_object_access_hook = nullptr;

bool has_subcommand(const AlterTableStmt *stmt, AlterTableType type) {
    ListCell *lc;
    foreach (lc, stmt->cmds)
        if (castNode(AlterTableCmd, lfirst(lc))->subtype == type)
            return true;
    return false;
}

// PostgreSQL's reason, read back from the transient heap: persistence or
// access method differ from the table's, or else a column changes (a type
// change, or a column added with a default that needs one).
guarded_ddl::RuleId rule_for_rewrite(const AlterTableStmt *stmt, Relation old_rel,
                                     Relation new_rel) {
    if (new_rel->rd_rel->relpersistence != old_rel->rd_rel->relpersistence)
        return guarded_ddl::RuleId::SetLoggedUnlogged;
    if (new_rel->rd_rel->relam != old_rel->rd_rel->relam)
        return guarded_ddl::RuleId::SetAccessMethod;
    if (!has_subcommand(stmt, AT_AlterColumnType) && has_subcommand(stmt, AT_AddColumn))
        return guarded_ddl::RuleId::AddColumnVolatileDefault;
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

// new_relid was just created by the statement the hook is running.
void judge_new_relation(Oid new_relid) {
    const auto *stmt = castNode(AlterTableStmt, gd_current_rewrites->statement);
    Relation new_rel = RelationIdGetRelation(new_relid);
    if (new_rel == nullptr)
        return;
    // The transient heap is an ordinary table; the TOAST table made for it
    // names the old TOAST table, which goes with its table.
    Oid relid =
        new_rel->rd_rel->relkind == RELKIND_RELATION ? new_rel->rd_rel->relrewrite : InvalidOid;
    if (!OidIsValid(relid) || already_allowed(relid)) {
        RelationClose(new_rel);
        return;
    }
    // Held by the statement (ACCESS EXCLUSIVE) since before the rewrite.
    Relation old_rel = RelationIdGetRelation(relid);
    if (old_rel == nullptr) {
        RelationClose(new_rel);
        return;
    }
    guarded_ddl::RuleId rule = rule_for_rewrite(stmt, old_rel, new_rel);
    RelationClose(old_rel);
    RelationClose(new_rel);

    GdAction action{};
    action.relid = relid;
    action.lock = AccessExclusiveLock;
    action.rule = rule;
    action.effect = guarded_ddl::Effect::Rewrite;
    strlcpy(action.relation,
            quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                       get_rel_name(relid)),
            sizeof action.relation);
    GdDecision d = gd_decide(&action, true);
    if (d.verdict == guarded_ddl::Verdict::Allow)
        return;
    const char *command =
        GetCommandTagName(CreateCommandTag(const_cast<Node *>(gd_current_rewrites->statement)));
    gd_ereport(d.verdict == guarded_ddl::Verdict::Block ? ERROR : WARNING, GD_ERRCODE_BLOCKED,
               gd_rule_report(*action.rule, &action, command, &d));
}

void watch_rewrites(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
    // Statements the hook does not inspect (guard off, extension scripts)
    // are not the backstop's business either; ALTER TABLE and ALTER TYPE
    // are the statements whose rewrites PostgreSQL decides inside (CLUSTER,
    // VACUUM FULL and REFRESH are judged by the hook as they are).
    if (access == OAT_POST_CREATE && class_id == RelationRelationId && sub_id == 0 &&
        gd_current_rewrites != nullptr && gd_mode != GD_MODE_OFF &&
        gd_current_rewrites->statement != nullptr &&
        IsA(gd_current_rewrites->statement, AlterTableStmt) && arg != nullptr &&
        static_cast<ObjectAccessPostCreate *>(arg)->is_internal)
        judge_new_relation(object_id);
    if (prev_object_access_hook)
        prev_object_access_hook(access, class_id, object_id, sub_id, arg);
}

} // namespace

void gd_install_rewrite_backstop(void) {
    prev_object_access_hook = object_access_hook;
    object_access_hook = watch_rewrites;
}
