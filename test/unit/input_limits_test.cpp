#include "core/error.hpp"
#include "core/input_limits.hpp"

#include <gtest/gtest.h>

namespace guarded_ddl {
namespace {

TEST(InputLimits, ExplainAcceptsUpToTheLimit) {
    EXPECT_NO_THROW(check_explain_input(0));
    EXPECT_NO_THROW(check_explain_input(max_explain_bytes));
}

TEST(InputLimits, ExplainRefusesMoreWithProgramLimitExceeded) {
    try {
        check_explain_input(max_explain_bytes + 1);
        FAIL();
    } catch (const Error &e) {
        EXPECT_STREQ(e.sqlstate(), "54000");
        EXPECT_EQ(std::string(e.what()),
                  "guarded_ddl.explain: SQL text of 1048577 bytes is too long");
    }
}

} // namespace
} // namespace guarded_ddl
