#include "pg/statement_actions.hpp"

#include "pg/change_prediction.hpp"
#include "pg/subtransaction.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/partition.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

using guarded_ddl::Facts;
using guarded_ddl::Form;

namespace {

Facts facts_of(Form form) {
    Facts f;
    f.form = form;
    return f;
}

struct Names {
    const char *column = nullptr;
    const char *constraint = nullptr;
    const char *index = nullptr;
};

struct Actions {
    GdAction *out;
    int max;
    int n;
    // PostgreSQL will refuse the statement before it does anything: the
    // guard says nothing, takes no lock, and lets PostgreSQL's own error out.
    bool refused;

    void refuse() { refused = true; }

    // Records what classify() makes of the facts for relid, once the session
    // is known to hold the privilege the statement needs on it.
    GdAction *add(Oid relid, LOCKMODE lock, const Facts &facts, GdPrivilege privilege,
                  const Names &names = {}) {
        if (refused || n >= max || !OidIsValid(relid))
            return nullptr;
        char *nsp = get_namespace_name(get_rel_namespace(relid));
        char *rel = get_rel_name(relid);
        if (nsp == nullptr || rel == nullptr || !gd_has_privilege(relid, privilege, lock)) {
            refuse(); // dropped meanwhile, or not the session's to touch
            return nullptr;
        }
        GdAction *a = &out[n++];
        *a = GdAction{};
        a->relid = relid;
        a->lock = lock;
        a->privilege = privilege;
        guarded_ddl::Classification c = guarded_ddl::classify(facts);
        // PostgreSQL never scans, rewrites or indexes a foreign table's data.
        if (gd_relkind_in(relid, "f") &&
            (c.effect == guarded_ddl::Effect::Scan || c.effect == guarded_ddl::Effect::Rewrite ||
             c.effect == guarded_ddl::Effect::IndexBuild))
            c = guarded_ddl::classify(facts_of(Form::Other));
        a->effect = c.effect;
        a->rule = c.rule;
        strlcpy(a->relation, quote_qualified_identifier(nsp, rel), sizeof a->relation);
        if (names.column != nullptr)
            strlcpy(a->column, names.column, sizeof a->column);
        if (names.constraint != nullptr)
            strlcpy(a->constraint_name, names.constraint, sizeof a->constraint_name);
        if (names.index != nullptr)
            strlcpy(a->index, names.index, sizeof a->index);
        return a;
    }

    // The relation a statement names. A missing one is PostgreSQL's to
    // report, or to skip when the statement says IF EXISTS.
    Oid find(const RangeVar *rv, bool missing_ok) {
        if (rv == nullptr)
            return InvalidOid;
        Oid relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, nullptr, nullptr);
        if (!OidIsValid(relid) && !missing_ok)
            refuse();
        return relid;
    }

    // Refuses unless relid is of one of the kinds and, where the statement
    // may not touch system catalogs, is not one.
    bool require(Oid relid, const char *kinds, bool catalog_allowed = false) {
        if (!gd_relkind_in(relid, kinds) || (!catalog_allowed && gd_is_protected_catalog(relid)))
            refuse();
        return !refused;
    }
};

bool holds_access_exclusive(Oid relid) {
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
    return LockHeldByMe(&tag, AccessExclusiveLock);
}

// An index of relid's schema named name that belongs to relid.
Oid index_of(Oid relid, const char *name) {
    Oid index = get_relname_relid(name, get_rel_namespace(relid));
    return OidIsValid(index) && IndexGetRelation(index, true) == relid ? index : InvalidOid;
}

