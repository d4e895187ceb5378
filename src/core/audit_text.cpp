#include "core/audit_text.hpp"

#include <fmt/format.h>

#include <cctype>

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

std::string redact_passwords(std::string_view sql) {
    constexpr std::string_view keyword = "password";
    std::string out;
    out.reserve(sql.size());
    std::size_t pos = 0;
    while (pos < sql.size()) {
        bool word_start = pos == 0 || !is_word_char(sql[pos - 1]);
        if (word_start && word_at(sql, pos, keyword) &&
            (pos + keyword.size() == sql.size() || !is_word_char(sql[pos + keyword.size()]))) {
            std::size_t after = pos + keyword.size();
            std::size_t literal = skip_blank(sql, after);
            out.append(sql.substr(pos, literal - pos));
            if (literal < sql.size() && is_literal_start(sql, literal)) {
                out.append(redacted_literal);
                pos = skip_quoted(sql, literal);
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
