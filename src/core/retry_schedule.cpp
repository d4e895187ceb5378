#include "core/retry_schedule.hpp"

#include <algorithm>

namespace guarded_ddl {

namespace {

int32_t attempt_limit(const RetryPolicy &policy) noexcept {
    return policy.fail_fast ? std::min(policy.max_attempts, fail_fast_max_attempts)
                            : policy.max_attempts;
}

int64_t backoff_ms(const RetryPolicy &policy, int32_t attempts_made) noexcept {
    const int64_t first = std::max<int64_t>(policy.first_delay_ms, 1);
    const int64_t cap = std::max(first, max_backoff_ms);
    int64_t delay = first;
    for (int32_t i = 1; i < attempts_made && delay < cap; i++)
        delay *= 2;
    delay = std::min(delay, cap);
    return policy.fail_fast ? std::min(delay, fail_fast_max_delay_ms) : delay;
}

} // namespace

std::optional<int64_t> next_delay_ms(const RetryPolicy &policy, int32_t attempts_made,
                                     int64_t elapsed_ms, double jitter) noexcept {
    if (attempts_made >= attempt_limit(policy))
        return std::nullopt;
    const int64_t full = backoff_ms(policy, attempts_made);
    const int64_t lower = full / 2;
    const auto spread = static_cast<double>(full - lower);
    const int64_t delay = lower + static_cast<int64_t>(std::clamp(jitter, 0.0, 1.0) * spread);
    // A sleep that leaves no time for another attempt is pointless.
    if (elapsed_ms + delay >= policy.budget_ms)
        return std::nullopt;
    return std::max<int64_t>(delay, 1);
}

int64_t attempt_timeout_ms(const RetryPolicy &policy, int64_t elapsed_ms) noexcept {
    const int64_t remaining = policy.budget_ms - elapsed_ms;
    return std::max<int64_t>(1, std::min(policy.attempt_timeout_ms, remaining));
}

} // namespace guarded_ddl
