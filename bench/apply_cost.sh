#!/usr/bin/env bash
# apply's cost (issue 16, "Benchmark"): the wall time of
#   CALL guarded_ddl.apply('ALTER TABLE t ALTER COLUMN c SET NOT NULL')
#   CALL guarded_ddl.apply('ALTER TABLE t ADD CONSTRAINT ... FOREIGN KEY ...')
# on a 200,000-row table, side by side with the hand-written recipe run by
# psql (one psql, one -c per step, so each step is its own transaction):
#   SET NOT NULL: ADD CONSTRAINT t_c_not_null CHECK (c IS NOT NULL) NOT VALID;
#                 VALIDATE CONSTRAINT; ALTER COLUMN c SET NOT NULL; DROP CONSTRAINT
#   FOREIGN KEY:  ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID; VALIDATE CONSTRAINT
# in alternating rounds (the order of apply and psql swaps every round), the
# state reset between runs. Meanwhile pgbench reads t by primary key, open
# loop (-R), with per-transaction logs; the readers' latency is reported for
# the reads overlapping each kind of run, pooled over the rounds, against
# the reads of a 1 s window without DDL before every run (baseline).
#
# One guarded server (guarded_ddl preloaded, all settings at their defaults):
# both sides go through the same hook, so the difference is apply's own
# work (its analysis, the steps' commits, the catalog checks of a resumable
# run) against psql sending the steps.
#
# Usage (from anywhere; as root it installs what is missing):
#   bench/apply_cost.sh > bench/results/apply_cost.txt
# AC_ROUNDS (default 15) measured rounds after one warm-up round; AC_KEEP=1
# keeps the sandbox (pgbench logs and step outputs under $GD_WORK/apply_cost).
# Prints a report on stdout (progress on stderr); exits non-zero only when
# something broke. No timing assertions: it is a benchmark.
set -eEuo pipefail
trap 'echo "error: bench/apply_cost.sh line $LINENO: $BASH_COMMAND" >&2' ERR
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROWS=200000
PARENT_ROWS=20000
ROUNDS=${AC_ROUNDS:-15}
RATE=400   # reads/s in total
CLIENTS=4
BASELINE_S=1

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    gd_stop_server
    wait 2>/dev/null || true
    if [ -n "${AC_KEEP:-}" ]; then gd_log "kept $GD_SANDBOX"; else gd_remove_sandbox; fi
}

gd_install_deps
gd_build
trap cleanup EXIT
trap 'exit 130' INT TERM
gd_make_sandbox
gd_bench_start_server guarded

psql_q() { gd_as_user psql -X -q -h "$GD_SOCKET" -p "$GD_PORT" -U postgres -d postgres "$@"; }
# The runs name themselves (application_name ac_<case>_<round>), so that the
# audit log's rows of each run (duration_ms of every step) can be found.
psql_run() { # psql_run APPNAME ARGS...
    local app=$1
    shift
    gd_as_user env PGAPPNAME="$app" psql -X -q -h "$GD_SOCKET" -p "$GD_PORT" -U postgres -d postgres "$@"
}

