// One audit record as it travels from a backend through shared memory to the
// audit writer: who ran which statement, under which guard mode, and the
// StatementRecord of what happened. Fixed-size and pointer-free so it can be
// copied into and out of the queue whole.
#pragma once

#include "core/no_postgres.hpp"

#include "core/ddl_record.hpp"
#include "core/rule_policy.hpp"

#include <cstdint>

namespace guarded_ddl {

// Statement text beyond this is cut (after redaction) with a marker saying
// how much was left out.
inline constexpr std::size_t max_audit_statement_bytes = 4096;

struct SessionInfo {
    int32_t backend_pid;
    int64_t backend_start_us; // with the pid, names the backend across pid reuse
    int64_t backend_seq;      // the statement's number among its backend's records
    uint64_t xid;             // top-level FullTransactionId, 0 when none was assigned
    uint64_t statement_xid;   // of the (sub)transaction the statement ran in, or 0
    char session_role[64];
    char current_role[64];
    char application[64];
    char client_addr[64]; // empty for Unix-socket and background sessions
};

// A change of a guarded_ddl.* setting (SET, RESET); empty name otherwise.
struct SettingChange {
    char name[64];
    char old_value[256];
    char new_value[256];
};

// Locks end with the transaction or savepoint that took them. The backend
// then reports, for its statements numbered first..last, when their locks
// were released, so the writer can fill in how long each was held.
struct LocksReleased {
    int64_t first_seq;
    int64_t last_seq;
    int64_t released_us; // TimestampTz
};

enum class EntryKind : int8_t { Statement, LocksReleased };

struct AuditEntry {
    EntryKind kind;
    SessionInfo session;
    LocksReleased released; // kind LocksReleased only
    Mode mode;              // guarded_ddl.mode in effect when the statement started
    char statement[max_audit_statement_bytes];
    SettingChange setting;
    // A step of a recipe guarded_ddl.apply() ran: the recipe's id (0: none)
    // and the statement it stands for, redacted and bounded.
    int64_t recipe_id;
    char recipe_statement[1024];
    StatementRecord record;
};

} // namespace guarded_ddl
