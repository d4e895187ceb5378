// The list of actions a statement's analysis builds, and the refusal that
// ends it: shared by the analyses of ALTER TABLE and of the other
// statements.
#pragma once

#include "pg/relation_preconditions.hpp"
#include "pg/statement_actions.hpp"

guarded_ddl::Facts gd_facts_of(guarded_ddl::Form form);

struct GdNames {
    const char *column = nullptr;
    const char *constraint = nullptr;
    const char *index = nullptr;
};

struct GdActionList {
    GdAction *out;
    int max;
    int n;
    // PostgreSQL will refuse the statement before it does anything: the
    // guard says nothing, takes no lock, and lets PostgreSQL's own error out.
    bool refused;
    // explain(): why the statement's effect cannot be known without running
    // the text's earlier statements (null when it can).
    const char *unknown;

    void refuse() { refused = true; }
    void unknowable(const char *why) { unknown = why; }

    // A column a statement names: true (and the statement unknowable) when
    // an earlier statement of the explained text adds, drops, renames or
    // changes it, so the catalogs no longer tell what is there.
    bool touched_by_text(Oid relid, const char *column);

    // Records what classify() makes of the facts for relid, once the session
    // is known to hold the privilege the statement needs on it.
    GdAction *add(Oid relid, LOCKMODE lock, const guarded_ddl::Facts &facts, GdPrivilege privilege,
                  const GdNames &names = {});

    // The relation a statement names. A missing one is PostgreSQL's to
    // report, or to skip when the statement says IF EXISTS.
    Oid find(const RangeVar *rv, bool missing_ok);

    // Refuses unless relid is of one of the kinds and, where the statement
    // may not touch system catalogs, is not one.
    bool require(Oid relid, const char *kinds, bool catalog_allowed = false);
};

// ALTER TABLE (and ALTER INDEX / VIEW / ... / TYPE sharing its node).
void gd_alter_table_actions(AlterTableStmt *stmt, GdActionList &acts);
