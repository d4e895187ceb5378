// A migration's SQL text, as guarded_ddl.explain() and guarded_ddl.apply()
// read it: split into statements by PostgreSQL's own parser, and each
// statement's own part of the text.
#pragma once

#include "pg/prelude.hpp"

// The raw parse trees (RawStmt) of every statement of query. A syntax
// error's position points into query, reported as an internal query (as SPI
// does), not into the statement that called the function.
List *gd_parse_sql_text(char *query);

// The statement's own part of query, without the whitespace around it (the
// parser counts the whitespace after the previous semicolon, and the last
// statement's trailing part, as the statement's): *start and *len.
void gd_statement_span(const char *query, const RawStmt *raw, int *start, int *len);
