// When, and for how long, the lock guard tries again. A pure function of the
// settings and of what happened so far, so the schedule is unit-tested here
// rather than timed on a server.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>

namespace guarded_ddl {

struct RetryPolicy {
    int64_t attempt_timeout_ms; // longest one queued attempt may wait
    int64_t first_delay_ms;     // sleep after the first failed attempt
    int32_t max_attempts;       // try-lock included
    int64_t budget_ms;          // total time for attempts and sleeps
    bool fail_fast;             // the transaction already holds strong locks
};

// Quick attempts only when sleeping would keep strong locks held.
inline constexpr int32_t fail_fast_max_attempts = 3;
inline constexpr int64_t fail_fast_max_delay_ms = 20;
// Exponential growth stops here (or at the first delay, if that is longer):
// a sleep is how late the statement may be once the blocker is gone, and a
// migration should get its lock within a second of that.
inline constexpr int64_t max_backoff_ms = 800;

// How long to sleep before attempt number attempts_made + 1, or nothing when
// the attempts or the budget are used up. jitter is uniform in [0, 1): the
// delay is drawn from [d/2, d) so that sessions retrying together spread out.
std::optional<int64_t> next_delay_ms(const RetryPolicy &policy, int32_t attempts_made,
                                     int64_t elapsed_ms, double jitter) noexcept;

// How long the next queued attempt may wait: the per-attempt timeout, never
// past the budget. At least 1 ms, since 0 would mean "wait forever".
int64_t attempt_timeout_ms(const RetryPolicy &policy, int64_t elapsed_ms) noexcept;

} // namespace guarded_ddl
