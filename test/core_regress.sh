#!/usr/bin/env bash
# PostgreSQL's own core regression suite (src/test/regress, parallel
# schedule) against servers that preload guarded_ddl, three runs in a row:
#
#   vanilla   no shared_preload_libraries: the reference;
#   defaults  guarded_ddl preloaded, default settings: every test that passes
#             on vanilla must pass here (compared test by test, never against
#             a fixed number: the suite's minor version may not be the
#             server's, and then a few tests fail on vanilla too);
#   warn      preloaded, every table large (large_table_size = 0,
#             large_table_rows = 0), mode warn, the extension created in the
#             test database: no backend crash and no internal error (XX000)
#             that vanilla does not raise too. Its output differs from the
#             expected one by the WARNINGs, so its tests are not compared.
#
# The suite comes from the postgresql-N source package (apt-get source with
# a private apt configuration; the system's sources are not edited; for a
# major built from source by gd_build_pg, from that build's tree), cached
# with the regress.so built from it under $(gd_cache_dir), outside the
# checkout. Called by test/run.sh with its sandbox (GD_SANDBOX, GD_BIN,
# GD_PGXS, GD_WORK in the environment); run alone it makes its own
# (`GD_KEEP=1 bash test/core_regress.sh` keeps it).
#
# GD_CORE_SUITE=DIR runs another copy of src/test/regress (readable by the
# test user). Writes "SUITE PASSED FAILED" lines to $GD_WORK/core/counts and a report on
# stdout; exits non-zero when a check failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${GD_WORK:-}" ]; then
    gd_install_deps dpkg-dev gcc
    gd_build
    [ -n "${GD_KEEP:-}" ] || trap gd_remove_sandbox EXIT
    gd_make_sandbox
    gd_log "sandbox: $GD_SANDBOX"
else
    gd_install_deps dpkg-dev gcc
fi

