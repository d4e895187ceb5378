#!/usr/bin/env bash
# Cost of guarded_ddl on ordinary DML (issue 13, "Benchmark": TPC-B ratio
# guarded / vanilla >= 0.99). With the transaction guard, every INSERT,
# UPDATE, DELETE and MERGE passes the ExecutorStart hook, which, in a
# transaction holding no strong lock taken by a guarded statement, checks one
# backend-local flag. Measured the utility-overhead way (bench/utility_overhead.sh):
# servers from the same sandbox binaries, pgbench in alternating rounds in one
# invocation, ratio of the medians; here with pgbench's built-in TPC-B script
# and three servers:
#   vanilla    nothing preloaded
#   vanilla2   the same again: vanilla2 / vanilla is the A/A pair, the noise
#   guarded    shared_preload_libraries = guarded_ddl, CREATE EXTENSION, defaults
# Each round runs the three in turn (the order rotates from round to round).
# Reported per server: TPS, and CPU per transaction of ALL the server's
# processes (backends, background workers incl. the audit writer,
# autovacuum, checkpointer...; user + system, exited children included; see
# gd_server_cpu_ticks in bench/lib.sh); then the ratios to vanilla, medians over
# the rounds. Method and reading: bench/tpcb_overhead.md. Reproduce:
#   bash bench/tpcb_overhead.sh > bench/results/tpcb_overhead.txt
# TB_KEEP=1 keeps the sandbox (per-round pgbench output in $GD_WORK).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
ROUNDS=${ROUNDS:-10}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-15}
SERVERS=(vanilla guarded vanilla2)

