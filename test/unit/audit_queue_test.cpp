#include "core/audit_queue.hpp"

#include <gtest/gtest.h>

using namespace guarded_ddl;

namespace {

constexpr uint32_t db_a = 16384;
constexpr uint32_t db_b = 16385;

struct Queue {
    SlotHeader slots[4]{};
    int hint = 0;
    uint64_t seq = 0;
    int push(uint32_t db) {
        int slot = claim_slot(slots, 4, &hint, db, ++seq);
        if (slot >= 0)
            publish_slot(slots, slot);
        return slot;
    }
};

} // namespace

TEST(AuditQueue, ClaimsFreeSlotsUntilFull) {
    Queue q;
    for (int i = 0; i < 4; i++)
        EXPECT_GE(q.push(db_a), 0);
    EXPECT_EQ(q.push(db_a), -1);
    EXPECT_EQ(count_pending(q.slots, 4), 4);
}

TEST(AuditQueue, BatchIsOldestFirstAndPerDatabase) {
    Queue q;
    int first = q.push(db_a);
    q.push(db_b);
    int third = q.push(db_a);
    // Free the first slot and reuse it: the newest record now sits in front.
    int out[4];
    ASSERT_EQ(take_batch(q.slots, 4, db_a, out, 1), 1);
    EXPECT_EQ(out[0], first);
    q.slots[first].state = SlotState::Free;
    int fourth = q.push(db_a);
    ASSERT_EQ(take_batch(q.slots, 4, db_a, out, 4), 2);
    EXPECT_EQ(out[0], third);
    EXPECT_EQ(out[1], fourth);
    EXPECT_EQ(q.slots[third].state, SlotState::Writing);
    // db_b's record was not touched.
    ASSERT_EQ(take_batch(q.slots, 4, db_b, out, 4), 1);
}

TEST(AuditQueue, BatchKeepsTheOldestWhenLimited) {
    Queue q;
    for (int i = 0; i < 4; i++)
        q.push(db_a);
    // Make slot 3 the oldest.
    q.slots[3].seq = 0;
    int out[2];
    ASSERT_EQ(take_batch(q.slots, 4, db_a, out, 2), 2);
    EXPECT_EQ(out[0], 3);
    EXPECT_EQ(out[1], 0);
    EXPECT_EQ(q.slots[1].state, SlotState::Ready);
    EXPECT_EQ(q.slots[2].state, SlotState::Ready);
}

TEST(AuditQueue, RequeueReturnsOnlyThatDatabasesWritingSlots) {
    Queue q;
    q.push(db_a);
    q.push(db_b);
    int out[4];
    take_batch(q.slots, 4, db_a, out, 4);
    take_batch(q.slots, 4, db_b, out, 4);
    EXPECT_EQ(requeue_writing(q.slots, 4, db_a), 1);
    EXPECT_EQ(q.slots[0].state, SlotState::Ready);
    EXPECT_EQ(q.slots[1].state, SlotState::Writing);
}

TEST(AuditQueue, PendingThroughLooksOnlyAtOlderRecordsOfTheDatabase) {
    Queue q;
    int first = q.push(db_a);
    uint64_t flushed_upto = q.seq;
    q.push(db_b);
    EXPECT_TRUE(pending_through(q.slots, 4, db_a, flushed_upto));
    q.slots[first].state = SlotState::Free;
    EXPECT_FALSE(pending_through(q.slots, 4, db_a, flushed_upto));
    q.push(db_a); // newer than the flush point
    EXPECT_FALSE(pending_through(q.slots, 4, db_a, flushed_upto));
    EXPECT_TRUE(pending_through(q.slots, 4, db_b, q.seq));
}

TEST(AuditQueue, ARecordBeingCopiedInIsPendingButNotTaken) {
    Queue q;
    int filling = claim_slot(q.slots, 4, &q.hint, db_a, ++q.seq);
    ASSERT_GE(filling, 0);
    EXPECT_EQ(q.slots[filling].state, SlotState::Filling);
    int out[4];
    EXPECT_EQ(take_batch(q.slots, 4, db_a, out, 4), 0);
    EXPECT_TRUE(pending_through(q.slots, 4, db_a, q.seq));
    EXPECT_EQ(count_pending(q.slots, 4), 1);
    publish_slot(q.slots, filling);
    EXPECT_EQ(take_batch(q.slots, 4, db_a, out, 4), 1);
}
