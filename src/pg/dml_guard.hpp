// Rule dml_under_strong_lock: a large INSERT, UPDATE, DELETE, MERGE or COPY
// FROM while the transaction holds SHARE ROW EXCLUSIVE or stronger on a large
// table keeps everyone waiting on that table for as long as its rows take.
// Judged before the statement executes (ExecutorStart; COPY in the
// ProcessUtility hook) from the planner's row estimate, by the same
// machinery as every other rule: modes, overrides, table policies,
// approvals, GD001, the audit log.
#pragma once

#include "pg/prelude.hpp"

// For COPY FROM, from the ProcessUtility hook, while gd_strong_locks_held.
void gd_judge_copy_from(PlannedStmt *pstmt, const char *query_string);

// COPY names a server file in text or CSV format: one whose lines can be
// counted beforehand (STDIN, a program or binary data cannot).
bool gd_copy_reads_text_file(const CopyStmt *copy);

// The rows a plan's INSERT, UPDATE, DELETE or MERGE would touch, as the
// planner estimates them (the largest, with data-modifying WITH parts); -1
// for a plan that modifies nothing.
double gd_planned_dml_rows(const PlannedStmt *pstmt);

void gd_install_executor_hook(void);
