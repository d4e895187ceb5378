// What one utility statement will do to each relation it touches: the lock
// PostgreSQL takes, the effect on the table's data and the rule it triggers,
// read from the parse tree and the catalogs without taking any lock that
// could wait. The same analysis serves the hook and guarded_ddl.explain(),
// so explain always agrees with execution.
#pragma once

#include "pg/prelude.hpp"

#include "core/form_classifier.hpp"

#include <optional>

struct GdAction {
    Oid relid; // InvalidOid: the statement names no existing relation
    char relation[192];
    LOCKMODE lock;
    guarded_ddl::Effect effect;
    std::optional<guarded_ddl::RuleId> rule;
    char column[NAMEDATALEN];
    char constraint_name[NAMEDATALEN];
    char index[NAMEDATALEN];
};

inline constexpr int gd_max_actions = 32;

// Fills actions (at most max) and returns how many.
int gd_statement_actions(Node *stmt, GdAction *actions, int max);
