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

TEST(BlockMessage, LockHoldNamesTheLockItsStatementAndTheEstimate) {
    HeldLockContext held{"AccessExclusiveLock", "ALTER TABLE users ADD COLUMN full_name text",
                         300000, 10000};
    RuleHit hit{
        &rule(RuleId::DmlUnderStrongLock), "UPDATE", "52 MB", 300000, {"public.users", "", "", ""}};
    hit.held = &held;
    auto m = block_message(hit);
    EXPECT_EQ(m.message, "guarded_ddl: rule dml_under_strong_lock: UPDATE of about 300000 rows "
                         "while this transaction holds AccessExclusiveLock on large table "
                         "\"public.users\" (52 MB)");
    EXPECT_NE(m.detail.find("The AccessExclusiveLock on \"public.users\" (about 300000 rows) was "
                            "taken by: ALTER TABLE users ADD COLUMN full_name text."),
              std::string::npos)
        << m.detail;
    EXPECT_NE(m.detail.find("guarded_ddl.max_rows_under_lock is 10000."), std::string::npos)
        << m.detail;
    EXPECT_EQ(m.hint.rfind("1. Commit the schema change first", 0), 0u) << m.hint;

    held.dml_rows = -1;
    EXPECT_NE(block_message(hit).message.find("UPDATE of an unknown number of rows while"),
              std::string::npos);
}

TEST(CapMessage, SaysWhichLockWhenAndWhoTookIt) {
    CapHit hit{"AccessExclusiveLock",
               "public.users",
               "2026-11-29 13:40:01+00",
               "ALTER TABLE users ADD COLUMN n int",
               "10s",
               false,
               false};
    auto m = cap_message(hit);
    EXPECT_EQ(m.message, "guarded_ddl: canceling statement: this transaction has held "
                         "AccessExclusiveLock on large table \"public.users\" longer than "
                         "guarded_ddl.max_lock_hold (10s)");
    EXPECT_EQ(m.detail.rfind("The lock was taken at 2026-11-29 13:40:01+00 by: ALTER TABLE users "
                             "ADD COLUMN n int.",
                             0),
              0u)
        << m.detail;
    hit.terminating = true;
    EXPECT_EQ(cap_message(hit).message.rfind("guarded_ddl: terminating session: ", 0), 0u);
    hit.idle = true;
    m = cap_message(hit);
    EXPECT_EQ(m.message.rfind("guarded_ddl: terminating idle session: ", 0), 0u) << m.message;
    EXPECT_NE(m.detail.find("sat idle"), std::string::npos) << m.detail;
}

} // namespace
} // namespace guarded_ddl
