#include "pg/relation_preconditions.hpp"

#include "pg/catalog_scan.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_index.h"
#include "catalog/pg_partitioned_table.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_trigger.h"
#include "utils/fmgroids.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "optimizer/optimizer.h"
}

bool gd_has_privilege(Oid relid, GdPrivilege privilege, LOCKMODE mode) {
    Oid user = GetUserId();
    if (privilege == GD_PRIV_NONE || gd_owns(RelationRelationId, relid, user))
        return true;
    AclMode needed;
    switch (privilege) {
    case GD_PRIV_DROP:
        return gd_owns(NamespaceRelationId, get_rel_namespace(relid), user);
    case GD_PRIV_TRUNCATE:
        needed = ACL_TRUNCATE;
        break;
    case GD_PRIV_TRIGGER:
        needed = ACL_TRIGGER;
        break;
    case GD_PRIV_REFERENCES:
        needed = ACL_REFERENCES;
        break;
    case GD_PRIV_LOCK:
        // The same privileges LOCK TABLE itself requires for each mode.
        needed = ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
        if (mode == AccessShareLock)
            needed |= ACL_SELECT;
        else if (mode == RowExclusiveLock)
            needed |= ACL_INSERT;
        break;
    case GD_PRIV_MAINTAIN:
        return gd_owns(DatabaseRelationId, MyDatabaseId, user);
    default:
        return false;
    }
    return pg_class_aclcheck(relid, user, needed) == ACLCHECK_OK;
}

bool gd_relkind_in(Oid relid, const char *kinds) {
    char relkind = get_rel_relkind(relid);
    return relkind != '\0' && strchr(kinds, relkind) != nullptr;
}

bool gd_is_protected_catalog(Oid relid) {
    return !allowSystemTableMods &&
           (IsCatalogRelationOid(relid) || IsToastNamespace(get_rel_namespace(relid)));
}

bool gd_alter_objtype_accepts(ObjectType objtype, Oid relid, bool is_rename) {
    char relkind = get_rel_relkind(relid);
    switch (objtype) {
    case OBJECT_SEQUENCE:
        return relkind == RELKIND_SEQUENCE;
    case OBJECT_VIEW:
        return relkind == RELKIND_VIEW;
    case OBJECT_MATVIEW:
        return relkind == RELKIND_MATVIEW;
    case OBJECT_FOREIGN_TABLE:
        return relkind == RELKIND_FOREIGN_TABLE;
    case OBJECT_TYPE:
        return relkind == RELKIND_COMPOSITE_TYPE;
    case OBJECT_INDEX:
        if (!is_rename && relkind != RELKIND_INDEX && relkind != RELKIND_PARTITIONED_INDEX)
            return false;
        break;
    default:
        break;
    }
    // ALTER TYPE is the one way to change a composite type.
    return relkind != '\0' && relkind != RELKIND_COMPOSITE_TYPE;
}

AttrNumber gd_user_column(Oid relid, const char *column) {
    if (column == nullptr)
        return InvalidAttrNumber;
    AttrNumber attnum = get_attnum(relid, column);
    return attnum > 0 ? attnum : InvalidAttrNumber;
}

namespace {

// Calls fn on each user column of relid that is not dropped; false when relid
// is gone.
template <typename F> bool for_each_column(Oid relid, F fn) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    int natts = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relnatts;
    ReleaseSysCache(tuple);
    for (int attnum = 1; attnum <= natts; attnum++) {
        HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
        if (!HeapTupleIsValid(att))
            continue;
        auto *form = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att));
        if (!form->attisdropped)
            fn(form);
        ReleaseSysCache(att);
    }
    return true;
}

} // namespace

bool gd_same_columns(Oid relid, Oid other) {
    int columns = 0;
    bool same = true;
    bool found = for_each_column(relid, [&](Form_pg_attribute att) {
        columns++;
        HeapTuple match = SearchSysCacheAttName(other, NameStr(att->attname));
        if (!HeapTupleIsValid(match)) {
            same = false;
            return;
        }
        auto *m = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(match));
        same = same && m->attnum > 0 && m->atttypid == att->atttypid &&
               m->atttypmod == att->atttypmod && m->attcollation == att->attcollation;
        ReleaseSysCache(match);
    });
    int other_columns = 0;
    found = found && for_each_column(other, [&](Form_pg_attribute) { other_columns++; });
    return found && same && columns == other_columns;
}

bool gd_column_is_inherited(Oid relid, AttrNumber attnum) {
    HeapTuple tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool inherited = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple))->attinhcount > 0;
    ReleaseSysCache(tuple);
    return inherited;
}

namespace {

// Calls fn with the partitioned table's key columns (0 for an expression)
// and, when there are expressions, the columns they use.
template <typename F> bool for_partition_key(Oid relid, F fn) {
    HeapTuple tuple = SearchSysCache1(PARTRELID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    auto *key = reinterpret_cast<Form_pg_partitioned_table>(GETSTRUCT(tuple));
    for (int i = 0; i < key->partnatts; i++)
        fn(key->partattrs.values[i]);
    bool isnull;
    Datum exprs = SysCacheGetAttr(PARTRELID, tuple, Anum_pg_partitioned_table_partexprs, &isnull);
    if (!isnull) {
        Bitmapset *used = nullptr;
        pull_varattnos(static_cast<Node *>(stringToNode(TextDatumGetCString(exprs))), 1, &used);
        for (int m = -1; (m = bms_next_member(used, m)) >= 0;)
            fn(static_cast<AttrNumber>(m + FirstLowInvalidHeapAttributeNumber));
    }
    ReleaseSysCache(tuple);
    return true;
}

// Calls fn on each pg_index row of relid's indexes.
template <typename F> void for_each_index(Oid relid, F fn) {
    gd_scan_catalog_by_oid(IndexRelationId, IndexIndrelidIndexId, Anum_pg_index_indrelid, relid,
                           [&](Relation, HeapTuple tuple) {
                               fn(tuple, reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple)));
                           });
}

