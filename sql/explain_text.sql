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

SET guarded_ddl.mode = off;
DROP TABLE txt, txt_parted, txt_part;
RESET guarded_ddl.mode;
DROP EXTENSION guarded_ddl;
