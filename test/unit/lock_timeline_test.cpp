#include "core/lock_timeline.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

using namespace guarded_ddl;

namespace {

constexpr std::int64_t ms = 1000;
constexpr std::int64_t s = 1000 * ms;
// 2024-05-02 10:00:00 UTC
constexpr std::int64_t t0 = 1714644000LL * s;

std::size_t count(const std::string &haystack, const std::string &needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size()))
        ++n;
    return n;
}

TimelineLock lock(std::string relation, std::string mode, std::int64_t wait_start,
                  std::optional<std::int64_t> granted, std::optional<std::int64_t> released) {
    TimelineLock l;
    l.relation = std::move(relation);
    l.mode = std::move(mode);
    l.wait_start_us = wait_start;
    l.granted_us = granted;
    l.wait_end_us = granted.value_or(wait_start);
    l.released_us = released;
    l.statement = "ALTER TABLE users ADD COLUMN x int";
    l.executing_role = "migrator";
    l.session_role = "migrator";
    l.verdict = "allowed";
    l.statement_end_us = granted.value_or(wait_start);
    return l;
}

TimelineInput window() {
    TimelineInput in;
    in.since_us = t0;
    in.until_us = t0 + 60 * s;
    return in;
}

// Well-formedness short of a parser: every element opened is closed, in
// order, and no text carries a raw '<' or '&' that is not an entity.
bool balanced(const std::string &svg) {
    std::vector<std::string> open;
    for (std::size_t i = 0; i < svg.size(); ++i) {
        if (svg[i] == '&') {
            std::size_t semi = svg.find(';', i);
            if (semi == std::string::npos)
                return false;
            std::string entity = svg.substr(i, semi - i + 1);
            if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
                entity != "&apos;")
                return false;
            continue;
        }
        if (svg[i] != '<')
            continue;
        std::size_t end = svg.find('>', i);
        if (end == std::string::npos)
            return false;
        std::string tag = svg.substr(i + 1, end - i - 1);
        i = end;
        if (tag.empty() || tag[0] == '?' || tag[0] == '!')
            continue;
        if (tag.back() == '/')
            continue;
        if (tag[0] == '/') {
            if (open.empty() || open.back() != tag.substr(1))
                return false;
            open.pop_back();
            continue;
        }
        open.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
    return open.empty();
}

} // namespace

