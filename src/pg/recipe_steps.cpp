#include "pg/recipe_steps.hpp"

#include "pg/change_prediction.hpp"
#include "pg/recipe_history.hpp"
#include "pg/sql_text.hpp"
#include "pg/subtransaction.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/pg_inherits.h"
#include "catalog/partition.h"
#include "partitioning/partdesc.h"
#include "utils/fmgroids.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_type.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "parser/parser.h"
#include "parser/scanner.h"
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

void add_toplevel_step(GdRecipe *r, const char *sql, const char *failure_hint) {
    add_step(r, sql, nullptr);
    r->steps[r->n - 1].toplevel = true;
    r->steps[r->n - 1].failure_hint = failure_hint;
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

// PostgreSQL 18 catalogs NOT NULL as a constraint that can be added NOT
// VALID and validated under SHARE UPDATE EXCLUSIVE, which ends in the state
// SET NOT NULL gives, constraint name included, with no helper.
bool not_null_constraint_recipe(Oid relid, bool inh, const char *column_name, AttrNumber attnum,
                                GdRecipe *r) {
    const char *only = inh ? "" : "ONLY ";
    const char *table = qualified_relation(relid);
    const char *column = quote_identifier(column_name);
    bool valid;
    const char *name = gd_not_null_constraint(relid, attnum, &valid);
    bool exists = name != nullptr;
    if (!exists)
        name = ChooseConstraintName(get_rel_name(relid), column_name, "not_null",
                                    get_rel_namespace(relid), NIL);
    const char *qname = quote_identifier(name);
    add_step(r,
             psprintf("ALTER TABLE %s%s ADD CONSTRAINT %s NOT NULL %s NOT VALID", only, table,
                      qname, column),
             nullptr);
    add_step(r, psprintf("ALTER TABLE %s%s VALIDATE CONSTRAINT %s", only, table, qname), nullptr);
    if (exists)
        r->steps[0].done = psprintf("not-null constraint \"%s\" exists", name);
    if (exists && valid)
        r->steps[1].done = psprintf("column %s is NOT NULL already", column);
    return true;
}

bool set_not_null_recipe(const AlterTableStmt *stmt, const AlterTableCmd *cmd, GdRecipe *r,
                         const char **why) {
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    AttrNumber attnum = OidIsValid(relid) ? get_attnum(relid, cmd->name) : InvalidAttrNumber;
    if (attnum == InvalidAttrNumber) {
        *why = "The statement's table or column could not be found again.";
        return false;
    }
    if (gd_pg_major() >= 18)
        return not_null_constraint_recipe(relid, stmt->relation->inh, cmd->name, attnum, r);
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

// ---- Indexes: built and dropped CONCURRENTLY, at top level ----

// The column part of the name PostgreSQL gives an index without one
// (ChooseIndexColumnNames, ChooseIndexNameAddition): each column's name, or
// "expr" for an expression, a number appended to a repeated one, joined
// with underscores and cut at NAMEDATALEN.
char *index_name_addition(List *params) {
    List *names = NIL;
    ListCell *lc;
    foreach (lc, params) {
        const char *orig;
        if (IsA(lfirst(lc), String))
            orig = strVal(lfirst(lc));
        else {
            auto *elem = castNode(IndexElem, lfirst(lc));
            orig = elem->indexcolname != nullptr ? elem->indexcolname
                   : elem->name != nullptr       ? elem->name
                                                 : "expr";
        }
        char candidate[NAMEDATALEN];
        strlcpy(candidate, orig, NAMEDATALEN);
        for (int i = 1;; i++) {
            bool taken = false;
            ListCell *lc2;
            foreach (lc2, names)
                taken = taken || strcmp(strVal(lfirst(lc2)), candidate) == 0;
            if (!taken)
                break;
            char number[NAMEDATALEN];
            snprintf(number, sizeof number, "%d", i);
            int keep = pg_mbcliplen(orig, static_cast<int>(strlen(orig)),
                                    NAMEDATALEN - 1 - static_cast<int>(strlen(number)));
            snprintf(candidate, sizeof candidate, "%.*s%s", keep, orig, number);
        }
        names = lappend(names, makeString(pstrdup(candidate)));
    }
    return foreign_key_columns(names);
}

struct IndexState {
    bool exists;   // a relation of that name in the table's schema
    bool on_table; // an index of the table
    bool valid;    // ready and valid
};

IndexState index_state(Oid relid, const char *name) {
    IndexState st{false, false, false};
    Oid oid = get_relname_relid(name, get_rel_namespace(relid));
    if (!OidIsValid(oid))
        return st;
    st.exists = true;
    HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(oid));
    if (HeapTupleIsValid(tuple)) {
        auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        st.on_table = index->indrelid == relid;
        st.valid = index->indisvalid && index->indisready && index->indislive;
        ReleaseSysCache(tuple);
    }
    return st;
}

const char *rebuild_hint(const char *qindex) {
    return psprintf("A failed CONCURRENTLY build leaves the invalid index %s behind. Fix the cause "
                    "and run the same apply again: it drops the invalid index and builds it "
                    "again.",
                    qindex);
}

// The index steps: the build (CONCURRENTLY, at top level), preceded by
// dropping the invalid index an interrupted build left, or marked done when
// a valid index of that name is on the table.
void add_index_build(GdRecipe *r, Oid relid, const char *name, const char *build) {
    const char *qindex =
        quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
    IndexState st = index_state(relid, name);
    if (st.exists && st.on_table && !st.valid) {
        add_toplevel_step(r, psprintf("DROP INDEX CONCURRENTLY %s", qindex), nullptr);
        r->note =
            psprintf("%s%sThe invalid index %s an interrupted build left is dropped first.",
                     r->note != nullptr ? r->note : "", r->note != nullptr ? " " : "", qindex);
    }
    add_toplevel_step(r, build, rebuild_hint(qindex));
    if (st.exists && st.on_table && st.valid)
        r->steps[r->n - 1].done = psprintf("index %s exists and is valid", qindex);
}

// Where the INDEX keyword of a CREATE [UNIQUE] INDEX statement ends in
// text, or -1.
int index_keyword_end(const char *text) {
    core_yy_extra_type extra;
    core_YYSTYPE value;
    YYLTYPE loc;
    core_yyscan_t scanner = scanner_init(text, &extra, &ScanKeywords, ScanKeywordTokens);
    int end = -1;
    for (int i = 0; i < 3; i++) {
        if (core_yylex(&value, &loc, scanner) == 0)
            break;
        if (pg_strncasecmp(text + loc, "index", 5) == 0 &&
            !(IS_HIGHBIT_SET(text[loc + 5]) || isalnum(static_cast<unsigned char>(text[loc + 5])) ||
              text[loc + 5] == '_' || text[loc + 5] == '$')) {
            end = loc + 5;
            break;
        }
    }
    scanner_finish(scanner);
    return end;
}

// CREATE INDEX: the same statement, CONCURRENTLY.
bool create_index_recipe(const RawStmt *raw, const char *query, GdRecipe *r, const char **why) {
    auto *stmt = castNode(IndexStmt, raw->stmt);
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    if (!OidIsValid(relid)) {
        *why = "The statement's table could not be found again.";
        return false;
    }
    if (get_rel_relkind(relid) != RELKIND_RELATION && get_rel_relkind(relid) != RELKIND_MATVIEW) {
        *why = "PostgreSQL cannot build an index on a partitioned table CONCURRENTLY: build it on "
               "each partition CONCURRENTLY, then on the parent ON ONLY and ATTACH each "
               "partition's index.";
        return false;
    }
    int start, len;
    gd_statement_span(query, raw, &start, &len);
    char *text = pnstrdup(query + start, len);
    int end = index_keyword_end(text);
    if (end < 0) {
        *why = "The statement's INDEX keyword could not be found again.";
        return false;
    }
    const char *name = stmt->idxname;
    if (name == nullptr) {
        List *params = list_concat_copy(stmt->indexParams, stmt->indexIncludingParams);
        name = makeObjectName(get_rel_name(relid), index_name_addition(params),
                              stmt->unique ? "key" : "idx");
        r->note = psprintf("The index has no name: the recipe names it \"%s\", as PostgreSQL "
                           "would.",
                           name);
    }
    const char *build =
        psprintf("%.*s CONCURRENTLY%s%s%s", end, text, stmt->idxname == nullptr ? " " : "",
                 stmt->idxname == nullptr ? quote_identifier(name) : "", text + end);
    auto *expected = static_cast<IndexStmt *>(copyObjectImpl(stmt));
    expected->concurrent = true;
    expected->idxname = pstrdup(name);
    verify_step(build, reinterpret_cast<Node *>(expected));
    add_index_build(r, relid, name, build);
    return true;
}

// ALTER TABLE ... ADD UNIQUE / PRIMARY KEY: the unique index built
// CONCURRENTLY, then the constraint added USING INDEX (no build, no scan).
bool add_unique_recipe(const AlterTableStmt *stmt, const Constraint *con, GdRecipe *r,
                       const char **why) {
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION) {
        *why = "The recipe builds the index CONCURRENTLY, which PostgreSQL does on a plain table "
               "only.";
        return false;
    }
    if (con->indexname != nullptr || con->options != NIL || con->indexspace != nullptr ||
        con->keys == NIL) {
        *why = "The recipe applies to a constraint on a column list, without storage "
               "parameters or a tablespace for its index.";
        return false;
    }
    ListCell *lc;
    if (con->contype == CONSTR_PRIMARY)
        foreach (lc, con->keys) {
            AttrNumber attnum = get_attnum(relid, strVal(lfirst(lc)));
            HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
            bool not_null = HeapTupleIsValid(att) &&
                            reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att))->attnotnull;
            if (HeapTupleIsValid(att))
                ReleaseSysCache(att);
            if (!not_null) {
                *why = "A primary key needs its columns NOT NULL: run the SET NOT NULL recipe "
                       "for each column first.";
                return false;
            }
        }
    const char *relname = get_rel_name(relid);
    const char *name = con->conname;
    if (name == nullptr) {
        name = con->contype == CONSTR_PRIMARY
                   ? makeObjectName(relname, nullptr, "pkey")
                   : makeObjectName(
                         relname, index_name_addition(list_concat_copy(con->keys, con->including)),
                         "key");
        r->note = psprintf("The constraint has no name: the recipe names it and its index "
                           "\"%s\", as PostgreSQL would.",
                           name);
    }
    StringInfoData cols;
    initStringInfo(&cols);
    foreach (lc, con->keys)
        appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "",
                         quote_identifier(strVal(lfirst(lc))));
    StringInfoData include;
    initStringInfo(&include);
    foreach (lc, con->including)
        appendStringInfo(&include, "%s%s", include.len > 0 ? ", " : " INCLUDE (",
                         quote_identifier(strVal(lfirst(lc))));
    if (include.len > 0)
        appendStringInfoChar(&include, ')');
    const char *table = qualified_relation(relid);
    const char *qname = quote_identifier(name);
    const char *build =
        psprintf("CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (%s)%s%s", qname, table, cols.data,
                 include.data, con->nulls_not_distinct ? " NULLS NOT DISTINCT" : "");
    const char *attach = psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s%s%s", table,
                                  qname, con->contype == CONSTR_PRIMARY ? "PRIMARY KEY" : "UNIQUE",
                                  qname, con->deferrable ? " DEFERRABLE" : "",
                                  con->initdeferred ? " INITIALLY DEFERRED" : "");

    Oid conoid = get_relation_constraint_oid(relid, name, true);
    if (OidIsValid(conoid)) {
        HeapTuple tuple;
        Form_pg_constraint row = constraint_row(conoid, &tuple);
        bool same_kind =
            row != nullptr && row->contype == (con->contype == CONSTR_PRIMARY ? CONSTRAINT_PRIMARY
                                                                              : CONSTRAINT_UNIQUE);
        if (row != nullptr)
            ReleaseSysCache(tuple);
        if (same_kind) {
            const char *done = psprintf("constraint \"%s\" exists", name);
            add_toplevel_step(r, build, nullptr);
            r->steps[0].done = done;
            add_step(r, attach, done);
            return true;
        }
    }
    add_index_build(r, relid, name, build);
    add_step(r, attach, nullptr);
    return true;
}

