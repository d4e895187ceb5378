#include "core/lock_failure.hpp"

#include <fmt/format.h>

namespace guarded_ddl {

std::string format_duration_ms(int64_t ms) {
    if (ms < 1000)
        return fmt::format("{} ms", ms);
    if (ms < 60000)
        return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
    return fmt::format("{} min {} s", ms / 60000, (ms % 60000) / 1000);
}

namespace {

std::string describe_blocker(const Blocker &b) {
    // PostgreSQL reports the locks of prepared transactions with pid 0: an
    // orphaned prepared transaction is a classic cause of stuck migrations.
    if (b.pid == 0)
        return "A prepared transaction holds a conflicting lock; see pg_prepared_xacts.";
    std::string transaction = b.xact_age_ms >= 0 ? fmt::format("transaction open for {}",
                                                               format_duration_ms(b.xact_age_ms))
                                                 : std::string("no transaction open");
    return fmt::format("Process {} (role \"{}\", application \"{}\", state \"{}\", {}) holds a "
                       "conflicting lock; its current or last query: \"{}\".",
                       b.pid, b.role, b.application, b.state, transaction, b.query);
}

} // namespace

Message lock_failure_message(const LockFailure &f) {
    const LockRecord &lock = *f.lock;
    Message m;
    m.message =
        fmt::format("guarded_ddl: could not obtain {} on relation \"{}\" after {} {} in {}",
                    f.lock_mode_name, lock.relation, lock.attempts,
                    lock.attempts == 1 ? "attempt" : "attempts", format_duration_ms(f.elapsed_ms));

    if (lock.n_blockers == 0) {
        m.detail = "No session held a conflicting lock at the last attempt; the lock was taken by "
                   "other waiting sessions first.";
    }
    for (int32_t i = 0; i < lock.n_blockers && i < max_blockers_per_lock; i++) {
        if (i > 0)
            m.detail += '\n';
        m.detail += describe_blocker(lock.blockers[i]);
    }

    if (f.fail_fast)
        m.hint = "This transaction already holds strong locks, so guarded_ddl does not sleep "
                 "between attempts while other sessions queue behind them. Roll back and retry "
                 "the whole transaction, ideally with its DDL first.";
    else
        m.hint = fmt::format(
            "Other sessions never queued behind this statement for more than {} at a time. "
            "End the blocking transactions or wait for them, then run the statement again; "
            "guarded_ddl.lock_budget and guarded_ddl.lock_retries set how long it keeps trying.",
            format_duration_ms(f.attempt_timeout_ms));
    return m;
}

} // namespace guarded_ddl
