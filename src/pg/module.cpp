// Library entry point. guarded_ddl must be in shared_preload_libraries: its
// audit queue lives in shared memory and its hook must see every statement of
// every session, not only of sessions that happened to load it.
#include "pg/prelude.hpp"

#include "pg/audit_shmem.hpp"
#include "pg/dml_guard.hpp"
#include "pg/gucs.hpp"
#include "pg/lock_hold_cap.hpp"
#include "pg/policy_store.hpp"
#include "pg/process_utility.hpp"
#include "pg/rule_enforcer.hpp"
#include "pg/transaction_locks.hpp"

extern "C" {
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
    if (!process_shared_preload_libraries_in_progress)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("guarded_ddl must be loaded via shared_preload_libraries"),
                 errhint("Add guarded_ddl to shared_preload_libraries in postgresql.conf and "
                         "restart the server.")));

    gd_define_gucs();
    gd_audit_install_shmem_hooks();
    gd_audit_register_launcher();
    gd_install_process_utility_hook();
    gd_install_executor_hook();
    gd_install_transaction_callbacks();
    gd_install_cap_log_hook();
    gd_install_drop_watch();
    gd_install_rewrite_backstop();

    // After every guarded_ddl.* variable is defined: from here on a
    // misspelt guarded_ddl.* name is an error, not a silent placeholder.
    MarkGUCPrefixReserved("guarded_ddl");
}
