#include "pg/recipe_steps.hpp"

#include "pg/sql_text.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/syscache.h"
}

using guarded_ddl::RuleId;

namespace {

// ---- Names ----

char *qualified_relation(Oid relid) {
    return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                      get_rel_name(relid));
}

// ChooseForeignKeyConstraintNameAddition: the referencing columns' names
// joined with underscores, cut at NAMEDATALEN as PostgreSQL cuts them.
char *foreign_key_columns(List *columns) {
    char buf[NAMEDATALEN * 2];
    int used = 0;
    buf[0] = '\0';
    ListCell *lc;
    foreach (lc, columns) {
        const char *name = strVal(lfirst(lc));
        if (used > 0)
            buf[used++] = '_';
        strlcpy(buf + used, name, NAMEDATALEN);
        used += static_cast<int>(strlen(name));
        if (used >= NAMEDATALEN)
            break;
    }
    return pstrdup(buf);
}

// The distinct column names a raw CHECK expression refers to.
bool collect_columns(Node *node, void *context) {
    if (node == nullptr)
        return false;
    if (IsA(node, ColumnRef)) {
        auto **names = static_cast<List **>(context);
        Node *last = static_cast<Node *>(llast(castNode(ColumnRef, node)->fields));
        if (IsA(last, String)) {
            const char *name = strVal(last);
            ListCell *lc;
            bool seen = false;
            foreach (lc, *names)
                seen = seen || strcmp(strVal(lfirst(lc)), name) == 0;
            if (!seen)
                *names = lappend(*names, makeString(pstrdup(name)));
        }
        return false;
    }
    // PostgreSQL 15 declares the walker without parameters.
    auto walker = reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(collect_columns));
    return raw_expression_tree_walker(node, walker, context);
}

// The name PostgreSQL gives a constraint added without one
// (AddRelationNewConstraints, ATAddForeignKeyConstraint, domainAddConstraint):
// <table>_<column>_check when the CHECK reads one column, <table>_check
// otherwise, <table>_<columns>_fkey, <domain>_check. PostgreSQL appends a
// number when the name is taken elsewhere in the schema; the recipe does
// not, so that a rerun finds the constraint its earlier run added.
char *constraint_name(const char *owner, Oid relid, const Constraint *con) {
    if (con->contype == CONSTR_FOREIGN)
        return makeObjectName(owner, foreign_key_columns(con->fk_attrs), "fkey");
    List *names = NIL;
    collect_columns(con->raw_expr, &names);
    const char *column = nullptr;
    if (list_length(names) == 1 &&
        (!OidIsValid(relid) || get_attnum(relid, strVal(linitial(names))) != InvalidAttrNumber))
        column = strVal(linitial(names));
    return makeObjectName(owner, OidIsValid(relid) ? column : nullptr, "check");
}

// ---- Step text ----

// The constraint's own text in query: from where the parser saw it begin
// (CONSTRAINT or the constraint's keyword) to the end of the statement,
// which, with one command, is the constraint's end.
char *constraint_text(const char *query, const RawStmt *raw, const Constraint *con) {
    int start, len;
    gd_statement_span(query, raw, &start, &len);
    if (con->location < start || con->location >= start + len)
        return nullptr;
    return pnstrdup(query + con->location, start + len - con->location);
}

// What goes between the constraint's text and NOT VALID: a line break when
// the text may end in a -- comment.
const char *separator(const char *text) {
    return strstr(text, "--") != nullptr ? "\n" : " ";
}

// Parses the step and checks that it is the statement expected (locations
// aside): the text was built from parts the parser already read, and must
// mean exactly what the recipe means.
void verify_step(const char *sql, Node *expected) {
    List *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
    if (list_length(parsed) != 1 || !equal(linitial_node(RawStmt, parsed)->stmt, expected))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("guarded_ddl.apply: a recipe step does not say what the statement "
                               "says"),
                        errdetail("The step was: %s", sql)));
}

Form_pg_constraint constraint_row(Oid conoid, HeapTuple *tuple) {
    *tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
    if (!HeapTupleIsValid(*tuple))
        return nullptr;
    return reinterpret_cast<Form_pg_constraint>(GETSTRUCT(*tuple));
}

