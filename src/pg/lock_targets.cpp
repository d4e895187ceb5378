#include "pg/lock_targets.hpp"

extern "C" {
#include "commands/defrem.h"
#include "commands/tablecmds.h"
}

namespace {

struct Collector {
    GdLockTarget *targets;
    int max;
    int n;

    void add(const RangeVar *rv, LOCKMODE mode, GdPrivilege privilege,
             LOCKMODE table_mode_first = NoLock) {
        if (rv == nullptr || n >= max)
            return;
        targets[n++] = GdLockTarget{rv, mode, privilege, table_mode_first};
    }

    // DROP and friends name objects as qualified-name lists.
    void add_names(List *objects, LOCKMODE mode, LOCKMODE table_mode_first = NoLock) {
        ListCell *lc;
        foreach (lc, objects)
            add(makeRangeVarFromNameList(castNode(List, lfirst(lc))), mode, GD_PRIV_OWNER,
                table_mode_first);
    }
};

bool is_relation_object(ObjectType type) {
    switch (type) {
    case OBJECT_TABLE:
    case OBJECT_INDEX:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
        return true;
    default:
        return false;
    }
}

void collect_alter_table(AlterTableStmt *stmt, Collector &c) {
    c.add(stmt->relation, AlterTableGetLockLevel(stmt->cmds), GD_PRIV_OWNER);

    ListCell *lc;
    foreach (lc, stmt->cmds) {
        auto *cmd = castNode(AlterTableCmd, lfirst(lc));
        if (cmd->subtype == AT_AddConstraint && IsA(cmd->def, Constraint)) {
            auto *con = castNode(Constraint, cmd->def);
            if (con->contype == CONSTR_FOREIGN)
                c.add(con->pktable, ShareRowExclusiveLock, GD_PRIV_REFERENCES);
        } else if (cmd->subtype == AT_AttachPartition && IsA(cmd->def, PartitionCmd)) {
            c.add(castNode(PartitionCmd, cmd->def)->name, AccessExclusiveLock, GD_PRIV_OWNER);
        } else if (cmd->subtype == AT_DetachPartition && IsA(cmd->def, PartitionCmd)) {
            auto *part = castNode(PartitionCmd, cmd->def);
            c.add(part->name, part->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock,
                  GD_PRIV_OWNER);
        }
    }
}

void collect_rename(RenameStmt *stmt, Collector &c) {
    switch (stmt->renameType) {
    case OBJECT_INDEX:
        c.add(stmt->relation, ShareUpdateExclusiveLock, GD_PRIV_OWNER);
        break;
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_COLUMN:
    case OBJECT_ATTRIBUTE:
    case OBJECT_TABCONSTRAINT:
    case OBJECT_TRIGGER:
    case OBJECT_RULE:
    case OBJECT_POLICY:
        c.add(stmt->relation, AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    default:
        break;
    }
}

bool reindex_is_concurrent(ReindexStmt *stmt) {
    ListCell *lc;
    foreach (lc, stmt->params) {
        auto *opt = castNode(DefElem, lfirst(lc));
        if (strcmp(opt->defname, "concurrently") == 0)
            return defGetBoolean(opt);
    }
    return false;
}

bool vacuum_is_full(VacuumStmt *stmt) {
    ListCell *lc;
    foreach (lc, stmt->options) {
        auto *opt = castNode(DefElem, lfirst(lc));
        if (strcmp(opt->defname, "full") == 0)
            return defGetBoolean(opt);
    }
    return false;
}

} // namespace

int gd_collect_lock_targets(Node *stmt, GdLockTarget *targets, int max) {
    Collector c{targets, max, 0};
    ListCell *lc;

    switch (nodeTag(stmt)) {
    case T_AlterTableStmt:
        collect_alter_table(castNode(AlterTableStmt, stmt), c);
        break;
    case T_IndexStmt: {
        auto *s = castNode(IndexStmt, stmt);
        c.add(s->relation, s->concurrent ? ShareUpdateExclusiveLock : ShareLock, GD_PRIV_OWNER);
        break;
    }
    case T_DropStmt: {
        auto *s = castNode(DropStmt, stmt);
        if (s->removeType == OBJECT_INDEX) {
            LOCKMODE mode = s->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock;
            c.add_names(s->objects, mode, mode);
        } else if (is_relation_object(s->removeType)) {
            c.add_names(s->objects, AccessExclusiveLock);
        }
        break;
    }
    case T_TruncateStmt:
        foreach (lc, castNode(TruncateStmt, stmt)->relations)
            c.add(castNode(RangeVar, lfirst(lc)), AccessExclusiveLock, GD_PRIV_TRUNCATE);
        break;
    case T_RenameStmt:
        collect_rename(castNode(RenameStmt, stmt), c);
        break;
    case T_AlterObjectSchemaStmt: {
        auto *s = castNode(AlterObjectSchemaStmt, stmt);
        if (is_relation_object(s->objectType))
            c.add(s->relation, AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    }
    case T_CreateTrigStmt:
        c.add(castNode(CreateTrigStmt, stmt)->relation, ShareRowExclusiveLock, GD_PRIV_TRIGGER);
        break;
    case T_RuleStmt:
        c.add(castNode(RuleStmt, stmt)->relation, AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    case T_CreatePolicyStmt:
        c.add(castNode(CreatePolicyStmt, stmt)->table, AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    case T_AlterPolicyStmt:
        c.add(castNode(AlterPolicyStmt, stmt)->table, AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    case T_ReindexStmt: {
        auto *s = castNode(ReindexStmt, stmt);
        bool concurrent = reindex_is_concurrent(s);
        if (s->kind == REINDEX_OBJECT_TABLE)
            c.add(s->relation, concurrent ? ShareUpdateExclusiveLock : ShareLock, GD_PRIV_OWNER);
        else if (s->kind == REINDEX_OBJECT_INDEX)
            c.add(s->relation, concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock,
                  GD_PRIV_OWNER, concurrent ? ShareUpdateExclusiveLock : ShareLock);
        break;
    }
    case T_ClusterStmt:
        c.add(castNode(ClusterStmt, stmt)->relation, AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    case T_VacuumStmt: {
        auto *s = castNode(VacuumStmt, stmt);
        LOCKMODE mode =
            s->is_vacuumcmd && vacuum_is_full(s) ? AccessExclusiveLock : ShareUpdateExclusiveLock;
        foreach (lc, s->rels)
            c.add(castNode(VacuumRelation, lfirst(lc))->relation, mode, GD_PRIV_MAINTAIN);
        break;
    }
    case T_RefreshMatViewStmt: {
        auto *s = castNode(RefreshMatViewStmt, stmt);
        c.add(s->relation, s->concurrent ? ExclusiveLock : AccessExclusiveLock, GD_PRIV_OWNER);
        break;
    }
    case T_LockStmt: {
        auto *s = castNode(LockStmt, stmt);
        if (!s->nowait) // NOWAIT already never queues
            foreach (lc, s->relations)
                c.add(castNode(RangeVar, lfirst(lc)), s->mode, GD_PRIV_LOCK);
        break;
    }
    default:
        break;
    }
    return c.n;
}

bool gd_statement_is_nontransactional(Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_IndexStmt:
        return castNode(IndexStmt, stmt)->concurrent;
    case T_DropStmt:
        return castNode(DropStmt, stmt)->concurrent;
    case T_ReindexStmt:
        return reindex_is_concurrent(castNode(ReindexStmt, stmt));
    case T_VacuumStmt:
        return castNode(VacuumStmt, stmt)->is_vacuumcmd;
    case T_ClusterStmt:
        return castNode(ClusterStmt, stmt)->relation == nullptr;
    case T_AlterTableStmt: {
        ListCell *lc;
        foreach (lc, castNode(AlterTableStmt, stmt)->cmds) {
            auto *cmd = castNode(AlterTableCmd, lfirst(lc));
            if (cmd->subtype == AT_DetachPartition && IsA(cmd->def, PartitionCmd) &&
                castNode(PartitionCmd, cmd->def)->concurrent)
                return true;
        }
        return false;
    }
    default:
        return false;
    }
}

bool gd_statement_locks_in_own_transactions(Node *stmt) {
    return (IsA(stmt, VacuumStmt) && castNode(VacuumStmt, stmt)->is_vacuumcmd) ||
           (IsA(stmt, ClusterStmt) && castNode(ClusterStmt, stmt)->relation == nullptr);
}
