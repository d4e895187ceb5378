#include "pg/oid_cache.hpp"

void *gd_oid_cache_enter(HTAB **cache, const char *name, Size entry_size, long max_entries,
                         Oid relid, bool *found) {
    if (*cache != nullptr && hash_get_num_entries(*cache) >= max_entries) {
        hash_destroy(*cache);
        *cache = nullptr;
    }
    if (*cache == nullptr) {
        HASHCTL ctl{};
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = entry_size;
        ctl.hcxt = CacheMemoryContext;
        *cache = hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    return hash_search(*cache, &relid, HASH_ENTER, found);
}
