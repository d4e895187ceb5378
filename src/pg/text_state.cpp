#include "pg/text_state.hpp"

extern "C" {
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "storage/lock.h"
#include "utils/guc.h"
}

namespace {

// Made by a statement of simulated transaction xact.
struct TextEntry {
    int xact;
};

// What an earlier statement does to a name: creates it (or renames
// something to it), drops it (or renames it away), or changes what it names
// (a partition attached or detached, a column's type).
enum class NameChange { Created, Gone, Changed };

// A relation (relid invalid) or a column of relid that an earlier statement
// creates, drops or changes.
struct TextName : TextEntry {
    Oid relid;
    const char *schema;
    const char *name;
    NameChange change;
};

// A constraint an earlier statement adds, validates or drops; raw is the
// expression of a CHECK it adds.
struct TextCheck : TextEntry {
    Oid relid;
    const char *name;
    Node *raw;
    bool added;
    bool validated;
    bool dropped;
};

// A savepoint of the open block: ROLLBACK TO it gives back the locks held
// when it was set.
struct TextSavepoint {
    const char *name;
    List *locks;
};

} // namespace

struct GdTextState {
    bool single_transaction;
    bool in_block;
    bool aborted;      // a statement of the open block fails: the rest is skipped
    int xact;          // numbers the simulated transactions
    int session_level; // GUC nest level of the whole text
    int block_level;   // GUC nest level of the open transaction block
    List *locks;       // GdTextLock: held by the open transaction
    List *savepoints;  // TextSavepoint, innermost last
    List *names;       // TextName
    List *checks;      // TextCheck
    // SET LOCAL in the open block: names, and the values before it. A
    // committed nest level hands its LOCAL values to the level below, so
    // they are put back by hand when the block commits.
    List *local_names;
    List *local_priors;
};

GdTextState *gd_text_state = nullptr;

