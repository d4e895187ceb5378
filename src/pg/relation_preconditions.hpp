// What PostgreSQL establishes about a relation before it acts on it: that it
// exists, is of a kind the command accepts, is not a system catalog the
// command may not touch, and that the session holds the privilege. The hook
// runs before any of that: where a check fails, the guard steps aside and
// PostgreSQL reports its own error.
#pragma once

#include "pg/prelude.hpp"

// What the session must be allowed to do to a relation before the guard may
// judge it or queue a lock on it.
enum GdPrivilege {
    GD_PRIV_OWNER,      // ALTER, CREATE INDEX, CLUSTER, REFRESH, ...
    GD_PRIV_DROP,       // DROP: owner of the relation or of its schema
    GD_PRIV_TRUNCATE,   // TRUNCATE
    GD_PRIV_TRIGGER,    // CREATE TRIGGER
    GD_PRIV_REFERENCES, // the table a new foreign key points to
    GD_PRIV_LOCK,       // LOCK TABLE: the privilege depends on the mode
    GD_PRIV_MAINTAIN,   // VACUUM, ANALYZE: owner or database owner
    GD_PRIV_NONE,       // PostgreSQL checks nothing on this relation
};

bool gd_has_privilege(Oid relid, GdPrivilege privilege, LOCKMODE mode);

// relkind is one of the characters in kinds ("rp" for tables, ...).
// A relation dropped meanwhile has relkind '\0' and matches nothing.
bool gd_relkind_in(Oid relid, const char *kinds);

// A system catalog (or TOAST table) that DDL may only change with
// allow_system_table_mods.
bool gd_is_protected_catalog(Oid relid);

// The relkinds ALTER <objtype> accepts for the relation it names, as
// RangeVarCallbackForAlterRelation decides.
bool gd_alter_objtype_accepts(ObjectType objtype, Oid relid, bool is_rename);

// The attribute number of a user column, or InvalidAttrNumber when the
// column is missing, dropped or a system column.
AttrNumber gd_user_column(Oid relid, const char *column);

// Whether two relations have the same user columns (names, types, typmods
// and collations), as ATTACH PARTITION requires of a partition.
bool gd_same_columns(Oid relid, Oid other);

// A column ALTER TABLE may not change on its own: inherited from a parent
// (attinhcount), or part of the partition key.
bool gd_column_is_inherited(Oid relid, AttrNumber attnum);
bool gd_column_in_partition_key(Oid relid, AttrNumber attnum);

// Objects that make ALTER COLUMN TYPE refuse: views and rules, triggers,
// policies and generated columns using the column.
bool gd_column_type_is_pinned(Oid relid, AttrNumber attnum);

// Whether the partitioned table's key is made of plain columns only, all of
// them among attnums (n of them), as a UNIQUE or PRIMARY KEY on it needs.
bool gd_partition_key_within(Oid relid, const AttrNumber *attnums, int n);

// The index of relid's schema named name, when it is one of relid's.
Oid gd_index_of(Oid relid, const char *name);

// relid's indexes, as pg_index has them.
bool gd_has_clustered_index(Oid relid);
bool gd_has_primary_key(Oid relid);
// A unique index a foreign key may reference: on exactly these columns (in
// any order), neither partial nor on expressions, not deferrable.
bool gd_has_unique_index_on(Oid relid, const AttrNumber *attnums, int n);

// Whether DROP ... RESTRICT of the relation (attnum 0) or of one column
// fails because another object depends on it: a normal dependency from an
// object that is not dropped along with it (no automatic or internal
// dependency of the same object on it).
bool gd_drop_is_restricted(Oid relid, AttrNumber attnum);

// A table created OF a composite type: its columns are the type's.
bool gd_is_typed_table(Oid relid);

// Whether relid is a temporary relation; false for one dropped meanwhile.
bool gd_is_temp_relation(Oid relid);
