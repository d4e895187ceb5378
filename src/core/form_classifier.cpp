#include "core/form_classifier.hpp"

namespace guarded_ddl {

namespace {

Classification safe(Effect effect = Effect::Metadata) noexcept {
    return {effect, std::nullopt};
}

Classification fires(RuleId id) noexcept {
    return {rule(id).effect, id};
}

Classification add_column(const Facts &f) noexcept {
    if (f.rewrites)
        return fires(f.generated ? RuleId::AddColumnGenerated : RuleId::AddColumnVolatileDefault);
    if (f.scans)
        return fires(RuleId::AddColumnNotNull);
    return safe();
}

Classification alter_column_type(const Facts &f) noexcept {
    if (f.rewrites)
        return fires(RuleId::AlterColumnTypeRewrite);
    if (f.column_has_checks)
        return fires(RuleId::AlterColumnTypeCheckScan);
    return safe();
}

Classification add_unique(const Facts &f) noexcept {
    if (!f.using_index)
        return fires(RuleId::AddUniqueConstraint);
    if (!f.proven)
        return fires(RuleId::PrimaryKeyUsingNullableIndex);
    return safe();
}

Classification attach_partition(const Facts &f) noexcept {
    // The DEFAULT partition is scanned for rows of the new bound whatever
    // constraints the new partition has.
    if (!f.proven || f.default_partition)
        return fires(RuleId::AttachPartitionScan);
    return safe();
}

Classification classify_effect(const Facts &f) noexcept {
    switch (f.form) {
    case Form::Other:
        return safe();
    case Form::AddColumn:
        return add_column(f);
    case Form::AlterColumnType:
        return alter_column_type(f);
    case Form::SetNotNull:
        return f.proven ? safe() : fires(RuleId::SetNotNullScan);
    case Form::AddCheck:
        return f.not_valid ? safe() : fires(RuleId::AddCheckConstraint);
    case Form::AddForeignKey:
        return f.not_valid ? safe() : fires(RuleId::AddForeignKey);
    case Form::AddUnique:
        return add_unique(f);
    case Form::AddExclusion:
        return fires(RuleId::AddExclusionConstraint);
    case Form::ValidateConstraint:
        // Under SHARE UPDATE EXCLUSIVE a validating scan blocks nobody's
        // reads or writes: that is the safe recipe's second step.
        return f.holds_strong_lock ? fires(RuleId::ValidateUnderStrongLock) : safe(Effect::Scan);
    case Form::DropColumn:
        return fires(RuleId::DropColumn);
    case Form::SetTablespace:
        return fires(RuleId::SetTablespace);
    case Form::SetLoggedUnlogged:
        return fires(RuleId::SetLoggedUnlogged);
    case Form::SetAccessMethod:
        return fires(RuleId::SetAccessMethod);
    case Form::AttachPartition:
        return attach_partition(f);
    case Form::DetachPartition:
        return f.concurrent ? safe() : fires(RuleId::DetachPartition);
    case Form::CreateIndex:
        if (f.only)
            return safe(); // ON ONLY builds nothing
        return f.concurrent ? safe(Effect::IndexBuild) : fires(RuleId::CreateIndex);
    case Form::DropIndex:
        return f.concurrent ? safe() : fires(RuleId::DropIndex);
    case Form::Reindex:
        return f.concurrent ? safe(Effect::IndexBuild) : fires(RuleId::Reindex);
    case Form::VacuumFull:
        return fires(RuleId::VacuumFull);
    case Form::Cluster:
        return fires(RuleId::Cluster);
    case Form::RefreshMaterializedView:
        return f.concurrent ? safe(Effect::Rewrite) : fires(RuleId::RefreshMaterializedView);
    case Form::DropTable:
        return fires(RuleId::DropTable);
    case Form::Truncate:
        return fires(RuleId::Truncate);
    case Form::RenameColumn:
        return fires(RuleId::RenameColumn);
    case Form::RenameTable:
        return fires(RuleId::RenameTable);
    case Form::SetSchema:
        return fires(RuleId::SetSchema);
    case Form::AlterDomainAddConstraint:
        return f.not_valid ? safe() : fires(RuleId::AlterDomainAddConstraint);
    }
    return safe();
}

} // namespace

Classification classify(const Facts &f) noexcept {
    Classification c = classify_effect(f);
    c.rollback = rollback_class(f);
    return c;
}

Facts typical_facts(RuleId id) noexcept {
    Facts f;
    switch (id) {
    case RuleId::AddColumnVolatileDefault:
        f.form = Form::AddColumn;
        f.rewrites = true;
        break;
    case RuleId::AddColumnGenerated:
        f.form = Form::AddColumn;
        f.rewrites = f.generated = true;
        break;
    case RuleId::AddColumnNotNull:
        f.form = Form::AddColumn;
        f.scans = true;
        break;
    case RuleId::AlterColumnTypeRewrite:
        f.form = Form::AlterColumnType;
        f.rewrites = true;
        break;
    case RuleId::AlterColumnTypeCheckScan:
        f.form = Form::AlterColumnType;
        f.column_has_checks = true;
        break;
    case RuleId::SetNotNullScan:
        f.form = Form::SetNotNull;
        break;
    case RuleId::AddCheckConstraint:
        f.form = Form::AddCheck;
        break;
    case RuleId::AddForeignKey:
        f.form = Form::AddForeignKey;
        break;
    case RuleId::ValidateUnderStrongLock:
        f.form = Form::ValidateConstraint;
        f.holds_strong_lock = true;
        break;
    case RuleId::AddUniqueConstraint:
        f.form = Form::AddUnique;
        break;
    case RuleId::PrimaryKeyUsingNullableIndex:
        f.form = Form::AddUnique;
        f.using_index = true;
        break;
    case RuleId::AddExclusionConstraint:
        f.form = Form::AddExclusion;
        break;
    case RuleId::CreateIndex:
        f.form = Form::CreateIndex;
        break;
    case RuleId::DropIndex:
        f.form = Form::DropIndex;
        break;
    case RuleId::Reindex:
        f.form = Form::Reindex;
        break;
    case RuleId::VacuumFull:
        f.form = Form::VacuumFull;
        break;
    case RuleId::Cluster:
        f.form = Form::Cluster;
        break;
    case RuleId::SetTablespace:
        f.form = Form::SetTablespace;
        break;
    case RuleId::SetLoggedUnlogged:
        f.form = Form::SetLoggedUnlogged;
        break;
    case RuleId::SetAccessMethod:
        f.form = Form::SetAccessMethod;
        break;
    case RuleId::AttachPartitionScan:
        f.form = Form::AttachPartition;
        break;
    case RuleId::DetachPartition:
        f.form = Form::DetachPartition;
        break;
    case RuleId::DropColumn:
        f.form = Form::DropColumn;
        break;
    case RuleId::DropTable:
        f.form = Form::DropTable;
        break;
    case RuleId::Truncate:
        f.form = Form::Truncate;
        break;
    case RuleId::RenameColumn:
        f.form = Form::RenameColumn;
        break;
    case RuleId::RenameTable:
        f.form = Form::RenameTable;
        break;
    case RuleId::SetSchema:
        f.form = Form::SetSchema;
        break;
    case RuleId::AlterDomainAddConstraint:
        f.form = Form::AlterDomainAddConstraint;
        break;
    case RuleId::RefreshMaterializedView:
        f.form = Form::RefreshMaterializedView;
        break;
    case RuleId::DmlUnderStrongLock:
        // No DDL form: the rule judges a DML statement's plan. Its rows are
        // undone by the transaction's own rollback.
        break;
    }
    return f;
}

} // namespace guarded_ddl
