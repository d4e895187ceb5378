#include "pg/own_tables.hpp"

#include "pg/extension_objects.hpp"

void gd_protect_own_tables(const GdAction *actions, int n_actions, const char *command_tag) {
    if (n_actions == 0 || superuser())
        return;
    // The installed extension's schema, checked by membership: a look-alike
    // schema named guarded_ddl belongs to whoever made it, and so do its
    // tables. Nobody but a superuser can create anything in the real one,
    // so all of its relations are the extension's.
    Oid own_schema = gd_extension_schema();
    if (!OidIsValid(own_schema))
        return;
    for (int i = 0; i < n_actions; i++) {
        if (!OidIsValid(actions[i].relid) || get_rel_namespace(actions[i].relid) != own_schema)
            continue;
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("guarded_ddl: only superusers can run %s on %s", command_tag,
                               actions[i].relation),
                        errdetail("guarded_ddl's tables hold the audit log and the DBA's policy."),
                        errhint("Remove old audit rows with guarded_ddl.purge().")));
    }
}
