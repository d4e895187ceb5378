#include "core/lock_timeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <iterator>
#include <map>

namespace guarded_ddl {

namespace {

// ---- text ----

void append_codepoint(std::string &out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

constexpr char32_t replacement_char = 0xFFFD;

// Length of the well-formed UTF-8 sequence at s[i] and its codepoint; 0 when
// the bytes there are not one (overlong forms and surrogates included).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t &cp) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char b = byte(i);
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF; // bounds of the second byte
    if (b < 0x80) {
        cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        cp = b & 0x0F;
        if (b == 0xE0)
            lo = 0xA0;
        if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        cp = b & 0x07;
        if (b == 0xF0)
            lo = 0x90;
        if (b == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (i + len > s.size())
        return 0;
    for (std::size_t k = 1; k < len; ++k) {
        unsigned char c = byte(i + k);
        if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
            return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    return len;
}

// text cut to at most max_bytes at a character boundary, with an ellipsis.
std::string_view shorten(std::string_view text, std::size_t max_bytes, bool &cut) {
    cut = text.size() > max_bytes;
    if (!cut)
        return text;
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
        --end;
    return text.substr(0, end);
}

std::string shortened(std::string_view text, std::size_t max_bytes) {
    bool cut;
    std::string out(shorten(text, max_bytes, cut));
    if (cut)
        out += "\u2026";
    return out;
}

// ---- time ----

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

constexpr std::int64_t ms_us = 1000;
constexpr std::int64_t s_us = 1000 * ms_us;
constexpr std::int64_t min_us = 60 * s_us;
constexpr std::int64_t h_us = 60 * min_us;
constexpr std::int64_t day_us = 24 * h_us;

struct Civil {
    std::int64_t year;
    unsigned month, day, hour, minute, second, micro;
};

// Days since 1970-01-01 to the proleptic Gregorian calendar (H. Hinnant's
// civil_from_days).
Civil civil(std::int64_t unix_us) {
    std::int64_t days = floor_div(unix_us, day_us);
    std::int64_t rest = unix_us - days * day_us;
    std::int64_t z = days + 719468;
    std::int64_t era = floor_div(z, 146097);
    auto doe = static_cast<unsigned>(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    Civil c{};
    c.day = doy - (153 * mp + 2) / 5 + 1;
    c.month = mp < 10 ? mp + 3 : mp - 9;
    c.year = static_cast<std::int64_t>(yoe) + era * 400 + (c.month <= 2 ? 1 : 0);
    c.hour = static_cast<unsigned>(rest / h_us);
    c.minute = static_cast<unsigned>(rest % h_us / min_us);
    c.second = static_cast<unsigned>(rest % min_us / s_us);
    c.micro = static_cast<unsigned>(rest % s_us);
    return c;
}

// A tick label for ticks step apart.
std::string tick_label(std::int64_t unix_us, std::int64_t step) {
    Civil c = civil(unix_us);
    if (step < s_us)
        return fmt::format("{:02}:{:02}:{:02}.{:03}", c.hour, c.minute, c.second, c.micro / 1000);
    if (step < min_us)
        return fmt::format("{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
    if (step < day_us)
        return fmt::format("{:02}:{:02}", c.hour, c.minute);
    return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

std::int64_t tick_step(std::int64_t span) {
    static constexpr std::array<std::int64_t, 30> steps = {
        ms_us,       2 * ms_us,   5 * ms_us,   10 * ms_us, 20 * ms_us, 50 * ms_us,
        100 * ms_us, 200 * ms_us, 500 * ms_us, s_us,       2 * s_us,   5 * s_us,
        10 * s_us,   15 * s_us,   30 * s_us,   min_us,     2 * min_us, 5 * min_us,
        10 * min_us, 15 * min_us, 30 * min_us, h_us,       2 * h_us,   3 * h_us,
        6 * h_us,    12 * h_us,   day_us,      2 * day_us, 7 * day_us, 30 * day_us};
    constexpr std::int64_t max_ticks = 8;
    for (std::int64_t s : steps)
        if (span / s <= max_ticks)
            return s;
    std::int64_t years = span / (365 * day_us) / max_ticks + 1;
    return years * 365 * day_us;
}

// ---- drawing ----

constexpr double width = 1200;
constexpr double label_x = 12;
constexpr double plot_x0 = 250;
constexpr double plot_x1 = 1170;
constexpr double bar_h = 12;
constexpr double row_h = 17;
constexpr double lane_pad = 5;
constexpr std::size_t max_rows = 8; // sub-rows of a lane for overlapping bars
constexpr double char_w = 6.6;      // rough width of a 12px sans-serif character
constexpr std::size_t statement_max = 2000;

constexpr const char *text_colour = "#222222";
constexpr const char *muted_colour = "#666666";
constexpr const char *blocked_colour = "#d62728";
constexpr const char *capped_colour = "#d62728";
constexpr const char *failed_colour = "#111111";

// PostgreSQL's table lock modes, weakest first, with their colours; other
// mode names (advisory, object locks) take the fallback colours in order.
constexpr std::array<std::pair<const char *, const char *>, 8> known_modes = {{
    {"AccessShareLock", "#4e79a7"},
    {"RowShareLock", "#76b7b2"},
    {"RowExclusiveLock", "#59a14f"},
    {"ShareUpdateExclusiveLock", "#edc948"},
    {"ShareLock", "#f28e2b"},
    {"ShareRowExclusiveLock", "#ff9da7"},
    {"ExclusiveLock", "#9c755f"},
    {"AccessExclusiveLock", "#6a3d9a"},
}};
constexpr std::array<const char *, 6> fallback_colours = {"#bab0ac", "#86bcb6", "#8cd17d",
                                                          "#b6992d", "#499894", "#d4a6c8"};

struct ModeStyle {
    std::string name;
    std::string colour;
    std::size_t pattern; // index of its hatch pattern
};

struct Placed {
    const TimelineLock *lock;
    std::size_t lane;
    std::size_t row = 0;
    std::int64_t start, end; // clipped to the window
    bool open;               // runs to the end of the window: release unknown
    double x0, x1;
};

struct Lane {
    std::string name;
    std::int64_t first;
    std::size_t rows = 1;
    double y = 0;
    double height = 0;
};

class Svg {
  public:
    std::string out;
    template <typename... Args> void add(fmt::format_string<Args...> f, Args &&...args) {
        fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
    }
};

std::string role_line(const std::string &executing, const std::string &session) {
    std::string line = "role: " + (executing.empty() ? std::string("(unknown)") : executing);
    if (!session.empty() && session != executing)
        line += " (session role " + session + ")";
    return line;
}

std::string statement_line(const std::string &statement) {
    return statement.empty() ? std::string("(statement text not recorded)")
                             : shortened(statement, statement_max);
}

} // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp;
        std::size_t len = decode_utf8(text, i, cp);
        if (len == 0) {
            append_codepoint(out, replacement_char);
            ++i;
            continue;
        }
        i += len;
        switch (cp) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            if (cp < 0x20 && cp != '\t' && cp != '\n')
                break;
            append_codepoint(out, cp == 0xFFFE || cp == 0xFFFF ? replacement_char : cp);
        }
    }
    return out;
}

std::string format_utc(std::int64_t unix_us) {
    Civil c = civil(unix_us);
    std::string s = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day,
                                c.hour, c.minute, c.second);
    if (c.micro != 0)
        s += fmt::format(".{:03}", c.micro / 1000);
    return s;
}

std::string format_duration(std::int64_t us) {
    if (us < 0)
        us = 0;
    if (us < 10 * ms_us)
        return fmt::format("{:.1f} ms", static_cast<double>(us) / ms_us);
    if (us < s_us)
        return fmt::format("{:.0f} ms", static_cast<double>(us) / ms_us);
    if (us < min_us)
        return fmt::format("{:.2f} s", static_cast<double>(us) / s_us);
    if (us < h_us)
        return fmt::format("{} min {:.1f} s", us / min_us, static_cast<double>(us % min_us) / s_us);
    return fmt::format("{} h {:02} min", us / h_us, us % h_us / min_us);
}

std::string render_lock_timeline(const TimelineInput &input) {
    const std::int64_t since = input.since_us;
    const std::int64_t until = std::max(input.until_us, input.since_us);
    const std::int64_t span = std::max<std::int64_t>(until - since, 1);
    auto clamp = [&](std::int64_t t) { return std::min(std::max(t, since), until); };
    auto x_of = [&](std::int64_t t) {
        return plot_x0 + static_cast<double>(clamp(t) - since) * (plot_x1 - plot_x0) /
                             static_cast<double>(span);
    };

    // Bars in the window, and the lanes they and the events are on.
    std::vector<Placed> bars;
    std::map<std::string, std::size_t> lane_of;
    std::vector<Lane> lanes;
    auto lane_for = [&](const std::string &name, std::int64_t t) {
        auto [it, added] = lane_of.emplace(name, lanes.size());
        if (added)
            lanes.push_back({name, t});
        else
            lanes[it->second].first = std::min(lanes[it->second].first, t);
        return it->second;
    };
    for (const TimelineLock &l : input.locks) {
        std::int64_t end = l.granted_us ? l.released_us.value_or(until) : l.wait_end_us;
        bool open = l.granted_us && !l.released_us;
        if (end < l.wait_start_us)
            end = l.wait_start_us;
        if (l.wait_start_us > until || end < since)
            continue;
        Placed p{&l, 0, 0, clamp(l.wait_start_us), clamp(end), open, 0, 0};
        p.lane = lane_for(l.relation, p.start);
        bars.push_back(p);
    }
    std::vector<std::pair<const TimelineEvent *, std::size_t>> events;
    for (const TimelineEvent &e : input.events) {
        if (e.at_us < since || e.at_us > until)
            continue;
        events.emplace_back(&e, lane_for(e.relation, e.at_us));
    }

    // Lanes ordered by their first activity, then name; bars by start.
    std::vector<std::size_t> order(lanes.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (lanes[a].first != lanes[b].first)
            return lanes[a].first < lanes[b].first;
        return lanes[a].name < lanes[b].name;
    });
    std::vector<std::size_t> position(lanes.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        position[order[i]] = i;
    std::stable_sort(bars.begin(), bars.end(), [&](const Placed &a, const Placed &b) {
        if (position[a.lane] != position[b.lane])
            return position[a.lane] < position[b.lane];
        return a.start < b.start;
    });

    // Overlapping bars of a lane go to sub-rows, first fit.
    {
        std::vector<std::vector<double>> row_end(lanes.size());
        for (Placed &p : bars) {
            p.x0 = x_of(p.start);
            p.x1 = std::max(x_of(p.end), p.x0 + 2);
            std::vector<double> &ends = row_end[p.lane];
            std::size_t row = ends.size();
            for (std::size_t r = 0; r < ends.size(); ++r)
                if (ends[r] + 1 <= p.x0) {
                    row = r;
                    break;
                }
            if (row == ends.size() && ends.size() >= max_rows)
                row = static_cast<std::size_t>(std::min_element(ends.begin(), ends.end()) -
                                               ends.begin());
            if (row == ends.size())
                ends.push_back(p.x1);
            else
                ends[row] = std::max(ends[row], p.x1);
            p.row = row;
            lanes[p.lane].rows = std::max(lanes[p.lane].rows, row + 1);
        }
    }

    // Lock modes present, weakest first, then unknown names alphabetically.
    std::vector<ModeStyle> modes;
    std::map<std::string, std::size_t> mode_of;
    {
        std::vector<std::string> present;
        for (const Placed &p : bars)
            if (std::find(present.begin(), present.end(), p.lock->mode) == present.end())
                present.push_back(p.lock->mode);
        for (const auto &[name, colour] : known_modes)
            if (std::find(present.begin(), present.end(), name) != present.end())
                modes.push_back({name, colour, 0});
        std::vector<std::string> unknown;
        for (const std::string &m : present)
            if (std::none_of(known_modes.begin(), known_modes.end(),
                             [&](const auto &k) { return m == k.first; }))
                unknown.push_back(m);
        std::sort(unknown.begin(), unknown.end());
        for (std::size_t i = 0; i < unknown.size(); ++i)
            modes.push_back({unknown[i], fallback_colours[i % fallback_colours.size()], 0});
        for (std::size_t i = 0; i < modes.size(); ++i) {
            modes[i].pattern = i;
            mode_of[modes[i].name] = i;
        }
    }
    bool has_kind[3] = {};
    for (const auto &[e, lane] : events)
        has_kind[static_cast<int>(e->kind)] = true;
    bool has_bar_outcome[3] = {};
    for (const Placed &p : bars)
        has_bar_outcome[static_cast<int>(p.lock->outcome)] = true;

    // ---- header ----
    Svg body;
    double y = 24;
    body.add("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"16\" font-weight=\"bold\" "
             "fill=\"{}\">guarded_ddl lock timeline</text>\n",
             label_x, y, text_colour);
    y += 20;
    std::size_t shown_events = events.size();
    body.add("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">{} \u2013 {} UTC \u00b7 {} lock{} on {} "
             "relation{}{}</text>\n",
             label_x, y, muted_colour, format_utc(since), format_utc(until), bars.size(),
             bars.size() == 1 ? "" : "s", lanes.size(), lanes.size() == 1 ? "" : "s",
             shown_events == 0 ? std::string()
                               : fmt::format(" \u00b7 {} statement marker{}", shown_events,
                                             shown_events == 1 ? "" : "s"));
    if (input.locks_left_out > 0 || input.events_left_out > 0) {
        y += 18;
        std::string note = "Rows left out:";
        if (input.locks_left_out > 0)
            note += fmt::format(" {} older lock row{} beyond the {} newest", input.locks_left_out,
                                input.locks_left_out == 1 ? "" : "s", input.locks.size());
        if (input.events_left_out > 0)
            note += fmt::format("{} {} older statement marker{} beyond the {} newest",
                                input.locks_left_out > 0 ? ";" : "", input.events_left_out,
                                input.events_left_out == 1 ? "" : "s", input.events.size());
        note += ". Narrow the window to see them.";
        body.add("<text class=\"left-out\" x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">{}</text>\n",
                 label_x, y, blocked_colour, xml_escape(note));
    }

    if (lanes.empty()) {
        y += 40;
        body.add("<text class=\"empty\" x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"14\" "
                 "fill=\"{}\">Nothing to show: no lock and no blocked, failed or capped "
                 "statement in this window.</text>\n",
                 label_x, y, text_colour);
        y += 30;
    } else {
        // Legend: modes, then how waits, holds and markers are drawn.
        y += 24;
        double lx = label_x;
        auto legend_item = [&](const std::string &swatch, std::string_view label) {
            double w = 22 + static_cast<double>(label.size()) * char_w + 18;
            if (lx + w > width - 10) {
                lx = label_x;
                y += 20;
            }
            body.add("<g class=\"legend\" transform=\"translate({:.1f},{:.1f})\">{}<text x=\"20\" "
                     "y=\"0\" dominant-baseline=\"central\" fill=\"{}\">{}</text></g>\n",
                     lx, y, swatch, text_colour, xml_escape(label));
            lx += w;
        };
        for (const ModeStyle &m : modes)
            legend_item(fmt::format("<rect x=\"0\" y=\"-6\" width=\"14\" height=\"12\" "
                                    "fill=\"{}\"/>",
                                    m.colour),
                        m.name);
        const char *grey = "#888888";
        legend_item(fmt::format("<rect x=\"0\" y=\"-6\" width=\"14\" height=\"12\" "
                                "fill=\"url(#gd-wait-legend)\" stroke=\"{}\"/>",
                                grey),
                    "waiting");
        legend_item(
            fmt::format("<rect x=\"0\" y=\"-6\" width=\"14\" height=\"12\" fill=\"{}\"/>", grey),
            "held");
        legend_item(fmt::format("<rect x=\"0\" y=\"-6\" width=\"9\" height=\"12\" fill=\"{}\"/>"
                                "<path d=\"M9,-7 L15,0 L9,7 Z\" fill=\"{}\"/>",
                                grey, grey),
                    "still held or release not recorded");
        if (has_kind[0] || has_bar_outcome[static_cast<int>(TimelineOutcome::Blocked)])
            legend_item(
                fmt::format("<path d=\"M7,-6 L13,0 L7,6 L1,0 Z\" fill=\"{}\"/>", blocked_colour),
                "blocked");
        if (has_kind[1] || has_bar_outcome[static_cast<int>(TimelineOutcome::Failed)])
            legend_item(fmt::format("<path d=\"M3,-4 L11,4 M3,4 L11,-4\" stroke=\"{}\" "
                                    "stroke-width=\"2.5\"/>",
                                    failed_colour),
                        "failed");
        if (has_kind[2])
            legend_item(fmt::format("<path d=\"M7,-7 L7,7\" stroke=\"{}\" stroke-width=\"2\"/>"
                                    "<path d=\"M2,-7 L12,-7 L7,-1 Z\" fill=\"{}\"/>",
                                    capped_colour, capped_colour),
                        "lock held too long: transaction capped");
        y += 18;

        // Lanes.
        double lanes_top = y;
        for (std::size_t i : order) {
            lanes[i].y = y;
            lanes[i].height = 2 * lane_pad + static_cast<double>(lanes[i].rows) * row_h;
            y += lanes[i].height;
        }
        double lanes_bottom = y;

        // Grid and axis.
        std::int64_t step = tick_step(span);
        std::int64_t first_tick = floor_div(since + step - 1, step) * step;
        if (first_tick < since)
            first_tick += step;
        body.add("<g class=\"lanes\">\n");
        for (std::size_t k = 0; k < order.size(); ++k) {
            const Lane &lane = lanes[order[k]];
            body.add("<rect x=\"0\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.1f}\" "
                     "fill=\"{}\"/>\n",
                     lane.y, width, lane.height, k % 2 == 0 ? "#f4f5f7" : "#ffffff");
        }
        body.add("</g>\n<g class=\"axis\" font-size=\"11\">\n");
        for (std::int64_t t = first_tick; t <= until; t += step) {
            double x = x_of(t);
            body.add("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                     "stroke=\"#d0d4da\" stroke-width=\"1\"/>\n",
                     x, lanes_top, x, lanes_bottom + 5);
            body.add("<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" "
                     "fill=\"{}\">{}</text>\n",
                     x, lanes_bottom + 18, muted_colour, xml_escape(tick_label(t, step)));
        }
        body.add("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                 "stroke=\"#555555\" stroke-width=\"1\"/>\n",
                 plot_x0, lanes_bottom + 0.5, plot_x1, lanes_bottom + 0.5);
        body.add("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                 "stroke=\"#555555\" stroke-width=\"1\"/>\n",
                 plot_x0, lanes_top, plot_x0, lanes_bottom + 0.5);
        body.add("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"{}\">time "
                 "(UTC)</text>\n",
                 plot_x1, lanes_bottom + 34, muted_colour);
        body.add("</g>\n");
        y = lanes_bottom + 44;

        // Lane labels.
        for (std::size_t i : order) {
            const Lane &lane = lanes[i];
            body.add("<g class=\"lane\"><title>{}</title><text x=\"{:.1f}\" y=\"{:.1f}\" "
                     "dominant-baseline=\"central\" fill=\"{}\">{}</text></g>\n",
                     xml_escape(lane.name), label_x, lane.y + lane.height / 2, text_colour,
                     xml_escape(shortened(lane.name, 34)));
        }

        // Bars.
        for (const Placed &p : bars) {
            const TimelineLock &l = *p.lock;
            const ModeStyle &m = modes[mode_of.at(l.mode)];
            const Lane &lane = lanes[p.lane];
            double top = lane.y + lane_pad + static_cast<double>(p.row) * row_h + 1;
            std::string title = statement_line(l.statement);
            title += "\n" + role_line(l.executing_role, l.session_role);
            title += "\n" + l.mode + " on " + l.relation;
            std::int64_t wait_end = l.granted_us ? *l.granted_us : l.wait_end_us;
            title += "\nwait: " + format_duration(wait_end - l.wait_start_us);
            if (!l.granted_us)
                title += " (never granted)";
            if (l.granted_us) {
                title += "\nhold: ";
                if (l.released_us)
                    title += format_duration(*l.released_us - *l.granted_us);
                else
                    title += "still held or release not recorded (drawn to the end of the window)";
            }
            if (!l.verdict.empty())
                title += "\nverdict: " + l.verdict;
            title += "\nfrom " + format_utc(l.wait_start_us) + " UTC";
            body.add("<g class=\"bar{}\"><title>{}</title>", p.open ? " open" : "",
                     xml_escape(title));
            // The wait segment, then the hold.
            std::int64_t grant = l.granted_us ? clamp(*l.granted_us) : p.end;
            // A wait of a few microseconds (the usual uncontended grant) is
            // not drawn unless it is visible at this scale.
            if (grant > p.start &&
                (wait_end - l.wait_start_us >= ms_us || x_of(grant) - p.x0 >= 1)) {
                double wx1 = std::max(x_of(grant), p.x0 + 1);
                body.add("<rect class=\"wait\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                         "height=\"{:.1f}\" fill=\"url(#gd-wait-{})\" stroke=\"{}\" "
                         "stroke-width=\"0.8\"/>",
                         p.x0, top, wx1 - p.x0, bar_h, m.pattern, m.colour);
            }
            if (l.granted_us && *l.granted_us <= until) {
                double hx0 = x_of(grant);
                double hx1 = std::max(x_of(p.end), hx0 + 2);
                if (p.open) {
                    double arrow = std::min(8.0, std::max(hx1 - hx0, 0.0));
                    body.add("<rect class=\"hold\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                             "height=\"{:.1f}\" fill=\"{}\"/>",
                             hx0, top, std::max(hx1 - hx0 - arrow, 0.0), bar_h, m.colour);
                    body.add("<path class=\"open-end\" d=\"M{:.1f},{:.1f} L{:.1f},{:.1f} "
                             "L{:.1f},{:.1f} Z\" fill=\"{}\"/>",
                             hx1 - arrow, top - 2, hx1, top + bar_h / 2, hx1 - arrow,
                             top + bar_h + 2, m.colour);
                } else {
                    body.add("<rect class=\"hold\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                             "height=\"{:.1f}\" fill=\"{}\"/>",
                             hx0, top, hx1 - hx0, bar_h, m.colour);
                }
            }
            if (l.outcome != TimelineOutcome::Ok) {
                double mx = x_of(std::min(std::max(l.statement_end_us, p.start), p.end));
                double cy = top + bar_h / 2;
                if (l.outcome == TimelineOutcome::Blocked)
                    body.add("<path class=\"marker blocked\" d=\"M{:.1f},{:.1f} L{:.1f},{:.1f} "
                             "L{:.1f},{:.1f} L{:.1f},{:.1f} Z\" fill=\"{}\" stroke=\"#ffffff\" "
                             "stroke-width=\"1\"/>",
                             mx, cy - 7, mx + 7, cy, mx, cy + 7, mx - 7, cy, blocked_colour);
                else
                    body.add("<path class=\"marker failed\" d=\"M{:.1f},{:.1f} L{:.1f},{:.1f} "
                             "M{:.1f},{:.1f} L{:.1f},{:.1f}\" stroke=\"{}\" "
                             "stroke-width=\"2.5\"/>",
                             mx - 5, cy - 5, mx + 5, cy + 5, mx - 5, cy + 5, mx + 5, cy - 5,
                             failed_colour);
            }
            body.add("</g>\n");
        }

        // Statement markers across their lane.
        for (const auto &[e, lane_index] : events) {
            const Lane &lane = lanes[lane_index];
            double x = x_of(e->at_us);
            double cy = lane.y + lane.height / 2;
            std::string title;
            if (e->kind == TimelineEvent::Kind::Capped) {
                title = "lock held too long: the transaction was capped";
                if (!e->message.empty())
                    title += "\n" + shortened(e->message, statement_max);
                title += "\n" + (e->statement.empty()
                                     ? std::string("(idle in transaction: the session was ended)")
                                     : "statement cancelled: " + statement_line(e->statement));
            } else {
                title = statement_line(e->statement);
                title += e->kind == TimelineEvent::Kind::Blocked ? "\nverdict: blocked"
                                                                 : "\nverdict: failed";
                if (!e->message.empty())
                    title += "\n" + shortened(e->message, statement_max);
            }
            title += "\n" + role_line(e->executing_role, e->session_role);
            title += "\non " + e->relation + " at " + format_utc(e->at_us) + " UTC";
            switch (e->kind) {
            case TimelineEvent::Kind::Capped:
                body.add("<g class=\"marker capped\"><title>{}</title><path d=\"M{:.1f},{:.1f} "
                         "L{:.1f},{:.1f}\" stroke=\"{}\" stroke-width=\"2\"/><path "
                         "d=\"M{:.1f},{:.1f} L{:.1f},{:.1f} L{:.1f},{:.1f} Z\" fill=\"{}\"/></g>\n",
                         xml_escape(title), x, lane.y + 1, x, lane.y + lane.height - 1,
                         capped_colour, x - 6, lane.y + 1, x + 6, lane.y + 1, x, lane.y + 9,
                         capped_colour);
                break;
            case TimelineEvent::Kind::Blocked:
                body.add("<g class=\"marker blocked\"><title>{}</title><path d=\"M{:.1f},{:.1f} "
                         "L{:.1f},{:.1f} L{:.1f},{:.1f} L{:.1f},{:.1f} Z\" fill=\"{}\" "
                         "stroke=\"#ffffff\" stroke-width=\"1\"/></g>\n",
                         xml_escape(title), x, cy - 7, x + 7, cy, x, cy + 7, x - 7, cy,
                         blocked_colour);
                break;
            case TimelineEvent::Kind::Failed:
                body.add("<g class=\"marker failed\"><title>{}</title><path d=\"M{:.1f},{:.1f} "
                         "L{:.1f},{:.1f} M{:.1f},{:.1f} L{:.1f},{:.1f}\" stroke=\"{}\" "
                         "stroke-width=\"2.5\"/></g>\n",
                         xml_escape(title), x - 5, cy - 5, x + 5, cy + 5, x - 5, cy + 5, x + 5,
                         cy - 5, failed_colour);
                break;
            }
        }
    }

    // ---- document ----
    double height = y + 8;
    Svg doc;
    doc.add("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    doc.add("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{:.0f}\" "
            "height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n",
            width, height, width, height);
    doc.add("<title>{}</title>\n",
            xml_escape(fmt::format("guarded_ddl lock timeline {} \u2013 {} UTC", format_utc(since),
                                   format_utc(until))));
    doc.add("<defs>\n");
    auto hatch = [&](const std::string &id, const std::string &colour) {
        doc.add("<pattern id=\"{}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"{}\" "
                "fill-opacity=\"0.18\"/><rect width=\"2.5\" height=\"6\" fill=\"{}\" "
                "fill-opacity=\"0.75\"/></pattern>\n",
                id, colour, colour);
    };
    hatch("gd-wait-legend", "#888888");
    for (const ModeStyle &m : modes)
        hatch(fmt::format("gd-wait-{}", m.pattern), m.colour);
    doc.add("</defs>\n");
    doc.add("<rect class=\"background\" x=\"0\" y=\"0\" width=\"{:.0f}\" height=\"{:.0f}\" "
            "fill=\"#ffffff\"/>\n",
            width, height);
    doc.out += body.out;
    doc.add("</svg>\n");
    return std::move(doc.out);
}

} // namespace guarded_ddl
