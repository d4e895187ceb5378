#include "core/retry_schedule.hpp"

#include <gtest/gtest.h>

namespace guarded_ddl {
namespace {

RetryPolicy defaults() {
    return RetryPolicy{100, 200, 30, 60000, false};
}

TEST(RetrySchedule, DelayDoublesFromTheFirstDelayWithJitterInTheUpperHalf) {
    auto p = defaults();
    EXPECT_EQ(next_delay_ms(p, 1, 0, 0.0), 100); // [100, 200)
    EXPECT_EQ(next_delay_ms(p, 1, 0, 0.999), 199);
    EXPECT_EQ(next_delay_ms(p, 2, 0, 0.0), 200); // [200, 400)
    EXPECT_EQ(next_delay_ms(p, 3, 0, 0.0), 400); // [400, 800)
}

TEST(RetrySchedule, GrowthStopsAtTheCap) {
    auto p = defaults();
    const int64_t cap = max_backoff_ms;
    EXPECT_EQ(next_delay_ms(p, 20, 0, 0.0), cap / 2);
    EXPECT_EQ(next_delay_ms(p, 29, 0, 0.0), cap / 2);
    EXPECT_LT(*next_delay_ms(p, 29, 0, 0.999), cap);
}

TEST(RetrySchedule, AFirstDelayLongerThanTheCapIsKept) {
    auto p = defaults();
    p.first_delay_ms = 5000;
    EXPECT_EQ(next_delay_ms(p, 1, 0, 0.0), 2500);
    EXPECT_EQ(next_delay_ms(p, 9, 0, 0.0), 2500);
}

TEST(RetrySchedule, NeverRetriesWithoutSleeping) {
    auto p = defaults();
    p.first_delay_ms = 0;
    for (int32_t a = 1; a < p.max_attempts; a++) {
        auto d = next_delay_ms(p, a, 0, 0.0);
        ASSERT_TRUE(d.has_value());
        EXPECT_GE(*d, 1);
    }
}

TEST(RetrySchedule, StopsAfterTheLastAttempt) {
    auto p = defaults();
    EXPECT_TRUE(next_delay_ms(p, 29, 0, 0.5).has_value());
    EXPECT_FALSE(next_delay_ms(p, 30, 0, 0.5).has_value());
}

TEST(RetrySchedule, StopsWhenTheSleepWouldEatTheBudget) {
    auto p = defaults();
    p.budget_ms = 1000;
    EXPECT_TRUE(next_delay_ms(p, 1, 800, 0.0).has_value()); // sleeps 100, ends at 900
    EXPECT_FALSE(next_delay_ms(p, 1, 900, 0.0).has_value());
}

TEST(RetrySchedule, FailFastMakesAFewQuickAttempts) {
    auto p = defaults();
    p.fail_fast = true;
    EXPECT_LE(*next_delay_ms(p, 1, 0, 0.999), fail_fast_max_delay_ms);
    EXPECT_LE(*next_delay_ms(p, 2, 0, 0.999), fail_fast_max_delay_ms);
    EXPECT_FALSE(next_delay_ms(p, fail_fast_max_attempts, 0, 0.0).has_value());
}

TEST(RetrySchedule, FailFastNeverAllowsMoreAttemptsThanConfigured) {
    auto p = defaults();
    p.fail_fast = true;
    p.max_attempts = 1;
    EXPECT_FALSE(next_delay_ms(p, 1, 0, 0.0).has_value());
}

TEST(RetrySchedule, AttemptTimeoutIsBoundedByTheRemainingBudget) {
    auto p = defaults();
    p.budget_ms = 1000;
    EXPECT_EQ(attempt_timeout_ms(p, 0), 100);
    EXPECT_EQ(attempt_timeout_ms(p, 950), 50);
    EXPECT_EQ(attempt_timeout_ms(p, 1000), 1); // never 0: that means no timeout
    EXPECT_EQ(attempt_timeout_ms(p, 5000), 1);
}

} // namespace
} // namespace guarded_ddl