// Whether the constraint conoid is a CHECK on exactly the column attnum.
bool checks_only_column(HeapTuple tuple, AttrNumber attnum) {
    bool isnull;
    Datum conkey = SysCacheGetAttr(CONSTROID, tuple, Anum_pg_constraint_conkey, &isnull);
    if (isnull)
        return false;
    ArrayType *keys = DatumGetArrayTypeP(conkey);
    return ARR_NDIM(keys) == 1 && ARR_DIMS(keys)[0] == 1 &&
           reinterpret_cast<int16 *>(ARR_DATA_PTR(keys))[0] == attnum;
}

void add_step(GdRecipe *r, const char *sql, const char *done) {
    Assert(r->n < gd_max_recipe_steps);
    r->steps[r->n].sql = sql;
    r->steps[r->n].done = done;
    r->n++;
}

// Marks NOT VALID then VALIDATE done as far as the catalogs show: the
// constraint exists (of the same kind) and whether it is validated.
void mark_constraint_done(GdRecipe *r, int first, Oid conoid, char contype, const char *name) {
    if (!OidIsValid(conoid))
        return;
    HeapTuple tuple;
    Form_pg_constraint row = constraint_row(conoid, &tuple);
    if (row == nullptr)
        return;
    // Another kind of constraint by that name: the step runs, and
    // PostgreSQL says the name is taken.
    if (row->contype == contype) {
        r->steps[first].done = psprintf("constraint \"%s\" exists", name);
        if (row->convalidated)
            r->steps[first + 1].done = psprintf("constraint \"%s\" is valid", name);
    }
    ReleaseSysCache(tuple);
}

// ---- ALTER TABLE ... ADD CHECK / FOREIGN KEY: NOT VALID, then VALIDATE ----

bool add_constraint_recipe(const RawStmt *raw, const char *query, GdRecipe *r, const char **why) {
    auto *stmt = castNode(AlterTableStmt, raw->stmt);
    auto *cmd = linitial_node(AlterTableCmd, stmt->cmds);
    auto *con = castNode(Constraint, cmd->def);
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    char *text = constraint_text(query, raw, con);
    if (!OidIsValid(relid) || text == nullptr) {
        *why = "The statement's table or constraint could not be found again.";
        return false;
    }
    const char *name = con->conname;
    if (name == nullptr) {
        name = constraint_name(get_rel_name(relid), relid, con);
        r->note = psprintf("The constraint has no name: the recipe names it \"%s\", as PostgreSQL "
                           "would.",
                           name);
    }
    const char *only = stmt->relation->inh ? "" : "ONLY ";
    const char *table = qualified_relation(relid);

    // The statement itself, NOT VALID: what it says, and nothing else.
    const char *add = psprintf("ALTER TABLE %s%s ADD %s%s%s%s%sNOT VALID", only, table,
                               con->conname == nullptr ? "CONSTRAINT " : "",
                               con->conname == nullptr ? quote_identifier(name) : "",
                               con->conname == nullptr ? " " : "", text, separator(text));
    auto *expected = static_cast<AlterTableStmt *>(copyObjectImpl(stmt));
    expected->relation->schemaname = get_namespace_name(get_rel_namespace(relid));
    expected->relation->relname = get_rel_name(relid);
    expected->relation->catalogname = nullptr;
    expected->missing_ok = false;
    auto *expected_con = castNode(Constraint, linitial_node(AlterTableCmd, expected->cmds)->def);
    expected_con->conname = pstrdup(name);
    expected_con->skip_validation = true;
    expected_con->initially_valid = false;
    verify_step(add, reinterpret_cast<Node *>(expected));

    add_step(r, add, nullptr);
    add_step(
        r, psprintf("ALTER TABLE %s%s VALIDATE CONSTRAINT %s", only, table, quote_identifier(name)),
        nullptr);
    mark_constraint_done(r, 0, get_relation_constraint_oid(relid, name, true),
                         con->contype == CONSTR_FOREIGN ? CONSTRAINT_FOREIGN : CONSTRAINT_CHECK,
                         name);
    return true;
}

// ---- ALTER TABLE ... SET NOT NULL: a CHECK proves it first ----