// PostgreSQL locks the parent, then the DEFAULT partition it has to scan,
// then the new partition.
void attach_partition(Oid parent, PartitionCmd *cmd, Actions &acts) {
    if (!acts.require(parent, "p"))
        return; // "is not partitioned"
    Oid partition = acts.find(cmd->name, false);
    if (!OidIsValid(partition) || !acts.require(partition, "rpf"))
        return;
    Oid default_partition = get_default_partition_oid(parent);
    if (get_rel_relispartition(partition) || has_superclass(partition) || cmd->bound == nullptr ||
        (cmd->bound->is_default && OidIsValid(default_partition)) || partition == parent ||
        (get_rel_relispartition(parent) &&
         list_member_oid(get_partition_ancestors(parent), partition)) ||
        !gd_same_columns(parent, partition))
        return acts.refuse(); // already a partition, a second DEFAULT, circular, ...
    Facts f = facts_of(Form::AttachPartition);
    f.proven = gd_attach_bound_implied(parent, partition, cmd->bound);
    Facts default_facts = facts_of(Form::AttachPartition);
    default_facts.default_partition = true;

    acts.add(parent, ShareUpdateExclusiveLock, facts_of(Form::Other), GD_PRIV_OWNER);
    acts.add(get_default_partition_oid(parent), AccessExclusiveLock, default_facts, GD_PRIV_NONE);
    acts.add(partition, AccessExclusiveLock, f, GD_PRIV_OWNER);
}

// The parent, then the DEFAULT partition (whose constraint changes), then
// the partition leaving.
void detach_partition(Oid parent, LOCKMODE lock, PartitionCmd *cmd, Actions &acts) {
    if (!acts.require(parent, "p"))
        return;
    Oid partition = acts.find(cmd->name, false);
    if (!OidIsValid(partition))
        return;
    if (!get_rel_relispartition(partition) || get_partition_parent(partition, true) != parent) {
        acts.refuse(); // "is not a partition of"
        return;
    }
    Oid default_partition = get_default_partition_oid(parent);
    if (cmd->concurrent && OidIsValid(default_partition)) {
        acts.refuse(); // not supported with a DEFAULT partition
        return;
    }
    Facts f = facts_of(Form::DetachPartition);
    f.concurrent = cmd->concurrent;
    acts.add(parent, lock, f, GD_PRIV_OWNER);
    if (default_partition != partition)
        acts.add(default_partition, AccessExclusiveLock, facts_of(Form::Other), GD_PRIV_NONE);
    acts.add(partition, lock, f, GD_PRIV_NONE);
}

bool named_in(List *names, const char *name) {
    ListCell *lc;
    foreach (lc, names)
        if (strcmp(static_cast<const char *>(lfirst(lc)), name) == 0)
            return true;
    return false;
}

// What an ALTER TABLE statement does as a whole, which the checks of its
// subcommands need: PostgreSQL adds every new column before it adds any
// constraint, so a constraint may name a column the statement adds.
struct AlterContext {
    Oid relid;
    List *added;      // names of the columns the statement adds
    bool adds_unique; // a UNIQUE or PRIMARY KEY, which a foreign key may use
    bool adds_constraint;
    bool drops_constraint; // PostgreSQL drops before it adds: a primary key too
};

AlterContext alter_context(Oid relid, AlterTableStmt *stmt) {
    AlterContext ctx{relid, NIL, false, false, false};
    ListCell *lc;
    foreach (lc, stmt->cmds) {
        auto *cmd = castNode(AlterTableCmd, lfirst(lc));
        if (cmd->subtype == AT_AddColumn)
            ctx.added = lappend(ctx.added, castNode(ColumnDef, cmd->def)->colname);
        ctx.drops_constraint = ctx.drops_constraint || cmd->subtype == AT_DropConstraint;
        if (cmd->subtype == AT_AddConstraint) {
            ctx.adds_constraint = true;
            if (IsA(cmd->def, Constraint)) {
                ConstrType type = castNode(Constraint, cmd->def)->contype;
                ctx.adds_unique =
                    ctx.adds_unique || type == CONSTR_UNIQUE || type == CONSTR_PRIMARY;
            }
        }
    }
    return ctx;
}

// The column ALTER COLUMN, SET NOT NULL, DROP COLUMN name: a user column of
// the table, one the statement adds (nothing is known about it yet: assume
// the worst), or missing. A system column refuses the statement.
enum class Column { Exists, Added, Missing };

Column column_state(const AlterContext &ctx, const char *name, Actions &acts) {
    AttrNumber attnum = get_attnum(ctx.relid, name);
    if (attnum > 0)
        return Column::Exists;
    if (attnum == InvalidAttrNumber && named_in(ctx.added, name))
        return Column::Added;
    if (attnum < 0)
        acts.refuse();
    return Column::Missing;
}

