#!/usr/bin/env bash
# Distribution checks, two parts:
#
#   pgxn       META.json is valid JSON with the PGXN meta spec's required
#              keys, its version is guarded_ddl.control's default_version as
#              a SemVer (1.0 -> 1.0.0, as PGXN requires), and provides
#              guarded_ddl at that version with a file that exists; `make
#              dist` writes guarded_ddl-<version>.zip holding exactly the
#              committed tree (git ls-tree HEAD) under one top directory,
#              META.json, the control file, the Makefile, src/ and extension/
#              among it. Skipped (not passed) outside a git checkout.
#
#   package    (root only: it installs into the system) builds the Debian
#              package from a copy of the checkout with `dpkg-buildpackage
#              -us -uc -b`, after installing its build-dependencies from
#              debian/control (`apt-get build-dep`), checks the .deb
#              (name, version, Depends, files), installs it into the system
#              PostgreSQL $GD_PG_VERSION with `apt-get install ./*.deb`, starts a
#              throwaway server from /usr/lib/postgresql/$GD_PG_VERSION/bin that
#              preloads guarded_ddl, checks that the postmaster mapped the
#              packaged library and that CREATE EXTENSION gives the control
#              file's version, and runs the pg_regress suites (`make
#              show-regress`) against that server: an installcheck of the
#              installed package. Not root: says so, skipped (not passed).
#              The package is removed afterwards (purge) when it was not
#              installed before the test; GD_KEEP_PACKAGE=1 keeps it.
#
# Called by test/run.sh with GD_WORK set; run alone it makes its own work
# directory (`GD_KEEP=1 bash test/package.sh` keeps it). Writes "SUITE PASSED
# FAILED" lines to $GD_WORK/package/counts and "SUITE REASON" lines to
# $GD_WORK/package/skipped; a report on stdout; exits non-zero when a check
# failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gd_install_deps git unzip dpkg-dev debhelper postgresql-server-dev-all

own_work=''
if [ -z "${GD_WORK:-}" ]; then
    GD_WORK=$(mktemp -d /tmp/guarded_ddl-package.XXXXXX)
    own_work=$GD_WORK
    gd_log "work directory: $GD_WORK"
fi
# Cleanup steps, run at exit in reverse order of registration.
cleanups=()
cleanup() { local i; for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}"; done; }
trap cleanup EXIT
[ -n "$own_work" ] && [ -z "${GD_KEEP:-}" ] && cleanups+=('rm -rf "$own_work"')
out=$GD_WORK/package
rm -rf "$out" && mkdir -p "$out"
counts=$out/counts skipped=$out/skipped
: >"$counts" && : >"$skipped"
any_failed=0
ok=0 bad=0
check() { # check DESCRIPTION COMMAND...: one counted check of the current part
    if "${@:2}" >>"$out/checks.log" 2>&1; then
        ok=$((ok + 1)) && echo "  ok    $1"
    else
        bad=$((bad + 1)) && echo "  FAIL  $1"
    fi
}
record() { # record SUITE: the current part's counts
    echo "$1 $ok $bad" >>"$counts"
    [ "$bad" -eq 0 ] || any_failed=1
    ok=0 bad=0
}
skip() { # skip SUITE REASON
    echo "$1 $2" >>"$skipped"
    echo "SKIPPED $1: $2"
}

control_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$GD_ROOT/guarded_ddl.control")
# PGXN versions are SemVer (major.minor.patch): 1.0 is 1.0.0.
semver=$(echo "$control_version" | awk -F. '{ print ($1 + 0) "." ($2 + 0) "." ($3 + 0) }')

# ---- pgxn: META.json and make dist ----
echo "== pgxn: META.json and make dist (control default_version $control_version, SemVer $semver)"
meta_field() { # meta_field PATH...: a value of META.json ("" when absent)
    perl -MJSON::PP -e 'local $/; my $v = decode_json(<STDIN>);
        for my $k (@ARGV) { $v = ref $v eq "HASH" ? $v->{$k} : undef }
        print ref $v ? "<" . ref($v) . ">" : defined $v ? $v : ""' "$@" <"$GD_ROOT/META.json"
}
check "META.json is valid JSON" perl -MJSON::PP -e 'local $/; decode_json(<STDIN>)' <"$GD_ROOT/META.json"
for k in name abstract maintainer license provides meta-spec version; do
    check "META.json has \"$k\"" test -n "$(meta_field "$k")"
