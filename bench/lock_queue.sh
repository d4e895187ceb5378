#!/usr/bin/env bash
# Lock-queue harm benchmark (issue 3, "Benchmark"): how much a DDL that
# waits behind a long transaction hurts the readers of the table, for three
# ways of running the DDL, side by side in one run:
#   vanilla      PostgreSQL 15 as shipped, the DDL without lock_timeout
#   retry        vanilla, SET lock_timeout = '100ms' and a client-side retry
#                loop (new psql each try, 50 ms sleep between tries)
#   guarded_ddl  the same binaries with guarded_ddl preloaded, all settings at
#                their defaults
# plus the same read workload with no blocker and no DDL (baseline).
#
# Scenario A: 100k-row table, pgbench open-loop PK reads (-R 400 -c 4 -j 2);
#   a blocker takes ACCESS SHARE and keeps it 15 s; ALTER TABLE ADD COLUMN
#   starts 2 s after the blocker.
# Scenario B: busy table, 16 clients at 2000 tps in total; blocker keeps its
#   lock 8 s; the DDL starts 2 s after it (does the DDL starve?).
#
# Scenario C (issue 13, the lock-hold cap): the same reads as A; a migration
#   takes ACCESS EXCLUSIVE through a guarded statement (BEGIN; ALTER TABLE
#   ADD COLUMN) and then keeps its transaction 8 s, either running a
#   statement (pg_sleep) or idle in transaction (psql's \! sleep). On the
#   guarded server with guarded_ddl.max_lock_hold = 2s (set for this
#   scenario only) the cap ends it; on vanilla nothing does. A third pair
#   (queued) makes the ALTER wait first: a session holding ACCESS SHARE 3 s
#   starts 1 s before the migration, so readers also queue behind the
#   ALTER's own (bounded) lock attempts before its hold starts.
#
# Reads are measured from pgbench's per-transaction logs, restricted to the
# "blocked window": from the DDL's start to 1 s after the blocker ended
# (scenario C: to 1 s after the migration's planned end).
# Prints a report on stdout (progress on stderr); exits non-zero only when
# something broke. No timing assertions: it is a benchmark.
#
# Usage (from anywhere; as root it installs what is missing):
#   bench/lock_queue.sh > bench/results/lock_queue.txt          (scenarios A and B)
#   LQ_SCENARIOS=C bench/lock_queue.sh > bench/results/lock_queue_cap.txt
# LQ_SCENARIOS (default "A B") picks the scenarios. For debugging only: LQ_STRATEGIES="baseline guarded" runs a subset;
# LQ_KEEP=1 keeps the sandbox (pgbench logs under $GD_WORK/lock_queue).
set -eEuo pipefail
trap 'echo "error: bench/lock_queue.sh line $LINENO: $BASH_COMMAND" >&2' ERR
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

read -ra SCENARIOS <<<"${LQ_SCENARIOS:-A B}"
has_scenario() { [[ " ${SCENARIOS[*]} " == *" $1 "* ]]; }
if [ "${SCENARIOS[*]}" = C ]; then
    REPRODUCE="LQ_SCENARIOS=C bench/lock_queue.sh > bench/results/lock_queue_cap.txt"
else
    REPRODUCE="${LQ_SCENARIOS:+LQ_SCENARIOS=\"${SCENARIOS[*]}\" }bench/lock_queue.sh > bench/results/lock_queue.txt"
fi
ROWS=100000
RETRY_TIMEOUT_MS=100  # vanilla client loop: SET lock_timeout
RETRY_SLEEP=0.05      # vanilla client loop: sleep between tries
RETRY_DEADLINE_S=60   # vanilla client loop: give up after this (never expected)

# name rate clients warmup_s hold_s ddl_after_s tail_s
#   pgbench starts at t0; the blocker at t0+warmup and keeps its lock hold_s;
#   the DDL starts ddl_after_s after the blocker; pgbench runs until
#   tail_s after the blocker ended, so backlogged reads are all executed.
SCENARIO_A=(A 400 4 2 15 2 5)
SCENARIO_B=(B 2000 16 2 8 2 5)
read -ra STRATEGIES <<<"${LQ_STRATEGIES:-baseline vanilla retry guarded waitref}"
# Scenario C: name rate clients warmup_s hold_s tail_s; the migration starts
# at t0+warmup and means to keep its transaction hold_s.
SCENARIO_C=(C 400 4 2 8 5)
CAP_S=2           # guarded_ddl.max_lock_hold on the guarded server during scenario C
QUEUE_BLOCKER_S=3 # the *_queued cases: ACCESS SHARE held this long, from 1 s before the migration
C_CASES=(baseline vanilla_active vanilla_idle vanilla_queued capped_active capped_idle capped_queued)

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
sleep_until() { # sleep_until EPOCH_US
    local left=$(($1 - $(now_us)))
    [ "$left" -gt 0 ] && sleep "$(printf '%d.%06d' $((left / 1000000)) $((left % 1000000)))"
    return 0
}

BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for GD_DATA in "${VANILLA_DATA:-}" "${GUARDED_DATA:-}"; do
        [ -n "$GD_DATA" ] && gd_stop_server
    done
    wait 2>/dev/null || true
    if [ -n "${LQ_KEEP:-}" ]; then gd_log "kept $GD_SANDBOX"; else gd_remove_sandbox; fi
}

gd_install_deps
gd_build
trap cleanup EXIT
trap 'exit 130' INT TERM
gd_make_sandbox

# Two servers from the same sandbox binaries, Unix sockets only, started the
# same way; only the guarded one preloads guarded_ddl.
GD_PRELOAD='' gd_start_server vanilla
VANILLA_DATA=$GD_DATA VANILLA_PORT=$GD_PORT
# gd_start_server picks a random port: try again (in a subshell, since it
# exits on failure) should it pick the vanilla server's.
GUARDED_DATA="$GD_WORK/pgdata-guarded"
for try in 1 2 3 4 5; do
    rm -rf "$GUARDED_DATA"
    (gd_start_server guarded) && break
    [ "$try" -lt 5 ] || gd_die "could not start the guarded server"
done
GUARDED_PORT=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$GUARDED_DATA/postgresql.conf" | tail -1)

psql_on() { # psql_on PORT ARGS...
    local port=$1
    shift
    gd_as_user psql -X -q -h "$GD_SOCKET" -p "$port" -U postgres -d postgres "$@"
}

setup_sql="
CREATE TABLE bench_reads (id int PRIMARY KEY, v int NOT NULL, filler text NOT NULL);
INSERT INTO bench_reads SELECT g, g % 1000, repeat('x', 80) FROM generate_series(1, $ROWS) g;"
gd_log "loading $ROWS rows into both servers"
psql_on "$VANILLA_PORT" -v ON_ERROR_STOP=1 -c "$setup_sql" -c "VACUUM ANALYZE bench_reads" >/dev/null
psql_on "$GUARDED_PORT" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION guarded_ddl" -c "$setup_sql" \
    -c "VACUUM ANALYZE bench_reads" >/dev/null