// The columns a constraint names (String nodes) into attnums; false when
// one is a system column or neither a user column of relid nor one the
// statement adds. *known turns false when the statement adds one of them.
bool constraint_columns(Oid relid, List *names, const AlterContext *ctx, AttrNumber *attnums,
                        int max, int *n, bool *known) {
    *n = 0;
    ListCell *lc;
    foreach (lc, names) {
        const char *name = strVal(lfirst(lc));
        AttrNumber attnum = get_attnum(relid, name);
        if (attnum == InvalidAttrNumber && ctx != nullptr && ctx->relid == relid &&
            named_in(ctx->added, name)) {
            *known = false;
            continue;
        }
        if (attnum <= 0)
            return false;
        if (*n < max)
            attnums[(*n)++] = attnum;
    }
    return true;
}

// ADD FOREIGN KEY: the referencing columns exist, and the referenced ones
// carry a unique index (its primary key when none are named), as
// PostgreSQL checks before it validates anything.
bool foreign_key_valid(const AlterContext &ctx, Constraint *con, Oid referenced) {
    AttrNumber attnums[INDEX_MAX_KEYS];
    int n;
    bool known = true;
    if (!constraint_columns(ctx.relid, con->fk_attrs, &ctx, attnums, INDEX_MAX_KEYS, &n, &known) ||
        !constraint_columns(referenced, con->pk_attrs, &ctx, attnums, INDEX_MAX_KEYS, &n, &known))
        return false;
    // A key the same statement creates is not in the catalogs yet.
    if (!known || (referenced == ctx.relid && ctx.adds_unique))
        return true;
    return con->pk_attrs == NIL ? gd_has_primary_key(referenced)
                                : gd_has_unique_index_on(referenced, attnums, n);
}

// ADD UNIQUE / PRIMARY KEY (building its index): key columns exist, cover a
// partitioned table's key, and a table has one primary key at most.
bool unique_valid(const AlterContext &ctx, Constraint *con) {
    AttrNumber attnums[INDEX_MAX_KEYS];
    int n;
    bool known = true;
    if (!constraint_columns(ctx.relid, con->keys, &ctx, attnums, INDEX_MAX_KEYS, &n, &known))
        return false;
    int included;
    if (!constraint_columns(ctx.relid, con->including, &ctx, attnums + n, INDEX_MAX_KEYS - n,
                            &included, &known))
        return false;
    if (con->contype == CONSTR_PRIMARY && !ctx.drops_constraint && gd_has_primary_key(ctx.relid))
        return false;
    return !known || !gd_relkind_in(ctx.relid, "p") ||
           gd_partition_key_within(ctx.relid, attnums, n);
}

void add_constraint(const AlterContext &ctx, LOCKMODE lock, Constraint *con, Actions &acts) {
    Oid relid = ctx.relid;
    bool foreign = gd_relkind_in(relid, "f");
    Facts f;
    f.not_valid = con->skip_validation;
    switch (con->contype) {
    case CONSTR_CHECK:
        // No data of a foreign table is checked.
        f.form = foreign ? Form::Other : Form::AddCheck;
        if (ctx.added == NIL && !gd_check_columns_valid(relid, con->raw_expr))
            return acts.refuse();
        break;
    case CONSTR_FOREIGN:
        f.form = Form::AddForeignKey;
        break;
    case CONSTR_UNIQUE:
    case CONSTR_PRIMARY:
        f.form = Form::AddUnique;
        f.using_index = con->indexname != nullptr;
        if (f.using_index) {
            Oid index = index_of(relid, con->indexname);
            if (!OidIsValid(index))
                return acts.refuse();
            // UNIQUE USING INDEX needs no NOT NULL; PRIMARY KEY marks its columns.
            f.proven = con->contype == CONSTR_UNIQUE || gd_index_columns_not_null(index);
        } else if (!unique_valid(ctx, con)) {
            return acts.refuse();
        }
        break;
    case CONSTR_EXCLUSION:
        if (gd_relkind_in(relid, "p"))
            return acts.refuse(); // not supported on partitioned tables
        f.form = Form::AddExclusion;
        break;
    default:
        break; // NOT NULL and friends arrive as their own subcommands
    }
    if (foreign && f.form != Form::Other)
        return acts.refuse(); // keys and exclusions are not supported there
    // The referenced table is locked too (after the table), and read by the
    // validation.
    Oid referenced = InvalidOid;
    if (con->contype == CONSTR_FOREIGN) {
        referenced = acts.find(con->pktable, false);
        if (!OidIsValid(referenced) || !acts.require(referenced, "rp", true))
            return;
        if (!foreign_key_valid(ctx, con, referenced))
            return acts.refuse();
    }
    acts.add(relid, lock, f, GD_PRIV_OWNER, {nullptr, con->conname, con->indexname});
    if (OidIsValid(referenced))
        acts.add(referenced, ShareRowExclusiveLock, facts_of(Form::Other), GD_PRIV_REFERENCES);
}

