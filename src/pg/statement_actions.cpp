#include "pg/statement_actions.hpp"

#include "pg/action_list.hpp"
#include "pg/catalog_scan.hpp"
#include "pg/subtransaction.hpp"
#include "pg/text_state.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
}

using guarded_ddl::Facts;
using guarded_ddl::Form;

namespace {

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
                      GdPrivilege privilege, GdActionList &acts) {
    Oid table = IndexGetRelation(index, true);
    GdAction *a = acts.add(OidIsValid(table) ? table : index, table_lock, f, privilege,
                           {nullptr, nullptr, get_rel_name(index)});
    if (a != nullptr && OidIsValid(table)) {
        a->index_relid = index;
        a->index_lock = index_lock;
    }
}

void create_index(IndexStmt *s, GdActionList &acts) {
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid) || !acts.require(relid, "rpm"))
        return;
    if (s->idxname != nullptr &&
        OidIsValid(get_relname_relid(s->idxname, get_rel_namespace(relid)))) {
        if (!s->if_not_exists) // IF NOT EXISTS: PostgreSQL skips it
            acts.refuse();
        return;
    }
    for (List *params : {s->indexParams, s->indexIncludingParams}) {
        ListCell *lc;
        foreach (lc, params) {
            const char *column = castNode(IndexElem, lfirst(lc))->name;
            if (column != nullptr && !acts.touched_by_text(relid, column) &&
                gd_user_column(relid, column) == InvalidAttrNumber)
                return acts.refuse();
        }
    }
    Facts f = gd_facts_of(Form::CreateIndex);
    f.concurrent = s->concurrent;
    f.only = !s->relation->inh;
    acts.add(relid, s->concurrent ? ShareUpdateExclusiveLock : ShareLock, f, GD_PRIV_OWNER,
             {nullptr, nullptr, s->idxname});
}

// The relkinds DROP accepts for each object type.
const char *drop_kinds(ObjectType type) {
    switch (type) {
    case OBJECT_TABLE:
        return "rp";
    case OBJECT_INDEX:
        return "iI";
    case OBJECT_VIEW:
        return "v";
    case OBJECT_MATVIEW:
        return "m";
    case OBJECT_SEQUENCE:
        return "S";
    case OBJECT_FOREIGN_TABLE:
        return "f";
    default:
        return nullptr;
    }
}

void drop(DropStmt *stmt, GdActionList &acts) {
    const char *kinds = drop_kinds(stmt->removeType);
    if (kinds == nullptr)
        return;
    Form form = stmt->removeType == OBJECT_TABLE   ? Form::DropTable
                : stmt->removeType == OBJECT_INDEX ? Form::DropIndex
                                                   : Form::Other;
    ListCell *lc;
    foreach (lc, stmt->objects) {
        Oid relid =
            acts.find(makeRangeVarFromNameList(castNode(List, lfirst(lc))), stmt->missing_ok);
        if (!OidIsValid(relid) || !acts.require(relid, kinds))
            continue;
        Facts f = gd_facts_of(form);
        f.concurrent = stmt->concurrent;
        if (form == Form::DropIndex) {
            LOCKMODE lock = stmt->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock;
            add_index_action(relid, lock, lock, f, GD_PRIV_DROP, acts);
        } else if (GdAction *a = acts.add(relid, AccessExclusiveLock, f, GD_PRIV_DROP)) {
            // RESTRICT refuses what other objects depend on, unless the same
            // statement drops them too: only a single table is judged so.
            a->restrict_check = form == Form::DropTable && stmt->behavior == DROP_RESTRICT &&
                                list_length(stmt->objects) == 1;
        }
    }
}

