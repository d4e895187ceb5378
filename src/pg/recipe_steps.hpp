// The mechanical recipe of a statement a rule blocks: the statements that
// reach the same end state without the long lock, each to run in its own
// transaction, through the hook. Each step's text is built from the parse
// tree (quoted identifiers) and, for expressions, the statement's own text
// that the parser read, and is parsed again to prove it says what the
// statement says. What the catalogs show done already (an interrupted
// earlier run) is marked so and skipped.
#pragma once

#include "pg/prelude.hpp"

#include "core/rule_catalogue.hpp"

inline constexpr int gd_max_recipe_steps = 8;

struct GdRecipeStep {
    const char *sql;  // the statement to run
    const char *done; // non-null: the catalogs show the step done already (why)
    // Runs at top level, outside any transaction block, in a background
    // worker (CONCURRENTLY): toplevel_worker.hpp.
    bool toplevel;
    const char *failure_hint; // non-null: the HINT of its error when it has none
};

struct GdRecipe {
    int n;
    GdRecipeStep steps[gd_max_recipe_steps];
    const char *note; // non-null: something the author should know (a chosen name)
};

// Whether the rule has a mechanical recipe at all.
bool gd_rule_has_recipe(guarded_ddl::RuleId rule);

// Plans the recipe for raw (a statement of query) blocked by rule: true with
// the steps, or false with *why when the statement's shape has none.
bool gd_recipe_plan(guarded_ddl::RuleId rule, const RawStmt *raw, const char *query,
                    GdRecipe *recipe, const char **why);

// For a statement no rule blocks: true with the recipe (and *rule) when an
// earlier run of its recipe left something behind that makes the statement
// itself pass or fail: a SET NOT NULL helper (whose valid CHECK now proves
// the column; the recipe finishes and removes it), or the index of a
// CREATE INDEX, valid (done) or left invalid by a failed build (dropped and
// built again), which PostgreSQL would refuse to create again.
bool gd_recipe_leftover(const RawStmt *raw, const char *query, GdRecipe *recipe,
                        guarded_ddl::RuleId *rule);

// For a statement no rule blocks and no leftover explains: why the
// statement's effect is in place already, or null. Only where the catalogs
// prove the effect there, and, when the effect is an absence (the index
// gone, the partition detached), where the audit log shows an earlier apply
// ran the statement's recipe: a rerun of a finished recipe. Otherwise
// PostgreSQL reports the statement's own error (a typo stays an error).
//  - DROP INDEX (without IF EXISTS) of one index that does not exist;
//  - DETACH PARTITION of a table that is no partition of the table;
//  - ATTACH PARTITION of a table that is a partition of the table with the
//    statement's bound (of literal values), whoever attached it.
const char *gd_recipe_done_already(const RawStmt *raw, const char *query, const char *original);
