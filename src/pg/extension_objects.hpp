// guarded_ddl's own objects in the current database, identified by OID and
// extension membership, never by name alone: a database owner who is not a
// superuser can create a schema named guarded_ddl, tables named ddl_log, and
// so on, wherever the extension is not installed.
//
// The extension row is found by name in pg_extension (unique per database,
// and only a superuser can create this untrusted extension), and must be
// owned by a superuser. Its schema is the schema named guarded_ddl that
// pg_depend shows is a member of it (the script creates it; extnamespace is
// only where CREATE EXTENSION was run) and a superuser owns. Each log table
// is an ordinary table in that schema, owned by a superuser, and a member of
// the extension. Whatever fails a check counts as not installed.
#pragma once

#include "pg/prelude.hpp"

struct GdExtensionObjects {
    Oid extension; // InvalidOid: not installed here, or it failed a check
    Oid schema;    // valid exactly when extension is
    Oid ddl_log;   // InvalidOid unless it passed every check
    Oid lock_log;
    Oid backfill_run; // guarded_ddl.backfill()'s progress rows
    // Both log tables have system_identifier (version 1.1 on): rows are
    // keyed by server and id. False on 1.0's tables, which the library
    // keeps writing until ALTER EXTENSION guarded_ddl UPDATE.
    bool fleet_rows;
    Oid approval; // the DBA's approvals
    Oid table_policy_entry;
};

// The objects of this database, looked up once per backend and kept until a
// schema, a role or one of the tables changes (catalog invalidations: CREATE
// and DROP EXTENSION create and drop the schema). Needs a transaction.
const GdExtensionObjects *gd_extension_objects(void);

// The extension's verified schema, or InvalidOid.
inline Oid gd_extension_schema(void) {
    return gd_extension_objects()->schema;
}