gd_install_deps
gd_build
declare -A DATA PORT
cleanup() {
    for GD_DATA in "${DATA[@]}"; do gd_stop_server; done
    if [ -n "${TB_KEEP:-}" ]; then gd_log "kept $GD_SANDBOX"; else gd_remove_sandbox; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
gd_make_sandbox

for s in "${SERVERS[@]}"; do
    preload=''
    [ "$s" = guarded ] && preload=guarded_ddl
    GD_PRELOAD=$preload gd_bench_start_server "$s"
    DATA[$s]=$GD_DATA PORT[$s]=$GD_PORT
done
psql_on() { # psql_on SERVER SQL
    gd_as_user psql -X -q -At -h "$GD_SOCKET" -p "${PORT[$1]}" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$2"
}
psql_on guarded 'CREATE EXTENSION guarded_ddl'
# The set-up is not measured: on the guarded server pgbench -i runs in warn
# mode, since its ALTER TABLE ... ADD PRIMARY KEY on the freshly loaded,
# already large pgbench_accounts is (rightly) blocked in enforce mode.
for s in "${SERVERS[@]}"; do
    gd_log "pgbench -i -s $SCALE on $s"
    options=''
    [ "$s" = guarded ] && options='-c guarded_ddl.mode=warn'
    gd_as_user env PGOPTIONS="$options" pgbench -i -q -s "$SCALE" -h "$GD_SOCKET" -p "${PORT[$s]}" -U postgres postgres \
        >"$GD_WORK/init-$s.txt" 2>&1 || gd_die "pgbench -i failed on $s (see $GD_WORK/init-$s.txt)"
done
# pgbench_accounts is large by guarded_ddl's default thresholds (rows and
# size), so the UPDATE of every transaction is on a large table.
accounts_size=$(psql_on guarded "SELECT pg_size_pretty(pg_table_size('pgbench_accounts'))")
guard_settings=$(psql_on guarded "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('guarded_ddl.mode', 'guarded_ddl.audit', 'guarded_ddl.max_rows_under_lock',
                                     'guarded_ddl.max_lock_hold', 'guarded_ddl.large_table_rows', 'guarded_ddl.large_table_size')")
writer=$(psql_on guarded "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'guarded_ddl audit writer'")

# round SERVER ROUND: one pgbench run; appends "tps transactions cpu_ticks" to $GD_WORK/r-SERVER.
round() {
    local s=$1 r=$2 out="$GD_WORK/pgbench-$1-$2.txt" c0 c1 tps txns
    psql_on "$s" CHECKPOINT
    gd_wait_no_clients "${DATA[$s]}"
    c0=$(gd_server_cpu_ticks "${DATA[$s]}")
    gd_as_user pgbench -n -h "$GD_SOCKET" -p "${PORT[$s]}" -U postgres -c "$CLIENTS" -j 2 \
        -T "$SECONDS_PER_ROUND" postgres >"$out" 2>&1 || gd_die "pgbench failed on $s (see $out)"
    gd_wait_no_clients "${DATA[$s]}"
    c1=$(gd_server_cpu_ticks "${DATA[$s]}")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$out")
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    [ -n "$tps" ] && [ -n "$txns" ] || gd_die "no tps in $out"
    echo "$tps $txns $((c1 - c0))" >>"$GD_WORK/r-$s"
}

hz=$(getconf CLK_TCK)
echo "command: bash bench/tpcb_overhead.sh   (SCALE=$SCALE CLIENTS=$CLIENTS ROUNDS=$ROUNDS SECONDS_PER_ROUND=$SECONDS_PER_ROUND)"
echo "tree $(git -C "$GD_ROOT" describe --always --dirty); $(nproc) CPUs; $("$GD_BIN/postgres" --version); CPU clock ticks $hz/s"
echo "pgbench -n -c $CLIENTS -j 2 -T $SECONDS_PER_ROUND (built-in TPC-B script, simple protocol), scale $SCALE;"
echo "CHECKPOINT before each round; round order rotates: ${SERVERS[*]}, then shifted by one each round"
echo "guarded: pgbench_accounts $accounts_size; $guard_settings; audit writer running: $writer"
for s in "${SERVERS[@]}"; do : >"$GD_WORK/r-$s"; done
for r in $(seq "$ROUNDS"); do
    for i in 0 1 2; do
        s=${SERVERS[$(((i + r - 1) % 3))]}
        gd_log "round $r/$ROUNDS: $s"
        round "$s" "$r"
    done
done

echo
echo "Per round: tps, transactions, server CPU ticks, server CPU us per transaction"
for s in "${SERVERS[@]}"; do
    awk -v hz="$hz" '{ $4 = sprintf("%.1f", $3 * 1e6 / hz / $2) } 1' "$GD_WORK/r-$s" >"$GD_WORK/p-$s"
    printf '  %-9s tps:       %s\n' "$s" "$(awk '{ printf "%s ", $1 }' "$GD_WORK/p-$s")"
    printf '  %-9s us/tx:     %s\n' "$s" "$(awk '{ printf "%s ", $4 }' "$GD_WORK/p-$s")"
    printf '  %-9s cpu ticks: %s\n' "$s" "$(awk '{ printf "%s ", $3 }' "$GD_WORK/p-$s")"
done
echo
echo "Medians over $ROUNDS rounds, and ratios to vanilla (TPS: other / vanilla; CPU: vanilla us/tx / other us/tx,"
echo "so for both >= 1 means at least as good as vanilla; the issue's target is >= 0.99). Round by round: the"
echo "ratio of each round's run to the same round's vanilla run, lowest to highest."
printf '  %-9s %10s %12s %12s %22s %12s %22s\n' server "tps" "us/tx" "tps ratio" "(round by round)" "cpu ratio" "(round by round)"
for s in "${SERVERS[@]}"; do
    mt=$(cut -d' ' -f1 "$GD_WORK/p-$s" | gd_median)
    mc=$(cut -d' ' -f4 "$GD_WORK/p-$s" | gd_median)
    vt=$(cut -d' ' -f1 "$GD_WORK/p-vanilla" | gd_median)
    vc=$(cut -d' ' -f4 "$GD_WORK/p-vanilla" | gd_median)
    paste -d' ' "$GD_WORK/p-vanilla" "$GD_WORK/p-$s" | awk -v s="$s" -v mt="$mt" -v mc="$mc" -v vt="$vt" -v vc="$vc" '
        { t = $5 / $1; c = $4 / $8
          if (NR == 1 || t < tlo) tlo = t; if (NR == 1 || t > thi) thi = t
          if (NR == 1 || c < clo) clo = c; if (NR == 1 || c > chi) chi = c }
        END { printf "  %-9s %10.1f %12.1f %12.4f %10.3f to %-9.3f %12.4f %10.3f to %-9.3f\n",
              s, mt, mc, mt / vt, tlo, thi, vc / mc, clo, chi }'
done
echo
echo "A/A (vanilla2 / vanilla) is the noise of this run: a guarded ratio inside it is no measurable cost."
