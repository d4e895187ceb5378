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
    uint64_t seq; // queue-wide order of arrival
};

// Marks a free slot Filling for dbid and returns its index, or -1 when the
// queue is full. Starts the search at *hint and leaves *hint after the slot
// taken, so a queue under load is not rescanned from the front each time.
// The record is copied in without the lock; publish_slot then hands it to
// the writer.
int claim_slot(SlotHeader *slots, int n, int *hint, uint32_t dbid, uint64_t seq) noexcept;
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

} // namespace guarded_ddl
