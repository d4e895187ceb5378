#include "pg/policy_store.hpp"

#include "pg/catalog_scan.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/extension_objects.hpp"
#include "pg/oid_cache.hpp"
#include "pg/own_table_lock.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/objectaccess.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace {

// The extension's schema, when the extension is installed here: checked by
// membership, so a look-alike schema of that name is never used.
Oid extension_schema(void) {
    return gd_extension_schema();
}

// A function of the extension's schema taking one argument of argtype.
Oid extension_function(Oid schema, const char *name, Oid argtype) {
    oidvector *args = buildoidvector(&argtype, 1);
    return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
                           PointerGetDatum(args), ObjectIdGetDatum(schema));
}

object_access_hook_type prev_object_access_hook = nullptr;

// The relations dropped in this transaction and not yet dealt with, in
// TopMemoryContext: appended by the object access hook, consumed (or
// discarded) by the utility statement that dropped them, emptied when the
// transaction ends.
Oid *dropped = nullptr;
int n_dropped = 0;
int max_dropped = 0;
// Counts the aborts that emptied the list, so that a mark taken before a
// procedure that rolled back is not applied to what came after.
uint64 dropped_generation = 0;
// How many utility statements are running (gd_drop_mark to gd_drop_forget_since
// or gd_drop_discard).
int statements_running = 0;

// Relations nobody can give a policy or an approval (set_table_policy and
// approve refuse them): temporary ones, TOAST tables and their indexes, and
// the transient heap of a rewrite.
bool may_have_policy(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return false;
    auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    bool may = form->relpersistence != RELPERSISTENCE_TEMP &&
               form->relnamespace != PG_TOAST_NAMESPACE && !OidIsValid(form->relrewrite);
    ReleaseSysCache(tuple);
    return may;
}

void watch_drops(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
    if (access == OAT_DROP && class_id == RelationRelationId && sub_id == 0 && !IsBinaryUpgrade &&
        may_have_policy(object_id)) {
        if (n_dropped == max_dropped) {
            int grown = max_dropped == 0 ? 16 : max_dropped * 2;
            dropped = static_cast<Oid *>(
                dropped == nullptr ? MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * grown)
                                   : repalloc(dropped, sizeof(Oid) * grown));
            max_dropped = grown;
        }
        dropped[n_dropped++] = object_id;
    }
    if (prev_object_access_hook)
        prev_object_access_hook(access, class_id, object_id, sub_id, arg);
}

// An abort undoes every drop of the transaction. A commit inside a running
// statement (DROP INDEX CONCURRENTLY drops in a transaction of its own, a
// procedure commits) keeps the committed drops for the statement to deal
// with when it ends; any other commit leaves nothing to deal with.
void forget_drops_at_end(XactEvent event, void *) {
    bool aborted = event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT;
    bool ended = event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
                 event == XACT_EVENT_PREPARE;
    if (aborted || (ended && statements_running == 0)) {
        n_dropped = 0;
        ++dropped_generation;
    }
}

// Whether a row of table has one of the relids in its column attno.
bool any_row_for(Oid table, AttrNumber attno, const Oid *relids, int n) {
    Relation rel = table_open(table, NoLock);
    Oid index = gd_btree_index_on(rel, &attno, 1);
    bool found = false;
    for (int i = 0; i < n && !found; i++) {
        ScanKeyData key;
        ScanKeyInit(&key, attno, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relids[i]));
        SysScanDesc scan = systable_beginscan(rel, index, OidIsValid(index), nullptr, 1, &key);
        found = HeapTupleIsValid(systable_getnext(scan));
        systable_endscan(scan);
    }
    table_close(rel, NoLock);
    return found;
}

struct DroppedRelations {
    Oid policies;
    Oid approvals;
    const Oid *relids;
    int n;
    bool any;
};

void look_for_rows(void *arg) {
    auto *d = static_cast<DroppedRelations *>(arg);
    // relid is the first column of table_policy_entry, the third of approval.
    d->any = any_row_for(d->policies, 1, d->relids, d->n) ||
             any_row_for(d->approvals, 3, d->relids, d->n);
}

struct ForgetCall {
    Oid function;
    ArrayType *relids;
};

