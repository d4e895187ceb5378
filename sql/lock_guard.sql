-- Lock guard settings and single-session behaviour; the concurrent cases are
-- in test/isolation/specs/lock_guard.spec and test/t/.
SHOW guarded_ddl.lock_timeout;
SHOW guarded_ddl.lock_retry_delay;
SHOW guarded_ddl.lock_retries;
SHOW guarded_ddl.lock_budget;

-- Units are understood; nonsense and out-of-range values are rejected and
-- change nothing.
SET guarded_ddl.lock_timeout = '2s';
SHOW guarded_ddl.lock_timeout;
SET guarded_ddl.lock_timeout = 'soon';
-- Out of range: PostgreSQL's own message (22023), worded differently by
-- each major, so only the SQLSTATE is shown.
\set VERBOSITY sqlstate
SET guarded_ddl.lock_timeout = -1;
SET guarded_ddl.lock_retry_delay = 0;
SET guarded_ddl.lock_retries = 0;
SET guarded_ddl.lock_budget = '0';
\set VERBOSITY default
SHOW guarded_ddl.lock_timeout;
RESET guarded_ddl.lock_timeout;

-- Ordinary roles cannot loosen the guard.
CREATE ROLE gd_lock_user;
SET ROLE gd_lock_user;
SET guarded_ddl.lock_timeout = 0;
SET guarded_ddl.lock_budget = '1h';
RESET ROLE;
DROP ROLE gd_lock_user;

CREATE TABLE lock_probe (id int);
SET client_min_messages = debug1;

-- Uncontended: one try-lock, and the session's lock_timeout is untouched.
SET lock_timeout = '3s';
ALTER TABLE lock_probe ADD COLUMN a int;
SHOW lock_timeout;

-- A failing statement restores it too.
ALTER TABLE lock_probe ADD COLUMN a int;
SHOW lock_timeout;
RESET lock_timeout;

-- Locks this transaction already holds are not taken again.
BEGIN;
LOCK lock_probe IN ACCESS EXCLUSIVE MODE;
ALTER TABLE lock_probe ADD COLUMN b int;
COMMIT;

-- A DROP INDEX locks the table first, as PostgreSQL does.
CREATE INDEX lock_probe_a ON lock_probe (a);
DROP INDEX lock_probe_a;

-- Missing relations are PostgreSQL's to report.
ALTER TABLE no_such_table ADD COLUMN x int;
ALTER TABLE IF EXISTS no_such_table ADD COLUMN x int;

-- lock_timeout = 0 leaves lock waits to PostgreSQL; mode = off disables it.
SET guarded_ddl.lock_timeout = 0;
ALTER TABLE lock_probe ADD COLUMN c int;
RESET guarded_ddl.lock_timeout;
SET guarded_ddl.mode = off;
ALTER TABLE lock_probe ADD COLUMN d int;
RESET guarded_ddl.mode;

RESET client_min_messages;
DROP TABLE lock_probe;
