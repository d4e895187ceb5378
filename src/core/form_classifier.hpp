// Maps what a statement will do (facts the PG zone reads from the parse tree
// and the catalogs, decided the way PostgreSQL decides them) to its effect
// on the table, the rule it triggers, if any, and what undoing it takes.
#pragma once

#include "core/no_postgres.hpp"

#include "core/rollback_class.hpp"
#include "core/rule_catalogue.hpp"

#include <optional>

namespace guarded_ddl {

enum class Form {
    Other, // anything not listed: metadata only
    AddColumn,
    AlterColumnType,
    SetNotNull,
    AddCheck,
    AddForeignKey,
    AddUnique, // UNIQUE or PRIMARY KEY
    AddExclusion,
    ValidateConstraint,
    DropColumn,
    SetTablespace,
    SetLoggedUnlogged,
    SetAccessMethod,
    AttachPartition,
    DetachPartition,
    CreateIndex,
    DropIndex,
    Reindex,
    VacuumFull,
    Cluster,
    RefreshMaterializedView,
    DropTable,
    Truncate,
    RenameColumn,
    RenameTable,
    SetSchema,
    AlterDomainAddConstraint,
};

struct Facts {
    Form form = Form::Other;
    bool rewrites = false;  // ADD COLUMN, ALTER TYPE: PostgreSQL will rewrite
    bool generated = false; // ADD COLUMN serial, identity or GENERATED STORED
    bool scans = false;     // ADD COLUMN NOT NULL without any default
    bool column_has_checks = false;
    bool proven = false; // SET NOT NULL / ATTACH: constraints already prove it;
                         // PRIMARY KEY USING INDEX: key columns already NOT NULL
    bool not_valid = false;
    bool using_index = false;
    bool concurrent = false;
    bool only = false;              // CREATE INDEX ON ONLY a partitioned table
    bool holds_strong_lock = false; // VALIDATE: the transaction holds ACCESS EXCLUSIVE
    bool default_partition = false; // ATTACH: this is the parent's DEFAULT partition
    bool lossy = false;             // ALTER TYPE: the new type cannot hold every old value,
                                    // or a USING expression computes new ones
};

struct Classification {
    Effect effect;
    std::optional<RuleId> rule;
    Rollback rollback = Rollback::Reversible;
};

Classification classify(const Facts &facts) noexcept;

// The facts of the usual statement that fires the rule (classify() of them
// fires it): what guarded_ddl.rules() reports the rule's rollback class from.
// ALTER TYPE's is a rewrite that loses nothing; a lossy one is DataRestore.
Facts typical_facts(RuleId id) noexcept;

} // namespace guarded_ddl
