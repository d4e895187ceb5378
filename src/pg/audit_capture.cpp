#include "pg/audit_capture.hpp"

#include "pg/audit_shmem.hpp"
#include "pg/gucs.hpp"
#include "pg/lock_hold_cap.hpp"
#include "pg/recipe_context.hpp"
#include "pg/statement_rollback.hpp"
#include "pg/transaction_locks.hpp"

#include "core/audit_text.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xlog.h"
#include "utils/inet.h"
#include "mb/pg_wchar.h"
#include "utils/timestamp.h"
}

using guarded_ddl::AuditEntry;

namespace {

// strlcpy that never cuts a multi-byte character in half.
void copy_clipped(char *dst, size_t size, const char *src, size_t len) {
    int keep = pg_mbcliplen(src, static_cast<int>(len), static_cast<int>(size) - 1);
    memcpy(dst, src, keep);
    dst[keep] = '\0';
}

void copy_clipped(char *dst, size_t size, const char *src) {
    copy_clipped(dst, size, src, strlen(src));
}

void copy_role(char *dst, size_t size, Oid role) {
    if (const char *name = GetUserNameFromId(role, true))
        copy_clipped(dst, size, name);
}

// inet_client_addr(), called directly: it already knows Unix sockets and
// background sessions (null) from TCP clients, and spares us libpq-be.h.
// A backend's client does not change: asked once.
void copy_client_addr(char *dst, size_t size) {
    static char client_addr[sizeof(guarded_ddl::SessionInfo::client_addr)];
    static bool known = false;
    if (!known) {
        LOCAL_FCINFO(fcinfo, 0);
        InitFunctionCallInfoData(*fcinfo, nullptr, 0, InvalidOid, nullptr, nullptr);
        Datum addr = inet_client_addr(fcinfo);
        if (!fcinfo->isnull)
            strlcpy(client_addr, DatumGetCString(DirectFunctionCall1(inet_out, addr)),
                    sizeof client_addr);
        known = true;
    }
    strlcpy(dst, client_addr, size);
}

// This statement's part of a multi-statement query string, redacted and
// bounded. The logic zone's std::string never meets a PostgreSQL call.
void copy_statement(AuditEntry *entry, PlannedStmt *pstmt, const char *query_string) {
    if (query_string == nullptr)
        return;
    size_t len = strlen(query_string);
    size_t start =
        pstmt->stmt_location > 0 ? Min(static_cast<size_t>(pstmt->stmt_location), len) : 0;
    size_t stmt_len =
        pstmt->stmt_len > 0 ? Min(static_cast<size_t>(pstmt->stmt_len), len - start) : len - start;
    try {
        std::string text = guarded_ddl::audit_statement_text(
            std::string_view(query_string + start, stmt_len), sizeof entry->statement);
        memcpy(entry->statement, text.c_str(), text.size() + 1);
    } catch (...) {
        strlcpy(entry->statement, "(statement text not recorded: out of memory)",
                sizeof entry->statement);
    }
}

// The recipe guarded_ddl.apply() is running, if the statement is its step.
void copy_recipe(AuditEntry *entry) {
    if (gd_current_recipe.id == 0)
        return;
    entry->recipe_id = gd_current_recipe.id;
    try {
        std::string text = guarded_ddl::audit_statement_text(gd_current_recipe.statement,
                                                             sizeof entry->recipe_statement);
        memcpy(entry->recipe_statement, text.c_str(), text.size() + 1);
    } catch (...) {
        strlcpy(entry->recipe_statement, "(statement text not recorded: out of memory)",
                sizeof entry->recipe_statement);
    }
}

void append_object(char *objects, size_t size, const char *name) {
    // Objects are separated by newlines; the writer turns them into an array.
    size_t used = strlen(objects);
    size_t need = strlen(name) + (used > 0 ? 1 : 0);
    if (name[0] == '\0' || used + need + 1 > size)
        return;
    for (const char *p = objects; *p != '\0';) {
        const char *end = strchrnul(p, '\n');
        if (static_cast<size_t>(end - p) == strlen(name) && strncmp(p, name, end - p) == 0)
            return;
        p = *end != '\0' ? end + 1 : end;
    }
    if (used > 0)
        objects[used++] = '\n';
    strlcpy(objects + used, name, size - used);
}

// The new relation of a CREATE TABLE / VIEW / TABLE AS / SEQUENCE, so "who
// ran what on a table" starts at its birth.
void note_created(AuditEntry *entry, Node *stmt) {
    RangeVar *created = nullptr;
    if (IsA(stmt, CreateStmt))
        created = castNode(CreateStmt, stmt)->relation;
    else if (IsA(stmt, ViewStmt))
        created = castNode(ViewStmt, stmt)->view;
    else if (IsA(stmt, CreateTableAsStmt))
        created = castNode(CreateTableAsStmt, stmt)->into->rel;
    else if (IsA(stmt, CreateSeqStmt))
        created = castNode(CreateSeqStmt, stmt)->sequence;
    if (created == nullptr)
        return;
    // The statement holds its lock on the new relation: no wait here.
    Oid relid = RangeVarGetRelid(created, NoLock, true);
    if (!OidIsValid(relid))
        return;
    const char *name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                  get_rel_name(relid));
    append_object(entry->record.objects, sizeof entry->record.objects, name);
}

} // namespace

