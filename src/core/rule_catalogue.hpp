// The dangerous DDL forms guarded_ddl knows, one stable snake_case id each:
// what the form does to a table, under which lock, and the safe recipe.
// The ids are a public interface (guarded_ddl.rules, approvals, the audit
// log): never rename one.
#pragma once

#include "core/no_postgres.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace guarded_ddl {

// What a statement does to the table's data while it holds its lock.
// LockHold: the statement itself is harmless, but runs long while the
// transaction holds a strong lock another statement took.
enum class Effect { None, Metadata, Scan, Rewrite, IndexBuild, DataLoss, AppBreak, LockHold };

std::string_view effect_name(Effect effect) noexcept;

enum class RuleId {
    AddColumnVolatileDefault,
    AddColumnGenerated,
    AddColumnNotNull,
    AlterColumnTypeRewrite,
    AlterColumnTypeCheckScan,
    SetNotNullScan,
    AddCheckConstraint,
    AddForeignKey,
    ValidateUnderStrongLock,
    AddUniqueConstraint,
    PrimaryKeyUsingNullableIndex,
    AddExclusionConstraint,
    CreateIndex,
    DropIndex,
    Reindex,
    VacuumFull,
    Cluster,
    SetTablespace,
    SetLoggedUnlogged,
    SetAccessMethod,
    AttachPartitionScan,
    DetachPartition,
    DropColumn,
    DropTable,
    Truncate,
    RenameColumn,
    RenameTable,
    SetSchema,
    AlterDomainAddConstraint,
    RefreshMaterializedView,
    DmlUnderStrongLock,
};
inline constexpr std::size_t rule_count = static_cast<std::size_t>(RuleId::DmlUnderStrongLock) + 1;

struct Rule {
    RuleId id;
    std::string_view name;        // stable snake_case id
    std::string_view description; // one line
    std::string_view lock;        // PostgreSQL's lock, as the docs write it
    Effect effect;
    std::string_view verb; // "<command> would <verb> large table ..."
    // Numbered sentences; {table}, {column}, {constraint} and {index} are
    // replaced by the statement's names (or placeholders).
    std::string_view recipe;
};

const std::array<Rule, rule_count> &rule_catalogue() noexcept;
const Rule &rule(RuleId id) noexcept;
const Rule *find_rule(std::string_view name) noexcept;

// Names for the recipe; empty ones are shown as <column> etc.
struct RecipeNames {
    std::string table;
    std::string column;
    std::string constraint;
    std::string index;
};

std::string render_recipe(const Rule &rule, const RecipeNames &names);

} // namespace guarded_ddl
