#include "pg/change_prediction.hpp"

#include "core/type_narrowing.hpp"
#include "pg/catalog_scan.hpp"
#include "pg/text_state.hpp"

extern "C" {
#include "access/genam.h"
#include "access/transam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/tablecmds.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "utils/partcache.h"
#include "rewrite/rewriteHandler.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
}

#include <initializer_list>
#include <utility>

namespace {

// Prediction never runs user code: a function a role created could do
// anything, as whoever runs the statement, and would run again when the
// statement itself does. Where knowing the effect needs one, the guard
// assumes the worst instead.
bool is_user_function(Oid func, void *) {
    return func >= FirstNormalObjectId;
}

bool contains_user_code(Node *node, void *context = nullptr) {
    if (node == nullptr)
        return false;
    if (check_functions_in_node(node, is_user_function, nullptr))
        return true;
    // A domain's CHECK constraints are expressions of their own.
    if (IsA(node, CoerceToDomain) &&
        DomainHasConstraints(castNode(CoerceToDomain, node)->resulttype))
        return true;
    // PostgreSQL 15 declares the walker without parameters.
    auto walker = reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(contains_user_code));
    return expression_tree_walker(node, walker, context);
}

// The parser leaves DEFAULT, NOT NULL, identity and GENERATED in the
// constraint list; PostgreSQL only moves them into place later, after our hook.
struct ColumnFacts {
    Node *raw_default;
    bool not_null;
    bool identity;
    bool generated_stored;
    bool serial;
};

bool is_serial_type(const TypeName *type) {
    if (type->arrayBounds != NIL || list_length(type->names) > 2)
        return false;
    if (list_length(type->names) == 2 && strcmp(strVal(linitial(type->names)), "pg_catalog") != 0)
        return false;
    const char *name = strVal(llast(type->names));
    for (const char *serial :
         {"smallserial", "serial2", "serial", "serial4", "bigserial", "serial8"})
        if (strcmp(name, serial) == 0)
            return true;
    return false;
}

ColumnFacts column_facts(const ColumnDef *column) {
    ColumnFacts facts{column->raw_default, column->is_not_null, column->identity != '\0',
                      column->generated == ATTRIBUTE_GENERATED_STORED,
                      is_serial_type(column->typeName)};
    ListCell *lc;
    foreach (lc, column->constraints) {
        auto *con = castNode(Constraint, lfirst(lc));
        switch (con->contype) {
        case CONSTR_DEFAULT:
            facts.raw_default = con->raw_expr;
            break;
        case CONSTR_NOTNULL:
        case CONSTR_PRIMARY:
            facts.not_null = true;
            break;
        case CONSTR_IDENTITY:
            facts.identity = true;
            break;
        case CONSTR_GENERATED:
            // PostgreSQL 18's VIRTUAL columns are computed when read.
            facts.generated_stored = gd_generated_stored(con);
            break;
        default:
            break;
        }
    }
    return facts;
}

// What StoreAttrDefault decides: a default that is volatile after planning
// cannot be stored as the "missing" value, so every row must be written.
bool default_is_volatile(Node *raw_default, Oid typid, int32 typmod) {
    Node *expr;
    if (raw_default != nullptr) {
        ParseState *pstate = make_parsestate(nullptr);
        expr = transformExpr(pstate, raw_default, EXPR_KIND_COLUMN_DEFAULT);
        expr = coerce_to_target_type(pstate, expr, exprType(expr), typid, typmod,
                                     COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
        if (expr == nullptr)
            return false; // PostgreSQL reports the type mismatch itself
        assign_expr_collations(pstate, expr);
        free_parsestate(pstate);
    } else {
        expr = get_typdefault(typid); // a domain's own default
        if (expr == nullptr)
            return false;
    }
    // Planning folds immutable functions by calling them.
    if (contains_user_code(expr))
        return true;
    return contain_volatile_functions(
        reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(expr))));
}

