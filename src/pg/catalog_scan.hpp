// One way to read the rows of a system catalog that match a key, for the
// analyses that need more than a syscache lookup.
#pragma once

#include "pg/prelude.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "utils/fmgroids.h"
}

// A valid btree index of rel whose leading columns are exactly columns[0..n)
// (heap attribute numbers), in that order, or InvalidOid: the index
// systable_beginscan may use for keys on those columns.
Oid gd_btree_index_on(Relation rel, const AttrNumber *columns, int n);

// Calls fn(catalog, tuple) on each row of the catalog matching the keys,
// through the index (InvalidOid: a heap scan). Nothing with a destructor
// lives here, so an error fn raises unwinds it as PostgreSQL expects.
template <typename F>
void gd_scan_catalog(Oid catalog, Oid index, ScanKeyData *keys, int n_keys, F fn) {
    Relation rel = table_open(catalog, AccessShareLock);
    SysScanDesc scan = systable_beginscan(rel, index, OidIsValid(index), nullptr, n_keys, keys);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan)))
        fn(rel, tuple);
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
}

// The same for one oid column equal to value.
template <typename F>
void gd_scan_catalog_by_oid(Oid catalog, Oid index, AttrNumber column, Oid value, F fn) {
    ScanKeyData key;
    ScanKeyInit(&key, column, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(value));
    gd_scan_catalog(catalog, index, &key, 1, fn);
}
