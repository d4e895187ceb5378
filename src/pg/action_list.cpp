#include "pg/action_list.hpp"

#include "pg/text_state.hpp"

using guarded_ddl::Facts;
using guarded_ddl::Form;

Facts gd_facts_of(Form form) {
    Facts f;
    f.form = form;
    return f;
}

GdAction *GdActionList::add(Oid relid, LOCKMODE lock, const Facts &facts, GdPrivilege privilege,
                            const GdNames &names) {
    if (refused || n >= max || !OidIsValid(relid))
        return nullptr;
    char *nsp = get_namespace_name(get_rel_namespace(relid));
    char *rel = get_rel_name(relid);
    if (nsp == nullptr || rel == nullptr || !gd_has_privilege(relid, privilege, lock)) {
        refuse(); // dropped meanwhile, or not the session's to touch
        return nullptr;
    }
    GdAction *a = &out[n++];
    *a = GdAction{};
    a->relid = relid;
    a->lock = lock;
    a->privilege = privilege;
    guarded_ddl::Classification c = guarded_ddl::classify(facts);
    // PostgreSQL never scans, rewrites or indexes a foreign table's data.
    if (gd_relkind_in(relid, "f") &&
        (c.effect == guarded_ddl::Effect::Scan || c.effect == guarded_ddl::Effect::Rewrite ||
         c.effect == guarded_ddl::Effect::IndexBuild))
        c = guarded_ddl::classify(gd_facts_of(Form::Other));
    a->effect = c.effect;
    a->rule = c.rule;
    a->rollback = c.rollback;
    strlcpy(a->relation, quote_qualified_identifier(nsp, rel), sizeof a->relation);
    if (names.column != nullptr)
        strlcpy(a->column, names.column, sizeof a->column);
    if (names.constraint != nullptr)
        strlcpy(a->constraint_name, names.constraint, sizeof a->constraint_name);
    if (names.index != nullptr)
        strlcpy(a->index, names.index, sizeof a->index);
    return a;
}

Oid GdActionList::find(const RangeVar *rv, bool missing_ok) {
    if (rv == nullptr)
        return InvalidOid;
    if (gd_text_touches_relation(rv)) {
        unknowable("An earlier statement of the text creates, drops, renames or changes this "
                   "relation: what this statement finds under its name depends on what was done "
                   "since.");
        return InvalidOid;
    }
    Oid relid = RangeVarGetRelidExtended(rv, NoLock, RVR_MISSING_OK, nullptr, nullptr);
    if (!OidIsValid(relid) && !missing_ok)
        refuse();
    return relid;
}

bool GdActionList::require(Oid relid, const char *kinds, bool catalog_allowed) {
    if (!gd_relkind_in(relid, kinds) || (!catalog_allowed && gd_is_protected_catalog(relid)))
        refuse();
    return !refused;
}

bool GdActionList::touched_by_text(Oid relid, const char *column) {
    if (!gd_text_touches_column(relid, column))
        return false;
    unknowable("An earlier statement of the text adds, drops, renames or changes this column: "
               "what this statement does depends on what was done to it since.");
    return true;
}
