// The one place PostgreSQL's headers enter guarded_ddl. Every PG-zone file
// includes this first; the logic zone (src/core) never does.
//
// Version notes: PG 15 is what is built and tested. PG 14 added readOnlyTree
// to ProcessUtility; PG 15 moved shared-memory requests to shmem_request_hook.
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
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}
#pragma GCC diagnostic pop

#if PG_VERSION_NUM < 140000
#error "guarded_ddl needs PostgreSQL 14 or newer"
#endif

// The parameter list of ProcessUtility_hook_type, shared by the hook and the
// chain call so both stay in step with the server version.
#define GD_PROCESS_UTILITY_PARAMS                                                                  \
    PlannedStmt *pstmt, const char *query_string, bool read_only_tree,                             \
        ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,          \
        DestReceiver *dest, QueryCompletion *qc
#define GD_PROCESS_UTILITY_ARGS                                                                    \
    pstmt, query_string, read_only_tree, context, params, query_env, dest, qc
