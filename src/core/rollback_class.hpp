// What undoing an action takes, in the terms production teams use when a
// deploy goes wrong: roll the application back and leave the schema (or run
// a cheap reverse statement), roll the database forward with another
// migration, or restore data from a backup.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <string_view>

namespace guarded_ddl {

struct Facts;

// Ordered from mild to severe, so the worst of a statement's actions is the
// largest. 0 is not a class: a record whose statement was not analysed.
enum class Rollback : int8_t {
    // Additive or metadata only (or physical only): an application rollback
    // leaves it in place, or a cheap reverse statement undoes it.
    Reversible = 1,
    // No data lost, but undoing it is another risky migration (a rewrite,
    // an index build).
    ForwardOnly = 2,
    // Data is lost: only a restore brings it back.
    DataRestore = 3,
};

std::string_view rollback_name(Rollback rollback) noexcept; // "" for 0

// The more severe of the two; a zero (unknown) one counts as nothing.
Rollback worst(Rollback a, Rollback b) noexcept;

// The class of one action, from the same facts classify() reads. A lossy
// type change is DataRestore even when no rule fires (a small table).
Rollback rollback_class(const Facts &facts) noexcept;

} // namespace guarded_ddl