// ATColumnChangeRequiresRewrite, on the planned conversion expression.
bool conversion_rewrites(Node *expr, AttrNumber attnum) {
    for (;;) {
        if (IsA(expr, Var) && castNode(Var, expr)->varattno == attnum)
            return false;
        if (IsA(expr, RelabelType)) {
            expr = reinterpret_cast<Node *>(castNode(RelabelType, expr)->arg);
        } else if (IsA(expr, CoerceToDomain)) {
            auto *d = castNode(CoerceToDomain, expr);
            if (DomainHasConstraints(d->resulttype))
                return true;
            expr = reinterpret_cast<Node *>(d->arg);
        } else if (IsA(expr, FuncExpr)) {
            auto *f = castNode(FuncExpr, expr);
            bool timestamp_switch =
                f->funcid == F_TIMESTAMPTZ_TIMESTAMP || f->funcid == F_TIMESTAMP_TIMESTAMPTZ;
            if (!timestamp_switch || TimestampTimestampTzRequiresRewrite())
                return true;
            expr = static_cast<Node *>(linitial(f->args));
        } else {
            return true;
        }
    }
}

// Calls fn on every CHECK constraint of relid (its pg_constraint row).
template <typename F> void for_each_check(Oid relid, F fn) {
    gd_scan_catalog_by_oid(ConstraintRelationId, ConstraintRelidTypidNameIndexId,
                           Anum_pg_constraint_conrelid, relid,
                           [&](Relation pg_constraint, HeapTuple tuple) {
                               auto *con = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tuple));
                               if (con->contype == CONSTRAINT_CHECK)
                                   fn(pg_constraint, tuple, con);
                           });
}

// Calls fn on relid's CHECK constraints that are valid by the time the
// statement runs: valid in the catalogs, or validated by an earlier
// statement of an explained text, and not dropped by one.
template <typename F> void for_each_valid_check(Oid relid, F fn) {
    for_each_check(relid, [&](Relation pg_constraint, HeapTuple tuple, Form_pg_constraint con) {
        const char *name = NameStr(con->conname);
        if (!gd_text_drops_constraint(relid, name) &&
            (con->convalidated || gd_text_validates_constraint(relid, name)))
            fn(pg_constraint, tuple);
    });
}

// A relation opened only if that needs no waiting: AccessShareLock taken
// with a try-lock and released again after the analysis. Null when the lock
// is not to be had at once, or the relation was dropped meanwhile.
Relation open_without_waiting(Oid relid, bool *locked) {
    *locked = false;
    if (!CheckRelationOidLockedByMe(relid, AccessShareLock, true)) {
        if (!ConditionalLockRelationOid(relid, AccessShareLock))
            return nullptr;
        *locked = true;
    }
    Relation rel = try_relation_open(relid, NoLock);
    if (rel == nullptr && *locked) {
        UnlockRelationOid(relid, AccessShareLock);
        *locked = false;
    }
    return rel;
}

void close_after_analysis(Relation rel, bool locked) {
    Oid relid = RelationGetRelid(rel);
    relation_close(rel, NoLock);
    if (locked)
        UnlockRelationOid(relid, AccessShareLock);
}

// A partition bound is transformed by evaluating its expressions: only
// constants (and MINVALUE / MAXVALUE) of types that are not domains, whose
// input runs their CHECK expressions, are evaluated without user code.
bool bound_values_are_plain(List *values) {
    ListCell *lc;
    foreach (lc, values) {
        auto *value = static_cast<Node *>(lfirst(lc));
        if (IsA(value, TypeCast)) {
            Type type = LookupTypeName(nullptr, castNode(TypeCast, value)->typeName, nullptr, true);
            if (type == nullptr)
                return false;
            bool domain =
                reinterpret_cast<Form_pg_type>(GETSTRUCT(type))->typtype == TYPTYPE_DOMAIN;
            ReleaseSysCache(type);
            if (domain)
                return false;
            value = castNode(TypeCast, value)->arg;
        }
        if (!IsA(value, A_Const) && !IsA(value, ColumnRef))
            return false;
    }
    return true;
}

