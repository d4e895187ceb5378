#include "core/error.hpp"
#include "core/exception_report.hpp"

#include <gtest/gtest.h>

#include <string>

namespace guarded_ddl {
namespace {

template <typename E> ExceptionReport report_for(E &&exception) {
    ExceptionReport report;
    try {
        throw std::forward<E>(exception);
    } catch (...) {
        describe_current_exception(report);
    }
    return report;
}

TEST(ExceptionReport, KeepsSqlstateDetailAndHintOfGuardedDdlErrors) {
    auto report = report_for(
        Error(sqlstate::invalid_parameter_value, "bad value", "The detail.", "The hint."));
    EXPECT_STREQ(report.sqlstate, "22023");
    EXPECT_STREQ(report.message, "bad value");
    EXPECT_STREQ(report.detail, "The detail.");
    EXPECT_STREQ(report.hint, "The hint.");
}

TEST(ExceptionReport, OutOfMemoryBecomesSqlstate53200) {
    auto report = report_for(std::bad_alloc());
    EXPECT_STREQ(report.sqlstate, "53200");
    EXPECT_STREQ(report.detail, "");
}

TEST(ExceptionReport, OtherStandardExceptionsAreInternalErrorsWithTheirText) {
    auto report = report_for(std::out_of_range("vector::at"));
    EXPECT_STREQ(report.sqlstate, "XX000");
    EXPECT_STREQ(report.message, "guarded_ddl: internal error: vector::at");
}

TEST(ExceptionReport, NonStandardExceptionsAreStillReported) {
    auto report = report_for(42);
    EXPECT_STREQ(report.sqlstate, "XX000");
    EXPECT_STREQ(report.message, "guarded_ddl: internal error: unknown exception");
}

TEST(ExceptionReport, TruncatesTextThatDoesNotFitInsteadOfOverflowing) {
    std::string huge(100000, 'x');
    auto report = report_for(Error(sqlstate::internal_error, huge, huge, huge));
    EXPECT_EQ(std::string(report.message).size(), sizeof report.message - 1);
    EXPECT_EQ(std::string(report.detail).size(), sizeof report.detail - 1);
    EXPECT_EQ(std::string(report.hint).size(), sizeof report.hint - 1);
}

} // namespace
} // namespace guarded_ddl
