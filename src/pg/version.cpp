// guarded_ddl.version(): the version of the loaded library, so a DBA can tell
// when the installed SQL objects (pg_extension.extversion) lag behind it.
#include "pg/prelude.hpp"

#ifndef GD_VERSION
#error "GD_VERSION must be defined by the build"
#endif

extern "C" {
PG_FUNCTION_INFO_V1(gd_version);
}

extern "C" Datum gd_version(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_TEXT_P(cstring_to_text(GD_VERSION));
}