bool bound_is_plain(Relation parent, const PartitionBoundSpec *bound) {
    PartitionKey key = RelationGetPartitionKey(parent);
    for (int i = 0; i < key->partnatts; i++)
        if (get_typtype(key->parttypid[i]) == TYPTYPE_DOMAIN)
            return false;
    return bound_values_are_plain(bound->listdatums) &&
           bound_values_are_plain(bound->lowerdatums) && bound_values_are_plain(bound->upperdatums);
}

// Whether a proof from relid's CHECK constraints would fold user functions.
bool checks_contain_user_code(Oid relid) {
    bool found = false;
    for_each_check(relid, [&](Relation pg_constraint, HeapTuple tuple, Form_pg_constraint) {
        bool isnull;
        Datum bin = heap_getattr(tuple, Anum_pg_constraint_conbin, RelationGetDescr(pg_constraint),
                                 &isnull);
        found = found ||
                (!isnull &&
                 contains_user_code(static_cast<Node *>(stringToNode(TextDatumGetCString(bin)))));
    });
    return found;
}

// A new CHECK's expression as written, parsed against its table as
// AddRelationNewConstraints does it.
Node *transform_check(Relation rel, Node *raw_expr) {
    ParseState *pstate = make_parsestate(nullptr);
    ParseNamespaceItem *item =
        addRangeTableEntryForRelation(pstate, rel, AccessShareLock, nullptr, false, true);
    addNSItemToQuery(pstate, item, true, true, true);
    Node *expr = transformExpr(pstate, static_cast<Node *>(copyObjectImpl(raw_expr)),
                               EXPR_KIND_CHECK_CONSTRAINT);
    free_parsestate(pstate);
    return expr;
}

// A valid CHECK's expression as a list of implicitly ANDed terms, with the
// preparation ConstraintImpliedByRelConstraint gives them; none when
// folding it would call a user's function.
List *proof_terms(Node *expr) {
    if (contains_user_code(expr))
        return NIL;
    expr = eval_const_expressions(nullptr, expr);
    expr = reinterpret_cast<Node *>(canonicalize_qual(reinterpret_cast<Expr *>(expr), true));
    return make_ands_implicit(reinterpret_cast<Expr *>(expr));
}

// The valid CHECKs an earlier statement of an explained text adds to relid.
List *text_proof_terms(Oid relid) {
    List *raws = gd_text_valid_checks(relid);
    bool locked;
    Relation rel = raws == NIL ? nullptr : open_without_waiting(relid, &locked);
    if (rel == nullptr)
        return NIL;
    List *terms = NIL;
    ListCell *lc;
    foreach (lc, raws)
        terms =
            list_concat(terms, proof_terms(transform_check(rel, static_cast<Node *>(lfirst(lc)))));
    close_after_analysis(rel, locked);
    return terms;
}

// att IS NOT NULL, as a proof term or a claim to prove.
NullTest *is_not_null(const FormData_pg_attribute *att) {
    NullTest *test = makeNode(NullTest);
    test->arg = reinterpret_cast<Expr *>(
        makeVar(1, att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0));
    test->nulltesttype = IS_NOT_NULL;
    test->argisrow = false;
    test->location = -1;
    return test;
}

// Whether a valid CHECK an explained text adds to relid uses the column.
bool text_checks_use(Oid relid, AttrNumber attnum) {
    List *raws = gd_text_valid_checks(relid);
    bool locked;
    Relation rel = raws == NIL ? nullptr : open_without_waiting(relid, &locked);
    if (rel == nullptr)
        return false;
    bool used = false;
    ListCell *lc;
    foreach (lc, raws) {
        Bitmapset *columns = nullptr;
        pull_varattnos(transform_check(rel, static_cast<Node *>(lfirst(lc))), 1, &columns);
        used = used || bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, columns);
    }
    close_after_analysis(rel, locked);
    return used;
}

