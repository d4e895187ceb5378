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

TEST(AuditQueue, LongestWaitingIsTheOldestReadyRecordsDatabase) {
    Queue q;
    q.push(db_a);
    q.push(db_b);
    q.push(db_a);
    Waiting w{};
    ASSERT_TRUE(longest_waiting(q.slots, 4, nullptr, 0, &w));
    EXPECT_EQ(w.dbid, db_a);
    EXPECT_EQ(w.seq, 1u);
    // db_a has a writer: db_b is next, although db_a has more queued.
    uint32_t served[] = {db_a};
    ASSERT_TRUE(longest_waiting(q.slots, 4, served, 1, &w));
    EXPECT_EQ(w.dbid, db_b);
    EXPECT_EQ(w.seq, 2u);
    uint32_t both[] = {db_a, db_b};
    EXPECT_FALSE(longest_waiting(q.slots, 4, both, 2, &w));
}

TEST(AuditQueue, LongestWaitingOrdersByArrivalNotBySlot) {
    Queue q;
    q.push(db_a);
    int second = q.push(db_b);
    // db_a's record is written; a newer one of db_a lands in front of db_b's.
    q.slots[0].state = SlotState::Free;
    q.hint = 0;
    ASSERT_EQ(claim_slot(q.slots, 4, &q.hint, db_a, ++q.seq, 30), 0);
    publish_slot(q.slots, 0);
    Waiting w{};
    ASSERT_TRUE(longest_waiting(q.slots, 4, nullptr, 0, &w));
    EXPECT_EQ(w.dbid, db_b);
    EXPECT_EQ(w.seq, q.slots[second].seq);
}

TEST(AuditQueue, OnlyReadyRecordsWait) {
    Queue q;
    int filling = claim_slot(q.slots, 4, &q.hint, db_a, ++q.seq, 10);
    q.push(db_b);
    int out[4];
    take_batch(q.slots, 4, db_b, out, 4); // db_b's record is being written
    Waiting w{};
    EXPECT_FALSE(longest_waiting(q.slots, 4, nullptr, 0, &w));
    EXPECT_FALSE(has_ready(q.slots, 4, db_a));
    publish_slot(q.slots, filling);
    ASSERT_TRUE(longest_waiting(q.slots, 4, nullptr, 0, &w));
    EXPECT_EQ(w.dbid, db_a);
    EXPECT_EQ(w.queued_us, 10);
    EXPECT_TRUE(has_ready(q.slots, 4, db_a));
    EXPECT_FALSE(has_ready(q.slots, 4, db_b));
}

TEST(AuditQueue, HandOver) {
    HandOverPolicy p{10'000, 100'000};
    // Nobody waits: keep the slot.
    EXPECT_FALSE(should_hand_over(p, false, 5'000'000, -1));
    EXPECT_FALSE(should_hand_over(p, true, 5'000'000, -1));
    // Idle: give the slot once the other has waited a moment.
    EXPECT_FALSE(should_hand_over(p, false, 0, 9'999));
    EXPECT_TRUE(should_hand_over(p, false, 0, 10'000));
    // Busy: only after a slice held, and when the other waited a slice.
    EXPECT_FALSE(should_hand_over(p, true, 50'000, 900'000));
    EXPECT_FALSE(should_hand_over(p, true, 900'000, 50'000));
    EXPECT_TRUE(should_hand_over(p, true, 100'000, 100'000));
}

TEST(AuditQueue, GatheringStopsAtAFullBatchOrAHalfFullQueue) {
    EXPECT_TRUE(worth_gathering(0, 64, 0, 256));
    EXPECT_TRUE(worth_gathering(63, 64, 127, 256));
    EXPECT_FALSE(worth_gathering(64, 64, 64, 256));
    // Other databases' records count as much as the writer's own.
    EXPECT_FALSE(worth_gathering(1, 64, 128, 256));
    // A queue of one slot is full with its only record.
    EXPECT_FALSE(worth_gathering(0, 64, 1, 1));
}
