#include "core/rule_catalogue.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace guarded_ddl {
namespace {

bool is_snake_case(std::string_view s) {
    if (s.empty() || !std::islower(static_cast<unsigned char>(s.front())))
        return false;
    for (char c : s)
        if (!(std::islower(static_cast<unsigned char>(c)) || c == '_'))
            return false;
    return true;
}

TEST(RuleCatalogue, EveryRuleHasAUniqueSnakeCaseId) {
    std::set<std::string_view> seen;
    for (const Rule &r : rule_catalogue()) {
        EXPECT_TRUE(is_snake_case(r.name)) << r.name;
        EXPECT_TRUE(seen.insert(r.name).second) << "duplicate " << r.name;
    }
    EXPECT_EQ(seen.size(), rule_count);
}

TEST(RuleCatalogue, EveryRuleSaysWhatItGuardsAgainst) {
    for (const Rule &r : rule_catalogue()) {
        EXPECT_NE(r.effect, Effect::None) << r.name;
        EXPECT_FALSE(r.description.empty()) << r.name;
        EXPECT_FALSE(r.lock.empty()) << r.name;
        EXPECT_FALSE(r.verb.empty()) << r.name;
    }
}

TEST(RuleCatalogue, RecipesAreNumberedCompleteSentences) {
    for (const Rule &r : rule_catalogue()) {
        std::string recipe = render_recipe(r, {"public.users", "name", "c", "i"});
        EXPECT_EQ(recipe.rfind("1. ", 0), 0u) << r.name;
        EXPECT_EQ(recipe.back(), '.') << r.name;
        EXPECT_EQ(recipe.find('{'), std::string::npos) << r.name << ": unreplaced placeholder";
    }
}

TEST(RuleCatalogue, RecipesNameTheStatementsObjects) {
    std::string recipe =
        render_recipe(rule(RuleId::SetNotNullScan), {"public.users", "email", "", ""});
    EXPECT_NE(recipe.find("ALTER TABLE public.users ADD CONSTRAINT email_not_null CHECK (email IS "
                          "NOT NULL) NOT VALID."),
              std::string::npos)
        << recipe;
    EXPECT_NE(recipe.find("ALTER COLUMN email SET NOT NULL"), std::string::npos);
}

TEST(RuleCatalogue, MissingNamesBecomePlaceholders) {
    std::string recipe = render_recipe(rule(RuleId::AddCheckConstraint), {"public.t", "", "", ""});
    EXPECT_NE(recipe.find("ADD CONSTRAINT <constraint> CHECK"), std::string::npos) << recipe;
}

TEST(RuleCatalogue, LookupByIdAndName) {
    EXPECT_EQ(rule(RuleId::DropColumn).name, "drop_column");
    ASSERT_NE(find_rule("rename_column"), nullptr);
    EXPECT_EQ(find_rule("rename_column")->id, RuleId::RenameColumn);
    EXPECT_EQ(find_rule("Drop_Column"), nullptr);
    EXPECT_EQ(find_rule(""), nullptr);
}

TEST(RuleCatalogue, EffectNames) {
    EXPECT_EQ(effect_name(Effect::IndexBuild), "index_build");
    EXPECT_EQ(effect_name(Effect::AppBreak), "app_break");
    EXPECT_EQ(effect_name(Effect::None), "none");
}

} // namespace
} // namespace guarded_ddl