// DROP INDEX: the same, CONCURRENTLY.
bool drop_index_recipe(const DropStmt *stmt, GdRecipe *r, const char **why) {
    if (stmt->removeType != OBJECT_INDEX || list_length(stmt->objects) != 1 ||
        stmt->behavior == DROP_CASCADE) {
        *why = "DROP INDEX CONCURRENTLY drops one index, without CASCADE: drop each index in a "
               "statement of its own.";
        return false;
    }
    RangeVar *rv = makeRangeVarFromNameList(static_cast<List *>(linitial(stmt->objects)));
    Oid index = RangeVarGetRelid(rv, NoLock, true);
    if (!OidIsValid(index) || get_rel_relkind(index) != RELKIND_INDEX) {
        *why = "PostgreSQL drops an index CONCURRENTLY only when it is the index of a plain "
               "table.";
        return false;
    }
    add_toplevel_step(r,
                      psprintf("DROP INDEX CONCURRENTLY %s%s", stmt->missing_ok ? "IF EXISTS " : "",
                               qualified_relation(index)),
                      nullptr);
    return true;
}

// ---- REINDEX: the same, CONCURRENTLY ----

// Whether name is one PostgreSQL gives the copies of index during REINDEX
// CONCURRENTLY (ChooseRelationName(<index>, NULL, "ccnew" / "ccold"): the
// index's name, cut to fit, then _ccnew or _ccold and perhaps a number).
// index null: the copy of any index.
bool is_reindex_copy(const char *name, const char *index) {
    const char *cc = nullptr;
    for (const char *p = strstr(name, "_cc"); p != nullptr; p = strstr(p + 1, "_cc"))
        if (strncmp(p, "_ccnew", 6) == 0 || strncmp(p, "_ccold", 6) == 0) {
            const char *q = p + 6;
            while (isdigit(static_cast<unsigned char>(*q)))
                q++;
            if (*q == '\0')
                cc = p;
        }
    if (cc == nullptr)
        return false;
    if (index == nullptr)
        return true;
    size_t prefix = static_cast<size_t>(cc - name);
    if (prefix == strlen(index))
        return strncmp(name, index, prefix) == 0;
    // Cut to fit NAMEDATALEN: the whole name is as long as a name may be.
    return prefix < strlen(index) && strlen(name) == NAMEDATALEN - 1 &&
           strncmp(name, index, prefix) == 0;
}

