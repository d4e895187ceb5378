// Production's table sizes on a CI or staging server: a profile exported
// with guarded_ddl.export_size_profile() and imported with
// guarded_ddl.import_size_profile() into guarded_ddl.size_profile_entry.
// The guard judges each relation by the larger of its live figures and the
// profile's, bytes and rows each on its own, so CI blocks what production
// would.
//
// An entry applies to the relation it was resolved to at import (its relid,
// which follows renames) or, when that relation no longer exists or none
// existed, to the table, partitioned table or materialized view that now has
// its schema and name (a table a migration creates after the import).
#pragma once

#include "pg/prelude.hpp"

#include "pg/relation_size.hpp"

// A profile entry's figures for relid, if one applies to it.
struct GdProfileSize {
    bool found;
    int64 bytes;
    double rows; // -1: unknown (never analyzed in production)
};

// Cached per backend until the profile table changes (the same statement
// trigger and relcache invalidation as the per-table policies); while the
// profile is empty no lock is taken at all. A read of the table waits for
// its lock no longer than the guard's lock timeout, then fails with 55P03
// (own_table_lock.hpp).
GdProfileSize gd_profile_size(Oid relid);

// Whether gd_profile_size(relid) would answer without waiting for a lock
// (cached, no profile, or the table's lock free right now and then taken).
bool gd_profile_size_at_hand(Oid relid);

// What the guard judges relid by: gd_relation_size, with each figure raised
// to the profile's when that is larger (and marked so, for the messages).
GdRelationSize gd_judged_relation_size(Oid relid);
