# Shared by test/run.sh, demo/run.sh and bench/: installs what is missing,
# builds guarded_ddl and puts it into a private copy of the PostgreSQL
# installation (a "sandbox"), so nothing outside /tmp is touched and several
# checkouts can be tested at once. PostgreSQL refuses to run as root, so when
# invoked as root the servers run as the unprivileged user $GD_TEST_USER.
#
# GD_PG_VERSION picks the major version (default 15, Debian 12's own). A
# major Debian 12 has no binary packages for is built from its Debian source
# package into $(gd_cache_dir)/pg-N (gd_build_pg), once, and used from there.

export GD_PG_VERSION=${GD_PG_VERSION:-15}
GD_SYSTEM_PG_VERSION=15
GD_TEST_USER=${GD_TEST_USER:-guarded_ddl_test}
GD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

gd_log() { printf '==> %s\n' "$*" >&2; }
gd_die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Debian packages needed by the build and the suites; extra names may be
# passed (the demo and the end-to-end scenario need migration tools).
gd_install_deps() {
    local pkgs=(make g++ cmake pkg-config libfmt-dev libgtest-dev perl libipc-run-perl
        $(gd_server_packages)
        # test/t/050_lock_timeline.pl: xmllint checks the SVG, headless
        # Chromium renders it (large: installed once, when missing).
        libxml2-utils chromium fonts-dejavu-core "$@")
    local missing=() p
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || gd_die "missing Debian packages (run as root to install): ${missing[*]}"
    gd_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        gd_die "apt-get install failed"
}

# The migration tools the end-to-end scenario runs through (test/t/030, the
# demo): sqitch with its PostgreSQL driver, and npm for node-pg-migrate (the
# machine's own node is kept when npm is already there).
gd_migration_tool_packages() {
    echo sqitch libdbd-pg-perl
    command -v npm >/dev/null 2>&1 || echo nodejs npm
}

# The server itself: Debian's packages for the system's major; for any other
# major, what gd_build_pg needs to build it and pgaudit from source.
gd_server_packages() {
    if [ "$GD_PG_VERSION" = "$GD_SYSTEM_PG_VERSION" ]; then
        echo "postgresql-$GD_PG_VERSION" "postgresql-server-dev-$GD_PG_VERSION" \
            "postgresql-$GD_PG_VERSION-pgaudit"
    else
        echo gcc bison flex zlib1g-dev libreadline-dev libssl-dev dpkg-dev
    fi
}

# The root under which the server's Debian-style tree lives
# (ROOT/usr/lib/postgresql/N, ROOT/usr/share/postgresql/N).
gd_pg_root() {
    [ "$GD_PG_VERSION" = "$GD_SYSTEM_PG_VERSION" ] && return 0
    echo "$(gd_cache_dir)/pg-$GD_PG_VERSION/root"
}

gd_pg_config() { echo "$(gd_pg_root)/usr/lib/postgresql/$GD_PG_VERSION/bin/pg_config"; }

gd_build() {
    local built=$GD_ROOT/.built-for-pg want
    want=$("$(gd_pg_config)" --version) || gd_die "no pg_config for PostgreSQL $GD_PG_VERSION"
    # Objects of another major's headers must not be linked into this one.
    if [ "$(cat "$built" 2>/dev/null)" != "$want" ]; then
        make -C "$GD_ROOT" -s PG_CONFIG="$(gd_pg_config)" clean >/dev/null 2>&1
        echo "$want" >"$built"
    fi
    gd_log "building guarded_ddl (PGXS, $want)"
    make -C "$GD_ROOT" -s PG_CONFIG="$(gd_pg_config)" >/dev/null || gd_die "make failed"
}