// The invalid indexes of table named as REINDEX CONCURRENTLY's copies of
// index (or of any index, when null): what an interrupted REINDEX
// CONCURRENTLY leaves. Read from pg_index directly, which also lists the
// indexes already marked dead.
List *reindex_leftovers(Oid table, const char *index) {
    List *found = NIL;
    Relation pg_index = table_open(IndexRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(table));
    SysScanDesc scan = systable_beginscan(pg_index, IndexIndrelidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto *row = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        if (row->indisvalid)
            continue;
        char *name = get_rel_name(row->indexrelid);
        if (name != nullptr && is_reindex_copy(name, index))
            found = lappend_oid(found, row->indexrelid);
    }
    systable_endscan(scan);
    table_close(pg_index, AccessShareLock);
    return found;
}

// REINDEX INDEX / TABLE of one index or table: the same, CONCURRENTLY (top
// level), after dropping (CONCURRENTLY) the invalid copies an interrupted
// REINDEX CONCURRENTLY left, which PostgreSQL keeps otherwise.
bool reindex_recipe(const ReindexStmt *stmt, GdRecipe *r, const char **why) {
    if (stmt->relation == nullptr ||
        (stmt->kind != REINDEX_OBJECT_INDEX && stmt->kind != REINDEX_OBJECT_TABLE)) {
        *why = "apply runs REINDEX CONCURRENTLY for REINDEX INDEX or REINDEX TABLE of one "
               "relation only.";
        return false;
    }
    bool verbose = false;
    ListCell *lc;
    foreach (lc, stmt->params) {
        auto *opt = lfirst_node(DefElem, lc);
        if (strcmp(opt->defname, "verbose") == 0 && defGetBoolean(opt))
            verbose = true;
        else if (strcmp(opt->defname, "verbose") != 0) {
            *why = "apply runs REINDEX CONCURRENTLY with no option but VERBOSE.";
            return false;
        }
    }
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    if (!OidIsValid(relid)) {
        *why = "The statement's relation could not be found again.";
        return false;
    }
    bool index = stmt->kind == REINDEX_OBJECT_INDEX;
    char kind = get_rel_relkind(relid);
    Oid table = index ? IndexGetRelation(relid, true) : relid;
    if ((index && kind != RELKIND_INDEX) ||
        (!index && kind != RELKIND_RELATION && kind != RELKIND_MATVIEW) || !OidIsValid(table) ||
        IsCatalogRelationOid(table)) {
        *why = "apply runs REINDEX CONCURRENTLY for a plain table or materialized view, or one of "
               "its indexes: reindex each partition in a statement of its own, and system "
               "catalogs cannot be reindexed CONCURRENTLY.";
        return false;
    }
    List *leftovers = reindex_leftovers(table, index ? get_rel_name(relid) : nullptr);
    if (list_length(leftovers) > gd_max_recipe_steps - 1) {
        *why = "An interrupted REINDEX CONCURRENTLY left more invalid indexes than apply drops in "
               "one recipe: drop them with DROP INDEX CONCURRENTLY first.";
        return false;
    }
    StringInfoData names;
    initStringInfo(&names);
    foreach (lc, leftovers) {
        const char *qindex = qualified_relation(lfirst_oid(lc));
        add_toplevel_step(r, psprintf("DROP INDEX CONCURRENTLY %s", qindex), nullptr);
        appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", qindex);
    }
    if (leftovers != NIL)
        r->note = psprintf("An interrupted REINDEX CONCURRENTLY left the invalid %s %s: %s first.",
                           list_length(leftovers) == 1 ? "index" : "indexes", names.data,
                           list_length(leftovers) == 1 ? "it is dropped" : "they are dropped");
    const char *target = qualified_relation(relid);
    add_toplevel_step(
        r,
        psprintf("REINDEX %s%s CONCURRENTLY %s", verbose ? "(VERBOSE) " : "",
                 index ? "INDEX" : "TABLE", target),
        psprintf("A failed REINDEX CONCURRENTLY leaves invalid indexes named <index>_ccnew or "
                 "<index>_ccold on the table. Fix the cause and run the same apply again: it "
                 "drops them and reindexes %s again.",
                 target));
    return true;
}