// What relid's valid CHECKs prove, those an explained text validates or
// adds included.
List *check_proof_terms(Oid relid) {
    List *known = text_proof_terms(relid);
    for_each_valid_check(relid, [&](Relation pg_constraint, HeapTuple tuple) {
        bool isnull;
        Datum bin = heap_getattr(tuple, Anum_pg_constraint_conbin, RelationGetDescr(pg_constraint),
                                 &isnull);
        if (!isnull)
            known = list_concat(
                known, proof_terms(static_cast<Node *>(stringToNode(TextDatumGetCString(bin)))));
    });
    return known;
}

// PartConstraintImpliedByRelConstraint, with the CHECKs an explained text
// adds or validates on the partition taken as PostgreSQL would then have
// them: its NOT NULL columns and valid CHECKs imply the partition bound.
bool bound_implied(Relation partition, List *bound_qual) {
    if (gd_text_state == nullptr)
        return PartConstraintImpliedByRelConstraint(partition, bound_qual);
    List *known = check_proof_terms(RelationGetRelid(partition));
    TupleDesc desc = RelationGetDescr(partition);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (!att->attnotnull || att->attisdropped)
            continue;
        known = lappend(known, is_not_null(att));
    }
    return known != NIL && predicate_implied_by(bound_qual, known, false);
}

guarded_ddl::TypeKind type_kind(Oid type) {
    using guarded_ddl::TypeKind;
    switch (type) {
    case INT2OID:
        return TypeKind::Int2;
    case INT4OID:
        return TypeKind::Int4;
    case INT8OID:
        return TypeKind::Int8;
    case NUMERICOID:
        return TypeKind::Numeric;
    case FLOAT4OID:
        return TypeKind::Float4;
    case FLOAT8OID:
        return TypeKind::Float8;
    case TEXTOID:
        return TypeKind::Text;
    case VARCHAROID:
        return TypeKind::Varchar;
    case BPCHAROID:
        return TypeKind::Bpchar;
    case BITOID:
        return TypeKind::Bit;
    case VARBITOID:
        return TypeKind::Varbit;
    case TIMESTAMPOID:
        return TypeKind::Timestamp;
    case TIMESTAMPTZOID:
        return TypeKind::Timestamptz;
    case DATEOID:
        return TypeKind::Date;
    case TIMEOID:
        return TypeKind::Time;
    case TIMETZOID:
        return TypeKind::Timetz;
    case INTERVALOID:
        return TypeKind::Interval;
    default:
        return TypeKind::Other;
    }
}

// What one conversion step from (from, from_typmod) to (to, to_typmod) does
// to the values: a domain counts as its base type (its constraints refuse
// values, they change none), an array as its elements, to which its typmod
// applies.
guarded_ddl::Narrowing step_narrowing(Oid from, int32 from_typmod, Oid to, int32 to_typmod) {
    for (auto [type, typmod] :
         {std::pair<Oid *, int32 *>{&from, &from_typmod}, {&to, &to_typmod}}) {
        if (get_typtype(*type) == TYPTYPE_DOMAIN) {
            if (*typmod != -1)
                return guarded_ddl::Narrowing::Unknown;
            *type = getBaseTypeAndTypmod(*type, typmod);
        }
    }
    Oid from_element = get_element_type(from);
    Oid to_element = get_element_type(to);
    if (OidIsValid(from_element) != OidIsValid(to_element))
        return guarded_ddl::Narrowing::Unknown;
    if (OidIsValid(from_element)) {
        from = from_element;
        to = to_element;
    }
    return guarded_ddl::type_change_narrowing({type_kind(from), from_typmod},
                                              {type_kind(to), to_typmod});
}

