#include "pg/size_profile.hpp"

#include "pg/catalog_scan.hpp"
#include "pg/extension_objects.hpp"
#include "pg/oid_cache.hpp"
#include "pg/own_table_lock.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "lib/stringinfo.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

extern "C" {
PG_FUNCTION_INFO_V1(gd_export_size_profile);
PG_FUNCTION_INFO_V1(gd_check_size_profile_size);
}

namespace {

// guarded_ddl.size_profile_entry's columns (extension script order).
constexpr AttrNumber col_schema_name = 1;
constexpr AttrNumber col_table_name = 2;
constexpr AttrNumber col_relid = 3;
constexpr AttrNumber col_bytes = 4;
constexpr AttrNumber col_rows = 5;

// The largest profile import_size_profile takes, uncompressed.
constexpr Size max_profile_bytes = Size{100} * 1024 * 1024;

bool profiled_relkind(char relkind) {
    return relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE ||
           relkind == RELKIND_MATVIEW;
}

// The profile table and its two indexes, found by name in the verified
// extension schema (only a superuser can create anything there), until a
// relcache invalidation for the table (any write to it, DROP EXTENSION, ...)
// or for every relation.
struct ProfileTable {
    Oid table;       // InvalidOid: not installed here
    Oid name_index;  // (schema_name, table_name); InvalidOid: heap scans
    Oid relid_index; // (relid); InvalidOid: heap scans
};
ProfileTable cached_table{};
bool cached_table_valid = false;

// Whether the table has no rows, once read; Unknown after an invalidation.
enum class Emptiness { Unknown, Empty, NotEmpty };
Emptiness emptiness = Emptiness::Unknown;

// What a lookup found for a relation, keyed by its OID, with the name it had
// then: a rename or SET SCHEMA makes the entry stale (a match by name may no
// longer hold), a write to the profile table drops them all.
struct ProfileCacheEntry {
    Oid relid; // the key
    Oid namespace_oid;
    NameData relname;
    GdProfileSize size;
};
HTAB *profile_cache = nullptr;
// Counts the invalidations: what was read while one came in is not kept.
uint64 profile_generation = 0;
// A backend that touches this many relations starts over rather than grow.
constexpr long profile_cache_max_entries = 4096;

void forget_profile(Datum, Oid relid) {
    // cached_table.table stays the last table found: what was cached while
    // it was being looked up again goes too.
    if (OidIsValid(relid) && relid != cached_table.table)
        return;
    cached_table_valid = false;
    emptiness = Emptiness::Unknown;
    ++profile_generation;
    if (profile_cache != nullptr) {
        hash_destroy(profile_cache);
        profile_cache = nullptr;
    }
}

// The index named name in schema, when it is an index of table on exactly
// the given columns.
Oid table_index(Oid schema, const char *name, Oid table, const AttrNumber *columns, int n) {
    Oid index = get_relname_relid(name, schema);
    if (!OidIsValid(index))
        return InvalidOid;
    HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
    if (!HeapTupleIsValid(tuple))
        return InvalidOid;
    auto *form = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
    bool ok = form->indrelid == table && form->indnkeyatts == n && form->indisvalid;
    for (int i = 0; ok && i < n; i++)
        ok = form->indkey.values[i] == columns[i];
    ReleaseSysCache(tuple);
    return ok ? index : InvalidOid;
}

const ProfileTable &profile_table(void) {
    static bool callback_registered = false;
    if (cached_table_valid)
        return cached_table;
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(forget_profile, 0);
        callback_registered = true;
    }
    uint64 generation = profile_generation;
    ProfileTable found{};
    Oid schema = gd_extension_schema();
    Oid table = OidIsValid(schema) ? get_relname_relid("size_profile_entry", schema) : InvalidOid;
    if (OidIsValid(table) && get_rel_relkind(table) == RELKIND_RELATION) {
        const AttrNumber name_columns[] = {col_schema_name, col_table_name};
        const AttrNumber relid_columns[] = {col_relid};
        found.table = table;
        found.name_index = table_index(schema, "size_profile_entry_pkey", table, name_columns,
                                       lengthof(name_columns));
        found.relid_index = table_index(schema, "size_profile_entry_relid", table, relid_columns,
                                        lengthof(relid_columns));
    }
    cached_table = found;
    cached_table_valid = generation == profile_generation;
    return cached_table;
}

struct ProfileRead {
    const ProfileTable *table;
    Oid relid;
    const char *schema_name;
    const char *table_name;
    bool check_empty;
    bool empty;
    GdProfileSize size;
};

void take_figures(Relation rel, HeapTuple tuple, GdProfileSize *size) {
    TupleDesc desc = RelationGetDescr(rel);
    bool isnull;
    Datum bytes = heap_getattr(tuple, col_bytes, desc, &isnull);
    size->found = true;
    size->bytes = isnull ? 0 : DatumGetInt64(bytes);
    Datum rows = heap_getattr(tuple, col_rows, desc, &isnull);
    size->rows = isnull ? -1 : DatumGetFloat8(rows);
}