// ---- ALTER TABLE ... DETACH PARTITION: CONCURRENTLY, or FINALIZE ----

// Whether partition is marked "detach pending" under parent: a DETACH
// CONCURRENTLY was interrupted after its first transaction.
bool detach_pending(Oid partition, Oid parent) {
    bool pending = false;
    Relation inherits = table_open(InheritsRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(partition));
    SysScanDesc scan =
        systable_beginscan(inherits, InheritsRelidSeqnoIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto *row = reinterpret_cast<Form_pg_inherits>(GETSTRUCT(tuple));
        if (row->inhparent == parent && row->inhdetachpending)
            pending = true;
    }
    systable_endscan(scan);
    table_close(inherits, AccessShareLock);
    return pending;
}

bool detach_recipe(const AlterTableStmt *stmt, const AlterTableCmd *cmd, GdRecipe *r,
                   const char **why) {
    auto *partcmd = castNode(PartitionCmd, cmd->def);
    Oid parent = RangeVarGetRelid(stmt->relation, NoLock, true);
    Oid partition = RangeVarGetRelid(partcmd->name, NoLock, true);
    if (!OidIsValid(parent) || !OidIsValid(partition)) {
        *why = "The statement's table or partition could not be found again.";
        return false;
    }
    const char *qparent = qualified_relation(parent);
    const char *qpartition = qualified_relation(partition);
    if (detach_pending(partition, parent)) {
        r->note = psprintf("The partition %s is pending detach (an interrupted DETACH PARTITION "
                           "CONCURRENTLY): the recipe finishes it with FINALIZE.",
                           qpartition);
        add_toplevel_step(
            r, psprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE", qparent, qpartition),
            nullptr);
        return true;
    }
    Oid default_partition = get_default_partition_oid(parent);
    if (OidIsValid(default_partition)) {
        *why = psprintf("PostgreSQL cannot detach a partition CONCURRENTLY while the table has a "
                        "DEFAULT partition (%s).",
                        qualified_relation(default_partition));
        return false;
    }
    add_toplevel_step(
        r, psprintf("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY", qparent, qpartition),
        psprintf("An interrupted DETACH PARTITION CONCURRENTLY leaves %s pending detach. Run the "
                 "same apply again: it finishes the detach with FINALIZE.",
                 qpartition));
    return true;
}

// ---- REFRESH MATERIALIZED VIEW: CONCURRENTLY when PostgreSQL can ----