GUARD_SETTINGS=$(psql_on "$GUARDED_PORT" -At -F' ' -c "
    SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
    FROM pg_settings WHERE name ~ '^guarded_ddl\.(lock_|mode|max_lock_hold)'")
GUARD_TIMEOUT_MS=$(psql_on "$GUARDED_PORT" -At -c "SELECT setting FROM pg_settings WHERE name = 'guarded_ddl.lock_timeout'")
GUARD_BUDGET_MS=$(psql_on "$GUARDED_PORT" -At -c "SELECT setting FROM pg_settings WHERE name = 'guarded_ddl.lock_budget'")
MAX_TARGET_MS=$((GUARD_TIMEOUT_MS + 25))

RUNS="$GD_WORK/lock_queue"
gd_as_user mkdir -p "$RUNS"
cat >"$RUNS/read.sql" <<SQL
\set id random(1, $ROWS)
SELECT v FROM bench_reads WHERE id = :id;
SQL
chmod a+r "$RUNS/read.sql"

# The blocker: ACCESS SHARE, as any plain SELECT in an open transaction, is
# enough to make ALTER TABLE's ACCESS EXCLUSIVE wait. It prints when it held
# the lock and when it is about to commit (server clock, microseconds).
blocker() { # blocker PORT HOLD_S OUT
    psql_on "$1" -At -F' ' -v ON_ERROR_STOP=1 >"$3" 2>&1 <<SQL
BEGIN;
SELECT count(*) FROM (SELECT id FROM bench_reads LIMIT 1) s;
SELECT 'blocker_start', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
SELECT pg_sleep($2);
SELECT 'blocker_end', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
COMMIT;
SQL
}

# The DDL, in one session, with its start and end on the server clock. On
# the guarded server the session shows DEBUG1 so that the guard's own
# account (attempts, time waited) is recorded.
ddl_once() { # ddl_once PORT COLUMN OUT [SETUP_SQL]
    psql_on "$1" -At -F' ' -v ON_ERROR_STOP=1 >"$3" 2>&1 <<SQL
${4:-}
SELECT 'ddl_start', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
ALTER TABLE bench_reads ADD COLUMN $2 int;
SELECT 'ddl_end', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
SQL
}

# Vanilla with the usual client-side workaround: a short lock_timeout and a
# retry loop with a short sleep, a new connection per try.
ddl_retry_loop() { # ddl_retry_loop PORT COLUMN OUT
    local start end tries=0 deadline
    : >"$3"
    start=$(now_us)
    deadline=$((start + RETRY_DEADLINE_S * 1000000))
    while :; do
        tries=$((tries + 1))
        if psql_on "$1" -v ON_ERROR_STOP=1 \
            -c "SET lock_timeout = '${RETRY_TIMEOUT_MS}ms'" \
            -c "ALTER TABLE bench_reads ADD COLUMN $2 int" >"$3.try" 2>&1; then
            end=$(now_us)
            break
        fi
        # Only a lock timeout is worth another try.
        grep -q 'lock timeout' "$3.try" || { cat "$3.try"; echo "ddl_failed"; return 1; } >>"$3"
        [ "$(now_us)" -lt "$deadline" ] || { echo "ddl_failed"; return 1; } >>"$3"
        sleep "$RETRY_SLEEP"
    done
    printf 'ddl_start %s\nddl_end %s\nddl_tries %s\n' "$start" "$end" "$tries" >>"$3"
}

# Reference only, not a product strategy: what the guard's targets ask for,
# done from the client to show they are reachable. One session waits,
# without queueing on the table, until every session that held a lock on it
# when the DDL started has ended (a PL/pgSQL loop reading pg_locks every
# 50 ms), then queues one ALTER bounded by lock_timeout 100ms; after a
# timeout (a new long holder) it does the same again.
WAITREF_SQL="
DO \$\$
DECLARE
    holders CONSTANT text := 'SELECT virtualtransaction FROM pg_locks
        WHERE locktype = ''relation'' AND relation = ''bench_reads''::regclass AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND pid <> pg_backend_pid()';
    waitfor text[];
    still boolean;
    polls int := 0;
BEGIN
    EXECUTE 'SELECT array_agg(v) FROM (' || holders || ') h(v)' INTO waitfor;
    LOOP
        EXECUTE 'SELECT EXISTS (SELECT FROM (' || holders || ') h(v) WHERE v = ANY (\$1))'
            INTO still USING waitfor;
        EXIT WHEN NOT still;
        polls := polls + 1;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RAISE NOTICE 'waitref_polls %', polls;
END
\$\$"
ddl_wait_then_lock() { # ddl_wait_then_lock PORT COLUMN OUT
    local start end tries=0 polls=0 deadline
    : >"$3"
    start=$(now_us)
    deadline=$((start + RETRY_DEADLINE_S * 1000000))
    while :; do
        tries=$((tries + 1))
        if psql_on "$1" -v ON_ERROR_STOP=1 -c "$WAITREF_SQL" \
            -c "SET lock_timeout = '${RETRY_TIMEOUT_MS}ms'" \
            -c "ALTER TABLE bench_reads ADD COLUMN $2 int" >"$3.try" 2>&1; then
            end=$(now_us)
            polls=$((polls + $(sed -n 's/.*waitref_polls \([0-9]*\).*/\1/p' "$3.try" | head -1)))
            break
        fi
        grep -q 'lock timeout' "$3.try" || { cat "$3.try"; echo "ddl_failed"; return 1; } >>"$3"
        polls=$((polls + $(sed -n 's/.*waitref_polls \([0-9]*\).*/\1/p' "$3.try" | head -1)))
        [ "$(now_us)" -lt "$deadline" ] || { echo "ddl_failed"; return 1; } >>"$3"
    done
    printf 'ddl_start %s\nddl_end %s\nddl_tries %s\nddl_polls %s\n' "$start" "$end" "$tries" \
        "$polls" >>"$3"
}

field() { awk -v k="$1" '$1 == k { print $2; exit }' "$2" 2>/dev/null; }
ms() { awk -v us="$1" 'BEGIN { printf "%.0f", us / 1000 }'; }

# Latencies (pgbench's per-transaction "time", which with -R counts from
# the scheduled start, so queueing behind a blocked client is included) of
# the reads that overlap [FROM_US, TO_US]. Prints: n p50 p99 max over_target
# share_over_10ms_percent; over_target counts reads slower than LIMIT_MS
# (default guarded_ddl.lock_timeout + 25 ms).
window_stats() { # window_stats LOG_PREFIX FROM_US TO_US [LIMIT_MS]
    cat "$1".* | awk -v ws="$2" -v we="$3" '
        { done = $5 * 1000000 + $6; begun = done - $3
          if (done >= ws && begun <= we) print $3 }' | sort -n |
        awk -v lim=$((${4:-$MAX_TARGET_MS} * 1000)) '
        function rank(q,   i) { i = int(q * NR); if (i < q * NR) i++; return i < 1 ? 1 : i }
        { a[NR] = $1; if ($1 > lim) over++; if ($1 > 10000) slow++ }
        END {
            if (NR == 0) { print "0 - - - - -"; exit }
            printf "%d %.2f %.2f %.1f %d %.1f\n", NR, a[rank(0.5)] / 1000, a[rank(0.99)] / 1000,
                a[NR] / 1000, over, 100 * slow / NR
        }'
}

# One run: pgbench from t0, the blocker at t0+warmup, the DDL ddl_after
# seconds later (by strategy), everything on one server. Appends one result
# line to $RESULTS.
run_case() { # run_case SCENARIO_ARRAY_NAME STRATEGY
    local -n sc=$1
    local name=${sc[0]} rate=${sc[1]} clients=${sc[2]} warmup=${sc[3]} hold=${sc[4]}
    local ddl_after=${sc[5]} tail=${sc[6]} strategy=$2
    local port=$VANILLA_PORT dir="$RUNS/$name-$strategy" column="c_${name}_$strategy"
    [ "$strategy" = guarded ] && port=$GUARDED_PORT
    local duration=$((warmup + hold + tail))
    gd_as_user mkdir -p "$dir"
    gd_log "scenario $name, $strategy: pgbench -R $rate -c $clients for ${duration}s"

    local t0 pgbench_pid blocker_pid
    t0=$(now_us)
    gd_as_user pgbench -n -M prepared -h "$GD_SOCKET" -p "$port" -U postgres \
        -f "$RUNS/read.sql" -R "$rate" -c "$clients" -j 2 -T "$duration" \
        -l --log-prefix="$dir/reads" postgres >"$dir/pgbench.out" 2>&1 &
    pgbench_pid=$!
    BG_PIDS+=("$pgbench_pid")

    if [ "$strategy" != baseline ]; then
        sleep_until $((t0 + warmup * 1000000))
        blocker "$port" "$hold" "$dir/blocker.out" &
        blocker_pid=$!
        BG_PIDS+=("$blocker_pid")
        sleep_until $((t0 + (warmup + ddl_after) * 1000000))
        case $strategy in
        vanilla) ddl_once "$port" "$column" "$dir/ddl.out" || true ;;
        retry) ddl_retry_loop "$port" "$column" "$dir/ddl.out" || true ;;
        waitref) ddl_wait_then_lock "$port" "$column" "$dir/ddl.out" || true ;;
        guarded) ddl_once "$port" "$column" "$dir/ddl.out" "SET client_min_messages = debug1;" || true ;;
        esac
        wait "$blocker_pid" || gd_die "the blocker failed: $(cat "$dir/blocker.out")"
    fi
    wait "$pgbench_pid" || gd_die "pgbench failed: $(tail -5 "$dir/pgbench.out")"

    local from to bstart bend dstart dend tries="-" done_after="-" note=""
    if [ "$strategy" = baseline ]; then
        # The same stretch of the run as the others' window, nominally.
        from=$((t0 + (warmup + ddl_after) * 1000000))
        to=$((t0 + (warmup + hold + 1) * 1000000))
    else
        bstart=$(field blocker_start "$dir/blocker.out")
        bend=$(field blocker_end "$dir/blocker.out")
        dstart=$(field ddl_start "$dir/ddl.out")
        dend=$(field ddl_end "$dir/ddl.out")
        [ -n "$bstart" ] && [ -n "$bend" ] || gd_die "no blocker timestamps: $(cat "$dir/blocker.out")"
        [ -n "$dstart" ] || gd_die "no DDL start timestamp: $(cat "$dir/ddl.out")"
        from=$dstart
        to=$((bend + 1000000))
        if [ -n "$dend" ]; then
            done_after=$(ms $((dend - bend)))
        else
            done_after="FAILED"
            note="DDL failed: $(grep -m1 ERROR "$dir/ddl.out"* || true)"
        fi
        case $strategy in
        vanilla) tries=1 ;;
        retry) tries=$(field ddl_tries "$dir/ddl.out") ;;
        waitref)
            tries=$(field ddl_tries "$dir/ddl.out")
            note="ALTER tries: $tries, pg_locks polls while waiting: $(field ddl_polls "$dir/ddl.out")"
            ;;
        guarded)
            tries=$(sed -n 's/.*granted after \([0-9]*\) attempts.*/\1/p' "$dir/ddl.out" | head -1)
            grep -q 'granted at once' "$dir/ddl.out" && tries=1
            [ -n "$tries" ] || tries="?"
            note=$(grep -m1 'guarded_ddl:.*granted' "$dir/ddl.out" | sed 's/^DEBUG: *//') || true
            ;;
        esac
    fi
    local stats
    stats=$(window_stats "$dir/reads" "$from" "$to")
    local total
    total=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
    printf '%s %s %s %s %s %s %s %s\n' "$name" "$strategy" "$stats" "$done_after" "$tries" \
        "$(ms $((to - from)))" "${total:-?}" "$(ms $((from - t0)))" >>"$RESULTS"
    [ -n "$note" ] && printf '%s %s %s\n' "$name" "$strategy" "$note" >>"$NOTES"
    return 0
}

