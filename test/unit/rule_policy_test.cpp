#include "core/error.hpp"
#include "core/rule_policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace guarded_ddl {
namespace {

std::optional<Mode> override_of(const RuleOverrides &o, RuleId id) {
    return o[static_cast<std::size_t>(id)];
}

TEST(RulePolicy, EmptyOrBlankMeansNoOverrides) {
    for (const char *text : {"", "   ", " \t\n"}) {
        auto o = parse_rule_overrides(text);
        for (const auto &m : o)
            EXPECT_FALSE(m.has_value()) << '"' << text << '"';
    }
}

TEST(RulePolicy, ParsesItemsWithSpaces) {
    auto o = parse_rule_overrides(" drop_column = warn,rename_column=off ,truncate=enforce");
    EXPECT_EQ(override_of(o, RuleId::DropColumn), Mode::Warn);
    EXPECT_EQ(override_of(o, RuleId::RenameColumn), Mode::Off);
    EXPECT_EQ(override_of(o, RuleId::Truncate), Mode::Enforce);
    EXPECT_FALSE(override_of(o, RuleId::CreateIndex).has_value());
}

void expect_error(const char *text, const std::string &message, const std::string &detail_part) {
    try {
        parse_rule_overrides(text);
        FAIL() << "no error for " << text;
    } catch (const Error &e) {
        EXPECT_STREQ(e.sqlstate(), "22023");
        EXPECT_EQ(std::string(e.what()), message);
        EXPECT_NE(e.detail().find(detail_part), std::string::npos) << e.detail();
        EXPECT_FALSE(e.hint().empty());
    }
}

TEST(RulePolicy, UnknownRuleListsTheValidOnes) {
    expect_error("drop_colum=warn", "unknown rule \"drop_colum\" in guarded_ddl.rules",
                 "Valid rule ids are: add_column_volatile_default, ");
}

TEST(RulePolicy, UnknownModeListsTheValidOnes) {
    expect_error("drop_column=block",
                 "unknown mode \"block\" for rule \"drop_column\" in guarded_ddl.rules",
                 "Valid modes are: enforce, warn, off.");
}

TEST(RulePolicy, MalformedItems) {
    expect_error("drop_column", "invalid item \"drop_column\" in guarded_ddl.rules",
                 "rule_id=mode");
    expect_error("drop_column=warn,,truncate=off", "invalid item \"\" in guarded_ddl.rules",
                 "rule_id=mode");
}

TEST(RulePolicy, DuplicatesAreRejected) {
    expect_error("drop_column=warn, drop_column=off",
                 "rule \"drop_column\" appears more than once in guarded_ddl.rules",
                 "at most once");
}

TEST(RulePolicy, HugeValuesAreRejected) {
    std::string huge(max_rule_policy_length + 1, ' ');
    EXPECT_THROW(parse_rule_overrides(huge), Error);
}

TEST(RulePolicy, OverridesBeatTheGlobalModeBothWays) {
    auto o = parse_rule_overrides("drop_column=off, truncate=enforce");
    EXPECT_EQ(effective_mode(Mode::Enforce, o, RuleId::DropColumn), Mode::Off);
    EXPECT_EQ(effective_mode(Mode::Warn, o, RuleId::Truncate), Mode::Enforce);
    EXPECT_EQ(effective_mode(Mode::Warn, o, RuleId::CreateIndex), Mode::Warn);
}

TEST(RulePolicy, VerdictNeedsALargeTable) {
    EXPECT_EQ(decide(Mode::Enforce, true), Verdict::Block);
    EXPECT_EQ(decide(Mode::Warn, true), Verdict::Warn);
    EXPECT_EQ(decide(Mode::Off, true), Verdict::Allow);
    EXPECT_EQ(decide(Mode::Enforce, false), Verdict::Allow);
    EXPECT_EQ(verdict_name(Verdict::Block), "block");
    EXPECT_EQ(mode_name(Mode::Warn), "warn");
}

} // namespace
} // namespace guarded_ddl
