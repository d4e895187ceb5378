#!/usr/bin/env bash
# Backfill of users.full_name and users.display_name from users.name, between
# the expand and the contract migrations, while the application runs.
#
#   PGHOST=... PGDATABASE=... bash examples/backfill.sh
#
# Each batch is one short transaction: it locks the next BATCH_SIZE rows that
# still need the backfill in primary-key order (FOR UPDATE SKIP LOCKED: rows
# the application is writing right now are left for a later pass instead of
# waiting for them), fills them and commits, then sleeps PAUSE seconds so
# replication and vacuum keep up. The rows still to do are found by the data
# itself (full_name IS NULL), so the script can be stopped at any moment
# (Ctrl-C, a deploy, a crash: the current batch rolls back) and run again: it
# carries on where it stopped. It walks the table until a pass finds nothing
# left, at most MAX_PASSES times, and exits non-zero if rows remain (an old
# application version still inserting rows without full_name, for instance).
#
# Settings (environment): BATCH_SIZE (default 5000), PAUSE (seconds, default
# 0.1), MAX_PASSES (default 5); connection through the usual PG* variables.
set -euo pipefail

batch_size=${BATCH_SIZE:-5000}
pause=${PAUSE:-0.1}
max_passes=${MAX_PASSES:-5}

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

remaining() { sql -c 'SELECT count(*) FROM users WHERE full_name IS NULL'; }

# One batch after key $1: prints "rows last_id" (last_id empty when the walk
# is done). A short lock_timeout: the backfill never queues behind DDL.
run_batch() {
    sql -v after="$1" -v batch_size="$batch_size" <<'SQL'
SET lock_timeout = '1s';
WITH batch AS (
    SELECT id FROM users
     WHERE id > :after AND full_name IS NULL
     ORDER BY id
     LIMIT :batch_size
       FOR UPDATE SKIP LOCKED
), filled AS (
    UPDATE users AS u
       SET full_name = u.name,
           display_name = split_part(u.name, ' ', 1)
      FROM batch
     WHERE u.id = batch.id
    RETURNING u.id
)
SELECT count(*), max(id) FROM filled;
SQL
}

left=$(remaining)
echo "backfill: $left rows to fill, batches of $batch_size, pause ${pause}s"
start=$SECONDS
done_rows=0
batches=0
pass=1
while [ "$left" -gt 0 ]; do
    last_id=0
    while :; do
        read -r rows max_id < <(run_batch "$last_id" | tr '|' ' ')
        [ "$rows" -gt 0 ] || break
        last_id=$max_id
        batches=$((batches + 1))
        done_rows=$((done_rows + rows))
        left=$((left > rows ? left - rows : 0))
        elapsed=$((SECONDS - start))
        echo "backfill: pass $pass batch $batches: $rows rows up to id $last_id;" \
            "$done_rows done, about $left left, ${elapsed}s"
        sleep "$pause"
    done
    left=$(remaining)
    [ "$left" -gt 0 ] || break
    if [ "$pass" -ge "$max_passes" ]; then
        echo "backfill: $left rows still without full_name after $pass passes" >&2
        exit 1
    fi
    echo "backfill: $left rows were busy or new; another pass"
    pass=$((pass + 1))
    sleep "$pause"
done
echo "backfill: done, $done_rows rows in $batches batches, $((SECONDS - start))s"
