# Shared by the bench/ scripts (sourced after test/lib.sh).

# Median of the numbers on stdin, one a line.
gd_median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# CPU time used so far by every process of the server in PGDATA, in clock
# ticks (USER_HZ, see `getconf CLK_TCK`), user + system: the postmaster's
# own time, its reaped children's (cutime + cstime: backends and workers that
# have exited), and the time of its live children (backends, background
# workers such as guarded_ddl's audit writer, autovacuum, checkpointer, ...).
# The difference of two readings is what the server cost in between.
# A child that exits between reading it and reading the postmaster would be
# counted twice or not at all, so the live children are read before and
# after the postmaster and the reading is repeated until their set is the
# same both times.
# KIND: all (the default), user (utime + cutime) or system (stime + cstime).
gd_server_cpu_ticks() { # gd_server_cpu_ticks PGDATA [KIND]
    local pm try before after pm_ticks kind=${2:-all}
    pm=$(head -1 "$1/postmaster.pid") || return 1
    for try in $(seq 50); do
        before=$(gd_children_ticks "$pm" "$kind")
        pm_ticks=$(awk -v k="$kind" '{ sub(/^.*\) /, ""); print gd_ticks(k) }'"$GD_TICKS_AWK" "/proc/$pm/stat") || return 1
        after=$(gd_children_ticks "$pm" "$kind")
        if [ "$(cut -d' ' -f1 <<<"$before")" = "$(cut -d' ' -f1 <<<"$after")" ]; then
            awk -v p="$pm_ticks" '{ s += $2 } END { print p + s }' <<<"$before"
            return 0
        fi
    done
    gd_die "gd_server_cpu_ticks: the server's processes kept changing"
}

# "pid ticks" (utime + stime + cutime + cstime, or KIND's share as for
# gd_server_cpu_ticks) of each live child of PID, sorted by pid.
gd_children_ticks() { # gd_children_ticks PID [KIND]
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
        awk -v pm="$1" -v k="${2:-all}" '{ pid = $1; sub(/^.*\) /, ""); if ($2 == pm) print pid, gd_ticks(k) }'"$GD_TICKS_AWK" |
        sort -n
}
# The ticks of a /proc/PID/stat line with the fields up to the command
# removed ($12 utime, $13 stime, $14 cutime, $15 cstime).
GD_TICKS_AWK='
function gd_ticks(k) { return k == "user" ? $12 + $14 : k == "system" ? $13 + $15 : $12 + $13 + $14 + $15 }'


# Where the server's CPU goes: "part ticks" lines (user + system) for the
# postmaster itself, its reaped children ("exited": the backends of clients
# that left, workers that ended) and each kind of live child, named from its
# process title (walwriter, checkpointer, guarded_ddl audit writer, ...;
# client backends are "backend"). Differences of two readings, part by part,
# attribute gd_server_cpu_ticks's total; a worker that exits in between
# moves from its part to "exited".
gd_server_cpu_parts() { # gd_server_cpu_parts PGDATA
    local pm pid title
    pm=$(head -1 "$1/postmaster.pid") || return 1
    awk '{ sub(/^.*\) /, ""); print "postmaster", $12 + $13; print "exited", $14 + $15 }' "/proc/$pm/stat"
    for pid in $(gd_children_ticks "$pm" | cut -d' ' -f1); do
        title=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
        title=${title#postgres: }
        case $title in
        "guarded_ddl audit writer"*) title="audit writer" ;;
        "guarded_ddl audit launcher"*) title="audit launcher" ;;
        checkpointer* | "background writer"* | walwriter* | "autovacuum launcher"* | "logical replication launcher"*)
            title=$(awk '{ print ($1 == "background" || $1 == "autovacuum" || $1 == "logical") ? $1 "_" $2 : $1 }' <<<"$title") ;;
        *) title=backend ;;
        esac
        awk -v t="${title// /_}" '{ sub(/^.*\) /, ""); print t, $12 + $13 + $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
    done | awk '{ s[$1] += $2 } END { for (p in s) print p, s[p] }' | sort
}