done
check "META.json meta-spec version is 1.0.0" test "$(meta_field meta-spec version)" = 1.0.0
check "META.json name is the extension's, guarded_ddl" test "$(meta_field name)" = guarded_ddl
check "META.json version $(meta_field version) is default_version $control_version as SemVer ($semver)" \
    test "$(meta_field version)" = "$semver"
check "META.json provides guarded_ddl at the same version" \
    test "$(meta_field provides guarded_ddl version)" = "$semver"
provided_file=$(meta_field provides guarded_ddl file)
check "META.json provides guarded_ddl with a file that exists ($provided_file)" \
    test -n "$provided_file" -a -f "$GD_ROOT/$provided_file"

git_prefix=$(git -C "$GD_ROOT" rev-parse --show-prefix 2>"$out/git.err")
git_rc=$?
if [ "$git_rc" -eq 0 ] && [ -z "$git_prefix" ]; then
    dist=$out/dist && mkdir -p "$dist"
    # From another directory, so that the archive is written there, not into the checkout.
    check "make dist runs" make -C "$dist" -f "$GD_ROOT/Makefile" PG_CONFIG="$(gd_pg_config)" dist
    zip=$dist/guarded_ddl-$semver.zip
    check "make dist wrote guarded_ddl-$semver.zip" test -s "$zip"
    if [ -s "$zip" ]; then
        unzip -Z1 "$zip" | grep -v '/$' | sort >"$dist/archive.list"
        git -C "$GD_ROOT" ls-tree -r --name-only HEAD | sed "s|^|guarded_ddl-$semver/|" | sort >"$dist/head.list"
        check "the archive holds exactly the committed files (git ls-tree HEAD), under guarded_ddl-$semver/" \
            diff -u "$dist/head.list" "$dist/archive.list"
        for f in META.json guarded_ddl.control Makefile "$provided_file"; do
            check "the archive has $f" grep -qx "guarded_ddl-$semver/$f" "$dist/archive.list"
        done
        for d in src/core src/pg extension sql expected; do
            check "the archive has $d/" grep -q "^guarded_ddl-$semver/$d/" "$dist/archive.list"
        done
        # Ignored build products of the checkout (objects, the library, build/)
        # must not leak in, whatever the checkout's state.
        check "the archive has no build products (.o, .so, build/, .deb)" \
            bash -c "! grep -E '\.(o|so|bc|deb)$|/build/|/build-[0-9]+/' '$dist/archive.list'"
        check "the archived META.json has version $semver" \
            bash -c "unzip -p '$zip' 'guarded_ddl-$semver/META.json' | perl -MJSON::PP -e 'local \$/; exit(decode_json(<STDIN>)->{version} ne \"$semver\")'"
    fi
    record pgxn
else
    record pgxn-meta
    if grep -q 'dubious ownership' "$out/git.err"; then
        skip pgxn-dist "git refuses $GD_ROOT, owned by another user (see git config safe.directory): make dist archives git HEAD"
    else
        skip pgxn-dist "$GD_ROOT is not (the top of) a git checkout: make dist archives git HEAD"
    fi
fi

# ---- package: the .deb, installed, and the suites against it ----
pkg=postgresql-$GD_PG_VERSION-guarded-ddl
if [ "$(id -u)" -ne 0 ]; then
    skip package "not root: installing the package into the system PostgreSQL needs root"
    [ "$any_failed" -eq 0 ]
    exit
fi

echo "== package: $pkg, built, installed, installcheck"
changelog_version=$(dpkg-parsechangelog -l "$GD_ROOT/debian/changelog" -S Version)
check "debian/changelog's upstream version ${changelog_version%-*} is default_version $control_version" \
    test "${changelog_version%-*}" = "$control_version"
check "debian/control is debian/control.in for the versions of debian/pgversions" \
    bash -c "cd '$GD_ROOT' && pg_buildext checkcontrol"