// The type and typmod a TypeName names, found without running a typmod
// input function of a role's own (built-in ones validate and encode the
// modifiers, as PostgreSQL will a moment later). False when that cannot be
// known, or the type does not exist.
bool resolve_type_name(const TypeName *name, Oid *typid, int32 *typmod) {
    if (name->pct_type)
        return false; // %TYPE reads another relation's column
    Type type = LookupTypeName(nullptr, name, nullptr, true);
    if (type == nullptr)
        return false;
    *typid = typeTypeId(type);
    Oid typmodin = reinterpret_cast<Form_pg_type>(GETSTRUCT(type))->typmodin;
    ReleaseSysCache(type);
    if (name->typmods == NIL) {
        *typmod = name->typemod;
        return true;
    }
    if (!OidIsValid(typmodin) || typmodin >= FirstNormalObjectId)
        return false;
    type = LookupTypeName(nullptr, name, typmod, true);
    if (type == nullptr)
        return false;
    ReleaseSysCache(type);
    return true;
}

// A USING expression that is the column itself under casts, as in
// USING price::numeric(8,2): the casts' type names, innermost first, and true.
// False for anything that computes values.
bool using_casts(Node *expr, const char *column, const TypeName **casts, int max, int *n) {
    int depth = 0;
    const TypeName *outer_first[8];
    while (IsA(expr, TypeCast)) {
        if (depth == lengthof(outer_first) || depth == max)
            return false;
        outer_first[depth++] = castNode(TypeCast, expr)->typeName;
        expr = castNode(TypeCast, expr)->arg;
    }
    if (!IsA(expr, ColumnRef))
        return false;
    List *fields = castNode(ColumnRef, expr)->fields;
    if (list_length(fields) != 1 || !IsA(linitial(fields), String) ||
        strcmp(strVal(linitial(fields)), column) != 0)
        return false;
    for (int i = 0; i < depth; i++)
        casts[i] = outer_first[depth - 1 - i];
    *n = depth;
    return true;
}

} // namespace

bool gd_add_column_rewrites(const ColumnDef *column) {
    ColumnFacts facts = column_facts(column);
    if (facts.identity || facts.generated_stored || facts.serial)
        return true;
    Oid typid;
    int32 typmod;
    typenameTypeIdAndMod(nullptr, column->typeName, &typid, &typmod);
    return DomainHasConstraints(typid) || default_is_volatile(facts.raw_default, typid, typmod);
}

bool gd_add_column_has_default(const ColumnDef *column) {
    return column_facts(column).raw_default != nullptr;
}

bool gd_add_column_generates(const ColumnDef *column) {
    ColumnFacts facts = column_facts(column);
    return facts.identity || facts.generated_stored || facts.serial;
}

bool gd_add_column_scans(const ColumnDef *column) {
    ColumnFacts facts = column_facts(column);
    if (!facts.not_null || facts.raw_default != nullptr || facts.identity ||
        facts.generated_stored || facts.serial)
        return false;
    Oid typid;
    int32 typmod;
    typenameTypeIdAndMod(nullptr, column->typeName, &typid, &typmod);
    return get_typdefault(typid) == nullptr;
}

bool gd_type_change_rewrites(Oid relid, const AlterTableCmd *cmd) {
    auto *def = castNode(ColumnDef, cmd->def);
    if (def->raw_default != nullptr)
        return true; // USING: assumed to compute new values

    // A column an earlier statement of the same migration adds: explain()
    // cannot see it yet, and assuming the worst keeps it honest.
    HeapTuple tuple = SearchSysCacheAttName(relid, cmd->name);
    if (!HeapTupleIsValid(tuple))
        return true;
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
    Node *conversion = reinterpret_cast<Node *>(
        makeVar(1, att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0));
    AttrNumber attnum = att->attnum;
    Oid source_type = att->atttypid;
    ReleaseSysCache(tuple);

    Oid target_type;
    int32 target_typmod;
    typenameTypeIdAndMod(nullptr, def->typeName, &target_type, &target_typmod);
    ParseState *pstate = make_parsestate(nullptr);
    conversion = coerce_to_target_type(pstate, conversion, source_type, target_type, target_typmod,
                                       COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
    if (conversion == nullptr)
        return false; // no automatic cast: PostgreSQL refuses the statement
    assign_expr_collations(pstate, conversion);
    free_parsestate(pstate);
    if (contains_user_code(conversion))
        return true; // a cast function of a role's own computes new values
    // Planning lets the length-coercion support functions (varchar,
    // numeric, ...) drop no-op conversions, exactly as PostgreSQL does.
    conversion = reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(conversion)));
    return conversion_rewrites(conversion, attnum);
}

