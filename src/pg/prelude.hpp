// The one place PostgreSQL's headers enter guarded_ddl. Every PG-zone file
// includes this first; the logic zone (src/core) never does.
//
// It is also the one place that knows PostgreSQL's versions: the few APIs
// that changed between the majors guarded_ddl is built and tested against
// (15 and 18) get one spelling here, and no other file tests
// PG_VERSION_NUM. Behaviour that differs between versions (what an ALTER
// TABLE form does) is asked of gd_pg_major() at run time, in the files
// that judge it.
#pragma once

// PostgreSQL's headers are C; some of their inline functions trip C++
// warnings that are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wregister"
#pragma GCC diagnostic ignored "-Wsign-compare"
extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/relpath.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "executor/executor.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc_tables.h"
#include "utils/relcache.h"
#include "utils/relmapper.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}
#pragma GCC diagnostic pop

#if PG_VERSION_NUM < 150000
#error "guarded_ddl needs PostgreSQL 15 or newer"
#endif

// The parameter list of ProcessUtility_hook_type, shared by the hook and the
// chain call so both stay in step with the server version.
#define GD_PROCESS_UTILITY_PARAMS                                                                  \
    PlannedStmt *pstmt, const char *query_string, bool read_only_tree,                             \
        ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,          \
        DestReceiver *dest, QueryCompletion *qc
#define GD_PROCESS_UTILITY_ARGS                                                                    \
    pstmt, query_string, read_only_tree, context, params, query_env, dest, qc

// ---- APIs that changed between the supported majors ----

// PG 16 folded the per-catalog pg_*_ownercheck functions into one.
inline bool gd_owns(Oid class_id, Oid object_id, Oid role) {
#if PG_VERSION_NUM >= 160000
    return object_ownercheck(class_id, object_id, role);
#else
    switch (class_id) {
    case RelationRelationId:
        return pg_class_ownercheck(object_id, role);
    case NamespaceRelationId:
        return pg_namespace_ownercheck(object_id, role);
    case DatabaseRelationId:
        return pg_database_ownercheck(object_id, role);
    case TypeRelationId:
        return pg_type_ownercheck(object_id, role);
    default:
        elog(ERROR, "gd_owns: catalog %u is not handled", class_id);
    }
#endif
}

// Whether the current role may use a schema (PG 16 folded the per-catalog
// pg_*_aclcheck functions into one).
inline bool gd_may_use_namespace(Oid namespace_id) {
#if PG_VERSION_NUM >= 160000
    return object_aclcheck(NamespaceRelationId, namespace_id, GetUserId(), ACL_USAGE) ==
           ACLCHECK_OK;
#else
    return pg_namespace_aclcheck(namespace_id, GetUserId(), ACL_USAGE) == ACLCHECK_OK;
#endif
}

// The current transaction's local id (PG 17 moved it into PGPROC.vxid).
inline LocalTransactionId gd_local_xid() {
#if PG_VERSION_NUM >= 170000
    return MyProc->vxid.lxid;
#else
    return MyProc->lxid;
#endif
}

// Whether this backend holds exactly MODE on TAG (PG 17 added the
// "or stronger" argument).
inline bool gd_lock_held(const LOCKTAG *tag, LOCKMODE mode) {
#if PG_VERSION_NUM >= 170000
    return LockHeldByMe(tag, mode, false);
#else
    return LockHeldByMe(tag, mode);
#endif
}

// The I-th (1-based) backend of the local backend-status snapshot.
inline LocalPgBackendStatus *gd_backend_status(int i) {
#if PG_VERSION_NUM >= 160000
    return pgstat_get_local_beentry_by_index(i);
#else
    return pgstat_fetch_stat_local_beentry(i);
#endif
}

// The palloc'd path of a non-temporary relation file's main fork (PG 16
// renamed relfilenodes to relfilenumbers, PG 17 backend ids to proc
// numbers, PG 18 returns the path by value).
inline char *gd_main_fork_path(Oid tablespace, Oid database, Oid file_number) {
#if PG_VERSION_NUM >= 180000
    return pstrdup(
        GetRelationPath(database, tablespace, file_number, INVALID_PROC_NUMBER, MAIN_FORKNUM).str);
#elif PG_VERSION_NUM >= 170000
    return GetRelationPath(database, tablespace, file_number, INVALID_PROC_NUMBER, MAIN_FORKNUM);
#else
    return GetRelationPath(database, tablespace, file_number, InvalidBackendId, MAIN_FORKNUM);
#endif
}

