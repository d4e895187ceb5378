// The report when the lock guard gives up: which lock, how hard it tried,
// who was in the way and what to do about it.
#pragma once

#include "core/no_postgres.hpp"

#include "core/ddl_record.hpp"
#include "core/message.hpp"

#include <cstdint>
#include <string>

namespace guarded_ddl {

struct LockFailure {
    const LockRecord *lock;
    const char *lock_mode_name; // PostgreSQL's, e.g. "AccessExclusiveLock"
    int64_t elapsed_ms;
    int64_t attempt_timeout_ms;
    bool fail_fast; // gave up early: the transaction holds strong locks
};

Message lock_failure_message(const LockFailure &failure);

// "850 ms", "3.2 s", "2 min 5 s": how people read waits.
std::string format_duration_ms(int64_t ms);

} // namespace guarded_ddl
