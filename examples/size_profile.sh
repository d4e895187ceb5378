#!/usr/bin/env bash
# Production's table sizes in CI: a CI database has small tables, so without
# them nothing is large there and nothing is blocked, and a migration that
# passes CI is stopped in production (or, in warn mode, runs).
#
#   bash size_profile.sh export PRODUCTION_DB > profile.json
#       in production, as any role with USAGE on schema guarded_ddl: the
#       tables it may see (pg_monitor or pg_read_all_stats: all of them), with
#       their sizes and row estimates. Contains names and sizes, no data.
#   bash size_profile.sh import CI_DB profile.json
#       in CI, as a superuser: replaces the CI database's size profile and
#       prints how many of its tables exist there (the others count from the
#       moment a migration creates a table of that name).
#   bash size_profile.sh apply CI_DB migration.sql...
#       applies each file in one transaction, and stops at the first error
#       (GD001 for a blocked statement). Refuses to start unless the guard
#       enforces there (guarded_ddl.mode = enforce, the default).
#
# PRODUCTION_DB and CI_DB are psql connection strings or URLs. The profile is
# read by psql itself (\set ... `cat`), not passed on the command line, which
# could not hold more than 128 kB. See explain-in-ci.md and the workflow in
# github-actions.yml.
set -euo pipefail

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

[ $# -ge 2 ] || usage
command=$1
db=$2
shift 2

case "$command" in
export)
    [ $# -eq 0 ] || usage
    psql "$db" -X -q -At -v ON_ERROR_STOP=1 -c 'SELECT guarded_ddl.export_size_profile()'
    ;;
import)
    [ $# -eq 1 ] || usage
    [ -r "$1" ] || { echo "size_profile.sh: cannot read $1" >&2; exit 2; }
    GD_PROFILE_FILE=$1 psql "$db" -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
\set profile `cat "$GD_PROFILE_FILE"`
SELECT guarded_ddl.import_size_profile(:'profile');
SQL
    ;;
apply)
    [ $# -ge 1 ] || usage
    mode=$(psql "$db" -X -q -At -v ON_ERROR_STOP=1 -c 'SHOW guarded_ddl.mode')
    if [ "$mode" != enforce ]; then
        echo "size_profile.sh: guarded_ddl.mode is $mode on the CI database, not enforce" >&2
        exit 2
    fi
    for file in "$@"; do
        echo "== $file" >&2
        psql "$db" -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose --single-transaction -f "$file"
    done
    ;;
*)
    usage
    ;;
esac
