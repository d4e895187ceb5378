// The ProcessUtility hook: the single door every utility statement passes,
// from psql, a migration tool, a function or a DO block alike.
#include "pg/prelude.hpp"

#include "pg/audit_capture.hpp"
#include "pg/dml_guard.hpp"
#include "pg/gucs.hpp"
#include "pg/lock_guard.hpp"
#include "pg/own_tables.hpp"
#include "pg/policy_store.hpp"
#include "pg/process_utility.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/statement_filter.hpp"
#include "pg/transaction_locks.hpp"

extern "C" {
#include "storage/proc.h"
}

using guarded_ddl::AuditEntry;
using guarded_ddl::StatementRecord;

static ProcessUtility_hook_type prev_process_utility_hook = nullptr;

// How many guarded statements are running in this backend right now: more
// than one for DDL issued from a function or trigger called by DDL.
static int gd_nesting_level = 0;

// The audit log's nesting level of a statement: 0 for one the client sent,
// more inside functions, DO blocks and triggers.
static int gd_audit_level(ProcessUtilityContext context, int enclosing) {
    return enclosing + (context == PROCESS_UTILITY_TOPLEVEL ? 0 : 1);
}

static void gd_run_standard(GD_PROCESS_UTILITY_PARAMS) {
    if (prev_process_utility_hook)
        prev_process_utility_hook(GD_PROCESS_UTILITY_ARGS);
    else
        standard_ProcessUtility(GD_PROCESS_UTILITY_ARGS);
}

// Runs the statement; the relations it dropped lose their policies and
// approvals when it ends (in its own transaction, so whatever rolls the drop
// back rolls that back too), and are no longer counted if it fails. An
// extension script's statements leave theirs to CREATE or ALTER EXTENSION.
static void gd_run_next(GD_PROCESS_UTILITY_PARAMS) {
    if (creating_extension || IsBinaryUpgrade) {
        gd_run_standard(GD_PROCESS_UTILITY_ARGS);
        return;
    }
    GdDropMark mark = gd_drop_mark();
    PG_TRY();
    { gd_run_standard(GD_PROCESS_UTILITY_ARGS); }
    PG_CATCH();
    {
        gd_drop_discard(mark);
        PG_RE_THROW();
    }
    PG_END_TRY();
    gd_drop_forget_since(mark);
}

// SET and RESET of a guarded_ddl.* variable: who switches the guard (or the
// audit log itself) off or loosens it is part of the audit trail, always.
static bool gd_is_guard_setting(Node *stmt) {
    if (!IsA(stmt, VariableSetStmt))
        return false;
    const char *name = castNode(VariableSetStmt, stmt)->name;
    return name != nullptr && strncmp(name, "guarded_ddl.", strlen("guarded_ddl.")) == 0;
}