RESULTS="$RUNS/results" NOTES="$RUNS/notes"
: >"$RESULTS"
: >"$NOTES"
# ------------------------------------------------ scenario C: capped holds
# The migration: a guarded statement takes ACCESS EXCLUSIVE, then the
# transaction stays open HOLD_S, running pg_sleep (active) or idle in
# transaction while psql runs a shell sleep (idle). Timestamps on the server
# clock; "end" is printed only if the session survives (not when the cap
# terminates an idle one).
migration() { # migration PORT COLUMN HOLD_S active|idle OUT
    local hold_sql="SELECT pg_sleep($3);"
    [ "$4" = idle ] && hold_sql="\\! sleep $3"
    psql_on "$1" -At -F' ' >"$5" 2>&1 <<SQL
BEGIN;
SELECT 'ddl_start', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
ALTER TABLE bench_reads ADD COLUMN $2 int;
SELECT 'locked', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
$hold_sql
COMMIT;
SELECT 'end', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint;
SQL
}

set_cap() { # set_cap VALUE|default: guarded_ddl.max_lock_hold on the guarded server
    local sql="ALTER SYSTEM SET guarded_ddl.max_lock_hold = '$1'"
    [ "$1" = default ] && sql="ALTER SYSTEM RESET guarded_ddl.max_lock_hold"
    psql_on "$GUARDED_PORT" -q -v ON_ERROR_STOP=1 -c "$sql" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5 # the postmaster rereads the file asynchronously
}

