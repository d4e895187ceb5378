#!/usr/bin/env bash
# CPU per DDL statement as users pay it (issue 15, first bullet): cheap DDL
# (CREATE TABLE, ALTER TABLE ADD COLUMN, DROP TABLE) from 4 pgbench clients,
# with ALL the server's CPU counted: backends, the audit writer, the
# postmaster (gd_server_cpu_ticks in bench/lib.sh; the backends are
# counted once they have exited and been reaped, so each reading after a run
# waits until pgbench's sessions are gone). Six servers from the same sandbox
# binaries, in interleaved rounds (the order rotates each round):
#   vanilla     nothing preloaded
#   vanilla2    the same again: vanilla2 / vanilla is the A/A pair, the noise
#   preloaded   shared_preload_libraries = guarded_ddl, no CREATE EXTENSION,
#               guarded_ddl.audit = off
#   off         extension created, guarded_ddl.mode = off, audit = off
#   enforce     extension created, mode = enforce (default), audit = off
#   audit       extension created, mode = enforce, audit = on (the defaults);
#               the round ends once the writer has written every record
#               (flush()), so its work is in the round's CPU
# Every round runs on a fresh copy of each server's cluster, taken once
# after its set-up, started for the round and stopped after it: a server
# kept running round after round drifted apart from its twin (the kernel's
# share above all, up to 3x between the two vanilla servers, growing round
# by round for some), which no rotation of the order evens out.
# Reported per server: CPU ms per transaction of 3 statements, median of the
# rounds and their spread, ratio of the medians to vanilla and the round by
# round ratios to the same round's vanilla run; for all CPU, then user and
# system time apart (the kernel's share, creating and removing the files of
# the tables, is about half and the noisiest).
# Method and reading: bench/ddl_cpu.md. Reproduce:
#   bash bench/ddl_cpu.sh > bench/results/ddl_cpu.txt
# Then, as an explanation and not as the result, callgrind instructions of
# one backend per transaction (vanilla, off, enforce, audit) and where
# guarded_ddl's go (N=0 skips it; ROUNDS=0 runs it alone).
# DCPU_KEEP=1 keeps the sandbox (per-round pgbench output in $GD_WORK).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENTS=${CLIENTS:-4}
ROUNDS=${ROUNDS:-7}
TXNS=${TXNS:-250} # transactions per client per round
N=${N:-100}       # transactions per callgrind session; 0 skips the callgrind part
SERVERS=(vanilla vanilla2 preloaded off enforce audit)
STATEMENTS_PER_TXN=3

gd_install_deps valgrind
gd_build
gd_bench_sandbox "${DCPU_KEEP:-}"

psql_on() { # psql_on SERVER SQL
    gd_as_user psql -X -q -At -h "$GD_SOCKET" -p "${PORT[$1]}" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$2"
}
for s in "${SERVERS[@]}"; do
    preload=guarded_ddl settings=('autovacuum = off')
    case $s in
    vanilla | vanilla2) preload='' ;;
    preloaded) settings+=('guarded_ddl.audit = off') ;;
    off) settings+=('guarded_ddl.mode = off' 'guarded_ddl.audit = off') ;;
    enforce) settings+=('guarded_ddl.audit = off') ;;
    esac
    GD_PRELOAD=$preload gd_bench_start_server "$s"
    DATA[$s]=$GD_DATA PORT[$s]=$GD_PORT
    printf '%s\n' "${settings[@]}" >>"$GD_DATA/postgresql.conf"
    gd_as_user pg_ctl -D "$GD_DATA" -l "$GD_DATA/server.log" -w restart >/dev/null ||
        gd_die "the server $s did not restart (see $GD_DATA/server.log)"
    case $s in off | enforce | audit) psql_on "$s" 'CREATE EXTENSION guarded_ddl' ;; esac
    psql_on "$s" CHECKPOINT
    gd_stop_server
    gd_as_user cp -a "$GD_DATA" "$GD_DATA.template"
done

