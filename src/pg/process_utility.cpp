// The ProcessUtility hook: the single door every utility statement passes,
// from psql, a migration tool, a function or a DO block alike.
#include "pg/prelude.hpp"

#include "pg/gucs.hpp"
#include "pg/process_utility.hpp"
#include "pg/statement_filter.hpp"

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

static void gd_process_utility(GD_PROCESS_UTILITY_PARAMS) {
    if (!gd_should_inspect(pstmt, context)) {
        gd_run_next(GD_PROCESS_UTILITY_ARGS);
        return;
    }

    elog(DEBUG1, "guarded_ddl: inspecting %s at nesting level %d",
         GetCommandTagName(CreateCommandTag(pstmt->utilityStmt)), gd_nesting_level);

    gd_nesting_level++;
    PG_TRY();
    {
        gd_run_next(GD_PROCESS_UTILITY_ARGS);
    }
    PG_FINALLY();
    {
        gd_nesting_level--;
    }
    PG_END_TRY();
}

void gd_install_process_utility_hook(void) {
    prev_process_utility_hook = ProcessUtility_hook;
    ProcessUtility_hook = gd_process_utility;
}
