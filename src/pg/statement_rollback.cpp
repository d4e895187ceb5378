#include "pg/statement_rollback.hpp"

using guarded_ddl::Rollback;

namespace {

// What a DROP ... CASCADE of these takes with it is other views and rules:
// definitions, not stored values.
bool cascade_keeps_data(ObjectType type) {
    switch (type) {
    case OBJECT_INDEX:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
        return true;
    default:
        return false;
    }
}

bool drop_loses_data(const DropStmt *stmt) {
    switch (stmt->removeType) {
    case OBJECT_SEQUENCE:  // its current value
    case OBJECT_EXTENSION: // its tables (configuration tables included)
        return true;
    default:
        // A type, function, collation, schema ... may have columns (of that
        // type, generated with that function) or tables depending on it.
        return stmt->behavior == DROP_CASCADE && !cascade_keeps_data(stmt->removeType);
    }
}

} // namespace

Rollback gd_statement_rollback_floor(Node *stmt) {
    bool loses = false;
    if (IsA(stmt, DropStmt))
        loses = drop_loses_data(castNode(DropStmt, stmt));
    else
        loses = IsA(stmt, DropdbStmt) || IsA(stmt, DropOwnedStmt);
    return loses ? Rollback::DataRestore : Rollback::Reversible;
}
