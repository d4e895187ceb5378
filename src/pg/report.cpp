#include "pg/report.hpp"

#include "pg/cpp_boundary.hpp"

using guarded_ddl::pg::pg_call;

static char *copy_or_null(const std::string &text) {
    if (text.empty())
        return nullptr;
    return pg_call([&] { return pstrdup(text.c_str()); });
}

GdReport gd_report_from(const guarded_ddl::Message &m) {
    return GdReport{copy_or_null(m.message), copy_or_null(m.detail), copy_or_null(m.hint)};
}

void gd_ereport(int elevel, int sqlerrcode, const GdReport &r) {
    ereport(elevel, (errcode(sqlerrcode), errmsg_internal("%s", r.message ? r.message : ""),
                     r.detail ? errdetail_internal("%s", r.detail) : 0,
                     r.hint ? errhint("%s", r.hint) : 0));
}

Datum gd_text_datum(std::string_view text) {
    return PointerGetDatum(cstring_to_text_with_len(text.data(), static_cast<int>(text.size())));
}
