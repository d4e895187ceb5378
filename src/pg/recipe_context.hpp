// The recipe guarded_ddl.apply() is running in this backend, if any: the
// audit capture stamps each step's record with the recipe's id and the
// statement the recipe stands for.
#pragma once

#include "pg/prelude.hpp"

struct GdRecipeContext {
    int64 id;              // 0: no recipe is running
    const char *statement; // the statement the recipe stands for (redacted when audited)
};

extern GdRecipeContext gd_current_recipe;

// A new recipe id, from the extension's sequence guarded_ddl.recipe_ids
// (found in its verified schema, read without a privilege check: the
// caller needs none on it).
int64 gd_next_recipe_id(void);
