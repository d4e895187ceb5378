# Shared by test/run.sh, demo/run.sh and bench/: installs what is missing,
# builds guarded_ddl and puts it into a private copy of the PostgreSQL 15
# installation (a "sandbox"), so nothing outside /tmp is touched and several
# checkouts can be tested at once. PostgreSQL refuses to run as root, so when
# invoked as root the servers run as the unprivileged user $GD_TEST_USER.

GD_PG_VERSION=15
GD_TEST_USER=${GD_TEST_USER:-guarded_ddl_test}
GD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

gd_log() { printf '==> %s\n' "$*" >&2; }
gd_die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Debian packages needed by the build and the suites; extra names may be
# passed (the demo and the end-to-end scenario need migration tools).
gd_install_deps() {
    local pkgs=(make g++ cmake pkg-config libfmt-dev libgtest-dev perl libipc-run-perl
        "postgresql-$GD_PG_VERSION" "postgresql-server-dev-$GD_PG_VERSION"
        "postgresql-$GD_PG_VERSION-pgaudit" "$@")
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

gd_pg_config() { echo "/usr/lib/postgresql/$GD_PG_VERSION/bin/pg_config"; }

gd_build() {
    gd_log "building guarded_ddl (PGXS)"
    make -C "$GD_ROOT" -s PG_CONFIG="$(gd_pg_config)" >/dev/null || gd_die "make failed"
}

# Creates the sandbox: a relocatable copy of the server installation with
# guarded_ddl installed into it. Sets GD_SANDBOX, GD_BIN and GD_WORK.
gd_make_sandbox() {
    GD_SANDBOX=$(mktemp -d /tmp/guarded_ddl.XXXXXX)
    mkdir -p "$GD_SANDBOX/usr/lib/postgresql" "$GD_SANDBOX/usr/share/postgresql"
    cp -a "/usr/lib/postgresql/$GD_PG_VERSION" "$GD_SANDBOX/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$GD_PG_VERSION" "$GD_SANDBOX/usr/share/postgresql/"
    make -C "$GD_ROOT" -s PG_CONFIG="$(gd_pg_config)" DESTDIR="$GD_SANDBOX" install >/dev/null ||
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
