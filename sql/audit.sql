-- Audit log: every DDL statement, whatever its verdict, is in
-- guarded_ddl.ddl_log after flush(), with the locks it took in lock_log,
-- including statements that were blocked, failed or rolled back.
CREATE EXTENSION guarded_ddl;
\set VERBOSITY terse
SET guarded_ddl.large_table_rows = -1;
CREATE TABLE aud_parent (id int PRIMARY KEY);
CREATE TABLE aud_child (id int, parent_id int);
SELECT guarded_ddl.flush();
SELECT coalesce(max(id), 0) AS start_id FROM guarded_ddl.ddl_log \gset

-- Every table is large from here on.
SET guarded_ddl.large_table_size = 0;
ALTER TABLE aud_child ALTER COLUMN id TYPE bigint;
ALTER TABLE aud_child ADD CONSTRAINT aud_fk FOREIGN KEY (parent_id) REFERENCES aud_parent NOT VALID;
BEGIN;
ALTER TABLE aud_child ADD COLUMN note text;
ROLLBACK;
ALTER TABLE aud_missing ADD COLUMN x int;
BEGIN;
SAVEPOINT before_note;
ALTER TABLE aud_child ADD COLUMN note2 text;
ROLLBACK TO SAVEPOINT before_note;
LOCK TABLE aud_parent IN SHARE MODE;
COMMIT;
BEGIN;
LOCK TABLE aud_parent IN SHARE MODE;
ROLLBACK;
CREATE ROLE aud_role PASSWORD 'hunter2';
ALTER ROLE aud_role PASSWORD 'it''s' VALID UNTIL 'infinity';
DO $$ BEGIN EXECUTE 'CREATE TABLE aud_in_do (a int)'; END $$;
BEGIN;
SET LOCAL guarded_ddl.mode = off;
ROLLBACK;
SET guarded_ddl.mode = warn;
ALTER TABLE aud_child ALTER COLUMN id TYPE bigint;
RESET guarded_ddl.mode;
SELECT guarded_ddl.flush();

SELECT command, verdict, guard_mode, rules, objects, sqlstate, nesting_level, status,
       statement, setting, old_value, new_value
  FROM guarded_ddl.ddl_history WHERE id > :start_id ORDER BY id;

-- Locks: the ALTER TABLE's, and the foreign key's on both tables.
SELECT d.command, l.relation, l.lock_mode, l.granted, l.attempts, l.blockers
  FROM guarded_ddl.lock_log AS l JOIN guarded_ddl.ddl_log AS d ON d.id = l.ddl_id
 WHERE d.id > :start_id ORDER BY l.id;

-- Who, from where, when: filled for every row.
SELECT count(*) AS rows_missing_session
  FROM guarded_ddl.ddl_log
 WHERE id > :start_id
   AND (session_role IS DISTINCT FROM current_user OR executing_role IS NULL
        OR backend_pid <> pg_backend_pid() OR database <> current_database()
        OR started_at > now() OR duration_ms < 0 OR application_name <> 'pg_regress/audit');

-- A statement longer than the log keeps is cut, with a marker.
DO $$ BEGIN EXECUTE format('COMMENT ON TABLE aud_parent IS %L', repeat('x', 10000)); END $$;
SELECT guarded_ddl.flush();
SELECT length(statement) < 4096 AS bounded, statement LIKE '% more bytes]' AS marked
  FROM guarded_ddl.ddl_log WHERE command = 'COMMENT' ORDER BY id DESC LIMIT 1;

-- guarded_ddl.audit = off stops the log, and switching it off is logged.
SELECT coalesce(max(id), 0) AS start_id FROM guarded_ddl.ddl_log \gset
SET guarded_ddl.audit = off;
CREATE TABLE aud_unlogged (a int);
RESET guarded_ddl.audit;
SELECT guarded_ddl.flush();
SELECT command, setting, old_value, new_value
  FROM guarded_ddl.ddl_log WHERE id > :start_id ORDER BY id;

-- A statement a DBA approved is logged as approved, with the approval's id;
-- the same statement without an approval is blocked and logged so.
SELECT coalesce(max(id), 0) AS start_id FROM guarded_ddl.ddl_log \gset
ALTER TABLE aud_child DROP COLUMN id;
SELECT guarded_ddl.approve('drop_column', 'aud_child', 'contract release 42') AS approval_id \gset
ALTER TABLE aud_child DROP COLUMN id;
SELECT guarded_ddl.flush();
SELECT command, verdict, rules, approval_id = :approval_id AS right_approval, status
  FROM guarded_ddl.ddl_history WHERE id > :start_id ORDER BY id;

-- Nothing for PUBLIC; readers get SELECT by grant, and a grant of more
-- does not let a non-superuser change the log.
CREATE ROLE aud_reader;
CREATE ROLE aud_mallory;
GRANT USAGE ON SCHEMA guarded_ddl TO aud_reader, aud_mallory;
GRANT SELECT ON guarded_ddl.ddl_log, guarded_ddl.lock_log, guarded_ddl.ddl_history TO aud_reader;
GRANT ALL ON guarded_ddl.ddl_log, guarded_ddl.lock_log TO aud_mallory;
SELECT has_table_privilege('public', 'guarded_ddl.ddl_log', 'SELECT') AS public_select;
SET ROLE aud_reader;
SELECT count(*) > 0 AS reader_sees_rows FROM guarded_ddl.ddl_history;
SELECT guarded_ddl.purge('0');
RESET ROLE;
SET ROLE aud_mallory;
DELETE FROM guarded_ddl.ddl_log;
UPDATE guarded_ddl.ddl_log SET verdict = 'allowed';
INSERT INTO guarded_ddl.lock_log (ddl_id, relation_oid, relation, lock_mode, granted, wait_ms, attempts)
VALUES (1, 0, 'x', 'x', true, 0, 1);
TRUNCATE guarded_ddl.lock_log;
ALTER TABLE guarded_ddl.ddl_log DROP COLUMN statement;
DROP TABLE guarded_ddl.lock_log;
RESET ROLE;
SELECT count(*) > 0 AS rows_still_there FROM guarded_ddl.ddl_log;

-- Retention, and bad input.
SELECT guarded_ddl.purge('-1 day');
SELECT guarded_ddl.purge('100 years');
SELECT guarded_ddl.flush('-1 s');
SELECT guarded_ddl.purge('0') > 0 AS purged_all;
SELECT count(*) AS lock_rows_left FROM guarded_ddl.lock_log;
SELECT queued >= written AND overflowed = 0 AND failed = 0 AS counters_sane
  FROM guarded_ddl.audit_stats();

RESET guarded_ddl.large_table_size;
RESET guarded_ddl.large_table_rows;
DROP OWNED BY aud_reader, aud_mallory;
DROP ROLE aud_reader, aud_mallory, aud_role;
DROP TABLE aud_child, aud_parent, aud_in_do, aud_unlogged;
DROP EXTENSION guarded_ddl;
