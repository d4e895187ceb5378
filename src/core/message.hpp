// The three parts of an error or warning report, built in the logic zone and
// handed to ereport by the PG zone.
#pragma once

#include "core/no_postgres.hpp"

#include <string>

namespace guarded_ddl {

struct Message {
    std::string message; // lower case, no trailing period
    std::string detail;  // complete sentences
    std::string hint;    // complete sentences
};

} // namespace guarded_ddl
