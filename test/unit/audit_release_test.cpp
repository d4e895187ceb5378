#include "core/audit_release.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

using namespace guarded_ddl;

namespace {

// A batch of records from backends told apart by pid, built in queue order.
struct Batch {
    std::vector<std::unique_ptr<AuditEntry>> entries;
    std::vector<const AuditEntry *> pointers;

    AuditEntry &add(EntryKind kind, int32_t pid) {
        entries.push_back(std::make_unique<AuditEntry>());
        AuditEntry &e = *entries.back();
        e.kind = kind;
        e.session.backend_pid = pid;
        e.session.backend_start_us = 1000 + pid;
        pointers.push_back(&e);
        return e;
    }
    void statement(int32_t pid, int64_t seq) {
        add(EntryKind::Statement, pid).session.backend_seq = seq;
    }
    void release(int32_t pid, int64_t first, int64_t last, int64_t at) {
        add(EntryKind::LocksReleased, pid).released = {first, last, at};
    }
    int size() const { return static_cast<int>(pointers.size()); }
    const AuditEntry *const *data() const { return pointers.data(); }
};

} // namespace

TEST(AuditRelease, AStatementAndItsCommitInOneBatch) {
    Batch b;
    b.statement(7, 1);
    b.release(7, 1, 1, 500);
    EXPECT_EQ(released_in_batch(b.data(), b.size(), 0), 500);
    EXPECT_TRUE(released_within_batch(b.data(), 1));
}

TEST(AuditRelease, OtherBackendsAndSessionsDoNotMatch) {
    Batch b;
    b.statement(7, 1);
    b.statement(8, 1);
    b.release(8, 1, 1, 500);
    EXPECT_EQ(released_in_batch(b.data(), b.size(), 0), 0);
    EXPECT_EQ(released_in_batch(b.data(), b.size(), 1), 500);
    // A new session of a reused pid: another backend_start.
    Batch c;
    c.statement(7, 1);
    c.release(7, 1, 1, 500);
    c.entries[1]->session.backend_start_us += 1;
    EXPECT_EQ(released_in_batch(c.data(), c.size(), 0), 0);
    EXPECT_FALSE(released_within_batch(c.data(), 1));
}

TEST(AuditRelease, AStatementOfAnEarlierBatchNeedsTheTables) {
    Batch b; // statement 1 was written by the batch before
    b.statement(7, 2);
    b.release(7, 1, 2, 500);
    EXPECT_EQ(released_in_batch(b.data(), b.size(), 0), 500);
    EXPECT_FALSE(released_within_batch(b.data(), 1));
}

TEST(AuditRelease, TheFirstReleaseAfterAStatementCounts) {
    // ROLLBACK TO SAVEPOINT released statement 2's locks, then the commit
    // statement 1's (and names 2 again, already released).
    Batch b;
    b.statement(7, 1);
    b.statement(7, 2);
    b.release(7, 2, 2, 300);
    b.release(7, 1, 2, 900);
    EXPECT_EQ(released_in_batch(b.data(), b.size(), 0), 900);
    EXPECT_EQ(released_in_batch(b.data(), b.size(), 1), 300);
    EXPECT_TRUE(released_within_batch(b.data(), 2));
    EXPECT_TRUE(released_within_batch(b.data(), 3));
}

TEST(AuditRelease, ARangeWithAStatementMissingFromTheBatch) {
    // Statement 2 went to the server log (queue full): nothing to find, but
    // the batch cannot know, so the tables are searched.
    Batch b;
    b.statement(7, 1);
    b.statement(7, 3);
    b.release(7, 1, 3, 500);
    EXPECT_FALSE(released_within_batch(b.data(), 2));
}
