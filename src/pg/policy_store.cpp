#include "pg/policy_store.hpp"

#include "pg/cpp_boundary.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace {

// The extension's schema, when the extension is installed here.
Oid extension_schema(void) {
    Oid extension = get_extension_oid("guarded_ddl", true);
    return OidIsValid(extension) ? get_namespace_oid("guarded_ddl", true) : InvalidOid;
}

} // namespace

GdTablePolicy gd_table_policy(Oid relid) {
    GdTablePolicy policy{std::nullopt, false, {}};
    Oid schema = extension_schema();
    Oid table = OidIsValid(schema) ? get_relname_relid("table_policy_entry", schema) : InvalidOid;
    if (!OidIsValid(table))
        return policy;

    Relation rel = table_open(table, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
    char *rules = nullptr;
    if (HeapTuple tuple = systable_getnext(scan); HeapTupleIsValid(tuple)) {
        TupleDesc desc = RelationGetDescr(rel);
        bool isnull;
        Datum large = heap_getattr(tuple, 2, desc, &isnull);
        if (!isnull)
            policy.large = DatumGetBool(large);
        Datum rules_datum = heap_getattr(tuple, 3, desc, &isnull);
        if (!isnull)
            rules = TextDatumGetCString(rules_datum);
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);

    if (rules != nullptr) {
        policy.has_rules = true;
        policy.rules =
            guarded_ddl::pg::invoke_cpp([&] { return guarded_ddl::parse_rule_overrides(rules); });
    }
    return policy;
}

int64 gd_take_approval(guarded_ddl::RuleId rule, Oid relid, bool consume) {
    Oid schema = extension_schema();
    if (!OidIsValid(schema))
        return 0;
    Oid argtypes[3] = {TEXTOID, OIDOID, BOOLOID};
    oidvector *args = buildoidvector(argtypes, 3);
    Oid function =
        GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("take_approval"),
                        PointerGetDatum(args), ObjectIdGetDatum(schema));
    if (!OidIsValid(function))
        return 0;
    std::string_view name = guarded_ddl::rule(rule).name;
    // Called by OID: fmgr honours SECURITY DEFINER, and no privilege on the
    // schema is needed, just as for the hook itself.
    return DatumGetInt64(OidFunctionCall3(
        function,
        PointerGetDatum(cstring_to_text_with_len(name.data(), static_cast<int>(name.size()))),
        ObjectIdGetDatum(relid), BoolGetDatum(consume)));
}
