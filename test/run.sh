#!/usr/bin/env bash
# The one test command: installs what is missing, builds guarded_ddl both
# ways, and runs every suite against throwaway PostgreSQL servers that
# preload it: GoogleTest (logic zone), pg_regress (sql/, expected/),
# pg_isolation_regress (test/isolation), TAP (test/t) and PostgreSQL's own
# regression suite. Ends with one line "N passed, N failed" summing all
# suites; exits non-zero on any failure.
#
#   bash test/run.sh                 PostgreSQL 15 (Debian 12's packages)
#   bash test/run.sh --pg 18         another major, built once from its Debian
#                                    source package (test/lib.sh gd_build_pg)
#   bash test/run.sh --pg 15,17,18   each in turn, summed; a major whose
#                                    source cannot be fetched is skipped, and
#                                    named on a line of its own
set -uo pipefail
here=$(dirname "${BASH_SOURCE[0]}")

majors=()
while [ $# -gt 0 ]; do
    case $1 in
    --pg) IFS=', ' read -ra majors <<<"${2:-}"; shift 2 ;;
    --pg=*) IFS=', ' read -ra majors <<<"${1#--pg=}"; shift ;;
    *) echo "usage: bash test/run.sh [--pg MAJOR[,MAJOR...]]" >&2; exit 2 ;;
    esac
done
for m in "${majors[@]}"; do
    [[ $m =~ ^1[5-9]$ ]] || { echo "unsupported PostgreSQL major: $m (15 or newer)" >&2; exit 2; }
done

if [ ${#majors[@]} -gt 1 ]; then
    total_passed=0 total_failed=0 lines=() skipped=()
    for m in "${majors[@]}"; do
        out=$(mktemp)
        bash "$here/run.sh" --pg "$m" | tee "$out"
        last=$(tail -1 "$out")
        if grep -q '^skipped: ' "$out"; then
            skipped+=("$(grep '^skipped: ' "$out" | head -1)")
        elif [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
            total_passed=$((total_passed + BASH_REMATCH[1]))
            total_failed=$((total_failed + BASH_REMATCH[2]))
            lines+=("PostgreSQL $m: $last")
        else
            total_failed=$((total_failed + 1))
            lines+=("PostgreSQL $m: the run broke before its summary")
        fi
        rm -f "$out"
    done
    echo "==== all majors"
    printf '%s\n' "${lines[@]}" "${skipped[@]}"
    echo "$total_passed passed, $total_failed failed"
    [ "$total_failed" -eq 0 ]
    exit
fi

GD_PG_VERSION=${majors[0]:-15}
source "$here/lib.sh"

gd_install_deps $(gd_migration_tool_packages)
gd_build_pg
case $? in
0) ;;
3)
    echo "skipped: PostgreSQL $GD_PG_VERSION, its Debian source package cannot be fetched from this machine's mirror"
    echo "0 passed, 0 failed"
    exit 0
    ;;
*) echo "0 passed, 1 failed"; exit 1 ;;
esac
gd_build
[ -n "${GD_KEEP:-}" ] || trap gd_remove_sandbox EXIT
gd_make_sandbox

passed=0
failed=0
count() { # count PASSED FAILED SUITE
    passed=$((passed + $1)); failed=$((failed + $2))
    printf '%-10s %d passed, %d failed\n' "$3:" "$1" "$2" >>"$GD_WORK/summary"
}
show_failures() { # show_failures FILE...
    local f
    for f in "$@"; do [ -s "$f" ] && { echo "---- $f"; head -c 20000 "$f"; }; done
}
# prove's log is long: the failed checks with their diagnostics, prove's
# summary, and the end of each failed test's server-side log.
show_tap_failures() { # show_tap_failures TAP_LOG
    local t log
    echo "---- $1 (failed checks)"
    grep -E -A5 '^ *not ok [0-9]+' "$1" | head -c 20000
    sed -n '/^Test Summary Report/,$p' "$1"
    # tap/tmp_check/log up to PostgreSQL 15, log from 16 on.
    for t in $(sed -n 's|^.*/test/t/\([0-9a-z_]*\)\.pl *(Wstat.*|\1|p' "$1"); do
        for log in "$GD_WORK"/tap/tmp_check/log/regress_log_"$t" "$GD_WORK"/log/regress_log_"$t"; do
            [ -s "$log" ] || continue
            # Test::More's diagnostics (got, expected, the test's diag)
            # follow each failed check here, not in prove's output.
            echo "---- $log (failed checks with their diagnostics)"
            grep -E -A12 '^\[[0-9:.]+\]\([0-9.]+s\) not ok ' "$log" | head -c 8000
            echo "---- $log (end)"
            tail -c 4000 "$log"
        done
    done
}

