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
# the rounds. Then, as an explanation and not as the result (this machine has
# no hardware counters for perf stat): instructions per TPC-B transaction of
# one backend, callgrind, vanilla and guarded, from copies of the clusters
# taken right after pgbench -i, the same N transactions (fixed random values)
# run through psql, minus an empty session.
# Method and reading: bench/tpcb_overhead.md. Reproduce:
#   bash bench/tpcb_overhead.sh > bench/results/tpcb_overhead.txt
# TB_KEEP=1 keeps the sandbox (per-round pgbench output in $GD_WORK).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
ROUNDS=${ROUNDS:-20}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-10}
SERVERS=(vanilla guarded vanilla2)
N=${N:-1000} # TPC-B transactions per callgrind session; 0 skips the callgrind part

gd_install_deps valgrind
gd_build
gd_bench_sandbox "${TB_KEEP:-}"

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
# The audit writer is started when records are queued and exits after 1 s
# idle; whatever it does in a round is counted (a child of the postmaster).
ddl_log_before=$(psql_on guarded "SELECT count(*) FROM guarded_ddl.ddl_log")
# Copies of the freshly initialised clusters, for the callgrind sessions.
for s in vanilla guarded; do
    psql_on "$s" CHECKPOINT
    GD_DATA=${DATA[$s]}
    gd_stop_server
    gd_as_user cp -a "$GD_DATA" "$GD_DATA.template"
    gd_as_user pg_ctl -D "$GD_DATA" -l "$GD_DATA/server.log" -w start >/dev/null ||
        gd_die "the server $s did not restart (see $GD_DATA/server.log)"
done

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
echo "guarded: pgbench_accounts $accounts_size (large); $guard_settings"
for s in "${SERVERS[@]}"; do : >"$GD_WORK/r-$s"; done
for r in $(seq "$ROUNDS"); do
    for i in 0 1 2; do
        s=${SERVERS[$(((i + r - 1) % 3))]}
        gd_log "round $r/$ROUNDS: $s"
        round "$s" "$r"
    done
done

ddl_log_after=$(psql_on guarded "SELECT count(*) FROM guarded_ddl.ddl_log")
echo "guarded: ddl_log rows written during the rounds: $((ddl_log_after - ddl_log_before)) (the rule and the cap stayed silent)"
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
echo "ratio of each round's run to the same round's vanilla run: lowest, median, highest."
printf '  %-9s %10s %12s %11s %26s %11s %26s\n' server "tps" "us/tx" "tps ratio" "(round by round)" "cpu ratio" "(round by round)"
for s in "${SERVERS[@]}"; do
    mt=$(cut -d' ' -f1 "$GD_WORK/p-$s" | gd_median)
    mc=$(cut -d' ' -f4 "$GD_WORK/p-$s" | gd_median)
    vt=$(cut -d' ' -f1 "$GD_WORK/p-vanilla" | gd_median)
    vc=$(cut -d' ' -f4 "$GD_WORK/p-vanilla" | gd_median)
    tm=$(paste -d' ' "$GD_WORK/p-vanilla" "$GD_WORK/p-$s" | awk '{ print $5 / $1 }' | gd_median)
    cm=$(paste -d' ' "$GD_WORK/p-vanilla" "$GD_WORK/p-$s" | awk '{ print $4 / $8 }' | gd_median)
    paste -d' ' "$GD_WORK/p-vanilla" "$GD_WORK/p-$s" |
        awk -v s="$s" -v mt="$mt" -v mc="$mc" -v vt="$vt" -v vc="$vc" -v tm="$tm" -v cm="$cm" '
        { t = $5 / $1; c = $4 / $8
          if (NR == 1 || t < tlo) tlo = t; if (NR == 1 || t > thi) thi = t
          if (NR == 1 || c < clo) clo = c; if (NR == 1 || c > chi) chi = c }
        END { printf "  %-9s %10.1f %12.1f %11.4f %8.3f %8.3f %8.3f %11.4f %8.3f %8.3f %8.3f\n",
              s, mt, mc, mt / vt, tlo, tm, thi, vc / mc, clo, cm, chi }'
