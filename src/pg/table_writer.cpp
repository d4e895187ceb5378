#include "pg/table_writer.hpp"

extern "C" {
#include "access/tableam.h"
#include "commands/trigger.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

struct GdTableWriter {
    Relation rel;
    EState *estate;
    ResultRelInfo *result;
    EPQState epq;
    TupleTableSlot *row;     // the row being built, then inserted
    TupleTableSlot *scanned; // a row a scan returned
    TupleTableSlot *locked;  // that row, locked for the update
    TupleTableSlot *new_row; // its new version
    bool *given;             // per column: set for this row
    ExprState **defaults;    // per column: its default, prepared once
    bool *default_prepared;
};

namespace {

// The prepared defaults outlive a writer: the audit writer writes the same
// two tables batch after batch, and preparing a default (reading it from
// the catalog, planning it) cost more than the rows of a small batch. A
// change of one of the tables or of any function drops them all, at the
// next gd_table_writer_refresh: never while a writer may use them (an
// invalidation can arrive whenever a lock is taken, an index opened).
struct PreparedDefaults {
    Oid relid;
    int natts;
    ExprState **defaults;
    bool *prepared;
};
constexpr int max_prepared_tables = 4;
PreparedDefaults prepared_tables[max_prepared_tables];
MemoryContext prepared_context = nullptr;
bool prepared_stale = false;

void defaults_changed(Datum, Oid relid) {
    for (const PreparedDefaults &p : prepared_tables)
        if (!OidIsValid(relid) || p.relid == relid)
            prepared_stale = true;
}

void functions_changed(Datum, int, uint32) {
    prepared_stale = true;
}

void forget_prepared() {
    MemoryContextReset(prepared_context);
    memset(prepared_tables, 0, sizeof prepared_tables);
    prepared_stale = false;
}

PreparedDefaults *prepared_for(Relation rel) {
    if (prepared_context == nullptr) {
        prepared_context = AllocSetContextCreate(TopMemoryContext, "guarded_ddl prepared defaults",
                                                 ALLOCSET_SMALL_SIZES);
        CacheRegisterRelcacheCallback(defaults_changed, Datum(0));
        CacheRegisterSyscacheCallback(PROCOID, functions_changed, Datum(0));
    }
    int natts = RelationGetDescr(rel)->natts;
    PreparedDefaults *free_entry = nullptr;
    for (PreparedDefaults &p : prepared_tables) {
        if (p.relid == RelationGetRelid(rel) && p.natts == natts)
            return &p;
        if (free_entry == nullptr && !OidIsValid(p.relid))
            free_entry = &p;
    }
    // More tables than entries: this writer's defaults are its own, freed
    // with the others at the next refresh, which the stale mark forces:
    // otherwise each batch would add an entry kept until a table changed.
    if (free_entry == nullptr) {
        free_entry = static_cast<PreparedDefaults *>(
            MemoryContextAllocZero(prepared_context, sizeof(PreparedDefaults)));
        prepared_stale = true;
    }
    auto *defaults = static_cast<ExprState **>(
        MemoryContextAllocZero(prepared_context, natts * sizeof(ExprState *)));
    auto *prepared = static_cast<bool *>(MemoryContextAllocZero(prepared_context, natts));
    *free_entry = PreparedDefaults{RelationGetRelid(rel), natts, defaults, prepared};
    return free_entry;
}

} // namespace

void gd_table_writer_refresh(void) {
    if (prepared_context != nullptr && prepared_stale)
        forget_prepared();
}

GdTableWriter *gd_table_writer_begin(Relation rel) {
    auto *w = static_cast<GdTableWriter *>(palloc0(sizeof(GdTableWriter)));
    int natts = RelationGetDescr(rel)->natts;
    w->rel = rel;
    w->estate = CreateExecutorState();
    w->estate->es_output_cid = GetCurrentCommandId(true);
    w->estate->es_snapshot = GetActiveSnapshot();
    // Range table index 0: the relation is in no range table, so that no
    // permission is checked (the writer writes as the superuser it runs as)
    // and errors name no columns from a range table entry.
    w->result = makeNode(ResultRelInfo);
    InitResultRelInfo(w->result, rel, 0, nullptr, 0);
    // Where the executor looks for the relation an AFTER trigger fires on.
    w->estate->es_opened_result_relations =
        lappend(w->estate->es_opened_result_relations, w->result);
    ExecOpenIndices(w->result, false);
    gd_epq_init(&w->epq, w->estate);
    w->row = table_slot_create(rel, &w->estate->es_tupleTable);
    w->scanned =
        ExecAllocTableSlot(&w->estate->es_tupleTable, RelationGetDescr(rel), &TTSOpsHeapTuple);
    w->locked = table_slot_create(rel, &w->estate->es_tupleTable);
    w->new_row = table_slot_create(rel, &w->estate->es_tupleTable);
    w->given = static_cast<bool *>(palloc0(natts * sizeof(bool)));
    PreparedDefaults *prepared = prepared_for(rel);
    w->defaults = prepared->defaults;
    w->default_prepared = prepared->prepared;
    AfterTriggerBeginQuery();
    return w;
}

AttrNumber gd_table_writer_column(GdTableWriter *w, const char *name, Oid type) {
    TupleDesc desc = RelationGetDescr(w->rel);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
            continue;
        if (att->atttypid != type || att->attgenerated != '\0')
            ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
                            errmsg("column \"%s\" of relation \"%s\" is not a plain column of "
                                   "type %s",
                                   name, RelationGetRelationName(w->rel), format_type_be(type))));
        return att->attnum;
    }
    ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
                    errmsg("relation \"%s\" has no column \"%s\"", RelationGetRelationName(w->rel),
                           name)));
    return InvalidAttrNumber; // not reached
}