# A copy of the checkout (tracked and untracked files, not the ignored build
# products, not .git), since dpkg-buildpackage writes into the parent
# directory and debian/ while it builds.
build=$out/build
src=$build/guarded-ddl-$control_version
mkdir -p "$src"
if git -C "$GD_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$GD_ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$src"
else
    tar -C "$GD_ROOT" --exclude=./build --exclude='./build-*' --exclude=./.git --exclude='*.o' \
        --exclude='*.so' --exclude=.deps -cf - . | tar -xf - -C "$src"
fi
# The build-dependencies, from debian/control, as on a fresh machine.
if ! (cd "$src" && dpkg-checkbuilddeps) >"$out/builddeps.log" 2>&1; then
    gd_log "installing the package's build-dependencies (apt-get build-dep)"
    (cd "$src" && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 build-dep -y -qq \
        --no-install-recommends ./) >>"$out/builddeps.log" 2>&1
fi
check "the build-dependencies are installed (dpkg-checkbuilddeps)" bash -c "cd '$src' && dpkg-checkbuilddeps"

gd_log "building $pkg (dpkg-buildpackage -us -uc -b)"
deb=$build/${pkg}_${changelog_version}_$(dpkg --print-architecture).deb
check "dpkg-buildpackage -us -uc -b (log: $out/dpkg-buildpackage.log)" \
    bash -c "cd '$src' && dpkg-buildpackage -us -uc -b >'$out/dpkg-buildpackage.log' 2>&1"
check "it wrote $(basename "$deb")" test -s "$deb"
record package-build
if [ ! -s "$deb" ]; then
    tail -40 "$out/dpkg-buildpackage.log"
    exit 1
fi

field() { dpkg-deb -f "$deb" "$1"; }
depends=$(field Depends)
check "the package is $pkg" test "$(field Package)" = "$pkg"
check "its version is $changelog_version" test "$(field Version)" = "$changelog_version"
check "it depends on postgresql-$GD_PG_VERSION ($depends)" \
    bash -c "grep -qE '(^|, )postgresql-$GD_PG_VERSION( |,|$)' <<<'$depends'"
fmt_lib=$(dpkg-query -W -f='${Package}\n' 'libfmt[0-9]*' 2>/dev/null | grep -E '^libfmt[0-9]+$' | head -1)
check "it depends on fmt's library, ${fmt_lib:-libfmtN} (shlibs)" \
    bash -c "grep -qE '(^|, )${fmt_lib:-libfmt[0-9]+}( |,|$)' <<<'$depends'"
dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$out/deb.list"
lib=/usr/lib/postgresql/$GD_PG_VERSION/lib/guarded_ddl.so
ext=/usr/share/postgresql/$GD_PG_VERSION/extension
check "it ships $lib" grep -qx "$lib" "$out/deb.list"
check "it ships $ext/guarded_ddl.control" grep -qx "$ext/guarded_ddl.control" "$out/deb.list"
for f in "$GD_ROOT"/extension/guarded_ddl--*.sql; do
    check "it ships $ext/$(basename "$f")" grep -qx "$ext/$(basename "$f")" "$out/deb.list"
done
check "the library has no LLVM bitcode beside it (no JIT dependency)" bash -c "! grep -q /bitcode/ '$out/deb.list'"
record package-contents

# Installed into the system PostgreSQL, as a user would.
was_installed=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -c 'install ok installed')
gd_log "installing $(basename "$deb") into the system PostgreSQL $GD_PG_VERSION"
check "apt-get install ./$(basename "$deb")" \
    env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$deb"
check "$pkg $changelog_version is installed" \
    test "$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null)" = "install ok installed $changelog_version"
check "$lib belongs to $pkg" bash -c "dpkg -S '$lib' | grep -q '^$pkg:'"
mkdir -p "$out/deb" && dpkg-deb -x "$deb" "$out/deb"
check "the installed $lib is the packaged one" cmp "$out/deb$lib" "$lib"
remove_package() {
    gd_log "removing $pkg (it was not installed before the test; GD_KEEP_PACKAGE=1 keeps it)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -qq "$pkg" >"$out/purge.log" 2>&1 ||
        echo "warning: could not remove $pkg (see $out/purge.log)" >&2
}
[ "$was_installed" -eq 0 ] && [ -z "${GD_KEEP_PACKAGE:-}" ] && cleanups+=(remove_package)

