// What earlier runs of guarded_ddl.apply() did, as the audit log shows: the
// evidence that tells a rerun of a finished recipe (the object the statement
// names is gone because the recipe dropped it) from a statement that names
// an object that never was (a typo, which must fail as PostgreSQL fails it).
#pragma once

#include "pg/prelude.hpp"

// The id of the latest recipe an earlier apply() ran for statement (its
// text exactly as the apply text has it) in this database whose step of
// command ended without an error, or 0 when the audit log shows none. The
// audit records queued so far are written first (the log is written by a
// background worker, a moment after the step). The log is read as its owner,
// whatever the caller may read: only the audit writer writes it.
int64 gd_recipe_earlier_run(const char *statement, const char *command);