core=$GD_WORK/core
rm -rf "$core" && mkdir -p "$core"
[ "$(id -u)" -eq 0 ] && chown "$GD_TEST_USER" "$core"
counts=$core/counts
: >"$counts"
any_failed=0
record() { # record SUITE PASSED FAILED
    echo "$1 $2 $3" >>"$counts"
    [ "$3" -eq 0 ] || any_failed=1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

# ---- The suite and regress.so, built once per installed server version ----
if [ "$GD_PG_VERSION" = "$GD_SYSTEM_PG_VERSION" ]; then
    server_version=$(dpkg-query -W -f='${Version}' "postgresql-$GD_PG_VERSION" 2>/dev/null)
else
    server_version=$(cat "$(gd_cache_dir)/pg-$GD_PG_VERSION/source_version")
fi
cache_root=$(gd_cache_dir)
# v2: regress.so, refint.so and autoinc.so (contrib/spi, for triggers).
cache=$cache_root/core-regress/v2-$server_version
mkdir -p "$cache_root/core-regress" && chmod a+rx "$cache_root" "$cache_root/core-regress"
exec 9>"$cache_root/core-regress/.lock"
flock 9 # two checkouts testing at once share the cache
if [ -f "$cache/.complete" ]; then
    gd_log "core suite: cached in $cache (source $(cat "$cache/source_version"))"
    echo "one-time fetch and build: cached ($(cat "$cache/build_seconds") s when it was done)"
else
    t0=$(now)
    rm -rf "$cache" && mkdir -p "$cache"
    built_src=$(gd_cache_dir)/pg-$GD_PG_VERSION/src
    if [ "$GD_PG_VERSION" != "$GD_SYSTEM_PG_VERSION" ] && [ -d "$built_src" ]; then
        mkdir -p "$cache/src/src/test" "$cache/src/contrib"
        cp -a "$built_src/src/test/regress" "$cache/src/src/test/" &&
            cp -a "$built_src/contrib/spi" "$cache/src/contrib/"
        source_version=$server_version
    elif ! source_version=$(gd_fetch_pg_source "$cache"); then
        echo "FAILED: could not fetch the postgresql-$GD_PG_VERSION source package (no network or no" \
            "mirror with it; see $cache/apt/*.log): the core regression suite did not run"
        record core 0 1
        exit 1
    fi
    # Only the suite and contrib/spi are kept: the modules the suite loads
    # (regress.so; refint.so and autoinc.so from contrib/spi, as its
    # GNUmakefile builds them) are built against the installed server's
    # headers (same major version, so the ABI matches).
    mkdir -p "$cache/suite" "$cache/lib"
    mv "$cache/src/src/test/regress" "$cache/suite/regress" && mv "$cache/src/contrib/spi" "$cache/suite/spi" &&
        rm -rf "$cache/src" "$cache/apt/cache"
    cc=$(command -v gcc || command -v cc)
    : >"$cache/build.log"
    for c in regress/regress.c spi/refint.c spi/autoinc.c; do
        # shellcheck disable=SC2046
        if ! "$cc" -O2 -fPIC -shared -fno-strict-aliasing -fwrapv -fexcess-precision=standard \
            -I"$("$(gd_pg_config)" --includedir-server)" $("$(gd_pg_config)" --cppflags) \
            "$cache/suite/$c" -o "$cache/lib/$(basename "$c" .c).so" >>"$cache/build.log" 2>&1; then
            cat "$cache/build.log"
            echo "FAILED: could not build $c from the postgresql-$GD_PG_VERSION $source_version source"
            record core 0 1
            exit 1
        fi
    done
    echo "$source_version" >"$cache/source_version"
    elapsed "$t0" >"$cache/build_seconds"
    touch "$cache/.complete"
    echo "one-time fetch and build: $(cat "$cache/build_seconds") s (cached in $cache)"
fi
chmod -R a+rX "$cache"
exec 9>&-
# GD_CORE_SUITE: another copy of src/test/regress (a suite with a statement
# taken out, to look past a crash); regress.so stays the cached one.
suite=${GD_CORE_SUITE:-$cache/suite/regress}
source_version=$(cat "$cache/source_version")
echo "server: postgresql-$GD_PG_VERSION $server_version; suite: postgresql-$GD_PG_VERSION $source_version"

# ---- The three runs ----
run_suite() { # run_suite NAME EXTRA-CONF [PG_REGRESS-OPTION...]
    local name=$1 extra=$2 out=$core/$1 t0
    shift 2
    mkdir -p "$out"
    # The server log goes through the logging collector into the output
    # directory: pg_regress removes its temporary instance (and the log in
    # it) when every test passed.
    cat >"$core/$name.conf" <<CONF
log_line_prefix = '%m [%p] %e '
log_min_error_statement = error
logging_collector = on
log_directory = '$out/server-log'
log_filename = 'server.log'
log_rotation_age = 0
log_rotation_size = 0
lc_messages = 'C'
$extra
CONF
    [ "$(id -u)" -eq 0 ] && chown -R "$GD_TEST_USER" "$out"
    gd_log "core suite: $name run"
    t0=$(now)
    gd_as_user "$GD_PGXS/src/test/regress/pg_regress" \
        --temp-instance="$out/instance" --temp-config="$core/$name.conf" \
        --bindir="$GD_BIN" --inputdir="$suite" --outputdir="$out" --dlpath="$cache/lib" \
        --schedule="$suite/parallel_schedule" --max-concurrent-tests=20 "$@" \
        >"$out/pg_regress.log" 2>&1
    echo "$(elapsed "$t0")" >"$out/seconds"
    echo "$name run: $(cat "$out/seconds") s wall; pg_regress: $(grep -E '^(# )? *(All [0-9]+|[0-9]+ of [0-9]+) tests' "$out/pg_regress.log" | sed 's/^[# ]*//' | head -1)"
}

run_suite vanilla ""
run_suite defaults "shared_preload_libraries = 'guarded_ddl'"
run_suite warn "shared_preload_libraries = 'guarded_ddl'
guarded_ddl.large_table_size = 0
guarded_ddl.large_table_rows = 0
guarded_ddl.mode = warn" --load-extension=guarded_ddl

# ---- Reading the results ----

# "test status" for every test pg_regress ran (status ok or failed).
# PostgreSQL 15 prints "test x ... ok", 16 and later TAP lines
# ("ok 12 + x 35 ms", "not ok 13 - y 20 ms").
results() {
    {
        sed -nE 's/^(test +| +)?([^ ]+) +\.\.\. (ok|FAILED|failed)( .*)?$/\2 \3/p' "$1"
        sed -nE 's/^(not ok|ok) +[0-9]+ +[-+] +([^ ]+).*$/\2 \1/p' "$1"
    } | awk '{ print $1, ($2 == "ok" ? "ok" : "failed") }'
}
completed() { grep -qE '^(# )? *(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests (failed|passed))' "$1"; }

# The server log as one line per message group: a message and the DETAIL,
# HINT, CONTEXT, STATEMENT lines of the same process that follow it.
# Fields, tab-separated: SQLSTATE LEVEL PID TEXT, newlines in TEXT as \x1f.
log_groups() {
    awk '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:.]+ [^ ]+ \[[0-9]+\] [0-9A-Z]+ [A-Z0-9]+:/ {
             p = $4; gsub(/[][]/, "", p); l = $6; sub(/:$/, "", l)
             if ((p in last) && l ~ /^(DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION)$/) {
                 cur = last[p]; text[cur] = text[cur] "\037" $0; next
             }
             n++; st[n] = $5; lvl[n] = l; pid[n] = p; text[n] = $0; last[p] = n; cur = n; next
         }
         n { text[cur] = text[cur] "\037" $0 }
         END { for (i = 1; i <= n; i++) { gsub(/\t/, " ", text[i]); print st[i] "\t" lvl[i] "\t" pid[i] "\t" text[i] } }' "$1"
}
show_group() { tr '\037' '\n' | head -c 4000; echo; }