gd_log "loading $ROWS rows into t, $PARENT_ROWS into parent"
psql_q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION guarded_ddl;
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent SELECT g FROM generate_series(1, $PARENT_ROWS) g;
CREATE TABLE t (id int PRIMARY KEY, c int, ref_id int, filler text NOT NULL);
INSERT INTO t SELECT g, g % 1000, 1 + g % $PARENT_ROWS, repeat('x', 80) FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE parent, t;
SQL
GUARD_SETTINGS=$(psql_q -At -c "
    SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
    FROM pg_settings WHERE name ~ '^guarded_ddl\.(lock_timeout|lock_budget|mode|large_table_rows|audit)$'")

RUNS="$GD_WORK/apply_cost"
gd_as_user mkdir -p "$RUNS"
cat >"$RUNS/read.sql" <<SQL
\set id random(1, $ROWS)
SELECT c FROM t WHERE id = :id;
SQL
chmod a+r "$RUNS/read.sql"

FK="ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref_id) REFERENCES parent (id)"
# case -> the psql arguments of one run
run_case() { # run_case CASE ROUND OUT
    local app="ac_$1_$2"
    case $1 in
    notnull_apply) psql_run "$app" -v ON_ERROR_STOP=1 -c "CALL guarded_ddl.apply('ALTER TABLE t ALTER COLUMN c SET NOT NULL')" ;;
    notnull_psql) psql_run "$app" -v ON_ERROR_STOP=1 \
        -c "ALTER TABLE t ADD CONSTRAINT t_c_not_null CHECK (c IS NOT NULL) NOT VALID" \
        -c "ALTER TABLE t VALIDATE CONSTRAINT t_c_not_null" \
        -c "ALTER TABLE t ALTER COLUMN c SET NOT NULL" \
        -c "ALTER TABLE t DROP CONSTRAINT t_c_not_null" ;;
    fk_apply) psql_run "$app" -v ON_ERROR_STOP=1 -c "CALL guarded_ddl.apply('$FK')" ;;
    fk_psql) psql_run "$app" -v ON_ERROR_STOP=1 -c "$FK NOT VALID" -c "ALTER TABLE t VALIDATE CONSTRAINT t_ref_fk" ;;
    esac >"$3" 2>&1
}
reset_case() { # reset_case CASE
    case $1 in
    notnull_*) psql_q -v ON_ERROR_STOP=1 -c "ALTER TABLE t ALTER COLUMN c DROP NOT NULL" ;;
    fk_*) psql_q -v ON_ERROR_STOP=1 -c "ALTER TABLE t DROP CONSTRAINT IF EXISTS t_ref_fk" ;;
    esac >/dev/null
}
# The state each run must leave: what the blocked statement would have made.
check_case() { # check_case CASE
    local got
    case $1 in
    notnull_*) got=$(psql_q -At -c "SELECT attnotnull, (SELECT count(*) FROM pg_constraint
                       WHERE conrelid = 't'::regclass AND contype = 'c')
                       FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'")
        [ "$got" = "t|0" ] || gd_die "$1: expected NOT NULL and no CHECK left, got $got" ;;
    fk_*) got=$(psql_q -At -c "SELECT string_agg(conname || ':' || convalidated, ',')
                       FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'f'")
        [ "$got" = "t_ref_fk:true" ] || gd_die "$1: expected t_ref_fk valid, got $got" ;;
    esac
}

WINDOWS="$RUNS/windows" # round case kind start_us end_us
: >"$WINDOWS"
# One round: for each statement, the two ways in the round's order, each
# preceded by its reset, a settle pause and a baseline window.
one_round() { # one_round ROUND
    local r=$1 op first second c start end
    for op in notnull fk; do
        if [ $((r % 2)) -eq 0 ]; then first=apply second=psql; else first=psql second=apply; fi
        for c in "${op}_$first" "${op}_$second"; do
            reset_case "$c"
            sleep 0.3
            start=$(now_us)
            sleep "$BASELINE_S"
            end=$(now_us)
            echo "$r $c baseline $start $end" >>"$WINDOWS"
            start=$(now_us)
            run_case "$c" "$r" "$RUNS/out.$r.$c" || { cat "$RUNS/out.$r.$c" >&2; gd_die "$c failed in round $r"; }
            end=$(now_us)
            echo "$r $c ddl $start $end" >>"$WINDOWS"
            check_case "$c"
            sleep 0.3
        done
    done
}

gd_log "warm-up round"
t0=$(now_us)
one_round 0
round_us=$(($(now_us) - t0))
# pgbench runs the measured rounds, with room to spare (a round that runs
# long only loses its last reads, which the report shows as fewer reads).
PB_T=$((4 + (ROUNDS * round_us * 5 / 4) / 1000000))
gd_log "readers: pgbench -R $RATE -c $CLIENTS for $PB_T s; $ROUNDS rounds of about $((round_us / 1000)) ms"
gd_as_user pgbench -n -h "$GD_SOCKET" -p "$GD_PORT" -U postgres -R "$RATE" -c "$CLIENTS" -j 2 \
    -T "$PB_T" -l --log-prefix="$RUNS/reads" -f "$RUNS/read.sql" postgres >"$RUNS/pgbench.out" 2>&1 &
BG_PIDS+=($!)
pb_start=$(now_us)
sleep 2
kill -0 "${BG_PIDS[0]}" 2>/dev/null || { cat "$RUNS/pgbench.out" >&2; gd_die "pgbench did not start"; }
for r in $(seq 1 "$ROUNDS"); do
    gd_log "round $r"
    one_round "$r"
