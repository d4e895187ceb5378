// guarded_ddl.lock_timeline(since, until): the audit log's locks of a time
// window as an SVG document (the drawing is core/lock_timeline).
//
// SECURITY INVOKER: the log is read through SPI as the calling user, so a
// reviewer with SELECT on ddl_log and lock_log can call it and anyone else
// gets PostgreSQL's own permission error. The caller's search_path is in
// force, hence every table, function, operator and type of the SQL below is
// qualified.
//
// The rows are copied into palloc'd plain structs while SPI is connected;
// only after SPI_finish does C++ build its strings, inside invoke_cpp, so no
// std::string is alive across a call that can ereport.
#include "pg/prelude.hpp"

#include "core/lock_timeline.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/extension_objects.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/timestamp.h"
}

#include <cmath>

extern "C" {
PG_FUNCTION_INFO_V1(gd_lock_timeline);
}

namespace {

// At most this many lock rows (the newest) and as many statement markers.
constexpr int64 row_bound = 2000;

// Lock rows whose wait or hold overlaps [$1, $2], newest first: the wait is
// wait_ms before granted_at (for a lock never granted: from the statement's
// start), the hold runs held_ms from granted_at, or on (null) while held or
// when the release was not recorded. %1$s and %2$s keep to one server's rows
// ($4) on tables that hold several servers' (own_rows_join, own_rows_where).
constexpr const char *locks_sql = R"SQL(
SELECT x.relation, x.lock_mode, x.wait_start, x.granted_at, x.lock_end, x.started_at,
       x.duration_ms, x.statement, x.executing_role, x.session_role, x.verdict,
       pg_catalog.count(*) OVER () AS total
  FROM (SELECT l.id AS lock_id, l.relation, l.lock_mode, l.granted_at, d.started_at,
               d.duration_ms, d.statement, d.executing_role, d.session_role, d.verdict,
               CASE WHEN l.granted_at IS NULL THEN d.started_at
                    ELSE l.granted_at OPERATOR(pg_catalog.-) pg_catalog.make_interval(
                             secs => l.wait_ms OPERATOR(pg_catalog./) 1000::pg_catalog.float8)
               END AS wait_start,
               CASE WHEN l.granted_at IS NULL
                    THEN d.started_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(
                             secs => l.wait_ms OPERATOR(pg_catalog./) 1000::pg_catalog.float8)
                    ELSE l.granted_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(
                             secs => l.held_ms OPERATOR(pg_catalog./) 1000::pg_catalog.float8)
               END AS lock_end
          FROM guarded_ddl.ddl_log AS d
          JOIN guarded_ddl.lock_log AS l ON l.ddl_id OPERATOR(pg_catalog.=) d.id%1$s
         WHERE d.started_at OPERATOR(pg_catalog.<=) $2%2$s) AS x
 WHERE x.wait_start OPERATOR(pg_catalog.<=) $2
   AND (x.lock_end IS NULL OR x.lock_end OPERATOR(pg_catalog.>=) $1)
 ORDER BY x.wait_start DESC, x.lock_id DESC
 LIMIT $3
)SQL";

// Statements drawn as markers on their objects' lanes: the lock-hold cap (at
// the time it fired), and blocked or failed statements that have no lock row
// to carry the mark (at their end). %1$s and %2$s as in locks_sql.
constexpr const char *events_sql = R"SQL(
SELECT x.relation, x.at, x.is_cap, x.verdict, x.statement, x.executing_role, x.session_role,
       x.error_message, pg_catalog.count(*) OVER () AS total
  FROM (SELECT d.id, o.relation, d.verdict, d.statement, d.executing_role, d.session_role,
               d.error_message,
               d.command OPERATOR(pg_catalog.=) 'LOCK HOLD CAP'::pg_catalog.text AS is_cap,
               CASE WHEN d.command OPERATOR(pg_catalog.=) 'LOCK HOLD CAP'::pg_catalog.text
                    THEN d.started_at
                    ELSE d.started_at OPERATOR(pg_catalog.+) pg_catalog.make_interval(
                             secs => d.duration_ms OPERATOR(pg_catalog./) 1000::pg_catalog.float8)
               END AS at
          FROM guarded_ddl.ddl_log AS d
         CROSS JOIN LATERAL pg_catalog.unnest(d.objects) AS o(relation)
         WHERE d.started_at OPERATOR(pg_catalog.<=) $2%2$s
           AND (d.command OPERATOR(pg_catalog.=) 'LOCK HOLD CAP'::pg_catalog.text
                OR (d.verdict OPERATOR(pg_catalog.=) ANY ('{blocked,failed}'::pg_catalog.text[])
                    AND NOT EXISTS (SELECT FROM guarded_ddl.lock_log AS l
                                     WHERE l.ddl_id OPERATOR(pg_catalog.=) d.id%1$s)))) AS x
 WHERE x.at OPERATOR(pg_catalog.>=) $1 AND x.at OPERATOR(pg_catalog.<=) $2
 ORDER BY x.at DESC, x.id DESC, x.relation
 LIMIT $3
)SQL";