namespace {
int64 last_seq = 0;
} // namespace

int64 gd_audit_next_seq(void) {
    return ++last_seq;
}

void gd_audit_fill_session(AuditEntry *entry) {
    entry->session.backend_pid = MyProcPid;
    entry->session.backend_start_us = MyStartTimestamp;
    copy_role(entry->session.session_role, sizeof entry->session.session_role, GetSessionUserId());
    copy_role(entry->session.current_role, sizeof entry->session.current_role, GetUserId());
    if (application_name != nullptr)
        copy_clipped(entry->session.application, sizeof entry->session.application,
                     application_name);
    copy_client_addr(entry->session.client_addr, sizeof entry->session.client_addr);
}

AuditEntry *gd_audit_begin(PlannedStmt *pstmt, const char *query_string, int nesting_level,
                           bool audited) {
    // The lock records are most of the entry (16 of 22 KB): each is zeroed
    // when the lock guard adds it, and nothing reads past n_locks. Unaudited,
    // only the record is read.
    auto *entry = static_cast<AuditEntry *>(palloc(sizeof(AuditEntry)));
    if (audited) {
        memset(entry, 0, offsetof(AuditEntry, record.locks));
    } else {
        memset(&entry->record, 0, offsetof(guarded_ddl::StatementRecord, locks));
        entry->statement[0] = '\0'; // read by the transaction guard's messages
    }
    entry->mode = static_cast<guarded_ddl::Mode>(gd_mode);
    entry->record.nesting_level = nesting_level;
    entry->record.start_us = GetCurrentTimestamp();
    // A utility statement's tag, or for DML the plan's (UPDATE, COPY, ...).
    Node *tagged =
        pstmt->utilityStmt != nullptr ? pstmt->utilityStmt : reinterpret_cast<Node *>(pstmt);
    strlcpy(entry->record.command_tag, GetCommandTagName(CreateCommandTag(tagged)),
            sizeof entry->record.command_tag);
    if (!audited)
        return entry;

    // With guarded_ddl.mode = off no analysis runs: the class stays unknown.
    if (entry->mode != guarded_ddl::Mode::Off && pstmt->utilityStmt != nullptr)
        entry->record.rollback = gd_statement_rollback_floor(pstmt->utilityStmt);
    gd_audit_fill_session(entry);
    entry->session.backend_seq = gd_audit_next_seq();
    copy_statement(entry, pstmt, query_string);
    copy_recipe(entry);
    return entry;
}

void gd_audit_note_error(AuditEntry *entry, MemoryContext context) {
    // Out of ErrorContext, which must stay free for the error itself.
    MemoryContextSwitchTo(context);
    ErrorData *edata = CopyErrorData();
    // The lock-hold cap's cancel, told as the cap's own error.
    (void)gd_cap_describe(edata);
    guarded_ddl::StatementRecord &r = entry->record;
    if (r.outcome != guarded_ddl::Outcome::Blocked)
        r.outcome = guarded_ddl::Outcome::Failed;
    strlcpy(r.sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof r.sqlstate);
    if (edata->message != nullptr)
        copy_clipped(r.error_message, sizeof r.error_message, edata->message);
    FreeErrorData(edata);
}

void gd_audit_note_success(AuditEntry *entry, Node *stmt, bool nontransactional) {
    // A statement that wrote nothing (LOCK TABLE) gets a transaction id too,
    // so ddl_history can tell whether its transaction committed. Statements
    // that commit by themselves (VACUUM, CREATE INDEX CONCURRENTLY) have
    // committed by now.
    if (!nontransactional && !RecoveryInProgress() && !IsInParallelMode())
        (void)GetCurrentTransactionId();
    note_created(entry, stmt);
}

void gd_audit_finish(AuditEntry *entry, const GdAction *actions, int n_actions, bool audited) {
    if (!audited || RecoveryInProgress() || !OidIsValid(MyDatabaseId))
        return;
    guarded_ddl::StatementRecord &r = entry->record;
    r.duration_us = GetCurrentTimestamp() - r.start_us;
    for (int i = 0; i < n_actions; i++) {
        append_object(r.objects, sizeof r.objects, actions[i].relation);
        r.rollback = guarded_ddl::worst(r.rollback, actions[i].rollback);
    }
    // A change of a guarded_ddl.* setting is no schema change.
    if (actions == nullptr)
        r.rollback = guarded_ddl::Rollback{};
    FullTransactionId xid = GetTopFullTransactionIdIfAny();
    entry->session.xid = FullTransactionIdIsValid(xid) ? U64FromFullTransactionId(xid) : 0;
    FullTransactionId own = GetCurrentFullTransactionIdIfAny();
    entry->session.statement_xid =
        FullTransactionIdIsValid(own) ? U64FromFullTransactionId(own) : 0;
    gd_audit_submit(entry);
    for (int i = 0; i < r.n_locks; i++)
        if (r.locks[i].granted) {
            gd_note_audited_locks(entry->session.backend_seq);
            break;
        }
}