# The sandbox of a benchmark whose servers are DATA[name] = PGDATA (and
# PORT[name]), declared here: on exit every server is stopped and the
# sandbox removed, or kept when KEEP is not empty (debugging).
gd_bench_sandbox() { # gd_bench_sandbox KEEP
    declare -gA DATA PORT
    GD_BENCH_KEEP=$1
    trap gd_bench_cleanup EXIT
    trap 'exit 130' INT TERM
    gd_make_sandbox
}
gd_bench_cleanup() {
    for GD_DATA in "${DATA[@]}"; do gd_stop_server; done
    if [ -n "$GD_BENCH_KEEP" ]; then gd_log "kept $GD_SANDBOX"; else gd_remove_sandbox; fi
}

# gd_start_server with another try when the random port it picked is taken
# (gd_start_server exits on failure, so each try runs in a subshell); sets
# GD_DATA and GD_PORT like it.
gd_bench_start_server() { # gd_bench_start_server NAME  (GD_PRELOAD as for gd_start_server)
    local try
    GD_DATA="$GD_WORK/pgdata-$1"
    GD_SOCKET="$GD_WORK"
    for try in 1 2 3 4 5; do
        rm -rf "$GD_DATA"
        (gd_start_server "$1") && break
        [ "$try" -lt 5 ] || gd_die "could not start the server $1"
    done
    GD_PORT=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$GD_DATA/postgresql.conf" | tail -1)
}

# Waits (up to 10 s) until the server in PGDATA has no client backend of a
# Unix-socket session left, so that a CPU reading after a client run counts
# its backends' exit.
gd_wait_no_clients() { # gd_wait_no_clients PGDATA
    local pm i p titles
    pm=$(head -1 "$1/postmaster.pid")
    for i in $(seq 200); do
        titles=$(for p in $(gd_children_ticks "$pm" | cut -d' ' -f1); do
            { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null || true
            echo
        done)
        [[ $titles == *"[local]"* ]] || return 0
        sleep 0.05
    done
    gd_log "gd_wait_no_clients: client backends still there after 10 s"
}

# Instructions (callgrind's total Ir) of one session's backend, from its
# start-up to its exit, while it runs SQL_FILE through psql against the
# stopped cluster PGDATA, started for this under callgrind
# (--toggle-collect=PostgresMain: the other processes count nothing) and
# stopped again. The method of bench/ddl_cost.sh's session runs. The
# backend's callgrind file is left in PGDATA.session.cg.
gd_session_ir() { # gd_session_ir PGDATA SQL_FILE
    local data=$1 port pid out=$1.callgrind
    rm -f "$out".*
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$data/postgresql.conf" | tail -1)
    gd_as_user valgrind --tool=callgrind --callgrind-out-file="$out.%p" --toggle-collect=PostgresMain \
        postgres -D "$data" >"$data/callgrind-server.log" 2>&1 &
    local vg=$! i
    for i in $(seq 240); do gd_as_user pg_isready -q -h "$GD_SOCKET" -p "$port" && break; sleep 0.5; done
    gd_as_user psql -X -q -At -v ON_ERROR_STOP=1 -h "$GD_SOCKET" -p "$port" -U postgres -d postgres \
        -c 'SELECT pg_backend_pid()' -f "$2" >"$data/callgrind-psql.out" 2>"$data/callgrind-psql.log" ||
        gd_die "the session failed (see $data/callgrind-psql.log)"
    pid=$(head -1 "$data/callgrind-psql.out")
    gd_as_user pg_ctl -D "$data" -m fast -w -t 300 stop >/dev/null
    wait "$vg" || true
    [ -f "$out.$pid" ] || gd_die "no callgrind output for backend $pid"
    mv "$out.$pid" "$data.session.cg" # kept for callgrind_annotate
    rm -f "$out".*
    sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$data.session.cg"
}