// PostgreSQL refreshes a materialized view CONCURRENTLY only when it has a
// unique index it can match rows with: valid, immediate, not partial, on
// plain columns only.
bool has_usable_unique_index(Oid matview) {
    bool usable = false;
    Relation pg_index = table_open(IndexRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_index_indrelid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(matview));
    SysScanDesc scan = systable_beginscan(pg_index, IndexIndrelidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple;
    while (!usable && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        auto *row = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
        if (!row->indisunique || !row->indimmediate || !row->indisvalid ||
            !heap_attisnull(tuple, Anum_pg_index_indpred, nullptr) || row->indnkeyatts <= 0)
            continue;
        bool columns_only = true;
        for (int i = 0; i < row->indnkeyatts; i++)
            columns_only = columns_only && row->indkey.values[i] > 0;
        usable = columns_only;
    }
    systable_endscan(scan);
    table_close(pg_index, AccessShareLock);
    return usable;
}

bool refresh_recipe(const RefreshMatViewStmt *stmt, GdRecipe *r, const char **why) {
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_MATVIEW) {
        *why = "The statement's materialized view could not be found again.";
        return false;
    }
    if (stmt->skipData) {
        *why = "WITH NO DATA empties the view: it has no CONCURRENTLY form.";
        return false;
    }
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    bool populated = HeapTupleIsValid(tuple) &&
                     reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relispopulated;
    if (HeapTupleIsValid(tuple))
        ReleaseSysCache(tuple);
    if (!populated) {
        *why = "PostgreSQL refreshes a materialized view CONCURRENTLY only once it is populated: "
               "populate it first (nobody can read it before).";
        return false;
    }
    if (!has_usable_unique_index(relid)) {
        *why = "PostgreSQL refreshes a materialized view CONCURRENTLY only when it has a unique "
               "index on plain columns, without WHERE: create one (CONCURRENTLY) first.";
        return false;
    }
    add_toplevel_step(
        r, psprintf("REFRESH MATERIALIZED VIEW CONCURRENTLY %s", qualified_relation(relid)),
        nullptr);
    return true;
}

// ---- ALTER TABLE ... ATTACH PARTITION: a CHECK proves the bound first ----

// The partition constraint the bound gives child under parent, as
// ATExecAttachPartition computes it (get_qual_from_partbound, and the
// parent's own partition constraint), written on child's columns.
char *partition_constraint_text(Oid parent, Oid child, PartitionBoundSpec *bound,
                                const char *query) {
    Relation parent_rel = table_open(parent, AccessShareLock);
    Relation child_rel = table_open(child, AccessShareLock);
    ParseState *pstate = make_parsestate(nullptr);
    pstate->p_sourcetext = query;
    PartitionBoundSpec *spec = transformPartitionBound(
        pstate, parent_rel, static_cast<PartitionBoundSpec *>(copyObjectImpl(bound)));
    List *qual = list_concat(get_qual_from_partbound(parent_rel, spec),
                             RelationGetPartitionQual(parent_rel));
    qual = map_partition_varattnos(qual, 1, child_rel, parent_rel);
    char *text =
        qual == NIL
            ? nullptr
            : deparse_expression(reinterpret_cast<Node *>(make_ands_explicit(qual)),
                                 deparse_context_for(get_rel_name(child), child), false, false);
    free_parsestate(pstate);
    table_close(child_rel, AccessShareLock);
    table_close(parent_rel, AccessShareLock);
    return text;
}

// Whether every value of the bound is a literal (perhaps cast), MINVALUE or
// MAXVALUE: the recipe computes the partition constraint before the ATTACH
// runs, and an expression in a bound could call a user's function, which
// the recipe never does.
bool bound_values_are_literals(const PartitionBoundSpec *bound) {
    List *lists[] = {bound->listdatums, bound->lowerdatums, bound->upperdatums};
    for (List *values : lists) {
        ListCell *lc;
        foreach (lc, values) {
            Node *value = static_cast<Node *>(lfirst(lc));
            if (IsA(value, TypeCast))
                value = castNode(TypeCast, value)->arg;
            if (!IsA(value, A_Const) &&
                !(IsA(value, ColumnRef) && list_length(castNode(ColumnRef, value)->fields) == 1))
                return false;
        }
    }
    return true;
}

// The helper constraint of the ATTACH recipe on child.
const char *attach_helper_name(Oid child) {
    return makeObjectName(get_rel_name(child), nullptr, "partition_bound");
}

