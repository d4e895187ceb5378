#include "core/rule_policy.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

#include <string>

namespace guarded_ddl {

namespace {

std::string_view trim(std::string_view s) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && blank(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string valid_rule_ids() {
    std::string ids;
    for (const Rule &r : rule_catalogue()) {
        if (!ids.empty())
            ids += ", ";
        ids += r.name;
    }
    return ids;
}

std::optional<Mode> parse_mode(std::string_view text) {
    for (Mode m : {Mode::Off, Mode::Warn, Mode::Enforce})
        if (text == mode_name(m))
            return m;
    return std::nullopt;
}

[[noreturn]] void invalid(const std::string &message, const std::string &detail,
                          const std::string &hint) {
    throw Error(sqlstate::invalid_parameter_value, message, detail, hint);
}

} // namespace

std::string_view mode_name(Mode mode) noexcept {
    switch (mode) {
    case Mode::Off:
        return "off";
    case Mode::Warn:
        return "warn";
    case Mode::Enforce:
        return "enforce";
    }
    return "enforce";
}

std::string_view verdict_name(Verdict verdict) noexcept {
    switch (verdict) {
    case Verdict::Allow:
        return "allow";
    case Verdict::Warn:
        return "warn";
    case Verdict::Block:
        return "block";
    }
    return "allow";
}

RuleOverrides parse_rule_overrides(std::string_view text) {
    if (text.size() > max_rule_policy_length)
        invalid(fmt::format("guarded_ddl.rules is too long ({} bytes)", text.size()),
                fmt::format("The limit is {} bytes.", max_rule_policy_length),
                "List each rule at most once, as rule_id=mode separated by commas.");

    RuleOverrides overrides{};
    while (!trim(text).empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);

        const std::size_t eq = item.find('=');
        if (item.empty() || eq == std::string_view::npos)
            invalid(fmt::format("invalid item \"{}\" in guarded_ddl.rules", item),
                    "Each item must have the form rule_id=mode.",
                    "Example: 'drop_column=warn, rename_column=off'.");

        const std::string_view id = trim(item.substr(0, eq));
        const std::string_view mode_text = trim(item.substr(eq + 1));
        const Rule *r = find_rule(id);
        if (r == nullptr)
            invalid(fmt::format("unknown rule \"{}\" in guarded_ddl.rules", id),
                    fmt::format("Valid rule ids are: {}.", valid_rule_ids()),
                    "SELECT id, description FROM guarded_ddl.rules() lists every rule.");
        const std::optional<Mode> mode = parse_mode(mode_text);
        if (!mode)
            invalid(fmt::format("unknown mode \"{}\" for rule \"{}\" in guarded_ddl.rules",
                                mode_text, id),
                    "Valid modes are: enforce, warn, off.", "Example: 'drop_column=warn'.");
        auto &slot = overrides[static_cast<std::size_t>(r->id)];
        if (slot)
            invalid(fmt::format("rule \"{}\" appears more than once in guarded_ddl.rules", id),
                    "Each rule may be listed at most once.", "Remove the duplicate item.");
        slot = mode;
    }
    return overrides;
}

Mode effective_mode(Mode global, const RuleOverrides &overrides, RuleId id) noexcept {
    const auto &override_mode = overrides[static_cast<std::size_t>(id)];
    return override_mode ? *override_mode : global;
}

Verdict decide(Mode effective, bool relation_is_large) noexcept {
    if (!relation_is_large || effective == Mode::Off)
        return Verdict::Allow;
    return effective == Mode::Enforce ? Verdict::Block : Verdict::Warn;
}

} // namespace guarded_ddl
