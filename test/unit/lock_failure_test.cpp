#include "core/lock_failure.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace guarded_ddl {
namespace {

LockRecord lock_on_users(int32_t attempts) {
    LockRecord lock{};
    std::strcpy(lock.relation, "public.users");
    lock.attempts = attempts;
    return lock;
}

Blocker blocker(int32_t pid, int64_t age_ms) {
    Blocker b{};
    b.pid = pid;
    b.xact_age_ms = age_ms;
    std::strcpy(b.role, "app");
    std::strcpy(b.application, "worker");
    std::strcpy(b.state, "idle in transaction");
    std::strcpy(b.query, "SELECT * FROM users");
    return b;
}

TEST(LockFailure, MessageNamesRelationModeAttemptsAndTime) {
    auto lock = lock_on_users(7);
    auto m = lock_failure_message({&lock, "AccessExclusiveLock", 3240, 100, false});
    EXPECT_EQ(m.message, "guarded_ddl: could not obtain AccessExclusiveLock on relation "
                         "\"public.users\" after 7 attempts in 3.2 s");
}

TEST(LockFailure, SingularAttempt) {
    auto lock = lock_on_users(1);
    auto m = lock_failure_message({&lock, "ShareLock", 5, 100, false});
    EXPECT_NE(m.message.find("after 1 attempt in 5 ms"), std::string::npos);
}

TEST(LockFailure, DetailNamesEveryBlockerOnItsOwnLine) {
    auto lock = lock_on_users(3);
    lock.blockers[0] = blocker(101, 12345);
    lock.blockers[1] = blocker(202, -1);
    lock.n_blockers = 2;
    auto m = lock_failure_message({&lock, "AccessExclusiveLock", 900, 100, false});
    EXPECT_EQ(m.detail,
              "Process 101 (role \"app\", application \"worker\", state \"idle in transaction\", "
              "transaction open for 12.3 s) holds a conflicting lock; its current or last query: "
              "\"SELECT * FROM users\".\n"
              "Process 202 (role \"app\", application \"worker\", state \"idle in transaction\", "
              "no transaction open) holds a conflicting lock; its current or last query: "
              "\"SELECT * FROM users\".");
}

TEST(LockFailure, PreparedTransactionsAreNamedAsSuch) {
    auto lock = lock_on_users(3);
    lock.blockers[0] = blocker(0, -1);
    lock.n_blockers = 1;
    auto m = lock_failure_message({&lock, "AccessExclusiveLock", 900, 100, false});
    EXPECT_EQ(m.detail, "A prepared transaction holds a conflicting lock; see pg_prepared_xacts.");
}

TEST(LockFailure, DetailSaysSoWhenNoBlockerWasSeen) {
    auto lock = lock_on_users(2);
    auto m = lock_failure_message({&lock, "AccessExclusiveLock", 300, 100, false});
    EXPECT_NE(m.detail.find("No session held a conflicting lock"), std::string::npos);
}

TEST(LockFailure, HintDependsOnWhetherTheTransactionHoldsStrongLocks) {
    auto lock = lock_on_users(3);
    auto normal = lock_failure_message({&lock, "AccessExclusiveLock", 300, 100, false});
    auto fast = lock_failure_message({&lock, "AccessExclusiveLock", 30, 100, true});
    EXPECT_NE(normal.hint.find("more than 100 ms at a time"), std::string::npos);
    EXPECT_NE(fast.hint.find("retry the whole transaction"), std::string::npos);
}

TEST(LockFailure, DurationsReadLikePeopleSayThem) {
    EXPECT_EQ(format_duration_ms(0), "0 ms");
    EXPECT_EQ(format_duration_ms(999), "999 ms");
    EXPECT_EQ(format_duration_ms(1000), "1.0 s");
    EXPECT_EQ(format_duration_ms(59949), "59.9 s");
    EXPECT_EQ(format_duration_ms(125000), "2 min 5 s");
}

} // namespace
} // namespace guarded_ddl