# Unit tests of the logic zone, through the CMake build (also proves it builds).
gd_log "unit tests (GoogleTest via CMake)"
cmake_dir="$GD_ROOT/build/cmake"
if cmake -S "$GD_ROOT" -B "$cmake_dir" -DPG_CONFIG="$(gd_pg_config)" >"$GD_WORK/cmake.log" 2>&1 &&
    cmake --build "$cmake_dir" -j"$(nproc)" >>"$GD_WORK/cmake.log" 2>&1; then
    (cd "$cmake_dir" && ctest --output-on-failure) >"$GD_WORK/unit.log" 2>&1
    total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$GD_WORK/unit.log")
    bad=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$GD_WORK/unit.log")
    [ -n "$total" ] || { total=1; bad=1; }
    count $((total - bad)) "$bad" unit
    [ "$bad" -eq 0 ] || show_failures "$GD_WORK/unit.log"
else
    count 0 1 unit
    show_failures "$GD_WORK/cmake.log"
fi

# pg_regress and pg_isolation_regress start their own throwaway instance
# with guarded_ddl preloaded (test/preload.conf).
count_pg_regress() { # count_pg_regress LOG SUITE
    local ok bad
    # PostgreSQL 15 prints "test x ... ok", 16 and later TAP ("ok 1 - x").
    ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$1")
    bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+ ' "$1")
    if ! grep -qE 'tests passed|tests failed|test passed|test failed' "$1"; then
        bad=$((bad + 1)) # the run itself broke (initdb, server start, ...)
    fi
    count "$ok" "$bad" "$2"
}

gd_log "regression tests (pg_regress)"
gd_as_user "$GD_PGXS/src/test/regress/pg_regress" \
    --temp-instance="$GD_WORK/regress-instance" --temp-config="$GD_WORK/test/preload.conf" \
    --bindir="$GD_BIN" --inputdir="$GD_WORK" --outputdir="$GD_WORK/regress" \
    --dbname=contrib_regression $(make -s -C "$GD_ROOT" show-regress) >"$GD_WORK/regress.log" 2>&1
count_pg_regress "$GD_WORK/regress.log" regress
grep -qE '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+ ' "$GD_WORK/regress.log" &&
    show_failures "$GD_WORK/regress.log" "$GD_WORK/regress/regression.diffs"

gd_log "isolation tests (pg_isolation_regress)"
specs=$(cd "$GD_WORK/test/isolation/specs" && ls *.spec | sed 's/\.spec$//')
gd_as_user "$GD_PGXS/src/test/isolation/pg_isolation_regress" \
    --temp-instance="$GD_WORK/isolation-instance" --temp-config="$GD_WORK/test/preload.conf" \
    --bindir="$GD_BIN" --inputdir="$GD_WORK/test/isolation" --outputdir="$GD_WORK/isolation" \
    --dbname=isolation_regression $specs >"$GD_WORK/isolation.log" 2>&1
count_pg_regress "$GD_WORK/isolation.log" isolation
grep -qE '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+ ' "$GD_WORK/isolation.log" &&
    show_failures "$GD_WORK/isolation.log" "$GD_WORK/isolation/regression.diffs"