void rename(RenameStmt *stmt, GdActionList &acts) {
    Oid relid = acts.find(stmt->relation, stmt->missing_ok);
    if (!OidIsValid(relid))
        return;
    if (gd_is_protected_catalog(relid))
        return acts.refuse();
    switch (stmt->renameType) {
    case OBJECT_COLUMN:
    case OBJECT_ATTRIBUTE:
        // renameatt_check, then the old name must be a user column and the
        // new one free.
        if (!acts.require(relid, "rvmciIfp") ||
            (!acts.touched_by_text(relid, stmt->subname) &&
             gd_user_column(relid, stmt->subname) == InvalidAttrNumber) ||
            gd_column_is_inherited(relid, get_attnum(relid, stmt->subname)) ||
            get_attnum(relid, stmt->newname) != InvalidAttrNumber)
            return acts.refuse();
        acts.add(relid, AccessExclusiveLock, gd_facts_of(Form::RenameColumn), GD_PRIV_OWNER,
                 {stmt->subname});
        break;
    case OBJECT_TABLE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
    case OBJECT_SEQUENCE:
    case OBJECT_INDEX:
        if (!gd_alter_objtype_accepts(stmt->renameType, relid, true) ||
            OidIsValid(get_relname_relid(stmt->newname, get_rel_namespace(relid))))
            return acts.refuse();
        // RenameRelation: SHARE UPDATE EXCLUSIVE for ALTER INDEX on an index,
        // ACCESS EXCLUSIVE for every other pairing of statement and relation.
        if (gd_relkind_in(relid, "iI"))
            acts.add(relid,
                     stmt->renameType == OBJECT_INDEX ? ShareUpdateExclusiveLock
                                                      : AccessExclusiveLock,
                     gd_facts_of(Form::Other), GD_PRIV_OWNER);
        else
            acts.add(
                relid, AccessExclusiveLock,
                gd_facts_of(stmt->renameType == OBJECT_SEQUENCE ? Form::Other : Form::RenameTable),
                GD_PRIV_OWNER);
        break;
    default: // constraints, triggers, rules, policies of the relation
        acts.add(relid, AccessExclusiveLock, gd_facts_of(Form::Other), GD_PRIV_OWNER);
        break;
    }
}

void set_schema(AlterObjectSchemaStmt *s, GdActionList &acts) {
    if (s->relation == nullptr)
        return; // not a relation
    Oid relid = acts.find(s->relation, s->missing_ok);
    if (!OidIsValid(relid))
        return;
    if (gd_is_protected_catalog(relid) || gd_relkind_in(relid, "iI") ||
        !gd_alter_objtype_accepts(s->objectType, relid, false) ||
        !OidIsValid(get_namespace_oid(s->newschema, true)))
        return acts.refuse();
    acts.add(relid, AccessExclusiveLock,
             gd_facts_of(s->objectType == OBJECT_TABLE ? Form::SetSchema : Form::Other),
             GD_PRIV_OWNER);
}

void reindex(ReindexStmt *s, GdActionList &acts) {
    if (s->relation == nullptr)
        return; // SCHEMA, DATABASE, SYSTEM
    Facts f = gd_facts_of(Form::Reindex);
    f.concurrent = option_is_set(s->params, "concurrently");
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid))
        return;
    bool index = s->kind == REINDEX_OBJECT_INDEX;
    // System catalogs may be reindexed, but not concurrently; partitioned
    // relations only outside a transaction block (a transaction each).
    if (!acts.require(relid, index ? "iI" : "rmpt", !f.concurrent))
        return;
    if (gd_relkind_in(relid, "pI") && gd_in_transaction_block())
        return acts.refuse();
    if (index)
        add_index_action(relid, f.concurrent ? ShareUpdateExclusiveLock : ShareLock,
                         f.concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock, f,
                         GD_PRIV_OWNER, acts);
    else
        acts.add(relid, f.concurrent ? ShareUpdateExclusiveLock : ShareLock, f, GD_PRIV_OWNER);
}

void cluster(ClusterStmt *s, GdActionList &acts) {
    if (s->relation == nullptr)
        return; // every previously clustered table, each in its own transaction
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid) || !acts.require(relid, "rmpt", true))
        return;
    if (IsSharedRelation(relid) ||
        (s->indexname != nullptr ? !OidIsValid(gd_index_of(relid, s->indexname))
                                 : !gd_has_clustered_index(relid)))
        return acts.refuse();
    acts.add(relid, AccessExclusiveLock, gd_facts_of(Form::Cluster), GD_PRIV_OWNER);
}

