#include "pg/dml_guard.hpp"

#include "pg/audit_capture.hpp"
#include "pg/extension_objects.hpp"
#include "pg/gucs.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/transaction_locks.hpp"

extern "C" {
#include "catalog/pg_authid_d.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "parser/parsetree.h"
#include "storage/fd.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
}

#include <sys/stat.h>

#include <cmath>

namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;

double modify_table_rows(const Plan *plan) {
    // ModifyTable's own estimate is 0 without RETURNING: its input's is what
    // it would write.
    if (plan == nullptr || !IsA(plan, ModifyTable) || plan->lefttree == nullptr)
        return -1;
    return plan->lefttree->plan_rows;
}

// guarded_ddl's own bookkeeping (the drop event trigger marking approvals
// of a dropped table) runs as DML under the very lock it follows.
bool writes_only_own_tables(const PlannedStmt *pstmt) {
    Oid schema = gd_extension_schema();
    if (!OidIsValid(schema) || pstmt->resultRelations == NIL)
        return false;
    ListCell *lc;
    foreach (lc, pstmt->resultRelations) {
        RangeTblEntry *rte = rt_fetch(lfirst_int(lc), pstmt->rtable);
        if (get_rel_namespace(rte->relid) != schema)
            return false;
    }
    return true;
}

// The report needs the statement that took the lock and the DML's figure
// beside the usual size and recipe.
void judge(PlannedStmt *pstmt, const char *source, double rows) {
    if (gd_mode == GD_MODE_OFF || gd_max_rows_under_lock < 0)
        return;
    if (rows >= 0 && rows <= gd_max_rows_under_lock)
        return;
    const GdHeldLock *lock = gd_held_strong_lock(ShareRowExclusiveLock);
    if (lock == nullptr || writes_only_own_tables(pstmt))
        return;

    GdAction action{};
    action.relid = lock->relid;
    strlcpy(action.relation, lock->relation, sizeof action.relation);
    action.lock = lock->mode;
    action.effect = guarded_ddl::Effect::LockHold;
    action.rule = guarded_ddl::RuleId::DmlUnderStrongLock;
    // DML sent by the client is the query string itself; anything else ran
    // inside a function or DO block.
    int level = source == debug_query_string ? 0 : 1;
    guarded_ddl::AuditEntry *entry = gd_audit_begin(pstmt, source, level, gd_audit);
    guarded_ddl::StatementRecord *record = &entry->record;

    // An approval's use is taken at once: there are no locks to wait for
    // first, and a failure later rolls the use back with the transaction.
    GdDecision d = gd_decide(&action, true);
    if (d.verdict == guarded_ddl::Verdict::Allow && d.approval_id == 0)
        return;
    const char *name = guarded_ddl::rule(guarded_ddl::RuleId::DmlUnderStrongLock).name.data();
    record->n_rules = 1;
    strlcpy(record->rules[0], name, sizeof record->rules[0]);
    if (d.approval_id > 0) {
        record->outcome = guarded_ddl::Outcome::Approved;
        record->approval_id = d.approval_id;
        gd_audit_finish(entry, &action, 1, gd_audit);
        ereport(NOTICE, (errmsg("guarded_ddl: rule %s on \"%s\" passes under approval %lld", name,
                                action.relation, static_cast<long long>(d.approval_id))));
        return;
    }

    guarded_ddl::HeldLockContext held{GetLockmodeName(DEFAULT_LOCKMETHOD, lock->mode),
                                      lock->taken_by, rows, gd_max_rows_under_lock};
    GdReport report = gd_rule_report(guarded_ddl::RuleId::DmlUnderStrongLock, &action,
                                     record->command_tag, &d, &held);
    bool block = d.verdict == guarded_ddl::Verdict::Block;
    record->outcome = block ? guarded_ddl::Outcome::Blocked : guarded_ddl::Outcome::Warned;
    if (block) {
        strlcpy(record->sqlstate, unpack_sql_state(GD_ERRCODE_BLOCKED), sizeof record->sqlstate);
        strlcpy(record->error_message, report.message, sizeof record->error_message);
    }
    gd_audit_finish(entry, &action, 1, gd_audit);
    gd_ereport(block ? ERROR : WARNING, GD_ERRCODE_BLOCKED, report);
}

