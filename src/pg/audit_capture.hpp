// Filling an audit entry from the backend running the statement: who, from
// where, which statement text (redacted), and at the end what happened.
#pragma once

#include "pg/prelude.hpp"

#include "pg/statement_actions.hpp"

#include "core/audit_entry.hpp"

// The session part of an entry: pid, backend start, roles, application and
// client address. Reads the catalogs.
void gd_audit_fill_session(guarded_ddl::AuditEntry *entry);

// The next number among this backend's audit records.
int64 gd_audit_next_seq(void);

// A zeroed entry in CurrentMemoryContext with the command tag, start time
// and nesting level filled in, and, when it will be audited, the session
// and the statement's text.
guarded_ddl::AuditEntry *gd_audit_begin(PlannedStmt *pstmt, const char *query_string,
                                        int nesting_level, bool audited);

// Inside PG_CATCH: copies the error being raised into the record (as
// failed, unless the guard itself blocked the statement). context must be
// the one the statement started in, not ErrorContext.
void gd_audit_note_error(guarded_ddl::AuditEntry *entry, MemoryContext context);

// After the statement succeeded: gives a transactional statement that wrote
// nothing a transaction id (so its fate can be told later), and adds the
// relation a CREATE made to the objects.
void gd_audit_note_success(guarded_ddl::AuditEntry *entry, Node *stmt, bool nontransactional);

// Records the relations touched, the duration and the transaction id, and
// queues the entry when it is audited. Never throws an ERROR.
void gd_audit_finish(guarded_ddl::AuditEntry *entry, const GdAction *actions, int n_actions,
                     bool audited);