void gd_table_writer_new_row(GdTableWriter *w) {
    TupleDesc desc = RelationGetDescr(w->rel);
    ExecClearTuple(w->row);
    for (int i = 0; i < desc->natts; i++) {
        w->row->tts_values[i] = Datum(0);
        w->row->tts_isnull[i] = true;
        w->given[i] = false;
    }
    ResetPerTupleExprContext(w->estate);
}

void gd_table_writer_set(GdTableWriter *w, AttrNumber column, Datum value, bool is_null) {
    w->row->tts_values[column - 1] = value;
    w->row->tts_isnull[column - 1] = is_null;
    w->given[column - 1] = true;
}

namespace {

// The column's default as the executor would compute it for an INSERT that
// leaves it out, prepared the first time a row needs it; null: none.
ExprState *default_of(GdTableWriter *w, int i) {
    if (!w->default_prepared[i]) {
        Form_pg_attribute att = TupleDescAttr(RelationGetDescr(w->rel), i);
        // All of it in the long-lived context, the default's own tree too:
        // the planned expression's constants point into it (the planner
        // copies nodes, not their values).
        MemoryContext old = MemoryContextSwitchTo(prepared_context);
        Node *expr = att->attisdropped || att->attgenerated != '\0'
                         ? nullptr
                         : build_column_default(w->rel, i + 1);
        if (expr != nullptr)
            w->defaults[i] =
                ExecInitExpr(expression_planner(reinterpret_cast<Expr *>(expr)), nullptr);
        MemoryContextSwitchTo(old);
        w->default_prepared[i] = true;
    }
    return w->defaults[i];
}

} // namespace

void gd_table_writer_insert(GdTableWriter *w) {
    TupleDesc desc = RelationGetDescr(w->rel);
    ExprContext *econtext = GetPerTupleExprContext(w->estate);
    for (int i = 0; i < desc->natts; i++) {
        if (w->given[i])
            continue;
        ExprState *expr = default_of(w, i);
        if (expr == nullptr)
            continue;
        // In the row's own memory, as the executor evaluates defaults: gone
        // with the next row, not kept until the batch ends.
        MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
        w->row->tts_values[i] = ExecEvalExpr(expr, econtext, &w->row->tts_isnull[i]);
        MemoryContextSwitchTo(old);
    }
    ExecStoreVirtualTuple(w->row);
    ExecSimpleRelationInsert(w->result, w->estate, w->row);
}

Datum gd_table_writer_inserted(GdTableWriter *w, AttrNumber column, bool *is_null) {
    return slot_getattr(w->row, column, is_null);
}

TupleTableSlot *gd_table_writer_scan_slot(GdTableWriter *w) {
    return w->scanned;
}

Relation gd_table_writer_relation(GdTableWriter *w) {
    return w->rel;
}

bool gd_table_writer_update(GdTableWriter *w, TupleTableSlot *slot, AttrNumber column,
                            Datum value) {
    // As UPDATE does: the newest version of the row, waiting for a
    // concurrent writer of it (within lock_timeout); a row deleted meanwhile
    // (purge) has nothing left to update.
    // After the caller's CommandCounterIncrement: rows this transaction
    // inserted are then an earlier command's, which may be locked.
    w->estate->es_output_cid = GetCurrentCommandId(true);
    TM_FailureData failure;
    TM_Result result = table_tuple_lock(w->rel, &slot->tts_tid, GetLatestSnapshot(), w->locked,
                                        w->estate->es_output_cid, LockTupleExclusive, LockWaitBlock,
                                        TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &failure);
    if (result != TM_Ok)
        return false;
    slot_getallattrs(w->locked);
    TupleDesc desc = RelationGetDescr(w->rel);
    ExecClearTuple(w->new_row);
    for (int i = 0; i < desc->natts; i++) {
        w->new_row->tts_values[i] = w->locked->tts_values[i];
        w->new_row->tts_isnull[i] = w->locked->tts_isnull[i];
    }
    w->new_row->tts_values[column - 1] = value;
    w->new_row->tts_isnull[column - 1] = false;
    ExecStoreVirtualTuple(w->new_row);
    ExecSimpleRelationUpdate(w->result, w->estate, &w->epq, w->locked, w->new_row);
    return true;
}

void gd_table_writer_end(GdTableWriter *w) {
    AfterTriggerEndQuery(w->estate);
    EvalPlanQualEnd(&w->epq);
    ExecCloseIndices(w->result);
    ExecResetTupleTable(w->estate->es_tupleTable, false);
    FreeExecutorState(w->estate);
}
