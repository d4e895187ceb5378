#!/usr/bin/env bash
# The main job: a throwaway PostgreSQL 15 with guarded_ddl preloaded, a demo
# database shaped like a production one (a users table large enough to count
# as large, orders referencing it), and a migration walked through
# guarded_ddl, printing every statement and the server's answer; then the
# same migration as a team would ship it (examples/), through sqitch and
# node-pg-migrate (demo/tools.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

gd_install_deps $(gd_migration_tool_packages)
gd_build
cleanup() {
    gd_stop_server
    gd_remove_sandbox
}
trap cleanup EXIT
gd_make_sandbox
gd_start_server demo

gd_log "loading the demo schema (users, orders)"
gd_psql -q -d postgres -v ON_ERROR_STOP=1 -f "$GD_WORK/demo/schema.sql"

gd_log "walking through the migration"
since=$(gd_psql -d postgres -XAtq -c 'SELECT now()')
# PGHOST/PGPORT let the walkthrough start its own blocking sessions with \!.
gd_as_user env PGHOST="$GD_SOCKET" PGPORT="$GD_PORT" PGUSER=postgres PGDATABASE=postgres \
    psql -X --echo-queries -v ON_ERROR_STOP=0 -f "$GD_WORK/demo/walkthrough.sql" 2>&1

# The walkthrough's locks, waits and blocked statements as a picture (SVG,
# open it in a browser); kept after the sandbox is gone.
timeline=${GD_TIMELINE:-/tmp/guarded_ddl_demo_timeline.svg}
gd_psql -d postgres -XAtq -c 'SELECT guarded_ddl.flush()' >/dev/null
gd_psql -d postgres -XAtq -c "SELECT guarded_ddl.lock_timeline('$since')" >"$timeline"
gd_log "lock timeline of the walkthrough: $timeline"

gd_log "the same migration through sqitch and node-pg-migrate (examples/)"
gd_as_user env PGHOST="$GD_SOCKET" PGPORT="$GD_PORT" PGUSER=postgres bash "$GD_WORK/demo/tools.sh"