bool gd_type_change_loses_data(Oid relid, const AlterTableCmd *cmd) {
    auto *def = castNode(ColumnDef, cmd->def);
    const TypeName *casts[8];
    int n_casts = 0;
    // A USING expression computes new values: the old ones are kept only
    // when it is the column itself, cast (and judged cast by cast).
    if (def->raw_default != nullptr &&
        !using_casts(def->raw_default, cmd->name, casts, lengthof(casts), &n_casts))
        return true;

    HeapTuple tuple = SearchSysCacheAttName(relid, cmd->name);
    if (!HeapTupleIsValid(tuple))
        return false; // not there yet: no values to lose
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
    Oid type = att->atttypid;
    int32 typmod = att->atttypmod;
    ReleaseSysCache(tuple);

    for (int i = 0; i <= n_casts; i++) {
        Oid next_type;
        int32 next_typmod;
        if (!resolve_type_name(i < n_casts ? casts[i] : def->typeName, &next_type, &next_typmod))
            return false; // unknown: the rewrite prediction speaks for it
        if (step_narrowing(type, typmod, next_type, next_typmod) == guarded_ddl::Narrowing::Lossy)
            return true;
        type = next_type;
        typmod = next_typmod;
    }
    return false;
}

bool gd_column_has_checks(Oid relid, const char *column) {
    AttrNumber attnum = get_attnum(relid, column);
    bool found = false;
    if (attnum == InvalidAttrNumber)
        return false;
    // A NOT VALID one is added back NOT VALID, unscanned.
    for_each_valid_check(relid, [&](Relation pg_constraint, HeapTuple tuple) {
        bool isnull;
        Datum conkey = heap_getattr(tuple, Anum_pg_constraint_conkey,
                                    RelationGetDescr(pg_constraint), &isnull);
        if (isnull)
            return;
        ArrayType *keys = DatumGetArrayTypeP(conkey);
        auto *attnums = reinterpret_cast<int16 *>(ARR_DATA_PTR(keys));
        for (int i = 0; i < ARR_DIMS(keys)[0]; i++)
            found = found || attnums[i] == attnum;
    });
    return found || text_checks_use(relid, attnum);
}

const char *gd_not_null_constraint(Oid relid, AttrNumber attnum, bool *valid) {
    const char *name = nullptr;
    *valid = false;
    if (gd_pg_major() < 18)
        return nullptr;
    gd_scan_catalog_by_oid(ConstraintRelationId, ConstraintRelidTypidNameIndexId,
                           Anum_pg_constraint_conrelid, relid,
                           [&](Relation pg_constraint, HeapTuple tuple) {
                               auto *con = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tuple));
                               if (con->contype != GD_CONSTRAINT_NOT_NULL || name != nullptr)
                                   return;
                               bool isnull;
                               Datum keys = heap_getattr(tuple, Anum_pg_constraint_conkey,
                                                         RelationGetDescr(pg_constraint), &isnull);
                               if (isnull)
                                   return;
                               ArrayType *array = DatumGetArrayTypeP(keys);
                               if (ARR_NDIM(array) == 1 && ARR_DIMS(array)[0] == 1 &&
                                   !ARR_HASNULL(array) && ARR_ELEMTYPE(array) == INT2OID &&
                                   reinterpret_cast<int16 *>(ARR_DATA_PTR(array))[0] == attnum) {
                                   name = pstrdup(NameStr(con->conname));
                                   *valid = con->convalidated;
                               }
                           });
    return name;
}

