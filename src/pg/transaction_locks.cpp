#include "pg/transaction_locks.hpp"

#include "pg/audit_shmem.hpp"
#include "pg/gucs.hpp"
#include "pg/lock_hold_cap.hpp"
#include "pg/rule_enforcer.hpp"

extern "C" {
#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "storage/lock.h"
#include "utils/timestamp.h"
}

bool gd_strong_locks_held = false;

namespace {

// Both lists live in TopMemoryContext and are emptied, not freed, when the
// transaction ends: a migration takes a handful of locks.
template <typename T> struct LocalList {
    T *items = nullptr;
    int n = 0;
    int capacity = 0;

    // NULL when out of memory: the callers may not raise an ERROR.
    T *append() {
        if (n == capacity) {
            int grown = capacity == 0 ? 8 : capacity * 2;
            auto *bigger = static_cast<T *>(
                MemoryContextAllocExtended(TopMemoryContext, sizeof(T) * grown, MCXT_ALLOC_NO_OOM));
            if (bigger == nullptr)
                return nullptr;
            if (n > 0)
                memcpy(bigger, items, sizeof(T) * n);
            if (items != nullptr)
                pfree(items);
            items = bigger;
            capacity = grown;
        }
        return &items[n++];
    }
};

LocalList<GdHeldLock> held;
// Relations this transaction's statements locked that were not large: a
// migration's twenty ALTERs of one small table size it once.
LocalList<Oid> not_large;

// For each open subtransaction that ran audited statements holding locks,
// the number of the first: all later statements ran in it or below it, so
// when it aborts, first..now is what its release covers. Ordered by
// subtransaction, which is the nesting order.
struct LockedStatements {
    SubTransactionId subxact;
    int64 first_seq;
};
LocalList<LockedStatements> locked;
int64 last_seq = 0;

// One record at a time: the callbacks run where no allocation may fail.
guarded_ddl::AuditEntry released_entry;

void report_released(int64 first_seq) {
    released_entry.kind = guarded_ddl::EntryKind::LocksReleased;
    released_entry.session.backend_pid = MyProcPid;
    released_entry.session.backend_start_us = MyStartTimestamp;
    released_entry.released = {first_seq, last_seq, GetCurrentTimestamp()};
    gd_audit_submit(&released_entry);
}

bool known_small(Oid relid) {
    for (int i = 0; i < not_large.n; i++)
        if (not_large.items[i] == relid)
            return true;
    return false;
}

// An earlier statement of this subtransaction took the lock already: its
// entry (and its earlier cap deadline) stands.
bool already_noted(Oid relid, LOCKMODE mode, SubTransactionId subxact) {
    for (int i = 0; i < held.n; i++)
        if (held.items[i].relid == relid && held.items[i].mode >= mode &&
            held.items[i].subxact == subxact)
            return true;
    return false;
}

void forget_subtransaction(SubTransactionId subxact) {
    int kept = 0;
    for (int i = 0; i < held.n; i++)
        if (held.items[i].subxact != subxact)
            held.items[kept++] = held.items[i];
    held.n = kept;
    gd_strong_locks_held = held.n > 0;
}

void on_subtransaction(SubXactEvent event, SubTransactionId subxact, SubTransactionId parent,
                       void *) {
    if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (int i = 0; i < held.n; i++)
            if (held.items[i].subxact == subxact)
                held.items[i].subxact = parent;
        if (locked.n > 0 && locked.items[locked.n - 1].subxact == subxact) {
            if (locked.n > 1 && locked.items[locked.n - 2].subxact == parent)
                locked.n--; // the parent's first statement came earlier
            else
                locked.items[locked.n - 1].subxact = parent;
        }
        return;
    }
    if (event != SUBXACT_EVENT_ABORT_SUB)
        return;
    if (locked.n > 0 && locked.items[locked.n - 1].subxact == subxact)
        report_released(locked.items[--locked.n].first_seq);
    if (held.n > 0) {
        forget_subtransaction(subxact);
        gd_cap_subtransaction_aborted();
    }
}