# One run of scenario C. Appends to $RESULTS: C CASE n p50 p99 max over
# slow held_ms ended_by window_ms reads_in_run window_from_ms.
run_cap_case() { # run_cap_case CASE
    local name=${SCENARIO_C[0]} rate=${SCENARIO_C[1]} clients=${SCENARIO_C[2]} warmup=${SCENARIO_C[3]}
    local hold=${SCENARIO_C[4]} tail=${SCENARIO_C[5]} case=$1
    local port=$VANILLA_PORT dir="$RUNS/$name-$case" column="c_${name}_$case" kind=${case#*_}
    [[ $case == capped_* ]] && port=$GUARDED_PORT
    local duration=$((warmup + hold + tail))
    [ "$kind" = queued ] && duration=$((duration + QUEUE_BLOCKER_S))
    gd_as_user mkdir -p "$dir"
    gd_log "scenario $name, $case: pgbench -R $rate -c $clients for ${duration}s"
    local before=0
    [ "$port" = "$GUARDED_PORT" ] &&
        before=$(psql_on "$port" -At -c "SELECT coalesce(max(id), 0) FROM guarded_ddl.ddl_log")

    local t0 pgbench_pid
    t0=$(now_us)
    gd_as_user pgbench -n -M prepared -h "$GD_SOCKET" -p "$port" -U postgres \
        -f "$RUNS/read.sql" -R "$rate" -c "$clients" -j 2 -T "$duration" \
        -l --log-prefix="$dir/reads" postgres >"$dir/pgbench.out" 2>&1 &
    pgbench_pid=$!
    BG_PIDS+=("$pgbench_pid")
    local blocker_pid='' start=$((t0 + warmup * 1000000))
    if [ "$kind" = queued ]; then
        sleep_until $((start - 1000000))
        blocker "$port" "$QUEUE_BLOCKER_S" "$dir/blocker.out" &
        blocker_pid=$!
        BG_PIDS+=("$blocker_pid")
    fi
    [ "$case" = baseline ] || {
        sleep_until "$start"
        migration "$port" "$column" "$hold" "$kind" "$dir/migration.out" || true
    }
    [ -z "$blocker_pid" ] || wait "$blocker_pid" || gd_die "the blocker failed: $(cat "$dir/blocker.out")"
    wait "$pgbench_pid" || gd_die "pgbench failed: $(tail -5 "$dir/pgbench.out")"

    local from to dstart locked end held="-" ended="-"
    if [ "$case" = baseline ]; then
        from=$((t0 + warmup * 1000000))
    else
        dstart=$(field ddl_start "$dir/migration.out")
        locked=$(field locked "$dir/migration.out")
        end=$(field end "$dir/migration.out")
        [ -n "$dstart" ] && [ -n "$locked" ] || gd_die "the migration did not take its lock: $(cat "$dir/migration.out")"
        from=$dstart
    fi
    to=$((from + (hold + 1) * 1000000))
    [ "$kind" = queued ] && to=$((to + QUEUE_BLOCKER_S * 1000000))
    if [[ $case == vanilla_* ]]; then
        [ -n "$end" ] || gd_die "the vanilla migration failed: $(cat "$dir/migration.out")"
        held=$(ms $((end - locked)))
        ended=commit
    elif [[ $case == capped_* ]]; then
        [ "$(psql_on "$port" -At -c "SELECT guarded_ddl.flush('30s')")" = t ] || gd_die "flush() timed out"
        held=$(psql_on "$port" -At -c "
            SELECT round(l.held_ms)::bigint FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
            WHERE d.id > $before AND d.statement LIKE '%ADD COLUMN $column%' AND l.relation LIKE '%bench_reads'
              AND l.lock_mode = 'AccessExclusiveLock' AND l.granted ORDER BY l.id LIMIT 1")
        [ -n "$held" ] || held="?"
        ended=$(psql_on "$port" -At -c "
            SELECT CASE WHEN error_message LIKE '%terminating%' THEN 'cap:terminated'
                        WHEN error_message LIKE '%canceling%' THEN 'cap:cancelled' ELSE 'cap:?' END
            FROM guarded_ddl.ddl_log WHERE id > $before AND command = 'LOCK HOLD CAP' ORDER BY id LIMIT 1")
        if [ -z "$ended" ]; then
            ended=$([ -n "$end" ] && echo commit || echo "?")
        else
            psql_on "$port" -At -c "SELECT '$case: ' || error_message FROM guarded_ddl.ddl_log
                WHERE id > $before AND command = 'LOCK HOLD CAP' ORDER BY id LIMIT 1" >>"$NOTES"
        fi
        grep -m1 -E 'ERROR|FATAL|terminat|lost' "$dir/migration.out" | sed "s/^/$case client saw: /" >>"$NOTES" || true
        psql_on "$port" -At -c "SELECT '$case: the ALTER waited ' || round(lock_wait_ms) || ' ms for its lock, '
                || lock_attempts || ' attempt(s)' FROM guarded_ddl.ddl_log
            WHERE id > $before AND statement LIKE '%ADD COLUMN $column%' ORDER BY id LIMIT 1" >>"$NOTES"
    fi
    local stats total
    stats=$(window_stats "$dir/reads" "$from" "$to" "$CAP_BOUND_MS")
    total=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
    printf '%s %s %s %s %s %s %s %s\n' "$name" "$case" "$stats" "$held" "$ended" \
        "$(ms $((to - from)))" "${total:-?}" "$(ms $((from - t0)))" >>"$RESULTS"
    return 0
}

CAP_BOUND_MS=$((CAP_S * 1000 + GUARD_TIMEOUT_MS + 25))
if has_scenario A; then for s in "${STRATEGIES[@]}"; do run_case SCENARIO_A "$s"; done; fi
if has_scenario B; then for s in "${STRATEGIES[@]}"; do run_case SCENARIO_B "$s"; done; fi
if has_scenario C; then
    set_cap "${CAP_S}s"
    CAP_SETTING=$(psql_on "$GUARDED_PORT" -At -c "SHOW guarded_ddl.max_lock_hold")
    for c in "${C_CASES[@]}"; do run_cap_case "$c"; done
    set_cap default
fi

# ---------------------------------------------------------------- report
label() {
    case $1 in
    baseline) echo "no DDL (baseline)" ;;
    vanilla) echo "vanilla, no lock_timeout" ;;
    retry) echo "vanilla, lock_timeout ${RETRY_TIMEOUT_MS}ms + retry" ;;
    guarded) echo "guarded_ddl defaults" ;;
    waitref) echo "ref: wait for holders, then 100ms" ;;
    esac
}
row() { awk -v n="$1" -v s="$2" '$1 == n && $2 == s' "$RESULTS"; }
target() { # target DESCRIPTION VALUE_MS LIMIT_MS
    local verdict
    verdict=$(awk -v v="$2" -v l="$3" 'BEGIN {
        if (v == "" || l == "") print "n/a"
        else if (v ~ /^-?[0-9.]+$/ && v + 0 <= l + 0) print "met"
        else print "MISSED" }')
    printf '  %-52s %10s ms  (limit %s ms)  %s\n' "$1" "${2:--}" "${3:--}" "$verdict"
}

