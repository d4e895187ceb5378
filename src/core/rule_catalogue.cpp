#include "core/rule_catalogue.hpp"

#include <fmt/format.h>

namespace guarded_ddl {

namespace {

constexpr std::string_view ael = "ACCESS EXCLUSIVE";

// clang-format off
constexpr std::array<Rule, rule_count> catalogue{{
    {RuleId::AddColumnVolatileDefault, "add_column_volatile_default",
     "ADD COLUMN with a volatile default, or of a domain type with constraints, rewrites the table",
     ael, Effect::Rewrite, "rewrite",
     "1. Add the column without a default: ALTER TABLE {table} ADD COLUMN {column} ... (no rewrite). "
     "2. Set the default for new rows: ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT .... "
     "3. Fill existing rows in small batches (UPDATE ... WHERE id BETWEEN ...), committing after each."},
    {RuleId::AddColumnGenerated, "add_column_generated",
     "ADD COLUMN serial, identity or GENERATED ... STORED rewrites the table",
     ael, Effect::Rewrite, "rewrite",
     "1. Add a plain nullable column: ALTER TABLE {table} ADD COLUMN {column} .... "
     "2. Keep it filled for new rows with a trigger (or a default from a sequence created separately). "
     "3. Backfill existing rows in small batches. "
     "4. Add the constraint or identity once every row has a value."},
    {RuleId::AddColumnNotNull, "add_column_not_null",
     "ADD COLUMN ... NOT NULL without a default scans the table and fails if it has rows",
     ael, Effect::Scan, "scan",
     "1. Add the column nullable, or with a constant default (metadata only since PostgreSQL 11): "
     "ALTER TABLE {table} ADD COLUMN {column} ... DEFAULT <constant> NOT NULL. "
     "2. Otherwise backfill it and make it NOT NULL with the SET NOT NULL recipe of rule set_not_null_scan."},
    {RuleId::AlterColumnTypeRewrite, "alter_column_type_rewrite",
     "ALTER COLUMN ... TYPE that is not binary coercible rewrites the table and rebuilds its indexes",
     ael, Effect::Rewrite, "rewrite",
     "1. Add a new column of the new type: ALTER TABLE {table} ADD COLUMN {column}_new <type>. "
     "2. Write both columns from the application (or a trigger). "
     "3. Backfill {column}_new in small batches. "
     "4. Switch reads to the new column, then drop the old one in a later release."},
    {RuleId::AlterColumnTypeCheckScan, "alter_column_type_check_scan",
     "ALTER COLUMN ... TYPE on a column with CHECK constraints revalidates them with a full scan",
     ael, Effect::Scan, "scan",
     "1. Drop the CHECK constraints on {column}. "
     "2. Change the type (binary coercible, so no rewrite). "
     "3. Add the constraints back with NOT VALID: ALTER TABLE {table} ADD CONSTRAINT ... CHECK (...) NOT VALID. "
     "4. Validate them in a separate transaction: ALTER TABLE {table} VALIDATE CONSTRAINT ...."},
    {RuleId::SetNotNullScan, "set_not_null_scan",
     "SET NOT NULL scans the table unless a valid CHECK (column IS NOT NULL) already proves it",
     ael, Effect::Scan, "scan",
     "1. ALTER TABLE {table} ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID. "
     "2. In a separate transaction: ALTER TABLE {table} VALIDATE CONSTRAINT {column}_not_null (no blocking lock). "
     "3. ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL (no scan: the constraint proves it). "
     "4. ALTER TABLE {table} DROP CONSTRAINT {column}_not_null."},
    {RuleId::AddCheckConstraint, "add_check_constraint",
     "ADD CONSTRAINT ... CHECK without NOT VALID scans the table under ACCESS EXCLUSIVE",
     ael, Effect::Scan, "scan",
     "1. Add the constraint NOT VALID: ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK (...) NOT VALID. "
     "2. In a separate transaction: ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}, which takes only SHARE UPDATE EXCLUSIVE."},
    {RuleId::AddForeignKey, "add_foreign_key",
     "ADD FOREIGN KEY without NOT VALID scans the table, locking it and the referenced table",
     "SHARE ROW EXCLUSIVE", Effect::Scan, "scan",
     "1. Add the foreign key NOT VALID: ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY (...) REFERENCES ... NOT VALID. "
     "2. In a separate transaction: ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}."},
    {RuleId::ValidateUnderStrongLock, "validate_under_strong_lock",
     "VALIDATE CONSTRAINT in a transaction that already holds ACCESS EXCLUSIVE scans under that lock",
     ael, Effect::Scan, "scan",
     "1. Commit the transaction that took the strong lock. "
     "2. Run ALTER TABLE {table} VALIDATE CONSTRAINT {constraint} in a transaction of its own."},
    {RuleId::AddUniqueConstraint, "add_unique_constraint",
     "ADD UNIQUE or PRIMARY KEY without USING INDEX builds the index under ACCESS EXCLUSIVE",
     ael, Effect::IndexBuild, "build an index on",
     "1. CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table} (...), outside a transaction block. "
     "2. ALTER TABLE {table} ADD CONSTRAINT {constraint} UNIQUE USING INDEX {index} (or PRIMARY KEY USING INDEX)."},
    {RuleId::PrimaryKeyUsingNullableIndex, "primary_key_using_nullable_index",
     "PRIMARY KEY USING INDEX on nullable columns scans the table to set NOT NULL",
     ael, Effect::Scan, "scan",
     "1. Make each key column NOT NULL first with the recipe of rule set_not_null_scan (CHECK NOT VALID, VALIDATE, SET NOT NULL). "
     "2. Then ALTER TABLE {table} ADD CONSTRAINT {constraint} PRIMARY KEY USING INDEX {index}."},
    {RuleId::AddExclusionConstraint, "add_exclusion_constraint",
     "ADD EXCLUDE builds its index under ACCESS EXCLUSIVE; there is no concurrent way",
     ael, Effect::IndexBuild, "build an index on",
     "1. Create a new table with the exclusion constraint. "
     "2. Copy the rows over in batches while the application writes to both. "
     "3. Swap the tables in a short transaction."},
    {RuleId::CreateIndex, "create_index",
     "CREATE INDEX without CONCURRENTLY blocks writes for the whole build",
     "SHARE", Effect::IndexBuild, "build an index on",
     "1. CREATE INDEX CONCURRENTLY {index} ON {table} (...), outside a transaction block. "
     "2. For a partitioned table: CREATE INDEX ... ON ONLY {table}, then CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX ... ATTACH PARTITION for each."},
    {RuleId::DropIndex, "drop_index",
     "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
     ael, Effect::Metadata, "lock",
     "1. DROP INDEX CONCURRENTLY {index}, outside a transaction block."},
    {RuleId::Reindex, "reindex",
     "REINDEX without CONCURRENTLY blocks writes (and reads through the index) for the whole build",
     "SHARE", Effect::IndexBuild, "build an index on",
     "1. REINDEX ... CONCURRENTLY, outside a transaction block."},
    {RuleId::VacuumFull, "vacuum_full",
     "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE",
     ael, Effect::Rewrite, "rewrite",
     "1. Let plain VACUUM reclaim space for reuse. "
     "2. To shrink the files, rebuild online with a pg_repack-style tool (copy, replay changes, swap)."},
    {RuleId::Cluster, "cluster",
     "CLUSTER rewrites the table under ACCESS EXCLUSIVE",
     ael, Effect::Rewrite, "rewrite",
     "1. Rebuild online with a pg_repack-style tool, which can order the copy by an index."},
    {RuleId::SetTablespace, "set_tablespace",
     "SET TABLESPACE copies the whole table under ACCESS EXCLUSIVE",
     ael, Effect::Rewrite, "rewrite",
     "1. Create the new table in the target tablespace and copy online with a pg_repack-style tool, or move it in a maintenance window."},
    {RuleId::SetLoggedUnlogged, "set_logged_unlogged",
     "SET LOGGED or SET UNLOGGED rewrites the table under ACCESS EXCLUSIVE",
     ael, Effect::Rewrite, "rewrite",
     "1. Create a new table with the wanted persistence. "
     "2. Copy the rows in batches while the application writes to both. "
     "3. Swap the tables in a short transaction."},
    {RuleId::SetAccessMethod, "set_access_method",
     "SET ACCESS METHOD rewrites the table under ACCESS EXCLUSIVE",
     ael, Effect::Rewrite, "rewrite",
     "1. Create a new table with the wanted access method. "
     "2. Copy the rows in batches while the application writes to both. "
     "3. Swap the tables in a short transaction."},
    {RuleId::AttachPartitionScan, "attach_partition_scan",
     "ATTACH PARTITION scans the new partition (and the DEFAULT partition) unless a constraint implies the bound",
     ael, Effect::Scan, "scan",
     "1. On the table to attach: ALTER TABLE ... ADD CONSTRAINT ... CHECK (<the partition bound>) NOT VALID. "
     "2. ALTER TABLE ... VALIDATE CONSTRAINT ... in a separate transaction. "
     "3. ALTER TABLE <parent> ATTACH PARTITION {table} ... (no scan: the constraint implies the bound). "
     "4. Drop the now redundant constraint."},
    {RuleId::DetachPartition, "detach_partition",
     "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the parent",
     ael, Effect::Metadata, "lock",
     "1. ALTER TABLE {table} DETACH PARTITION ... CONCURRENTLY, outside a transaction block (PostgreSQL 14 and later)."},
    {RuleId::DropColumn, "drop_column",
     "DROP COLUMN loses the data and breaks the application version still reading the column",
     ael, Effect::DataLoss, "drop data from",
     "1. Release an application version that no longer reads or writes {column}. "
     "2. After it is fully deployed, drop the column in a later migration (and have a DBA approve it with guarded_ddl.approve)."},
    {RuleId::DropTable, "drop_table",
     "DROP TABLE loses the data and breaks the application version still using the table",
     ael, Effect::DataLoss, "drop",
     "1. Release an application version that no longer uses {table}. "
     "2. Rename it aside or revoke access first to find forgotten users. "
     "3. Drop it in a later migration, approved by a DBA with guarded_ddl.approve."},
    {RuleId::Truncate, "truncate",
     "TRUNCATE deletes every row under ACCESS EXCLUSIVE",
     ael, Effect::DataLoss, "empty",
     "1. Make sure no running application version needs the rows. "
     "2. Delete in batches if other sessions must keep working, or have a DBA approve the TRUNCATE with guarded_ddl.approve."},
    {RuleId::RenameColumn, "rename_column",
     "RENAME COLUMN breaks the application version still using the old name",
     ael, Effect::AppBreak, "break the running application's queries on",
     "1. Add the new column and write both (expand). "
     "2. Backfill it in batches. "
     "3. Move reads to the new column in a new application release. "
     "4. Drop the old column in a later release (contract)."},
    {RuleId::RenameTable, "rename_table",
     "RENAME of a table breaks the application version still using the old name",
     ael, Effect::AppBreak, "break the running application's queries on",
     "1. Rename the table and, in the same transaction, create a view with the old name (CREATE VIEW <old name> AS SELECT * FROM <new name>) so both names work. "
     "2. Move the application to the new name. "
     "3. Drop the compatibility view in a later release."},
    {RuleId::SetSchema, "set_schema",
     "SET SCHEMA moves the table away from the name the running application uses",
     ael, Effect::AppBreak, "break the running application's queries on",
     "1. Move the table and, in the same transaction, create a view under the old schema with the old name. "
     "2. Move the application to the new name. "
     "3. Drop the compatibility view in a later release."},
    {RuleId::AlterDomainAddConstraint, "alter_domain_add_constraint",
     "ALTER DOMAIN ... ADD CONSTRAINT scans every column that uses the domain",
     "SHARE", Effect::Scan, "scan",
     "1. Add the constraint NOT VALID: ALTER DOMAIN ... ADD CONSTRAINT ... CHECK (...) NOT VALID. "
     "2. ALTER DOMAIN ... VALIDATE CONSTRAINT ... in a separate transaction, or use CHECK constraints on the columns with the NOT VALID recipe."},
    {RuleId::RefreshMaterializedView, "refresh_materialized_view",
     "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks every reader for the whole refresh",
     ael, Effect::Rewrite, "rewrite",
     "1. Create a unique index on the materialized view (once). "
     "2. REFRESH MATERIALIZED VIEW CONCURRENTLY {table}, which lets readers continue."},
    {RuleId::DmlUnderStrongLock, "dml_under_strong_lock",
     "A large INSERT, UPDATE, DELETE, MERGE or COPY FROM in a transaction holding SHARE ROW EXCLUSIVE or stronger on a large table",
     "SHARE ROW EXCLUSIVE or stronger", Effect::LockHold, "hold its lock on",
     "1. Commit the schema change first, in a transaction of its own. "
     "2. Backfill outside it in batches of a few thousand rows (UPDATE ... WHERE id > <last id> AND id <= <last id> + 5000), committing after each. "
     "3. Finish with the constraint or NOT NULL step in a later short transaction, as the schema change's own recipe says."},
}};
// clang-format on

constexpr bool catalogue_in_id_order() {
    for (std::size_t i = 0; i < catalogue.size(); i++)
        if (static_cast<std::size_t>(catalogue[i].id) != i)
            return false;
    return true;
}
static_assert(catalogue_in_id_order(), "rule_catalogue entries must follow RuleId order");

std::string or_placeholder(const std::string &name, const char *placeholder) {
    return name.empty() ? std::string(placeholder) : name;
}

} // namespace

std::string_view effect_name(Effect effect) noexcept {
    switch (effect) {
    case Effect::None:
        return "none";
    case Effect::Metadata:
        return "metadata";
    case Effect::Scan:
        return "scan";
    case Effect::Rewrite:
        return "rewrite";
    case Effect::IndexBuild:
        return "index_build";
    case Effect::DataLoss:
        return "data_loss";
    case Effect::AppBreak:
        return "app_break";
    case Effect::LockHold:
        return "lock_hold";
    }
    return "none";
}

const std::array<Rule, rule_count> &rule_catalogue() noexcept {
    return catalogue;
}

const Rule &rule(RuleId id) noexcept {
    return catalogue[static_cast<std::size_t>(id)];
}

const Rule *find_rule(std::string_view name) noexcept {
    for (const Rule &r : catalogue)
        if (r.name == name)
            return &r;
    return nullptr;
}

std::string render_recipe(const Rule &rule, const RecipeNames &names) {
    return fmt::format(fmt::runtime(rule.recipe),
                       fmt::arg("table", or_placeholder(names.table, "<table>")),
                       fmt::arg("column", or_placeholder(names.column, "<column>")),
                       fmt::arg("constraint", or_placeholder(names.constraint, "<constraint>")),
                       fmt::arg("index", or_placeholder(names.index, "<index>")));
}

} // namespace guarded_ddl
