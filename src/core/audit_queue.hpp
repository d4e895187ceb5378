// Bookkeeping of the shared-memory audit queue: which slot holds which
// database's record and in what state. The PG zone owns the memory and the
// lock; these functions only read and change slot headers, so they can be
// tested without a server. Every function expects the caller to hold the
// queue lock.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>

namespace guarded_ddl {

enum class SlotState : uint8_t {
    Free,
    Filling, // claimed by a backend copying its record in, outside the lock
    Ready,   // queued, waiting for the database's writer
    Writing, // taken by a writer; back to Ready if that writer dies
};

struct SlotHeader {
    SlotState state;
    uint32_t dbid;
    uint64_t seq;      // queue-wide order of arrival
    int64_t queued_us; // when it arrived (PostgreSQL timestamp, microseconds)
};

// Marks a free slot Filling for dbid and returns its index, or -1 when the
// queue is full. Starts the search at *hint and leaves *hint after the slot
// taken, so a queue under load is not rescanned from the front each time.
// The record is copied in without the lock; publish_slot then hands it to
// the writer.
int claim_slot(SlotHeader *slots, int n, int *hint, uint32_t dbid, uint64_t seq,
               int64_t queued_us = 0) noexcept;
void publish_slot(SlotHeader *slots, int slot) noexcept;

// Takes up to max of dbid's Ready slots, oldest first, marks them Writing
// and stores their indexes in out, in arrival order. Returns how many.
int take_batch(SlotHeader *slots, int n, uint32_t dbid, int *out, int max) noexcept;

// Writing slots of dbid go back to Ready, for a writer that replaces one
// that stopped mid-batch. Returns how many.
int requeue_writing(SlotHeader *slots, int n, uint32_t dbid) noexcept;

// Whether dbid has a record that arrived at or before seq and is not
// written yet.
bool pending_through(const SlotHeader *slots, int n, uint32_t dbid, uint64_t seq) noexcept;

// How many slots are not free, for every database.
int count_pending(const SlotHeader *slots, int n) noexcept;

// Whether dbid has a record Ready for its writer.
bool has_ready(const SlotHeader *slots, int n, uint32_t dbid) noexcept;

// A database with queued records, by its oldest Ready record.
struct Waiting {
    uint32_t dbid;
    uint64_t seq;
    int64_t queued_us;
};

// The database that has waited longest: the one whose oldest Ready record
// arrived first, among the databases not in skip (those a writer serves
// already). False when no other database has a Ready record.
bool longest_waiting(const SlotHeader *slots, int n, const uint32_t *skip, int n_skip,
                     Waiting *out) noexcept;

// Whether a writer waits for a fuller batch (up to max_batch records
// queued for it) before writing. Not once half the queue is in use: the
// queue is shared by every database, and records gathered for one would
// leave the others without room.
bool worth_gathering(int queued, int max_batch, int used, int capacity) noexcept;

// When a writer gives its slot to a database that waits for one. Idle (it
// has nothing Ready), it leaves as soon as the other has waited idle_us (a
// moment, so a slot about to be given anyway is not churned); busy, once it
// has held the slot for slice_us and the other has waited as long.
struct HandOverPolicy {
    int64_t idle_us;
    int64_t slice_us;
};

// waited_us < 0: nobody waits.
bool should_hand_over(const HandOverPolicy &policy, bool own_ready, int64_t held_us,
                      int64_t waited_us) noexcept;

} // namespace guarded_ddl
