// The audit queue in shared memory: backends submit records, the database's
// audit writer (a background worker, started on demand) takes them in
// batches and writes them into guarded_ddl.ddl_log and lock_log.
#pragma once

#include "pg/prelude.hpp"

#include "core/audit_entry.hpp"

void gd_audit_install_shmem_hooks(void);

// Registers the audit launcher, the background worker that starts the
// writers. From _PG_init, while shared_preload_libraries load.
void gd_audit_register_launcher(void);
extern "C" PGDLLEXPORT void gd_audit_launcher_main(Datum main_arg);

// Queues a copy of the entry for this database's writer and makes sure one
// runs. When the queue is full the record goes to the server log instead
// and the overflow counter says so. Never throws an ERROR.
void gd_audit_submit(const guarded_ddl::AuditEntry *entry);

// Writes the entry to the server log as one JSON line, saying why it is not
// in the tables. Never throws an ERROR.
void gd_audit_log_entry(const guarded_ddl::AuditEntry *entry, const char *why);

// Waits until every record queued so far for this database is written (or
// given up on); false when timeout_ms passed first.
bool gd_audit_wait_written(int64 timeout_ms);

struct GdAuditCounters {
    uint64 queued;
    uint64 written;
    uint64 overflowed;    // went to the server log: queue full
    uint64 failed;        // went to the server log: the insert failed
    uint64 not_installed; // went to the server log: no guarded_ddl in the database
    int pending;
};

GdAuditCounters gd_audit_counters(void);

// The writer's side. Batches are at most gd_audit_max_batch records.
inline constexpr int gd_audit_max_batch = 64;

enum GdWriteResult { GD_WRITE_DONE, GD_WRITE_FAILED, GD_WRITE_NOT_INSTALLED, GD_WRITE_RETRY };

// Registers the calling worker as dbid's writer in writer slot `slot`;
// records a previous writer left half-written go back to the queue.
void gd_audit_writer_attach(Oid dbid, int slot);
// The writer is connected to its database: from now on, records it leaves
// behind when it stops wait for the next writer instead of being discarded.
void gd_audit_writer_connected(void);
int gd_audit_take_batch(Oid dbid, int *slots, int max);
const guarded_ddl::AuditEntry *gd_audit_entry(int slot);
void gd_audit_finish_batch(const int *slots, const GdWriteResult *results, int n);
// Gives the writer's slot to the database that has waited longest for one,
// when the writer has nothing to write or has held the slot for a time
// slice: true when it did, and the writer should exit.
bool gd_audit_writer_hand_over(Oid dbid, TimestampTz attached_at);
// Waits up to window_ms for more of dbid's records, or until a batch's worth
// is queued or flush() asks for them.
void gd_audit_writer_gather(Oid dbid, long window_ms);
// Detaches the writer when nothing is queued for dbid; false when there is.
bool gd_audit_writer_detach_if_idle(Oid dbid);
