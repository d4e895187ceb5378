// The part of a statement's rollback class that its actions do not carry:
// statements that remove objects the analysis lists no action for (DROP
// SEQUENCE, DROP EXTENSION, DROP DATABASE, DROP OWNED, DROP ... CASCADE of
// something columns or tables may depend on). The class of the statement is
// the worst of this floor and its actions' classes.
#pragma once

#include "pg/prelude.hpp"

#include "core/rollback_class.hpp"

// DataRestore when the statement may remove stored values beyond what its
// actions say, Reversible otherwise. Reads the parse tree only.
guarded_ddl::Rollback gd_statement_rollback_floor(Node *stmt);
