#!/usr/bin/env bash
# Pre-flight for pending migrations (see explain-in-ci.md), run in the
# migration project's directory against a CI or staging database, never
# against production: it deploys. For the next migration not yet applied it
# prints what guarded_ddl.explain() predicts for its SQL; if the guard would
# block a statement it stops (exit 1), else it applies that one migration and
# goes on with the next, so each is explained against the schema the ones
# before it produced.
#   bash explain_pending.sh sqitch db:pg:ci        (in the sqitch project)
#   bash explain_pending.sh node-pg-migrate        (in the npm project; PG* variables)
set -euo pipefail
tool=${1:?usage: explain_pending.sh sqitch TARGET | node-pg-migrate}
target=${2:-}

# next_migration: prints the name of the next pending migration (nothing when
# none is left); migration_sql NAME: its SQL; apply NAME: applies only it.
case $tool in
sqitch)
    next_migration() {
        local status
        status=$(sqitch status "$target" 2>&1 || true)
        if grep -q '^No changes deployed' <<<"$status"; then
            sqitch plan --no-headers --format format:%n "$target" | head -n 1
        else
            sed -n 's/^  \* //p' <<<"$status" | head -n 1
        fi
    }
    migration_sql() { cat "deploy/$1.sql"; }
    apply() { sqitch deploy --to "$1" "$target"; }
    ;;
node-pg-migrate)
    dry_run() { npx node-pg-migrate up 1 --dry-run --no-single-transaction; }
    next_migration() { dry_run | sed -n 's/^### MIGRATION \(.*\) (UP) ###$/\1/p'; }
    migration_sql() { # without the tool's own bookkeeping INSERT
        dry_run | sed -n '/^### MIGRATION/,/^Migrations complete!$/p' | sed '1d;$d' | grep -v '"pgmigrations"'
    }
    apply() { npx node-pg-migrate up 1 --no-single-transaction; }
    ;;
*) echo "unknown tool $tool" >&2; exit 2 ;;
esac

explain() { # explain SQL QUERY [psql options]: runs QUERY with :'sql' set to SQL
    psql -X -q -v ON_ERROR_STOP=1 -v sql="$1" "${@:3}" <<<"$2"
}

while name=$(next_migration) && [ -n "$name" ]; do
    sql=$(migration_sql "$name")
    echo "== $name"
    explain "$sql" "SELECT statement_no AS stmt, command, relation, lock_mode, effect, rule, verdict,
                           pg_size_pretty(relation_size) AS size
                      FROM guarded_ddl.explain(:'sql')
                     WHERE command NOT IN ('BEGIN', 'COMMIT')"
    blocked=$(explain "$sql" "SELECT count(*) FROM guarded_ddl.explain(:'sql') WHERE verdict = 'block'" -At)
    if [ "$blocked" -gt 0 ]; then
        echo "$name: guarded_ddl would block $blocked statement(s); the recipes: SELECT id, hint FROM guarded_ddl.rules()" >&2
        exit 1
    fi
    apply "$name"
done
echo "no pending migration left"
