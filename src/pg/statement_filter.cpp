#include "pg/statement_filter.hpp"

bool gd_statement_is_guarded(Node *stmt) {
    switch (nodeTag(stmt)) {
    // The hot path: session and transaction control never touch a relation.
    // Answer before GetCommandLogLevel, which looks up prepared statements.
    case T_TransactionStmt:
    case T_VariableSetStmt:
    case T_VariableShowStmt:
    case T_DiscardStmt:
    case T_PrepareStmt:
    case T_ExecuteStmt:
    case T_DeallocateStmt:
    case T_ExplainStmt:
    case T_CopyStmt:
    case T_DoStmt:
    case T_CallStmt:
    case T_NotifyStmt:
    case T_ListenStmt:
    case T_UnlistenStmt:
    case T_CheckPointStmt:
    case T_DeclareCursorStmt:
    case T_ClosePortalStmt:
    case T_FetchStmt:
        return false;

    // Commands PostgreSQL does not log as DDL but which take strong locks,
    // rewrite tables or destroy data wholesale.
    case T_TruncateStmt:
    case T_VacuumStmt:
    case T_ClusterStmt:
    case T_ReindexStmt:
    case T_LockStmt:
    case T_RefreshMatViewStmt:
        return true;

    default:
        return GetCommandLogLevel(stmt) == LOGSTMT_DDL;
    }
}
