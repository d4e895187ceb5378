#include "core/exception_report.hpp"

#include "core/error.hpp"

#include <cstdio>
#include <new>

namespace guarded_ddl {

namespace {

template <std::size_t N> void copy_text(char (&dest)[N], const char *src) noexcept {
    std::snprintf(dest, N, "%s", src ? src : "");
}

void fill(ExceptionReport &report, const char *sqlstate, const char *message, const char *detail,
          const char *hint) noexcept {
    copy_text(report.sqlstate, sqlstate);
    copy_text(report.message, message);
    copy_text(report.detail, detail);
    copy_text(report.hint, hint);
}

} // namespace

void describe_current_exception(ExceptionReport &report) noexcept {
    try {
        throw;
    } catch (const Error &e) {
        fill(report, e.sqlstate(), e.what(), e.detail().c_str(), e.hint().c_str());
    } catch (const std::bad_alloc &) {
        fill(report, "53200", "guarded_ddl: out of memory", "", "");
    } catch (const std::exception &e) {
        fill(report, sqlstate::internal_error, "", "", "");
        std::snprintf(report.message, sizeof report.message, "guarded_ddl: internal error: %s",
                      e.what());
    } catch (...) {
        fill(report, sqlstate::internal_error, "guarded_ddl: internal error: unknown exception", "",
             "");
    }
}

} // namespace guarded_ddl
