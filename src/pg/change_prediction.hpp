// What PostgreSQL 15 will actually do for one ALTER TABLE subcommand, decided
// the way PostgreSQL decides it (ATExecAddColumn, ATPrepAlterColumnType,
// NotNullImpliedByRelConstraints, ATExecAttachPartition), from the catalogs,
// without taking any lock that could wait.
#pragma once

#include "pg/prelude.hpp"

// ADD COLUMN rewrites the table when the default is volatile (after
// planning), the column is identity or stored generated, or its type is a
// domain with constraints.
bool gd_add_column_rewrites(const ColumnDef *column);

// The column is serial, identity or GENERATED ... STORED: the values come
// from a sequence or an expression, not from a default.
// A DEFAULT written on the new column (NULL included).
bool gd_add_column_has_default(const ColumnDef *column);

bool gd_add_column_generates(const ColumnDef *column);

// ADD COLUMN ... NOT NULL with no default at all scans for (and fails on)
// existing rows.
bool gd_add_column_scans(const ColumnDef *column);

// ALTER COLUMN ... TYPE: true unless the conversion is binary coercible
// after simplification (varchar(n) -> varchar(m >= n) or text, numeric
// precision increase, unconstrained domain, timestamp <-> timestamptz when
// the session TimeZone is UTC). A USING clause, or a column that does not
// exist yet (added earlier in the same explained migration), is assumed to
// rewrite.
bool gd_type_change_rewrites(Oid relid, const AlterTableCmd *cmd);

// ALTER COLUMN ... TYPE: the new type cannot hold every value of the old one
// (a known narrowing of built-in types: core/type_narrowing.hpp), or a USING
// expression other than a cast of the column computes new values. Decided
// from type OIDs and typmods only: no cast, typmod input function or other
// user code runs. An unknown conversion is not lossy.
bool gd_type_change_loses_data(Oid relid, const AlterTableCmd *cmd);

// The column takes part in a CHECK constraint, which a type change revalidates.
bool gd_column_has_checks(Oid relid, const char *column);

// SET NOT NULL skips its scan when valid CHECK constraints prove the column
// is never null, or when it already is NOT NULL.
bool gd_not_null_proven(Oid relid, const char *column);

// PostgreSQL 18's catalogued NOT NULL constraint on the column: its name,
// and in *valid whether it is validated. Null when there is none (always,
// before 18).
const char *gd_not_null_constraint(Oid relid, AttrNumber attnum, bool *valid);

// The columns of an index that PRIMARY KEY USING INDEX would have to mark
// NOT NULL (scanning the table) are already NOT NULL.
bool gd_index_columns_not_null(Oid index_relid);

// ATTACH PARTITION skips the scan of the new partition when its constraints
// imply the partition bound. False when that cannot be known without waiting.
bool gd_attach_bound_implied(Oid parent_relid, Oid partition_relid, PartitionBoundSpec *bound);

// Whether a new CHECK's expression names only user columns of relid, as
// PostgreSQL requires; true when that cannot be told without waiting.
bool gd_check_columns_valid(Oid relid, Node *raw_expr);