# Creates the sandbox: a relocatable copy of the server installation with
# guarded_ddl installed into it. Sets GD_SANDBOX, GD_BIN and GD_WORK.
gd_make_sandbox() {
    GD_SANDBOX=$(mktemp -d /tmp/guarded_ddl.XXXXXX)
    mkdir -p "$GD_SANDBOX/usr/lib/postgresql" "$GD_SANDBOX/usr/share/postgresql"
    cp -a "$(gd_pg_root)/usr/lib/postgresql/$GD_PG_VERSION" "$GD_SANDBOX/usr/lib/postgresql/"
    cp -a "$(gd_pg_root)/usr/share/postgresql/$GD_PG_VERSION" "$GD_SANDBOX/usr/share/postgresql/"
    # A server built by gd_build_pg has the cache's paths compiled in, so
    # the sandbox's own (relocatable) pg_config says where to install.
    local dest=(DESTDIR="$GD_SANDBOX")
    [ -z "$(gd_pg_root)" ] ||
        dest=(PG_CONFIG="$GD_SANDBOX/usr/lib/postgresql/$GD_PG_VERSION/bin/pg_config")
    make -C "$GD_ROOT" -s PG_CONFIG="$(gd_pg_config)" "${dest[@]}" install >/dev/null ||
        gd_die "make install into the sandbox failed"
    GD_BIN="$GD_SANDBOX/usr/lib/postgresql/$GD_PG_VERSION/bin"
    GD_PGXS="$GD_SANDBOX/usr/lib/postgresql/$GD_PG_VERSION/lib/pgxs"
    GD_WORK="$GD_SANDBOX/work"
    mkdir -p "$GD_WORK"
    # The suites read their inputs from here, readable by the test user even
    # when the checkout itself is not.
    cp -a "$GD_ROOT/sql" "$GD_ROOT/expected" "$GD_ROOT/test" "$GD_ROOT/README.md" "$GD_WORK/"
    [ -d "$GD_ROOT/demo" ] && cp -a "$GD_ROOT/demo" "$GD_WORK/"
    [ -d "$GD_ROOT/bench" ] && cp -a "$GD_ROOT/bench" "$GD_WORK/"
    [ -d "$GD_ROOT/examples" ] && cp -a "$GD_ROOT/examples" "$GD_WORK/"
    [ -d "$GD_ROOT/docs" ] && cp -a "$GD_ROOT/docs" "$GD_WORK/"
    chmod -R a+rX "$GD_SANDBOX"
    if [ "$(id -u)" -eq 0 ]; then
        id "$GD_TEST_USER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /bin/bash "$GD_TEST_USER"
        chown -R "$GD_TEST_USER" "$GD_WORK"
    fi
}

gd_remove_sandbox() { [ -n "${GD_SANDBOX:-}" ] && rm -rf "$GD_SANDBOX"; }

# Runs a command as the user the servers run as, with the sandbox's binaries
# first on PATH.
gd_as_user() {
    local env=(env "PATH=$GD_BIN:/usr/local/bin:/usr/bin:/bin" "HOME=$GD_WORK" "LANG=C.UTF-8"
        "PG_REGRESS=$GD_PGXS/src/test/regress/pg_regress")
    # A server built by gd_build_pg looks for its libpq where it was
    # configured (/usr/lib/postgresql/N/lib, not on this machine) and would
    # find Debian's older libpq5 instead: psql then fails on newer symbols.
    [ -z "$(gd_pg_root)" ] || env+=("LD_LIBRARY_PATH=$GD_BIN/../lib")
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$GD_WORK" && runuser -u "$GD_TEST_USER" -- "${env[@]}" "$@")
    else
        (cd "$GD_WORK" && "${env[@]}" "$@")
    fi
}

# A throwaway server in the sandbox with guarded_ddl preloaded (or not, with
# GD_PRELOAD=''), on a Unix socket only. Sets GD_DATA, GD_PORT, GD_SOCKET.
gd_start_server() {
    local name=${1:-server} preload=${GD_PRELOAD-guarded_ddl}
    GD_DATA="$GD_WORK/pgdata-$name"
    GD_SOCKET="$GD_WORK"
    GD_PORT=$((54000 + RANDOM % 1000))
    gd_as_user initdb -D "$GD_DATA" -A trust -U postgres --no-sync >"$GD_WORK/$name-initdb.log" 2>&1 ||
        gd_die "initdb failed (see $GD_WORK/$name-initdb.log)"
    cat >>"$GD_DATA/postgresql.conf" <<CONF
shared_preload_libraries = '$preload'
port = $GD_PORT
listen_addresses = ''
unix_socket_directories = '$GD_SOCKET'
fsync = off
CONF
    gd_as_user pg_ctl -D "$GD_DATA" -l "$GD_DATA/server.log" -w start >/dev/null ||
        gd_die "the server did not start (see $GD_DATA/server.log)"
}

