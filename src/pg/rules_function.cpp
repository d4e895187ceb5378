// guarded_ddl.rules(): the rule catalogue with each rule's effective mode
// under the session's guarded_ddl.mode and guarded_ddl.rules.
#include "pg/prelude.hpp"

#include "core/form_classifier.hpp"
#include "core/rule_catalogue.hpp"
#include "core/rule_policy.hpp"
#include "pg/cpp_boundary.hpp"
#include "pg/report.hpp"
#include "pg/gucs.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(gd_rules);
PG_FUNCTION_INFO_V1(gd_check_rules_text);
}

// guarded_ddl.check_rules(text): validates a per-rule list for
// set_table_policy. The logic zone's Error crosses the C++ boundary and
// arrives as an ERROR with its SQLSTATE, DETAIL and HINT.
extern "C" Datum gd_check_rules_text(PG_FUNCTION_ARGS) {
    char *rules = text_to_cstring(PG_GETARG_TEXT_PP(0));
    guarded_ddl::pg::invoke_cpp([&] { (void)guarded_ddl::parse_rule_overrides(rules); });
    PG_RETURN_VOID();
}

extern "C" Datum gd_rules(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    auto global = static_cast<guarded_ddl::Mode>(gd_mode);

    for (const guarded_ddl::Rule &r : guarded_ddl::rule_catalogue()) {
        guarded_ddl::Mode mode =
            global == guarded_ddl::Mode::Off
                ? global
                : guarded_ddl::effective_mode(global, gd_rule_overrides(), r.id);
        char *recipe = guarded_ddl::pg::invoke_cpp([&] {
            std::string text = guarded_ddl::render_recipe(r, {});
            return guarded_ddl::pg::pg_call([&] { return pstrdup(text.c_str()); });
        });
        // The class of the usual statement the rule fires on; for
        // alter_column_type_rewrite a lossy change is data_restore instead.
        guarded_ddl::Rollback rollback =
            guarded_ddl::classify(guarded_ddl::typical_facts(r.id)).rollback;
        Datum values[7] = {gd_text_datum(r.name),
                           gd_text_datum(r.description),
                           gd_text_datum(r.lock),
                           gd_text_datum(guarded_ddl::effect_name(r.effect)),
                           gd_text_datum(guarded_ddl::rollback_name(rollback)),
                           gd_text_datum(guarded_ddl::mode_name(mode)),
                           CStringGetTextDatum(recipe)};
        bool nulls[7] = {};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}
