#include "core/audit_queue.hpp"

namespace guarded_ddl {

int claim_slot(SlotHeader *slots, int n, int *hint, uint32_t dbid, uint64_t seq,
               int64_t queued_us) noexcept {
    for (int k = 0; k < n; k++) {
        int i = (*hint + k) % n;
        if (slots[i].state != SlotState::Free)
            continue;
        slots[i] = SlotHeader{SlotState::Filling, dbid, seq, queued_us};
        *hint = (i + 1) % n;
        return i;
    }
    return -1;
}

void publish_slot(SlotHeader *slots, int slot) noexcept {
    slots[slot].state = SlotState::Ready;
}

int take_batch(SlotHeader *slots, int n, uint32_t dbid, int *out, int max) noexcept {
    int taken = 0;
    for (int i = 0; i < n; i++) {
        if (slots[i].state != SlotState::Ready || slots[i].dbid != dbid)
            continue;
        // Insertion into out, kept sorted by seq, holding the oldest max.
        if (taken == max && slots[out[max - 1]].seq < slots[i].seq)
            continue;
        int pos = taken < max ? taken++ : max - 1;
        while (pos > 0 && slots[out[pos - 1]].seq > slots[i].seq) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = i;
    }
    for (int k = 0; k < taken; k++)
        slots[out[k]].state = SlotState::Writing;
    return taken;
}

int requeue_writing(SlotHeader *slots, int n, uint32_t dbid) noexcept {
    int moved = 0;
    for (int i = 0; i < n; i++) {
        if (slots[i].state == SlotState::Writing && slots[i].dbid == dbid) {
            slots[i].state = SlotState::Ready;
            moved++;
        }
    }
    return moved;
}

bool pending_through(const SlotHeader *slots, int n, uint32_t dbid, uint64_t seq) noexcept {
    for (int i = 0; i < n; i++) {
        if (slots[i].state != SlotState::Free && slots[i].dbid == dbid && slots[i].seq <= seq)
            return true;
    }
    return false;
}

int count_pending(const SlotHeader *slots, int n) noexcept {
    int pending = 0;
    for (int i = 0; i < n; i++)
        pending += slots[i].state != SlotState::Free;
    return pending;
}

bool has_ready(const SlotHeader *slots, int n, uint32_t dbid) noexcept {
    for (int i = 0; i < n; i++) {
        if (slots[i].state == SlotState::Ready && slots[i].dbid == dbid)
            return true;
    }
    return false;
}

bool longest_waiting(const SlotHeader *slots, int n, const uint32_t *skip, int n_skip,
                     Waiting *out) noexcept {
    const SlotHeader *oldest = nullptr;
    for (int i = 0; i < n; i++) {
        const SlotHeader &h = slots[i];
        if (h.state != SlotState::Ready || (oldest != nullptr && oldest->seq <= h.seq))
            continue;
        bool skipped = false;
        for (int k = 0; k < n_skip && !skipped; k++)
            skipped = skip[k] == h.dbid;
        if (!skipped)
            oldest = &h;
    }
    if (oldest == nullptr)
        return false;
    *out = Waiting{oldest->dbid, oldest->seq, oldest->queued_us};
    return true;
}

bool worth_gathering(int queued, int max_batch, int used, int capacity) noexcept {
    return queued < max_batch && used * 2 < capacity;
}

bool should_hand_over(const HandOverPolicy &policy, bool own_ready, int64_t held_us,
                      int64_t waited_us) noexcept {
    if (waited_us < 0)
        return false;
    if (!own_ready)
        return waited_us >= policy.idle_us;
    return held_us >= policy.slice_us && waited_us >= policy.slice_us;
}

} // namespace guarded_ddl