namespace {

// What an entry of names or checks was made in: a ROLLBACK forgets it.
List *made_before(List *entries, int xact) {
    List *kept = NIL;
    ListCell *lc;
    foreach (lc, entries)
        if (static_cast<TextEntry *>(lfirst(lc))->xact != xact)
            kept = lappend(kept, lfirst(lc));
    return kept;
}

void begin_block(GdTextState *s) {
    s->in_block = true;
    s->xact++;
    s->block_level = NewGUCNestLevel();
}

// COMMIT keeps what the block created and its SET (not SET LOCAL) values;
// ROLLBACK undoes both. Either way its locks are released.
void end_block(GdTextState *s, bool commit) {
    AtEOXact_GUC(commit, s->block_level);
    ListCell *name;
    ListCell *prior;
    forboth(name, s->local_names, prior, s->local_priors) if (commit)(void)
        set_config_option(strVal(lfirst(name)), static_cast<char *>(lfirst(prior)), PGC_SUSET,
                          PGC_S_SESSION, GUC_ACTION_SET, true, WARNING, false);
    s->local_names = s->local_priors = NIL;
    s->in_block = false;
    s->aborted = false;
    s->locks = NIL;
    s->savepoints = NIL;
    if (commit)
        return;
    s->names = made_before(s->names, s->xact);
    s->checks = made_before(s->checks, s->xact);
}

bool setting_changes_verdicts(const char *name) {
    return pg_strcasecmp(name, "timezone") == 0 || pg_strcasecmp(name, "search_path") == 0 ||
           pg_strncasecmp(name, "guarded_ddl.", strlen("guarded_ddl.")) == 0;
}

// The innermost savepoint of the open block named so, or -1.
int find_savepoint(const GdTextState *s, const char *name) {
    for (int i = list_length(s->savepoints) - 1; i >= 0; i--)
        if (strcmp(static_cast<TextSavepoint *>(list_nth(s->savepoints, i))->name, name) == 0)
            return i;
    return -1;
}

// SAVEPOINT, RELEASE and ROLLBACK TO as far as the locks go: ROLLBACK TO
// releases the locks taken since the savepoint (and ends an aborted state,
// as in PostgreSQL). The rest of what was done since, relations, columns,
// constraints and settings, is taken as kept: explain() does not undo it.
const char *savepoint(GdTextState *s, TransactionStmt *stmt) {
    if (!s->in_block)
        return "Outside a transaction block PostgreSQL refuses savepoint commands.";
    const char *name = stmt->savepoint_name;
    if (stmt->kind == TRANS_STMT_SAVEPOINT) {
        auto *sp = static_cast<TextSavepoint *>(palloc(sizeof(TextSavepoint)));
        *sp = TextSavepoint{pstrdup(name), list_copy(s->locks)};
        s->savepoints = lappend(s->savepoints, sp);
        return nullptr;
    }
    int i = find_savepoint(s, name);
    if (i < 0) {
        s->aborted = true;
        return "There is no such savepoint: PostgreSQL refuses the statement, and the rest of the "
               "transaction is skipped.";
    }
    if (stmt->kind == TRANS_STMT_RELEASE) {
        s->savepoints = list_truncate(s->savepoints, i);
        return nullptr;
    }
    s->locks = list_copy(static_cast<TextSavepoint *>(list_nth(s->savepoints, i))->locks);
    s->savepoints = list_truncate(s->savepoints, i + 1);
    s->aborted = false;
    return "The locks taken since the savepoint are released; explain() takes what else was done "
           "since (relations, columns, constraints, settings) as kept.";
}

const char *transaction_control(GdTextState *s, TransactionStmt *stmt) {
    switch (stmt->kind) {
    case TRANS_STMT_BEGIN:
    case TRANS_STMT_START:
        if (s->in_block)
            return "A transaction is already in progress: PostgreSQL warns and goes on in it.";
        begin_block(s);
        return nullptr;
    case TRANS_STMT_COMMIT:
    case TRANS_STMT_PREPARE:
        if (!s->in_block)
            return "There is no transaction in progress: PostgreSQL warns and does nothing.";
        if (s->aborted) {
            end_block(s, false);
            return "An earlier statement of the transaction fails: COMMIT rolls it back.";
        }
        end_block(s, true);
        return nullptr;
    case TRANS_STMT_ROLLBACK:
        if (!s->in_block)
            return "There is no transaction in progress: PostgreSQL warns and does nothing.";
        end_block(s, false);
        return nullptr;
    case TRANS_STMT_SAVEPOINT:
    case TRANS_STMT_RELEASE:
    case TRANS_STMT_ROLLBACK_TO:
        return savepoint(s, stmt);
    default:
        return nullptr;
    }
}

const char *setting(GdTextState *s, VariableSetStmt *stmt) {
    if (stmt->kind == VAR_RESET_ALL)
        return "RESET ALL is not followed: the settings explain() follows stay as they were.";
    if (stmt->name == nullptr || !setting_changes_verdicts(stmt->name))
        return nullptr;
    if (stmt->is_local && !s->in_block)
        return "SET LOCAL outside a transaction block has no effect.";
    const char *value = nullptr;
    if (stmt->kind == VAR_SET_VALUE)
        value = ExtractSetVariableArgs(stmt);
    else if (stmt->kind != VAR_SET_DEFAULT && stmt->kind != VAR_RESET)
        return nullptr;
    if (stmt->is_local && !list_member(s->local_names, makeString(stmt->name))) {
        const char *before = GetConfigOption(stmt->name, true, false);
        if (before != nullptr) {
            s->local_names = lappend(s->local_names, makeString(pstrdup(stmt->name)));
            s->local_priors = lappend(s->local_priors, pstrdup(before));
        }
    }
    // As the session itself could set it: a role that may not set a
    // guarded_ddl.* parameter gets a WARNING, and the value stays.
    (void)set_config_option(stmt->name, value, superuser() ? PGC_SUSET : PGC_USERSET, PGC_S_SESSION,
                            stmt->is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, true, WARNING,
                            false);
    return nullptr;
}

void remember(GdTextState *s, Oid relid, const char *schema, const char *name, NameChange change) {
    auto *n = static_cast<TextName *>(palloc(sizeof(TextName)));
    n->xact = s->xact;
    n->relid = relid;
    n->schema = schema != nullptr ? pstrdup(schema) : nullptr;
    n->name = pstrdup(name);
    n->change = change;
    s->names = lappend(s->names, n);
}

void remember_relation(GdTextState *s, const RangeVar *rv, const char *name,
                       NameChange change = NameChange::Created) {
    if (rv != nullptr && name != nullptr)
        remember(s, InvalidOid, rv->schemaname, name, change);
}

void remember_column(GdTextState *s, const RangeVar *rv, const char *column,
                     NameChange change = NameChange::Created) {
    Oid relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, nullptr, nullptr);
    if (OidIsValid(relid) && column != nullptr) // a relation the text creates is unknown as a whole
        remember(s, relid, nullptr, column, change);
}