# Crashes: a server process killed by a signal, exiting with a code other
# than 0 or 1, or a PANIC. The postmaster's DETAIL names the statement.
crash_groups() {
    log_groups "$1" | awk -F'\t' '$2 == "PANIC" ||
        $4 ~ /\(PID [0-9]+\) was terminated by (signal|exception)/ ||
        $4 ~ /\(PID [0-9]+\) exited with exit code ([2-9]|[1-9][0-9]+)([^0-9]|$)/'
}
# Internal errors: SQLSTATE XX000, as "normalized message<TAB>group" (numbers
# masked, since OIDs differ from run to run).
xx000_groups() {
    log_groups "$1" | awk -F'\t' '$1 == "XX000" && $2 ~ /^(ERROR|FATAL|PANIC)$/ {
        split($4, a, "\037"); m = a[1]; sub(/^.*(ERROR|FATAL|PANIC): +/, "", m)
        gsub(/[0-9]+/, "N", m); print m "\t" $4 }'
}
# The diff of one test from regression.diffs.
test_diff() { # test_diff DIFFS TEST
    awk -v t="/results/$2.out" '/^diff / { on = index($0, t) > 0 } on' "$1" | head -n 60
}
# A test whose session was cut by a crash (its own or another backend's).
lost_connection() {
    grep -qE 'server closed the connection unexpectedly|not yet accepting connections|in recovery mode|crash of another server process|connection to server was lost' "$1" 2>/dev/null
}

vlog=$core/vanilla/server-log/server.log
vres=$core/vanilla/pg_regress.log
xx000_groups "$vlog" 2>/dev/null | cut -f1 | sort -u >"$core/vanilla.xx000"
if [ -s "$core/vanilla.xx000" ]; then
    echo "XX000 raised by the vanilla run too (by design of the suite; not counted):"
    sed 's/^/    /' "$core/vanilla.xx000"
fi

