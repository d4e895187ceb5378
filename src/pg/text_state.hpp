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
// for the statement's row, or null; *skipped when an earlier statement of
// its transaction fails, so PostgreSQL does not run it.
const char *gd_text_state_before(GdTextState *state, Node *stmt, bool *skipped);

// The statement is one PostgreSQL refuses: in a transaction block, the rest
// of the block is skipped.
void gd_text_state_fails(GdTextState *state);

// The locks the statement's actions take, and what it creates or renames.
// text: the statement as the hook's lock list would name it (redacted,
// cut), for the locks it takes.
void gd_text_state_after(GdTextState *state, Node *stmt, const GdAction *actions, int n,
                         const char *text);

// Puts the session's settings back. Returns a note when the text ends
// inside a transaction block, or null.
const char *gd_text_state_end(GdTextState *state);

// Whether the statement runs inside a transaction block: really, or in the
// text being explained.
bool gd_in_transaction_block(void);

// Whether the transaction holds a lock on relid at least as strong as mode:
// really, or through earlier statements of the text being explained.
bool gd_transaction_holds(Oid relid, LOCKMODE mode);

// A lock the text's open transaction holds through its earlier statements:
// one entry each time a statement takes a relation's lock in a stronger mode
// than before, in the order taken, as the hook's list of strong locks has
// them. ROLLBACK and COMMIT release them all, ROLLBACK TO SAVEPOINT those
// taken since the savepoint.
struct GdTextLock {
    Oid relid;
    LOCKMODE mode;
    const char *taken_by; // the statement that took it
};

// GdTextLock entries of the text being explained, oldest first; NIL outside
// explain() or a transaction block.
List *gd_text_locks(void);

// Whether an earlier statement of the text creates, drops, renames or
// changes the relation rv names (a partition attached or detached), or
// relid's column (any column of it, for a null one): what a later statement
// finds there is then not what the catalogs say.
bool gd_text_touches_relation(const RangeVar *rv);
bool gd_text_touches_column(Oid relid, const char *column);

// CHECK constraints of relid the text adds and validates (raw expressions
// as written), and whether it validates one the catalogs hold NOT VALID or
// drops one: what SET NOT NULL, ATTACH PARTITION and ALTER COLUMN TYPE
// find by then.
List *gd_text_valid_checks(Oid relid);
bool gd_text_validates_constraint(Oid relid, const char *name);
bool gd_text_drops_constraint(Oid relid, const char *name);
// Whether an earlier statement of the text adds a constraint named so to
// relid (and none drops it after).
bool gd_text_adds_constraint(Oid relid, const char *name);