// ALTER COLUMN TYPE: PostgreSQL refuses inherited and partition key
// columns, and columns views, rules, triggers, policies or generated
// columns depend on.
bool type_change_allowed(Oid relid, const char *column) {
    AttrNumber attnum = get_attnum(relid, column);
    return !gd_column_is_inherited(relid, attnum) && !gd_column_in_partition_key(relid, attnum) &&
           !gd_column_type_is_pinned(relid, attnum);
}

void alter_table(AlterTableStmt *stmt, Actions &acts) {
    Oid relid = acts.find(stmt->relation, stmt->missing_ok);
    if (!OidIsValid(relid))
        return; // PostgreSQL reports it (or skips it for IF EXISTS)
    // RangeVarCallbackForAlterRelation's checks, before anything else.
    if (gd_is_protected_catalog(relid) || !gd_alter_objtype_accepts(stmt->objtype, relid, false) ||
        !gd_has_privilege(relid, GD_PRIV_OWNER, NoLock))
        return acts.refuse();
    AlterContext ctx = alter_context(relid, stmt);
    // Columns of partitions and typed tables come from their parent or type.
    bool fixed_columns = get_rel_relispartition(relid) || gd_is_typed_table(relid);

    ListCell *lc;
    foreach (lc, stmt->cmds) {
        auto *cmd = castNode(AlterTableCmd, lfirst(lc));
        LOCKMODE lock = AlterTableGetLockLevel(list_make1(cmd));
        Facts f;
        switch (cmd->subtype) {
        case AT_AddColumn: {
            auto *column = castNode(ColumnDef, cmd->def);
            if (!acts.require(relid, "rpcf"))
                return;
            if (get_attnum(relid, column->colname) != InvalidAttrNumber) {
                if (!cmd->missing_ok) // ADD COLUMN IF NOT EXISTS skips it
                    acts.refuse();
                continue;
            }
            if (fixed_columns)
                return acts.refuse();
            f.form = Form::AddColumn;
            f.rewrites = gd_add_column_rewrites(column);
            f.generated = f.rewrites && gd_add_column_generates(column);
            f.scans = gd_add_column_scans(column);
            acts.add(relid, lock, f, GD_PRIV_OWNER, {column->colname});
            continue;
        }
        case AT_AlterColumnType: {
            if (!acts.require(relid, "rpcf"))
                return;
            Column state = column_state(ctx, cmd->name, acts);
            if (state == Column::Missing ||
                (state == Column::Exists &&
                 (gd_is_typed_table(relid) || !type_change_allowed(relid, cmd->name))))
                return acts.refuse();
            f.form = Form::AlterColumnType;
            f.rewrites = state == Column::Added || gd_type_change_rewrites(relid, cmd);
            f.column_has_checks = gd_column_has_checks(relid, cmd->name);
            break;
        }
        case AT_SetNotNull: {
            if (!acts.require(relid, "rpf"))
                return;
            Column state = column_state(ctx, cmd->name, acts);
            if (state == Column::Missing)
                return acts.refuse();
            f.form = Form::SetNotNull;
            f.proven = state == Column::Exists && gd_not_null_proven(relid, cmd->name);
            break;
        }
        case AT_AddConstraint:
            if (!acts.require(relid, "rpf"))
                return;
            if (IsA(cmd->def, Constraint)) {
                add_constraint(ctx, lock, castNode(Constraint, cmd->def), acts);
                continue;
            }
            break;
        case AT_ValidateConstraint:
            if (!acts.require(relid, "rpf"))
                return;
            if (!ctx.adds_constraint &&
                !OidIsValid(get_relation_constraint_oid(relid, cmd->name, true)))
                return acts.refuse();
            f.form = Form::ValidateConstraint;
            f.holds_strong_lock = holds_access_exclusive(relid);
            acts.add(relid, lock, f, GD_PRIV_OWNER, {nullptr, cmd->name});
            continue;
        case AT_DropColumn: {
            if (!acts.require(relid, "rpcf"))
                return;
            Column state = column_state(ctx, cmd->name, acts);
            if (state == Column::Missing) {
                if (!cmd->missing_ok)
                    acts.refuse();
                continue;
            }
            AttrNumber attnum = get_attnum(relid, cmd->name);
            if (state == Column::Exists &&
                (gd_is_typed_table(relid) || gd_column_is_inherited(relid, attnum) ||
                 gd_column_in_partition_key(relid, attnum) ||
                 (cmd->behavior == DROP_RESTRICT && gd_drop_is_restricted(relid, attnum))))
                return acts.refuse();
            f.form = Form::DropColumn;
            break;
        }
        case AT_SetTableSpace:
            if (!acts.require(relid, "rpmiI"))
                return;
            f.form = Form::SetTablespace;
            break;
        case AT_SetLogged:
        case AT_SetUnLogged:
            if (!acts.require(relid, "rS"))
                return;
            f.form = Form::SetLoggedUnlogged;
            break;
        case AT_SetAccessMethod:
            if (!acts.require(relid, "rm"))
                return;
            f.form = Form::SetAccessMethod;
            break;
        case AT_AttachPartition:
            if (stmt->objtype == OBJECT_TABLE) { // ALTER INDEX ATTACH is metadata
                attach_partition(relid, castNode(PartitionCmd, cmd->def), acts);
                continue;
            }
            break;
        case AT_DetachPartition:
            detach_partition(relid, lock, castNode(PartitionCmd, cmd->def), acts);
            continue;
        default:
            break;
        }
        acts.add(relid, lock, f, GD_PRIV_OWNER, {cmd->name});
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
                      GdPrivilege privilege, Actions &acts) {
    Oid table = IndexGetRelation(index, true);
    GdAction *a = acts.add(OidIsValid(table) ? table : index, table_lock, f, privilege,
                           {nullptr, nullptr, get_rel_name(index)});
    if (a != nullptr && OidIsValid(table)) {
        a->index_relid = index;
        a->index_lock = index_lock;
    }
}

void create_index(IndexStmt *s, Actions &acts) {
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
            if (column != nullptr && gd_user_column(relid, column) == InvalidAttrNumber)
                return acts.refuse();
        }
    }
    Facts f = facts_of(Form::CreateIndex);
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

