#include "pg/audit_rows.hpp"

#include "pg/audit_shmem.hpp"
#include "pg/catalog_scan.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/table_writer.hpp"

#include "core/audit_json.hpp"
#include "core/audit_release.hpp"

extern "C" {
#include "access/xlog.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/xid8.h"
#include "utils/timestamp.h"
}

using guarded_ddl::AuditEntry;
using guarded_ddl::LockRecord;
using guarded_ddl::pg::invoke_cpp;
using guarded_ddl::pg::pg_call;

namespace {

// ddl_log's columns the writer fills; the others (id, database) get their
// defaults. Looked up by name and type in the table itself, once per batch.
struct StatementColumns {
    AttrNumber started_at, session_role, executing_role, application_name, client_addr, backend_pid,
        backend_start, backend_seq, xid, statement_xid, nesting_level, command, statement, objects,
        verdict, guard_mode, rules, rollback, approval_id, sqlstate, error_message, duration_ms,
        lock_wait_ms, lock_attempts, setting, old_value, new_value, recipe_id, recipe_statement,
        system_identifier, id;
};

struct LockColumns {
    AttrNumber ddl_id, relation_oid, relation, lock_mode, granted, wait_ms, granted_at, held_ms,
        attempts, blockers, system_identifier;
};

StatementColumns statement_columns(GdTableWriter *w, bool fleet_rows) {
    auto col = [w](const char *name, Oid type) { return gd_table_writer_column(w, name, type); };
    StatementColumns c;
    c.id = col("id", INT8OID);
    c.started_at = col("started_at", TIMESTAMPTZOID);
    c.session_role = col("session_role", NAMEOID);
    c.executing_role = col("executing_role", NAMEOID);
    c.application_name = col("application_name", TEXTOID);
    c.client_addr = col("client_addr", INETOID);
    c.backend_pid = col("backend_pid", INT4OID);
    c.backend_start = col("backend_start", TIMESTAMPTZOID);
    c.backend_seq = col("backend_seq", INT8OID);
    c.xid = col("xid", XID8OID);
    c.statement_xid = col("statement_xid", XID8OID);
    c.nesting_level = col("nesting_level", INT4OID);
    c.command = col("command", TEXTOID);
    c.statement = col("statement", TEXTOID);
    c.objects = col("objects", TEXTARRAYOID);
    c.verdict = col("verdict", TEXTOID);
    c.guard_mode = col("guard_mode", TEXTOID);
    c.rules = col("rules", TEXTARRAYOID);
    c.rollback = col("rollback", TEXTOID);
    c.approval_id = col("approval_id", INT8OID);
    c.sqlstate = col("sqlstate", TEXTOID);
    c.error_message = col("error_message", TEXTOID);
    c.duration_ms = col("duration_ms", FLOAT8OID);
    c.lock_wait_ms = col("lock_wait_ms", FLOAT8OID);
    c.lock_attempts = col("lock_attempts", INT4OID);
    c.setting = col("setting", TEXTOID);
    c.old_value = col("old_value", TEXTOID);
    c.new_value = col("new_value", TEXTOID);
    c.recipe_id = col("recipe_id", INT8OID);
    c.recipe_statement = col("recipe_statement", TEXTOID);
    c.system_identifier = fleet_rows ? col("system_identifier", INT8OID) : InvalidAttrNumber;
    return c;
}

LockColumns lock_columns(GdTableWriter *w, bool fleet_rows) {
    auto col = [w](const char *name, Oid type) { return gd_table_writer_column(w, name, type); };
    LockColumns c;
    c.ddl_id = col("ddl_id", INT8OID);
    c.relation_oid = col("relation_oid", OIDOID);
    c.relation = col("relation", TEXTOID);
    c.lock_mode = col("lock_mode", TEXTOID);
    c.granted = col("granted", BOOLOID);
    c.wait_ms = col("wait_ms", FLOAT8OID);
    c.granted_at = col("granted_at", TIMESTAMPTZOID);
    c.held_ms = col("held_ms", FLOAT8OID);
    c.attempts = col("attempts", INT4OID);
    c.blockers = col("blockers", JSONBOID);
    c.system_identifier = fleet_rows ? col("system_identifier", INT8OID) : InvalidAttrNumber;
    return c;
}

// The fixed-size fields say "none" with an empty string: NULL in the row.
void set_text(GdTableWriter *w, AttrNumber column, const char *value) {
    bool none = value[0] == '\0';
    gd_table_writer_set(w, column, none ? Datum(0) : CStringGetTextDatum(value), none);
}

void set_name(GdTableWriter *w, AttrNumber column, const char *value) {
    bool none = value[0] == '\0';
    Name name = nullptr;
    if (!none) {
        name = static_cast<Name>(palloc0(NAMEDATALEN));
        namestrcpy(name, value);
    }
    gd_table_writer_set(w, column, NameGetDatum(name), none);
}

// A FullTransactionId; 0 (none assigned) is NULL.
void set_xid(GdTableWriter *w, AttrNumber column, uint64 value) {
    gd_table_writer_set(w, column, FullTransactionIdGetDatum(FullTransactionIdFromU64(value)),
                        value == 0);
}

void set_int8(GdTableWriter *w, AttrNumber column, int64 value, bool is_null = false) {
    gd_table_writer_set(w, column, Int64GetDatum(value), is_null);
}

// text[] from the parts of list between separators; '{}' when empty.
Datum text_array(const char *list, char separator) {
    int n = 0;
    Datum *parts = static_cast<Datum *>(palloc((strlen(list) + 1) * sizeof(Datum)));
    const char *start = list;
    while (*start != '\0') {
        const char *end = strchr(start, separator);
        size_t len = end != nullptr ? static_cast<size_t>(end - start) : strlen(start);
        parts[n++] = PointerGetDatum(cstring_to_text_with_len(start, static_cast<int>(len)));
        start += len + (end != nullptr ? 1 : 0);
    }
    return PointerGetDatum(construct_array(parts, n, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum rules_array(const guarded_ddl::StatementRecord &r) {
    int n = Min(r.n_rules, guarded_ddl::max_rules_per_statement);
    Datum *parts = static_cast<Datum *>(palloc((n + 1) * sizeof(Datum)));
    for (int i = 0; i < n; i++)
        parts[i] = CStringGetTextDatum(r.rules[i]);
    return PointerGetDatum(construct_array(parts, n, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum blockers_datum(const LockRecord &lock) {
    return invoke_cpp([&] {
        std::string json = guarded_ddl::blockers_json(lock);
        return pg_call(
            [&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
    });
}

Datum text_view(std::string_view s) {
    return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
}

// Inserts a statement record's row; returns its id.
Datum insert_statement(GdTableWriter *w, const StatementColumns &c, const AuditEntry &e) {
    const guarded_ddl::StatementRecord &r = e.record;
    int64 lock_wait_us = 0;
    int attempts = 0;
    for (int i = 0; i < r.n_locks; i++) {
        lock_wait_us += r.locks[i].wait_us;
        attempts += r.locks[i].attempts;
    }
    std::string_view rollback = guarded_ddl::rollback_name(r.rollback);

    gd_table_writer_new_row(w);
    gd_table_writer_set(w, c.started_at, TimestampTzGetDatum(r.start_us));
    set_name(w, c.session_role, e.session.session_role);
    set_name(w, c.executing_role, e.session.current_role);
    set_text(w, c.application_name, e.session.application);
    bool no_addr = e.session.client_addr[0] == '\0';
    gd_table_writer_set(
        w, c.client_addr,
        no_addr ? Datum(0) : DirectFunctionCall1(inet_in, CStringGetDatum(e.session.client_addr)),
        no_addr);
    gd_table_writer_set(w, c.backend_pid, Int32GetDatum(e.session.backend_pid));
    gd_table_writer_set(w, c.backend_start, TimestampTzGetDatum(e.session.backend_start_us));
    set_int8(w, c.backend_seq, e.session.backend_seq);
    set_xid(w, c.xid, e.session.xid);
    set_xid(w, c.statement_xid, e.session.statement_xid);
    gd_table_writer_set(w, c.nesting_level, Int32GetDatum(r.nesting_level));
    set_text(w, c.command, r.command_tag);
    set_text(w, c.statement, e.statement);
    gd_table_writer_set(w, c.objects, text_array(r.objects, '\n'));
    gd_table_writer_set(w, c.verdict, text_view(guarded_ddl::outcome_name(r.outcome)));
    gd_table_writer_set(w, c.guard_mode, text_view(guarded_ddl::mode_name(e.mode)));
    gd_table_writer_set(w, c.rules, rules_array(r));
    gd_table_writer_set(w, c.rollback, rollback.empty() ? Datum(0) : text_view(rollback),
                        rollback.empty());
    set_int8(w, c.approval_id, r.approval_id, r.approval_id == 0);
    set_text(w, c.sqlstate, r.sqlstate);
    set_text(w, c.error_message, r.error_message);
    gd_table_writer_set(w, c.duration_ms, Float8GetDatum(r.duration_us / 1000.0));
    gd_table_writer_set(w, c.lock_wait_ms, Float8GetDatum(lock_wait_us / 1000.0), r.n_locks == 0);
    gd_table_writer_set(w, c.lock_attempts, Int32GetDatum(attempts), r.n_locks == 0);
    set_text(w, c.setting, e.setting.name);
    set_text(w, c.old_value, e.setting.old_value);
    set_text(w, c.new_value, e.setting.new_value);
    set_int8(w, c.recipe_id, e.recipe_id, e.recipe_id == 0);
    set_text(w, c.recipe_statement, e.recipe_statement);
    if (c.system_identifier != InvalidAttrNumber)
        set_int8(w, c.system_identifier, static_cast<int64>(GetSystemIdentifier()));
    gd_table_writer_insert(w);

    bool is_null = false;
    Datum id = gd_table_writer_inserted(w, c.id, &is_null);
    if (is_null)
        ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                        errmsg("guarded_ddl: the audit row was inserted without an id")));
    return id;
}

// released: when the lock was let go, if a record of this batch says so (0:
// not yet known; held_ms stays null until a later batch fills it in).
void insert_lock(GdTableWriter *w, const LockColumns &c, Datum ddl_id, const LockRecord &l,
                 TimestampTz released) {
    gd_table_writer_new_row(w);
    gd_table_writer_set(w, c.ddl_id, ddl_id);
    gd_table_writer_set(w, c.relation_oid, ObjectIdGetDatum(l.relid));
    set_text(w, c.relation, l.relation);
    gd_table_writer_set(w, c.lock_mode,
                        CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, l.lock_mode)));
    gd_table_writer_set(w, c.granted, BoolGetDatum(l.granted));
    gd_table_writer_set(w, c.wait_ms, Float8GetDatum(l.wait_us / 1000.0));
    gd_table_writer_set(w, c.attempts, Int32GetDatum(l.attempts));
    gd_table_writer_set(w, c.blockers, blockers_datum(l));
    gd_table_writer_set(w, c.granted_at, TimestampTzGetDatum(l.granted_us), !l.granted);
    if (l.granted && released != 0)
        gd_table_writer_set(w, c.held_ms, Float8GetDatum((released - l.granted_us) / 1000.0));
    if (c.system_identifier != InvalidAttrNumber)
        set_int8(w, c.system_identifier, static_cast<int64>(GetSystemIdentifier()));
    gd_table_writer_insert(w);
}

struct HoldTimes {
    GdTableWriter *statements;
    GdTableWriter *locks;
    const StatementColumns *sc;
    const LockColumns *lc;
    Oid statements_index; // (backend_pid, backend_seq), or none: a heap scan
    Oid locks_index;      // (system_identifier, ddl_id) or (ddl_id), or none
};

// Fills in held_ms of one statement's granted lock rows that have none.
void fill_statement_locks(HoldTimes &h, Datum ddl_id, TimestampTz released) {
    ScanKeyData keys[2];
    int n = 0;
    if (h.lc->system_identifier != InvalidAttrNumber)
        ScanKeyInit(&keys[n++], h.lc->system_identifier, BTEqualStrategyNumber, F_INT8EQ,
                    Int64GetDatum(static_cast<int64>(GetSystemIdentifier())));
    ScanKeyInit(&keys[n++], h.lc->ddl_id, BTEqualStrategyNumber, F_INT8EQ, ddl_id);
    gd_table_writer_scan(h.locks, h.locks_index, keys, n, [&](GdTableWriter *w, TupleTableSlot *s) {
        bool granted_null = false;
        bool at_null = false;
        bool held_null = false;
        bool granted = DatumGetBool(slot_getattr(s, h.lc->granted, &granted_null));
        Datum granted_at = slot_getattr(s, h.lc->granted_at, &at_null);
        (void)slot_getattr(s, h.lc->held_ms, &held_null);
        if (granted_null || !granted || at_null || !held_null)
            return;
        double held_ms = (released - DatumGetTimestampTz(granted_at)) / 1000.0;
        (void)gd_table_writer_update(w, s, h.lc->held_ms, Float8GetDatum(held_ms));
    });
}

// The lock rows of a backend's statements first..last, whose locks were
// released at one time.
void fill_hold_times(HoldTimes &h, const AuditEntry &e) {
    ScanKeyData keys[3];
    ScanKeyInit(&keys[0], h.sc->backend_pid, BTEqualStrategyNumber, F_INT4EQ,
                Int32GetDatum(e.session.backend_pid));
    ScanKeyInit(&keys[1], h.sc->backend_seq, BTGreaterEqualStrategyNumber, F_INT8GE,
                Int64GetDatum(e.released.first_seq));
    ScanKeyInit(&keys[2], h.sc->backend_seq, BTLessEqualStrategyNumber, F_INT8LE,
                Int64GetDatum(e.released.last_seq));
    TimestampTz start = e.session.backend_start_us;
    int64 sysid = static_cast<int64>(GetSystemIdentifier());
    // The ids first: the scan of lock_log updates rows while this one runs.
    int n_ids = 0;
    int capacity = 8;
    Datum *ids = static_cast<Datum *>(palloc(capacity * sizeof(Datum)));
    gd_table_writer_scan(
        h.statements, h.statements_index, keys, 3, [&](GdTableWriter *, TupleTableSlot *s) {
            bool null_start = false;
            bool null_sysid = false;
            bool null_id = false;
            Datum row_start = slot_getattr(s, h.sc->backend_start, &null_start);
            if (null_start || DatumGetTimestampTz(row_start) != start)
                return;
            // A central review database holds other servers' rows too, whose
            // pids and session starts may be the same.
            if (h.sc->system_identifier != InvalidAttrNumber &&
                DatumGetInt64(slot_getattr(s, h.sc->system_identifier, &null_sysid)) != sysid)
                return;
            Datum id = slot_getattr(s, h.sc->id, &null_id);
            if (null_sysid || null_id)
                return;
            if (n_ids == capacity) {
                capacity *= 2;
                ids = static_cast<Datum *>(repalloc(ids, capacity * sizeof(Datum)));
            }
            ids[n_ids++] = id;
        });
    for (int i = 0; i < n_ids; i++)
        fill_statement_locks(h, ids[i], e.released.released_us);
    pfree(ids);
}

} // namespace

void gd_audit_write_rows(const int *slots, int n, Oid ddl_log, Oid lock_log, bool fleet_rows) {
    Relation statements_rel = table_open(ddl_log, RowExclusiveLock);
    Relation locks_rel = table_open(lock_log, RowExclusiveLock);
    // The tables are locked: changes to them have been seen by now.
    gd_table_writer_refresh();
    GdTableWriter *statements = gd_table_writer_begin(statements_rel);
    GdTableWriter *locks = gd_table_writer_begin(locks_rel);
    StatementColumns sc = statement_columns(statements, fleet_rows);
    LockColumns lc = lock_columns(locks, fleet_rows);

    auto **batch = static_cast<const AuditEntry **>(palloc(n * sizeof(AuditEntry *)));
    for (int i = 0; i < n; i++)
        batch[i] = gd_audit_entry(slots[i]);
    bool any_released = false;
    for (int i = 0; i < n; i++) {
        const AuditEntry &e = *batch[i];
        if (e.kind != guarded_ddl::EntryKind::Statement) {
            any_released = any_released || !guarded_ddl::released_within_batch(batch, i);
            continue;
        }
        Datum id = insert_statement(statements, sc, e);
        TimestampTz released =
            e.record.n_locks > 0 ? guarded_ddl::released_in_batch(batch, n, i) : 0;
        for (int l = 0; l < Min(e.record.n_locks, guarded_ddl::max_locks_per_statement); l++)
            insert_lock(locks, lc, id, e.record.locks[l], released);
    }

    // Releases of statements an earlier batch wrote: their lock rows are in
    // the tables. The scans must see the rows just inserted too.
    if (any_released) {
        CommandCounterIncrement();
        AttrNumber by_backend[2] = {sc.backend_pid, sc.backend_seq};
        AttrNumber by_statement[2] = {lc.system_identifier, lc.ddl_id};
        bool keyed = lc.system_identifier != InvalidAttrNumber;
        HoldTimes h{
            statements,
            locks,
            &sc,
            &lc,
            gd_btree_index_on(statements_rel, by_backend, 2),
            gd_btree_index_on(locks_rel, keyed ? by_statement : &by_statement[1], keyed ? 2 : 1)};
        for (int i = 0; i < n; i++)
            if (batch[i]->kind == guarded_ddl::EntryKind::LocksReleased &&
                !guarded_ddl::released_within_batch(batch, i))
                fill_hold_times(h, *batch[i]);
    }

    gd_table_writer_end(locks);
    gd_table_writer_end(statements);
    table_close(locks_rel, NoLock);
    table_close(statements_rel, NoLock);
}