static void gd_run_audited_setting(GD_PROCESS_UTILITY_PARAMS) {
    const char *name = castNode(VariableSetStmt, pstmt->utilityStmt)->name;
    AuditEntry *entry =
        gd_audit_begin(pstmt, query_string, gd_audit_level(context, gd_nesting_level), true);
    guarded_ddl::SettingChange &change = entry->setting;
    strlcpy(change.name, name, sizeof change.name);
    if (const char *old_value = GetConfigOption(name, true, false))
        strlcpy(change.old_value, old_value, sizeof change.old_value);

    MemoryContext statement_context = CurrentMemoryContext;
    PG_TRY();
    { gd_run_next(GD_PROCESS_UTILITY_ARGS); }
    PG_CATCH();
    {
        gd_audit_note_error(entry, statement_context);
        gd_audit_finish(entry, nullptr, 0, true);
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (const char *new_value = GetConfigOption(name, true, false))
        strlcpy(change.new_value, new_value, sizeof change.new_value);
    // A rollback undoes the change too: ddl_history must be able to say so.
    gd_audit_note_success(entry, pstmt->utilityStmt, false);
    gd_audit_finish(entry, nullptr, 0, true);
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

    // The variable itself, put back however the statement ends: a GUC
    // nesting level would cost more than the rest of the hook's bookkeeping,
    // and VACUUM's commits between tables would pop it from under us.
    int saved = LockTimeout;
    LockTimeout = timeout_ms;
    PG_TRY();
    { gd_run_next(GD_PROCESS_UTILITY_ARGS); }
    PG_FINALLY();
    { LockTimeout = saved; }
    PG_END_TRY();
}

// Runs a statement the guard inspects: rules first, so a blocked statement
// never queued for any lock, then the locks, then the statement itself. The
// audit entry is completed and queued however the statement ends. With
// guarded_ddl.mode = off the statement is only audited.
static void gd_guard_statement(GD_PROCESS_UTILITY_PARAMS) {
    Node *stmt = pstmt->utilityStmt;
    bool audited = gd_audit;
    AuditEntry *entry =
        gd_audit_begin(pstmt, query_string, gd_audit_level(context, gd_nesting_level - 1), audited);
    StatementRecord *record = &entry->record;
    bool enforce = gd_mode != GD_MODE_OFF;

    auto *actions = static_cast<GdAction *>(palloc(sizeof(GdAction) * gd_max_actions));
    volatile int n_actions = 0;
    auto *allowed = static_cast<GdAllowedRewrites *>(palloc0(sizeof(GdAllowedRewrites)));
    allowed->statement = stmt;
    auto *pending = static_cast<GdPendingApprovals *>(palloc0(sizeof(GdPendingApprovals)));
    GdAllowedRewrites *outer_rewrites = gd_current_rewrites;
    MemoryContext statement_context = CurrentMemoryContext;

    PG_TRY();
    {
        if (enforce) {
            // Inside the PG_TRY: an error the analysis raises is audited too.
            n_actions = gd_statement_actions(stmt, actions, gd_max_actions);
            gd_protect_own_tables(actions, n_actions, record->command_tag);
            gd_enforce_rules(actions, n_actions, record->command_tag, record, allowed, pending);
            gd_acquire_statement_locks(stmt, actions, n_actions, record);
            // An approval's use is taken once the locks are held (and the
            // privileges behind them checked).
            gd_use_approvals(actions, record->command_tag, record, pending);
            gd_note_strong_locks(entry, record->outcome == guarded_ddl::Outcome::Approved);
        }
        gd_current_rewrites = allowed;
        gd_run_bounded(GD_PROCESS_UTILITY_ARGS);
        gd_current_rewrites = outer_rewrites;
        if (enforce)
            gd_note_statement_done();
    }
    PG_CATCH();
    {
        gd_current_rewrites = outer_rewrites;
        if (audited)
            gd_audit_note_error(entry, statement_context);
        gd_audit_finish(entry, actions, n_actions, audited);
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (audited)
        gd_audit_note_success(entry, stmt, gd_statement_is_nontransactional(stmt));
    gd_audit_finish(entry, actions, n_actions, audited);
}

static void gd_process_utility(GD_PROCESS_UTILITY_PARAMS) {
    Node *stmt = pstmt->utilityStmt;
    // Subcommands belong to a statement that was already inspected; an
    // extension script and pg_upgrade replay trusted DDL.
    if (context == PROCESS_UTILITY_SUBCOMMAND || creating_extension || IsBinaryUpgrade) {
        gd_run_next(GD_PROCESS_UTILITY_ARGS);
        return;
    }
    if (gd_is_guard_setting(stmt)) {
        gd_run_audited_setting(GD_PROCESS_UTILITY_ARGS);
        return;
    }
    if (unlikely(gd_strong_locks_held) && IsA(stmt, CopyStmt))
        gd_judge_copy_from(pstmt, query_string);
    if ((gd_mode == GD_MODE_OFF && !gd_audit) || !gd_statement_is_guarded(stmt)) {
        gd_run_next(GD_PROCESS_UTILITY_ARGS);
        return;
    }

    if (gd_mode != GD_MODE_OFF)
        elog(DEBUG1, "guarded_ddl: inspecting %s at nesting level %d",
             GetCommandTagName(CreateCommandTag(stmt)), gd_nesting_level);

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