# Crashes and internal errors of one preloaded run: prints what it finds and
# the statements, returns "crash-ok xx000-ok" as 1/0 pairs on the last line.
check_log() { # check_log NAME
    local name=$1 log=$core/$1/server-log/server.log ncrash nnew
    if [ ! -s "$log" ]; then
        echo "FAILED ($name): no server log at $log"
        echo "0 0"
        return
    fi
    ncrash=$(crash_groups "$log" | wc -l)
    if [ "$ncrash" -gt 0 ]; then
        echo "FAILED ($name): $ncrash backend crash(es) in the server log:"
        crash_groups "$log" | cut -f4 | while IFS= read -r g; do
            printf '%s' "$g" | show_group
            # The test that ran the statement: its output echoes it, then
            # loses the connection.
            local stmt f tests=''
            stmt=$(printf '%s' "$g" | tr '\037' '\n' | sed -n 's/.*Failed process was running: //p' | head -n 1)
            [ -n "$stmt" ] || continue
            for f in "$core/$name"/results/*.out; do
                grep -qF -- "$stmt" "$f" && lost_connection "$f" && tests="$tests $(basename "$f" .out)"
            done
            echo "    (in test:${tests:- unknown})"
        done
    else
        echo "ok ($name): no backend crash"
    fi
    xx000_groups "$log" | awk -F'\t' 'NR == FNR { seen[$0] = 1; next } !($1 in seen)' "$core/vanilla.xx000" - \
        >"$core/$name.new-xx000"
    nnew=$(wc -l <"$core/$name.new-xx000")
    if [ "$nnew" -gt 0 ]; then
        echo "FAILED ($name): $nnew internal error(s) (XX000) the vanilla run does not raise:"
        cut -f2 "$core/$name.new-xx000" | while IFS= read -r g; do printf '%s' "$g" | show_group; done
    else
        echo "ok ($name): no XX000 beyond vanilla's"
    fi
    echo "$((ncrash == 0 ? 1 : 0)) $((nnew == 0 ? 1 : 0))"
}

# Whether the second output is the first plus guarded_ddl's GD001 blocks
# (their ERROR, DETAIL and HINT lines) and nothing else.
only_guard_blocks() { # only_guard_blocks VANILLA_OUT GUARDED_OUT
    # diff exits 1 on any difference, which pipefail would take for the answer.
    { diff "$1" "$2" || true; } | awk '
        /^</ { other = 1 }
        /^> ERROR:  guarded_ddl: rule / { blocks++; next }
        /^> (DETAIL|HINT):  / { next }
        /^>/ { other = 1 }
        END { exit !(blocks > 0 && !other) }'
}

# ---- defaults vs vanilla, test by test ----
echo
echo "== defaults (guarded_ddl preloaded) vs vanilla, test by test"
def_pass=0
def_fail=0
if ! completed "$vres" || [ "$(results "$vres" | wc -l)" -eq 0 ]; then
    echo "FAILED: the vanilla run did not complete (see $vres):"
    tail -n 30 "$vres"
    def_fail=$((def_fail + 1))
else
    results "$vres" | sort >"$core/vanilla.results"
    results "$core/defaults/pg_regress.log" | sort >"$core/defaults.results"
    join -a1 -e missing -o 0,1.2,2.2 "$core/vanilla.results" "$core/defaults.results" >"$core/compare"
    while read -r t v d; do
        if [ "$v" != ok ]; then
            if cmp -s "$core/vanilla/results/$t.out" "$core/defaults/results/$t.out"; then
                same="same output as vanilla's"
            else
                same="output differs from vanilla's"
            fi
            echo "fails on vanilla too (suite $source_version vs server $server_version; not counted): $t ($same)"
        elif [ "$d" = ok ]; then
            def_pass=$((def_pass + 1))
        elif only_guard_blocks "$core/vanilla/results/$t.out" "$core/defaults/results/$t.out"; then
            # The guard doing its job at its default thresholds: a table the
            # test fills past 10 MB / 100,000 rows is large.
            def_pass=$((def_pass + 1))
            echo "blocked by design (a large table at the default thresholds, GD001; output otherwise vanilla's): $t:"
            { diff "$core/vanilla/results/$t.out" "$core/defaults/results/$t.out" || true; } |
                grep '^> ERROR:' | sed 's/^> /    /'
        else
            def_fail=$((def_fail + 1))
            if lost_connection "$core/defaults/results/$t.out"; then
                echo "FAILED with guarded_ddl, ok without: $t (lost its connection: a crash, see below)"
            else
                echo "FAILED with guarded_ddl, ok without: $t"
            fi
        fi
    done <"$core/compare"
    # Not counted, but a behaviour change hides there as well as anywhere.
    awk '$2 != "ok" { print $1 }' "$core/compare" | while read -r t; do
        cmp -s "$core/vanilla/results/$t.out" "$core/defaults/results/$t.out" && continue
        echo "---- $t fails on vanilla too, and its output with guarded_ddl differs from vanilla's (not counted):"
        diff -U1 "$core/vanilla/results/$t.out" "$core/defaults/results/$t.out" | head -n 80
    done | head -c 20000
    if [ "$def_fail" -gt 0 ]; then
        echo "---- diffs of those tests but the ones that lost their connection ($core/defaults/regression.diffs):"
        awk '$2 == "ok" && $3 != "ok" { print $1 }' "$core/compare" | while read -r t; do
            lost_connection "$core/defaults/results/$t.out" || test_diff "$core/defaults/regression.diffs" "$t"
        done | head -c 30000
        echo
    fi
fi
completed "$core/defaults/pg_regress.log" ||
    { echo "FAILED: the defaults run did not complete"; def_fail=$((def_fail + 1)); }
read -r c x < <(check_log defaults | tee "$core/defaults.check" | tail -n 1)
sed '$d' "$core/defaults.check"
def_pass=$((def_pass + c + x))
def_fail=$((def_fail + 2 - c - x))
record core-def "$def_pass" "$def_fail"

# ---- warn, every table large ----
echo
echo "== warn run (every table large, mode warn, extension created)"
w_pass=0
w_fail=0
wlog=$core/warn/server-log/server.log
if completed "$core/warn/pg_regress.log"; then
    w_pass=$((w_pass + 1))
else
    echo "FAILED: the warn run did not complete (see $core/warn/pg_regress.log):"
    tail -n 30 "$core/warn/pg_regress.log"
    w_fail=$((w_fail + 1))
fi
# The run must have exercised the guard: its WARNINGs (GD001) are in the log.
nwarn=$(grep -c ' GD001 WARNING: ' "$wlog" 2>/dev/null)
if [ "${nwarn:-0}" -gt 0 ]; then
    echo "ok (warn): the guard warned $nwarn times"
    w_pass=$((w_pass + 1))
else
    echo "FAILED (warn): no GD001 WARNING in the server log: was guarded_ddl active?"
    w_fail=$((w_fail + 1))
fi
read -r c x < <(check_log warn | tee "$core/warn.check" | tail -n 1)
sed '$d' "$core/warn.check"
w_pass=$((w_pass + c + x))
w_fail=$((w_fail + 2 - c - x))
# Not counted: the warn run's output against vanilla's once guarded_ddl's
# own WARNINGs (with their DETAIL and HINT) are taken out. Tests that look
# at the catalogs (event_trigger, opr_sanity) see the extension's objects.
strip_warnings() {
    awk '/^WARNING:  guarded_ddl:/ { skip = 1; next } skip && /^(DETAIL|HINT):  / { next } { skip = 0; print }' "$1"
}
differ=''
for f in "$core"/vanilla/results/*.out; do
    t=$(basename "$f" .out)
    [ -f "$core/warn/results/$t.out" ] || continue
    lost_connection "$core/warn/results/$t.out" && continue
    cmp -s <(strip_warnings "$f") <(strip_warnings "$core/warn/results/$t.out") || differ="$differ $t"
done
echo "(for information: $(results "$core/warn/pg_regress.log" | grep -c ' failed$') tests differ from the expected output in the warn run;" \
    "without guarded_ddl's WARNINGs, these differ from vanilla's output, the ones that lost their connection left out:${differ:- none})"
for t in $differ; do
    echo "---- $t, warn run against vanilla, guarded_ddl's WARNINGs taken out (not counted):"
    diff -U1 <(strip_warnings "$core/vanilla/results/$t.out") <(strip_warnings "$core/warn/results/$t.out") |
        tail -n +3 | head -n 60
done | head -c 20000
record core-warn "$w_pass" "$w_fail"

echo
for r in vanilla defaults warn; do printf '%s run: %s s wall\n' "$r" "$(cat "$core/$r/seconds")"; done
[ "$any_failed" -eq 0 ]