done
loop_end=$(now_us)
wait "${BG_PIDS[0]}" || { cat "$RUNS/pgbench.out" >&2; gd_die "pgbench failed"; }
BG_PIDS=()
[ "$loop_end" -lt $((pb_start + PB_T * 1000000)) ] ||
    gd_log "warning: the rounds outlasted pgbench by $(((loop_end - pb_start) / 1000 - PB_T * 1000)) ms"

# Reads: one line "start_us end_us latency_us" each (pgbench -l with -R:
# client tx latency_us script epoch_s epoch_us lag_us; latency counts from
# the scheduled start).
# (printf: mawk prints integers above 2^31 in %.6g)
cat "$RUNS"/reads.* | awk '{ end = $5 * 1000000 + $6; printf "%.0f %.0f %d\n", end - $3, end, $3 }' >"$RUNS/reads"

# Per (case, kind) over the measured rounds: reads overlapping the windows,
# p50 / p99 / max latency (ms); and the DDL's wall time per round.
STATS="$RUNS/stats" # case kind reads p50 p99 max
: >"$STATS"
CASES=(notnull_apply notnull_psql fk_apply fk_psql)
for c in "${CASES[@]}"; do
    for kind in baseline ddl; do
        awk -v c="$c" -v k="$kind" 'NR == FNR { if ($1 > 0 && $2 == c && $3 == k) { s[++n] = $4; e[n] = $5 } next }
             { for (i = 1; i <= n; i++) if ($1 < e[i] && $2 > s[i]) { print $3 / 1000; break } }' \
            "$WINDOWS" "$RUNS/reads" | sort -g |
            awk -v c="$c" -v k="$kind" '{ a[NR] = $1 } END {
                if (NR == 0) { print c, k, 0, "-", "-", "-"; exit }
                p50 = a[int(0.50 * NR + 0.999999)]; p99 = a[int(0.99 * NR + 0.999999)]
                printf "%s %s %d %.2f %.2f %.2f\n", c, k, NR, p50, p99, a[NR] }' >>"$STATS"
    done
done
# The steps' own time in the server: the sum of the audit log's duration_ms
# of each run's statements (apply: its recipe's steps), "case round ms".
psql_q -At -c "SELECT guarded_ddl.flush()" >/dev/null
psql_q -At -F' ' -c "
    SELECT substring(application_name from '^ac_(.*)_[0-9]+$'), substring(application_name from '_([0-9]+)$')::int,
           round(sum(duration_ms)::numeric, 1), count(*)
      FROM guarded_ddl.ddl_log WHERE application_name ~ '^ac_' GROUP BY application_name" >"$RUNS/steps"
