#include "pg/recipe_history.hpp"

#include "core/audit_entry.hpp"
#include "core/audit_text.hpp"
#include "pg/audit_shmem.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/extension_objects.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/syscache.h"
}

namespace {

// How long a rerun waits for the audit writer to write what is queued.
constexpr int64 kAuditWaitMs = 5000;

// The statement as the audit capture records a recipe's statement, or null
// when that form is not the statement itself (cut to fit, or a password
// redacted): a cut text would match every statement it is the start of.
char *recorded_form(const char *statement) {
    return guarded_ddl::pg::invoke_cpp([&]() -> char * {
        std::string text = guarded_ddl::audit_statement_text(
            statement, sizeof(guarded_ddl::AuditEntry::recipe_statement));
        if (text != statement)
            return nullptr;
        return guarded_ddl::pg::pg_call([&] { return pstrdup(text.c_str()); });
    });
}

} // namespace

int64 gd_recipe_earlier_run(const char *statement, const char *command) {
    const GdExtensionObjects *installed = gd_extension_objects();
    if (!OidIsValid(installed->ddl_log))
        return 0;
    char *recorded = recorded_form(statement);
    if (recorded == nullptr)
        return 0;
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(installed->ddl_log));
    if (!HeapTupleIsValid(tuple))
        return 0;
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    (void)gd_audit_wait_written(kAuditWaitMs);

    // recipe_id IS NOT NULL: the index of the recipes' rows serves it.
    // This server's rows only: a central review database also holds other
    // servers' recipes, maybe for databases of the same name.
    char *sql =
        psprintf("SELECT recipe_id FROM %s WHERE recipe_id IS NOT NULL AND "
                 "recipe_statement OPERATOR(pg_catalog.=) $1 AND command "
                 "OPERATOR(pg_catalog.=) $2 AND database OPERATOR(pg_catalog.=) "
                 "pg_catalog.current_database() AND sqlstate IS NULL AND verdict "
                 "OPERATOR(pg_catalog.<>) ALL (ARRAY['blocked', 'failed'])%s ORDER BY "
                 "recipe_id DESC LIMIT 1",
                 quote_qualified_identifier(get_namespace_name(installed->schema),
                                            get_rel_name(installed->ddl_log)),
                 installed->fleet_rows
                     ? psprintf(" AND system_identifier OPERATOR(pg_catalog.=) " INT64_FORMAT
                                "::pg_catalog.int8",
                                static_cast<int64>(GetSystemIdentifier()))
                     : "");
    Oid types[2] = {TEXTOID, TEXTOID};
    Datum values[2] = {CStringGetTextDatum(recorded), CStringGetTextDatum(command)};

    // As the log's owner (the audit writer's tables are a superuser's), in
    // a restricted operation with search_path pinned: nothing a user defined
    // runs with those rights.
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    // Not read-only: SPI then takes a new snapshot, which sees the rows the
    // writer committed during the wait above (the statement's own snapshot
    // is older than them).
    int rc = SPI_execute_with_args(sql, 2, types, values, nullptr, false, 1);
    AtEOXact_GUC(true, nest);
    SetUserIdAndSecContext(saved_user, saved_context);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "guarded_ddl.apply: reading the audit log failed: %s",
             SPI_result_code_string(rc));
    int64 id = 0;
    if (SPI_processed == 1) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        if (!isnull)
            id = DatumGetInt64(d);
    }
    SPI_freetuptable(SPI_tuptable);
    return id;
}