bool set_not_null_recipe(const AlterTableStmt *stmt, const AlterTableCmd *cmd, GdRecipe *r,
                         const char **why) {
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    AttrNumber attnum = OidIsValid(relid) ? get_attnum(relid, cmd->name) : InvalidAttrNumber;
    if (attnum == InvalidAttrNumber) {
        *why = "The statement's table or column could not be found again.";
        return false;
    }
    const char *relname = get_rel_name(relid);
    const char *helper = makeObjectName(relname, cmd->name, "not_null");
    const char *only = stmt->relation->inh ? "" : "ONLY ";
    const char *table = qualified_relation(relid);
    const char *column = quote_identifier(cmd->name);
    const char *qhelper = quote_identifier(helper);
    r->note = psprintf("The helper constraint is \"%s\".", helper);

    add_step(r,
             psprintf("ALTER TABLE %s%s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", only,
                      table, qhelper, column),
             nullptr);
    add_step(r, psprintf("ALTER TABLE %s%s VALIDATE CONSTRAINT %s", only, table, qhelper), nullptr);
    add_step(r, psprintf("ALTER TABLE %s%s ALTER COLUMN %s SET NOT NULL", only, table, column),
             nullptr);
    add_step(r, psprintf("ALTER TABLE %s%s DROP CONSTRAINT %s", only, table, qhelper), nullptr);

    Oid conoid = get_relation_constraint_oid(relid, helper, true);
    bool helper_there = false;
    if (OidIsValid(conoid)) {
        HeapTuple tuple;
        Form_pg_constraint row = constraint_row(conoid, &tuple);
        if (row != nullptr) {
            helper_there = row->contype == CONSTRAINT_CHECK && checks_only_column(tuple, attnum);
            if (helper_there) {
                r->steps[0].done = psprintf("helper constraint \"%s\" exists", helper);
                if (row->convalidated)
                    r->steps[1].done = psprintf("helper constraint \"%s\" is valid", helper);
            }
            ReleaseSysCache(tuple);
        }
    }
    HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    bool not_null =
        HeapTupleIsValid(att) && reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att))->attnotnull;
    if (HeapTupleIsValid(att))
        ReleaseSysCache(att);
    if (not_null) {
        for (int i = 0; i < 3; i++)
            if (r->steps[i].done == nullptr)
                r->steps[i].done = psprintf("column %s is NOT NULL already", column);
        if (!helper_there)
            r->steps[3].done = psprintf("no helper constraint \"%s\" is left", helper);
    }
    return true;
}

// ---- ALTER DOMAIN ... ADD CONSTRAINT CHECK: NOT VALID, then VALIDATE ----

bool domain_constraint_recipe(const RawStmt *raw, const char *query, GdRecipe *r,
                              const char **why) {
    auto *stmt = castNode(AlterDomainStmt, raw->stmt);
    auto *con = castNode(Constraint, stmt->def);
    if (con->contype != CONSTR_CHECK) {
        *why = "Only a CHECK constraint of a domain can be added NOT VALID.";
        return false;
    }
    Oid domain = LookupTypeNameOid(nullptr, makeTypeNameFromNameList(stmt->typeName), true);
    char *text = constraint_text(query, raw, con);
    if (!OidIsValid(domain) || text == nullptr) {
        *why = "The statement's domain or constraint could not be found again.";
        return false;
    }
    HeapTuple type = SearchSysCache1(TYPEOID, ObjectIdGetDatum(domain));
    if (!HeapTupleIsValid(type)) {
        *why = "The statement's domain could not be found again.";
        return false;
    }
    auto *typ = reinterpret_cast<Form_pg_type>(GETSTRUCT(type));
    char *nsp = get_namespace_name(typ->typnamespace);
    char *typname = pstrdup(NameStr(typ->typname));
    ReleaseSysCache(type);

    const char *name = con->conname;
    if (name == nullptr) {
        name = constraint_name(typname, InvalidOid, con);
        r->note = psprintf("The constraint has no name: the recipe names it \"%s\", as PostgreSQL "
                           "would.",
                           name);
    }
    const char *qdomain = quote_qualified_identifier(nsp, typname);
    const char *add = psprintf("ALTER DOMAIN %s ADD %s%s%s%s%sNOT VALID", qdomain,
                               con->conname == nullptr ? "CONSTRAINT " : "",
                               con->conname == nullptr ? quote_identifier(name) : "",
                               con->conname == nullptr ? " " : "", text, separator(text));
    auto *expected = static_cast<AlterDomainStmt *>(copyObjectImpl(stmt));
    expected->typeName = list_make2(makeString(nsp), makeString(typname));
    expected->missing_ok = false;
    auto *expected_con = castNode(Constraint, expected->def);
    expected_con->conname = pstrdup(name);
    expected_con->skip_validation = true;
    expected_con->initially_valid = false;
    verify_step(add, reinterpret_cast<Node *>(expected));

    add_step(r, add, nullptr);
    add_step(r, psprintf("ALTER DOMAIN %s VALIDATE CONSTRAINT %s", qdomain, quote_identifier(name)),
             nullptr);
    mark_constraint_done(r, 0, get_domain_constraint_oid(domain, name, true), CONSTRAINT_CHECK,
                         name);
    return true;
}