// Calls fn on each pg_depend row of an object depending on relid, or on its
// column attnum (0: on any part of it).
template <typename F> void for_each_dependent(Oid relid, AttrNumber attnum, F fn) {
    ScanKeyData keys[3];
    ScanKeyInit(&keys[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(RelationRelationId));
    ScanKeyInit(&keys[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(relid));
    ScanKeyInit(&keys[2], Anum_pg_depend_refobjsubid, BTEqualStrategyNumber, F_INT4EQ,
                Int32GetDatum(attnum));
    gd_scan_catalog(
        DependRelationId, DependReferenceIndexId, keys, attnum == 0 ? 2 : 3,
        [&](Relation, HeapTuple tuple) { fn(reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple))); });
}

} // namespace

bool gd_column_in_partition_key(Oid relid, AttrNumber attnum) {
    bool found = false;
    for_partition_key(relid, [&](AttrNumber key) { found = found || key == attnum; });
    return found;
}

bool gd_partition_key_within(Oid relid, const AttrNumber *attnums, int n) {
    bool within = true;
    bool expressions = false;
    for_partition_key(relid, [&](AttrNumber key) {
        expressions = expressions || key == InvalidAttrNumber;
        bool listed = false;
        for (int i = 0; i < n; i++)
            listed = listed || attnums[i] == key;
        within = within && listed;
    });
    return within && !expressions;
}

bool gd_column_type_is_pinned(Oid relid, AttrNumber attnum) {
    bool pinned = false;
    for_each_dependent(relid, attnum, [&](Form_pg_depend dep) {
        pinned = pinned || dep->classid == RewriteRelationId || dep->classid == TriggerRelationId ||
                 dep->classid == PolicyRelationId ||
                 (dep->classid == RelationRelationId && dep->objid == relid && dep->objsubid != 0);
    });
    return pinned;
}

bool gd_drop_is_restricted(Oid relid, AttrNumber attnum) {
    // Dependents on the relation, or on the column: the normal ones, and
    // those dropped along (automatic or internal).
    List *normal = NIL;
    List *along = NIL;
    for_each_dependent(relid, attnum, [&](Form_pg_depend dep) {
        auto *object = static_cast<ObjectAddress *>(palloc(sizeof(ObjectAddress)));
        *object = ObjectAddress{dep->classid, dep->objid, dep->objsubid};
        if (dep->deptype == DEPENDENCY_NORMAL)
            normal = lappend(normal, object);
        else if (dep->deptype == DEPENDENCY_AUTO || dep->deptype == DEPENDENCY_INTERNAL)
            along = lappend(along, object);
    });

    ListCell *n;
    foreach (n, normal) {
        auto *object = static_cast<ObjectAddress *>(lfirst(n));
        bool dropped_along = false;
        ListCell *a;
        foreach (a, along) {
            auto *other = static_cast<ObjectAddress *>(lfirst(a));
            dropped_along = dropped_along || (other->classId == object->classId &&
                                              other->objectId == object->objectId);
        }
        if (!dropped_along)
            return true;
    }
    return false;
}

Oid gd_index_of(Oid relid, const char *name) {
    Oid index = get_relname_relid(name, get_rel_namespace(relid));
    return OidIsValid(index) && IndexGetRelation(index, true) == relid ? index : InvalidOid;
}

bool gd_has_clustered_index(Oid relid) {
    bool found = false;
    for_each_index(relid,
                   [&](HeapTuple, Form_pg_index index) { found = found || index->indisclustered; });
    return found;
}

bool gd_has_primary_key(Oid relid) {
    bool found = false;
    for_each_index(relid,
                   [&](HeapTuple, Form_pg_index index) { found = found || index->indisprimary; });
    return found;
}

bool gd_has_unique_index_on(Oid relid, const AttrNumber *attnums, int n) {
    bool found = false;
    for_each_index(relid, [&](HeapTuple tuple, Form_pg_index index) {
        if (found || !index->indisunique || !index->indimmediate || index->indnkeyatts != n ||
            !heap_attisnull(tuple, Anum_pg_index_indpred, nullptr) ||
            !heap_attisnull(tuple, Anum_pg_index_indexprs, nullptr))
            return;
        bool same = true;
        for (int i = 0; i < n && same; i++) {
            bool listed = false;
            for (int j = 0; j < n; j++)
                listed = listed || index->indkey.values[i] == attnums[j];
            same = listed;
        }
        found = same;
    });
    return found;
}

bool gd_is_typed_table(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool typed = OidIsValid(reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->reloftype);
    ReleaseSysCache(tuple);
    return typed;
}

bool gd_is_temp_relation(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool temp =
        reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relpersistence == RELPERSISTENCE_TEMP;
    ReleaseSysCache(tuple);
    return temp;
}