// What a server file COPY is about to read would load: its lines, counted
// until past the limit.
enum class FileRows { Counted, Uncountable, Unreadable };

FileRows count_lines(const char *path, long limit, double *rows) {
    FILE *file = AllocateFile(path, PG_BINARY_R);
    if (file == nullptr)
        return FileRows::Unreadable; // COPY will say why
    // A pipe or device would lose what this read to COPY, or never end.
    struct stat st;
    if (fstat(fileno(file), &st) != 0 || !S_ISREG(st.st_mode)) {
        FreeFile(file);
        return FileRows::Uncountable;
    }
    // Lines that long are no backfill anybody measured: not worth reading
    // a huge file twice to find out.
    constexpr size_t max_bytes = size_t{64} * 1024 * 1024;
    char buf[65536];
    long lines = 0;
    size_t read = 0;
    size_t got;
    while (lines <= limit && read < max_bytes && (got = fread(buf, 1, sizeof buf, file)) > 0) {
        CHECK_FOR_INTERRUPTS();
        read += got;
        for (size_t i = 0; i < got; i++)
            lines += buf[i] == '\n';
    }
    FreeFile(file);
    if (lines <= limit && read >= max_bytes)
        return FileRows::Uncountable;
    // Counting stopped past the limit: the rest of the file at the same
    // density, for the message's "about".
    *rows = static_cast<double>(lines);
    if (read > 0 && static_cast<off_t>(read) < st.st_size)
        *rows = std::floor(*rows * static_cast<double>(st.st_size) / static_cast<double>(read));
    return FileRows::Counted;
}

void executor_start(QueryDesc *query, int eflags) {
    // The one cost DML pays in a transaction without a strong lock.
    if (unlikely(gd_strong_locks_held) && (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0) {
        double rows = gd_planned_dml_rows(query->plannedstmt);
        if (rows >= 0)
            judge(query->plannedstmt, query->sourceText, rows);
    }
    if (prev_executor_start)
        prev_executor_start(query, eflags);
    else
        standard_ExecutorStart(query, eflags);
}

} // namespace

double gd_planned_dml_rows(const PlannedStmt *pstmt) {
    double rows = pstmt->commandType == CMD_SELECT ? -1 : modify_table_rows(pstmt->planTree);
    if (pstmt->hasModifyingCTE) {
        ListCell *lc;
        foreach (lc, pstmt->subplans)
            rows = Max(rows, modify_table_rows(static_cast<const Plan *>(lfirst(lc))));
    }
    return rows;
}

bool gd_copy_reads_text_file(const CopyStmt *copy) {
    if (copy->filename == nullptr || copy->is_program)
        return false;
    ListCell *lc;
    foreach (lc, copy->options) {
        auto *def = lfirst_node(DefElem, lc);
        if (strcmp(def->defname, "format") == 0)
            return pg_strcasecmp(defGetString(def), "binary") != 0;
    }
    return true;
}

void gd_judge_copy_from(PlannedStmt *pstmt, const char *query_string) {
    auto *copy = castNode(CopyStmt, pstmt->utilityStmt);
    if (!copy->is_from)
        return;
    if (gd_mode == GD_MODE_OFF || gd_max_rows_under_lock < 0 ||
        gd_held_strong_lock(ShareRowExclusiveLock) == nullptr)
        return;
    double rows = -1; // STDIN and PROGRAM: nobody knows beforehand
    if (gd_copy_reads_text_file(copy)) {
        // Only a role COPY itself lets read the file may learn anything
        // about it, here its line count in the message.
        if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
            return;
        switch (count_lines(copy->filename, gd_max_rows_under_lock, &rows)) {
        case FileRows::Unreadable:
            return;
        case FileRows::Uncountable:
            rows = -1;
            break;
        case FileRows::Counted:
            break;
        }
    }
    judge(pstmt, query_string, rows);
}

void gd_install_executor_hook(void) {
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = executor_start;
}
