#include "pg/relation_size.hpp"

#include "pg/catalog_scan.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "common/relpath.h"
#include "storage/fd.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/relmapper.h"
#include "utils/syscache.h"
}

#include <sys/stat.h>

namespace {

// One fork's segments: base is the fork's file, the first segment. Only a
// full segment can have a next one (md.c fills each before the next; the
// empty segments a truncation may leave behind count nothing).
int64 fork_bytes(const char *base) {
    constexpr off_t segment_bytes = off_t{RELSEG_SIZE} * BLCKSZ;
    int64 total = 0;
    for (unsigned segment = 0;; segment++) {
        char path[MAXPGPATH];
        if (segment > 0)
            snprintf(path, sizeof path, "%s.%u", base, segment);
        struct stat st;
        if (stat(segment == 0 ? base : path, &st) != 0)
            break; // no such segment: the fork ends here
        total += st.st_size;
        if (st.st_size < segment_bytes)
            break;
    }
    return total;
}

// A permanent or unlogged relation's files, all forks.
int64 files_bytes(Form_pg_class rel, Oid relid) {
    if (rel->relpersistence == RELPERSISTENCE_TEMP)
        return 0; // other backends' temp files are not ours to read
    Oid file = OidIsValid(rel->relfilenode) ? rel->relfilenode
                                            : gd_mapped_file_number(relid, rel->relisshared);
    if (!OidIsValid(file))
        return 0;
    // The main fork's path, and the others' built from it (base_fsm, ...)
    // rather than by relpathbackend for each. Only an unlogged relation has
    // an init fork.
    char *main = gd_main_fork_path(OidIsValid(rel->reltablespace) ? rel->reltablespace
                                                                  : MyDatabaseTableSpace,
                                   rel->relisshared ? InvalidOid : MyDatabaseId, file);
    size_t len = strlen(main);
    int64 total = fork_bytes(main);
    int last =
        rel->relpersistence == RELPERSISTENCE_UNLOGGED ? INIT_FORKNUM : VISIBILITYMAP_FORKNUM;
    for (int fork = MAIN_FORKNUM + 1; fork <= last; fork++) {
        char path[MAXPGPATH];
        size_t name_len = strlen(forkNames[fork]);
        if (len + 1 + name_len >= sizeof path)
            break;
        memcpy(path, main, len + 1);
        path[len] = '_';
        memcpy(path + len + 1, forkNames[fork], name_len + 1);
        total += fork_bytes(path);
    }
    pfree(main);
    return total;
}

int64 class_bytes(Oid relid, Oid *toast, double *rows) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return 0;
    auto *rel = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    int64 bytes = files_bytes(rel, relid);
    if (toast != nullptr)
        *toast = rel->reltoastrelid;
    // A partitioned table's own estimate (ANALYZE sets one since PG 14)
    // counts its partitions' rows, which are summed already.
    if (rows != nullptr && rel->relkind != RELKIND_PARTITIONED_TABLE)
        *rows = rel->reltuples;
    ReleaseSysCache(tuple);
    return bytes;
}

// The indexes of recently sized relations, as RelationGetIndexList keeps
// them: until a relcache invalidation for the relation (any index built or
// dropped on it sends one). A TOAST table's index, for one, never changes.
struct IndexList {
    Oid relid;
    int n;
    Oid indexes[8];
};
IndexList index_lists[64];
int next_index_list = 0;
// Bit relid % 64 is set for the relids that may be in index_lists: most
// relcache invalidations (several per DDL statement) concern none of them.
uint64 index_list_relids = 0;

uint64 relid_bit(Oid relid) {
    return uint64{1} << (relid % 64);
}

void forget_index_lists(Datum, Oid relid) {
    if (OidIsValid(relid) && (index_list_relids & relid_bit(relid)) == 0)
        return;
    index_list_relids = 0;
    for (IndexList &l : index_lists) {
        if (!OidIsValid(relid) || l.relid == relid)
            l.relid = InvalidOid;
        if (OidIsValid(l.relid))
            index_list_relids |= relid_bit(l.relid);
    }
}

const IndexList *cached_index_list(Oid table) {
    for (const IndexList &l : index_lists)
        if (l.relid == table)
            return &l;
    return nullptr;
}

void cache_index_list(Oid table, const Oid *indexes, int n) {
    static bool callback_registered = false;
    if (n > static_cast<int>(lengthof(index_lists[0].indexes)))
        return;
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(forget_index_lists, 0);
        callback_registered = true;
    }
    IndexList &l = index_lists[next_index_list];
    next_index_list = (next_index_list + 1) % static_cast<int>(lengthof(index_lists));
    l.relid = table;
    index_list_relids |= relid_bit(table);
    l.n = n;
    memcpy(l.indexes, indexes, sizeof(Oid) * n);
}

int64 index_bytes(Oid table) {
    int64 total = 0;
    if (const IndexList *l = cached_index_list(table)) {
        for (int i = 0; i < l->n; i++)
            total += class_bytes(l->indexes[i], nullptr, nullptr);
        return total;
    }
    Oid indexes[lengthof(index_lists[0].indexes)];
    int n = 0;
    gd_scan_catalog_by_oid(IndexRelationId, IndexIndrelidIndexId, Anum_pg_index_indrelid, table,
                           [&](Relation, HeapTuple tuple) {
                               Oid index =
                                   reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple))->indexrelid;
                               if (n < static_cast<int>(lengthof(indexes)))
                                   indexes[n] = index;
                               n++;
                               total += class_bytes(index, nullptr, nullptr);
                           });
    cache_index_list(table, indexes, n);
    return total;
}

// One table's heap, TOAST and indexes; adds to *rows when analyzed.
int64 table_bytes(Oid relid, double *rows) {
    Oid toast = InvalidOid;
    double reltuples = -1;
    int64 total = class_bytes(relid, &toast, &reltuples) + index_bytes(relid);
    if (OidIsValid(toast))
        total += class_bytes(toast, nullptr, nullptr) + index_bytes(toast);
    if (reltuples >= 0)
        *rows = (*rows < 0 ? 0 : *rows) + reltuples;
    return total;
}

} // namespace

GdRelationSize gd_relation_size(Oid relid) {
    GdRelationSize size{0, -1};
    // NoLock: the partition list may change under us, and that is fine for
    // an estimate; waiting for a lock here is not.
    List *members = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE
                        ? find_all_inheritors(relid, NoLock, nullptr)
                        : list_make1_oid(relid);
    ListCell *lc;
    foreach (lc, members)
        size.bytes += table_bytes(lfirst_oid(lc), &size.rows);
    list_free(members);
    return size;
}