// The entry of relid's constraint name, made if the text has none yet.
TextCheck *check_entry(GdTextState *s, Oid relid, const char *name) {
    if (name != nullptr) {
        ListCell *lc;
        foreach (lc, s->checks) {
            auto *c = static_cast<TextCheck *>(lfirst(lc));
            if (c->relid == relid && c->name != nullptr && strcmp(c->name, name) == 0)
                return c;
        }
    }
    auto *c = static_cast<TextCheck *>(palloc0(sizeof(TextCheck)));
    c->xact = s->xact;
    c->relid = relid;
    c->name = name != nullptr ? pstrdup(name) : nullptr;
    s->checks = lappend(s->checks, c);
    return c;
}

// ADD CONSTRAINT (a CHECK keeps its expression), VALIDATE, DROP CONSTRAINT.
void remember_constraint(GdTextState *s, const RangeVar *rv, const AlterTableCmd *cmd) {
    Oid relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, nullptr, nullptr);
    if (!OidIsValid(relid))
        return;
    if (cmd->subtype == AT_AddConstraint) {
        auto *con = castNode(Constraint, cmd->def);
        TextCheck *c = check_entry(s, relid, con->conname);
        c->raw = con->contype == CONSTR_CHECK ? con->raw_expr : nullptr;
        c->added = true;
        c->validated = !con->skip_validation;
        c->dropped = false;
    } else if (cmd->subtype == AT_ValidateConstraint && cmd->name != nullptr) {
        check_entry(s, relid, cmd->name)->validated = true;
    } else if (cmd->subtype == AT_DropConstraint && cmd->name != nullptr) {
        check_entry(s, relid, cmd->name)->dropped = true;
    }
}

