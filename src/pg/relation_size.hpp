// How big a relation is, read without taking any lock: a DDL statement that
// is about to be blocked must not itself wait to find out.
#pragma once

#include "pg/prelude.hpp"

struct GdRelationSize {
    int64 bytes; // table + TOAST + indexes, every fork; partitions summed
    double rows; // planner estimate; -1 when never analyzed
    // The figure is the imported size profile's, larger than the live one
    // (size_profile.hpp); gd_relation_size itself never sets these.
    bool bytes_from_profile;
    bool rows_from_profile;
};

// Sizes come from stat() on the files, as pg_total_relation_size does but
// without opening the relation, so a missing file (a concurrent drop) just
// counts as empty.
GdRelationSize gd_relation_size(Oid relid);
