#include "pg/statement_actions.hpp"

#include "pg/change_prediction.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/partition.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

using guarded_ddl::Facts;
using guarded_ddl::Form;

namespace {

struct Actions {
    GdAction *out;
    int max;
    int n;

    // Records what classify() makes of the facts for relid. Relations that
    // do not exist are PostgreSQL's to report: no action.
    GdAction *add(Oid relid, LOCKMODE lock, const Facts &facts, const char *column = nullptr,
                  const char *constraint_name = nullptr, const char *index = nullptr) {
        if (n >= max || !OidIsValid(relid))
            return nullptr;
        GdAction *a = &out[n++];
        *a = GdAction{};
        a->relid = relid;
        a->lock = lock;
        guarded_ddl::Classification c = guarded_ddl::classify(facts);
        a->effect = c.effect;
        a->rule = c.rule;
        char *nsp = get_namespace_name(get_rel_namespace(relid));
        char *rel = get_rel_name(relid);
        if (nsp != nullptr && rel != nullptr)
            strlcpy(a->relation, quote_qualified_identifier(nsp, rel), sizeof a->relation);
        if (column != nullptr)
            strlcpy(a->column, column, sizeof a->column);
        if (constraint_name != nullptr)
            strlcpy(a->constraint_name, constraint_name, sizeof a->constraint_name);
        if (index != nullptr)
            strlcpy(a->index, index, sizeof a->index);
        return a;
    }
};

Facts facts_of(Form form) {
    Facts f;
    f.form = form;
    return f;
}

Oid lookup(const RangeVar *rv) {
    if (rv == nullptr)
        return InvalidOid;
    return RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, nullptr, nullptr);
}

bool holds_access_exclusive(Oid relid) {
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
    return LockHeldByMe(&tag, AccessExclusiveLock);
}

void add_constraint(Oid relid, LOCKMODE lock, Constraint *con, Actions &acts) {
    Facts f;
    f.not_valid = con->skip_validation;
    switch (con->contype) {
    case CONSTR_CHECK:
        f.form = Form::AddCheck;
        break;
    case CONSTR_FOREIGN:
        f.form = Form::AddForeignKey;
        break;
    case CONSTR_UNIQUE:
    case CONSTR_PRIMARY:
        f.form = Form::AddUnique;
        f.using_index = con->indexname != nullptr;
        if (f.using_index) {
            Oid index = get_relname_relid(con->indexname, get_rel_namespace(relid));
            // UNIQUE USING INDEX needs no NOT NULL; PRIMARY KEY marks its columns.
            f.proven = con->contype == CONSTR_UNIQUE || !OidIsValid(index) ||
                       gd_index_columns_not_null(index);
        }
        break;
    case CONSTR_EXCLUSION:
        f.form = Form::AddExclusion;
        break;
    default:
        break; // NOT NULL and friends arrive as their own subcommands
    }
    acts.add(relid, lock, f, nullptr, con->conname, con->indexname);
    // The referenced table is locked too (after the table), and read by the
    // validation.
    if (con->contype == CONSTR_FOREIGN)
        if (GdAction *a =
                acts.add(lookup(con->pktable), ShareRowExclusiveLock, facts_of(Form::Other)))
            a->privilege = GD_PRIV_REFERENCES;
}

// PostgreSQL locks the parent, then the new partition, then the DEFAULT
// partition it has to scan.
void attach_partition(Oid parent, PartitionCmd *cmd, Actions &acts) {
    acts.add(parent, ShareUpdateExclusiveLock, facts_of(Form::Other));
    Oid partition = lookup(cmd->name);
    Facts f = facts_of(Form::AttachPartition);
    if (OidIsValid(partition) && cmd->bound != nullptr)
        f.proven = gd_attach_bound_implied(parent, partition, cmd->bound);
    acts.add(partition, AccessExclusiveLock, f);

    Facts default_facts = facts_of(Form::AttachPartition);
    default_facts.default_partition = true;
    acts.add(get_default_partition_oid(parent), AccessExclusiveLock, default_facts);
}