# Stopping a server that is not running is not an error (cleanup traps call
# it for every data directory, under set -e).
gd_stop_server() {
    if [ -n "${GD_DATA:-}" ]; then gd_as_user pg_ctl -D "$GD_DATA" -m fast -w stop >/dev/null 2>&1 || true; fi
}

gd_psql() { gd_as_user psql -X -h "$GD_SOCKET" -p "$GD_PORT" -U postgres "$@"; }

# ---- PostgreSQL's own regression suite (test/core_regress.sh) ----

# Where slow one-time work (the PostgreSQL source, regress.so) is kept
# between runs: outside the checkout, so a fresh clone on the same machine
# reuses it.
gd_cache_dir() {
    if [ -n "${GD_CACHE:-}" ]; then
        echo "$GD_CACHE"
    elif [ "$(id -u)" -eq 0 ]; then
        echo /var/cache/guarded_ddl
    else
        echo /tmp/guarded_ddl-cache
    fi
}

# Builds PostgreSQL $GD_PG_VERSION (a major Debian 12 has no packages for)
# from its Debian source package, with pgaudit and pg_stat_statements (the
# loading test preloads them), into $(gd_cache_dir)/pg-N/root, laid out as
# Debian lays out its own servers. Done once: later runs and checkouts reuse
# it. Having said why, returns 3 when the source cannot be fetched (the
# caller skips that major), 1 when it does not build.
gd_build_pg() {
    [ "$GD_PG_VERSION" = "$GD_SYSTEM_PG_VERSION" ] && return 0
    local top v t0=$SECONDS n=$GD_PG_VERSION
    top=$(gd_cache_dir)/pg-$n
    mkdir -p "$top" && chmod a+rx "$(gd_cache_dir)" "$top"
    (
        flock 9 # two checkouts building at once share the cache
        if [ -f "$top/.complete" ]; then
            gd_log "PostgreSQL $n: cached build in $top (source $(cat "$top/source_version"))"
            exit 0
        fi
        rm -rf "$top/root" "$top/src" "$top/pgaudit"
        v=$(gd_fetch_pg_source "$top") || exit 3
        echo "$v" >"$top/source_version"
        gd_log "building PostgreSQL $n ($v) into $top/root (once; a few minutes)"
        local log=$top/build.log prefix=/usr/lib/postgresql/$n
        (cd "$top/src" &&
            ./configure --prefix="$prefix" --datadir="/usr/share/postgresql/$n" \
                --with-system-tzdata=/usr/share/zoneinfo --enable-tap-tests --without-icu &&
            make -j"$(nproc)" -C src &&
            make -C src install DESTDIR="$top/root" &&
            make -C contrib/pg_stat_statements install DESTDIR="$top/root") >"$log" 2>&1 ||
            { gd_log "building PostgreSQL $n failed; the end of $log:"; tail -20 "$log" >&2; exit 1; }
        local pgc=$top/root$prefix/bin/pg_config
        if v=$(gd_fetch_pg_source "$top/pgaudit" "pgaudit-$n"); then
            make -C "$top/pgaudit/src" USE_PGXS=1 PG_CONFIG="$pgc" install >>"$log" 2>&1 ||
                { gd_log "building pgaudit $v for PostgreSQL $n failed (see $log)"; exit 1; }
        else
            gd_log "no pgaudit source: the tests that preload it will say so"
        fi
        rm -rf "$top/apt/cache" "$top/pgaudit/apt/cache"
        echo $((SECONDS - t0)) >"$top/build_seconds"
        touch "$top/.complete"
    ) 9>"$top/.lock"
}

