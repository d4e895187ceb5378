-- explain() of a whole migration text: each statement judged as it would
-- run after the ones before it (psql -f, or one transaction with
-- single_transaction => true). No statement is executed.
CREATE EXTENSION guarded_ddl;
SET guarded_ddl.large_table_size = 0;
CREATE TABLE txt (id int PRIMARY KEY, name text, ts timestamp, ts2 timestamp, c1 int, c2 int, c3 int);
INSERT INTO txt SELECT g, 'n', now() FROM generate_series(1, 10) g;
ALTER TABLE txt ADD CONSTRAINT name_nonempty CHECK (name <> '') NOT VALID;

-- VALIDATE after an ACCESS EXCLUSIVE statement in the same transaction
-- scans under that lock; in a transaction of its own it is the safe step.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
ALTER TABLE txt RENAME COLUMN name TO full_name;
ALTER TABLE txt VALIDATE CONSTRAINT name_nonempty;
COMMIT;
ALTER TABLE txt VALIDATE CONSTRAINT name_nonempty;
$$);
-- The same, the whole text in one transaction as node-pg-migrate runs it.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt RENAME COLUMN name TO full_name;
ALTER TABLE txt VALIDATE CONSTRAINT name_nonempty;
$$, single_transaction => true);

-- SET LOCAL TimeZone earlier in the transaction makes timestamp ->
-- timestamptz a metadata change; it ends with the transaction.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
SET LOCAL TimeZone = 'UTC';
ALTER TABLE txt ALTER COLUMN ts TYPE timestamptz;
COMMIT;
ALTER TABLE txt ALTER COLUMN ts2 TYPE timestamptz;
$$);
-- guarded_ddl settings in the text apply to the statements after them,
-- and the session's own are untouched afterwards.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt DROP COLUMN c1;
SET guarded_ddl.rules = 'drop_column=warn';
ALTER TABLE txt DROP COLUMN c2;
RESET guarded_ddl.rules;
ALTER TABLE txt DROP COLUMN c3;
$$);
SHOW guarded_ddl.rules;
SHOW TimeZone;

-- A column or table the text creates is not in the catalogs yet: what is
-- done to it later is unknown, never silently allowed.
SELECT statement_no, command, relation, rule, verdict, hint FROM guarded_ddl.explain($$
ALTER TABLE txt ADD COLUMN nickname text;
ALTER TABLE txt ALTER COLUMN nickname SET NOT NULL;
CREATE TABLE txt_new (id int);
CREATE INDEX ON txt_new (id);
$$);
-- A table the text drops or renames away is not judged as it is now.
SELECT statement_no, command, relation, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt RENAME TO txt_old;
ALTER TABLE txt DROP COLUMN name;
DROP TABLE txt_old;
TRUNCATE txt_old;
$$);
-- A table created and rolled back is gone again: PostgreSQL's refusal.
SELECT statement_no, command, verdict, hint FROM guarded_ddl.explain($$
BEGIN;
CREATE TABLE txt_gone (id int);
ROLLBACK;
CREATE INDEX ON txt_gone (id);
$$);

-- A CHECK the text adds NOT VALID and validates proves SET NOT NULL, as it
-- will in the catalogs by then; so does a NOT VALID one it validates. An
-- ATTACH whose partition gets a CHECK implying the bound skips its scan;
-- without one it scans.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt ADD CONSTRAINT ts_not_null CHECK (ts IS NOT NULL) NOT VALID;
ALTER TABLE txt ALTER COLUMN ts SET NOT NULL;
ALTER TABLE txt VALIDATE CONSTRAINT ts_not_null;
ALTER TABLE txt ALTER COLUMN ts SET NOT NULL;
ALTER TABLE txt ALTER COLUMN name SET NOT NULL;
ALTER TABLE txt VALIDATE CONSTRAINT name_nonempty;
ALTER TABLE txt ALTER COLUMN name SET NOT NULL;
$$);
CREATE TABLE txt_parted (id int) PARTITION BY RANGE (id);
CREATE TABLE txt_part (id int);
SELECT statement_no, command, relation, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt_parted ATTACH PARTITION txt_part FOR VALUES FROM (0) TO (100);
$$) WHERE relation = 'public.txt_part';
SELECT statement_no, command, relation, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt_part ADD CONSTRAINT in_bound CHECK (id IS NOT NULL AND id >= 0 AND id < 100) NOT VALID;
ALTER TABLE txt_part VALIDATE CONSTRAINT in_bound;
ALTER TABLE txt_parted ATTACH PARTITION txt_part FOR VALUES FROM (0) TO (100);
$$) WHERE relation = 'public.txt_part';

