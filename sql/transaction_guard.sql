-- The transaction guard: rule dml_under_strong_lock (no large backfill under
-- a DDL lock), the lock-hold cap guarded_ddl.max_lock_hold, and lock hold
-- times in lock_log.
CREATE EXTENSION guarded_ddl;
\set VERBOSITY default

-- users is large by policy; 20000 rows, above max_rows_under_lock (10000).
-- No autovacuum: the row estimates in the messages must not move.
CREATE TABLE users (id int PRIMARY KEY, name text) WITH (autovacuum_enabled = off);
INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 20000) g;
ANALYZE users;
SELECT guarded_ddl.set_table_policy('users', large => true);
CREATE TABLE small (id int PRIMARY KEY, name text) WITH (autovacuum_enabled = off);
INSERT INTO small SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
ANALYZE small;

-- The classic: a schema change and its backfill in one transaction.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;

-- A small batch after the DDL is fine; the big one is not.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name WHERE id <= 1000;
UPDATE users SET full_name = name WHERE id > 1000;
ROLLBACK;

-- The same big UPDATE without a DDL lock: no lock held, nothing to judge.
BEGIN;
UPDATE users SET name = name;
ROLLBACK;

-- A big DML on another table still keeps users locked meanwhile.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE small SET name = name;
ROLLBACK;

-- A strong lock on a small table alone: not the rule's business.
BEGIN;
ALTER TABLE small ADD COLUMN extra text;
UPDATE small SET extra = name;
ROLLBACK;

-- Locks weaker than SHARE ROW EXCLUSIVE do not count.
BEGIN;
LOCK TABLE users IN SHARE MODE;
DELETE FROM small;
ROLLBACK;

-- LOCK TABLE takes the lock just as well as DDL.
BEGIN;
LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM users WHERE id > 10;
ROLLBACK;

-- INSERT ... SELECT, MERGE, and DML inside a function the migration calls.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
INSERT INTO small SELECT id + 100000, name FROM users;
ROLLBACK;
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
MERGE INTO small s USING users u ON s.id = u.id
    WHEN MATCHED THEN UPDATE SET name = u.name;
ROLLBACK;
CREATE FUNCTION backfill_names() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE users SET name = upper(name);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
SELECT backfill_names();
ROLLBACK;

-- A data-modifying WITH is judged by its largest part.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
WITH moved AS (DELETE FROM users WHERE id > 100 RETURNING id) SELECT count(*) FROM moved;
ROLLBACK;

-- EXPLAIN without ANALYZE runs nothing: allowed.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
EXPLAIN (COSTS OFF) UPDATE users SET full_name = name;
ROLLBACK;

-- COPY FROM: STDIN and a program cannot be counted beforehand, so they are
-- judged as large; a server file is counted (up to the limit).
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
COPY small FROM PROGRAM 'echo 1';
ROLLBACK;
SELECT format('/tmp/guarded_ddl_regress_%s.txt', pg_backend_pid()) AS copy_file \gset
COPY (SELECT g + 200000, 'copied' FROM generate_series(1, 20000) g) TO :'copy_file';
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
COPY small FROM :'copy_file';
ROLLBACK;
COPY (SELECT g + 200000, 'copied' FROM generate_series(1, 50) g) TO :'copy_file';
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
COPY small FROM :'copy_file';
ROLLBACK;
-- A device or pipe is not read twice: judged like STDIN.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
COPY small FROM '/dev/null';
ROLLBACK;
-- COPY TO reads nothing in: allowed.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
COPY (SELECT 1) TO STDOUT;
ROLLBACK;

-- A savepoint rolled back released the lock: the rule no longer applies.
BEGIN;
SAVEPOINT before_ddl;
ALTER TABLE users ADD COLUMN full_name text;
ROLLBACK TO before_ddl;
UPDATE users SET name = name;
ROLLBACK;
-- ... also inside a function's exception block.
CREATE FUNCTION ddl_then_fail() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        ALTER TABLE users ADD COLUMN full_name text;
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
END $$;
BEGIN;
SELECT ddl_then_fail();
UPDATE users SET name = name;
ROLLBACK;
-- A released savepoint keeps the lock.
BEGIN;
SAVEPOINT s;
ALTER TABLE users ADD COLUMN full_name text;
RELEASE SAVEPOINT s;
UPDATE users SET name = name;
ROLLBACK;

