#pragma once

#include "pg/prelude.hpp"

// True for the utility statements guarded_ddl inspects: everything PostgreSQL
// logs as DDL, plus the maintenance commands that lock or rewrite tables.
bool gd_statement_is_guarded(Node *stmt);