// VACUUM skips, with a WARNING, the tables the session may not vacuum and
// relations that are not tables; it refuses only relations that are missing.
void vacuum(VacuumStmt *s, GdActionList &acts) {
    bool full = s->is_vacuumcmd && option_is_set(s->options, "full");
    LOCKMODE lock = full ? AccessExclusiveLock : ShareUpdateExclusiveLock;
    ListCell *lc;
    foreach (lc, s->rels) {
        Oid relid = acts.find(castNode(VacuumRelation, lfirst(lc))->relation, false);
        if (OidIsValid(relid) && gd_relkind_in(relid, "rmtp") &&
            gd_has_privilege(relid, GD_PRIV_MAINTAIN, lock))
            acts.add(relid, lock, gd_facts_of(full ? Form::VacuumFull : Form::Other),
                     GD_PRIV_MAINTAIN);
    }
}

void refresh(RefreshMatViewStmt *s, GdActionList &acts) {
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid) || !acts.require(relid, "m"))
        return;
    Facts f = gd_facts_of(Form::RefreshMaterializedView);
    f.concurrent = s->concurrent;
    acts.add(relid, s->concurrent ? ExclusiveLock : AccessExclusiveLock, f, GD_PRIV_OWNER);
}

// A domain CHECK of that name not validated yet: VALIDATE has to scan.
bool domain_check_unvalidated(Oid domain, const char *name) {
    bool found = false;
    gd_scan_catalog_by_oid(ConstraintRelationId, ConstraintTypidIndexId,
                           Anum_pg_constraint_contypid, domain, [&](Relation, HeapTuple tuple) {
                               auto *con = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tuple));
                               if (strcmp(NameStr(con->conname), name) == 0 &&
                                   con->contype == CONSTRAINT_CHECK && !con->convalidated)
                                   found = true;
                           });
    return found;
}

// ALTER DOMAIN ... ADD CONSTRAINT / SET NOT NULL checks every column of the
// domain: each table using it is scanned. So does VALIDATE CONSTRAINT, under
// SHARE on each table for the whole scan: taking those locks here gives
// them the lock guard's bounded retries. PostgreSQL checks the domain's
// ownership, not the tables'.
void alter_domain(AlterDomainStmt *stmt, GdActionList &acts) {
    bool checks = stmt->subtype == 'O' ||
                  (stmt->subtype == 'C' && !castNode(Constraint, stmt->def)->skip_validation);
    bool validates = stmt->subtype == 'V';
    if (!checks && !validates)
        return;
    Oid domain = typenameTypeId(nullptr, makeTypeNameFromNameList(stmt->typeName));
    if (get_typtype(domain) != TYPTYPE_DOMAIN || !gd_owns(TypeRelationId, domain, GetUserId()))
        return acts.refuse();
    if (validates && !domain_check_unvalidated(domain, stmt->name))
        return;
    Facts facts =
        gd_facts_of(validates ? Form::ValidateConstraint : Form::AlterDomainAddConstraint);
    gd_scan_catalog_by_oid(
        AttributeRelationId, InvalidOid, Anum_pg_attribute_atttypid, domain,
        [&](Relation, HeapTuple tuple) {
            auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
            if (!att->attisdropped && get_rel_relkind(att->attrelid) == RELKIND_RELATION)
                acts.add(att->attrelid, ShareLock, facts, GD_PRIV_NONE, {NameStr(att->attname)});
        });
}

// The statements that name a relation in the statement itself, each with
// the relkinds PostgreSQL accepts there.
void simple_target(RangeVar *rv, const char *kinds, LOCKMODE lock, GdPrivilege privilege,
                   GdActionList &acts) {
    Oid relid = acts.find(rv, false);
    if (OidIsValid(relid) && acts.require(relid, kinds))
        acts.add(relid, lock, gd_facts_of(Form::Other), privilege);
}