-- What the text changes is no longer what the catalogs say: a column it
-- drops, renames or retypes, a partition it attaches, a constraint it drops.
SELECT statement_no, command, relation, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE txt ALTER COLUMN c1 TYPE bigint;
ALTER TABLE txt ALTER COLUMN c1 TYPE bigint;
ALTER TABLE txt RENAME COLUMN c2 TO c2_old;
ALTER TABLE txt DROP COLUMN c2;
ALTER TABLE txt_parted ATTACH PARTITION txt_part FOR VALUES FROM (0) TO (100);
ALTER TABLE txt_parted DETACH PARTITION txt_part;
ALTER TABLE txt VALIDATE CONSTRAINT name_nonempty;
ALTER TABLE txt DROP CONSTRAINT name_nonempty;
ALTER TABLE txt ALTER COLUMN name SET NOT NULL;
ALTER TABLE txt VALIDATE CONSTRAINT name_nonempty;
$$);

-- In a transaction block, a statement PostgreSQL refuses aborts the rest of
-- it: nothing after it runs, and COMMIT rolls it back.
SELECT statement_no, command, rule, verdict, hint FROM guarded_ddl.explain($$
ALTER TABLE txt ALTER COLUMN no_such_column SET NOT NULL;
ALTER TABLE txt DROP COLUMN c2;
BEGIN;
ALTER TABLE txt ALTER COLUMN no_such_column SET NOT NULL;
ALTER TABLE txt DROP COLUMN c3;
COMMIT;
ALTER TABLE txt DROP COLUMN c3;
$$);

-- Odd texts get a clear answer: COMMIT without BEGIN, BEGIN twice, a text
-- that ends inside its transaction block.
SELECT statement_no, command, verdict, hint FROM guarded_ddl.explain($$
COMMIT;
BEGIN;
BEGIN;
ALTER TABLE txt ADD COLUMN extra int;
$$);

-- Rule dml_under_strong_lock: DML while the text's transaction holds SHARE
-- ROW EXCLUSIVE or stronger on a large table, estimated by the planner
-- (guarded_ddl.max_rows_under_lock is 10000). The DETAIL of the hook's
-- message, second line of the hint, names the statement that took the lock.
CREATE TABLE users (id int PRIMARY KEY, name text);
INSERT INTO users SELECT g, 'n' || g FROM generate_series(1, 20000) g;
ANALYZE users;
-- The DML rows of explain(), with the hook's message (its size left out)
-- and DETAIL for a rule that fires, the hint otherwise.
CREATE FUNCTION explain_dml(text, single boolean DEFAULT false)
RETURNS TABLE (statement_no int, command text, lock_mode text, rule text, verdict text, said text)
LANGUAGE sql AS $f$
SELECT statement_no, command, lock_mode, rule, verdict,
       CASE WHEN rule = 'dml_under_strong_lock' AND verdict <> 'unknown'
            THEN regexp_replace(split_part(hint, E'\n', 1), ' \([^)]*\)$', '') || E'\n' ||
                 split_part(hint, E'\n', 2)
            ELSE hint END
  FROM guarded_ddl.explain($1, $2)
$f$;
-- The canonical backfill inside the schema change's transaction: the UPDATE
-- cannot be planned before the ALTER adds full_name; its WHERE-less stand-in
-- says it touches every row.
SELECT * FROM explain_dml($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
COMMIT;
$$);
-- Word for word what the hook says when the text runs.
CREATE TEMP TABLE explained AS SELECT hint FROM guarded_ddl.explain($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
ROLLBACK;
$$) WHERE command = 'UPDATE';
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
DO $do$
DECLARE
    m text;
    d text;
    h text;
