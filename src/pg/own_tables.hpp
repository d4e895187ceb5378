// guarded_ddl's own tables hold the audit log and the DBA's policy: only a
// superuser may change their structure or empty them, whatever was granted.
#pragma once

#include "pg/prelude.hpp"

#include "pg/statement_actions.hpp"

// ERROR (42501) when a non-superuser's statement would act on a relation in
// the installed extension's schema (not a look-alike of that name).
void gd_protect_own_tables(const GdAction *actions, int n_actions, const char *command_tag);