void truncate_tables(Node *stmt, GdActionList &acts) {
    ListCell *lc;
    foreach (lc, castNode(TruncateStmt, stmt)->relations) {
        Oid relid = acts.find(castNode(RangeVar, lfirst(lc)), false);
        if (!OidIsValid(relid) || !acts.require(relid, "rpf"))
            return;
        // A foreign table is truncated by its wrapper's handler, if it has one.
        if (gd_relkind_in(relid, "f") &&
            !OidIsValid(
                GetForeignDataWrapper(GetForeignServer(GetForeignServerIdByRelId(relid))->fdwid)
                    ->fdwhandler))
            return acts.refuse();
        acts.add(relid, AccessExclusiveLock, gd_facts_of(Form::Truncate), GD_PRIV_TRUNCATE);
    }
}

void lock_table(Node *stmt, GdActionList &acts) {
    auto *s = castNode(LockStmt, stmt);
    if (s->nowait) // NOWAIT never queues: nothing to guard
        return;
    ListCell *lc;
    foreach (lc, s->relations) {
        Oid relid = acts.find(castNode(RangeVar, lfirst(lc)), false);
        if (OidIsValid(relid) && acts.require(relid, "rpv", true))
            acts.add(relid, s->mode, gd_facts_of(Form::Other), GD_PRIV_LOCK);
    }
}

using Analyser = void (*)(Node *, GdActionList &);

template <typename Stmt, void (*analyse)(Stmt *, GdActionList &)>
void cast_to(Node *stmt, GdActionList &acts) {
    analyse(reinterpret_cast<Stmt *>(stmt), acts);
}

// What reads a statement of this kind; null for statements that touch no
// existing relation in a way the guard judges.
Analyser analyser_for(Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_AlterTableStmt:
        return cast_to<AlterTableStmt, gd_alter_table_actions>;
    case T_IndexStmt:
        return cast_to<IndexStmt, create_index>;
    case T_DropStmt:
        return cast_to<DropStmt, drop>;
    case T_TruncateStmt:
        return truncate_tables;
    case T_RenameStmt:
        return cast_to<RenameStmt, rename>;
    case T_AlterObjectSchemaStmt:
        return cast_to<AlterObjectSchemaStmt, set_schema>;
    case T_ReindexStmt:
        return cast_to<ReindexStmt, reindex>;
    case T_ClusterStmt:
        return cast_to<ClusterStmt, cluster>;
    case T_VacuumStmt:
        return cast_to<VacuumStmt, vacuum>;
    case T_RefreshMatViewStmt:
        return cast_to<RefreshMatViewStmt, refresh>;
    case T_AlterDomainStmt:
        return cast_to<AlterDomainStmt, alter_domain>;
    case T_CreateTrigStmt:
        return [](Node *s, GdActionList &acts) {
            simple_target(castNode(CreateTrigStmt, s)->relation, "rpvf", ShareRowExclusiveLock,
                          GD_PRIV_TRIGGER, acts);
        };
    case T_RuleStmt:
        return [](Node *s, GdActionList &acts) {
            simple_target(castNode(RuleStmt, s)->relation, "rpv", AccessExclusiveLock,
                          GD_PRIV_OWNER, acts);
        };
    case T_CreatePolicyStmt:
        return [](Node *s, GdActionList &acts) {
            simple_target(castNode(CreatePolicyStmt, s)->table, "rp", AccessExclusiveLock,
                          GD_PRIV_OWNER, acts);
        };
    case T_AlterPolicyStmt:
        return [](Node *s, GdActionList &acts) {
            simple_target(castNode(AlterPolicyStmt, s)->table, "rp", AccessExclusiveLock,
                          GD_PRIV_OWNER, acts);
        };
    case T_LockStmt:
        return lock_table;
    default:
        return nullptr;
    }
}

struct Analysis {
    Analyser analyser;
    Node *stmt;
    GdActionList *acts;
};

void analyse(void *arg) {
    auto *a = static_cast<Analysis *>(arg);
    a->analyser(a->stmt, *a->acts);
}

// Whether a type name is unqualified, or qualified by pg_catalog as the
// grammar qualifies int, bigint, boolean, ... (SystemTypeName) when the role
// may use pg_catalog: looking it up cannot fail.
bool type_name_is_plain(const TypeName *type) {
    if (list_length(type->names) == 1)
        return true;
    return list_length(type->names) == 2 &&
           strcmp(strVal(linitial(type->names)), "pg_catalog") == 0 &&
           gd_may_use_namespace(PG_CATALOG_NAMESPACE);
}

