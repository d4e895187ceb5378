// A per-backend cache keyed by relation OID, kept in CacheMemoryContext and
// bounded: when it is full it starts over, so a backend touching many
// relations never grows it without limit.
#pragma once

#include "pg/prelude.hpp"

extern "C" {
#include "utils/hsearch.h"
}

// The entry for relid in *cache (created, as name with entries of
// entry_size bytes keyed by their first field, when there is none yet),
// new or found: *found says which.
void *gd_oid_cache_enter(HTAB **cache, const char *name, Size entry_size, long max_entries,
                         Oid relid, bool *found);
