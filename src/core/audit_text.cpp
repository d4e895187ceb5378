#include "core/audit_text.hpp"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <utility>

namespace guarded_ddl {

namespace {

bool is_word_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '$' || u >= 0x80;
}

bool word_at(std::string_view sql, std::size_t pos, std::string_view word) {
    if (sql.size() - pos < word.size())
        return false;
    for (std::size_t i = 0; i < word.size(); i++) {
        if (std::tolower(static_cast<unsigned char>(sql[pos + i])) != word[i])
            return false;
    }
    return true;
}

// The dollar-quote tag starting at pos ("$$", "$tag$"), or empty.
std::string_view dollar_tag(std::string_view sql, std::size_t pos) {
    if (sql[pos] != '$')
        return {};
    std::size_t end = pos + 1;
    while (end < sql.size() && sql[end] != '$') {
        auto u = static_cast<unsigned char>(sql[end]);
        bool tag_char = std::isalnum(u) || sql[end] == '_' || u >= 0x80;
        if (!tag_char || (std::isdigit(u) && end == pos + 1))
            return {};
        end++;
    }
    return end < sql.size() ? sql.substr(pos, end - pos + 1) : std::string_view{};
}

// One past the end of the comment, quoted identifier or literal that starts
// at pos, or pos when none starts there.
std::size_t skip_quoted(std::string_view sql, std::size_t pos) {
    std::size_t n = sql.size();
    if (sql.compare(pos, 2, "--") == 0) {
        std::size_t end = sql.find('\n', pos);
        return end == std::string_view::npos ? n : end + 1;
    }
    if (sql.compare(pos, 2, "/*") == 0) {
        int depth = 0;
        for (std::size_t i = pos; i < n; i++) {
            if (sql.compare(i, 2, "/*") == 0) {
                depth++;
                i++;
            } else if (sql.compare(i, 2, "*/") == 0) {
                i++;
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    bool escapes = false;
    std::size_t open = pos;
    if ((sql[pos] == 'e' || sql[pos] == 'E') && pos + 1 < n && sql[pos + 1] == '\'') {
        escapes = true;
        open = pos + 1;
    }
    if (sql[open] == '\'' || sql[open] == '"') {
        char quote = sql[open];
        for (std::size_t i = open + 1; i < n; i++) {
            if (escapes && sql[i] == '\\') {
                i++;
            } else if (sql[i] == quote) {
                if (i + 1 < n && sql[i + 1] == quote)
                    i++;
                else
                    return i + 1;
            }
        }
        return n;
    }
    std::string_view tag = dollar_tag(sql, pos);
    if (!tag.empty()) {
        std::size_t close = sql.find(tag, pos + tag.size());
        return close == std::string_view::npos ? n : close + tag.size();
    }
    return pos;
}

bool is_literal_start(std::string_view sql, std::size_t pos) {
    char c = sql[pos];
    return c == '\'' || ((c == 'e' || c == 'E') && pos + 1 < sql.size() && sql[pos + 1] == '\'') ||
           !dollar_tag(sql, pos).empty();
}

// Skips whitespace and comments from pos.
std::size_t skip_blank(std::string_view sql, std::size_t pos) {
    while (pos < sql.size()) {
        if (std::isspace(static_cast<unsigned char>(sql[pos]))) {
            pos++;
        } else if (sql.compare(pos, 2, "--") == 0 || sql.compare(pos, 2, "/*") == 0) {
            pos = skip_quoted(sql, pos);
        } else {
            break;
        }
    }
    return pos;
}

} // namespace

namespace {

constexpr std::string_view redacted_value = "********";

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); i++)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// libpq's test for a connection string rather than a database name.
bool is_uri(std::string_view s) {
    return starts_with_ci(s, "postgresql://") || starts_with_ci(s, "postgres://");
}

bool looks_like_conninfo(std::string_view s) {
    return is_uri(s) || s.find('=') != std::string_view::npos;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// A URI query parameter's name as libpq sees it: percent-decoded.
std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); i++) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// postgresql://user:password@host/db?password=...: both places, as libpq
// reads them (the credentials end at the first '@' unless a '/' comes first).
std::string redact_uri(std::string_view uri) {
    std::size_t prefix = uri.find("://") + 3;
    std::string out(uri.substr(0, prefix));
    std::string_view rest = uri.substr(prefix);
    std::size_t stop = rest.find_first_of("@/");
    if (stop != std::string_view::npos && rest[stop] == '@') {
        std::string_view userinfo = rest.substr(0, stop);
        std::size_t colon = userinfo.find(':');
        if (colon != std::string_view::npos) {
            out.append(userinfo.substr(0, colon + 1));
            out.append(redacted_value);
        } else {
            out.append(userinfo);
        }
        out.push_back('@');
        rest = rest.substr(stop + 1);
    }
    std::size_t query = rest.find('?');
    if (query == std::string_view::npos) {
        out.append(rest);
        return out;
    }
    out.append(rest.substr(0, query + 1));
    rest = rest.substr(query + 1);
    for (;;) {
        std::size_t amp = rest.find('&');
        std::string_view param = rest.substr(0, amp);
        std::size_t eq = param.find('=');
        if (eq != std::string_view::npos &&
            iequals(percent_decoded(param.substr(0, eq)), "password")) {
            out.append(param.substr(0, eq + 1));
            out.append(redacted_value);
        } else {
            out.append(param);
        }
        if (amp == std::string_view::npos)
            break;
        out.push_back('&');
        rest = rest.substr(amp + 1);
    }
    return out;
}

std::string quoted_conninfo_value(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\\' || c == '\'')
            out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

std::optional<std::string> redact_conninfo_at(std::string_view conninfo, int depth);

// key = value pairs, parsed as libpq's conninfo_parse does; the text between
// the password values is kept byte for byte.
std::optional<std::string> redact_keyword_values(std::string_view s, int depth) {
    std::string out;
    std::size_t pos = 0;
    std::size_t copied = 0;
    for (;;) {
        while (pos < s.size() && is_space(s[pos]))
            pos++;
        if (pos >= s.size())
            break;
        std::size_t name_start = pos;
        while (pos < s.size() && s[pos] != '=' && !is_space(s[pos]))
            pos++;
        std::string_view name = s.substr(name_start, pos - name_start);
        while (pos < s.size() && is_space(s[pos]))
            pos++;
        if (pos >= s.size() || s[pos] != '=')
            return std::nullopt;
        pos++;
        while (pos < s.size() && is_space(s[pos]))
            pos++;
        std::size_t value_start = pos;
        std::string value;
        if (pos < s.size() && s[pos] == '\'') {
            pos++;
            for (;;) {
                if (pos >= s.size())
                    return std::nullopt; // unterminated: libpq refuses it too
                if (s[pos] == '\\') {
                    pos++;
                    if (pos < s.size())
                        value.push_back(s[pos++]);
                } else if (s[pos] == '\'') {
                    pos++;
                    break;
                } else {
                    value.push_back(s[pos++]);
                }
            }
        } else {
            while (pos < s.size() && !is_space(s[pos])) {
                if (s[pos] == '\\') {
                    pos++;
                    if (pos < s.size())
                        value.push_back(s[pos++]);
                } else {
                    value.push_back(s[pos++]);
                }
            }
        }
        std::optional<std::string> replacement;
        if (iequals(name, "password")) {
            replacement = std::string(redacted_value);
        } else if (iequals(name, "dbname") && depth == 0 && looks_like_conninfo(value)) {
            // A database name that is itself a connection string.
            std::optional<std::string> inner = redact_conninfo_at(value, depth + 1);
            if (!inner)
                replacement = std::string(redacted_value);
            else if (*inner != value)
                replacement = quoted_conninfo_value(*inner);
        }
        if (replacement) {
            out.append(s.substr(copied, value_start - copied));
            out.append(*replacement);
            copied = pos;
        }
    }
    out.append(s.substr(copied));
    return out;
}

std::optional<std::string> redact_conninfo_at(std::string_view conninfo, int depth) {
    if (is_uri(conninfo))
        return redact_uri(conninfo);
    return redact_keyword_values(conninfo, depth);
}

// The value of a complete SQL string literal token, or nullopt when it is
// unterminated or uses escapes this scanner does not decode.
std::optional<std::string> literal_value(std::string_view token) {
    std::string_view tag = dollar_tag(token, 0);
    if (!tag.empty()) {
        if (token.size() < 2 * tag.size() || token.substr(token.size() - tag.size()) != tag)
            return std::nullopt;
        return std::string(token.substr(tag.size(), token.size() - 2 * tag.size()));
    }
    std::size_t open = 0;
    if (token[0] == 'e' || token[0] == 'E') {
        if (token.find('\\') != std::string_view::npos)
            return std::nullopt;
        open = 1;
    }
    std::string value;
    for (std::size_t i = open + 1; i < token.size(); i++) {
        if (token[i] != '\'') {
            value.push_back(token[i]);
        } else if (i + 1 < token.size() && token[i + 1] == '\'') {
            value.push_back('\'');
            i++;
        } else {
            return i + 1 == token.size() ? std::optional<std::string>(value) : std::nullopt;
        }
    }
    return std::nullopt;
}

std::string sql_literal(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'')
            out.push_back('\'');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

// Unicode-escaped literal: U&'...'.
bool is_unicode_literal_start(std::string_view sql, std::size_t pos) {
    return pos + 2 < sql.size() && (sql[pos] == 'u' || sql[pos] == 'U') && sql[pos + 1] == '&' &&
           sql[pos + 2] == '\'';
}

// One past the literal that starts at pos, including the pieces SQL joins
// to it ('a'<newline>'b' is one literal), and whether there were several.
std::size_t literal_end(std::string_view sql, std::size_t pos, bool *continued) {
    std::size_t end =
        is_unicode_literal_start(sql, pos) ? skip_quoted(sql, pos + 2) : skip_quoted(sql, pos);
    *continued = false;
    if (!dollar_tag(sql, pos).empty())
        return end;
    for (;;) {
        std::size_t next = end;
        bool newline = false;
        while (next < sql.size()) {
            if (sql[next] == '\n') {
                newline = true;
                next++;
            } else if (is_space(sql[next])) {
                next++;
            } else if (sql.compare(next, 2, "--") == 0) {
                next = skip_quoted(sql, next);
                newline = true;
            } else {
                break;
            }
        }
        if (!newline || next >= sql.size() || sql[next] != '\'')
            return end;
        end = skip_quoted(sql, next);
        *continued = true;
    }
}

// What a password keyword's literal becomes.
std::string redacted_connection_literal(std::string_view token, bool continued) {
    std::optional<std::string> value =
        continued || token.empty() || is_unicode_literal_start(token, 0) ? std::nullopt
                                                                         : literal_value(token);
    if (!value)
        return std::string(redacted_literal);
    std::optional<std::string> redacted = redact_conninfo(*value);
    if (!redacted)
        return std::string(redacted_literal); // not a connection string libpq would take
    if (*redacted == *value)
        return std::string(token);
    return sql_literal(*redacted);
}

// The keyword whose literal argument holds a secret at pos, if any:
// PASSWORD (also as the quoted option name "password") or CONNECTION.
enum class SecretKeyword { None, Password, Connection };

SecretKeyword secret_keyword_at(std::string_view sql, std::size_t pos, std::size_t *length) {
    bool word_start = pos == 0 || !is_word_char(sql[pos - 1]);
    if (!word_start)
        return SecretKeyword::None;
    for (auto [word, kind] :
         {std::pair{std::string_view("password"), SecretKeyword::Password},
          std::pair{std::string_view("\"password\""), SecretKeyword::Password},
          std::pair{std::string_view("connection"), SecretKeyword::Connection}}) {
        if (word_at(sql, pos, word) &&
            (pos + word.size() == sql.size() || !is_word_char(sql[pos + word.size()]) ||
             word.back() == '"')) {
            *length = word.size();
            return kind;
        }
    }
    return SecretKeyword::None;
}

} // namespace

