#!/usr/bin/env bash
# Per-statement cost of guarded_ddl's classification and rules on cheap DDL
# (issue 4): ALTER TABLE small ADD COLUMN / DROP COLUMN, guarded_ddl against
# vanilla, both from the same sandbox binaries.
#   1. Instructions (exact, repeatable), callgrind's total Ir of a run of N
#      statements minus an empty run, divided by N: `postgres --single`
#      (the hook alone), then one session of a running server (the hook and
#      the extension's event triggers).
#   2. Wall clock: pgbench TPS against a vanilla and a guarded server in
#      alternating rounds (A B A B ...), ratio of the medians and its spread.
#   3. guarded_ddl.explain() throughput: statements explained per second
#      (pgbench) and instructions per explained statement (callgrind).
# Method and how to read it: bench/ddl_cost.md. Reproduce:
#   bash bench/ddl_cost.sh > bench/results/ddl_cost.txt
# GD_BENCH_CONF: lines appended to the guarded server's postgresql.conf;
# default "guarded_ddl.audit = off" (classification and rules alone, the
# issue 4 measurement). GD_BENCH_CONF= (empty) measures with the audit log on.
# For debugging only: DC_KEEP=1 keeps the sandbox (callgrind files in $GD_WORK).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

N=${N:-200}                               # DDL statements per callgrind run
ROUNDS=${ROUNDS:-8}                       # pgbench DDL rounds per server
TXNS_PER_ROUND=${TXNS_PER_ROUND:-3000}    # ADD+DROP pairs per round, on 10 tables (each at most 1600 attnums)
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-5} # explain() rounds
EXPLAIN_ROUNDS=${EXPLAIN_ROUNDS:-3}
EXPLAIN_REPEAT=25                         # copies of the explain() calls per callgrind run
GD_BENCH_CONF=${GD_BENCH_CONF-guarded_ddl.audit = off}

# What explain() is asked about, one call each; the last is a multi-statement string.
EXPLAIN_INPUTS=(
    "ALTER TABLE big ADD COLUMN x int DEFAULT 0"
    "ALTER TABLE big ALTER COLUMN v SET NOT NULL"
    "CREATE INDEX big_v ON big (v)"
    "ALTER TABLE big ADD COLUMN x int DEFAULT 0; ALTER TABLE big ALTER COLUMN v TYPE bigint; CREATE INDEX CONCURRENTLY big_v ON big (v); ALTER TABLE small DROP COLUMN v"
)

SMALL_SQL="
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT g, 'row ' || g FROM generate_series(1, 5) g;"
BIG_SQL="CREATE TABLE big (id int PRIMARY KEY, v int);"
GUARD_SQL="
CREATE EXTENSION guarded_ddl;
SELECT guarded_ddl.set_table_policy('big', large => true);"

gd_install_deps valgrind
gd_build
cleanup() {
    for GD_DATA in "$GD_WORK"/pgdata-* "$GD_WORK"/run-*; do
        if [ -d "$GD_DATA" ]; then gd_stop_server; fi
    done
    if [ -n "${DC_KEEP:-}" ]; then gd_log "kept $GD_SANDBOX"; else gd_remove_sandbox; fi
}
trap cleanup EXIT
gd_make_sandbox

# Two servers from the same binaries, the same tables; only the guarded one
# preloads guarded_ddl and has the extension (its event triggers would
# otherwise fire, and load the library, on the vanilla one too).
GD_PRELOAD='' gd_start_server vanilla
vanilla_port=$GD_PORT vanilla_data=$GD_DATA
gd_psql -d postgres -q -v ON_ERROR_STOP=1 -c "$SMALL_SQL" -c "$BIG_SQL" >/dev/null
gd_start_server guarded
guarded_port=$GD_PORT guarded_data=$GD_DATA
gd_psql -d postgres -q -v ON_ERROR_STOP=1 -c "$SMALL_SQL" -c "$BIG_SQL" -c "$GUARD_SQL" >/dev/null
[ -z "$GD_BENCH_CONF" ] || printf '%s\n' "$GD_BENCH_CONF" >>"$guarded_data/postgresql.conf"

# Both stopped and copied: every callgrind run works on a fresh copy, so all
# of them start from the same catalogs.
for GD_DATA in "$vanilla_data" "$guarded_data"; do
    gd_stop_server
    gd_as_user cp -a "$GD_DATA" "$GD_DATA.template"
done

: >"$GD_WORK/empty.sql"
for _ in $(seq "$((N / 2))"); do
    printf 'ALTER TABLE small ADD COLUMN c int;\nALTER TABLE small DROP COLUMN c;\n'
done >"$GD_WORK/ddl_n.sql"
printf '\\set t random(1, 10)\nALTER TABLE small_:t ADD COLUMN c int;\nALTER TABLE small_:t DROP COLUMN c;\n' \
    >"$GD_WORK/ddl.sql"