table() { # table SCENARIO
    printf '%-36s %6s %7s %8s %8s %7s %7s %12s %6s\n' strategy reads "p50 ms" "p99 ms" "max ms" \
        ">${MAX_TARGET_MS}ms" ">10ms %" "DDL done ms" tries
    local s n p50 p99 max over slow ddl_done tries
    for s in "${STRATEGIES[@]}"; do
        read -r _ _ n p50 p99 max over slow ddl_done tries _ < <(row "$1" "$s") || true
        printf '%-36s %6s %7s %8s %8s %7s %7s %12s %6s\n' "$(label "$s")" "$n" "$p50" "$p99" "$max" \
            "$over" "$slow" "$ddl_done" "$tries"
    done
}

cat <<EOF
guarded_ddl lock-queue benchmark (issue 3; scenario C: issue 13's lock-hold cap)
Reproduce:  $REPRODUCE
Tree:       $(git -C "$GD_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$GD_ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ has uncommitted changes)')
Machine:    $(nproc) CPUs, $(uname -sr), $("$GD_BIN/postgres" --version)
Servers:    two throwaway clusters from the same sandbox binaries, Unix sockets only, fsync=off;
            vanilla: nothing preloaded; guarded: shared_preload_libraries=guarded_ddl + CREATE EXTENSION
Guard:      $GUARD_SETTINGS
EOF
if has_scenario A || has_scenario B; then
    cat <<EOF
            (all defaults; the default lock_budget of $((GUARD_BUDGET_MS / 1000)) s and 30 retries already
            outlast the 15 s blocker, so nothing was raised)
Retry loop: vanilla, new psql per try: SET lock_timeout='${RETRY_TIMEOUT_MS}ms'; ALTER ...; sleep ${RETRY_SLEEP}s on failure
EOF
fi
cat <<EOF
Table:      bench_reads, $ROWS rows, int primary key; reads: SELECT v FROM bench_reads WHERE id = <random>
DDL:        ALTER TABLE bench_reads ADD COLUMN <new> int   (needs ACCESS EXCLUSIVE)
EOF
if has_scenario A || has_scenario B; then
    cat <<EOF
Blocker:    BEGIN; SELECT ... FROM bench_reads LIMIT 1; pg_sleep(hold); COMMIT   (holds ACCESS SHARE)

Window:  reads overlapping [DDL start, blocker end + 1 s]; latency is pgbench's per-transaction
         time, which with -R counts from the scheduled start (queueing included).
"DDL done ms": when the DDL finished, in ms after the blocker's COMMIT began (negative = before).
">10ms %": share of the window's reads slower than 10 ms.
"tries":  DDL attempts (vanilla: 1; retry: psql runs; guarded: the guard's own count, try-lock included;
         ref: queued ALTER attempts).
"ref: wait for holders, then 100ms" is a reference row, not a product strategy: on the vanilla
         server, one session polls pg_locks every 50 ms (PL/pgSQL loop) until every session that held
         a lock on the table when the DDL started has ended (nothing queues on the table meanwhile),
         then runs SET lock_timeout='100ms'; ALTER ... (all again on a timeout). It shows that the
         targets are reachable.
EOF
fi
if has_scenario A; then
    cat <<EOF

Scenario A: pgbench -R ${SCENARIO_A[1]} -c ${SCENARIO_A[2]} -j 2 (open loop); blocker holds ${SCENARIO_A[4]} s; DDL starts ${SCENARIO_A[5]} s after it
EOF
table A
read -r _ _ _ _ base_p99 _ < <(row A baseline) || true
read -r _ _ _ _ g_p99 g_max _ _ g_done _ < <(row A guarded) || true
two_x_base=$(awk -v b="$base_p99" 'BEGIN { if (b != "") printf "%.2f", 2 * b }')
echo
echo "Targets (guarded_ddl, scenario A; reported, not asserted):"
target "read max <= guarded_ddl.lock_timeout + 25 ms" "$g_max" "$MAX_TARGET_MS"
target "read p99 <= 2 x baseline p99 (${base_p99:-?} ms)" "$g_p99" "$two_x_base"
target "DDL done <= 1 s after the blocker ended" "$g_done" 1000
fi
if has_scenario B; then
cat <<EOF

Scenario B (busy table): pgbench -R ${SCENARIO_B[1]} -c ${SCENARIO_B[2]} -j 2 (open loop); blocker holds ${SCENARIO_B[4]} s; DDL starts ${SCENARIO_B[5]} s after it
EOF
table B
read -r _ _ _ _ _ gb_max _ _ gb_done _ < <(row B guarded) || true
echo
echo "Targets (guarded_ddl, scenario B; reported, not asserted):"
target "DDL done <= 2 s after the blocker ended" "$gb_done" 2000
target "read max <= guarded_ddl.lock_timeout + 25 ms" "$gb_max" "$MAX_TARGET_MS"
fi
if has_scenario C; then
    cat <<EOF

Scenario C (issue 13, a capped transaction): pgbench -R ${SCENARIO_C[1]} -c ${SCENARIO_C[2]} -j 2 (open loop) as in A;
at t0+${SCENARIO_C[3]} s a migration runs, meaning to keep its transaction ${SCENARIO_C[4]} s:
    BEGIN; ALTER TABLE bench_reads ADD COLUMN <new> int;      -- ACCESS EXCLUSIVE, taken through the guard
    active: SELECT pg_sleep(${SCENARIO_C[4]});   idle: psql \\! sleep ${SCENARIO_C[4]} (idle in transaction)
    COMMIT;
queued:  as active, and a blocker (BEGIN; SELECT ... LIMIT 1; pg_sleep(${QUEUE_BLOCKER_S}); COMMIT, ACCESS SHARE) starts 1 s
         before the migration, so the ALTER waits about $((QUEUE_BLOCKER_S - 1)) s for its lock first (vanilla: queued, readers
         behind it; guarded: the lock guard's bounded attempts) and the window is ${QUEUE_BLOCKER_S} s longer.
Guarded server for this scenario: ALTER SYSTEM SET guarded_ddl.max_lock_hold = '${CAP_S}s' (SHOW: ${CAP_SETTING:-?}),
    everything else at its default (guarded_ddl.lock_timeout ${GUARD_TIMEOUT_MS} ms); reset afterwards.
Vanilla rows: the same migration on the vanilla server, no cap (nothing ends the transaction early).
Window:  reads overlapping [migration start, migration start + ${SCENARIO_C[4]} s + 1 s]; latency as above
         (pgbench -R: from the scheduled start, so a read's wait behind the lock is all counted).
"held ms": guarded: lock_log.held_ms of the ALTER's ACCESS EXCLUSIVE; vanilla: COMMIT end - ALTER end.
"ended by": cap:cancelled / cap:terminated from the cap's ddl_log row (command 'LOCK HOLD CAP'), else commit.
">${CAP_BOUND_MS}ms": reads slower than the bound cap + guarded_ddl.lock_timeout + 25 ms.
EOF
    printf '%-40s %6s %7s %8s %8s %8s %9s %15s\n' case reads "p50 ms" "p99 ms" "max ms" ">${CAP_BOUND_MS}ms" \
        "held ms" "ended by"
    for c in "${C_CASES[@]}"; do
        read -r _ _ n p50 p99 max over _ held ended _ < <(row C "$c") || true
        case $c in
        baseline) l="no migration (baseline)" ;;
        vanilla_active) l="vanilla, running pg_sleep" ;;
        vanilla_idle) l="vanilla, idle in transaction" ;;
        vanilla_queued) l="vanilla, queued ${QUEUE_BLOCKER_S}s blocker, pg_sleep" ;;
        capped_queued) l="guarded, cap ${CAP_S}s, queued, pg_sleep" ;;
        capped_active) l="guarded, cap ${CAP_S}s, running pg_sleep" ;;
        capped_idle) l="guarded, cap ${CAP_S}s, idle in transaction" ;;
        esac
        printf '%-40s %6s %7s %8s %8s %8s %9s %15s\n' "$l" "$n" "$p50" "$p99" "$max" "$over" "$held" "$ended"
    done
    echo
    echo "Target (issue 13; reported, not asserted): worst reader wait <= cap + guarded_ddl.lock_timeout + 25 ms"
    for c in capped_active capped_idle capped_queued; do
        read -r _ _ _ _ _ max _ < <(row C "$c") || true
        target "$c: read max <= ${CAP_S}000 + ${GUARD_TIMEOUT_MS} + 25 ms" "$max" "$CAP_BOUND_MS"
    done
fi
cat <<EOF

Details (window length ms, reads pgbench processed in the whole run, window start s after pgbench start):
EOF
awk '{ printf "  %s %-14s window %6s ms   reads in run %7s   window from t0+%s ms\n", $1, $2, $11, $12, $13 }' "$RESULTS"
if [ -s "$NOTES" ]; then
    echo
    echo "Notes:"
    sed 's/^/  /' "$NOTES"
fi
