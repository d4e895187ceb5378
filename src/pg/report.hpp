// Hands a logic-zone Message to ereport: the C++ strings are copied into
// palloc'd memory inside the C++ boundary, so nothing with a destructor is
// live when ereport longjmps.
#pragma once

#include "pg/prelude.hpp"

#include "core/message.hpp"

#include <string_view>

struct GdReport {
    char *message;
    char *detail; // NULL when empty
    char *hint;   // NULL when empty
};

GdReport gd_report_from(const guarded_ddl::Message &message);

// A text Datum from logic-zone text.
Datum gd_text_datum(std::string_view text);

// ereport at elevel with the report's parts; returns only below ERROR.
void gd_ereport(int elevel, int sqlerrcode, const GdReport &report);
