\echo
\echo '=== guarded_ddl is loaded in this server'
SELECT guarded_ddl.version();
SHOW guarded_ddl.mode;
SHOW guarded_ddl.lock_timeout;

\echo
\echo '=== Before running a migration: what would it do to a production-sized users table?'
SELECT statement_no, command, relation, lock_mode, effect, rule, verdict,
       pg_size_pretty(relation_size) AS size
  FROM guarded_ddl.explain($$
    ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
    UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1);
    ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
    ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);
    ALTER TABLE users DROP COLUMN name;
  $$);

\echo
\echo '=== The all-in-one migration is stopped at its first dangerous statement,'
\echo '    with the rule, the table size and the safe recipe; nothing of it is applied.'
BEGIN;
ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1) WHERE id <= 1000;
ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
ROLLBACK;

\echo
\echo '=== The same migration with its whole backfill: stopped at the UPDATE, which'
\echo '    would rewrite every row while the ALTER''s lock stalls every reader of users.'
BEGIN;
ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1);
ROLLBACK;

\echo
\echo '=== A migration that sits on its lock (a slow step, a forgotten COMMIT) is'
\echo '    ended by the lock-hold cap (here 2s instead of the default 10s).'
SET guarded_ddl.max_lock_hold = '2s';
BEGIN;
ALTER TABLE users ADD COLUMN nickname text;
SELECT pg_sleep(5);
ROLLBACK;
RESET guarded_ddl.max_lock_hold;

\echo
\echo '=== The expand/contract way passes: columns added (metadata only), an index'
\echo '    built concurrently, NOT NULL proven by a validated CHECK instead of a scan.'
ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
CREATE INDEX CONCURRENTLY users_full_name ON users (full_name);
UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1);
ALTER TABLE users ADD CONSTRAINT full_name_not_null CHECK (full_name IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT full_name_not_null;
ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT full_name_not_null;
ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_user;

\echo
\echo '=== Third ending: the same intent through guarded_ddl.apply and guarded_ddl.backfill,'
\echo '    no hand-written recipe. users above has full_name already, so this runs on'
\echo '    a fresh copy of the production-shaped database (demo/schema.sql again).'
CREATE DATABASE shop_apply;
\c shop_apply
\set ECHO none
\set QUIET on
\ir schema.sql
\set QUIET off
\set ECHO queries
\echo '    The migration as its author means it. apply runs each statement in a'
\echo '    transaction of its own: what the guard allows runs as written, what it'
\echo '    blocks runs as the rule''s recipe, one NOTICE per step.'
CALL guarded_ddl.apply($$
    ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
    CREATE INDEX users_full_name ON users (full_name);
$$);
\echo '    The backfill, in the server: batches in primary-key order, each committed.'
CALL guarded_ddl.backfill('users',
                          'full_name = name, display_name = split_part(name, '' '', 1)',
                          'full_name IS NULL',
                          batch_size => 50000, pause => '10ms');
CALL guarded_ddl.apply($$
    ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
    ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id);
$$);
\echo '    The final state is what the blocked statements would have produced:'
\echo '    NOT NULL set, the foreign key valid, the index valid, no helper CHECK left.'
SELECT attname, attnotnull, (SELECT count(*) FROM users u WHERE u.full_name IS NULL) AS rows_still_null
  FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname IN ('full_name', 'display_name')
 ORDER BY attnum;
SELECT conrelid::regclass AS "table", conname, contype, convalidated
  FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'orders'::regclass) ORDER BY 1, 2;
SELECT indexrelid::regclass AS index, indisvalid, indisready
  FROM pg_index WHERE indrelid = 'users'::regclass ORDER BY 1::text;
SELECT relation, rows_done, batches, state FROM guarded_ddl.backfills;
\echo '    What did apply run for this migration (the README''s review query), and'
\echo '    the strong locks its steps held, for how long.'
SELECT guarded_ddl.flush();
SELECT recipe_id, recipe_statement, started_at, statement, verdict, status,
       sqlstate, error_message
  FROM guarded_ddl.ddl_history
 WHERE recipe_id IS NOT NULL
   AND started_at > now() - interval '1 hour'   -- the migration's window
 ORDER BY recipe_id, id;
SELECT d.recipe_id, left(d.statement, 60) AS step, l.relation, l.lock_mode, round(l.held_ms::numeric, 2) AS held_ms
  FROM guarded_ddl.lock_log AS l
  JOIN guarded_ddl.ddl_log AS d ON d.system_identifier = l.system_identifier AND d.id = l.ddl_id
 WHERE d.recipe_id IS NOT NULL
   AND l.lock_mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
 ORDER BY d.id, l.relation;
\c postgres

\echo
\echo '=== Contract: dropping the old column is blocked by default ...'
ALTER TABLE users DROP COLUMN name;
\echo '    ... and a DBA can let one rule through as a warning for a session.'
SET guarded_ddl.rules = 'drop_column=warn';
ALTER TABLE users DROP COLUMN name;
RESET guarded_ddl.rules;

\echo
\echo '=== A migration meets a long transaction on users.'
\echo '    Instead of queueing (and stalling every reader of users behind it), the'
\echo '    guard tries in short bounded attempts and goes through once the blocker ends.'
\! psql -Xq -c "BEGIN; SELECT count(*) FROM users; SELECT pg_sleep(3); COMMIT;" >/dev/null &
SELECT pg_sleep(0.5);
SET client_min_messages = debug1;
ALTER TABLE users ADD COLUMN nickname text;
RESET client_min_messages;

\echo
\echo '=== The blocker does not go away in time: the migration fails cleanly'
\echo '    with SQLSTATE 55P03, naming who is in the way.'
\! psql -Xq -c "SET application_name = 'reporting-job'; BEGIN; SELECT count(*) FROM users; SELECT pg_sleep(4); COMMIT;" >/dev/null &
SELECT pg_sleep(0.5);
SET guarded_ddl.lock_budget = '2s';
ALTER TABLE users ADD COLUMN nickname2 text;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET guarded_ddl.lock_budget;
-- let the reporting job finish before the server goes away
SELECT pg_sleep(2.5);
