#include "pg/cpp_boundary.hpp"

namespace guarded_ddl::pg {

bool run_catching_pg_error(void (*fn)(void *), void *arg) {
    volatile bool ok = true;
    PG_TRY();
    { fn(arg); }
    PG_CATCH();
    { ok = false; }
    PG_END_TRY();
    return ok;
}

void throw_pg_error(MemoryContext caller_context) {
    // Still inside PostgreSQL's error state: copy the error out of
    // ErrorContext before resetting it, so it can be re-raised intact.
    MemoryContextSwitchTo(caller_context);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    throw PgError(edata);
}

void report_exception(const ExceptionReport &report) {
    const char *s = report.sqlstate;
    ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])),
                    errmsg_internal("%s", report.message),
                    report.detail[0] ? errdetail_internal("%s", report.detail) : 0,
                    report.hint[0] ? errhint("%s", report.hint) : 0));
    pg_unreachable();
}

} // namespace guarded_ddl::pg