# "URI SUITE" for every deb line of the system's apt sources (one-line
# .list and deb822 .sources formats), to find the Debian mirror it uses.
gd_apt_mirrors() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush() { if (deb && en) for (i in u) for (j in s) print u[i], s[j];
                                delete u; delete s; deb = 0; en = 1 }
             BEGIN { en = 1 }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
             tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[i] = $i }
             tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[i] = $i }
             tolower($1) == "enabled:" { en = (tolower($2) != "no") }
             END { flush() }' "$f"
    done
}

# Fetches the source package of postgresql-$GD_PG_VERSION (or PACKAGE) into
# DIR with a private apt configuration (the system's sources may have no
# deb-src lines; they are not edited). For the system's own major: the
# installed server's version when the mirror has it, else the nearest
# $GD_PG_VERSION.x it has, from the system's suites. For another major (and
# another package): the newest version any Debian suite lists, since Debian
# 12 carries only 15. Prints the version fetched; the unpacked tree is
# DIR/src.
gd_fetch_pg_source() { # gd_fetch_pg_source DIR [PACKAGE]
    local dir=$1 pkg=${2:-postgresql-$GD_PG_VERSION} codename main sec v installed='' cand suite
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    codename=${codename:-bookworm}
    main=$(gd_apt_mirrors | awk -v s="$codename" '$2 == s { print $1; exit }')
    sec=$(gd_apt_mirrors | awk -v s="$codename-security" '$2 == s || $2 == s "/updates" { print $1; exit }')
    main=${main:-http://deb.debian.org/debian}
    sec=${sec:-http://deb.debian.org/debian-security}
    mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
    local kr=/usr/share/keyrings/debian-archive-keyring.gpg opt=''
    [ -f "$kr" ] && opt="[signed-by=$kr] "
    {
        echo "deb-src $opt$main $codename main"
        echo "deb-src $opt$main $codename-updates main"
        echo "deb-src $opt$sec $codename-security main"
        if [ "$pkg" != "postgresql-$GD_SYSTEM_PG_VERSION" ]; then
            for suite in stable testing unstable; do echo "deb-src $opt$main $suite main"; done
        fi
    } >"$dir/apt/sources.list"
    local apt=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache"
        -o APT::Sandbox::User=root -o Acquire::Retries=2)
    gd_log "fetching the $pkg source package ($main, $sec)"
    apt-get "${apt[@]}" update >"$dir/apt/update.log" 2>&1 ||
        { cat "$dir/apt/update.log" >&2; return 1; }
    if [ "$pkg" = "postgresql-$GD_SYSTEM_PG_VERSION" ]; then
        installed=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)
        # Candidates, nearest minor version first (older before newer on a tie).
        cand=$(apt-cache "${apt[@]}" showsrc "$pkg" 2>/dev/null |
            sed -n 's/^Version: //p' | sort -u |
            awk -v inst="$installed" 'function minor(x) { sub(/^[0-9]+\./, "", x); return x + 0 }
                { d = minor($0) - minor(inst); print (d < 0 ? -2 * d - 1 : 2 * d) + ($0 == inst ? -1 : 0), $0 }' |
            sort -n | awk '{ print $2 }')
    else
        cand=$(apt-cache "${apt[@]}" showsrc "$pkg" 2>/dev/null |
            sed -n 's/^Version: //p' | sort -u | sort -rV)
    fi
    if [ -z "$cand" ]; then
        gd_log "no $pkg source listed; apt-get update said:"
        grep -E '^(E|W|Err):' "$dir/apt/update.log" | head -5 >&2
        return 1
    fi
    rm -rf "$dir/dl" && mkdir -p "$dir/dl"
    for v in $cand; do
        if (cd "$dir/dl" && apt-get "${apt[@]}" source "$pkg=$v") >"$dir/apt/source.log" 2>&1; then
            [ -z "$installed" ] || [ "$v" = "$installed" ] ||
                gd_log "$pkg $installed is not on the mirror; using the suite of $v"
            rm -rf "$dir/src" && mv "$dir"/dl/*-*/ "$dir/src" && rm -rf "$dir/dl"
            echo "$v"
            return 0
        fi
        rm -rf "$dir/dl" && mkdir -p "$dir/dl"
        gd_log "$pkg=$v: $(grep -E '^E:' "$dir/apt/source.log" | head -1)"
    done
    return 1
}
