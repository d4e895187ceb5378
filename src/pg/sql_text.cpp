#include "pg/sql_text.hpp"

extern "C" {
#include "parser/parser.h"
#include "parser/scansup.h"
}

namespace {

void sql_text_error_callback(void *arg) {
    int position = geterrposition();
    if (position > 0) {
        errposition(0);
        internalerrposition(position);
        internalerrquery(static_cast<const char *>(arg));
    }
}

} // namespace

List *gd_parse_sql_text(char *query) {
    ErrorContextCallback callback{error_context_stack, sql_text_error_callback, query};
    error_context_stack = &callback;
    List *parsed = raw_parser(query, RAW_PARSE_DEFAULT);
    error_context_stack = callback.previous;
    return parsed;
}

void gd_statement_span(const char *query, const RawStmt *raw, int *start, int *len) {
    int all = static_cast<int>(strlen(query));
    int s = raw->stmt_location > 0 ? Min(raw->stmt_location, all) : 0;
    int l = raw->stmt_len > 0 ? Min(raw->stmt_len, all - s) : all - s;
    while (l > 0 && scanner_isspace(query[s])) {
        s++;
        l--;
    }
    while (l > 0 && scanner_isspace(query[s + l - 1]))
        l--;
    *start = s;
    *len = l;
}
