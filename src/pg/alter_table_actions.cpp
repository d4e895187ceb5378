// What an ALTER TABLE statement will do: each subcommand's lock and effect,
// once the checks PostgreSQL makes before that work have passed.
#include "pg/action_list.hpp"
#include "pg/change_prediction.hpp"
#include "pg/text_state.hpp"

extern "C" {
#include "catalog/partition.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "commands/tablespace.h"
#include "utils/syscache.h"
#include "nodes/makefuncs.h"
}

using guarded_ddl::Facts;
using guarded_ddl::Form;

namespace {

// PostgreSQL locks the parent, then the DEFAULT partition it has to scan,
// then the new partition.
void attach_partition(Oid parent, PartitionCmd *cmd, GdActionList &acts) {
    if (!acts.require(parent, "p"))
        return; // "is not partitioned"
    Oid partition = acts.find(cmd->name, false);
    if (!OidIsValid(partition) || !acts.require(partition, "rpf"))
        return;
    // Columns an explained text changes earlier: whether they match then is
    // not in the catalogs.
    bool columns_known =
        !gd_text_touches_column(parent, nullptr) && !gd_text_touches_column(partition, nullptr);
    if (!columns_known)
        acts.unknowable("An earlier statement of the text changes the columns of the table or "
                        "the partition: whether they still match depends on what was done.");
    Oid default_partition = get_default_partition_oid(parent);
    if (get_rel_relispartition(partition) || has_superclass(partition) || cmd->bound == nullptr ||
        (cmd->bound->is_default && OidIsValid(default_partition)) || partition == parent ||
        (get_rel_relispartition(parent) &&
         list_member_oid(get_partition_ancestors(parent), partition)) ||
        (columns_known && !gd_same_columns(parent, partition)))
        return acts.refuse(); // already a partition, a second DEFAULT, circular, ...
    Facts f = gd_facts_of(Form::AttachPartition);
    f.proven = gd_attach_bound_implied(parent, partition, cmd->bound);
    Facts default_facts = gd_facts_of(Form::AttachPartition);
    default_facts.default_partition = true;

    acts.add(parent, ShareUpdateExclusiveLock, gd_facts_of(Form::Other), GD_PRIV_OWNER);
    acts.add(get_default_partition_oid(parent), AccessExclusiveLock, default_facts, GD_PRIV_NONE);
    acts.add(partition, AccessExclusiveLock, f, GD_PRIV_OWNER);
}

// The parent, then the DEFAULT partition (whose constraint changes), then
// the partition leaving.
void detach_partition(Oid parent, LOCKMODE lock, PartitionCmd *cmd, GdActionList &acts) {
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
    Facts f = gd_facts_of(Form::DetachPartition);
    f.concurrent = cmd->concurrent;
    acts.add(parent, lock, f, GD_PRIV_OWNER);
    if (default_partition != partition)
        acts.add(default_partition, AccessExclusiveLock, gd_facts_of(Form::Other), GD_PRIV_NONE);
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

Column column_state(const AlterContext &ctx, const char *name, GdActionList &acts) {
    if (acts.touched_by_text(ctx.relid, name))
        return Column::Added;
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
                        int max, int *n, bool *known, GdActionList &acts) {
    *n = 0;
    ListCell *lc;
    foreach (lc, names) {
        const char *name = strVal(lfirst(lc));
        AttrNumber attnum = get_attnum(relid, name);
        if (acts.touched_by_text(relid, name) ||
            (attnum == InvalidAttrNumber && ctx != nullptr && ctx->relid == relid &&
             named_in(ctx->added, name))) {
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
bool foreign_key_valid(const AlterContext &ctx, Constraint *con, Oid referenced,
                       GdActionList &acts) {
    AttrNumber attnums[INDEX_MAX_KEYS];
    int n;
    bool known = true;
    if (!constraint_columns(ctx.relid, con->fk_attrs, &ctx, attnums, INDEX_MAX_KEYS, &n, &known,
                            acts) ||
        !constraint_columns(referenced, con->pk_attrs, &ctx, attnums, INDEX_MAX_KEYS, &n, &known,
                            acts))
        return false;
    // A key the same statement creates is not in the catalogs yet.
    if (!known || (referenced == ctx.relid && ctx.adds_unique))
        return true;
    return con->pk_attrs == NIL ? gd_has_primary_key(referenced)
                                : gd_has_unique_index_on(referenced, attnums, n);
}

// ADD UNIQUE / PRIMARY KEY (building its index): key columns exist, cover a
// partitioned table's key, and a table has one primary key at most.
bool unique_valid(const AlterContext &ctx, Constraint *con, GdActionList &acts) {
    AttrNumber attnums[INDEX_MAX_KEYS];
    int n;
    bool known = true;
    if (!constraint_columns(ctx.relid, con->keys, &ctx, attnums, INDEX_MAX_KEYS, &n, &known, acts))
        return false;
    int included;
    if (!constraint_columns(ctx.relid, con->including, &ctx, attnums + n, INDEX_MAX_KEYS - n,
                            &included, &known, acts))
        return false;
    if (con->contype == CONSTR_PRIMARY && !ctx.drops_constraint && gd_has_primary_key(ctx.relid))
        return false;
    return !known || !gd_relkind_in(ctx.relid, "p") ||
           gd_partition_key_within(ctx.relid, attnums, n);
}

void add_constraint(const AlterContext &ctx, LOCKMODE lock, Constraint *con, GdActionList &acts) {
    Oid relid = ctx.relid;
    bool foreign = gd_relkind_in(relid, "f");
    Facts f;
    // A NOT ENFORCED constraint (PostgreSQL 18) is never checked against
    // the rows, as if NOT VALID.
    f.not_valid = con->skip_validation || !gd_constraint_enforced(con);
    switch (con->contype) {
    case CONSTR_CHECK:
        // No data of a foreign table is checked.
        f.form = foreign ? Form::Other : Form::AddCheck;
        // Columns this statement or an explained text's earlier ones add are
        // not in the catalogs yet.
        if (ctx.added == NIL && !gd_text_touches_column(relid, nullptr) &&
            !gd_check_columns_valid(relid, con->raw_expr))
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
            Oid index = gd_index_of(relid, con->indexname);
            if (!OidIsValid(index))
                return acts.refuse();
            // UNIQUE USING INDEX needs no NOT NULL; PRIMARY KEY marks its columns.
            f.proven = con->contype == CONSTR_UNIQUE || gd_index_columns_not_null(index);
        } else if (!unique_valid(ctx, con, acts)) {
            return acts.refuse();
        }
        break;
    case CONSTR_EXCLUSION:
        if (gd_relkind_in(relid, "p"))
            return acts.refuse(); // not supported on partitioned tables
        f.form = Form::AddExclusion;
        break;
    case CONSTR_NOTNULL: {
        // PostgreSQL 18: ADD CONSTRAINT ... NOT NULL column is SET NOT NULL
        // under a name, and NOT VALID skips its scan.
        const char *column = list_length(con->keys) == 1 ? strVal(linitial(con->keys)) : nullptr;
        if (column == nullptr || column_state(ctx, column, acts) == Column::Missing)
            return acts.refuse();
        f.form = Form::SetNotNull;
        f.proven = f.not_valid || gd_not_null_proven(relid, column);
        break;
    }
    default:
        break; // NOT NULL of PostgreSQL 15 and friends arrive as their own subcommands
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
        if (!foreign_key_valid(ctx, con, referenced, acts))
            return acts.refuse();
    }
    acts.add(relid, lock, f, GD_PRIV_OWNER, GdNames{nullptr, con->conname, con->indexname});
    if (OidIsValid(referenced))
        acts.add(referenced, ShareRowExclusiveLock, gd_facts_of(Form::Other), GD_PRIV_REFERENCES);
}

// The constraints written on a new column: PostgreSQL adds them as table
// constraints on that column, so they are judged as those are. A CHECK is
// verified by a scan of its own unless the column's rewrite writes every
// row anyway; a foreign key is valid at once, unscanned, unless the column
// has a default (transformAlterTableStmt, which sees one subcommand at a
// time).
void add_column_constraints(const AlterContext &ctx, LOCKMODE lock, const ColumnDef *column,
                            bool rewrites, GdActionList &acts) {
    ListCell *lc;
    foreach (lc, column->constraints) {
        auto *con = castNode(Constraint, lfirst(lc));
        bool judged = con->contype == CONSTR_FOREIGN || con->contype == CONSTR_UNIQUE ||
                      con->contype == CONSTR_PRIMARY || (con->contype == CONSTR_CHECK && !rewrites);
        if (!judged)
            continue;
        auto *table_constraint = static_cast<Constraint *>(copyObjectImpl(con));
        List *self = list_make1(makeString(column->colname));
        if (con->contype == CONSTR_FOREIGN) {
            table_constraint->fk_attrs = self;
            table_constraint->skip_validation = !gd_add_column_has_default(column);
        } else if (con->contype != CONSTR_CHECK) {
            table_constraint->keys = self;
        }
        add_constraint(ctx, lock, table_constraint, acts);
    }
}

// Subcommands that rewrite the relation whatever they are given, with the
// relkinds ATSimplePermissions accepts for each.
struct RewritingForm {
    AlterTableType subtype;
    const char *kinds;
    Form form;
};

const RewritingForm *rewriting_form(AlterTableType subtype) {
    static const RewritingForm forms[] = {
        {AT_SetTableSpace, "rpmiI", Form::SetTablespace},
        {AT_SetLogged, "rS", Form::SetLoggedUnlogged},
        {AT_SetUnLogged, "rS", Form::SetLoggedUnlogged},
        {AT_SetAccessMethod, "rm", Form::SetAccessMethod},
    };
    for (const RewritingForm &f : forms)
        if (f.subtype == subtype)
            return &f;
    return nullptr;
}

// ALTER COLUMN TYPE: PostgreSQL refuses inherited and partition key
// columns, and columns views, rules, triggers, policies or generated
// columns depend on.
// PostgreSQL returns early, copying nothing, when the relation already is
// what the subcommand asks for (SET LOGGED of a permanent table, SET
// TABLESPACE to its own tablespace), or has no storage to copy (a
// partitioned table or index).
bool rewrite_is_noop(Oid relid, const AlterTableCmd *cmd) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    auto *rel = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    bool noop = false;
    switch (cmd->subtype) {
    case AT_SetLogged:
        noop = rel->relpersistence == RELPERSISTENCE_PERMANENT;
        break;
    case AT_SetUnLogged:
        noop = rel->relpersistence == RELPERSISTENCE_UNLOGGED;
        break;
    case AT_SetTableSpace: {
        if (!RELKIND_HAS_STORAGE(rel->relkind)) {
            noop = true;
            break;
        }
        // As ATPrepSetTableSpace compares: the database's default is 0. An
        // unknown name is PostgreSQL's to report.
        Oid target = cmd->name != nullptr ? get_tablespace_oid(cmd->name, true) : InvalidOid;
        if (!OidIsValid(target))
            break;
        if (target == MyDatabaseTableSpace)
            target = InvalidOid;
        noop = target == rel->reltablespace;
        break;
    }
    default:
        break;
    }
    ReleaseSysCache(tuple);
    return noop;
}

bool type_change_allowed(Oid relid, const char *column) {
    AttrNumber attnum = get_attnum(relid, column);
    return !gd_column_is_inherited(relid, attnum) && !gd_column_in_partition_key(relid, attnum) &&
           !gd_column_type_is_pinned(relid, attnum);
}

} // namespace

void gd_alter_table_actions(AlterTableStmt *stmt, GdActionList &acts) {
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
            if (acts.touched_by_text(relid, column->colname))
                continue; // what is there by then is the text's doing
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
            add_column_constraints(ctx, lock, column, f.rewrites, acts);
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
            // A column added earlier in the statement holds no values yet.
            f.lossy = state == Column::Exists && gd_type_change_loses_data(relid, cmd);
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
            // A constraint an explained text adds is not in the catalogs
            // yet; one it drops is gone from them.
            if (gd_text_adds_constraint(relid, cmd->name)
                    ? false
                    : gd_text_drops_constraint(relid, cmd->name) ||
                          (!ctx.adds_constraint &&
                           !OidIsValid(get_relation_constraint_oid(relid, cmd->name, true))))
                return acts.refuse();
            f.form = Form::ValidateConstraint;
            f.holds_strong_lock = gd_transaction_holds(relid, AccessExclusiveLock);
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
                 gd_column_in_partition_key(relid, attnum)))
                return acts.refuse();
            f.form = Form::DropColumn;
            if (GdAction *a = acts.add(relid, lock, f, GD_PRIV_OWNER, {cmd->name})) {
                a->restrict_check = state == Column::Exists && cmd->behavior == DROP_RESTRICT;
                a->restrict_attnum = attnum;
            }
            continue;
        }
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
            if (const RewritingForm *rewriting = rewriting_form(cmd->subtype)) {
                if (!acts.require(relid, rewriting->kinds))
                    return;
                if (!rewrite_is_noop(relid, cmd))
                    f.form = rewriting->form;
            }
            break;
        }
        acts.add(relid, lock, f, GD_PRIV_OWNER, {cmd->name});
    }
}
