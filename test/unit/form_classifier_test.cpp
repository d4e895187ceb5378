#include "core/form_classifier.hpp"

#include <gtest/gtest.h>

namespace guarded_ddl {
namespace {

Facts facts(Form form) {
    Facts f;
    f.form = form;
    return f;
}

void expect_rule(const Facts &f, RuleId id) {
    auto c = classify(f);
    ASSERT_TRUE(c.rule.has_value());
    EXPECT_EQ(*c.rule, id);
    EXPECT_EQ(c.effect, rule(id).effect);
}

void expect_safe(const Facts &f, Effect effect = Effect::Metadata) {
    auto c = classify(f);
    EXPECT_FALSE(c.rule.has_value()) << rule(*c.rule).name;
    EXPECT_EQ(c.effect, effect);
}

TEST(FormClassifier, AddColumn) {
    auto f = facts(Form::AddColumn);
    expect_safe(f); // nullable, or a constant default: metadata only
    f.rewrites = true;
    expect_rule(f, RuleId::AddColumnVolatileDefault);
    f.generated = true;
    expect_rule(f, RuleId::AddColumnGenerated);
    auto nn = facts(Form::AddColumn);
    nn.scans = true;
    expect_rule(nn, RuleId::AddColumnNotNull);
}

TEST(FormClassifier, AlterColumnType) {
    auto f = facts(Form::AlterColumnType);
    expect_safe(f); // binary coercible
    f.column_has_checks = true;
    expect_rule(f, RuleId::AlterColumnTypeCheckScan);
    f.rewrites = true;
    expect_rule(f, RuleId::AlterColumnTypeRewrite);
}

TEST(FormClassifier, SetNotNullIsSafeOnlyWhenProven) {
    auto f = facts(Form::SetNotNull);
    expect_rule(f, RuleId::SetNotNullScan);
    f.proven = true;
    expect_safe(f);
}

TEST(FormClassifier, NotValidMakesConstraintsSafe) {
    for (auto [form, id] :
         {std::pair{Form::AddCheck, RuleId::AddCheckConstraint},
          std::pair{Form::AddForeignKey, RuleId::AddForeignKey},
          std::pair{Form::AlterDomainAddConstraint, RuleId::AlterDomainAddConstraint}}) {
        auto f = facts(form);
        expect_rule(f, id);
        f.not_valid = true;
        expect_safe(f);
    }
}

TEST(FormClassifier, ValidateIsSafeUnlessUnderAStrongLock) {
    auto f = facts(Form::ValidateConstraint);
    expect_safe(f, Effect::Scan);
    f.holds_strong_lock = true;
    expect_rule(f, RuleId::ValidateUnderStrongLock);
}

TEST(FormClassifier, UniqueAndPrimaryKey) {
    auto f = facts(Form::AddUnique);
    expect_rule(f, RuleId::AddUniqueConstraint);
    f.using_index = true;
    expect_rule(f, RuleId::PrimaryKeyUsingNullableIndex);
    f.proven = true;
    expect_safe(f);
    expect_rule(facts(Form::AddExclusion), RuleId::AddExclusionConstraint);
}

TEST(FormClassifier, ConcurrentlyIsTheSafeVariant) {
    for (auto [form, id, safe_effect] :
         {std::tuple{Form::CreateIndex, RuleId::CreateIndex, Effect::IndexBuild},
          std::tuple{Form::DropIndex, RuleId::DropIndex, Effect::Metadata},
          std::tuple{Form::Reindex, RuleId::Reindex, Effect::IndexBuild},
          std::tuple{Form::DetachPartition, RuleId::DetachPartition, Effect::Metadata},
          std::tuple{Form::RefreshMaterializedView, RuleId::RefreshMaterializedView,
                     Effect::Rewrite}}) {
        auto f = facts(form);
        expect_rule(f, id);
        f.concurrent = true;
        expect_safe(f, safe_effect);
    }
}

TEST(FormClassifier, CreateIndexOnOnlyBuildsNothing) {
    auto f = facts(Form::CreateIndex);
    f.only = true;
    expect_safe(f);
}

TEST(FormClassifier, AttachPartition) {
    auto f = facts(Form::AttachPartition);
    expect_rule(f, RuleId::AttachPartitionScan);
    f.proven = true;
    expect_safe(f);
    f.default_partition = true;
    expect_rule(f, RuleId::AttachPartitionScan);
}

TEST(FormClassifier, FormsThatAlwaysFire) {
    for (auto [form, id] : {std::pair{Form::DropColumn, RuleId::DropColumn},
                            std::pair{Form::DropTable, RuleId::DropTable},
                            std::pair{Form::Truncate, RuleId::Truncate},
                            std::pair{Form::RenameColumn, RuleId::RenameColumn},
                            std::pair{Form::RenameTable, RuleId::RenameTable},
                            std::pair{Form::SetSchema, RuleId::SetSchema},
                            std::pair{Form::VacuumFull, RuleId::VacuumFull},
                            std::pair{Form::Cluster, RuleId::Cluster},
                            std::pair{Form::SetTablespace, RuleId::SetTablespace},
                            std::pair{Form::SetLoggedUnlogged, RuleId::SetLoggedUnlogged},
                            std::pair{Form::SetAccessMethod, RuleId::SetAccessMethod}})
        expect_rule(facts(form), id);
    expect_safe(facts(Form::Other));
}

} // namespace
} // namespace guarded_ddl