// ATTACH PARTITION: ADD CONSTRAINT <helper> CHECK (<the partition
// constraint>) NOT VALID on the partition, VALIDATE (no blocking lock), the
// ATTACH itself (PostgreSQL skips its scan: the valid CHECK implies the
// partition constraint), DROP the helper.
bool attach_recipe(const RawStmt *raw, const char *query, GdRecipe *r, const char **why) {
    auto *stmt = castNode(AlterTableStmt, raw->stmt);
    auto *cmd = linitial_node(AlterTableCmd, stmt->cmds);
    auto *partcmd = castNode(PartitionCmd, cmd->def);
    Oid parent = RangeVarGetRelid(stmt->relation, NoLock, true);
    Oid child = RangeVarGetRelid(partcmd->name, NoLock, true);
    if (!OidIsValid(parent) || !OidIsValid(child) || partcmd->bound == nullptr) {
        *why = "The statement's table or partition could not be found again.";
        return false;
    }
    if (partcmd->bound->is_default) {
        *why = "A DEFAULT partition's constraint depends on every other partition: attach it "
               "while it is small, or with a DBA's approval.";
        return false;
    }
    if (get_rel_relkind(child) != RELKIND_RELATION &&
        get_rel_relkind(child) != RELKIND_PARTITIONED_TABLE) {
        *why = "apply runs the ATTACH recipe for a table only.";
        return false;
    }
    if (!bound_values_are_literals(partcmd->bound)) {
        *why = "apply runs the ATTACH recipe for a bound of literal values only: the recipe "
               "computes the partition constraint first, and never calls a function of the "
               "bound.";
        return false;
    }
    Oid default_partition = get_default_partition_oid(parent);
    if (OidIsValid(default_partition)) {
        *why = psprintf("The table has a DEFAULT partition (%s), which ATTACH scans for rows of "
                        "the new bound whatever the partition's constraints say.",
                        qualified_relation(default_partition));
        return false;
    }
    bool attached = get_rel_relispartition(child) && get_partition_parent(child, true) == parent;
    char *check = partition_constraint_text(parent, child, partcmd->bound, query);
    if (check == nullptr) {
        *why = "The partition's bound gives no constraint to check.";
        return false;
    }
    const char *helper = attach_helper_name(child);
    const char *qhelper = quote_identifier(helper);
    const char *qchild = qualified_relation(child);
    int start, len;
    gd_statement_span(query, raw, &start, &len);
    r->note = psprintf("The helper constraint is \"%s\" on %s.", helper, qchild);
    add_step(
        r,
        psprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s) NOT VALID", qchild, qhelper, check),
        nullptr);
    add_step(r, psprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", qchild, qhelper), nullptr);
    add_step(r, pnstrdup(query + start, len), nullptr);
    add_step(r, psprintf("ALTER TABLE %s DROP CONSTRAINT %s", qchild, qhelper), nullptr);
    Oid conoid = get_relation_constraint_oid(child, helper, true);
    bool helper_there = false;
    if (OidIsValid(conoid)) {
        HeapTuple tuple;
        Form_pg_constraint row = constraint_row(conoid, &tuple);
        if (row != nullptr) {
            helper_there = row->contype == CONSTRAINT_CHECK;
            if (helper_there) {
                r->steps[0].done = psprintf("helper constraint \"%s\" exists", helper);
                if (row->convalidated)
                    r->steps[1].done = psprintf("helper constraint \"%s\" is valid", helper);
            }
            ReleaseSysCache(tuple);
        }
    }
    if (attached) {
        for (int i = 0; i < 3; i++)
            if (r->steps[i].done == nullptr)
                r->steps[i].done =
                    psprintf("%s is a partition of %s already", qchild, qualified_relation(parent));
        if (!helper_there)
            r->steps[3].done = psprintf("no helper constraint \"%s\" is left", helper);
    }
    return true;
}

// ---- ALTER TABLE ... ADD COLUMN ... NOT NULL ----

// The rule fires for a NOT NULL column PostgreSQL must check by a scan: one
// with no default to fill the existing rows (with a constant default the
// guard lets the statement run, metadata only; with a default that may
// rewrite, another rule blocks it). Its rows need values first, which only
// its author can choose: no mechanical recipe, and the reason says what to
// do.
bool add_column_not_null_recipe(const AlterTableStmt *stmt, const ColumnDef *def,
                                const char **why) {
    Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
    if (!OidIsValid(relid)) {
        *why = "The statement's table could not be found again.";
        return false;
    }
    const char *table = qualified_relation(relid);
    *why = psprintf("A NOT NULL column without a default needs a value in every existing row "
                    "first: add it nullable (or with a constant default, which needs no scan), "
                    "fill it with CALL guarded_ddl.backfill('%s', ...), then run ALTER TABLE %s "
                    "ALTER COLUMN %s SET NOT NULL through apply.",
                    table, table, quote_identifier(def->colname));
    return false;
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
    case RuleId::CreateIndex:
    case RuleId::AddUniqueConstraint:
    case RuleId::DropIndex:
    case RuleId::Reindex:
    case RuleId::DetachPartition:
    case RuleId::RefreshMaterializedView:
    case RuleId::AttachPartitionScan:
        return true;
    default:
        return false;
    }
}

