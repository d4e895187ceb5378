#include "pg/recipe_context.hpp"

#include "pg/extension_objects.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "commands/sequence.h"
}

GdRecipeContext gd_current_recipe = {0, nullptr};

int64 gd_next_recipe_id(void) {
    Oid schema = gd_extension_schema();
    Oid seq = OidIsValid(schema) ? get_relname_relid("recipe_ids", schema) : InvalidOid;
    if (!OidIsValid(seq) || get_rel_relkind(seq) != RELKIND_SEQUENCE)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("guarded_ddl is not installed in this database"),
                        errhint("Run CREATE EXTENSION guarded_ddl.")));
    return nextval_internal(seq, false);
}
