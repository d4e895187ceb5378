#include "pg/catalog_scan.hpp"

extern "C" {
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace {

bool btree(Oid index) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(index));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool is_btree = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relam == BTREE_AM_OID;
    ReleaseSysCache(tuple);
    return is_btree;
}

} // namespace

Oid gd_btree_index_on(Relation rel, const AttrNumber *columns, int n) {
    List *indexes = RelationGetIndexList(rel);
    Oid found = InvalidOid;
    ListCell *lc;
    foreach (lc, indexes) {
        Oid index_oid = lfirst_oid(lc);
        HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index_oid));
        if (!HeapTupleIsValid(tuple))
            continue;
        auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        bool fits = index->indisvalid && index->indnkeyatts >= n;
        for (int i = 0; fits && i < n; i++)
            fits = index->indkey.values[i] == columns[i];
        ReleaseSysCache(tuple);
        if (fits && btree(index_oid)) {
            found = index_oid;
            break;
        }
    }
    list_free(indexes);
    return found;
}