# A throwaway server from the system's binaries (not the sandbox), preloading
# what the package installed.
GD_BIN=/usr/lib/postgresql/$GD_PG_VERSION/bin
GD_PGXS=/usr/lib/postgresql/$GD_PG_VERSION/lib/pgxs
srv=$out/server
mkdir -p "$srv"
cp -a "$GD_ROOT/sql" "$GD_ROOT/expected" "$srv/"
cp "$GD_ROOT/test/preload.conf" "$srv/preload.conf"
id "$GD_TEST_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/bash "$GD_TEST_USER"
chmod a+rx "$GD_WORK" "$out" && chown -R "$GD_TEST_USER" "$srv"
GD_WORK=$srv # gd_as_user runs there, with $GD_BIN first on PATH
data=$srv/pgdata
port=$((55000 + RANDOM % 1000))
stop_server() { [ -f "$data/postmaster.pid" ] && gd_as_user "$GD_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1; true; }
cleanups+=(stop_server)
server_up=0
# The bootstrap superuser is named after the OS user, as in pg_regress's
# temporary instances (the expected outputs name it).
if gd_as_user "$GD_BIN/initdb" -D "$data" -A trust -U "$GD_TEST_USER" --no-sync >"$srv/initdb.log" 2>&1; then
    {
        cat "$srv/preload.conf"
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$srv'"
        echo "fsync = off"
    } >>"$data/postgresql.conf"
    gd_as_user "$GD_BIN/pg_ctl" -D "$data" -l "$srv/server.log" -w start >/dev/null 2>&1 && server_up=1
fi
check "a server from $GD_BIN starts with shared_preload_libraries = 'guarded_ddl' (log: $srv/server.log)" \
    test "$server_up" -eq 1
if [ "$server_up" -eq 1 ]; then
    pid=$(head -1 "$data/postmaster.pid")
    check "the postmaster ($GD_BIN/postgres) mapped the packaged $lib" \
        bash -c "grep -q ' $lib\$' /proc/$pid/maps && [ \"\$(readlink /proc/$pid/exe)\" = '$GD_BIN/postgres' ]"
    psql_() { gd_as_user "$GD_BIN/psql" -X -At -h "$srv" -p "$port" -U "$GD_TEST_USER" -d postgres -v ON_ERROR_STOP=1 "$@"; }
    check "CREATE EXTENSION guarded_ddl installs version $control_version" \
        test "$(psql_ -c 'CREATE EXTENSION guarded_ddl' -c "SELECT extversion FROM pg_extension WHERE extname = 'guarded_ddl'" | tail -1)" = "$control_version"
    check "the loaded library reports version $control_version (guarded_ddl.version())" \
        test "$(psql_ -c 'SELECT guarded_ddl.version()')" = "$control_version"
    psql_ -c 'DROP EXTENSION guarded_ddl' >/dev/null 2>&1
fi
record package-load

# installcheck: the suites against the running server of the installed package.
if [ "$server_up" -eq 1 ]; then
    gd_log "installcheck: pg_regress against the installed package"
    gd_as_user "$GD_PGXS/src/test/regress/pg_regress" --host="$srv" --port="$port" --user="$GD_TEST_USER" \
        --bindir="$GD_BIN" --inputdir="$srv" --outputdir="$srv/regress" \
        --dbname=contrib_regression $(make -s -C "$GD_ROOT" PG_CONFIG="$(gd_pg_config)" show-regress) \
        >"$out/installcheck.log" 2>&1
    ok=$(grep -cE '\.\.\. ok' "$out/installcheck.log")
    bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$out/installcheck.log")
    grep -qE 'tests passed|tests failed|test passed|test failed' "$out/installcheck.log" || bad=$((bad + 1))
    echo "  installcheck: $ok passed, $bad failed (log: $out/installcheck.log)"
    if [ "$bad" -gt 0 ]; then
        tail -30 "$out/installcheck.log"
        [ -s "$srv/regress/regression.diffs" ] && head -c 20000 "$srv/regress/regression.diffs"
    fi
else
    ok=0 bad=1
    echo "  installcheck: did not run, the server did not start"
    tail -20 "$srv/initdb.log" "$srv/server.log" 2>/dev/null
fi
record installcheck

[ "$any_failed" -eq 0 ]