std::optional<std::string> redact_conninfo(std::string_view conninfo) {
    return redact_conninfo_at(conninfo, 0);
}

std::string redact_passwords(std::string_view sql) {
    std::string out;
    out.reserve(sql.size());
    std::size_t pos = 0;
    while (pos < sql.size()) {
        bool word_start = pos == 0 || !is_word_char(sql[pos - 1]);
        std::size_t keyword_length = 0;
        SecretKeyword keyword = secret_keyword_at(sql, pos, &keyword_length);
        if (keyword != SecretKeyword::None) {
            std::size_t after = pos + keyword_length;
            std::size_t literal = skip_blank(sql, after);
            out.append(sql.substr(pos, literal - pos));
            if (literal < sql.size() &&
                (is_literal_start(sql, literal) || is_unicode_literal_start(sql, literal))) {
                bool continued = false;
                std::size_t end = literal_end(sql, literal, &continued);
                if (keyword == SecretKeyword::Password)
                    out.append(redacted_literal);
                else
                    out.append(
                        redacted_connection_literal(sql.substr(literal, end - literal), continued));
                pos = end;
            } else {
                pos = literal;
            }
            continue;
        }
        // A '$' inside a word belongs to an identifier, not a dollar quote.
        std::size_t end = word_start || sql[pos] != '$' ? skip_quoted(sql, pos) : pos;
        if (end > pos) {
            out.append(sql.substr(pos, end - pos));
            pos = end;
        } else if (is_word_char(sql[pos])) {
            // The rest of a word, so "mypassword" never matches.
            std::size_t stop = pos;
            while (stop < sql.size() && is_word_char(sql[stop]))
                stop++;
            out.append(sql.substr(pos, stop - pos));
            pos = stop;
        } else {
            out.push_back(sql[pos++]);
        }
    }
    return out;
}

std::string audit_statement_text(std::string_view sql, std::size_t max_bytes) {
    constexpr std::string_view space = " \t\n\r\f\v";
    std::size_t first = sql.find_first_not_of(space);
    sql = first == std::string_view::npos ? std::string_view() : sql.substr(first);
    sql = sql.substr(0, sql.find_last_not_of(space) + 1);
    std::string text = redact_passwords(sql);
    if (text.size() < max_bytes)
        return text;
    // Room for the longest marker and the NUL.
    std::size_t keep = max_bytes > 48 ? max_bytes - 48 : 0;
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80)
        keep--;
    std::size_t cut = text.size() - keep;
    text.resize(keep);
    text += fmt::format(" ... [{} more bytes]", cut);
    return text;
}

} // namespace guarded_ddl
