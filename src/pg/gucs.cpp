#include "pg/prelude.hpp"

#include "pg/gucs.hpp"

#include "core/exception_report.hpp"

int gd_mode = GD_MODE_ENFORCE;
int gd_lock_timeout_ms = 100;
int gd_lock_retry_delay_ms = 200;
int gd_lock_retries = 30;
int gd_lock_budget_ms = 60000;
int gd_large_table_size_kb = 10 * 1024;
int gd_large_table_rows = 100000;
int gd_max_rows_under_lock = 10000;
int gd_max_lock_hold_ms = 10000;
bool gd_audit = true;
int gd_audit_queue_size = 256;
int gd_audit_queue_wait_ms = 1000;

static char *gd_rules_text = nullptr;
static guarded_ddl::RuleOverrides gd_current_overrides{};

const guarded_ddl::RuleOverrides &gd_rule_overrides(void) {
    return gd_current_overrides;
}

// Parsing happens in the check hook, so a bad value is refused before it is
// set; the parsed overrides travel to the assign hook as the GUC's "extra".
// A check hook must not ereport(ERROR): the logic zone's exception becomes
// the GUC error report instead.
static bool gd_check_rules(char **newval, void **extra, GucSource) {
    guarded_ddl::ExceptionReport report;
    try {
        guarded_ddl::RuleOverrides parsed =
            guarded_ddl::parse_rule_overrides(*newval ? *newval : "");
        void *copy = gd_guc_alloc(sizeof parsed);
        if (copy == nullptr)
            return false;
        memcpy(copy, &parsed, sizeof parsed);
        *extra = copy;
        return true;
    } catch (...) {
        guarded_ddl::describe_current_exception(report);
    }
    GUC_check_errcode(MAKE_SQLSTATE(report.sqlstate[0], report.sqlstate[1], report.sqlstate[2],
                                    report.sqlstate[3], report.sqlstate[4]));
    GUC_check_errmsg("%s", report.message);
    if (report.detail[0] != '\0')
        GUC_check_errdetail("%s", report.detail);
    if (report.hint[0] != '\0')
        GUC_check_errhint("%s", report.hint);
    return false;
}

static void gd_assign_rules(const char *, void *extra) {
    if (extra != nullptr)
        memcpy(&gd_current_overrides, extra, sizeof gd_current_overrides);
}

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
    DefineCustomIntVariable("guarded_ddl.large_table_size",
                            "Relations at least this big (table, TOAST and indexes) are large.",
                            "-1 leaves size out of the decision.", &gd_large_table_size_kb,
                            10 * 1024, -1, INT_MAX, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("guarded_ddl.large_table_rows",
                            "Relations with at least this many estimated rows are large.",
                            "-1 leaves the row estimate out of the decision.", &gd_large_table_rows,
                            100000, -1, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("guarded_ddl.rules", "Per-rule overrides of guarded_ddl.mode.",
                               "A comma-separated list of rule_id=mode, for example "
                               "'drop_column=warn, rename_column=off'.",
                               &gd_rules_text, "", PGC_SUSET, 0, gd_check_rules, gd_assign_rules,
                               nullptr);
    DefineCustomIntVariable("guarded_ddl.lock_budget",
                            "Most time per relation spent on lock attempts and the sleeps "
                            "between them.",
                            nullptr, &gd_lock_budget_ms, 60000, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);

    DefineCustomIntVariable(
        "guarded_ddl.max_rows_under_lock",
        "Most rows an INSERT, UPDATE, DELETE, MERGE or COPY FROM is estimated to touch while the "
        "transaction holds SHARE ROW EXCLUSIVE or stronger on a large table.",
        "Rule dml_under_strong_lock fires above it. -1 leaves DML unjudged.",
        &gd_max_rows_under_lock, 10000, -1, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "guarded_ddl.max_lock_hold",
        "Longest a transaction may hold SHARE or stronger on a large table, taken by a guarded "
        "statement.",
        "A running statement is cancelled, an idle session terminated. 0 switches the cap off.",
        &gd_max_lock_hold_ms, 10000, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);

    DefineCustomBoolVariable("guarded_ddl.audit",
                             "Records every DDL statement and the locks it took in "
                             "guarded_ddl.ddl_log and guarded_ddl.lock_log.",
                             nullptr, &gd_audit, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("guarded_ddl.audit_queue_size",
                            "Audit records the shared-memory queue holds before records "
                            "overflow to the server log.",
                            "Each record takes about 21 kB of shared memory.", &gd_audit_queue_size,
                            256, 1, 65536, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "guarded_ddl.audit_queue_wait",
        "Longest a session waits for room in a full audit queue before its record goes to the "
        "server log.",
        "A session that waited in vain does not wait again until the queue had room. 0 never "
        "waits.",
        &gd_audit_queue_wait_ms, 1000, 0, 60000, PGC_SUSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
}