void on_transaction(XactEvent event, void *) {
    switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
        if (locked.n > 0)
            report_released(locked.items[0].first_seq);
        gd_cap_transaction_ended(event == XACT_EVENT_ABORT);
        break;
    case XACT_EVENT_PREPARE:
        // The prepared transaction keeps the locks past this session: no
        // release to report, and nothing the cap could end.
        gd_cap_transaction_ended(false);
        break;
    default:
        return;
    }
    locked.n = 0;
    held.n = 0;
    not_large.n = 0;
    gd_strong_locks_held = false;
}

} // namespace

void gd_note_strong_locks(const guarded_ddl::AuditEntry *entry, bool approved) {
    const guarded_ddl::StatementRecord &r = entry->record;
    bool capped = gd_max_lock_hold_ms > 0;
    if (!capped && gd_max_rows_under_lock < 0)
        return;
    for (int i = 0; i < r.n_locks; i++) {
        const guarded_ddl::LockRecord &l = r.locks[i];
        if (!l.granted || l.lock_mode < ShareLock || known_small(l.relid) ||
            already_noted(l.relid, l.lock_mode, GetCurrentSubTransactionId()))
            continue;
        if (!gd_relation_is_large_now(l.relid)) {
            if (Oid *small = not_large.append())
                *small = l.relid;
            continue;
        }
        GdHeldLock *h = held.append();
        if (h == nullptr)
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
        h->relid = l.relid;
        h->mode = l.lock_mode;
        h->granted = l.granted_us;
        h->deadline = !capped || approved
                          ? 0
                          : TimestampTzPlusMilliseconds(l.granted_us, gd_max_lock_hold_ms);
        h->subxact = GetCurrentSubTransactionId();
        strlcpy(h->relation, l.relation, sizeof h->relation);
        const char *text = entry->statement[0] != '\0' ? entry->statement : r.command_tag;
        int keep = pg_mbcliplen(text, static_cast<int>(strlen(text)),
                                static_cast<int>(sizeof h->taken_by) - 1);
        memcpy(h->taken_by, text, keep);
        h->taken_by[keep] = '\0';
        gd_strong_locks_held = true;
    }
    if (capped && gd_strong_locks_held)
        gd_cap_rearm();
}

void gd_note_statement_done(void) {
    if (gd_max_lock_hold_ms <= 0)
        return;
    bool started = false;
    TimestampTz now = GetCurrentTimestamp();
    for (int i = 0; i < held.n; i++)
        if (held.items[i].deadline == 0) {
            held.items[i].deadline = TimestampTzPlusMilliseconds(now, gd_max_lock_hold_ms);
            started = true;
        }
    if (started)
        gd_cap_rearm();
}

const GdHeldLock *gd_held_strong_lock(LOCKMODE min_mode) {
    const GdHeldLock *strongest = nullptr;
    for (int i = 0; i < held.n; i++) {
        const GdHeldLock *h = &held.items[i];
        if (h->mode < min_mode || (strongest != nullptr && strongest->mode >= h->mode))
            continue;
        // PostgreSQL's word on it: a savepoint rolled back inside a
        // function released its locks without our list knowing which.
        LOCKTAG tag;
        SET_LOCKTAG_RELATION(tag, MyDatabaseId, h->relid);
        if (gd_lock_held(&tag, h->mode))
            strongest = h;
    }
    return strongest;
}

const GdHeldLock *gd_expired_lock(void) {
    const GdHeldLock *first = nullptr;
    for (int i = 0; i < held.n; i++) {
        const GdHeldLock *h = &held.items[i];
        if (h->deadline != 0 && (first == nullptr || h->deadline < first->deadline))
            first = h;
    }
    return first;
}

TimestampTz gd_next_cap_deadline(void) {
    const GdHeldLock *first = gd_expired_lock();
    return first != nullptr ? first->deadline : 0;
}

void gd_note_audited_locks(int64 seq) {
    last_seq = seq;
    SubTransactionId subxact = GetCurrentSubTransactionId();
    if (locked.n > 0 && locked.items[locked.n - 1].subxact == subxact)
        return;
    // Out of memory, the release of these locks goes unreported: their
    // held_ms stays null rather than the statement failing.
    if (LockedStatements *l = locked.append())
        *l = {subxact, seq};
}

void gd_install_transaction_callbacks(void) {
    RegisterXactCallback(on_transaction, nullptr);
    RegisterSubXactCallback(on_subtransaction, nullptr);
}
