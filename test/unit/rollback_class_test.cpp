#include "core/form_classifier.hpp"
#include "core/rollback_class.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

namespace guarded_ddl {
namespace {

Facts facts(Form form) {
    Facts f;
    f.form = form;
    return f;
}

Rollback of(const Facts &f) {
    return classify(f).rollback;
}

TEST(RollbackClass, Names) {
    EXPECT_EQ(rollback_name(Rollback::Reversible), "reversible");
    EXPECT_EQ(rollback_name(Rollback::ForwardOnly), "forward_only");
    EXPECT_EQ(rollback_name(Rollback::DataRestore), "data_restore");
    EXPECT_EQ(rollback_name(Rollback{}), "");
}

TEST(RollbackClass, WorstIsTheMostSevere) {
    EXPECT_EQ(worst(Rollback::Reversible, Rollback::DataRestore), Rollback::DataRestore);
    EXPECT_EQ(worst(Rollback::DataRestore, Rollback::ForwardOnly), Rollback::DataRestore);
    EXPECT_EQ(worst(Rollback::ForwardOnly, Rollback::Reversible), Rollback::ForwardOnly);
    EXPECT_EQ(worst(Rollback{}, Rollback::Reversible), Rollback::Reversible);
    EXPECT_EQ(worst(Rollback::Reversible, Rollback{}), Rollback::Reversible);
    EXPECT_EQ(worst(Rollback{}, Rollback{}), Rollback{});
}

// Every form, with the facts that change its effect set either way: the
// class follows from the form (and for ALTER TYPE, from rewrite and loss),
// never from whether a rule fires.
TEST(RollbackClass, EveryForm) {
    struct Case {
        Form form;
        Rollback expected;
    };
    const Case cases[] = {
        {Form::Other, Rollback::Reversible},
        {Form::AddColumn, Rollback::Reversible},
        {Form::SetNotNull, Rollback::Reversible},
        {Form::AddCheck, Rollback::Reversible},
        {Form::AddForeignKey, Rollback::Reversible},
        {Form::AddUnique, Rollback::Reversible},
        {Form::AddExclusion, Rollback::Reversible},
        {Form::ValidateConstraint, Rollback::Reversible},
        {Form::DropColumn, Rollback::DataRestore},
        {Form::SetTablespace, Rollback::Reversible},
        {Form::SetLoggedUnlogged, Rollback::Reversible},
        {Form::SetAccessMethod, Rollback::Reversible},
        {Form::AttachPartition, Rollback::Reversible},
        {Form::DetachPartition, Rollback::Reversible},
        {Form::CreateIndex, Rollback::Reversible},
        {Form::DropIndex, Rollback::ForwardOnly},
        {Form::Reindex, Rollback::Reversible},
        {Form::VacuumFull, Rollback::Reversible},
        {Form::Cluster, Rollback::Reversible},
        {Form::RefreshMaterializedView, Rollback::Reversible},
        {Form::DropTable, Rollback::DataRestore},
        {Form::Truncate, Rollback::DataRestore},
        {Form::RenameColumn, Rollback::Reversible},
        {Form::RenameTable, Rollback::Reversible},
        {Form::SetSchema, Rollback::Reversible},
        {Form::AlterDomainAddConstraint, Rollback::Reversible},
    };
    for (const Case &c : cases) {
        for (bool flag : {false, true}) {
            Facts f = facts(c.form);
            f.rewrites = f.generated = f.scans = f.column_has_checks = f.proven = f.not_valid =
                f.using_index = f.concurrent = f.only = f.holds_strong_lock = f.default_partition =
                    flag;
            EXPECT_EQ(of(f), c.expected) << static_cast<int>(c.form) << " flags " << flag;
        }
    }
}

TEST(RollbackClass, AlterColumnType) {
    auto f = facts(Form::AlterColumnType);
    EXPECT_EQ(of(f), Rollback::Reversible); // binary coercible: metadata only
    f.column_has_checks = true;
    EXPECT_EQ(of(f), Rollback::Reversible); // a revalidating scan changes nothing
    f.rewrites = true;
    EXPECT_EQ(of(f), Rollback::ForwardOnly);
    f.lossy = true;
    EXPECT_EQ(of(f), Rollback::DataRestore);
    // Loss does not depend on the rewrite, nor on any rule firing.
    auto small = facts(Form::AlterColumnType);
    small.lossy = true;
    EXPECT_EQ(of(small), Rollback::DataRestore);
}

// lossy is a fact of ALTER TYPE only.
TEST(RollbackClass, LossyMattersOnlyForTypeChanges) {
    for (Form form : {Form::AddColumn, Form::CreateIndex, Form::DropIndex, Form::Other}) {
        auto f = facts(form);
        auto lossy = f;
        lossy.lossy = true;
        EXPECT_EQ(of(f), of(lossy)) << static_cast<int>(form);
    }
}

// Each rule's typical facts fire that very rule, so the class rules()
// reports for it is the class of a statement it fires on. A lock-hold rule
// judges DML, which has no DDL form.
TEST(RollbackClass, TypicalFactsFireTheirRule) {
    for (const Rule &r : rule_catalogue()) {
        if (r.effect == Effect::LockHold) {
            EXPECT_FALSE(classify(typical_facts(r.id)).rule.has_value()) << r.name;
            continue;
        }
        Classification c = classify(typical_facts(r.id));
        ASSERT_TRUE(c.rule.has_value()) << r.name;
        EXPECT_EQ(*c.rule, r.id) << r.name;
    }
}

TEST(RollbackClass, RuleClasses) {
    auto rule_class = [](RuleId id) { return classify(typical_facts(id)).rollback; };
    EXPECT_EQ(rule_class(RuleId::AlterColumnTypeRewrite), Rollback::ForwardOnly);
    EXPECT_EQ(rule_class(RuleId::DropColumn), Rollback::DataRestore);
    EXPECT_EQ(rule_class(RuleId::DropTable), Rollback::DataRestore);
    EXPECT_EQ(rule_class(RuleId::Truncate), Rollback::DataRestore);
    EXPECT_EQ(rule_class(RuleId::DropIndex), Rollback::ForwardOnly);
    EXPECT_EQ(rule_class(RuleId::CreateIndex), Rollback::Reversible);
    EXPECT_EQ(rule_class(RuleId::RenameColumn), Rollback::Reversible);
    EXPECT_EQ(rule_class(RuleId::VacuumFull), Rollback::Reversible);
    EXPECT_EQ(rule_class(RuleId::DmlUnderStrongLock), Rollback::Reversible);
}

} // namespace
} // namespace guarded_ddl
