#include "core/rollback_class.hpp"

#include "core/form_classifier.hpp"

namespace guarded_ddl {

std::string_view rollback_name(Rollback rollback) noexcept {
    switch (rollback) {
    case Rollback::Reversible:
        return "reversible";
    case Rollback::ForwardOnly:
        return "forward_only";
    case Rollback::DataRestore:
        return "data_restore";
    }
    return "";
}

Rollback worst(Rollback a, Rollback b) noexcept {
    return static_cast<int8_t>(a) >= static_cast<int8_t>(b) ? a : b;
}

// The reason for each class is in the README's rules section; keep the two
// in step.
Rollback rollback_class(const Facts &f) noexcept {
    switch (f.form) {
    // Additive: undone by dropping what was added (a column the old
    // application never used, a constraint, an index, a partition).
    case Form::AddColumn:
    case Form::SetNotNull:
    case Form::AddCheck:
    case Form::AddForeignKey:
    case Form::AddUnique:
    case Form::AddExclusion:
    case Form::ValidateConstraint:
    case Form::CreateIndex:
    case Form::AttachPartition:
    case Form::DetachPartition:
    case Form::AlterDomainAddConstraint:
    // A name: renamed back (or given a compatibility view) by one
    // metadata-only statement.
    case Form::RenameColumn:
    case Form::RenameTable:
    case Form::SetSchema:
    // Physical only: the rows and the schema the application sees are the
    // same afterwards, so an application rollback needs nothing undone.
    case Form::SetTablespace:
    case Form::SetLoggedUnlogged:
    case Form::SetAccessMethod:
    case Form::Reindex:
    case Form::VacuumFull:
    case Form::Cluster:
    case Form::RefreshMaterializedView:
    // Anything else the analysis lists (ALTER COLUMN SET DEFAULT, DROP
    // CONSTRAINT, a view's DROP, ...): metadata only.
    case Form::Other:
        return Rollback::Reversible;
    case Form::AlterColumnType:
        // A narrowing loses values whatever the table's size; a rewrite
        // keeps them but undoing it is another rewrite; a binary coercible
        // change is metadata only.
        if (f.lossy)
            return Rollback::DataRestore;
        return f.rewrites ? Rollback::ForwardOnly : Rollback::Reversible;
    // No data lost, but putting the index back is an index build: another
    // migration with risks of its own.
    case Form::DropIndex:
        return Rollback::ForwardOnly;
    case Form::DropColumn:
    case Form::DropTable:
    case Form::Truncate:
        return Rollback::DataRestore;
    }
    return Rollback::Reversible;
}

} // namespace guarded_ddl
