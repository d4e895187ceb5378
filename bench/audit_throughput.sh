#!/usr/bin/env bash
# DDL throughput with the audit log (issue 5): 8 pgbench clients, each running
# cheap DDL on its own table (ALTER TABLE t_:client_id ADD COLUMN c int; DROP
# COLUMN c), against three servers from the same sandbox binaries, in
# alternating rounds (A B C D E A B C D E ...) in one run:
#   vanilla  no guarded_ddl
#   vanilla_b  a second vanilla server, its A/A twin: the noise of the
#            machine, for reading every other ratio
#   off      the "on" server, with guarded_ddl.audit = off for pgbench's
#            sessions (PGOPTIONS): the audit log's cost with nothing else
#            differing
#   on       guarded_ddl preloaded and created, guarded_ddl.audit = on,
#            audit_queue_size at its default (256)
#   on_big   the same with audit_queue_size = $QUEUE_SIZE (default 8192)
# Reported: TPS per round, the ratios to vanilla (of the medians, of the
# means, and round by round), and for the audit-on servers after each round:
# statements issued against new ddl_log rows, audit_stats() overflowed and
# failed, the drain time (pgbench's end to audit_stats().pending = 0) and the
# writer's CPU time per record written (/proc/PID/schedstat).
# Method and how to read it: bench/audit_throughput.md. Reproduce:
#   bash bench/audit_throughput.sh > bench/results/audit_throughput.txt
# AT_KEEP=1 keeps the sandbox (debugging only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

ROUNDS=${ROUNDS:-6}                   # rounds per server
CLIENTS=${CLIENTS:-8}                 # pgbench clients, one table each
TXNS=${TXNS:-300}                     # ADD+DROP pairs per client per round (see below)
QUEUE_SIZE=${QUEUE_SIZE:-8192}        # on_big's audit_queue_size (about 21 kB of shared memory each)
STATEMENTS_PER_TXN=2
# Every ADD COLUMN uses up an attnum and a table has at most 1600; a new
# table has 2 columns. The dropped ones stay in pg_attribute and make every
# later ALTER slower (1500 pairs ran at a fifth of 300's TPS), hence 300.
[ "$TXNS" -le 1598 ] || gd_die "TXNS=$TXNS: at most 1598 ADD COLUMNs fit in a new table"

gd_install_deps
gd_build
SERVERS=(vanilla vanilla_b off on on_big)
AUDITED=(on on_big)
declare -A PORT DATA
cleanup() {
    for GD_DATA in "${DATA[@]}"; do gd_stop_server; done
    if [ -n "${AT_KEEP:-}" ]; then gd_log "kept $GD_SANDBOX"; else gd_remove_sandbox; fi
}
trap cleanup EXIT
gd_make_sandbox

