// Version 1.0's two event triggers (sql_drop and table_rewrite) call these
// functions. Since 1.1 the library does their work itself, from the object
// access hook, in a database at either version; a database not yet updated
// still has the triggers, and ALTER EXTENSION guarded_ddl UPDATE drops them.
// The entry points stay so that the 1.0 script can be installed and such a
// database keeps working meanwhile.
#include "pg/prelude.hpp"

extern "C" {
#include "commands/event_trigger.h"
}

namespace {

Datum retired_event_trigger(FunctionCallInfo fcinfo, const char *name) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("guarded_ddl.%s() must be called as an event trigger", name)));
    PG_RETURN_VOID();
}

} // namespace

extern "C" {
PG_FUNCTION_INFO_V1(gd_table_rewrite_guard);
PG_FUNCTION_INFO_V1(gd_forget_dropped_tables);
}

extern "C" Datum gd_table_rewrite_guard(PG_FUNCTION_ARGS) {
    return retired_event_trigger(fcinfo, "table_rewrite_guard");
}

extern "C" Datum gd_forget_dropped_tables(PG_FUNCTION_ARGS) {
    return retired_event_trigger(fcinfo, "forget_dropped_tables");
}
