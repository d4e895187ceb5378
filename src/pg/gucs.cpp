#include "pg/prelude.hpp"

#include "pg/gucs.hpp"

int gd_mode = GD_MODE_ENFORCE;
int gd_lock_timeout_ms = 100;
int gd_lock_retry_delay_ms = 200;
int gd_lock_retries = 30;
int gd_lock_budget_ms = 60000;

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

    DefineCustomIntVariable(
        "guarded_ddl.lock_timeout", "Longest time one DDL lock attempt may wait in the lock queue.",
        "While DDL waits for a lock, every later query on the table waits behind it. 0 leaves "
        "lock waits to PostgreSQL.",
        &gd_lock_timeout_ms, 100, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("guarded_ddl.lock_retry_delay",
                            "Sleep after the first failed lock attempt; it doubles, with jitter, "
                            "after each further one.",
                            nullptr, &gd_lock_retry_delay_ms, 200, 1, 3600 * 1000, PGC_SUSET,
                            GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "guarded_ddl.lock_retries", "Most lock attempts per relation before the statement fails.",
        nullptr, &gd_lock_retries, 30, 1, 100000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("guarded_ddl.lock_budget",
                            "Most time per relation spent on lock attempts and the sleeps "
                            "between them.",
                            nullptr, &gd_lock_budget_ms, 60000, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);
}