void remember_created(GdTextState *s, Node *stmt) {
    switch (nodeTag(stmt)) {
    case T_CreateStmt: {
        const RangeVar *rv = castNode(CreateStmt, stmt)->relation;
        remember_relation(s, rv, rv->relname);
        break;
    }
    case T_CreateTableAsStmt: {
        const RangeVar *rv = castNode(CreateTableAsStmt, stmt)->into->rel;
        remember_relation(s, rv, rv->relname);
        break;
    }
    case T_ViewStmt: {
        const RangeVar *rv = castNode(ViewStmt, stmt)->view;
        remember_relation(s, rv, rv->relname);
        break;
    }
    case T_CreateSeqStmt: {
        const RangeVar *rv = castNode(CreateSeqStmt, stmt)->sequence;
        remember_relation(s, rv, rv->relname);
        break;
    }
    case T_IndexStmt: {
        auto *index = castNode(IndexStmt, stmt);
        remember_relation(s, index->relation, index->idxname);
        break;
    }
    case T_RenameStmt: {
        auto *rename = castNode(RenameStmt, stmt);
        if (rename->relation == nullptr)
            break;
        if (rename->renameType == OBJECT_COLUMN || rename->renameType == OBJECT_ATTRIBUTE) {
            remember_column(s, rename->relation, rename->subname, NameChange::Gone);
            remember_column(s, rename->relation, rename->newname);
        } else if (rename->subname == nullptr) {
            remember_relation(s, rename->relation, rename->relation->relname, NameChange::Gone);
            remember_relation(s, rename->relation, rename->newname);
        }
        break;
    }
    case T_AlterObjectSchemaStmt: {
        auto *move = castNode(AlterObjectSchemaStmt, stmt);
        if (move->relation == nullptr)
            break;
        remember_relation(s, move->relation, move->relation->relname, NameChange::Gone);
        remember(s, InvalidOid, move->newschema, move->relation->relname, NameChange::Created);
        break;
    }
    case T_DropStmt: {
        auto *drop = castNode(DropStmt, stmt);
        bool relations = drop->removeType == OBJECT_TABLE || drop->removeType == OBJECT_VIEW ||
                         drop->removeType == OBJECT_MATVIEW || drop->removeType == OBJECT_INDEX ||
                         drop->removeType == OBJECT_SEQUENCE ||
                         drop->removeType == OBJECT_FOREIGN_TABLE;
        ListCell *lc;
        foreach (lc, drop->objects)
            if (relations) {
                RangeVar *rv = makeRangeVarFromNameList(castNode(List, lfirst(lc)));
                remember_relation(s, rv, rv->relname, NameChange::Gone);
            }
        break;
    }
    case T_AlterTableStmt: {
        auto *alter = castNode(AlterTableStmt, stmt);
        ListCell *lc;
        foreach (lc, alter->cmds) {
            auto *cmd = castNode(AlterTableCmd, lfirst(lc));
            switch (cmd->subtype) {
            case AT_AddColumn:
                remember_column(s, alter->relation, castNode(ColumnDef, cmd->def)->colname);
                break;
            case AT_DropColumn:
                remember_column(s, alter->relation, cmd->name, NameChange::Gone);
                break;
            case AT_AlterColumnType:
                remember_column(s, alter->relation, cmd->name, NameChange::Changed);
                break;
            case AT_SetLogged:
            case AT_SetUnLogged:
            case AT_SetTableSpace:
                // Whether a later one copies anything depends on this one.
                remember_relation(s, alter->relation, alter->relation->relname,
                                  NameChange::Changed);
                break;
            case AT_AttachPartition:
            case AT_DetachPartition: {
                const RangeVar *partition = castNode(PartitionCmd, cmd->def)->name;
                remember_relation(s, partition, partition->relname, NameChange::Changed);
                break;
            }
            case AT_AddConstraint:
                if (IsA(cmd->def, Constraint))
                    remember_constraint(s, alter->relation, cmd);
                break;
            case AT_ValidateConstraint:
            case AT_DropConstraint:
                remember_constraint(s, alter->relation, cmd);
                break;
            default:
                break;
            }
        }
        break;
    }
    default:
        break;
    }
}

// A new entry only when the mode is stronger than what the relation is held
// in already: entries are never changed, so a savepoint's copy of the list
// stays what was held then.
void hold(GdTextState *s, Oid relid, LOCKMODE mode, const char *text) {
    if (!OidIsValid(relid) || mode == NoLock)
        return;
    ListCell *lc;
    foreach (lc, s->locks) {
        auto *l = static_cast<GdTextLock *>(lfirst(lc));
        if (l->relid == relid && l->mode >= mode)
            return;
    }
    auto *l = static_cast<GdTextLock *>(palloc(sizeof(GdTextLock)));
    *l = GdTextLock{relid, mode, text};
    s->locks = lappend(s->locks, l);
}

} // namespace

GdTextState *gd_text_state_begin(bool single_transaction) {
    auto *s = static_cast<GdTextState *>(palloc0(sizeof(GdTextState)));
    s->single_transaction = single_transaction;
    s->session_level = NewGUCNestLevel();
    if (single_transaction)
        begin_block(s);
    return s;
}

const char *gd_text_state_before(GdTextState *state, Node *stmt, bool *skipped) {
    *skipped = false;
    // In an aborted block only ROLLBACK TO, COMMIT and ROLLBACK run.
    if (IsA(stmt, TransactionStmt) &&
        !(state->aborted && (castNode(TransactionStmt, stmt)->kind == TRANS_STMT_SAVEPOINT ||
                             castNode(TransactionStmt, stmt)->kind == TRANS_STMT_RELEASE)))
        return transaction_control(state, castNode(TransactionStmt, stmt));
    if (state->aborted) {
        *skipped = true;
        return "Not run: an earlier statement of this transaction fails, and PostgreSQL skips the "
               "rest of it until its end.";
    }
    if (IsA(stmt, VariableSetStmt))
        return setting(state, castNode(VariableSetStmt, stmt));
    return nullptr;
}