-- Modes: warn lets it run with a WARNING, off (globally or for the rule, or
-- by the table's policy) says nothing, and -1 switches the check off.
SET guarded_ddl.mode = warn;
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;
SET guarded_ddl.mode = off;
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;
RESET guarded_ddl.mode;
SET guarded_ddl.rules = 'dml_under_strong_lock=off';
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;
RESET guarded_ddl.rules;
SELECT guarded_ddl.set_table_policy('users', large => true, rules => 'dml_under_strong_lock=warn');
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;
SELECT guarded_ddl.set_table_policy('users', large => true);
SET guarded_ddl.max_rows_under_lock = -1;
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;
RESET guarded_ddl.max_rows_under_lock;
SET guarded_ddl.max_rows_under_lock = 'lots';
SET guarded_ddl.max_rows_under_lock = -2;
\set VERBOSITY sqlstate
SET guarded_ddl.max_lock_hold = '-1s';
\set VERBOSITY default
SHOW guarded_ddl.max_rows_under_lock;
SHOW guarded_ddl.max_lock_hold;

-- A DBA's approval lets one backfill through, with a NOTICE naming it.
SELECT guarded_ddl.approve('dml_under_strong_lock', 'users', 'maintenance window: backfill full_name') AS approval \gset
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
UPDATE users SET full_name = upper(name);
ROLLBACK;
-- The rolled-back transaction gave its use back.
SELECT uses, uses_allowed FROM guarded_ddl.approval WHERE id = :approval;

-- The lock-hold cap: a statement still running when the transaction has
-- held a strong lock on a large table for too long is cancelled (GD002).
\set VERBOSITY terse
SET guarded_ddl.max_lock_hold = '200ms';
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
SELECT pg_sleep(2);
ROLLBACK;
-- A short transaction never meets the cap, nor one on a small table.
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
COMMIT;
BEGIN;
ALTER TABLE small ADD COLUMN extra text;
SELECT pg_sleep(0.5);
COMMIT;
-- A lock the savepoint gave back no longer counts.
BEGIN;
SAVEPOINT s;
ALTER TABLE users DROP COLUMN full_name;
ROLLBACK TO s;
SELECT pg_sleep(0.5);
COMMIT;
RESET guarded_ddl.max_lock_hold;
\set VERBOSITY default

-- The audit log: blocked and warned DML, the cap, and how long each lock
-- was held (every lock row of an ended transaction has its hold time).
SELECT guarded_ddl.flush();
SELECT command, verdict, rules, sqlstate, nesting_level
  FROM guarded_ddl.ddl_log
 WHERE command IN ('UPDATE', 'DELETE', 'INSERT', 'MERGE', 'COPY', 'LOCK HOLD CAP', 'SELECT')
 ORDER BY id;
SELECT error_message, statement, objects FROM guarded_ddl.ddl_log WHERE command = 'LOCK HOLD CAP';
SELECT count(*) FILTER (WHERE granted AND held_ms IS NULL) AS granted_without_hold,
       count(*) FILTER (WHERE granted AND held_ms < 0) AS negative,
       count(*) FILTER (WHERE granted AND granted_at IS NULL) AS granted_without_time,
       count(*) FILTER (WHERE granted) > 20 AS many
  FROM guarded_ddl.lock_log;
-- The capped transaction's ALTER held its lock for at least the cap.
SELECT l.held_ms >= 200 AS held_past_cap
  FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
 WHERE d.id = (SELECT max(id) FROM guarded_ddl.ddl_log
                WHERE id < (SELECT id FROM guarded_ddl.ddl_log WHERE command = 'LOCK HOLD CAP')
                  AND command = 'ALTER TABLE');

DROP FUNCTION backfill_names(), ddl_then_fail();
SET guarded_ddl.mode = off;
DROP TABLE users, small;
RESET guarded_ddl.mode;
DROP EXTENSION guarded_ddl;