void alter_table(AlterTableStmt *stmt, Actions &acts) {
    Oid relid = lookup(stmt->relation);
    if (!OidIsValid(relid))
        return; // PostgreSQL reports it (or skips it for IF EXISTS)

    ListCell *lc;
    foreach (lc, stmt->cmds) {
        auto *cmd = castNode(AlterTableCmd, lfirst(lc));
        LOCKMODE lock = AlterTableGetLockLevel(list_make1(cmd));
        Facts f;
        switch (cmd->subtype) {
        case AT_AddColumn: {
            auto *column = castNode(ColumnDef, cmd->def);
            f.form = Form::AddColumn;
            f.rewrites = gd_add_column_rewrites(column);
            f.generated = f.rewrites && gd_add_column_generates(column);
            f.scans = gd_add_column_scans(column);
            acts.add(relid, lock, f, column->colname);
            continue;
        }
        case AT_AlterColumnType:
            f.form = Form::AlterColumnType;
            f.rewrites = gd_type_change_rewrites(relid, cmd);
            f.column_has_checks = gd_column_has_checks(relid, cmd->name);
            break;
        case AT_SetNotNull:
            f.form = Form::SetNotNull;
            f.proven = gd_not_null_proven(relid, cmd->name);
            break;
        case AT_AddConstraint:
            if (IsA(cmd->def, Constraint)) {
                add_constraint(relid, lock, castNode(Constraint, cmd->def), acts);
                continue;
            }
            break;
        case AT_ValidateConstraint:
            f.form = Form::ValidateConstraint;
            f.holds_strong_lock = holds_access_exclusive(relid);
            acts.add(relid, lock, f, nullptr, cmd->name);
            continue;
        case AT_DropColumn:
            f.form = Form::DropColumn;
            break;
        case AT_SetTableSpace:
            f.form = Form::SetTablespace;
            break;
        case AT_SetLogged:
        case AT_SetUnLogged:
            f.form = Form::SetLoggedUnlogged;
            break;
        case AT_SetAccessMethod:
            f.form = Form::SetAccessMethod;
            break;
        case AT_AttachPartition:
            if (stmt->objtype == OBJECT_TABLE) { // ALTER INDEX ATTACH is metadata
                attach_partition(relid, castNode(PartitionCmd, cmd->def), acts);
                continue;
            }
            break;
        case AT_DetachPartition: {
            auto *part = castNode(PartitionCmd, cmd->def);
            f.form = Form::DetachPartition;
            f.concurrent = part->concurrent;
            acts.add(lookup(part->name), lock, f);
            break;
        }
        default:
            break;
        }
        acts.add(relid, lock, f, cmd->name);
    }
}

bool option_is_set(List *options, const char *name) {
    ListCell *lc;
    foreach (lc, options) {
        auto *opt = castNode(DefElem, lfirst(lc));
        if (strcmp(opt->defname, name) == 0)
            return defGetBoolean(opt);
    }
    return false;
}

// An index statement is about the index's table: that is what PostgreSQL
// locks first and what is large. The index is locked next.
void add_index_action(Oid index, LOCKMODE table_lock, LOCKMODE index_lock, const Facts &f,
                      Actions &acts) {
    Oid table = IndexGetRelation(index, true);
    GdAction *a = acts.add(OidIsValid(table) ? table : index, table_lock, f, nullptr, nullptr,
                           get_rel_name(index));
    if (a != nullptr && OidIsValid(table)) {
        a->index_relid = index;
        a->index_lock = index_lock;
    }
}

void drop(DropStmt *stmt, Actions &acts) {
    Form form;
    switch (stmt->removeType) {
    case OBJECT_TABLE:
        form = Form::DropTable;
        break;
    case OBJECT_INDEX:
        form = Form::DropIndex;
        break;
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_SEQUENCE:
    case OBJECT_FOREIGN_TABLE:
        form = Form::Other;
        break;
    default:
        return;
    }
    ListCell *lc;
    foreach (lc, stmt->objects) {
        Oid relid = lookup(makeRangeVarFromNameList(castNode(List, lfirst(lc))));
        if (!OidIsValid(relid))
            continue;
        Facts f = facts_of(form);
        f.concurrent = stmt->concurrent;
        if (form == Form::DropIndex) {
            LOCKMODE lock = stmt->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock;
            add_index_action(relid, lock, lock, f, acts);
        } else {
            acts.add(relid, AccessExclusiveLock, f);
        }
    }
}

void rename(RenameStmt *stmt, Actions &acts) {
    Oid relid = lookup(stmt->relation);
    if (!OidIsValid(relid))
        return;
    switch (stmt->renameType) {
    case OBJECT_COLUMN:
        acts.add(relid, AccessExclusiveLock, facts_of(Form::RenameColumn), stmt->subname);
        break;
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
        acts.add(relid, AccessExclusiveLock, facts_of(Form::RenameTable));
        break;
    case OBJECT_INDEX:
        acts.add(relid, ShareUpdateExclusiveLock, facts_of(Form::Other));
        break;
    default:
        acts.add(relid, AccessExclusiveLock, facts_of(Form::Other));
        break;
    }
}

// ALTER DOMAIN ... ADD CONSTRAINT / SET NOT NULL checks every column of the
// domain: each table using it is scanned.
void alter_domain(AlterDomainStmt *stmt, Actions &acts) {
    bool checks = stmt->subtype == 'O' ||
                  (stmt->subtype == 'C' && !castNode(Constraint, stmt->def)->skip_validation);
    if (!checks)
        return;
    Oid domain = typenameTypeId(nullptr, makeTypeNameFromNameList(stmt->typeName));
    Relation pg_attribute = table_open(AttributeRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_attribute_atttypid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(domain));
    SysScanDesc scan = systable_beginscan(pg_attribute, InvalidOid, false, nullptr, 1, &key);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
        if (!att->attisdropped && get_rel_relkind(att->attrelid) == RELKIND_RELATION)
            acts.add(att->attrelid, ShareLock, facts_of(Form::AlterDomainAddConstraint),
                     NameStr(att->attname));
    }
    systable_endscan(scan);
    table_close(pg_attribute, AccessShareLock);
}

} // namespace

