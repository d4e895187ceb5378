#!/usr/bin/env bash
# Overhead of guarded_ddl's ProcessUtility hook on non-DDL utility statements
# (SET/RESET/SHOW, BEGIN/COMMIT): pgbench TPS against a vanilla server and a
# guarded_ddl server, both running from the same sandbox binaries, measured
# in alternating rounds (A B A B ...) in one invocation; reported as the
# ratio of the median TPS. Reproduce: bash bench/utility_overhead.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

ROUNDS=${ROUNDS:-6}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-5}

gd_install_deps
gd_build
cleanup() {
    for d in "$GD_WORK"/pgdata-*; do [ -d "$d" ] && gd_as_user pg_ctl -D "$d" -m fast -w stop >/dev/null 2>&1; done
    gd_remove_sandbox
}
trap cleanup EXIT
gd_make_sandbox

GD_PRELOAD='' gd_start_server vanilla
vanilla_port=$GD_PORT
gd_start_server guarded
guarded_port=$GD_PORT
gd_psql -d postgres -qc 'CREATE EXTENSION guarded_ddl'

printf 'SET work_mem = %s;\nSHOW work_mem;\nRESET work_mem;\n' "'8MB'" >"$GD_WORK/set_show.sql"
printf 'BEGIN;\nCOMMIT;\n' >"$GD_WORK/begin_commit.sql"
chmod a+r "$GD_WORK"/*.sql

tps() { # tps PORT SCRIPT
    gd_as_user pgbench -n -h "$GD_SOCKET" -p "$1" -U postgres -c 1 -j 1 -T "$SECONDS_PER_ROUND" \
        -f "$GD_WORK/$2" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "command: bash bench/utility_overhead.sh   (ROUNDS=$ROUNDS, ${SECONDS_PER_ROUND}s per round, 1 client)"
for script in set_show.sql begin_commit.sql; do
    : >"$GD_WORK/v" ; : >"$GD_WORK/g"
    for r in $(seq "$ROUNDS"); do
        tps "$vanilla_port" "$script" >>"$GD_WORK/v"
        tps "$guarded_port" "$script" >>"$GD_WORK/g"
    done
    v=$(median <"$GD_WORK/v"); g=$(median <"$GD_WORK/g")
    echo "$script vanilla rounds: $(tr '\n' ' ' <"$GD_WORK/v")"
    echo "$script guarded rounds: $(tr '\n' ' ' <"$GD_WORK/g")"
    awk -v v="$v" -v g="$g" -v s="$script" \
        'BEGIN { printf "%-18s median tps vanilla %.0f, guarded %.0f, ratio %.3f\n", s, v, g, g / v }'
done
