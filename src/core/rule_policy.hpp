// Which rules block, warn or stay silent: guarded_ddl.mode, overridden per
// rule by guarded_ddl.rules ('drop_column=warn, rename_column=off').
#pragma once

#include "core/no_postgres.hpp"

#include "core/rule_catalogue.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace guarded_ddl {

// The order matches the guarded_ddl.mode enum values of the PG zone.
enum class Mode { Off = 0, Warn = 1, Enforce = 2 };

std::string_view mode_name(Mode mode) noexcept;

enum class Verdict { Allow, Warn, Block };

std::string_view verdict_name(Verdict verdict) noexcept;

// A per-rule override for each rule that has one.
using RuleOverrides = std::array<std::optional<Mode>, rule_count>;

// Longest guarded_ddl.rules value accepted: a list of every rule is far shorter.
inline constexpr std::size_t max_rule_policy_length = std::size_t{16} * 1024;

// Parses a guarded_ddl.rules value. Rule ids and modes are matched exactly
// (they are lower case, as documented); spaces around items are ignored and
// an empty string means no overrides. Throws Error (22023) naming the bad
// item and listing what is valid.
RuleOverrides parse_rule_overrides(std::string_view text);

// The override for the rule, else the global mode; an override to a
// stricter mode applies even when the global mode is warn.
Mode effective_mode(Mode global, const RuleOverrides &overrides, RuleId id) noexcept;

// What happens to a statement a rule fired on.
Verdict decide(Mode effective, bool relation_is_large) noexcept;

} // namespace guarded_ddl