void drop(DropStmt *stmt, Actions &acts) {
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
        // RESTRICT refuses what other objects depend on, unless the same
        // statement drops them too: only a single object is judged here.
        if (stmt->behavior == DROP_RESTRICT && list_length(stmt->objects) == 1 &&
            form == Form::DropTable && gd_drop_is_restricted(relid, 0))
            return acts.refuse();
        Facts f = facts_of(form);
        f.concurrent = stmt->concurrent;
        if (form == Form::DropIndex) {
            LOCKMODE lock = stmt->concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock;
            add_index_action(relid, lock, lock, f, GD_PRIV_DROP, acts);
        } else {
            acts.add(relid, AccessExclusiveLock, f, GD_PRIV_DROP);
        }
    }
}

void rename(RenameStmt *stmt, Actions &acts) {
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
            gd_user_column(relid, stmt->subname) == InvalidAttrNumber ||
            gd_column_is_inherited(relid, get_attnum(relid, stmt->subname)) ||
            get_attnum(relid, stmt->newname) != InvalidAttrNumber)
            return acts.refuse();
        acts.add(relid, AccessExclusiveLock, facts_of(Form::RenameColumn), GD_PRIV_OWNER,
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
        if (gd_relkind_in(relid, "iI"))
            acts.add(relid, ShareUpdateExclusiveLock, facts_of(Form::Other), GD_PRIV_OWNER);
        else
            acts.add(
                relid, AccessExclusiveLock,
                facts_of(stmt->renameType == OBJECT_SEQUENCE ? Form::Other : Form::RenameTable),
                GD_PRIV_OWNER);
        break;
    default: // constraints, triggers, rules, policies of the relation
        acts.add(relid, AccessExclusiveLock, facts_of(Form::Other), GD_PRIV_OWNER);
        break;
    }
}