done
echo
echo "A/A (vanilla2 / vanilla) is the noise of this run: a guarded ratio inside it is no measurable cost."

[ "$N" -gt 0 ] || exit 0
for s in "${SERVERS[@]}"; do GD_DATA=${DATA[$s]} gd_stop_server; done
# pgbench's TPC-B script with fixed random values (the same for both).
awk -v n="$N" -v scale="$SCALE" 'BEGIN { srand(1); for (i = 0; i < n; i++) {
    aid = int(rand() * 100000 * scale) + 1; bid = int(rand() * scale) + 1
    tid = int(rand() * 10 * scale) + 1; d = int(rand() * 10001) - 5000
    printf "BEGIN;\nUPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d;\n", d, aid
    printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", aid
    printf "UPDATE pgbench_tellers SET tbalance = tbalance + %d WHERE tid = %d;\n", d, tid
    printf "UPDATE pgbench_branches SET bbalance = bbalance + %d WHERE bid = %d;\n", d, bid
    printf "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (%d, %d, %d, %d, CURRENT_TIMESTAMP);\nEND;\n", tid, bid, aid, d
} }' >"$GD_WORK/tpcb_n.sql"
: >"$GD_WORK/empty.sql"
chmod a+r "$GD_WORK"/*.sql
session() { # session SERVER FILE: Ir of one session on a fresh copy of the server's initial cluster
    local run="$GD_WORK/cg-$1"
    rm -rf "$run"
    gd_as_user cp -a "${DATA[$1]}.template" "$run"
    gd_session_ir "$run" "$2"
}
echo
echo "Explanation, not the result: instructions (callgrind Ir) of one backend running $N TPC-B transactions"
echo "(pgbench's script, fixed random values, through psql) minus an empty session, / $N; fresh copies of the"
echo "clusters as pgbench -i left them."
declare -A per_tx
for s in vanilla guarded; do
    gd_log "callgrind: $s"
    e=$(session "$s" "$GD_WORK/empty.sql")
    t=$(session "$s" "$GD_WORK/tpcb_n.sql")
    per_tx[$s]=$(awk -v t="$t" -v e="$e" -v n="$N" 'BEGIN { printf "%.0f", (t - e) / n }')
    printf '  %-8s empty %12d  with %d transactions %13d  per transaction %9d\n' "$s" "$e" "$N" "$t" "${per_tx[$s]}"
done
awk -v v="${per_tx[vanilla]}" -v g="${per_tx[guarded]}" 'BEGIN {
    printf "  ratio vanilla / guarded %.4f: guarded_ddl adds %d instructions per transaction (%.2f %%)\n",
        v / g, g - v, 100 * (g - v) / v }'
# Where guarded_ddl's instructions go: its functions, inclusive Ir per
# transaction (a hook's figure includes the PostgreSQL code it calls, e.g.
# the standard executor start), then the self Ir of all of guarded_ddl's code.
cg="$GD_WORK/cg-guarded.session.cg"
echo "  guarded_ddl functions in the guarded session (inclusive Ir per transaction, callgrind_annotate):"
callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$cg" 2>/dev/null |
    awk -v n="$N" '$0 ~ /src\/(pg|core)\// { ir = $1; gsub(",", "", ir); f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f)
        sub(/ \[[^]]*\]$/, "", f); k = f; sub(/^[^ ]*\.(cpp|hpp|h):/, "", k); if (!seen[k]++ && ir / n >= 1) printf "    %9.0f  %s\n", ir / n, f }' |
    head -15
callgrind_annotate --threshold=100 --auto=no "$cg" 2>/dev/null |
    awk -v n="$N" '$0 ~ /src\/(pg|core)\// { ir = $1; gsub(",", "", ir); f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f)
        sub(/^[^ ]*\.(cpp|hpp|h):/, "", f); if (!seen[f]++) s += ir }
        END { printf "  self Ir of all guarded_ddl code: %.0f per transaction\n", s / n }'