steps_ms() { awk -v c="$1" '$1 == c && $2 > 0 { print $3 }' "$RUNS/steps" | gd_median; }
steps_n() { awk -v c="$1" '$1 == c && $2 > 0 { print $4 }' "$RUNS/steps" | sort -u | tr '\n' ' '; }
wall_ms() { awk -v c="$1" '$1 > 0 && $2 == c && $3 == "ddl" { printf "%.1f\n", ($5 - $4) / 1000 }' "$WINDOWS"; }
median_ms() { wall_ms "$1" | gd_median; }
stat() { awk -v c="$1" -v k="$2" -v f="$3" '$1 == c && $2 == k { print $f }' "$STATS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

cat <<EOF
guarded_ddl apply cost benchmark (issue 16)
Reproduce:  bench/apply_cost.sh > bench/results/apply_cost.txt
Tree:       $(git -C "$GD_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$GD_ROOT" diff --quiet HEAD -- src extension 2>/dev/null || echo ' (src/ or extension/ has uncommitted changes)')
Machine:    $(nproc) CPUs, $(uname -sr), $("$GD_BIN/postgres" --version)
Server:     one throwaway cluster, Unix sockets only, fsync=off, shared_preload_libraries=guarded_ddl
Guard:      $GUARD_SETTINGS
Tables:     t ($ROWS rows: id int primary key, c int, ref_id int, filler text), parent ($PARENT_ROWS rows, id int primary key)
Runs (each one psql process; wall time on the client, from psql's start to its exit):
  notnull_apply  psql -c "CALL guarded_ddl.apply('ALTER TABLE t ALTER COLUMN c SET NOT NULL')"
  notnull_psql   psql -c "ALTER TABLE t ADD CONSTRAINT t_c_not_null CHECK (c IS NOT NULL) NOT VALID"
                      -c "ALTER TABLE t VALIDATE CONSTRAINT t_c_not_null" -c "ALTER TABLE t ALTER COLUMN c SET NOT NULL"
                      -c "ALTER TABLE t DROP CONSTRAINT t_c_not_null"
  fk_apply       psql -c "CALL guarded_ddl.apply('$FK')"
  fk_psql        psql -c "$FK NOT VALID" -c "ALTER TABLE t VALIDATE CONSTRAINT t_ref_fk"
  Reset before each run: ALTER COLUMN c DROP NOT NULL / DROP CONSTRAINT t_ref_fk; each run's final state checked
  (NOT NULL and no CHECK left / t_ref_fk valid). One warm-up round (not counted), then $ROUNDS rounds; apply first
  in even rounds, psql first in odd ones.
Readers:    pgbench -n -R $RATE -c $CLIENTS -j 2 -T $PB_T, SELECT c FROM t WHERE id = <random>, over the measured rounds;
            latency from the scheduled start (queueing included). "during": reads overlapping a run of that case;
            "baseline": reads overlapping the ${BASELINE_S} s window without DDL just before each run of that case.

Wall time per run (ms), rounds 1..$ROUNDS:
EOF
for c in "${CASES[@]}"; do
    printf '  %-14s %s\n' "$c" "$(wall_ms "$c" | tr '\n' ' ')"
done
echo
printf '%-14s %10s %10s %10s   %-40s %s\n' statement "apply ms" "psql ms" "apply/psql" "per-round ratios" "(medians)"
for op in notnull fk; do
    a=$(median_ms "${op}_apply")
    p=$(median_ms "${op}_psql")
    per=$(paste <(wall_ms "${op}_apply") <(wall_ms "${op}_psql") | awk '{ printf "%.2f ", $1 / $2 }')
    printf '%-14s %10s %10s %10s   %-40s\n' "$([ "$op" = notnull ] && echo 'SET NOT NULL' || echo 'FOREIGN KEY')" \
        "$a" "$p" "$(ratio "$a" "$p")" "$per"
done
echo
echo "In the server (medians, ms): the sum of the audit log's duration_ms of the run's statements, and"
echo "the rest of the wall time (psql's start and connection, apply's own work between steps, commits):"
printf '%-14s %10s %10s %10s\n' case "steps ms" "rest ms" "statements"
for c in "${CASES[@]}"; do
    st=$(steps_ms "$c")
    printf '%-14s %10s %10s %10s\n' "$c" "$st" "$(awk -v w="$(median_ms "$c")" -v s="$st" 'BEGIN { printf "%.1f", w - s }')" "$(steps_n "$c")"
done
echo
echo "Readers (ms), pooled over the rounds:"
printf '%-14s %8s %8s %8s %8s   %8s %8s %8s %8s\n' case "base n" "base p50" "base p99" "base max" \
    "dur. n" "dur. p50" "dur. p99" "dur. max"
for c in "${CASES[@]}"; do
    printf '%-14s %8s %8s %8s %8s   %8s %8s %8s %8s\n' "$c" \
        "$(stat "$c" baseline 3)" "$(stat "$c" baseline 4)" "$(stat "$c" baseline 5)" "$(stat "$c" baseline 6)" \
        "$(stat "$c" ddl 3)" "$(stat "$c" ddl 4)" "$(stat "$c" ddl 5)" "$(stat "$c" ddl 6)"
done
echo
echo "Target (issue 16; reported, not asserted): apply within 10 % of the hand-written recipe"
for op in notnull fk; do
    r=$(ratio "$(median_ms "${op}_apply")" "$(median_ms "${op}_psql")")
    printf '  %-14s apply/psql %s  %s\n' "$op" "$r" "$(awk -v r="$r" 'BEGIN { print (r <= 1.10) ? "met" : "MISSED" }')"
done
echo
echo "pgbench: $(grep -E '^number of transactions actually processed|^number of failed' "$RUNS/pgbench.out" | tr '\n' ' ')"
echo
echo "What apply ran (last measured round), its NOTICEs:"
sed 's/^/  /' "$RUNS/out.$ROUNDS.notnull_apply" "$RUNS/out.$ROUNDS.fk_apply"