// A lock row belongs to its statement's server; a statement to the server
// asked for. Version 1.0's tables (no system_identifier) hold one server's.
constexpr const char *own_rows_join =
    " AND l.system_identifier OPERATOR(pg_catalog.=) d.system_identifier";
constexpr const char *own_rows_where = " AND d.system_identifier OPERATOR(pg_catalog.=) $4";

// The rows as read, in the caller's memory context; plain data only.
struct RawLock {
    const char *relation, *mode, *statement, *executing_role, *session_role, *verdict;
    TimestampTz wait_start, lock_end, statement_end;
    bool granted, open;
    TimestampTz granted_at;
};

struct RawEvent {
    const char *relation, *verdict, *statement, *executing_role, *session_role, *message;
    TimestampTz at;
    bool is_cap;
};

struct Rows {
    RawLock *locks;
    int64 nlocks, locks_total;
    RawEvent *events;
    int64 nevents, events_total;
};

int64 unix_us(TimestampTz t) {
    return t + static_cast<int64>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

// Column col of row as text copied into cxt; "" when null.
const char *text_col(MemoryContext cxt, uint64 row, int col) {
    char *value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
    return value == nullptr ? "" : MemoryContextStrdup(cxt, value);
}

Datum bin_col(uint64 row, int col, bool *isnull) {
    return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

void run(const char *sql, bool fleet_rows, Datum since, Datum until, int64 system_identifier) {
    Oid types[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID};
    Datum values[4] = {since, until, Int64GetDatum(row_bound), Int64GetDatum(system_identifier)};
    sql = fleet_rows ? psprintf(sql, own_rows_join, own_rows_where) : psprintf(sql, "", "");
    int rc = SPI_execute_with_args(sql, 4, types, values, nullptr, true, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "guarded_ddl.lock_timeline: reading the audit log failed: %s",
             SPI_result_code_string(rc));
}

Rows read_rows(Datum since, Datum until, bool fleet_rows, int64 system_identifier) {
    MemoryContext cxt = CurrentMemoryContext;
    Rows rows{};
    bool isnull;
    SPI_connect();

    run(locks_sql, fleet_rows, since, until, system_identifier);
    rows.nlocks = static_cast<int64>(SPI_processed);
    rows.locks = static_cast<RawLock *>(
        MemoryContextAllocZero(cxt, sizeof(RawLock) * static_cast<Size>(rows.nlocks + 1)));
    for (uint64 i = 0; i < SPI_processed; ++i) {
        RawLock &l = rows.locks[i];
        l.relation = text_col(cxt, i, 1);
        l.mode = text_col(cxt, i, 2);
        l.wait_start = DatumGetTimestampTz(bin_col(i, 3, &isnull));
        Datum granted_at = bin_col(i, 4, &isnull);
        l.granted = !isnull;
        l.granted_at = l.granted ? DatumGetTimestampTz(granted_at) : 0;
        Datum lock_end = bin_col(i, 5, &isnull);
        l.open = isnull;
        l.lock_end = isnull ? 0 : DatumGetTimestampTz(lock_end);
        TimestampTz started_at = DatumGetTimestampTz(bin_col(i, 6, &isnull));
        double duration_ms = DatumGetFloat8(bin_col(i, 7, &isnull));
        l.statement_end = started_at + (std::isfinite(duration_ms) && duration_ms > 0
                                            ? static_cast<int64>(std::llround(duration_ms * 1000.0))
                                            : 0);
        l.statement = text_col(cxt, i, 8);
        l.executing_role = text_col(cxt, i, 9);
        l.session_role = text_col(cxt, i, 10);
        l.verdict = text_col(cxt, i, 11);
        if (i == 0)
            rows.locks_total = DatumGetInt64(bin_col(i, 12, &isnull));
    }

    run(events_sql, fleet_rows, since, until, system_identifier);
    rows.nevents = static_cast<int64>(SPI_processed);
    rows.events = static_cast<RawEvent *>(
        MemoryContextAllocZero(cxt, sizeof(RawEvent) * static_cast<Size>(rows.nevents + 1)));
    for (uint64 i = 0; i < SPI_processed; ++i) {
        RawEvent &e = rows.events[i];
        e.relation = text_col(cxt, i, 1);
        e.at = DatumGetTimestampTz(bin_col(i, 2, &isnull));
        e.is_cap = DatumGetBool(bin_col(i, 3, &isnull));
        e.verdict = text_col(cxt, i, 4);
        e.statement = text_col(cxt, i, 5);
        e.executing_role = text_col(cxt, i, 6);
        e.session_role = text_col(cxt, i, 7);
        e.message = text_col(cxt, i, 8);
        if (i == 0)
            rows.events_total = DatumGetInt64(bin_col(i, 9, &isnull));
    }

    SPI_finish();
    return rows;
}

// The logic zone's input from the rows; C++ only, nothing here ereports.
guarded_ddl::TimelineInput timeline_input(const Rows &rows, TimestampTz since, TimestampTz until) {
    guarded_ddl::TimelineInput in;
    in.since_us = unix_us(since);
    in.until_us = unix_us(until);
    in.locks.reserve(static_cast<std::size_t>(rows.nlocks));
    for (int64 i = 0; i < rows.nlocks; ++i) {
        const RawLock &r = rows.locks[i];
        guarded_ddl::TimelineLock l;
        l.relation = r.relation;
        l.mode = r.mode;
        l.wait_start_us = unix_us(r.wait_start);
        if (r.granted) {
            l.granted_us = unix_us(r.granted_at);
            if (!r.open)
                l.released_us = unix_us(r.lock_end);
        } else {
            l.wait_end_us = unix_us(r.lock_end);
        }
        std::string_view verdict = r.verdict;
        l.outcome = verdict == "blocked"  ? guarded_ddl::TimelineOutcome::Blocked
                    : verdict == "failed" ? guarded_ddl::TimelineOutcome::Failed
                                          : guarded_ddl::TimelineOutcome::Ok;
        l.statement_end_us = unix_us(r.statement_end);
        l.statement = r.statement;
        l.executing_role = r.executing_role;
        l.session_role = r.session_role;
        l.verdict = r.verdict;
        in.locks.push_back(std::move(l));
    }
    in.events.reserve(static_cast<std::size_t>(rows.nevents));
    for (int64 i = 0; i < rows.nevents; ++i) {
        const RawEvent &r = rows.events[i];
        guarded_ddl::TimelineEvent e;
        e.kind = r.is_cap ? guarded_ddl::TimelineEvent::Kind::Capped
                 : std::string_view(r.verdict) == "blocked"
                     ? guarded_ddl::TimelineEvent::Kind::Blocked
                     : guarded_ddl::TimelineEvent::Kind::Failed;
        e.relation = r.relation;
        e.at_us = unix_us(r.at);
        e.statement = r.statement;
        e.executing_role = r.executing_role;
        e.session_role = r.session_role;
        e.message = r.message;
        in.events.push_back(std::move(e));
    }
    if (rows.locks_total > rows.nlocks)
        in.locks_left_out = static_cast<std::size_t>(rows.locks_total - rows.nlocks);
    if (rows.events_total > rows.nevents)
        in.events_left_out = static_cast<std::size_t>(rows.events_total - rows.nevents);
    return in;
}

} // namespace

extern "C" Datum gd_lock_timeline(PG_FUNCTION_ARGS) {
    TimestampTz since = PG_GETARG_TIMESTAMPTZ(0);
    TimestampTz until = PG_GETARG_TIMESTAMPTZ(1);
    if (TIMESTAMP_NOT_FINITE(since) || TIMESTAMP_NOT_FINITE(until))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("guarded_ddl.lock_timeline: since and until must be finite")));
    if (since > until) {
        // timestamptz_to_str returns a static buffer: copy the first one.
        char *since_text = pstrdup(timestamptz_to_str(since));
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("guarded_ddl.lock_timeline: since must not be later than until"),
                 errdetail("since is %s, until is %s.", since_text, timestamptz_to_str(until))));
    }

    // lock_timeline(since, until): this server's rows; the three-argument
    // form (1.1 on): the given server's.
    bool fleet_rows = gd_extension_objects()->fleet_rows;
    int64 server = PG_NARGS() >= 3 ? PG_GETARG_INT64(2) : static_cast<int64>(GetSystemIdentifier());
    Rows rows = read_rows(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), fleet_rows, server);

    text *svg = guarded_ddl::pg::invoke_cpp([&] {
        std::string document =
            guarded_ddl::render_lock_timeline(timeline_input(rows, since, until));
        return guarded_ddl::pg::pg_call([&] {
            return cstring_to_text_with_len(document.data(), static_cast<int>(document.size()));
        });
    });
    PG_RETURN_TEXT_P(svg);
}
