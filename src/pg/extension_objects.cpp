#include "pg/extension_objects.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace {

GdExtensionObjects cached{};
bool cached_valid = false;
// Counts invalidations: a look-up during which one arrived is not kept.
uint64 generation = 0;
bool looking_up = false;

void forget(void) {
    cached_valid = false;
    ++generation;
}

void forget_on_syscache(Datum, int, uint32) {
    forget();
}

void forget_on_relcache(Datum, Oid relid) {
    if (looking_up || !OidIsValid(relid) || relid == cached.ddl_log || relid == cached.lock_log ||
        relid == cached.backfill_run || relid == cached.approval ||
        relid == cached.table_policy_entry)
        forget();
}

// The OID of the extension named guarded_ddl when a superuser owns it.
Oid find_extension(void) {
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
                CStringGetDatum("guarded_ddl"));
    SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
    Oid extension = InvalidOid;
    if (HeapTuple tuple = systable_getnext(scan); HeapTupleIsValid(tuple)) {
        auto *form = reinterpret_cast<Form_pg_extension>(GETSTRUCT(tuple));
        if (superuser_arg(form->extowner))
            extension = form->oid;
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return extension;
}

// The schema named guarded_ddl, when it is a member of the extension and a
// superuser owns it.
Oid member_schema(Oid extension) {
    HeapTuple tuple = SearchSysCache1(NAMESPACENAME, CStringGetDatum("guarded_ddl"));
    if (!HeapTupleIsValid(tuple))
        return InvalidOid;
    auto *form = reinterpret_cast<Form_pg_namespace>(GETSTRUCT(tuple));
    Oid schema = form->oid;
    bool owner_ok = superuser_arg(form->nspowner);
    ReleaseSysCache(tuple);
    if (!owner_ok || getExtensionOfObject(NamespaceRelationId, schema) != extension)
        return InvalidOid;
    return schema;
}

// The ordinary table `name` in the extension's schema, when a superuser owns
// it and it is a member of the extension.
Oid member_table(Oid extension, Oid schema, const char *name) {
    Oid relid = get_relname_relid(name, schema);
    if (!OidIsValid(relid))
        return InvalidOid;
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return InvalidOid;
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    bool ok = form->relkind == RELKIND_RELATION && form->relnamespace == schema &&
              superuser_arg(form->relowner);
    ReleaseSysCache(tuple);
    if (!ok || getExtensionOfObject(RelationRelationId, relid) != extension)
        return InvalidOid;
    return relid;
}

GdExtensionObjects look_up(void) {
    GdExtensionObjects found{};
    Oid extension = find_extension();
    Oid schema = OidIsValid(extension) ? member_schema(extension) : InvalidOid;
    if (!OidIsValid(schema))
        return found;
    found.extension = extension;
    found.schema = schema;
    found.ddl_log = member_table(extension, schema, "ddl_log");
    found.lock_log = member_table(extension, schema, "lock_log");
    found.backfill_run = member_table(extension, schema, "backfill_run");
    found.fleet_rows = OidIsValid(found.ddl_log) && OidIsValid(found.lock_log) &&
                       get_attnum(found.ddl_log, "system_identifier") != InvalidAttrNumber &&
                       get_attnum(found.lock_log, "system_identifier") != InvalidAttrNumber;
    found.approval = member_table(extension, schema, "approval");
    found.table_policy_entry = member_table(extension, schema, "table_policy_entry");
    return found;
}

} // namespace

const GdExtensionObjects *gd_extension_objects(void) {
    static bool callbacks_registered = false;
    if (!callbacks_registered) {
        // CREATE and DROP EXTENSION create and drop the schema; a schema
        // renamed or given away, a role losing superuser, a table altered,
        // dropped or given away: look again.
        CacheRegisterSyscacheCallback(NAMESPACEOID, forget_on_syscache, 0);
        CacheRegisterSyscacheCallback(AUTHOID, forget_on_syscache, 0);
        CacheRegisterRelcacheCallback(forget_on_relcache, 0);
        callbacks_registered = true;
    }
    if (!cached_valid) {
        // An invalidation that arrives during the look-up (opening a
        // catalog accepts them) leaves the result uncached.
        uint64 before = generation;
        looking_up = true;
        PG_TRY();
        { cached = look_up(); }
        PG_FINALLY();
        { looking_up = false; }
        PG_END_TRY();
        cached_valid = generation == before;
    }
    return &cached;
}
