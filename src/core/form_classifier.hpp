// Maps what a statement will do (facts the PG zone reads from the parse tree
// and the catalogs, decided the way PostgreSQL decides them) to its effect
// on the table and the rule it triggers, if any.
#pragma once

#include "core/no_postgres.hpp"

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
};

struct Classification {
    Effect effect;
    std::optional<RuleId> rule;
};

Classification classify(const Facts &facts) noexcept;

} // namespace guarded_ddl