// The one command of an ALTER TABLE, or null (with *why) when it has more:
// the recipe replaces a statement whole, and splitting a multi-command
// ALTER TABLE changes what runs together.
const AlterTableCmd *single_command(Node *stmt, const char **why) {
    if (!IsA(stmt, AlterTableStmt) || castNode(AlterTableStmt, stmt)->objtype != OBJECT_TABLE) {
        *why = "The recipe applies to ALTER TABLE only.";
        return nullptr;
    }
    List *cmds = castNode(AlterTableStmt, stmt)->cmds;
    if (list_length(cmds) != 1) {
        *why = "apply runs the recipe of an ALTER TABLE with a single command: split the "
               "statement into one ALTER TABLE per command.";
        return nullptr;
    }
    return linitial_node(AlterTableCmd, cmds);
}

} // namespace

bool gd_rule_has_recipe(RuleId rule) {
    switch (rule) {
    case RuleId::AddCheckConstraint:
    case RuleId::AddForeignKey:
    case RuleId::SetNotNullScan:
    case RuleId::AlterDomainAddConstraint:
        return true;
    default:
        return false;
    }
}

bool gd_recipe_leftover(const RawStmt *raw, GdRecipe *recipe) {
    memset(recipe, 0, sizeof *recipe);
    const char *why;
    const AlterTableCmd *cmd = single_command(raw->stmt, &why);
    if (cmd == nullptr || cmd->subtype != AT_SetNotNull)
        return false;
    auto *stmt = castNode(AlterTableStmt, raw->stmt);
    if (!set_not_null_recipe(stmt, cmd, recipe, &why))
        return false;
    // The helper is there exactly when the recipe's first step is done.
    return recipe->steps[0].done != nullptr;
}

bool gd_recipe_plan(RuleId rule, const RawStmt *raw, const char *query, GdRecipe *recipe,
                    const char **why) {
    memset(recipe, 0, sizeof *recipe);
    Node *stmt = raw->stmt;
    switch (rule) {
    case RuleId::AddCheckConstraint:
    case RuleId::AddForeignKey: {
        const AlterTableCmd *cmd = single_command(stmt, why);
        if (cmd == nullptr)
            return false;
        if (cmd->subtype != AT_AddConstraint || !IsA(cmd->def, Constraint) ||
            (castNode(Constraint, cmd->def)->contype != CONSTR_CHECK &&
             castNode(Constraint, cmd->def)->contype != CONSTR_FOREIGN)) {
            *why = "The recipe applies to ADD CONSTRAINT ... CHECK or FOREIGN KEY only.";
            return false;
        }
        return add_constraint_recipe(raw, query, recipe, why);
    }
    case RuleId::SetNotNullScan: {
        const AlterTableCmd *cmd = single_command(stmt, why);
        if (cmd == nullptr)
            return false;
        if (cmd->subtype != AT_SetNotNull) {
            *why = "The recipe applies to ALTER COLUMN ... SET NOT NULL only.";
            return false;
        }
        return set_not_null_recipe(castNode(AlterTableStmt, stmt), cmd, recipe, why);
    }
    case RuleId::AlterDomainAddConstraint:
        if (!IsA(stmt, AlterDomainStmt) || castNode(AlterDomainStmt, stmt)->subtype != 'C') {
            *why = "The recipe applies to ALTER DOMAIN ... ADD CONSTRAINT only.";
            return false;
        }
        return domain_constraint_recipe(raw, query, recipe, why);
    default:
        *why = "This rule has no mechanical recipe: the change needs a decision only its author "
               "can make.";
        return false;
    }
}