bool gd_recipe_leftover(const RawStmt *raw, const char *query, GdRecipe *recipe, RuleId *rule) {
    memset(recipe, 0, sizeof *recipe);
    const char *why;
    // CREATE INDEX whose index an earlier run built (valid: done) or left
    // invalid (dropped and built again): PostgreSQL refuses the statement
    // (the name is taken), so no rule blocks it.
    if (IsA(raw->stmt, IndexStmt) && !castNode(IndexStmt, raw->stmt)->concurrent) {
        auto *stmt = castNode(IndexStmt, raw->stmt);
        Oid relid = RangeVarGetRelid(stmt->relation, NoLock, true);
        if (!OidIsValid(relid) || !create_index_recipe(raw, query, recipe, &why))
            return false;
        *rule = RuleId::CreateIndex;
        // The build is done, or an invalid index is dropped first.
        return recipe->steps[recipe->n - 1].done != nullptr || recipe->n > 1;
    }
    const AlterTableCmd *cmd = single_command(raw->stmt, &why);
    if (cmd == nullptr)
        return false;
    // ATTACH PARTITION whose recipe attached the partition but left its
    // helper CHECK: PostgreSQL refuses the statement (already a partition),
    // so no rule blocks it; the recipe drops the helper.
    if (cmd->subtype == AT_AttachPartition && IsA(cmd->def, PartitionCmd)) {
        Oid parent = RangeVarGetRelid(castNode(AlterTableStmt, raw->stmt)->relation, NoLock, true);
        Oid child = RangeVarGetRelid(castNode(PartitionCmd, cmd->def)->name, NoLock, true);
        if (!OidIsValid(parent) || !OidIsValid(child) || !get_rel_relispartition(child) ||
            get_partition_parent(child, true) != parent ||
            !OidIsValid(get_relation_constraint_oid(child, attach_helper_name(child), true)))
            return false;
        if (!attach_recipe(raw, query, recipe, &why))
            return false;
        *rule = RuleId::AttachPartitionScan;
        return recipe->steps[2].done != nullptr && recipe->steps[3].done == nullptr;
    }
    if (cmd->subtype != AT_SetNotNull)
        return false;
    auto *stmt = castNode(AlterTableStmt, raw->stmt);
    if (!set_not_null_recipe(stmt, cmd, recipe, &why))
        return false;
    *rule = RuleId::SetNotNullScan;
    // The helper is there exactly when the recipe's first step is done.
    return recipe->steps[0].done != nullptr;
}

namespace {

// ---- Finished already: a rerun of a single-step recipe ----

// The earlier apply that ran the recipe of original and left its effect in
// place, as the audit log shows it, described for the NOTICE; null when the
// log shows none.
const char *earlier_recipe(const char *original, const char *command, const char *verb) {
    int64 id = gd_recipe_earlier_run(original, command);
    if (id == 0)
        return nullptr;
    return psprintf("recipe %lld, run by an earlier apply, %s it", static_cast<long long>(id),
                    verb);
}

// DROP INDEX of one index that is gone: done when an earlier apply ran its
// recipe (DROP INDEX CONCURRENTLY) without an error. Otherwise the name may
// be a typo, and PostgreSQL says the index does not exist.
const char *drop_index_done(const DropStmt *stmt, const char *original) {
    if (stmt->removeType != OBJECT_INDEX || list_length(stmt->objects) != 1 || stmt->missing_ok)
        return nullptr;
    RangeVar *rv = makeRangeVarFromNameList(static_cast<List *>(linitial(stmt->objects)));
    if (OidIsValid(RangeVarGetRelid(rv, NoLock, true)))
        return nullptr;
    const char *earlier = earlier_recipe(original, "DROP INDEX", "dropped");
    if (earlier == nullptr)
        return nullptr;
    return psprintf("index \"%s\" does not exist; %s", rv->relname, earlier);
}

// DETACH PARTITION of a table that is no partition of the parent (nor
// pending detach): done when an earlier apply ran its recipe without an
// error. Otherwise PostgreSQL says it is not a partition.
const char *detach_done(const AlterTableStmt *stmt, const AlterTableCmd *cmd,
                        const char *original) {
    auto *partcmd = castNode(PartitionCmd, cmd->def);
    Oid parent = RangeVarGetRelid(stmt->relation, NoLock, true);
    Oid partition = RangeVarGetRelid(partcmd->name, NoLock, true);
    if (!OidIsValid(parent) || !OidIsValid(partition) ||
        get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE)
        return nullptr;
    if (get_rel_relispartition(partition) && get_partition_parent(partition, true) == parent)
        return nullptr; // attached, or pending detach: the recipe's business
    const char *earlier = earlier_recipe(original, "ALTER TABLE", "detached");
    if (earlier == nullptr)
        return nullptr;
    return psprintf("%s is no partition of %s; %s", qualified_relation(partition),
                    qualified_relation(parent), earlier);
}

struct BoundCompare {
    Relation parent;
    PartitionBoundSpec *bound; // the statement's, raw
    const char *query;
    PartitionBoundSpec *transformed;
};

void transform_bound(void *arg) {
    auto *c = static_cast<BoundCompare *>(arg);
    ParseState *pstate = make_parsestate(nullptr);
    pstate->p_sourcetext = c->query;
    c->transformed = transformPartitionBound(
        pstate, c->parent, static_cast<PartitionBoundSpec *>(copyObjectImpl(c->bound)));
    free_parsestate(pstate);
}

// Whether child's bound under parent is the statement's bound, as
// PostgreSQL stores it (the bound transformed, its values coerced to the
// key's types). A bound that does not transform is not the same.
bool same_bound(Oid parent, Oid child, PartitionBoundSpec *bound, const char *query) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(child));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool isnull;
    Datum datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relpartbound, &isnull);
    Node *stored = isnull ? nullptr : static_cast<Node *>(stringToNode(TextDatumGetCString(datum)));
    ReleaseSysCache(tuple);
    if (stored == nullptr || !IsA(stored, PartitionBoundSpec))
        return false;
    auto *spec = castNode(PartitionBoundSpec, stored);
    if (bound->is_default || spec->is_default)
        return bound->is_default && spec->is_default;
    BoundCompare c{table_open(parent, AccessShareLock), bound, query, nullptr};
    if (get_partition_strategy(RelationGetPartitionKey(c.parent)) != bound->strategy) {
        table_close(c.parent, AccessShareLock);
        return false;
    }
    ErrorData *error = gd_try_in_subtransaction(transform_bound, &c);
    table_close(c.parent, AccessShareLock);
    if (error != nullptr) {
        if (gd_error_must_propagate(error->sqlerrcode))
            ReThrowError(error);
        return false;
    }
    return equal(c.transformed, spec);
}

