#include "core/block_message.hpp"

#include <fmt/format.h>

#include <cmath>

namespace guarded_ddl {

namespace {

std::string_view what_it_does(Effect effect) {
    switch (effect) {
    case Effect::Rewrite:
        return "rewrites every row while holding it";
    case Effect::Scan:
        return "reads every row while holding it";
    case Effect::IndexBuild:
        return "builds an index over every row while holding it";
    case Effect::DataLoss:
        return "removes data the application version still running may need";
    case Effect::AppBreak:
        return "breaks the queries of the application version still running";
    default:
        return "holds it until the transaction ends, blocking every query on the table";
    }
}

std::string_view article(std::string_view lock) {
    return !lock.empty() && (lock.front() == 'A' || lock.front() == 'E') ? "an" : "a";
}

constexpr std::string_view from_profile = " in the imported size profile";

std::string rows_clause(double rows, bool rows_from_profile) {
    if (rows < 0)
        return "";
    return fmt::format(" (about {:.0f} rows{})", std::floor(rows),
                       rows_from_profile ? from_profile : "");
}

} // namespace

Message block_message(const RuleHit &hit) {
    const Rule &r = *hit.rule;
    Message m;
    m.message = fmt::format("guarded_ddl: rule {}: {} would {} large table \"{}\" ({}{})", r.name,
                            hit.command, r.verb, hit.names.table, hit.size,
                            hit.size_from_profile ? from_profile : "");
    m.detail =
        fmt::format("{} takes {} {} lock on \"{}\"{} and {}. {}.", hit.command, article(r.lock),
                    r.lock, hit.names.table, rows_clause(hit.rows, hit.rows_from_profile),
                    what_it_does(r.effect), r.description);
    m.hint = render_recipe(r, hit.names);
    return m;
}

} // namespace guarded_ddl