// Under the lock gd_access_own_tables took: the entry whose relid is the
// relation, else the entry with its name whose own relation is gone or was
// never there.
void read_profile(void *arg) {
    auto *r = static_cast<ProfileRead *>(arg);
    const ProfileTable &t = *r->table;
    if (r->check_empty) {
        r->empty = true;
        gd_scan_catalog(t.table, InvalidOid, nullptr, 0,
                        [&](Relation, HeapTuple) { r->empty = false; });
        if (r->empty)
            return;
    }

    ScanKeyData relid_key;
    ScanKeyInit(&relid_key, col_relid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(r->relid));
    gd_scan_catalog(t.table, t.relid_index, &relid_key, 1,
                    [&](Relation rel, HeapTuple tuple) { take_figures(rel, tuple, &r->size); });
    if (r->size.found)
        return;

    ScanKeyData name_keys[2];
    ScanKeyInit(&name_keys[0], col_schema_name, BTEqualStrategyNumber, F_NAMEEQ,
                CStringGetDatum(r->schema_name));
    ScanKeyInit(&name_keys[1], col_table_name, BTEqualStrategyNumber, F_NAMEEQ,
                CStringGetDatum(r->table_name));
    gd_scan_catalog(t.table, t.name_index, name_keys, 2, [&](Relation rel, HeapTuple tuple) {
        bool isnull;
        Datum entry_relid = heap_getattr(tuple, col_relid, RelationGetDescr(rel), &isnull);
        // An entry resolved to another relation that still exists is that
        // relation's, whatever it is called now.
        if (!isnull && SearchSysCacheExists1(RELOID, entry_relid))
            return;
        take_figures(rel, tuple, &r->size);
    });
}

ProfileRead read_profile_size(const ProfileTable &table, Oid relid, const char *schema_name,
                              const char *table_name) {
    ProfileRead read{
        &table, relid,         schema_name, table_name, emptiness == Emptiness::Unknown,
        false,  {false, 0, -1}};
    const GdOwnTableLock lock{table.table, AccessShareLock,
                              "guarded_ddl reads the imported size profile from this table "
                              "before it judges a statement."};
    gd_access_own_tables(&lock, 1, read_profile, &read);
    // Held only for the read, as table_close would release it.
    UnlockRelationOid(table.table, AccessShareLock);
    return read;
}

void cache_profile_size(Oid relid, Oid namespace_oid, const NameData *relname,
                        const GdProfileSize &size) {
    auto *entry = static_cast<ProfileCacheEntry *>(
        gd_oid_cache_enter(&profile_cache, "guarded_ddl size profile", sizeof(ProfileCacheEntry),
                           profile_cache_max_entries, relid, nullptr));
    entry->namespace_oid = namespace_oid;
    entry->relname = *relname;
    entry->size = size;
}

} // namespace

bool gd_profile_size_at_hand(Oid relid) {
    AcceptInvalidationMessages();
    const ProfileTable &table = profile_table();
    if (!OidIsValid(table.table) || emptiness == Emptiness::Empty ||
        (profile_cache != nullptr && hash_search(profile_cache, &relid, HASH_FIND, nullptr)))
        return true;
    return ConditionalLockRelationOid(table.table, AccessShareLock);
}

GdProfileSize gd_profile_size(Oid relid) {
    const GdProfileSize none{false, 0, -1};
    // Another session's committed import is seen by the next statement.
    AcceptInvalidationMessages();
    const ProfileTable &table = profile_table();
    if (!OidIsValid(table.table) || emptiness == Emptiness::Empty)
        return none;

    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return none;
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    bool profiled = profiled_relkind(form->relkind) && form->relpersistence != RELPERSISTENCE_TEMP;
    Oid namespace_oid = form->relnamespace;
    NameData relname = form->relname;
    ReleaseSysCache(tuple);
    if (!profiled)
        return none;

    if (profile_cache != nullptr) {
        auto *entry = static_cast<ProfileCacheEntry *>(
            hash_search(profile_cache, &relid, HASH_FIND, nullptr));
        if (entry != nullptr && entry->namespace_oid == namespace_oid &&
            strcmp(NameStr(entry->relname), NameStr(relname)) == 0)
            return entry->size;
    }
    char *schema_name = get_namespace_name(namespace_oid);
    if (schema_name == nullptr)
        return none;

    uint64 generation = profile_generation;
    ProfileRead read = read_profile_size(table, relid, schema_name, NameStr(relname));
    if (generation == profile_generation) {
        if (read.check_empty)
            emptiness = read.empty ? Emptiness::Empty : Emptiness::NotEmpty;
        cache_profile_size(relid, namespace_oid, &relname, read.size);
    }
    return read.size;
}

