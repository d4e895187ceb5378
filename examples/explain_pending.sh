#!/usr/bin/env bash
# Pre-flight for pending migrations (see explain-in-ci.md), run in the
# migration project's directory against a CI or staging database, never
# against production: it deploys. It explains every pending migration as one
# text, the way the tool will run them one after the other, with
# guarded_ddl.explain(); if the guard would block a statement it stops (exit
# 1) and applies nothing, else it applies them all.
#   bash explain_pending.sh sqitch db:pg:ci        (in the sqitch project)
#   bash explain_pending.sh node-pg-migrate        (in the npm project; PG* variables)
set -euo pipefail
tool=${1:?usage: explain_pending.sh sqitch TARGET | node-pg-migrate}
target=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pending: writes each pending migration's SQL to $work/NNN-NAME.sql, in
# the order the tool applies them; apply_all: applies every pending one.
case $tool in
sqitch)
    pending() {
        local status names
        status=$(sqitch status "$target" 2>&1 || true)
        if grep -q '^No changes deployed' <<<"$status"; then
            names=$(sqitch plan --no-headers --format format:%n "$target")
        else
            names=$(sed -n 's/^  \* //p' <<<"$status")
        fi
        local i=0 name
        for name in $names; do
            i=$((i + 1))
            cp "deploy/$name.sql" "$work/$(printf %03d $i)-$name.sql"
        done
    }
    apply_all() { sqitch deploy "$target"; }
    ;;
node-pg-migrate)
    pending() { # the dry run's SQL, migration by migration, without the tool's bookkeeping
        npx node-pg-migrate up --dry-run --no-single-transaction |
            awk -v dir="$work" '
                /^### MIGRATION .* \(UP\) ###$/ { n++; name = $3; file = sprintf("%s/%03d-%s.sql", dir, n, name); next }
                /^Migrations complete!$/ { file = ""; next }
                file != "" && !/"pgmigrations"/ { print > file }'
    }
    apply_all() { npx node-pg-migrate up --no-single-transaction; }
    ;;
*) echo "unknown tool $tool" >&2; exit 2 ;;
esac

psql_sql() { # psql_sql QUERY [psql options]: runs QUERY with :'sql' and :'ranges' set
    psql -X -q -v ON_ERROR_STOP=1 -v sql="$text" -v ranges="$ranges" "${@:2}" <<<"$1"
}

pending
shopt -s nullglob
files=("$work"/*.sql)
if [ ${#files[@]} -eq 0 ]; then
    echo "no pending migration left"
    exit 0
fi

# One text, and which of its statements come from which migration (each
# file ends with a ';' of its own: an empty statement is no statement).
text=""
ranges="["
last=0
for f in "${files[@]}"; do
    name=$(basename "$f" .sql)
    name=${name#*-}
    sql="$(cat "$f")"$'\n;\n'
    n=$(text="$sql" ranges="" psql_sql "SELECT coalesce(max(statement_no), 0) FROM guarded_ddl.explain(:'sql')" -At)
    [ "$last" -gt 0 ] && ranges+=","
    ranges+=$(printf '{"name":"%s","first":%d,"last":%d}' "$name" $((last + 1)) $((last + n)))
    last=$((last + n))
    text+=$sql
done
ranges+="]"

explained="guarded_ddl.explain(:'sql') AS e
           JOIN json_to_recordset(:'ranges') AS r(name text, first int, last int)
             ON e.statement_no BETWEEN r.first AND r.last"
psql_sql "SELECT r.name AS migration, e.statement_no AS stmt, e.command, e.relation, e.lock_mode,
                 e.effect, e.rule, e.verdict, pg_size_pretty(e.relation_size) AS size
            FROM $explained
           WHERE e.command NOT IN ('BEGIN', 'COMMIT')
           ORDER BY e.statement_no"
blocked=$(psql_sql "SELECT r.name || ': guarded_ddl would block ' || count(*) || ' statement(s)'
                      FROM $explained WHERE e.verdict = 'block'
                     GROUP BY r.name, r.first ORDER BY r.first" -At)
if [ -n "$blocked" ]; then
    echo "$blocked" >&2
    echo "nothing applied; the recipes: SELECT id, hint FROM guarded_ddl.rules()" >&2
    exit 1
fi
apply_all
echo "applied ${#files[@]} migration(s); no pending migration left"
