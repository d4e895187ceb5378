#include "core/block_message.hpp"

#include <gtest/gtest.h>

namespace guarded_ddl {
namespace {

TEST(BlockMessage, NamesRuleCommandRelationAndSize) {
    auto m = block_message({&rule(RuleId::AddColumnVolatileDefault),
                            "ALTER TABLE",
                            "52 MB",
                            300000,
                            {"public.users", "token", "", ""}});
    EXPECT_EQ(m.message, "guarded_ddl: rule add_column_volatile_default: ALTER TABLE would rewrite "
                         "large table \"public.users\" (52 MB)");
    EXPECT_EQ(m.detail,
              "ALTER TABLE takes an ACCESS EXCLUSIVE lock on \"public.users\" (about "
              "300000 rows) and rewrites every row while holding it. ADD COLUMN with a "
              "volatile default, or of a domain type with constraints, rewrites the table.");
    EXPECT_EQ(
        m.hint.rfind(
            "1. Add the column without a default: ALTER TABLE public.users ADD COLUMN token", 0),
        0u)
        << m.hint;
}

TEST(BlockMessage, UnknownRowCountIsLeftOut) {
    auto m = block_message(
        {&rule(RuleId::CreateIndex), "CREATE INDEX", "12 MB", -1, {"public.t", "", "", ""}});
    EXPECT_EQ(m.detail.find("about"), std::string::npos);
    EXPECT_NE(m.detail.find("CREATE INDEX takes a SHARE lock on \"public.t\" and builds an index"),
              std::string::npos)
        << m.detail;
}

TEST(BlockMessage, SaysWhichFiguresCameFromTheSizeProfile) {
    RuleHit hit{&rule(RuleId::AddColumnVolatileDefault),
                "ALTER TABLE",
                "52 MB",
                300000,
                {"public.users", "token", "", ""}};
    hit.size_from_profile = true;
    auto m = block_message(hit);
    EXPECT_EQ(m.message, "guarded_ddl: rule add_column_volatile_default: ALTER TABLE would rewrite "
                         "large table \"public.users\" (52 MB in the imported size profile)");
    EXPECT_NE(m.detail.find("(about 300000 rows) and"), std::string::npos) << m.detail;

    hit.size_from_profile = false;
    hit.rows_from_profile = true;
    m = block_message(hit);
    EXPECT_NE(m.message.find("(52 MB)"), std::string::npos) << m.message;
    EXPECT_NE(m.detail.find("(about 300000 rows in the imported size profile) and"),
              std::string::npos)
        << m.detail;
}

} // namespace
} // namespace guarded_ddl