for input in "${EXPLAIN_INPUTS[@]}"; do
    printf "SELECT * FROM guarded_ddl.explain('%s');\n" "$input"
done >"$GD_WORK/explain.sql"
for _ in $(seq "$EXPLAIN_REPEAT"); do cat "$GD_WORK/explain.sql"; done >"$GD_WORK/explain_n.sql"
chmod a+r "$GD_WORK"/*.sql

fresh_copy() { # fresh_copy vanilla|guarded -> data directory
    local run="$GD_WORK/run-$1"
    rm -rf "$run"
    gd_as_user cp -a "$GD_WORK/pgdata-$1.template" "$run"
    echo "$run"
}
total_ir() { sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$1"; }
check_log() { ! grep -E 'ERROR|FATAL|PANIC' "$1" || gd_die "a statement failed (see $1)"; }

# Total instructions of one `postgres --single` run of FILE.
single_ir() { # single_ir vanilla|guarded FILE
    local run
    run=$(fresh_copy "$1")
    gd_as_user valgrind --tool=callgrind --callgrind-out-file="$run.cg" postgres --single -D "$run" postgres \
        <"$2" >"$run.log" 2>&1 || gd_die "single-user run failed (see $run.log)"
    check_log "$run.log"
    total_ir "$run.cg"
}

# Instructions of one session running FILE through psql against a server run
# under callgrind; only what happens inside PostgresMain (the backend, from
# its start-up to its exit) is counted.
session_ir() { # session_ir vanilla|guarded FILE
    local run pid
    run=$(fresh_copy "$1")
    gd_as_user valgrind --tool=callgrind --callgrind-out-file="$run.cg.%p" --toggle-collect=PostgresMain \
        postgres -D "$run" >"$run.server.log" 2>&1 &
    local port
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$run/postgresql.conf" | tail -1)
    for _ in $(seq 120); do gd_as_user pg_isready -q -h "$GD_SOCKET" -p "$port" && break; sleep 1; done
    pid=$(gd_as_user psql -X -q -At -h "$GD_SOCKET" -p "$port" -U postgres -d postgres \
        -c 'SELECT pg_backend_pid()' -f "$2" 2>"$run.log" | head -1)
    gd_as_user pg_ctl -D "$run" -m fast -w -t 120 stop >/dev/null
    wait
    check_log "$run.log"
    mv "$run.cg.$pid" "$run.session.cg"
    rm -f "$run".cg.[0-9]*
    total_ir "$run.session.cg"
}

# Inclusive instructions of the functions whose "file:name" matches REGEX,
# summed, per DDL statement. callgrind_annotate may list a function twice,
# under its source file's absolute and relative names: counted once.
ir_in() { # ir_in CALLGRIND_FILE REGEX
    callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$1" 2>/dev/null |
        awk -v re="$2" -v n="$N" '$0 ~ re && !seen[$1]++ { gsub(",", "", $1); s += $1 }
            END { printf "%.0f", s / n }'
}

per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.0f", (a - b) / n }'; }

echo "command: bash bench/ddl_cost.sh   (N=$N, ROUNDS=$ROUNDS, $TXNS_PER_ROUND ADD+DROP pairs per round, 1 client)"
echo "tree $(git -C "$GD_ROOT" describe --always --dirty); $(nproc) CPUs; $("$GD_BIN/postgres" --version); $(valgrind --version)"
echo "guarded server extra settings (GD_BENCH_CONF): ${GD_BENCH_CONF:-none}"
echo
echo "1. Instructions (callgrind Ir) per statement: $N statements, ALTER TABLE small ADD COLUMN c int"
echo "   and DROP COLUMN c alternately, minus an empty run, / $N; ratio = vanilla / guarded"
declare -A per_statement
for mode in single session; do
    for config in vanilla guarded; do
        empty=$("${mode}_ir" "$config" "$GD_WORK/empty.sql")
        ddl=$("${mode}_ir" "$config" "$GD_WORK/ddl_n.sql")
        per_statement[$mode $config]=$(per "$ddl" "$empty" "$N")
        printf '   %-16s empty %11d  with DDL %11d  per statement %7d\n' \
            "$mode $config" "$empty" "$ddl" "${per_statement[$mode $config]}"
    done
done
for mode in single session; do
    awk -v m="$mode" -v v="${per_statement[$mode vanilla]}" -v g="${per_statement[$mode guarded]}" 'BEGIN {
        printf "   %-8s ratio %.3f, guarded_ddl adds %d instructions per statement (%.1f %%)\n",
            m, v / g, g - v, 100 * (g - v) / v }'
done
cg=$GD_WORK/run-guarded.session.cg
hook=$(($(ir_in "$cg" 'process_utility\.cpp:gd_guard_statement\(') - $(ir_in "$cg" 'process_utility\.cpp:gd_run_bounded\(')))
echo "   where the added instructions go (the session runs, inclusive Ir per statement):"
echo "     the hook before the statement runs     $hook"
for fn in gd_statement_actions gd_acquire_statement_locks gd_enforce_rules gd_relation_size gd_table_policy \
    gd_audit_begin gd_audit_finish; do
    printf '       %-36s %s\n' "$fn" "$(ir_in "$cg" "[.]cpp:$fn\\(")"
done
printf '     event triggers (EventTrigger*)         %s, vanilla %s\n' \
    "$(ir_in "$cg" '[?]:EventTrigger[A-Za-z]* ')" "$(ir_in "$GD_WORK/run-vanilla.session.cg" '[?]:EventTrigger[A-Za-z]* ')"

# Wall clock, servers back up.
for GD_DATA in "$vanilla_data" "$guarded_data"; do
    gd_as_user pg_ctl -D "$GD_DATA" -l "$GD_DATA/server.log" -w start >/dev/null ||
        gd_die "the server did not start (see $GD_DATA/server.log)"
done
psql_on() { # psql_on PORT SQL [PSQL_ARGS...]
    gd_as_user psql -X -q -h "$GD_SOCKET" -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$2" "${@:3}"
}
tps() { # tps PORT SCRIPT PGBENCH_ARGS...
    local port=$1 script=$2
    shift 2
    gd_as_user pgbench -n -h "$GD_SOCKET" -p "$port" -U postgres -c 1 -j 1 "$@" \
        -f "$GD_WORK/$script" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Each round starts from new tables, copies of small (every ADD COLUMN uses
# up an attnum), and vacuumed catalogs.
ddl_round() { # ddl_round PORT
    psql_on "$1" "SET client_min_messages = warning; DO \$\$ BEGIN FOR i IN 1..10 LOOP EXECUTE format(
        'DROP TABLE IF EXISTS small_%1\$s; CREATE TABLE small_%1\$s (LIKE small INCLUDING ALL);
         INSERT INTO small_%1\$s SELECT * FROM small', i); END LOOP; END \$\$" >/dev/null
    psql_on "$1" "VACUUM" >/dev/null
    tps "$1" ddl.sql -t "$TXNS_PER_ROUND"
}
: >"$GD_WORK/v"
: >"$GD_WORK/g"
for _ in $(seq "$ROUNDS"); do
    ddl_round "$vanilla_port" >>"$GD_WORK/v"
    ddl_round "$guarded_port" >>"$GD_WORK/g"
done
v=$(median <"$GD_WORK/v")
g=$(median <"$GD_WORK/g")
echo
echo "2. Wall clock: pgbench -n -t $TXNS_PER_ROUND -f ddl.sql, 1 client, $ROUNDS alternating rounds;"
echo "   ddl.sql: ALTER TABLE small_:t ADD COLUMN c int; ALTER TABLE small_:t DROP COLUMN c (:t random, 10 tables)"
echo "   vanilla tps: $(tr '\n' ' ' <"$GD_WORK/v")"
echo "   guarded tps: $(tr '\n' ' ' <"$GD_WORK/g")"
paste "$GD_WORK/v" "$GD_WORK/g" | awk -v v="$v" -v g="$g" '
    { r = $2 / $1; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
    END { printf "   median tps vanilla %.0f, guarded %.0f (x2 statements/s), ratio %.3f; round by round %.3f to %.3f\n",
          v, g, g / v, lo, hi }'

# explain(): statements it explains per call, from its own answer.
stmts=0
for input in "${EXPLAIN_INPUTS[@]}"; do
    stmts=$((stmts + $(psql_on "$guarded_port" "SELECT max(statement_no) FROM guarded_ddl.explain('$input')" -At)))
done
: >"$GD_WORK/e"
for _ in $(seq "$EXPLAIN_ROUNDS"); do tps "$guarded_port" explain.sql -T "$SECONDS_PER_ROUND" >>"$GD_WORK/e"; done
e=$(median <"$GD_WORK/e")
empty=$(single_ir guarded "$GD_WORK/empty.sql")
explained=$(single_ir guarded "$GD_WORK/explain_n.sql")
echo
echo "3. guarded_ddl.explain(): ${#EXPLAIN_INPUTS[@]} calls per transaction explaining $stmts statements in all:"
sed 's/^/   /' "$GD_WORK/explain.sql"
echo "   pgbench -n -T $SECONDS_PER_ROUND, 1 client, $EXPLAIN_ROUNDS rounds, tps: $(tr '\n' ' ' <"$GD_WORK/e")"
awk -v e="$e" -v s="$stmts" -v c="${#EXPLAIN_INPUTS[@]}" \
    'BEGIN { printf "   median %.0f tps = %.0f explain() calls/s = %.0f statements explained/s\n", e, e * c, e * s }'
echo "   postgres --single, the calls $EXPLAIN_REPEAT times: $(per "$explained" "$empty" $((EXPLAIN_REPEAT * stmts))) instructions per explained statement" \
    "($(per "$explained" "$empty" $((EXPLAIN_REPEAT * ${#EXPLAIN_INPUTS[@]}))) per call, SELECT included)"
