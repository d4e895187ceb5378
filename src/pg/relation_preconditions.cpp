#include "pg/relation_preconditions.hpp"

extern "C" {
#include "catalog/catalog.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "utils/acl.h"
#include "utils/syscache.h"
}

bool gd_has_privilege(Oid relid, GdPrivilege privilege, LOCKMODE mode) {
    Oid user = GetUserId();
    if (privilege == GD_PRIV_NONE || pg_class_ownercheck(relid, user))
        return true;
    AclMode needed;
    switch (privilege) {
    case GD_PRIV_DROP:
        return pg_namespace_ownercheck(get_rel_namespace(relid), user);
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
        return pg_database_ownercheck(MyDatabaseId, user);
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
        return is_rename || relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX;
    default:
        return relkind != '\0' && relkind != RELKIND_COMPOSITE_TYPE;
    }
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

bool gd_is_temp_relation(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool temp =
        reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relpersistence == RELPERSISTENCE_TEMP;
    ReleaseSysCache(tuple);
    return temp;
}