# start_server NAME PRELOAD [SETTING...]: gd_start_server picks a random
# port, so a clash with a running server is tried again (in a subshell, as
# it exits on failure). The settings are appended and the server restarted.
start_server() {
    local name=$1 try
    for try in 1 2 3 4 5; do
        rm -rf "$GD_WORK/pgdata-$name"
        (GD_PRELOAD=$2 gd_start_server "$name") && break
        [ "$try" -lt 5 ] || gd_die "could not start the $name server"
    done
    GD_DATA="$GD_WORK/pgdata-$name" GD_SOCKET="$GD_WORK" # as gd_start_server sets them
    DATA[$name]=$GD_DATA
    PORT[$name]=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$GD_DATA/postgresql.conf" | tail -1)
    if [ $# -gt 2 ]; then
        printf '%s\n' "${@:3}" >>"$GD_DATA/postgresql.conf"
        gd_as_user pg_ctl -D "$GD_DATA" -l "$GD_DATA/server.log" -w restart >/dev/null ||
            gd_die "the $name server did not restart (see $GD_DATA/server.log)"
    fi
}
psql_on() { # psql_on SERVER SQL [PSQL_ARGS...]
    gd_as_user psql -X -q -At -h "$GD_SOCKET" -p "${PORT[$1]}" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -c "$2" "${@:3}"
}

start_server vanilla ''
start_server vanilla_b ''
start_server on guarded_ddl
PORT[off]=${PORT[on]}
start_server on_big guarded_ddl "guarded_ddl.audit_queue_size = $QUEUE_SIZE"
for s in "${AUDITED[@]}"; do psql_on "$s" "CREATE EXTENSION guarded_ddl"; done
# The drain time's clock: polls audit_stats() every 10 ms until nothing is
# pending (at most 30 s). Returns the pending count at the first poll and
# the epochs of the first poll and of the poll that saw the queue empty.
DRAIN_WAIT_SQL="CREATE FUNCTION drain_wait(OUT first_pending int, OUT first_poll float8, OUT drained float8)
    LANGUAGE plpgsql AS \$\$
DECLARE
    p int;
    deadline timestamptz := clock_timestamp() + interval '30s';
BEGIN
    first_poll := extract(epoch FROM clock_timestamp());
    SELECT pending INTO p FROM guarded_ddl.audit_stats();
    first_pending := p;
    WHILE p > 0 AND clock_timestamp() < deadline LOOP
        PERFORM pg_sleep(0.01);
        SELECT pending INTO p FROM guarded_ddl.audit_stats();
    END LOOP;
    IF p = 0 THEN
        drained := extract(epoch FROM clock_timestamp());
    END IF;
END \$\$"
for s in "${AUDITED[@]}"; do psql_on "$s" "$DRAIN_WAIT_SQL"; done

printf '\\set t :client_id\nALTER TABLE t_:t ADD COLUMN c int;\nALTER TABLE t_:t DROP COLUMN c;\n' >"$GD_WORK/ddl.sql"
chmod a+r "$GD_WORK/ddl.sql"

# Each round starts from new tables (the old ones used up their attnums) and
# vacuumed catalogs; on the audit-on servers, with the setup's own records
# written, so the round's are the only ones in flight.
new_tables() { # new_tables SERVER
    psql_on "$1" "SET client_min_messages = warning; DO \$\$ BEGIN FOR i IN 0..$((CLIENTS - 1)) LOOP EXECUTE format(
        'DROP TABLE IF EXISTS t_%1\$s; CREATE TABLE t_%1\$s (id int PRIMARY KEY, v text);
         INSERT INTO t_%1\$s SELECT g, ''row '' || g FROM generate_series(1, 5) g', i); END LOOP; END \$\$" >/dev/null
    psql_on "$1" "VACUUM" >/dev/null
    if [ "${1#vanilla}" = "$1" ] && [ "$1" != off ]; then
        [ "$(psql_on "$1" "SELECT guarded_ddl.flush('30s')")" = t ] || gd_die "flush() timed out before a round"
    fi
}
stats() { psql_on "$1" "SELECT queued, written, overflowed, failed FROM guarded_ddl.audit_stats()" -F ' '; }
# writer_cpu SERVER: "pid ns", the audit writer's pid and the CPU time it has
# used so far (/proc/PID/schedstat, nanoseconds), or "0 0" when none runs.
writer_cpu() {
    local pid
    pid=$(psql_on "$1" "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE backend_type = 'guarded_ddl audit writer'")
    if [ "$pid" != 0 ] && [ -r "/proc/$pid/schedstat" ]; then
        echo "$pid $(cut -d' ' -f1 "/proc/$pid/schedstat")"
    else
        echo "0 0"
    fi
}

# round SERVER ROUND: appends "tps" to $GD_WORK/tps-SERVER, and on the
# audit-on servers a line of checks to $GD_WORK/checks-SERVER.
round() {
    local s=$1 r=$2 out="$GD_WORK/pgbench-$1-$2.txt" end before stats0 stats1 processed failed audited=
    local writer0 writer1 writer_ns
    new_tables "$s"
    [ "${s#vanilla}" != "$s" ] || [ "$s" = off ] || audited=1
    if [ -n "$audited" ]; then
        before=$(psql_on "$s" "SELECT coalesce(max(id), 0) FROM guarded_ddl.ddl_log")
        stats0=$(stats "$s")
        writer0=$(writer_cpu "$s")
    fi
    local options=
    [ "$s" = off ] && options='-c guarded_ddl.audit=off'
    gd_as_user env PGOPTIONS="$options" pgbench -n -h "$GD_SOCKET" -p "${PORT[$s]}" -U postgres -c "$CLIENTS" -j 2 -t "$TXNS" \
        -f "$GD_WORK/ddl.sql" postgres >"$out" 2>&1 || gd_die "pgbench failed (see $out)"
    end=$EPOCHREALTIME
    sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" >>"$GD_WORK/tps-$s"
    [ -n "$audited" ] || return 0
    local drain
    drain=$(psql_on "$s" "SELECT first_pending, round(1000 * (first_poll - $end)), coalesce(round(1000 * (drained - $end)), -1)
        FROM drain_wait()" -F ' ')
    stats1=$(stats "$s")
    # The writer's CPU over the round; one started during the round counts whole.
    writer1=$(writer_cpu "$s")
    if [ "${writer1% *}" = "${writer0% *}" ]; then
        writer_ns=$((${writer1#* } - ${writer0#* }))
    else
        writer_ns=${writer1#* }
    fi
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
    local rows
    rows=$(psql_on "$s" "SELECT count(*) FILTER (WHERE application_name = 'pgbench'), count(*),
        count(*) FILTER (WHERE application_name = 'pgbench' AND verdict <> 'allowed')
        FROM guarded_ddl.ddl_log WHERE id > $before" -F ' ')
    # round issued failed_tx rows_pgbench rows_all not_allowed first_pending first_poll_ms drained_ms
    #   queued0 written0 overflowed0 failed0 queued1 written1 overflowed1 failed1 writer_cpu_ns
    echo "$r $((STATEMENTS_PER_TXN * processed)) ${failed:-0} $rows $drain $stats0 $stats1 $writer_ns" >>"$GD_WORK/checks-$s"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mean() { awk '{s += $1} END {print s / NR}'; }

for s in "${SERVERS[@]}"; do : >"$GD_WORK/tps-$s"; done
for s in "${AUDITED[@]}"; do : >"$GD_WORK/checks-$s"; done
for r in $(seq "$ROUNDS"); do
    for s in "${SERVERS[@]}"; do
        gd_log "round $r, $s"
        round "$s" "$r"
    done
done

echo "command: bash bench/audit_throughput.sh   (ROUNDS=$ROUNDS, CLIENTS=$CLIENTS, TXNS=$TXNS per client per round)"
echo "tree $(git -C "$GD_ROOT" describe --always --dirty); $(nproc) CPUs; $("$GD_BIN/postgres" --version)"
for s in "${AUDITED[@]}"; do
    printf '%-6s server' "$s"; echo ": guarded_ddl.audit = $(psql_on "$s" "SHOW guarded_ddl.audit"), audit_queue_size = $(psql_on "$s" "SHOW guarded_ddl.audit_queue_size")"
done
echo "off    = the on server, pgbench's sessions with PGOPTIONS='-c guarded_ddl.audit=off'"
echo
echo "1. Throughput: pgbench -n -c $CLIENTS -j 2 -t $TXNS -f ddl.sql, rounds ${SERVERS[*]}, ... x $ROUNDS;"
echo "   ddl.sql: ALTER TABLE t_:client_id ADD COLUMN c int; ALTER TABLE t_:client_id DROP COLUMN c"
echo "   (new tables t_0..t_$((CLIENTS - 1)), 5 rows each, and VACUUM before every round; tps x $STATEMENTS_PER_TXN = statements/s)"
for s in "${SERVERS[@]}"; do printf '   %-7s tps: %s\n' "$s" "$(tr '\n' ' ' <"$GD_WORK/tps-$s")"; done
for s in vanilla_b off "${AUDITED[@]}"; do
    paste "$GD_WORK/tps-vanilla" "$GD_WORK/tps-$s" | awk -v s="$s" \
        -v mv="$(median <"$GD_WORK/tps-vanilla")" -v ms="$(median <"$GD_WORK/tps-$s")" \
        -v av="$(mean <"$GD_WORK/tps-vanilla")" -v as="$(mean <"$GD_WORK/tps-$s")" '
        { r = $2 / $1; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
        END { printf "   %-9s / vanilla: median tps %.0f / %.0f = %.3f, mean %.0f / %.0f = %.3f; round by round %.3f to %.3f\n",
              s, ms, mv, ms / mv, as, av, as / av, lo, hi }'
done
for s in "${AUDITED[@]}"; do
    paste "$GD_WORK/tps-off" "$GD_WORK/tps-$s" | awk -v s="$s" '
        { r = $2 / $1; t += r; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
        END { printf "   %-6s / off, round by round: mean %.3f, %.3f to %.3f\n", s, t / NR, lo, hi }'
done

echo
echo "2. Audit-on servers, each round: statements issued (pgbench's transactions x $STATEMENTS_PER_TXN) against"
echo "   new ddl_log rows from pgbench; audit_stats() deltas; drain = pgbench's end to audit_stats().pending = 0"
echo "   (polled every 10 ms by one psql; 'first poll' is when that psql got going, pending then)"
for s in "${AUDITED[@]}"; do
    echo "   $s (audit_queue_size $(psql_on "$s" "SHOW guarded_ddl.audit_queue_size")):"
    awk '{
        lost = $2 - $4; ovf = $16 - $12; fail = $17 - $13
        printf "     round %d: issued %d (failed tx %d), rows %d (%d from any client), not allowed %d, lost %d;\n", $1, $2, $3, $4, $5, $6, lost
        printf "       queued +%d, written +%d, overflowed +%d, failed +%d; first poll %d ms (pending %d), drained %s\n",
            $14 - $10, $15 - $11, ovf, fail, $8, $7, ($9 < 0 ? "never (30 s)" : $9 " ms")
        printf "       writer CPU %.0f ms, %.1f us per record written\n", $18 / 1e6, ($15 - $11 > 0 ? $18 / 1000 / ($15 - $11) : 0)
        issued += $2; rows += $4; lost_all += lost; ovf_all += ovf; fail_all += fail
        cpu_all += $18; written_all += $15 - $11
        if ($9 < 0) never++; else if ($9 > max) max = $9
    }
    END {
        printf "     all rounds: issued %d, rows %d, lost %d, overflowed %d, failed %d; drain max %d ms%s\n",
            issued, rows, lost_all, ovf_all, fail_all, max, (never ? ", " never " rounds never drained" : "")
        printf "     writer CPU per record written, all rounds: %.1f us\n", (written_all > 0 ? cpu_all / 1000 / written_all : 0)
    }' "$GD_WORK/checks-$s"
done
