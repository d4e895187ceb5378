// Rows written into a table the way INSERT and UPDATE would write them,
// without SQL: the column defaults (identity included), NOT NULL and CHECK
// constraints, unique indexes and the triggers that fire in this session's
// replication role all apply, through the executor's own routines for
// logical replication (ExecSimpleRelationInsert and Update). Nothing is
// parsed, planned or looked up by name but the table's own columns.
//
// Everything lives in the memory context current at gd_table_writer_begin
// and holds no C++ object: an error unwinds it as PostgreSQL expects, and
// the transaction's abort releases what the executor held.
#pragma once

#include "pg/prelude.hpp"

struct GdTableWriter;

// Drops the column defaults prepared for earlier writers if a change of
// their table or of a function made them stale. Call it before beginning
// writers, never while one is in use.
void gd_table_writer_refresh(void);

// Opens rel, which the caller has locked (RowExclusiveLock) and checked, for
// inserts and updates in the current transaction.
GdTableWriter *gd_table_writer_begin(Relation rel);

// The attribute number of column name, which must have type type: ERROR
// (SQLSTATE 42P10) when the table has no such column or another type.
AttrNumber gd_table_writer_column(GdTableWriter *w, const char *name, Oid type);

// A new row: every column unset. Set the ones given, then insert; the rest
// get their defaults (or NULL).
void gd_table_writer_new_row(GdTableWriter *w);
void gd_table_writer_set(GdTableWriter *w, AttrNumber column, Datum value, bool is_null = false);
void gd_table_writer_insert(GdTableWriter *w);
// A column of the row just inserted (its identity, for example).
Datum gd_table_writer_inserted(GdTableWriter *w, AttrNumber column, bool *is_null);

// Calls fn(w, slot) for each row matching the keys (attribute numbers of
// the table), through index when valid, seen with a snapshot taken now, so
// that rows this transaction inserted are among them.
template <typename F>
void gd_table_writer_scan(GdTableWriter *w, Oid index, ScanKeyData *keys, int n_keys, F fn);

// Replaces column of the row in slot (one the scan returned) with value. The
// row is locked first; false when it was deleted meanwhile (nothing to do).
bool gd_table_writer_update(GdTableWriter *w, TupleTableSlot *slot, AttrNumber column, Datum value);

// Fires the AFTER triggers queued, closes the indexes and frees the state.
void gd_table_writer_end(GdTableWriter *w);

// --- for the template ---
TupleTableSlot *gd_table_writer_scan_slot(GdTableWriter *w);
Relation gd_table_writer_relation(GdTableWriter *w);

extern "C" {
#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"
}

template <typename F>
void gd_table_writer_scan(GdTableWriter *w, Oid index, ScanKeyData *keys, int n_keys, F fn) {
    Relation rel = gd_table_writer_relation(w);
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    SysScanDesc scan = systable_beginscan(rel, index, OidIsValid(index), snapshot, n_keys, keys);
    TupleTableSlot *slot = gd_table_writer_scan_slot(w);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        ExecStoreHeapTuple(tuple, slot, false);
        fn(w, slot);
    }
    systable_endscan(scan);
    UnregisterSnapshot(snapshot);
}
