// guarded_ddl.* settings. Policy settings are PGC_SUSET: an ordinary role
// cannot switch the guard off unless a DBA grants SET on the parameter.
#pragma once

#include "core/rule_policy.hpp"

// Values of guarded_ddl.mode; the order matches guarded_ddl::Mode.
enum GdMode { GD_MODE_OFF = 0, GD_MODE_WARN = 1, GD_MODE_ENFORCE = 2 };

extern int gd_mode;

// Lock guard (milliseconds, except lock_retries).
extern int gd_lock_timeout_ms;
extern int gd_lock_retry_delay_ms;
extern int gd_lock_retries;
extern int gd_lock_budget_ms;

// Rules: what counts as a large table (-1 disables a criterion), and
// guarded_ddl.rules parsed into per-rule overrides.
extern int gd_large_table_size_kb;
extern int gd_large_table_rows;
const guarded_ddl::RuleOverrides &gd_rule_overrides(void);

// Transaction guard: the most rows a DML statement may be estimated to touch
// while the transaction holds a strong lock on a large table (-1: no limit),
// and the longest such a lock may be held (milliseconds, 0: no cap).
extern int gd_max_rows_under_lock;
extern int gd_max_lock_hold_ms;

// Audit log: whether DDL is recorded, how many records the shared queue
// holds (fixed at server start), and how long a session waits for room in a
// full queue (milliseconds, 0: never).
extern bool gd_audit;
extern int gd_audit_queue_size;
extern int gd_audit_queue_wait_ms;

void gd_define_gucs(void);