BEGIN
    UPDATE users SET full_name = name;
    RAISE EXCEPTION 'the UPDATE was not blocked';
EXCEPTION WHEN SQLSTATE 'GD001' THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RAISE NOTICE 'explain() gives the hook''s message, detail and hint: %',
        (SELECT hint = m || E'\n' || d || E'\n' || h FROM explained);
END
$do$;
ROLLBACK;
-- A small batch is fine; the UPDATE alone, or after the COMMIT, is fine.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name WHERE id <= 1000;
COMMIT;
UPDATE users SET full_name = name;
$$);
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
UPDATE users SET name = upper(name);
$$);
-- One transaction for the whole text (node-pg-migrate, psql -1).
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
$$, single_transaction => true);
-- LOCK TABLE takes the lock just as well; SHARE MODE is not strong enough.
SELECT * FROM explain_dml($$
BEGIN;
LOCK TABLE users IN SHARE MODE;
DELETE FROM users WHERE id > 0;
LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM users WHERE id > 0;
ROLLBACK;
$$);
-- ROLLBACK TO SAVEPOINT releases the locks taken since; RELEASE keeps them
-- (and the savepoint is gone: ROLLBACK TO it fails).
SELECT * FROM explain_dml($$
BEGIN;
SAVEPOINT before_lock;
LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
ROLLBACK TO SAVEPOINT before_lock;
UPDATE users SET name = name;
SAVEPOINT again;
LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
RELEASE SAVEPOINT again;
UPDATE users SET name = name;
ROLLBACK TO SAVEPOINT again;
COMMIT;
$$);
-- A table the text creates is never large: filling it is fine.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
CREATE TABLE users_new (id int, name text);
ALTER TABLE users_new ADD COLUMN full_name text;
INSERT INTO users_new SELECT id, name, name FROM users;
COMMIT;
$$);
-- Rows that cannot be estimated before the text runs are unknown, never
-- allowed: a WHERE on the column the text adds. COPY FROM STDIN is judged
-- as exceeding, as the hook judges it; a server file is not read.
SELECT * FROM explain_dml($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
DELETE FROM users WHERE full_name IS NULL;
COPY users (id, name) FROM STDIN;
COPY users FROM '/nonexistent/users.csv';
ROLLBACK;
$$) WHERE command IN ('DELETE', 'COPY');
-- warn mode warns; a DBA's approval for the table lets it pass (allow).
SET guarded_ddl.mode = warn;
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
COMMIT;
$$) WHERE command = 'UPDATE';
RESET guarded_ddl.mode;
SELECT guarded_ddl.approve('dml_under_strong_lock', 'users', 'backfill in the maintenance window') AS approval \gset
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = name;
COMMIT;
$$) WHERE command = 'UPDATE';
SELECT uses FROM guarded_ddl.approvals WHERE id = :approval;
SELECT guarded_ddl.revoke_approval(:approval);
-- The limit in the text applies after it; -1 switches the rule off.
SELECT statement_no, command, rule, verdict FROM guarded_ddl.explain($$
BEGIN;
ALTER TABLE users ADD COLUMN full_name text;
SET LOCAL guarded_ddl.max_rows_under_lock = -1;
UPDATE users SET full_name = name;
SET LOCAL guarded_ddl.max_rows_under_lock = 100;
UPDATE users SET full_name = name WHERE id <= 1000;
COMMIT;
$$) WHERE command = 'UPDATE';
-- Nothing was executed: no column, no row changed.
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'full_name';
SELECT count(*) AS rows, count(*) FILTER (WHERE name = 'n' || id) AS unchanged FROM users;

SET guarded_ddl.mode = off;
DROP TABLE txt, txt_parted, txt_part, users;
DROP FUNCTION explain_dml(text, boolean);
RESET guarded_ddl.mode;
DROP EXTENSION guarded_ddl;