// ATTACH PARTITION of a table that is a partition of that parent with that
// bound (not pending detach): the statement's effect is there, whoever
// attached it, so it is done; the catalogs prove it. Another bound, or
// another parent: PostgreSQL says it is a partition already.
const char *attach_done(const AlterTableStmt *stmt, const AlterTableCmd *cmd, const char *query) {
    auto *partcmd = castNode(PartitionCmd, cmd->def);
    Oid parent = RangeVarGetRelid(stmt->relation, NoLock, true);
    Oid child = RangeVarGetRelid(partcmd->name, NoLock, true);
    if (!OidIsValid(parent) || !OidIsValid(child) || partcmd->bound == nullptr ||
        get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE || !get_rel_relispartition(child) ||
        get_partition_parent(child, true) != parent || detach_pending(child, parent))
        return nullptr;
    // A bound's expression would be evaluated to compare it: never done.
    if (!bound_values_are_literals(partcmd->bound) ||
        !same_bound(parent, child, partcmd->bound, query))
        return nullptr;
    return psprintf("%s is a partition of %s with that bound already", qualified_relation(child),
                    qualified_relation(parent));
}

} // namespace

const char *gd_recipe_done_already(const RawStmt *raw, const char *query, const char *original) {
    if (IsA(raw->stmt, DropStmt))
        return drop_index_done(castNode(DropStmt, raw->stmt), original);
    const char *why;
    const AlterTableCmd *cmd = single_command(raw->stmt, &why);
    if (cmd == nullptr || !IsA(cmd->def, PartitionCmd))
        return nullptr;
    auto *stmt = castNode(AlterTableStmt, raw->stmt);
    if (cmd->subtype == AT_DetachPartition)
        return detach_done(stmt, cmd, original);
    if (cmd->subtype == AT_AttachPartition)
        return attach_done(stmt, cmd, query);
    return nullptr;
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
    case RuleId::CreateIndex:
        if (!IsA(stmt, IndexStmt)) {
            *why = "The recipe applies to CREATE INDEX only.";
            return false;
        }
        return create_index_recipe(raw, query, recipe, why);
    case RuleId::AddUniqueConstraint: {
        const AlterTableCmd *cmd = single_command(stmt, why);
        if (cmd == nullptr)
            return false;
        if (cmd->subtype != AT_AddConstraint || !IsA(cmd->def, Constraint) ||
            (castNode(Constraint, cmd->def)->contype != CONSTR_UNIQUE &&
             castNode(Constraint, cmd->def)->contype != CONSTR_PRIMARY)) {
            *why = "The recipe applies to ADD CONSTRAINT ... UNIQUE or PRIMARY KEY only.";
            return false;
        }
        return add_unique_recipe(castNode(AlterTableStmt, stmt), castNode(Constraint, cmd->def),
                                 recipe, why);
    }
    case RuleId::DropIndex:
        if (!IsA(stmt, DropStmt)) {
            *why = "The recipe applies to DROP INDEX only.";
            return false;
        }
        return drop_index_recipe(castNode(DropStmt, stmt), recipe, why);
    case RuleId::Reindex:
        if (!IsA(stmt, ReindexStmt)) {
            *why = "The recipe applies to REINDEX only.";
            return false;
        }
        return reindex_recipe(castNode(ReindexStmt, stmt), recipe, why);
    case RuleId::DetachPartition: {
        const AlterTableCmd *cmd = single_command(stmt, why);
        if (cmd == nullptr)
            return false;
        if (cmd->subtype != AT_DetachPartition || !IsA(cmd->def, PartitionCmd)) {
            *why = "The recipe applies to DETACH PARTITION only.";
            return false;
        }
        return detach_recipe(castNode(AlterTableStmt, stmt), cmd, recipe, why);
    }
    case RuleId::AddColumnNotNull: {
        const AlterTableCmd *cmd = single_command(stmt, why);
        if (cmd == nullptr)
            return false;
        if (cmd->subtype != AT_AddColumn || !IsA(cmd->def, ColumnDef)) {
            *why = "The recipe applies to ADD COLUMN only.";
            return false;
        }
        return add_column_not_null_recipe(castNode(AlterTableStmt, stmt),
                                          castNode(ColumnDef, cmd->def), why);
    }
    case RuleId::AttachPartitionScan: {
        const AlterTableCmd *cmd = single_command(stmt, why);
        if (cmd == nullptr)
            return false;
        if (cmd->subtype != AT_AttachPartition || !IsA(cmd->def, PartitionCmd)) {
            *why = "The recipe applies to ATTACH PARTITION only.";
            return false;
        }
        return attach_recipe(raw, query, recipe, why);
    }
    case RuleId::RefreshMaterializedView:
        if (!IsA(stmt, RefreshMatViewStmt)) {
            *why = "The recipe applies to REFRESH MATERIALIZED VIEW only.";
            return false;
        }
        return refresh_recipe(castNode(RefreshMatViewStmt, stmt), recipe, why);
    default:
        *why = "This rule has no mechanical recipe: the change needs a decision only its author "
               "can make.";
        return false;
    }
}
