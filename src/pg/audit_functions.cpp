// guarded_ddl.flush() and guarded_ddl.audit_stats(): waiting for the audit
// writer, and the queue's counters; guarded_ddl.system_identifier(): the
// server the audit rows come from.
#include "pg/prelude.hpp"

#include "pg/audit_shmem.hpp"

extern "C" {
#include "access/xlog.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(gd_flush);
PG_FUNCTION_INFO_V1(gd_audit_stats);
PG_FUNCTION_INFO_V1(gd_system_identifier);
}

// As pg_control_system() shows it: the unsigned identifier as a bigint.
extern "C" Datum gd_system_identifier(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT64(static_cast<int64>(GetSystemIdentifier()));
}

extern "C" Datum gd_flush(PG_FUNCTION_ARGS) {
    Interval *timeout = PG_GETARG_INTERVAL_P(0);
    // Months and days as PostgreSQL's interval arithmetic counts them.
    double usecs = timeout->time + static_cast<double>(timeout->day) * USECS_PER_DAY +
                   static_cast<double>(timeout->month) * DAYS_PER_MONTH * USECS_PER_DAY;
    if (usecs < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("guarded_ddl: flush timeout must not be negative")));
    double max_ms = static_cast<double>(PG_INT64_MAX) / 2;
    PG_RETURN_BOOL(gd_audit_wait_written(static_cast<int64>(Min(usecs / 1000.0, max_ms))));
}

extern "C" Datum gd_audit_stats(PG_FUNCTION_ARGS) {
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "guarded_ddl: audit_stats must return a row");
    GdAuditCounters c = gd_audit_counters();
    Datum values[6] = {Int64GetDatum(static_cast<int64>(c.queued)),
                       Int64GetDatum(static_cast<int64>(c.written)),
                       Int64GetDatum(static_cast<int64>(c.overflowed)),
                       Int64GetDatum(static_cast<int64>(c.failed)),
                       Int64GetDatum(static_cast<int64>(c.not_installed)),
                       Int32GetDatum(c.pending)};
    bool nulls[6] = {false, false, false, false, false, false};
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
