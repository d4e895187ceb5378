// Runs one utility statement at top level, outside any transaction block,
// for guarded_ddl.apply(): the steps PostgreSQL refuses inside a transaction
// block or a function (CREATE INDEX CONCURRENTLY and its kin). The statement
// runs in a dynamic background worker connected to the same database as the
// calling role (the current user), with the caller's settings (search_path,
// the guarded_ddl.* settings, every other setting the session changed) and
// the recipe being run, so the hook judges, bounds and audits it exactly as
// the caller's own statement. The worker's NOTICEs and WARNINGs reach the
// caller as they happen, its ERROR is raised in the caller, and a cancel or
// an error in the caller while it waits stops the worker first.
#pragma once

#include "pg/prelude.hpp"

// Runs sql (one statement) in a top-level worker and waits for it to end.
// The caller must hold no snapshot and no lock the statement waits for:
// call it at the start of a transaction (right after a commit). An error of
// the statement without a HINT gets failure_hint, when not null.
void gd_run_toplevel(const char *sql, const char *failure_hint);

extern "C" {
PGDLLEXPORT void gd_toplevel_worker_main(Datum main_arg);
}
