// The ProcessUtility hook: the single door every utility statement passes,
// from psql, a migration tool, a function or a DO block alike.
#include "pg/prelude.hpp"

#include "pg/gucs.hpp"
#include "pg/lock_guard.hpp"
#include "pg/process_utility.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/statement_filter.hpp"

extern "C" {
#include "storage/proc.h"
#include "utils/timestamp.h"
}

using guarded_ddl::StatementRecord;

static ProcessUtility_hook_type prev_process_utility_hook = nullptr;

// How many guarded statements are running in this backend right now: 0 at top
// level, more for DDL issued from a function called by DDL.
static int gd_nesting_level = 0;

static void gd_run_next(GD_PROCESS_UTILITY_PARAMS) {
    if (prev_process_utility_hook)
        prev_process_utility_hook(GD_PROCESS_UTILITY_ARGS);
    else
        standard_ProcessUtility(GD_PROCESS_UTILITY_ARGS);
}

static bool gd_should_inspect(PlannedStmt *pstmt, ProcessUtilityContext context) {
    // Subcommands belong to a statement that was already inspected; an
    // extension script and pg_upgrade replay trusted DDL.
    if (gd_mode == GD_MODE_OFF || context == PROCESS_UTILITY_SUBCOMMAND || creating_extension ||
        IsBinaryUpgrade)
        return false;
    return gd_statement_is_guarded(pstmt->utilityStmt);
}

// Runs the statement with guarded_ddl's lock_timeout as a safety net for the
// locks the guard did not take up front (indexes, TOAST, partitions, tables
// created or referenced by the statement), and the session's own
// lock_timeout back afterwards, error or not.
static void gd_run_bounded(GD_PROCESS_UTILITY_PARAMS) {
    Node *stmt = pstmt->utilityStmt;
    int timeout_ms = gd_effective_lock_timeout_ms();
    bool nontransactional = gd_statement_is_nontransactional(stmt);

    // CREATE INDEX CONCURRENTLY and its kin later wait for old snapshots
    // through the lock manager; a lock_timeout there would leave an invalid
    // index behind. Their table lock was taken up front.
    if (timeout_ms == 0 || (nontransactional && !gd_statement_locks_in_own_transactions(stmt))) {
        gd_run_next(GD_PROCESS_UTILITY_ARGS);
        return;
    }

    if (nontransactional) {
        // VACUUM commits between tables, which would pop a GUC nesting level
        // from under us: set the variable for the statement and put it back.
        int saved = LockTimeout;
        LockTimeout = timeout_ms;
        PG_TRY();
        { gd_run_next(GD_PROCESS_UTILITY_ARGS); }
        PG_FINALLY();
        { LockTimeout = saved; }
        PG_END_TRY();
        return;
    }

    // On error, transaction or subtransaction abort pops the level for us.
    int nest_level = NewGUCNestLevel();
    char value[32];
    snprintf(value, sizeof value, "%d", timeout_ms);
    (void)set_config_option("lock_timeout", value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    gd_run_next(GD_PROCESS_UTILITY_ARGS);
    AtEOXact_GUC(true, nest_level);
}

static void gd_guard_statement(GD_PROCESS_UTILITY_PARAMS) {
    Node *stmt = pstmt->utilityStmt;
    auto *record = static_cast<StatementRecord *>(palloc0(sizeof(StatementRecord)));
    record->nesting_level = gd_nesting_level;
    record->start_us = GetCurrentTimestamp();
    strlcpy(record->command_tag, GetCommandTagName(CreateCommandTag(stmt)),
            sizeof record->command_tag);

    // One analysis for both: rules first, so a blocked statement never
    // queued for any lock; an approval's use is taken once the locks are
    // held (and the privileges behind them checked).
    auto *actions = static_cast<GdAction *>(palloc(sizeof(GdAction) * gd_max_actions));
    int n_actions = gd_statement_actions(stmt, actions, gd_max_actions);
    auto *allowed = static_cast<GdAllowedRewrites *>(palloc0(sizeof(GdAllowedRewrites)));
    auto *pending = static_cast<GdPendingApprovals *>(palloc0(sizeof(GdPendingApprovals)));
    gd_enforce_rules(actions, n_actions, record->command_tag, record, allowed, pending);
    gd_acquire_statement_locks(stmt, actions, n_actions, record);
    gd_use_approvals(actions, record->command_tag, record, pending);

    GdAllowedRewrites *outer_rewrites = gd_current_rewrites;
    gd_current_rewrites = allowed;
    PG_TRY();
    { gd_run_bounded(GD_PROCESS_UTILITY_ARGS); }
    PG_FINALLY();
    { gd_current_rewrites = outer_rewrites; }
    PG_END_TRY();
}

static void gd_process_utility(GD_PROCESS_UTILITY_PARAMS) {
    if (!gd_should_inspect(pstmt, context)) {
        gd_run_next(GD_PROCESS_UTILITY_ARGS);
        return;
    }

    elog(DEBUG1, "guarded_ddl: inspecting %s at nesting level %d",
         GetCommandTagName(CreateCommandTag(pstmt->utilityStmt)), gd_nesting_level);

    gd_nesting_level++;
    PG_TRY();
    { gd_guard_statement(GD_PROCESS_UTILITY_ARGS); }
    PG_FINALLY();
    { gd_nesting_level--; }
    PG_END_TRY();
}

void gd_install_process_utility_hook(void) {
    prev_process_utility_hook = ProcessUtility_hook;
    ProcessUtility_hook = gd_process_utility;
}