// A dropped relation's policy and approvals end with it. Ending them is
// guarded_ddl.forget_tables' job (SECURITY DEFINER, called by OID like
// take_approval); it is called only when one of the relations has a row.
void forget_relations(const Oid *relids, int n) {
    const GdExtensionObjects *objects = gd_extension_objects();
    DroppedRelations d{objects->table_policy_entry, objects->approval, relids, n, false};
    if (!OidIsValid(d.policies) || !OidIsValid(d.approvals))
        return;
    // Looking takes a share lock on each table, as a read would; the wait
    // for one is bounded like every wait for the guard's own tables.
    if (ConditionalLockRelationOid(d.policies, AccessShareLock) &&
        ConditionalLockRelationOid(d.approvals, AccessShareLock)) {
        look_for_rows(&d);
    } else {
        const GdOwnTableLock locks[] = {
            {d.policies, AccessShareLock,
             "guarded_ddl looks for the policy of a dropped relation in this table."},
            {d.approvals, AccessShareLock,
             "guarded_ddl looks for the approvals of a dropped relation in this table."}};
        gd_access_own_tables(locks, lengthof(locks), look_for_rows, &d);
    }
    if (!d.any)
        return;

    Oid function = extension_function(objects->schema, "forget_tables", OIDARRAYOID);
    if (!OidIsValid(function))
        return;
    auto *elems = static_cast<Datum *>(palloc(sizeof(Datum) * n));
    for (int i = 0; i < n; i++)
        elems[i] = ObjectIdGetDatum(relids[i]);
    ForgetCall call{function, construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT)};
    // The drop fails rather than wait behind a DBA's lock for long, or
    // leave rows a new relation with the same OID would inherit.
    const GdOwnTableLock locks[] = {
        {d.policies, RowExclusiveLock,
         "guarded_ddl deletes the policy of a dropped relation from this table."},
        {d.approvals, RowExclusiveLock,
         "guarded_ddl marks the approvals of a dropped relation in this table."}};
    gd_access_own_tables(
        locks, lengthof(locks),
        [](void *arg) {
            auto *c = static_cast<ForgetCall *>(arg);
            (void)OidFunctionCall1(c->function, PointerGetDatum(c->relids));
        },
        &call);
}

} // namespace

GdDropMark gd_drop_mark(void) {
    statements_running++;
    return GdDropMark{dropped_generation, n_dropped};
}

void gd_drop_discard(GdDropMark mark) {
    statements_running--;
    if (mark.generation == dropped_generation && mark.n < n_dropped)
        n_dropped = mark.n;
}

void gd_drop_forget_since(GdDropMark mark) {
    statements_running--;
    int from = mark.generation == dropped_generation ? mark.n : 0;
    if (n_dropped <= from)
        return;
    int n = n_dropped - from;
    // Taken off the list first: an error below ends the statement, and the
    // rollback undoes the drops as well.
    auto *relids = static_cast<Oid *>(palloc(sizeof(Oid) * n));
    memcpy(relids, dropped + from, sizeof(Oid) * n);
    n_dropped = from;
    if (IsTransactionState())
        forget_relations(relids, n);
    pfree(relids);
}

namespace {

// guarded_ddl.table_policy_entry, once found in an installed extension,
// until a relcache invalidation for it (DROP EXTENSION, ALTER TABLE, ...)
// or for every relation: finding the extension is a scan of pg_extension,
// which has no syscache.
Oid cached_policy_table = InvalidOid;

// The policies read from that table, per relid (a relid without a policy
// too), until a relcache invalidation for the table. Every write to it
// sends one: its trigger table_policy_changed (statement level, enabled
// ALWAYS), seen by this backend at the end of the writing command (undone
// with a rolled-back (sub)transaction) and by the others at commit.
struct PolicyCacheEntry {
    Oid relid; // the key
    GdTablePolicy policy;
};
HTAB *policy_cache = nullptr;
// Counts the invalidations: a policy read while one came in is not kept.
uint64 policy_cache_generation = 0;
// A backend that touches this many tables starts over rather than grow.
constexpr long policy_cache_max_entries = 4096;

void forget_policy_table(Datum, Oid relid) {
    if (!OidIsValid(relid) || relid == cached_policy_table) {
        cached_policy_table = InvalidOid;
        ++policy_cache_generation;
        if (policy_cache != nullptr) {
            hash_destroy(policy_cache);
            policy_cache = nullptr;
        }
    }
}

Oid policy_table(void) {
    static bool callback_registered = false;
    if (OidIsValid(cached_policy_table))
        return cached_policy_table;
    Oid schema = extension_schema();
    Oid table = OidIsValid(schema) ? get_relname_relid("table_policy_entry", schema) : InvalidOid;
    if (OidIsValid(table) && !callback_registered) {
        CacheRegisterRelcacheCallback(forget_policy_table, 0);
        callback_registered = true;
    }
    cached_policy_table = table;
    return table;
}

struct PolicyRow {
    Oid table;
    Oid relid;
    bool found;
    bool large_null;
    bool large;
    char *rules; // NULL when null
};

// Reads relid's row of the policy table (a heap scan: the table is small)
// under a lock taken by gd_access_own_tables.
void read_policy_row(void *arg) {
    auto *row = static_cast<PolicyRow *>(arg);
    Relation rel = table_open(row->table, NoLock);
    ScanKeyData key;
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(row->relid));
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
    if (HeapTuple tuple = systable_getnext(scan); HeapTupleIsValid(tuple)) {
        TupleDesc desc = RelationGetDescr(rel);
        row->found = true;
        Datum large = heap_getattr(tuple, 2, desc, &row->large_null);
        if (!row->large_null)
            row->large = DatumGetBool(large);
        bool isnull;
        Datum rules_datum = heap_getattr(tuple, 3, desc, &isnull);
        if (!isnull)
            row->rules = TextDatumGetCString(rules_datum);
    }
    systable_endscan(scan);
    table_close(rel, NoLock);
}