int gd_statement_actions(Node *stmt, GdAction *out, int max) {
    Actions acts{out, max, 0};
    ListCell *lc;

    switch (nodeTag(stmt)) {
    case T_AlterTableStmt:
        alter_table(castNode(AlterTableStmt, stmt), acts);
        break;
    case T_IndexStmt: {
        auto *s = castNode(IndexStmt, stmt);
        Facts f = facts_of(Form::CreateIndex);
        f.concurrent = s->concurrent;
        f.only = !s->relation->inh;
        acts.add(lookup(s->relation), s->concurrent ? ShareUpdateExclusiveLock : ShareLock, f,
                 nullptr, nullptr, s->idxname);
        break;
    }
    case T_DropStmt:
        drop(castNode(DropStmt, stmt), acts);
        break;
    case T_TruncateStmt:
        foreach (lc, castNode(TruncateStmt, stmt)->relations) {
            if (GdAction *a = acts.add(lookup(castNode(RangeVar, lfirst(lc))), AccessExclusiveLock,
                                       facts_of(Form::Truncate)))
                a->privilege = GD_PRIV_TRUNCATE;
        }
        break;
    case T_RenameStmt:
        rename(castNode(RenameStmt, stmt), acts);
        break;
    case T_AlterObjectSchemaStmt: {
        auto *s = castNode(AlterObjectSchemaStmt, stmt);
        acts.add(lookup(s->relation), AccessExclusiveLock,
                 facts_of(s->objectType == OBJECT_TABLE ? Form::SetSchema : Form::Other));
        break;
    }
    case T_ReindexStmt: {
        auto *s = castNode(ReindexStmt, stmt);
        Facts f = facts_of(Form::Reindex);
        f.concurrent = option_is_set(s->params, "concurrently");
        Oid relid = lookup(s->relation);
        if (!OidIsValid(relid))
            break;
        if (s->kind == REINDEX_OBJECT_INDEX)
            add_index_action(relid, f.concurrent ? ShareUpdateExclusiveLock : ShareLock,
                             f.concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock, f,
                             acts);
        else
            acts.add(relid, f.concurrent ? ShareUpdateExclusiveLock : ShareLock, f);
        break;
    }
    case T_ClusterStmt:
        acts.add(lookup(castNode(ClusterStmt, stmt)->relation), AccessExclusiveLock,
                 facts_of(Form::Cluster));
        break;
    case T_VacuumStmt: {
        auto *s = castNode(VacuumStmt, stmt);
        bool full = s->is_vacuumcmd && option_is_set(s->options, "full");
        foreach (lc, s->rels) {
            if (GdAction *a = acts.add(lookup(castNode(VacuumRelation, lfirst(lc))->relation),
                                       full ? AccessExclusiveLock : ShareUpdateExclusiveLock,
                                       facts_of(full ? Form::VacuumFull : Form::Other)))
                a->privilege = GD_PRIV_MAINTAIN;
        }
        break;
    }
    case T_RefreshMatViewStmt: {
        auto *s = castNode(RefreshMatViewStmt, stmt);
        Facts f = facts_of(Form::RefreshMaterializedView);
        f.concurrent = s->concurrent;
        acts.add(lookup(s->relation), s->concurrent ? ExclusiveLock : AccessExclusiveLock, f);
        break;
    }
    case T_AlterDomainStmt:
        alter_domain(castNode(AlterDomainStmt, stmt), acts);
        break;
    case T_CreateTrigStmt:
        if (GdAction *a = acts.add(lookup(castNode(CreateTrigStmt, stmt)->relation),
                                   ShareRowExclusiveLock, facts_of(Form::Other)))
            a->privilege = GD_PRIV_TRIGGER;
        break;
    case T_RuleStmt:
        acts.add(lookup(castNode(RuleStmt, stmt)->relation), AccessExclusiveLock,
                 facts_of(Form::Other));
        break;
    case T_CreatePolicyStmt:
        acts.add(lookup(castNode(CreatePolicyStmt, stmt)->table), AccessExclusiveLock,
                 facts_of(Form::Other));
        break;
    case T_AlterPolicyStmt:
        acts.add(lookup(castNode(AlterPolicyStmt, stmt)->table), AccessExclusiveLock,
                 facts_of(Form::Other));
        break;
    case T_LockStmt: {
        auto *s = castNode(LockStmt, stmt);
        if (s->nowait) // NOWAIT never queues: nothing to guard
            break;
        foreach (lc, s->relations)
            if (GdAction *a = acts.add(lookup(castNode(RangeVar, lfirst(lc))), s->mode,
                                       facts_of(Form::Other)))
                a->privilege = GD_PRIV_LOCK;
        break;
    }
    default:
        break;
    }
    return acts.n;
}

bool gd_statement_is_nontransactional(Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_IndexStmt:
        return castNode(IndexStmt, stmt)->concurrent;
    case T_DropStmt:
        return castNode(DropStmt, stmt)->concurrent;
    case T_ReindexStmt:
        return option_is_set(castNode(ReindexStmt, stmt)->params, "concurrently");
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
