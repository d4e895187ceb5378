#include "pg/prelude.hpp"

#include "pg/gucs.hpp"

int gd_mode = GD_MODE_ENFORCE;

static const struct config_enum_entry gd_mode_options[] = {
    {"enforce", GD_MODE_ENFORCE, false},
    {"warn", GD_MODE_WARN, false},
    {"off", GD_MODE_OFF, false},
    {nullptr, 0, false},
};

void gd_define_gucs(void) {
    DefineCustomEnumVariable(
        "guarded_ddl.mode", "What guarded_ddl does with a dangerous DDL statement.",
        "enforce blocks it, warn lets it run with a WARNING, off disables the guard entirely.",
        &gd_mode, GD_MODE_ENFORCE, gd_mode_options, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}