GdRelationSize gd_judged_relation_size(Oid relid) {
    GdRelationSize size = gd_relation_size(relid);
    GdProfileSize profile = gd_profile_size(relid);
    if (!profile.found)
        return size;
    if (profile.bytes > size.bytes) {
        size.bytes = profile.bytes;
        size.bytes_from_profile = true;
    }
    if (profile.rows > size.rows) {
        size.rows = profile.rows;
        size.rows_from_profile = true;
    }
    return size;
}

namespace {

struct ExportedTable {
    Oid relid;
    char *name; // qualified, quoted where needed
    GdRelationSize size;
};

int compare_exported(const void *a, const void *b) {
    return strcmp(static_cast<const ExportedTable *>(a)->name,
                  static_cast<const ExportedTable *>(b)->name);
}

// Whether the caller may learn the relation's size: any privilege on it, as
// for explain(), or the monitoring role pg_read_all_stats.
bool may_see_relation(Oid relid, bool reads_all_stats) {
    if (reads_all_stats)
        return true;
    bool missing = false;
    AclMode any = ACL_ALL_RIGHTS_RELATION | ACL_USAGE;
    return pg_class_aclcheck_ext(relid, GetUserId(), any, &missing) == ACLCHECK_OK && !missing;
}

} // namespace

// guarded_ddl.export_size_profile(): every table, partitioned table and
// materialized view the caller may see, but PostgreSQL's own (created by
// initdb), guarded_ddl's own and temporary ones, with the live figures the
// guard judges by, sorted by name.
extern "C" Datum gd_export_size_profile(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    bool reads_all_stats = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
    Oid own_schema = gd_extension_schema();
    int n = 0;
    int allocated = 64;
    auto *tables = static_cast<ExportedTable *>(palloc(sizeof(ExportedTable) * allocated));
    gd_scan_catalog(RelationRelationId, InvalidOid, nullptr, 0, [&](Relation, HeapTuple tuple) {
        auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
        if (!profiled_relkind(form->relkind) || form->relpersistence == RELPERSISTENCE_TEMP ||
            form->oid < FirstNormalObjectId || form->relnamespace == own_schema ||
            !may_see_relation(form->oid, reads_all_stats))
            return;
        char *schema = get_namespace_name(form->relnamespace);
        if (schema == nullptr)
            return;
        if (n == allocated) {
            allocated *= 2;
            tables = static_cast<ExportedTable *>(
                repalloc_huge(tables, sizeof(ExportedTable) * allocated));
        }
        // Sized after the scan, which sizing would interleave with reads of
        // other pg_class rows.
        tables[n].relid = form->oid;
        tables[n].name = quote_qualified_identifier(schema, NameStr(form->relname));
        n++;
    });
    for (int i = 0; i < n; i++) {
        CHECK_FOR_INTERRUPTS();
        tables[i].size = gd_relation_size(tables[i].relid);
    }
    qsort(tables, n, sizeof(ExportedTable), compare_exported);

    StringInfoData json;
    initStringInfo(&json);
    char exported_at[MAXDATELEN + 1];
    JsonEncodeDateTime(exported_at, TimestampTzGetDatum(GetCurrentTimestamp()), TIMESTAMPTZOID,
                       nullptr);
    appendStringInfoString(&json, "{\"version\": 1, \"server_version\": ");
    escape_json(&json, PG_VERSION);
    appendStringInfoString(&json, ", \"exported_at\": ");
    escape_json(&json, exported_at);
    appendStringInfoString(&json, ", \"tables\": [");
    for (int i = 0; i < n; i++) {
        appendStringInfoString(&json, i > 0 ? ", {\"name\": " : "{\"name\": ");
        escape_json(&json, tables[i].name);
        appendStringInfo(&json, ", \"bytes\": " INT64_FORMAT ", \"rows\": ", tables[i].size.bytes);
        if (tables[i].size.rows < 0)
            appendStringInfoString(&json, "null}");
        else
            appendStringInfo(&json, "%.0f}", tables[i].size.rows);
    }
    appendStringInfoString(&json, "]}");
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
}

// Raises 54000 when the profile is over 100 MB, uncompressed: measured
// without detoasting it.
extern "C" Datum gd_check_size_profile_size(PG_FUNCTION_ARGS) {
    Size bytes = toast_raw_datum_size(PG_GETARG_DATUM(0));
    if (bytes > max_profile_bytes) {
        char *size = text_to_cstring(DatumGetTextPP(
            DirectFunctionCall1(pg_size_pretty, Int64GetDatum(static_cast<int64>(bytes)))));
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("guarded_ddl.import_size_profile: profile is too large (%s)", size),
                 errdetail("A size profile may be at most 100 MB."),
                 errhint("Import only the tables the migrations touch: filter the \"tables\" "
                         "array, for example with jsonb_path_query_array.")));
    }
    PG_RETURN_VOID();
}
