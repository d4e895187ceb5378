// The report for a statement a rule fired on: the same text is an ERROR
// (enforce) or a WARNING (warn).
#pragma once

#include "core/no_postgres.hpp"

#include "core/message.hpp"
#include "core/rule_catalogue.hpp"

#include <string_view>

namespace guarded_ddl {

struct RuleHit {
    const Rule *rule;
    std::string_view command; // command tag, e.g. "ALTER TABLE"
    std::string_view size;    // as pg_size_pretty prints it
    double rows;              // planner estimate, < 0 when unknown
    RecipeNames names;        // names.table: qualified, quoted where needed
    // The figure is the imported size profile's (production's), not this
    // server's: the message says so.
    bool size_from_profile = false;
    bool rows_from_profile = false;
};

Message block_message(const RuleHit &hit);

} // namespace guarded_ddl