bool gd_not_null_proven(Oid relid, const char *column) {
    HeapTuple tuple = SearchSysCacheAttName(relid, column);
    if (!HeapTupleIsValid(tuple))
        return false; // not there yet (see gd_type_change_rewrites): assume the scan
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tuple));
    if (att->attnotnull) {
        ReleaseSysCache(tuple);
        return true;
    }
    // PostgreSQL 18 validates a NOT VALID not-null constraint of the column
    // with a scan, whatever the CHECKs prove.
    bool valid;
    if (gd_not_null_constraint(relid, att->attnum, &valid) != nullptr) {
        ReleaseSysCache(tuple);
        return false;
    }
    NullTest *test = is_not_null(att);
    ReleaseSysCache(tuple);

    List *known = check_proof_terms(relid);
    return known != NIL && predicate_implied_by(list_make1(test), known, false);
}

bool gd_index_columns_not_null(Oid index_relid) {
    HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index_relid));
    if (!HeapTupleIsValid(tuple))
        return true;
    auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
    bool all_not_null = true;
    for (int i = 0; i < index->indnkeyatts && all_not_null; i++) {
        HeapTuple att = SearchSysCache2(ATTNUM, ObjectIdGetDatum(index->indrelid),
                                        Int16GetDatum(index->indkey.values[i]));
        if (HeapTupleIsValid(att)) {
            all_not_null = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(att))->attnotnull;
            ReleaseSysCache(att);
        }
    }
    ReleaseSysCache(tuple);
    return all_not_null;
}

bool gd_attach_bound_implied(Oid parent_relid, Oid partition_relid, PartitionBoundSpec *bound) {
    if (checks_contain_user_code(partition_relid))
        return false;
    bool parent_locked, partition_locked;
    Relation parent = open_without_waiting(parent_relid, &parent_locked);
    if (parent == nullptr)
        return false;
    Relation partition = open_without_waiting(partition_relid, &partition_locked);
    if (partition == nullptr) {
        close_after_analysis(parent, parent_locked);
        return false;
    }

    bool implied = false;
    // transformPartitionBound needs a partitioned parent with its key.
    if (parent->rd_rel->relkind == RELKIND_PARTITIONED_TABLE &&
        RelationGetPartitionKey(parent) != nullptr && bound_is_plain(parent, bound)) {
        ParseState *pstate = make_parsestate(nullptr);
        PartitionBoundSpec *cooked = transformPartitionBound(pstate, parent, bound);
        List *qual = get_qual_from_partbound(parent, cooked);
        qual = map_partition_varattnos(qual, 1, partition, parent);
        implied = bound_implied(partition, qual);
        free_parsestate(pstate);
    }

    close_after_analysis(partition, partition_locked);
    close_after_analysis(parent, parent_locked);
    return implied;
}

bool gd_check_columns_valid(Oid relid, Node *raw_expr) {
    bool locked;
    Relation rel = raw_expr == nullptr ? nullptr : open_without_waiting(relid, &locked);
    if (rel == nullptr)
        return true; // nothing to tell without waiting: PostgreSQL will
    Node *expr = transform_check(rel, raw_expr);
    Bitmapset *used = nullptr;
    pull_varattnos(expr, 1, &used);
    // Members are offset by FirstLowInvalidHeapAttributeNumber: those below
    // the offset of attnum 0 (the whole row) are system columns.
    bool system_column = bms_num_members(used) > 0 &&
                         bms_next_member(used, -1) < -FirstLowInvalidHeapAttributeNumber;
    close_after_analysis(rel, locked);
    return !system_column;
}
