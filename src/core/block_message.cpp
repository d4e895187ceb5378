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

std::string dml_rows_text(double rows) {
    return rows < 0 ? std::string("an unknown number of rows")
                    : fmt::format("about {:.0f} rows", std::floor(rows));
}

// The DML is harmless in itself; what the reader must see is the lock it
// would keep everyone waiting on, and who took it.
Message lock_hold_message(const RuleHit &hit, const HeldLockContext &held) {
    const Rule &r = *hit.rule;
    Message m;
    m.message = fmt::format("guarded_ddl: rule {}: {} of {} while this transaction holds {} on "
                            "large table \"{}\" ({}{})",
                            r.name, hit.command, dml_rows_text(held.dml_rows), held.mode,
                            hit.names.table, hit.size, hit.size_from_profile ? from_profile : "");
    m.detail = fmt::format(
        "The {} on \"{}\"{} was taken by: {}. Every query on the table that conflicts with it "
        "waits until this transaction ends, and the {} would keep the transaction open for as long "
        "as its rows take. guarded_ddl.max_rows_under_lock is {}.",
        held.mode, hit.names.table, rows_clause(hit.rows, hit.rows_from_profile), held.taken_by,
        hit.command, held.max_rows);
    m.hint = render_recipe(r, hit.names);
    return m;
}

} // namespace

Message block_message(const RuleHit &hit) {
    if (hit.held != nullptr)
        return lock_hold_message(hit, *hit.held);
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

Message cap_message(const CapHit &hit) {
    Message m;
    m.message = fmt::format("guarded_ddl: {}: this transaction has held {} on large table \"{}\" "
                            "longer than guarded_ddl.max_lock_hold ({})",
                            hit.terminating
                                ? (hit.idle ? "terminating idle session" : "terminating session")
                                : "canceling statement",
                            hit.mode, hit.relation, hit.cap);
    m.detail = fmt::format(
        "The lock was taken at {} by: {}. Every query on the table that conflicts with it waits "
        "until the transaction ends{}.",
        hit.taken_at, hit.taken_by,
        hit.idle ? ", and the session sat idle in the transaction" : "");
    m.hint = "Commit the schema change as soon as it is done, in a transaction of its own; run "
             "backfills and anything slow after the commit, in batches.";
    return m;
}

} // namespace guarded_ddl