void set_schema(AlterObjectSchemaStmt *s, Actions &acts) {
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
             facts_of(s->objectType == OBJECT_TABLE ? Form::SetSchema : Form::Other),
             GD_PRIV_OWNER);
}

void reindex(ReindexStmt *s, Actions &acts) {
    if (s->relation == nullptr)
        return; // SCHEMA, DATABASE, SYSTEM
    Facts f = facts_of(Form::Reindex);
    f.concurrent = option_is_set(s->params, "concurrently");
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid))
        return;
    bool index = s->kind == REINDEX_OBJECT_INDEX;
    // System catalogs may be reindexed, but not concurrently; partitioned
    // relations only outside a transaction block (a transaction each).
    if (!acts.require(relid, index ? "iI" : "rmpt", !f.concurrent))
        return;
    if (gd_relkind_in(relid, "pI") && IsTransactionBlock())
        return acts.refuse();
    if (index)
        add_index_action(relid, f.concurrent ? ShareUpdateExclusiveLock : ShareLock,
                         f.concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock, f,
                         GD_PRIV_OWNER, acts);
    else
        acts.add(relid, f.concurrent ? ShareUpdateExclusiveLock : ShareLock, f, GD_PRIV_OWNER);
}

void cluster(ClusterStmt *s, Actions &acts) {
    if (s->relation == nullptr)
        return; // every previously clustered table, each in its own transaction
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid) || !acts.require(relid, "rmpt", true))
        return;
    if (IsSharedRelation(relid) ||
        (s->indexname != nullptr ? !OidIsValid(index_of(relid, s->indexname))
                                 : !gd_has_clustered_index(relid)))
        return acts.refuse();
    acts.add(relid, AccessExclusiveLock, facts_of(Form::Cluster), GD_PRIV_OWNER);
}

// VACUUM skips, with a WARNING, the tables the session may not vacuum and
// relations that are not tables; it refuses only relations that are missing.
void vacuum(VacuumStmt *s, Actions &acts) {
    bool full = s->is_vacuumcmd && option_is_set(s->options, "full");
    LOCKMODE lock = full ? AccessExclusiveLock : ShareUpdateExclusiveLock;
    ListCell *lc;
    foreach (lc, s->rels) {
        Oid relid = acts.find(castNode(VacuumRelation, lfirst(lc))->relation, false);
        if (OidIsValid(relid) && gd_relkind_in(relid, "rmtp") &&
            gd_has_privilege(relid, GD_PRIV_MAINTAIN, lock))
            acts.add(relid, lock, facts_of(full ? Form::VacuumFull : Form::Other),
                     GD_PRIV_MAINTAIN);
    }
}

void refresh(RefreshMatViewStmt *s, Actions &acts) {
    Oid relid = acts.find(s->relation, false);
    if (!OidIsValid(relid) || !acts.require(relid, "m"))
        return;
    Facts f = facts_of(Form::RefreshMaterializedView);
    f.concurrent = s->concurrent;
    acts.add(relid, s->concurrent ? ExclusiveLock : AccessExclusiveLock, f, GD_PRIV_OWNER);
}

// ALTER DOMAIN ... ADD CONSTRAINT / SET NOT NULL checks every column of the
// domain: each table using it is scanned. PostgreSQL checks the domain's
// ownership, not the tables'.
void alter_domain(AlterDomainStmt *stmt, Actions &acts) {
    bool checks = stmt->subtype == 'O' ||
                  (stmt->subtype == 'C' && !castNode(Constraint, stmt->def)->skip_validation);
    if (!checks)
        return;
    Oid domain = typenameTypeId(nullptr, makeTypeNameFromNameList(stmt->typeName));
    if (get_typtype(domain) != TYPTYPE_DOMAIN || !pg_type_ownercheck(domain, GetUserId()))
        return acts.refuse();
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
                     GD_PRIV_NONE, {NameStr(att->attname)});
    }
    systable_endscan(scan);
    table_close(pg_attribute, AccessShareLock);
}