void gd_text_state_fails(GdTextState *state) {
    state->aborted = state->in_block;
}

void gd_text_state_after(GdTextState *state, Node *stmt, const GdAction *actions, int n,
                         const char *text) {
    remember_created(state, stmt);
    if (!state->in_block) // committed on its own: its locks are gone
        return;
    for (int i = 0; i < n; i++) {
        hold(state, actions[i].relid, actions[i].lock, text);
        hold(state, actions[i].index_relid, actions[i].index_lock, text);
    }
}

const char *gd_text_state_end(GdTextState *state) {
    bool open_block = state->in_block && !state->single_transaction;
    AtEOXact_GUC(false, state->session_level);
    if (open_block)
        return "The text ends inside a transaction block: unless it is committed later, "
               "PostgreSQL rolls it back when the session ends.";
    return nullptr;
}

bool gd_in_transaction_block(void) {
    return gd_text_state != nullptr ? gd_text_state->in_block : IsTransactionBlock();
}

bool gd_transaction_holds(Oid relid, LOCKMODE mode) {
    LOCKTAG tag;
    SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
    for (LOCKMODE m = mode; m <= MaxLockMode; m++)
        if (gd_lock_held(&tag, m))
            return true;
    if (gd_text_state == nullptr)
        return false;
    ListCell *lc;
    foreach (lc, gd_text_state->locks) {
        auto *l = static_cast<GdTextLock *>(lfirst(lc));
        if (l->relid == relid && l->mode >= mode)
            return true;
    }
    return false;
}

List *gd_text_locks(void) {
    return gd_text_state != nullptr ? gd_text_state->locks : NIL;
}

namespace {

// The last thing the text did to the relation rv names, or to relid's
// column (any column for a null one), or null.
const TextName *last_entry(Oid relid, const RangeVar *rv, const char *column) {
    if (gd_text_state == nullptr)
        return nullptr;
    const TextName *last = nullptr;
    ListCell *lc;
    foreach (lc, gd_text_state->names) {
        auto *n = static_cast<TextName *>(lfirst(lc));
        bool match = OidIsValid(relid)
                         ? n->relid == relid && (column == nullptr || strcmp(n->name, column) == 0)
                         : !OidIsValid(n->relid) && strcmp(n->name, rv->relname) == 0 &&
                               (n->schema == nullptr || rv->schemaname == nullptr ||
                                strcmp(n->schema, rv->schemaname) == 0);
        if (match)
            last = n;
    }
    return last;
}

} // namespace

bool gd_text_touches_relation(const RangeVar *rv) {
    return rv != nullptr && last_entry(InvalidOid, rv, nullptr) != nullptr;
}

bool gd_text_touches_column(Oid relid, const char *column) {
    return last_entry(relid, nullptr, column) != nullptr;
}

List *gd_text_valid_checks(Oid relid) {
    List *raws = NIL;
    if (gd_text_state == nullptr)
        return NIL;
    ListCell *lc;
    foreach (lc, gd_text_state->checks) {
        auto *c = static_cast<TextCheck *>(lfirst(lc));
        if (c->relid == relid && c->added && c->validated && !c->dropped && c->raw != nullptr)
            raws = lappend(raws, c->raw);
    }
    return raws;
}

namespace {

const TextCheck *find_check(Oid relid, const char *name) {
    if (gd_text_state == nullptr || name == nullptr)
        return nullptr;
    ListCell *lc;
    foreach (lc, gd_text_state->checks) {
        auto *c = static_cast<TextCheck *>(lfirst(lc));
        if (c->relid == relid && c->name != nullptr && strcmp(c->name, name) == 0)
            return c;
    }
    return nullptr;
}

} // namespace

bool gd_text_adds_constraint(Oid relid, const char *name) {
    const TextCheck *c = find_check(relid, name);
    return c != nullptr && c->added && !c->dropped;
}

bool gd_text_validates_constraint(Oid relid, const char *name) {
    const TextCheck *c = find_check(relid, name);
    return c != nullptr && c->validated && !c->dropped;
}

bool gd_text_drops_constraint(Oid relid, const char *name) {
    const TextCheck *c = find_check(relid, name);
    return c != nullptr && c->dropped;
}
