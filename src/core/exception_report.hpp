// Turns the C++ exception being handled into plain, fixed-size text that the
// PG zone can hand to ereport after leaving the catch block. Fixed buffers
// because ereport longjmps: nothing owning heap memory may be live then.
#pragma once

#include "core/no_postgres.hpp"

namespace guarded_ddl {

struct ExceptionReport {
    char sqlstate[6];
    char message[1024];
    char detail[2048];
    char hint[4096];
};

// Call only from inside a catch block; never throws.
void describe_current_exception(ExceptionReport &report) noexcept;

} // namespace guarded_ddl
