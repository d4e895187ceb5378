#!/usr/bin/env bash
# Part of the main job (demo/run.sh): the users.name split of examples/ run
# through real migration tools, sqitch and node-pg-migrate, each on a fresh
# production-sized database, with the backfill between expand and contract.
# Runs as the server's user with PGHOST, PGPORT and PGUSER set; prints every
# command and what the tool answered.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
examples=$(cd "$here/../examples" && pwd)
bg_output=$(mktemp)
trap 'rm -f "$bg_output"' EXIT
export SQITCH_FULLNAME='Demo' SQITCH_EMAIL='demo@example.invalid' NPM_CONFIG_UPDATE_NOTIFIER=false

step() { printf '\n=== %s\n' "$1"; shift; [ $# -eq 0 ] || printf '    %s\n' "$@"; }
# Prints the command, runs it, and says how it ended.
run() {
    printf '$ %s\n' "$*"
    "$@" 2>&1
    printf '(exit status %d)\n' $?
}
sql() {
    printf '$ psql -c "%s"\n' "$1"
    psql -X -q -c "$1" 2>&1
}
# With client_min_messages=debug1 the server also sends PostgreSQL's own
# DEBUG lines; keep only guarded_ddl's lock grants (a dropped line's sqitch
# progress prefix stays, and so does no LOCATION line after a DEBUG line).
lock_grants_only() {
    awk '/DEBUG: / && !/guarded_ddl: .* granted/ {
             i = index($0, "psql:"); if (i > 1) printf "%s", substr($0, 1, i - 1)
             skip = 1; next }
         /DEBUG: / { skip = 1; print; next }
         skip && /^LOCATION: / { skip = 0; next }
         { skip = 0; print }'
}
fresh_db() {
    createdb "$1" && PGDATABASE=$1 psql -X -q -v ON_ERROR_STOP=1 -f "$here/schema.sql" >/dev/null
}
# A reporting job, in the background, holding users for $1 seconds.
reporting_job() {
    psql -X -q -c "SET application_name = 'reporting-job'" -c 'BEGIN' \
        -c "SELECT pg_backend_pid(), count(*) FROM users" -c "SELECT pg_sleep($1)" -c 'COMMIT' \
        >/dev/null &
    sleep 0.5
}

export PGDATABASE=shop_sqitch
fresh_db "$PGDATABASE"
cd "$examples/migrations/sqitch" || exit 1
step "sqitch, on $PGDATABASE (users and orders: 300000 rows each)" \
    'The first attempt does everything in one change. guarded_ddl stops it at its' \
    'first dangerous statement; sqitch reports the change as failed, records' \
    'nothing as deployed, and the transaction leaves users as it was.'
run sqitch deploy --plan-file rejected/all_in_one.plan
run sqitch status
sql "SELECT string_agg(attname, ', ' ORDER BY attnum) AS users_columns FROM pg_attribute
      WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped"

step 'A foreign key added the naive way is rejected too.'
run sqitch deploy --plan-file rejected/orders_user_fk_direct.plan

step 'Expand: two nullable columns and an index built concurrently (a change' \
    'script without BEGIN/COMMIT). With client_min_messages=debug1 the guard' \
    'reports each lock it took, after how many bounded attempts.'
PGOPTIONS='-c client_min_messages=debug1' run sqitch deploy --to users_full_name_index | lock_grants_only

step 'Backfill, in batches, while the application (pgbench, 4 clients) reads' \
    'and writes users and orders. The first run is stopped after 2 seconds, as' \
    'a deploy or a Ctrl-C would stop it; the second carries on where it stopped.'
pgbench -n -c 4 -T 12 -D users=300000 -f "$examples/app_workload.sql" >"$bg_output" 2>&1 &
bench=$!
BATCH_SIZE=20000 PAUSE=0.05 run timeout 2 bash ../../backfill.sh
BATCH_SIZE=20000 PAUSE=0.05 run bash ../../backfill.sh
wait "$bench"
echo "pgbench exit status $?:"
grep -E 'processed|failed|latency average|^tps' "$bg_output"

step 'Contract: the NOT NULL proof, one change (one transaction) at a time.'
run sqitch deploy --to users_full_name_validate

step 'The next change meets a reporting job holding users. The guard never' \
    'queues behind it (readers go on); after its budget (2 s here) it fails' \
    'with 55P03 naming the job, and sqitch records nothing.'
reporting_job 4
PGOPTIONS='-c guarded_ddl.lock_budget=2s' run sqitch deploy --to users_full_name_not_null >"$bg_output" &
sleep 1
echo '(meanwhile, in another session)'
sql "SELECT count(*) AS queued_for_users FROM pg_locks WHERE relation = 'users'::regclass AND NOT granted"
sql "SET statement_timeout = '1s'; SELECT count(*) AS a_reader_of_users FROM users WHERE id <= 100"
wait
cat "$bg_output"

step 'Run again while a shorter job (2 s) holds users: the guard retries and' \
    'the change goes through right after the job ends.'
reporting_job 2
PGOPTIONS='-c client_min_messages=debug1' run sqitch deploy --to users_full_name_not_null | lock_grants_only
wait

step 'The rest of the plan stops at DROP COLUMN name until a DBA approves it.'
run sqitch deploy
sql "SELECT guarded_ddl.approve('drop_column', 'users', 'users.name unused since release 42')"
run sqitch deploy
step "What sqitch recorded: every deploy, and every failure, in its registry."
sql 'SELECT change, event, committed_at::time(0) FROM sqitch.events ORDER BY committed_at'

export PGDATABASE=shop_npm
fresh_db "$PGDATABASE"
cd "$examples/migrations/node-pg-migrate" || exit 1
step "node-pg-migrate $(node -p "require('./package.json').dependencies['node-pg-migrate']"), on $PGDATABASE" \
    'The all-in-one migration fails with the error object pg received: code GD001,' \
    'message, detail and hint. node-pg-migrate does not record it.'
npm ci --no-audit --no-fund --loglevel=error >/dev/null || exit 1
run npm run --silent migrate -- up --use-glob -m 'rejected/*_all_in_one.js'
sql 'SELECT count(*) AS recorded FROM pgmigrations'

step 'Expand, backfill, then every pending migration: each one runs in its own' \
    'transaction (--no-single-transaction), so the run stops at DROP COLUMN name' \
    'with the contract steps before it applied.'
run npm run --silent migrate -- up 2
BATCH_SIZE=50000 PAUSE=0 bash ../../backfill.sh | tail -1
run npm run --silent migrate -- up
sql "SELECT guarded_ddl.approve('drop_column', 'users', 'users.name unused since release 42')"
run npm run --silent migrate -- up
sql 'SELECT name, run_on::time(0) FROM pgmigrations ORDER BY id'

export PGDATABASE=shop_sqitch
step "The audit log of $PGDATABASE: the README's review queries (guarded_ddl.ddl_log," \
    'guarded_ddl.lock_log) answer what ran, what was blocked and why, the locks' \
    'taken and the waits, and who loosened the guard.'
sql 'SELECT guarded_ddl.flush()'
# The queries exactly as the README prints them.
awk '/^Review queries:/ { found = 1 } found && /^```sql/ { on = 1; next } on && /^```/ { exit } on' \
    "$here/../README.md" >"$bg_output"
psql -X -e -f "$bg_output" 2>&1