// The relfilenumber of a mapped catalog (PG 16's renaming again).
inline Oid gd_mapped_file_number(Oid relid, bool shared) {
#if PG_VERSION_NUM >= 160000
    return RelationMapOidToFilenumber(relid, shared);
#else
    return RelationMapOidToFilenode(relid, shared);
#endif
}

// Every GUC variable (PG 16 returns the count with the array).
inline struct config_generic **gd_guc_variables(int *count) {
#if PG_VERSION_NUM >= 160000
    return get_guc_variables(count);
#else
    *count = GetNumConfigOptions();
    return get_guc_variables();
#endif
}

// Runs a portal to completion as a top-level statement (PG 18 dropped the
// run_once argument).
inline void gd_run_portal(Portal portal, DestReceiver *receiver, QueryCompletion *qc) {
#if PG_VERSION_NUM >= 180000
    (void)PortalRun(portal, FETCH_ALL, true, receiver, receiver, qc);
#else
    (void)PortalRun(portal, FETCH_ALL, true, true, receiver, receiver, qc);
#endif
}

// The relation's primary key index, deferrable or not, as PG 15 gave it.
inline Oid gd_primary_key_index(Relation rel) {
#if PG_VERSION_NUM >= 180000
    return RelationGetPrimaryKeyIndex(rel, true);
#else
    return RelationGetPrimaryKeyIndex(rel);
#endif
}

// An UPDATE's raw RETURNING list (PG 18 wrapped it in a ReturningClause,
// with OLD/NEW aliases).
inline List *gd_update_returning(const UpdateStmt *u) {
#if PG_VERSION_NUM >= 180000
    return u->returningClause != nullptr ? u->returningClause->exprs : NIL;
#else
    return u->returningList;
#endif
}

// Runs a started executor to its end (PG 18 dropped execute_once).
inline void gd_executor_run(QueryDesc *query) {
#if PG_VERSION_NUM >= 180000
    ExecutorRun(query, ForwardScanDirection, 0);
#else
    ExecutorRun(query, ForwardScanDirection, 0, true);
#endif
}

// Memory for a GUC's "extra", which PostgreSQL frees itself: with free() up
// to PG 15, with guc_free() (GUC's own memory context) from PG 16. Null when
// out of memory (logged, never thrown: check hooks must not raise).
inline void *gd_guc_alloc(size_t size) {
#if PG_VERSION_NUM >= 160000
    return guc_malloc(LOG, size);
#else
    return malloc(size);
#endif
}

// Whether a constraint is enforced: PG 18 added NOT ENFORCED CHECK and
// FOREIGN KEY constraints, which are never checked against the data.
inline bool gd_constraint_enforced(const Constraint *con) {
#if PG_VERSION_NUM >= 180000
    return con->is_enforced;
#else
    (void)con;
    return true;
#endif
}

// Whether a GENERATED column constraint stores its values: always before PG
// 18, where a column written without STORED is VIRTUAL (computed on read).
inline bool gd_generated_stored(const Constraint *con) {
#if PG_VERSION_NUM >= 180000
    return con->generated_kind == ATTRIBUTE_GENERATED_STORED;
#else
    (void)con;
    return true;
#endif
}

// An EPQState for rows updated outside a plan (no subplan, no row marks):
// PG 16 added the result relations list.
inline void gd_epq_init(EPQState *epq, EState *estate) {
#if PG_VERSION_NUM >= 160000
    EvalPlanQualInit(epq, estate, nullptr, NIL, -1, NIL);
#else
    EvalPlanQualInit(epq, estate, nullptr, NIL, -1);
#endif
}

// pg_constraint.contype of a NOT NULL constraint, catalogued since PG 18.
constexpr char GD_CONSTRAINT_NOT_NULL = 'n';

// The running server's major version, for the rules whose truth changed
// between majors (the binary is built for one, so this is a constant).
constexpr int gd_pg_major() {
    return PG_VERSION_NUM / 10000;
}