GdTablePolicy read_table_policy(Oid table, Oid relid) {
    GdTablePolicy policy{std::nullopt, false, {}};
    PolicyRow row{table, relid, false, true, false, nullptr};
    const GdOwnTableLock lock{table, AccessShareLock,
                              "guarded_ddl reads the per-table policy from this table before "
                              "it judges a statement."};
    gd_access_own_tables(&lock, 1, read_policy_row, &row);
    // Held only for the read, as table_close would release it.
    UnlockRelationOid(table, AccessShareLock);
    if (row.found && !row.large_null)
        policy.large = row.large;
    char *rules = row.rules;

    if (rules != nullptr) {
        policy.has_rules = true;
        policy.rules =
            guarded_ddl::pg::invoke_cpp([&] { return guarded_ddl::parse_rule_overrides(rules); });
    }
    return policy;
}

} // namespace

extern "C" {
PG_FUNCTION_INFO_V1(gd_table_policy_changed);
}

// The statement-level trigger on table_policy_entry: the cached policies
// of every backend are dropped once the write commits (this one's at the
// end of the command).
extern "C" Datum gd_table_policy_changed(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("guarded_ddl.table_policy_changed() must be called as a trigger")));
    auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
    CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
    return PointerGetDatum(nullptr);
}

void gd_install_drop_watch(void) {
    prev_object_access_hook = object_access_hook;
    object_access_hook = watch_drops;
    RegisterXactCallback(forget_drops_at_end, nullptr);
}

GdTablePolicy gd_table_policy(Oid relid) {
    // Another session's committed write is seen by the next statement, as
    // when the table was read each time, even by a transaction that already
    // holds every lock it takes (no lock taken, no invalidation read).
    AcceptInvalidationMessages();
    Oid table = policy_table();
    if (!OidIsValid(table))
        return GdTablePolicy{std::nullopt, false, {}};

    if (policy_cache != nullptr) {
        auto *entry =
            static_cast<PolicyCacheEntry *>(hash_search(policy_cache, &relid, HASH_FIND, nullptr));
        if (entry != nullptr)
            return entry->policy;
    }

    uint64 generation = policy_cache_generation;
    GdTablePolicy policy = read_table_policy(table, relid);
    if (generation != policy_cache_generation)
        return policy;
    auto *entry = static_cast<PolicyCacheEntry *>(
        gd_oid_cache_enter(&policy_cache, "guarded_ddl table policies", sizeof(PolicyCacheEntry),
                           policy_cache_max_entries, relid, nullptr));
    entry->policy = policy;
    return policy;
}

bool gd_table_policy_at_hand(Oid relid) {
    AcceptInvalidationMessages();
    Oid table = policy_table();
    if (!OidIsValid(table) ||
        (policy_cache != nullptr && hash_search(policy_cache, &relid, HASH_FIND, nullptr)))
        return true;
    // Kept until the transaction ends, as the read would keep it.
    return ConditionalLockRelationOid(table, AccessShareLock);
}

namespace {

struct ApprovalCall {
    Oid function;
    text *rule;
    Oid relid;
    bool consume;
    int64 approval_id;
};

} // namespace

int64 gd_take_approval(guarded_ddl::RuleId rule, Oid relid, bool consume) {
    Oid schema = extension_schema();
    if (!OidIsValid(schema))
        return 0;
    Oid argtypes[3] = {TEXTOID, OIDOID, BOOLOID};
    oidvector *args = buildoidvector(argtypes, 3);
    Oid function =
        GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("take_approval"),
                        PointerGetDatum(args), ObjectIdGetDatum(schema));
    if (!OidIsValid(function))
        return 0;
    Oid table = get_relname_relid("approval", schema);
    if (!OidIsValid(table))
        return 0;
    std::string_view name = guarded_ddl::rule(rule).name;
    ApprovalCall call{function,
                      cstring_to_text_with_len(name.data(), static_cast<int>(name.size())), relid,
                      consume, 0};
    // Looking needs to read the table; taking a use updates a row, which
    // waits for another transaction holding it (a revoke in flight, or a
    // use by a statement whose lock does not conflict with this one): that
    // wait is bounded as well, and its end re-checks the row.
    const GdOwnTableLock lock{table, consume ? RowExclusiveLock : AccessShareLock,
                              "guarded_ddl looks for a DBA's approval in this table when a rule "
                              "would block a statement."};
    gd_access_own_tables(
        &lock, 1,
        [](void *arg) {
            auto *c = static_cast<ApprovalCall *>(arg);
            // Called by OID: fmgr honours SECURITY DEFINER, and no privilege
            // on the schema is needed, just as for the hook itself.
            c->approval_id = DatumGetInt64(OidFunctionCall3(c->function, PointerGetDatum(c->rule),
                                                            ObjectIdGetDatum(c->relid),
                                                            BoolGetDatum(c->consume)));
        },
        &call);
    return call.approval_id;
}
