#!/bin/bash
# Adds a server to the central review database: publishes its audit log
# (publisher.sql) and subscribes the central database to it (central.sql).
#   examples/fleet/add_server.sh NAME PUBLISHER_CONNINFO CENTRAL_CONNINFO
# PUBLISHER_CONNINFO is used from here and, as the subscription's
# connection, by the central server: it must reach the server from there.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 NAME PUBLISHER_CONNINFO CENTRAL_CONNINFO" >&2; exit 2; }
name=$1 publisher=$2 central=$3
[[ $name =~ ^[a-z0-9_]+$ ]] || { echo "$0: NAME must be lower-case letters, digits and _" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

psql -X -v ON_ERROR_STOP=1 -q "$publisher" -f "$here/publisher.sql"
sysid=$(psql -X -At -v ON_ERROR_STOP=1 "$publisher" -c 'SELECT system_identifier FROM pg_control_system()')
psql -X -v ON_ERROR_STOP=1 -q "$central" -v name="$name" -v sysid="$sysid" \
    -v conninfo="$publisher" -f "$here/central.sql"
echo "$name (system_identifier $sysid) publishes guarded_ddl_log; the central database subscribes as guarded_ddl_$name"