# Each client works on its own table: created, given a column, dropped.
printf '%s\n' 'CREATE TABLE t_:client_id (id int, v text);' \
    'ALTER TABLE t_:client_id ADD COLUMN c int;' 'DROP TABLE t_:client_id;' >"$GD_WORK/ddl.sql"
chmod a+r "$GD_WORK/ddl.sql"

# writer_ticks SERVER: "pid ticks", the audit writer's pid and the CPU
# (user + system) it has used so far, or "0 0" when none runs.
writer_ticks() {
    local pid
    pid=$(psql_on "$1" "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE backend_type = 'guarded_ddl audit writer'")
    if [ "$pid" != 0 ] && [ -r "/proc/$pid/stat" ]; then
        echo "$pid $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")"
    else
        echo "0 0"
    fi
}

# round SERVER ROUND: one pgbench run; appends "transactions user_ticks
# system_ticks" to $GD_WORK/r-SERVER, and on the audit server the writer's
# ticks to $GD_WORK/w-audit.
round() {
    local s=$1 r=$2 out="$GD_WORK/pgbench-$1-$2.txt" u0 u1 s0 s1 txns w0=0 w1
    GD_DATA=${DATA[$s]}
    rm -rf "$GD_DATA"
    gd_as_user cp -a "$GD_DATA.template" "$GD_DATA"
    gd_as_user pg_ctl -D "$GD_DATA" -l "$GD_DATA/server.log" -w start >/dev/null ||
        gd_die "the server $s did not start (see $GD_DATA/server.log)"
    if [ "$s" = audit ]; then
        [ "$(psql_on "$s" "SELECT guarded_ddl.flush('30s')")" = t ] || gd_die "flush() timed out before a round"
        w0=$(writer_ticks "$s")
    fi
    gd_wait_no_clients "${DATA[$s]}"
    u0=$(gd_server_cpu_ticks "${DATA[$s]}" user)
    s0=$(gd_server_cpu_ticks "${DATA[$s]}" system)
    gd_server_cpu_parts "${DATA[$s]}" >"$GD_WORK/parts0"
    gd_as_user pgbench -n -h "$GD_SOCKET" -p "${PORT[$s]}" -U postgres -c "$CLIENTS" -j 2 -t "$TXNS" \
        -f "$GD_WORK/ddl.sql" postgres >"$out" 2>&1 || gd_die "pgbench failed on $s (see $out)"
    if [ "$s" = audit ]; then
        [ "$(psql_on "$s" "SELECT guarded_ddl.flush('30s')")" = t ] || gd_die "flush() timed out after a round"
        # One writer that started during the round counts whole; a writer
        # that exited during it and was started again is not counted
        # (the figure is a lower bound then).
        w1=$(writer_ticks "$s")
        if [ "${w1% *}" = "${w0% *}" ]; then
            echo $((${w1#* } - ${w0#* })) >>"$GD_WORK/w-audit"
        else
            echo "${w1#* }" >>"$GD_WORK/w-audit"
        fi
    fi
    gd_wait_no_clients "${DATA[$s]}"
    u1=$(gd_server_cpu_ticks "${DATA[$s]}" user)
    s1=$(gd_server_cpu_ticks "${DATA[$s]}" system)
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    [ "$txns" = $((CLIENTS * TXNS)) ] || gd_die "pgbench processed ${txns:-no} transactions on $s (see $out)"
    echo "$txns $((u1 - u0)) $((s1 - s0))" >>"$GD_WORK/r-$s"
    # "part ms/tx" of this round, part by part (a part missing from one
    # reading counts 0 there).
    gd_server_cpu_parts "${DATA[$s]}" | join -a1 -a2 -e 0 -o 0,1.2,2.2 "$GD_WORK/parts0" - |
        awk -v hz="$(getconf CLK_TCK)" -v t="$txns" '{ printf "%s %.4f\n", $1, ($3 - $2) * 1000 / hz / t }' \
            >>"$GD_WORK/parts-$s"
    if [ "$s" = audit ]; then
        psql_on "$s" "SELECT count(*) FROM guarded_ddl.ddl_log WHERE application_name = 'pgbench'" >>"$GD_WORK/rows-audit"
        psql_on "$s" "SELECT format('queued %s, written %s, overflowed %s, failed %s', queued, written, overflowed, failed)
            FROM guarded_ddl.audit_stats()" >>"$GD_WORK/stats-audit"
    fi
    gd_stop_server
}

hz=$(getconf CLK_TCK)
for s in "${SERVERS[@]}"; do : >"$GD_WORK/r-$s"; done
n=${#SERVERS[@]}
for r in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
        s=${SERVERS[$(((i + r - 1) % n))]}
        gd_log "round $r/$ROUNDS: $s"
        round "$s" "$r"
    done
done
[ "$ROUNDS" -gt 0 ] && {
audit_rows=$(awk '{ s += $1 } END { print s }' "$GD_WORK/rows-audit")
audit_stats=$(tail -1 "$GD_WORK/stats-audit")

echo "command: bash bench/ddl_cpu.sh   (CLIENTS=$CLIENTS ROUNDS=$ROUNDS TXNS=$TXNS)"
echo "tree $(git -C "$GD_ROOT" describe --always --dirty); $(nproc) CPUs; $("$GD_BIN/postgres" --version); CPU clock ticks $hz/s"
echo "pgbench -n -c $CLIENTS -j 2 -t $TXNS -f ddl.sql ($((CLIENTS * TXNS)) transactions per round), ddl.sql:"
sed 's/^/    /' "$GD_WORK/ddl.sql"
echo "each round on a fresh copy of each cluster (started, measured, stopped); autovacuum = off;"
echo "round order rotates: ${SERVERS[*]}, then shifted by one each round"
echo "audit server: $audit_rows ddl_log rows from pgbench for $((ROUNDS * CLIENTS * TXNS * STATEMENTS_PER_TXN)) statements; last round's audit_stats(): $audit_stats"
echo
# table KIND COLUMNS: per round and medians of the ms per transaction, from
# the r-SERVER files' columns (2: user, 3: system, 2+3: all).
table() {
    local kind=$1 cols=$2 s m rr vm
    echo "Server CPU ($kind; all processes) in ms per transaction, each round:"
    for s in "${SERVERS[@]}"; do
        awk -v hz="$hz" -v c="$cols" '{ t = (c == "all") ? $2 + $3 : $c; printf "%.3f\n", t * 1000 / hz / $1 }' \
            "$GD_WORK/r-$s" >"$GD_WORK/ms-$s"
        printf '  %-9s %s\n' "$s" "$(tr '\n' ' ' <"$GD_WORK/ms-$s")"
    done
    echo "Medians over $ROUNDS rounds; ratio = other / vanilla (CPU, so 1.10 is 10 % more than vanilla);"
    echo "round by round: each round's run against the same round's vanilla run, lowest / median / highest."
    printf '  %-9s %9s %17s %8s %26s\n' server "ms/tx" "(low - high)" ratio "(round by round)"
    vm=$(gd_median <"$GD_WORK/ms-vanilla")
    for s in "${SERVERS[@]}"; do
        m=$(gd_median <"$GD_WORK/ms-$s")
        rr=$(paste -d' ' "$GD_WORK/ms-vanilla" "$GD_WORK/ms-$s" | awk '{ print $2 / $1 }')
        printf '  %-9s %9.3f %8.3f - %6.3f %8.3f %8.3f %8.3f %8.3f\n' "$s" "$m" \
            "$(sort -g "$GD_WORK/ms-$s" | head -1)" "$(sort -g "$GD_WORK/ms-$s" | tail -1)" \
            "$(awk -v m="$m" -v v="$vm" 'BEGIN { print m / v }')" \
            "$(sort -g <<<"$rr" | head -1)" "$(gd_median <<<"$rr")" "$(sort -g <<<"$rr" | tail -1)"
    done
    echo
}
table "user + system" all
if [ -s "$GD_WORK/w-audit" ]; then
    echo "Of which the audit writer (audit server; user + system) in ms per transaction, each round:"
    paste -d' ' "$GD_WORK/r-audit" "$GD_WORK/w-audit" | awk -v hz="$hz" '{ printf "%.3f\n", $4 * 1000 / hz / $1 }' >"$GD_WORK/ms-writer"
    echo "  writer    $(tr '\n' ' ' <"$GD_WORK/ms-writer") (median $(gd_median <"$GD_WORK/ms-writer"))"
    echo
fi
table user 2
table system 3
echo "A/A (vanilla2 / vanilla) is the noise of this run: a ratio inside its spread is no measurable cost."
echo
echo "Where the CPU went (user + system), ms per transaction, median over the rounds of each part:"
echo "exited = the pgbench backends (reaped by the postmaster at the round's end) and workers that ended."
parts=$(cat "$GD_WORK"/parts-* | cut -d' ' -f1 | sort -u)
printf '  %-9s' server
for p in $parts; do printf ' %14s' "$p"; done
echo
for s in "${SERVERS[@]}"; do
    printf '  %-9s' "$s"
    for p in $parts; do
        printf ' %14.3f' "$(awk -v p="$p" '$1 == p { print $2 }' "$GD_WORK/parts-$s" | { grep . || echo 0; } | gd_median)"
    done
    echo
done
}

[ "$N" -gt 0 ] || exit 0
# Explanation, not the result: instructions (callgrind Ir) of one backend
# per transaction, from fresh copies of the clusters, N transactions of
# ddl.sql's statements through psql, minus an empty session. The audit
# writer is not a backend: its share is in the CPU figures above only.
for i in $(seq "$N"); do
    printf 'CREATE TABLE t_0 (id int, v text);\nALTER TABLE t_0 ADD COLUMN c int;\nDROP TABLE t_0;\n'
done >"$GD_WORK/ddl_n.sql"
: >"$GD_WORK/empty.sql"
chmod a+r "$GD_WORK"/*.sql
session() { # session SERVER FILE: Ir of one session on a fresh copy of the server's cluster
    local run="$GD_WORK/cg-$1"
    rm -rf "$run"
    gd_as_user cp -a "${DATA[$1]}.template" "$run"
    gd_session_ir "$run" "$2"
}
echo
echo "Explanation, not the result: instructions (callgrind Ir) of one backend per transaction of the 3"
echo "statements, $N transactions through psql minus an empty session, fresh copies of the clusters"
declare -A per_tx
for s in vanilla off enforce audit; do
    gd_log "callgrind: $s"
    e=$(session "$s" "$GD_WORK/empty.sql")
    t=$(session "$s" "$GD_WORK/ddl_n.sql")
    per_tx[$s]=$(awk -v t="$t" -v e="$e" -v n="$N" 'BEGIN { printf "%.0f", (t - e) / n }')
    awk -v s="$s" -v p="${per_tx[$s]}" -v v="${per_tx[vanilla]}" \
        'BEGIN { printf "  %-8s %10d Ir per transaction, %+8d (%+.1f %%) against vanilla\n", s, p, p - v, 100 * (p - v) / v }'
done
# Where guarded_ddl's instructions go in the audit session: its functions,
# inclusive Ir per transaction (a function's figure includes the PostgreSQL
# code it calls, which may have run anyway: the name look-ups the analysis
# does first are cheaper for the statement afterwards).
echo "  guarded_ddl functions in the audit session (inclusive Ir per transaction, callgrind_annotate):"
callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$GD_WORK/cg-audit.session.cg" 2>/dev/null |
    awk -v n="$N" '$0 ~ /src\/(pg|core)\// { ir = $1; gsub(",", "", ir); f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f)
        sub(/\(.*$/, "", f); sub(/^(.*\/)?src\//, "", f)
        if (f ~ /:[A-Za-z_]/ && !seen[f]++ && ir / n >= 1000) printf "    %9.0f  %s\n", ir / n, f }' |
    head -25