gd_log "TAP tests (prove)"
mkdir -p "$GD_WORK/tap" && chown --reference="$GD_WORK" "$GD_WORK/tap"
gd_as_user env "PERL5LIB=$GD_PGXS/src/test/perl:$GD_WORK/test/perl" "TESTDIR=$GD_WORK/tap" \
    prove -v "$GD_WORK"/test/t/*.pl >"$GD_WORK/tap.log" 2>&1
tap_ok=$(grep -E "^ *ok [0-9]+" "$GD_WORK/tap.log" | grep -cv "# skip")
tap_skipped=$(grep -E "^ *ok [0-9]+" "$GD_WORK/tap.log" | grep -c "# skip")
tap_bad=$(grep -cE '^ *not ok [0-9]+' "$GD_WORK/tap.log")
grep -qE '^Result: PASS' "$GD_WORK/tap.log" || [ "$tap_bad" -gt 0 ] || tap_bad=1
count "$tap_ok" "$tap_bad" tap
# A skipped check is neither passed nor failed; it is named in the summary.
[ "$tap_skipped" -eq 0 ] ||
    echo "tap:       $tap_skipped skipped ($(grep -E '^ *ok [0-9]+ # skip' "$GD_WORK/tap.log" |
        sed 's/.*# skip *//' | sort -u | paste -sd ';'))" >>"$GD_WORK/summary"
grep -qE '^Result: PASS' "$GD_WORK/tap.log" || show_tap_failures "$GD_WORK/tap.log"

# Distribution: META.json and `make dist` (PGXN); the Debian package built,
# installed into the system PostgreSQL and installchecked (as root only; the
# parts it cannot run are listed as skipped, never counted as passed).
# The package is built for the system's own major only.
if [ "$GD_PG_VERSION" = "$GD_SYSTEM_PG_VERSION" ]; then
    gd_log "distribution: PGXN metadata, the Debian package (test/package.sh)"
    GD_WORK=$GD_WORK bash "$GD_ROOT/test/package.sh" >"$GD_WORK/package.log" 2>"$GD_WORK/package.err"
    package_rc=$?
    [ -f "$GD_WORK/package/counts" ] &&
        while read -r suite ok bad; do count "$ok" "$bad" "$suite"; done <"$GD_WORK/package/counts"
    [ -f "$GD_WORK/package/skipped" ] &&
        while read -r suite reason; do
            printf '%-10s skipped: %s\n' "$suite:" "$reason" >>"$GD_WORK/summary"
        done <"$GD_WORK/package/skipped"
    # It ended early without counting a failure: it broke (a missing package, ...).
    package_done=0
    grep -qE '^installcheck ' "$GD_WORK/package/counts" 2>/dev/null && package_done=1
    grep -qE '^package ' "$GD_WORK/package/skipped" 2>/dev/null && package_done=1
    awk '$3 > 0 { f = 1 } END { exit !f }' "$GD_WORK/package/counts" 2>/dev/null && package_done=1
    [ "$package_done" -eq 1 ] || count 0 1 package
    [ "$package_rc" -eq 0 ] || show_failures "$GD_WORK/package.log" "$GD_WORK/package.err"
fi

# PostgreSQL's own regression suite: vanilla, guarded_ddl preloaded with
# defaults (compared test by test with vanilla), and every table large in
# warn mode (no crash, no internal error vanilla does not raise).
gd_log "PostgreSQL core regression suite (test/core_regress.sh)"
GD_SANDBOX=$GD_SANDBOX GD_BIN=$GD_BIN GD_PGXS=$GD_PGXS GD_WORK=$GD_WORK \
    bash "$GD_ROOT/test/core_regress.sh" >"$GD_WORK/core_regress.log" 2>"$GD_WORK/core_regress.err"
[ -f "$GD_WORK/core/counts" ] &&
    while read -r suite ok bad; do count "$ok" "$bad" "$suite"; done <"$GD_WORK/core/counts"
# The script broke before its last check (the fetch failing counts as "core").
if ! grep -qE '^(core|core-warn) ' "$GD_WORK/core/counts" 2>/dev/null; then
    count 0 1 core
    show_failures "$GD_WORK/core_regress.err"
fi
echo "---- core regression suite (full report: $GD_WORK/core_regress.log)"
head -c 40000 "$GD_WORK/core_regress.log"

cat "$GD_WORK/summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