// A new column of an unqualified (or pg_catalog), defined, built-in or plain
// user type with no modifiers, default, constraint (but NULL / NOT NULL) or
// collation: its analysis looks the type up and nothing more, and cannot
// fail.
bool column_is_plain(const ColumnDef *column) {
    const TypeName *type = column->typeName;
    if (column->raw_default != nullptr || column->collClause != nullptr || type->typmods != NIL ||
        type->pct_type || !type_name_is_plain(type))
        return false;
    ListCell *lc;
    foreach (lc, column->constraints) {
        ConstrType kind = castNode(Constraint, lfirst(lc))->contype;
        if (kind != CONSTR_NULL && kind != CONSTR_NOTNULL)
            return false;
    }
    Type found = LookupTypeName(nullptr, type, nullptr, true);
    if (found == nullptr)
        return false;
    auto *form = reinterpret_cast<Form_pg_type>(GETSTRUCT(found));
    bool plain = form->typisdefined && form->typtype != TYPTYPE_DOMAIN;
    ReleaseSysCache(found);
    return plain;
}

// Whether the analysis of the statement transforms expressions or types
// from it (ADD COLUMN's type and default, ALTER TYPE's conversion, a
// partition bound, a CHECK, a domain), which PostgreSQL may refuse, or
// reads catalog rows through helpers that fail when they are gone.
bool analysis_may_fail(Node *stmt) {
    // ALTER DOMAIN resolves a type name; TRUNCATE reads a foreign table's
    // wrapper, whose catalog rows a concurrent DROP can take away.
    if (IsA(stmt, AlterDomainStmt) || IsA(stmt, TruncateStmt))
        return true;
    if (!IsA(stmt, AlterTableStmt))
        return false;
    ListCell *lc;
    foreach (lc, castNode(AlterTableStmt, stmt)->cmds) {
        auto *cmd = castNode(AlterTableCmd, lfirst(lc));
        switch (cmd->subtype) {
        case AT_AddColumn:
            if (!column_is_plain(castNode(ColumnDef, cmd->def)))
                return true;
            break;
        case AT_AlterColumnType:
        case AT_AddConstraint:
        case AT_AttachPartition:
        case AT_DetachPartition:
            return true;
        case AT_SetNotNull:
            // The proof parses the CHECKs an explained text adds.
            if (gd_text_state != nullptr)
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

} // namespace

int gd_statement_actions(Node *stmt, GdAction *out, int max, GdAnalysisOutcome *outcome) {
    GdActionList acts{out, max, 0, false, nullptr};
    Analyser analyser = analyser_for(stmt);
    // No subtransaction in parallel mode, and nothing to guard there either.
    if (analyser == nullptr || IsInParallelMode())
        return 0;

    // The analysis reads what PostgreSQL has not validated yet. Whatever
    // error it meets (a missing type, a bad bound or default, a relation
    // dropped meanwhile) PostgreSQL meets too, in its own order and words: on
    // any such error the guard steps aside. Only the analyses that parse,
    // cook or plan what the statement says can meet one; the others only
    // look things up, missing_ok, and skip the subtransaction's cost.
    Analysis analysis{analyser, stmt, &acts};
    if (!analysis_may_fail(stmt)) {
        analyse(&analysis);
    } else if (ErrorData *error = gd_try_in_subtransaction(analyse, &analysis)) {
        if (gd_error_must_propagate(error->sqlerrcode))
            ReThrowError(error);
        elog(DEBUG1, "guarded_ddl: stepping aside, the statement fails: %s", error->message);
        FreeErrorData(error);
        acts.refuse();
    }
    // explain(): a statement whose effect depends on earlier statements of
    // the text is unknown, never silently allowed, refused or not.
    if (outcome != nullptr)
        *outcome = GdAnalysisOutcome{acts.unknown, acts.refused && acts.unknown == nullptr};
    return acts.refused && acts.unknown == nullptr ? 0 : acts.n;
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
