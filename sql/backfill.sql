-- guarded_ddl.backfill(): the batched backfill done in the server. Rates
-- and timings vary, so the per-batch NOTICEs are hidden (client_min_messages)
-- and the results are read from the table and the view.
CREATE EXTENSION guarded_ddl;
\set VERBOSITY default

CREATE TABLE users (id int PRIMARY KEY, name text, full_name text, display_name text)
    WITH (autovacuum_enabled = off);
INSERT INTO users (id, name) SELECT g, 'user ' || g FROM generate_series(1, 20000) g;

-- A full backfill: every row filled, in 20 batches, state done.
SET client_min_messages = warning;
CALL guarded_ddl.backfill('users', 'full_name = name, display_name = split_part(name, '' '', 1)',
                          'full_name IS NULL', batch_size => 1000, pause => '0');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE full_name = name) AS filled,
       count(*) FILTER (WHERE display_name = 'user') AS display_filled,
       count(*) FILTER (WHERE full_name IS NULL) AS left
  FROM users;
SELECT relation, set_clause, where_clause, batch_size, rows_done, rows_left_estimate, batches,
       rate > 0 AS has_rate, last_batch_at >= started_at AS ordered, finished_at IS NOT NULL AS finished,
       state, role = current_user AS by_me, error
  FROM guarded_ddl.backfills;

-- Resumable: the data says what is left. Half the rows emptied again, and a
-- rerun fills exactly those; a rerun with nothing left is done at once.
UPDATE users SET full_name = NULL WHERE id % 2 = 0;
SET client_min_messages = warning;
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL', 3000, '0');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL', 3000, '0');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE full_name IS NULL) AS left FROM users;
SELECT id, rows_done, batches, state FROM guarded_ddl.backfills ORDER BY id;

-- Its NOTICEs, where nothing matches: deterministic.
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL');

-- A SET list that leaves rows matching would loop for ever: refused after
-- the first batch, which rolls back; the run shows as failed.
UPDATE users SET full_name = NULL WHERE id <= 10;
CALL guarded_ddl.backfill('users', 'full_name = NULL', 'full_name IS NULL');
SELECT count(*) FROM users WHERE full_name IS NULL;
SELECT state, rows_done, error FROM guarded_ddl.backfills ORDER BY id DESC LIMIT 1;

-- The fragments go into the batch statement as parse trees, never as text:
-- a line comment ends with its fragment, and a multiple assignment works as
-- in UPDATE. The 10 rows the failed run left are filled.
SET client_min_messages = warning;
CALL guarded_ddl.backfill('users', '(full_name, display_name) = (name, ''x'') -- both',
                          'full_name IS NULL -- what is left');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE full_name IS NULL) AS left,
       count(*) FILTER (WHERE display_name = 'x') AS assigned_x FROM users;
UPDATE users SET full_name = NULL WHERE id <= 10;

-- Injection attempts in either fragment: refused before anything runs,
-- the DETAIL saying why.
\set VERBOSITY default
CALL guarded_ddl.backfill('users', 'full_name = name; DROP TABLE users', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL; DROP TABLE users');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL;');
CALL guarded_ddl.backfill('users', 'full_name = name', 'true) OR (true');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL) --');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL /*');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL ORDER BY 1');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL UNION SELECT');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL FOR UPDATE');
CALL guarded_ddl.backfill('users', 'full_name = name', 'true LIMIT 1');
CALL guarded_ddl.backfill('users', 'full_name = name WHERE true --', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name FROM pg_authid', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name RETURNING *', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name''', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = (WITH d AS (DELETE FROM users RETURNING name) SELECT min(name) FROM d)', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name', 'EXISTS (WITH d AS (DELETE FROM users RETURNING 1) SELECT 1 FROM d)');
-- A parameter reference would read the batch statement's own parameter
-- (the last key): refused.
CALL guarded_ddl.backfill('users', 'full_name = name', 'id > $1');
CALL guarded_ddl.backfill('users', 'full_name = $1', 'full_name IS NULL');
-- Errors of parse analysis point into the fragment, not into a statement
-- the caller never wrote.
CALL guarded_ddl.backfill('users', 'full_name = generate_series(1, 2)::text', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name', E'full_name IS NULL\n  AND no_such > 1');
CALL guarded_ddl.backfill('users', 'display_name = name, full_name = name || no_such', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'id = id + 1', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name', 'name');
CALL guarded_ddl.backfill('users', 'no_such_column = name', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', '', 'full_name IS NULL');
CALL guarded_ddl.backfill('users', 'full_name = name', '');
SELECT count(*) AS users_still_there, count(*) FILTER (WHERE full_name IS NULL) AS left FROM users;

\set VERBOSITY terse
-- Bad arguments: 22023 with the valid range.
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL', 0);
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL', 1000001);
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL', 10, '-1s');
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL', 10, '0', '0s');
CALL guarded_ddl.backfill('users', 'full_name = name', NULL);
CALL guarded_ddl.backfill(0, 'full_name = name', 'full_name IS NULL');
CREATE TABLE no_key (id int, name text);
CREATE VIEW users_view AS SELECT * FROM users;
\set VERBOSITY default
CALL guarded_ddl.backfill('no_key', 'name = ''x''', 'name IS NULL');
CALL guarded_ddl.backfill('users_view', 'full_name = name', 'full_name IS NULL');

-- Inside a transaction block, and under a strong lock on the table, even
-- from a DO block that could commit.
BEGIN;
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL');
ROLLBACK;
BEGIN;
LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL');
ROLLBACK;
DO $$ BEGIN
    LOCK TABLE users IN SHARE MODE;
    CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL');
END $$;
CREATE FUNCTION call_backfill() RETURNS void LANGUAGE plpgsql AS $$
BEGIN CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL'); END $$;
SELECT call_backfill();
SELECT count(*) FILTER (WHERE full_name IS NULL) AS left FROM users;

-- Privileges: the fragments run as the caller. Without UPDATE on the
-- table (or on the assigned columns): refused before anything runs. With
-- UPDATE on full_name only, full_name may be assigned, display_name not.
-- The progress table is the procedure's alone.
CREATE ROLE gd_backfiller;
GRANT USAGE ON SCHEMA guarded_ddl TO gd_backfiller;
GRANT SELECT ON users TO gd_backfiller;
SET ROLE gd_backfiller;
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL');
RESET ROLE;
GRANT UPDATE (full_name) ON users TO gd_backfiller;
SET ROLE gd_backfiller;
CALL guarded_ddl.backfill('users', 'display_name = name', 'display_name IS NULL');
SET client_min_messages = warning;
CALL guarded_ddl.backfill('users', 'full_name = name', 'full_name IS NULL');
RESET client_min_messages;
INSERT INTO guarded_ddl.backfill_run (relid, relation, set_clause, where_clause, batch_size, role,
    backend_pid, backend_start, started_at, state)
VALUES ('users'::regclass, 'users', 'x', 'y', 1, 'postgres', 1, now(), now(), 'done');
UPDATE guarded_ddl.backfill_run SET role = 'postgres';
SELECT count(*) FROM guarded_ddl.backfills;
RESET ROLE;
SELECT role, rows_done, state FROM guarded_ddl.backfills ORDER BY id DESC LIMIT 1;
SELECT count(*) FILTER (WHERE full_name IS NULL) AS left FROM users;

DROP FUNCTION call_backfill();
DROP VIEW users_view;
DROP TABLE users, no_key;
DROP EXTENSION guarded_ddl;
DROP ROLE gd_backfiller;