TEST(XmlEscape, EscapesMarkupCharacters) {
    EXPECT_EQ(xml_escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&apos;");
    EXPECT_EQ(xml_escape("plain text"), "plain text");
    EXPECT_EQ(xml_escape(""), "");
}

TEST(XmlEscape, DropsControlCharactersKeepsTabAndNewline) {
    EXPECT_EQ(xml_escape(std::string("a\x01"
                                     "b\x1b"
                                     "c\td\ne\rf\x7f",
                                     12)),
              "abc\td\nef\x7f");
    EXPECT_EQ(xml_escape(std::string("x\0y", 3)), "xy");
}

TEST(XmlEscape, KeepsValidUtf8AndReplacesInvalid) {
    EXPECT_EQ(xml_escape("caf\xc3\xa9 \xe2\x80\x93 \xf0\x9f\x94\x92"),
              "caf\xc3\xa9 \xe2\x80\x93 \xf0\x9f\x94\x92");
    // A lone continuation byte, a truncated sequence, an overlong '<' and a
    // UTF-16 surrogate: each byte becomes U+FFFD, nothing unescaped gets out.
    EXPECT_EQ(xml_escape("a\x80z"), "a\xef\xbf\xbdz");
    EXPECT_EQ(xml_escape("a\xe2\x80"), "a\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(xml_escape("\xc0\xbc"), "\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(xml_escape("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    // U+FFFE and U+FFFF are not XML characters.
    EXPECT_EQ(xml_escape("\xef\xbf\xbe\xef\xbf\xbf"), "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(FormatTime, UtcAndDurations) {
    EXPECT_EQ(format_utc(t0), "2024-05-02 10:00:00");
    EXPECT_EQ(format_utc(t0 + 1234 * ms), "2024-05-02 10:00:01.234");
    EXPECT_EQ(format_utc(0), "1970-01-01 00:00:00");
    EXPECT_EQ(format_utc(-1 * s), "1969-12-31 23:59:59");
    EXPECT_EQ(format_utc(951782400LL * s), "2000-02-29 00:00:00");
    EXPECT_EQ(format_duration(800), "0.8 ms");
    EXPECT_EQ(format_duration(123 * ms), "123 ms");
    EXPECT_EQ(format_duration(4560 * ms), "4.56 s");
    EXPECT_EQ(format_duration(123400 * ms), "2 min 3.4 s");
    EXPECT_EQ(format_duration(3720 * s), "1 h 02 min");
}

TEST(LockTimeline, EmptyWindowSaysNothingToShow) {
    std::string svg = render_lock_timeline(window());
    EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0), 0u);
    EXPECT_NE(svg.find("Nothing to show"), std::string::npos);
    EXPECT_NE(svg.find("2024-05-02 10:00:00"), std::string::npos);
    EXPECT_EQ(count(svg, "class=\"lane\""), 0u);
    EXPECT_EQ(count(svg, "class=\"bar"), 0u);
    EXPECT_TRUE(balanced(svg));
}

TEST(LockTimeline, RowsOutsideTheWindowAreNotDrawn) {
    TimelineInput in = window();
    in.locks.push_back(
        lock("public.old", "AccessExclusiveLock", t0 - 10 * s, t0 - 9 * s, t0 - 8 * s));
    in.locks.push_back(
        lock("public.later", "AccessExclusiveLock", t0 + 61 * s, t0 + 62 * s, std::nullopt));
    std::string svg = render_lock_timeline(in);
    EXPECT_NE(svg.find("Nothing to show"), std::string::npos);
    EXPECT_EQ(svg.find("public.old"), std::string::npos);
}

TEST(LockTimeline, OneLanePerRelationOneBarPerLock) {
    TimelineInput in = window();
    in.locks.push_back(
        lock("public.users", "AccessExclusiveLock", t0 + 1 * s, t0 + 3 * s, t0 + 5 * s));
    in.locks.push_back(
        lock("public.users", "ShareUpdateExclusiveLock", t0 + 10 * s, t0 + 10 * s, t0 + 20 * s));
    in.locks.push_back(
        lock("public.orders", "ShareRowExclusiveLock", t0 + 2 * s, t0 + 2 * s, t0 + 4 * s));
    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(count(svg, "<g class=\"lane\">"), 2u);
    EXPECT_EQ(count(svg, "<g class=\"bar\">"), 3u);
    EXPECT_EQ(count(svg, "class=\"hold\""), 3u);
    // Only the first lock waited.
    EXPECT_EQ(count(svg, "class=\"wait\""), 1u);
    // A legend entry per mode present, and a hatch pattern per mode.
    EXPECT_EQ(count(svg, "<g class=\"legend\""), 3u + 3u);
    EXPECT_NE(svg.find(">AccessExclusiveLock</text>"), std::string::npos);
    EXPECT_NE(svg.find(">ShareRowExclusiveLock</text>"), std::string::npos);
    EXPECT_EQ(svg.find(">AccessShareLock</text>"), std::string::npos);
    EXPECT_EQ(count(svg, "<pattern id=\"gd-wait-"), 4u);
    // Lanes by first activity: users (1s) before orders (2s).
    EXPECT_LT(svg.find("<title>public.users</title>"), svg.find("<title>public.orders</title>"));
    // Each bar's title names the statement, role, mode and durations.
    EXPECT_NE(svg.find("<title>ALTER TABLE users ADD COLUMN x int\nrole: migrator\n"
                       "AccessExclusiveLock on public.users\nwait: 2.00 s\nhold: 2.00 s\n"),
              std::string::npos);
    // Ticks along the axis.
    EXPECT_GE(count(svg, "class=\"tick\""), 4u);
    EXPECT_NE(svg.find(">10:00:30</text>"), std::string::npos);
    EXPECT_TRUE(balanced(svg));
}

TEST(LockTimeline, OverlappingBarsGetTheirOwnRows) {
    TimelineInput in = window();
    in.locks.push_back(lock("public.t", "AccessShareLock", t0 + 1 * s, t0 + 1 * s, t0 + 30 * s));
    in.locks.push_back(
        lock("public.t", "AccessExclusiveLock", t0 + 2 * s, t0 + 30 * s, t0 + 31 * s));
    std::string one = render_lock_timeline(in);
    in.locks.pop_back();
    std::string alone = render_lock_timeline(in);
    // The second bar does not sit on top of the first: the lane grows.
    auto lane_height = [](const std::string &svg) {
        std::size_t at = svg.find("<g class=\"lanes\">");
        at = svg.find("height=\"", svg.find("<rect", at)) + 8;
        return std::stod(svg.substr(at));
    };
    EXPECT_GT(lane_height(one), lane_height(alone));
}

TEST(LockTimeline, StillHeldLockIsOpenEnded) {
    TimelineInput in = window();
    in.locks.push_back(
        lock("public.users", "AccessExclusiveLock", t0 + 5 * s, t0 + 6 * s, std::nullopt));
    in.locks.push_back(
        lock("public.users", "AccessExclusiveLock", t0 + 40 * s, t0 + 41 * s, t0 + 42 * s));
    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(count(svg, "<g class=\"bar open\">"), 1u);
    EXPECT_EQ(count(svg, "<g class=\"bar\">"), 1u);
    EXPECT_EQ(count(svg, "class=\"open-end\""), 1u);
    EXPECT_NE(svg.find("hold: still held or release not recorded"), std::string::npos);
    // The open bar's arrow ends at the right edge of the plot.
    std::size_t arrow = svg.find("class=\"open-end\" d=\"M");
    ASSERT_NE(arrow, std::string::npos);
    EXPECT_NE(svg.substr(arrow, 80).find(" L1170.0,"), std::string::npos);
}

TEST(LockTimeline, NeverGrantedLockIsOnlyAWait) {
    TimelineInput in = window();
    TimelineLock l =
        lock("public.users", "AccessExclusiveLock", t0 + 5 * s, std::nullopt, std::nullopt);
    l.wait_end_us = t0 + 8 * s;
    l.outcome = TimelineOutcome::Failed;
    l.statement_end_us = t0 + 8 * s;
    l.verdict = "failed";
    in.locks.push_back(l);
    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(count(svg, "class=\"wait\""), 1u);
    EXPECT_EQ(count(svg, "class=\"hold\""), 0u);
    EXPECT_EQ(count(svg, "class=\"open-end\""), 0u);
    EXPECT_EQ(count(svg, "class=\"marker failed\""), 1u);
    EXPECT_NE(svg.find("wait: 3.00 s (never granted)"), std::string::npos);
    EXPECT_EQ(svg.find("hold:"), std::string::npos);
}

TEST(LockTimeline, BlockedFailedAndCappedMarkers) {
    TimelineInput in = window();
    TimelineLock blocked =
        lock("public.users", "AccessExclusiveLock", t0 + 5 * s, t0 + 5 * s, t0 + 6 * s);
    blocked.outcome = TimelineOutcome::Blocked;
    blocked.verdict = "blocked";
    in.locks.push_back(blocked);
    TimelineEvent cap;
    cap.kind = TimelineEvent::Kind::Capped;
    cap.relation = "public.users";
    cap.at_us = t0 + 20 * s;
    cap.statement = "SELECT pg_sleep(2)";
    cap.executing_role = "migrator";
    cap.message = "guarded_ddl: canceling statement: this transaction has held "
                  "AccessExclusiveLock on large table \"public.users\" longer than "
                  "guarded_ddl.max_lock_hold (500ms)";
    in.events.push_back(cap);
    TimelineEvent failed;
    failed.kind = TimelineEvent::Kind::Failed;
    failed.relation = "public.orders";
    failed.at_us = t0 + 30 * s;
    failed.statement = "ALTER TABLE orders ADD CONSTRAINT c CHECK (x > 0)";
    in.events.push_back(failed);
    TimelineEvent outside = failed;
    outside.at_us = t0 + 90 * s;
    outside.relation = "public.elsewhere";
    in.events.push_back(outside);

    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(count(svg, "class=\"marker blocked\""), 1u);
    EXPECT_EQ(count(svg, "class=\"marker capped\""), 1u);
    EXPECT_EQ(count(svg, "class=\"marker failed\""), 1u);
    EXPECT_EQ(count(svg, "<g class=\"lane\">"), 2u);
    EXPECT_EQ(svg.find("public.elsewhere"), std::string::npos);
    EXPECT_NE(svg.find("longer than guarded_ddl.max_lock_hold (500ms)"), std::string::npos);
    EXPECT_NE(svg.find("statement cancelled: SELECT pg_sleep(2)"), std::string::npos);
    EXPECT_NE(svg.find("&quot;public.users&quot;"), std::string::npos);
    EXPECT_NE(svg.find("transaction capped</text>"), std::string::npos);
    EXPECT_TRUE(balanced(svg));
}

TEST(LockTimeline, EveryTextIsEscaped) {
    TimelineInput in = window();
    TimelineLock l =
        lock("public.\"<b>&\"", "AccessExclusiveLock", t0 + 1 * s, t0 + 2 * s, t0 + 3 * s);
    l.statement = "ALTER TABLE t ADD COLUMN \"<b>&\"\"'\" int -- \x01\x02";
    l.executing_role = "r<o>le";
    l.mode = "Weird<Mode>";
    in.locks.push_back(l);
    TimelineEvent e;
    e.kind = TimelineEvent::Kind::Blocked;
    e.relation = "s.\"t&t\"";
    e.at_us = t0 + 4 * s;
    e.statement = "</title><script>alert(1)</script>";
    e.message = "x\x1by";
    in.events.push_back(e);
    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(svg.find("<b>"), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_EQ(svg.find('\x01'), std::string::npos);
    EXPECT_EQ(svg.find('\x1b'), std::string::npos);
    EXPECT_NE(svg.find("&lt;b&gt;&amp;&quot;&quot;&apos;&quot;"), std::string::npos);
    EXPECT_NE(svg.find("&lt;/title&gt;&lt;script&gt;"), std::string::npos);
    EXPECT_NE(svg.find("role: r&lt;o&gt;le"), std::string::npos);
    EXPECT_NE(svg.find(">Weird&lt;Mode&gt;</text>"), std::string::npos);
    EXPECT_TRUE(balanced(svg));
}

TEST(LockTimeline, NoScriptsLinksOrHandlers) {
    TimelineInput in = window();
    in.locks.push_back(
        lock("public.users", "AccessExclusiveLock", t0 + 1 * s, t0 + 2 * s, std::nullopt));
    TimelineEvent cap;
    cap.kind = TimelineEvent::Kind::Capped;
    cap.relation = "public.users";
    cap.at_us = t0 + 20 * s;
    in.events.push_back(cap);
    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_EQ(svg.find("href"), std::string::npos);
    EXPECT_FALSE(std::regex_search(svg, std::regex("\\son[a-z]+\\s*=", std::regex::icase)));
    EXPECT_EQ(svg.find("<foreignObject"), std::string::npos);
    EXPECT_EQ(svg.find("<image"), std::string::npos);
}

TEST(LockTimeline, SaysWhenRowsWereLeftOut) {
    TimelineInput in = window();
    in.locks.push_back(
        lock("public.users", "AccessExclusiveLock", t0 + 1 * s, t0 + 2 * s, t0 + 3 * s));
    EXPECT_EQ(render_lock_timeline(in).find("class=\"left-out\""), std::string::npos);
    in.locks_left_out = 345;
    std::string svg = render_lock_timeline(in);
    EXPECT_NE(svg.find("345 older lock rows beyond the 1 newest"), std::string::npos);
}

TEST(LockTimeline, Deterministic) {
    TimelineInput in = window();
    for (int i = 0; i < 50; ++i)
        in.locks.push_back(
            lock("public.t" + std::to_string(i % 7), i % 2 ? "AccessExclusiveLock" : "ShareLock",
                 t0 + i * s, t0 + i * s + 100 * ms,
                 i % 5 ? std::optional<std::int64_t>(t0 + i * s + 3 * s) : std::nullopt));
    std::string a = render_lock_timeline(in);
    EXPECT_EQ(a, render_lock_timeline(in));
    EXPECT_EQ(count(a, "<g class=\"lane\">"), 7u);
    EXPECT_EQ(count(a, "<g class=\"bar"), 50u);
    EXPECT_TRUE(balanced(a));
}

TEST(LockTimeline, EqualSinceAndUntilDoesNotDivideByZero) {
    TimelineInput in;
    in.since_us = in.until_us = t0;
    in.locks.push_back(lock("public.users", "AccessExclusiveLock", t0 - s, t0 - s, std::nullopt));
    std::string svg = render_lock_timeline(in);
    EXPECT_EQ(count(svg, "<g class=\"bar open\">"), 1u);
    EXPECT_FALSE(std::regex_search(svg, std::regex("[\\d\\s,.-](nan|inf)", std::regex::icase)));
    EXPECT_TRUE(balanced(svg));
}