// The statements that name a relation in the statement itself, each with
// the relkinds PostgreSQL accepts there.
void simple_target(RangeVar *rv, const char *kinds, LOCKMODE lock, GdPrivilege privilege,
                   Actions &acts) {
    Oid relid = acts.find(rv, false);
    if (OidIsValid(relid) && acts.require(relid, kinds))
        acts.add(relid, lock, facts_of(Form::Other), privilege);
}

void truncate_tables(Node *stmt, Actions &acts) {
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
        acts.add(relid, AccessExclusiveLock, facts_of(Form::Truncate), GD_PRIV_TRUNCATE);
    }
}

void lock_table(Node *stmt, Actions &acts) {
    auto *s = castNode(LockStmt, stmt);
    if (s->nowait) // NOWAIT never queues: nothing to guard
        return;
    ListCell *lc;
    foreach (lc, s->relations) {
        Oid relid = acts.find(castNode(RangeVar, lfirst(lc)), false);
        if (OidIsValid(relid) && acts.require(relid, "rpv", true))
            acts.add(relid, s->mode, facts_of(Form::Other), GD_PRIV_LOCK);
    }
}

using Analyser = void (*)(Node *, Actions &);

template <typename Stmt, void (*analyse)(Stmt *, Actions &)>
void cast_to(Node *stmt, Actions &acts) {
    analyse(reinterpret_cast<Stmt *>(stmt), acts);
}

// What reads a statement of this kind; null for statements that touch no
// existing relation in a way the guard judges.
Analyser analyser_for(Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_AlterTableStmt:
        return cast_to<AlterTableStmt, alter_table>;
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
        return [](Node *s, Actions &acts) {
            simple_target(castNode(CreateTrigStmt, s)->relation, "rpvf", ShareRowExclusiveLock,
                          GD_PRIV_TRIGGER, acts);
        };
    case T_RuleStmt:
        return [](Node *s, Actions &acts) {
            simple_target(castNode(RuleStmt, s)->relation, "rpv", AccessExclusiveLock,
                          GD_PRIV_OWNER, acts);
        };
    case T_CreatePolicyStmt:
        return [](Node *s, Actions &acts) {
            simple_target(castNode(CreatePolicyStmt, s)->table, "rp", AccessExclusiveLock,
                          GD_PRIV_OWNER, acts);
        };
    case T_AlterPolicyStmt:
        return [](Node *s, Actions &acts) {
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
    Actions *acts;
};

void analyse(void *arg) {
    auto *a = static_cast<Analysis *>(arg);
    a->analyser(a->stmt, *a->acts);
}

// Errors that say something about the session or the server rather than
// about the statement: never swallowed.
bool must_propagate(int sqlerrcode) {
    switch (ERRCODE_TO_CATEGORY(sqlerrcode)) {
    case ERRCODE_INSUFFICIENT_RESOURCES:
    case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
    case ERRCODE_OPERATOR_INTERVENTION:
    case ERRCODE_SYSTEM_ERROR:
    case ERRCODE_TRANSACTION_ROLLBACK:
        return true;
    default:
        return false;
    }
}

} // namespace

int gd_statement_actions(Node *stmt, GdAction *out, int max) {
    Actions acts{out, max, 0, false};
    Analyser analyser = analyser_for(stmt);
    // No subtransaction in parallel mode, and nothing to guard there either.
    if (analyser == nullptr || IsInParallelMode())
        return 0;

    // The analysis reads what PostgreSQL has not validated yet. Whatever
    // error it meets (a missing type, a bad bound, a relation dropped
    // meanwhile) PostgreSQL meets too, in its own order and words: on any
    // such error the guard steps aside.
    Analysis analysis{analyser, stmt, &acts};
    if (ErrorData *error = gd_try_in_subtransaction(analyse, &analysis)) {
        if (must_propagate(error->sqlerrcode))
            ReThrowError(error);
        elog(DEBUG1, "guarded_ddl: stepping aside, the statement fails: %s", error->message);
        FreeErrorData(error);
        acts.refuse();
    }
    return acts.refused ? 0 : acts.n;
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
