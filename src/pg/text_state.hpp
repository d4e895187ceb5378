// What the earlier statements of a text guarded_ddl.explain() reads would
// have done by the time a later one runs, without running any of them: the
// transaction they are in and the locks it holds, the settings they change,
// and the relations and columns they create or rename, which the catalogs
// do not know yet. The analysis asks it (null while statements execute:
// then the session's real state is the state).
#pragma once

#include "pg/prelude.hpp"

#include "pg/statement_actions.hpp"

struct GdTextState;

extern GdTextState *gd_text_state;

// single_transaction: the text runs as one transaction (psql -1,
// node-pg-migrate), not statement by statement as psql -f runs it.
GdTextState *gd_text_state_begin(bool single_transaction);

// Transaction control and SET / RESET of the settings that change verdicts
// (TimeZone, search_path, guarded_ddl.*) change the state. Returns a note
// for the statement's row, or null.
const char *gd_text_state_before(GdTextState *state, Node *stmt);

// The locks the statement's actions take, and what it creates or renames.
void gd_text_state_after(GdTextState *state, Node *stmt, const GdAction *actions, int n);

// Puts the session's settings back. Returns a note when the text ends
// inside a transaction block, or null.
const char *gd_text_state_end(GdTextState *state);

// Whether the transaction holds a lock on relid at least as strong as mode:
// really, or through earlier statements of the text being explained.
bool gd_transaction_holds(Oid relid, LOCKMODE mode);

// Whether an earlier statement of the text creates (or renames to) the
// relation rv names, or adds (or renames to) the column of relid (any
// column, for a null one).
bool gd_text_creates_relation(const RangeVar *rv);
// Whether an earlier statement of the text drops the relation rv names, or
// renames it away (and none creates one of that name after).
bool gd_text_drops_relation(const RangeVar *rv);
bool gd_text_creates_column(Oid relid, const char *column);

// CHECK constraints of relid the text adds and validates (raw expressions
// as written), and whether it validates one the catalogs hold NOT VALID:
// what SET NOT NULL and ATTACH PARTITION may take as proof.
List *gd_text_valid_checks(Oid relid);
bool gd_text_validates_constraint(Oid relid, const char *name);
// Whether an earlier statement of the text adds a constraint named so to
// relid.
bool gd_text_adds_constraint(Oid relid, const char *name);
