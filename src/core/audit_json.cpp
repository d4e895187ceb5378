#include "core/audit_json.hpp"

#include <fmt/format.h>

#include <cstring>

namespace guarded_ddl {

namespace {

// Length of text without a multi-byte UTF-8 sequence cut short at its end.
std::size_t complete_utf8_length(std::string_view text) {
    std::size_t n = text.size();
    std::size_t start = n;
    while (start > 0 && n - start < 4 &&
           (static_cast<unsigned char>(text[start - 1]) & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return n;
    auto lead = static_cast<unsigned char>(text[start - 1]);
    std::size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return n - (start - 1) < need ? start - 1 : n;
}

std::string_view field(const char *array, std::size_t size) {
    return {array, strnlen(array, size)};
}

template <std::size_t N> std::string json_field(const char (&array)[N]) {
    return json_string(field(array, N));
}

} // namespace

std::string json_string(std::string_view text) {
    text = text.substr(0, complete_utf8_length(text));
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20)
                out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
            else
                out.push_back(c);
        }
    }
    out.push_back('"');
    return out;
}

std::string blockers_json(const LockRecord &lock) {
    std::string out = "[";
    for (int i = 0; i < lock.n_blockers && i < max_blockers_per_lock; i++) {
        const Blocker &b = lock.blockers[i];
        out += fmt::format(
            "{}{{\"pid\":{},\"role\":{},\"application\":{},\"state\":{},\"xact_age_ms\":{},"
            "\"query\":{}}}",
            i > 0 ? "," : "", b.pid, json_field(b.role), json_field(b.application),
            json_field(b.state), b.xact_age_ms, json_field(b.query));
    }
    out += "]";
    return out;
}

std::string_view outcome_name(Outcome outcome) noexcept {
    switch (outcome) {
    case Outcome::Allowed:
        return "allowed";
    case Outcome::Warned:
        return "warned";
    case Outcome::Blocked:
        return "blocked";
    case Outcome::Approved:
        return "approved";
    case Outcome::Failed:
        return "failed";
    }
    return "failed";
}

std::string audit_entry_json(const AuditEntry &entry) {
    if (entry.kind == EntryKind::LocksReleased)
        return fmt::format("{{\"pid\":{},\"locks_released\":{{\"first_seq\":{},\"last_seq\":{}}}}}",
                           entry.session.backend_pid, entry.released.first_seq,
                           entry.released.last_seq);
    const StatementRecord &r = entry.record;
    std::string rules = "[";
    for (int i = 0; i < r.n_rules && i < max_rules_per_statement; i++)
        rules += (i > 0 ? "," : "") + json_field(r.rules[i]);
    rules += "]";
    std::string out = fmt::format(
        "{{\"pid\":{},\"seq\":{},\"session_role\":{},\"role\":{},\"application\":{},\"command\":{},"
        "\"verdict\":\"{}\",\"mode\":\"{}\",\"rules\":{},\"objects\":{}",
        entry.session.backend_pid, entry.session.backend_seq,
        json_field(entry.session.session_role), json_field(entry.session.current_role),
        json_field(entry.session.application), json_field(r.command_tag), outcome_name(r.outcome),
        mode_name(entry.mode), rules, json_field(r.objects));
    if (r.sqlstate[0] != '\0')
        out += fmt::format(",\"sqlstate\":{},\"error\":{}", json_field(r.sqlstate),
                           json_field(r.error_message));
    if (entry.setting.name[0] != '\0')
        out += fmt::format(",\"setting\":{},\"old_value\":{},\"new_value\":{}",
                           json_field(entry.setting.name), json_field(entry.setting.old_value),
                           json_field(entry.setting.new_value));
    out += fmt::format(",\"statement\":{}}}", json_field(entry.statement));
    return out;
}

} // namespace guarded_ddl
