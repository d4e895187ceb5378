-- The rollback class of every action: reversible (an application rollback,
-- or a cheap reverse statement), forward_only (no data lost, but undoing it
-- is another risky migration), data_restore (data is lost). In explain(),
-- in rules(), and in ddl_log for the statement (its worst action).
CREATE EXTENSION guarded_ddl;
\set VERBOSITY terse
CREATE DOMAIN rb_code AS varchar(5);
CREATE TABLE rb (
    id bigint PRIMARY KEY,
    amount numeric(10,2),
    code varchar(100),
    at timestamptz,
    born timestamp(6),
    ratio float8,
    n int,
    note text,
    tags varchar(20)[],
    span interval
);
CREATE INDEX rb_n ON rb (n);
CREATE SEQUENCE rb_seq;
CREATE SCHEMA rb_schema;
INSERT INTO rb VALUES (1, 12345.67, 'abc', '2024-01-01 10:00:00.123456+00',
                       '2024-01-01 10:00:00.5', 1.25, 7, 'n', '{a}', '1 day 02:03:04.5');

-- Each statement of a list explained on its own, against the catalogs as
-- they are (one text would judge each after the ones before it).
CREATE FUNCTION rb_each(stmts text)
    RETURNS TABLE (statement_no bigint, effect text, rollback text, rule text, verdict text,
                   command text, relation text)
    LANGUAGE sql AS $f$
    SELECT s.no, e.effect, e.rollback, e.rule, e.verdict, e.command, e.relation
      FROM regexp_split_to_table(btrim(stmts, E' \n;'), E';\\s*') WITH ORDINALITY AS s(stmt, no),
           guarded_ddl.explain(s.stmt) AS e
$f$;

-- A small table (the default thresholds): nothing is blocked (verdict
-- allow), yet each lossy type change is data_restore. The issue's examples
-- first.
SELECT statement_no AS no, effect, rollback, rule, verdict, command
  FROM rb_each($$
    ALTER TABLE rb ALTER COLUMN amount TYPE numeric(8,2);
    ALTER TABLE rb ALTER COLUMN id TYPE int;
    ALTER TABLE rb ALTER COLUMN code TYPE varchar(50);
    ALTER TABLE rb ALTER COLUMN at TYPE timestamptz(0);
    ALTER TABLE rb ALTER COLUMN amount TYPE numeric(10,1);
    ALTER TABLE rb ALTER COLUMN amount TYPE numeric;
    ALTER TABLE rb ALTER COLUMN amount TYPE int;
    ALTER TABLE rb ALTER COLUMN born TYPE date;
    ALTER TABLE rb ALTER COLUMN ratio TYPE real;
    ALTER TABLE rb ALTER COLUMN note TYPE varchar(10);
    ALTER TABLE rb ALTER COLUMN code TYPE rb_code;
    ALTER TABLE rb ALTER COLUMN tags TYPE varchar(10)[];
    ALTER TABLE rb ALTER COLUMN span TYPE interval(0);
    ALTER TABLE rb ALTER COLUMN n TYPE smallint;
  $$) ORDER BY statement_no;

-- No loss: a widening that PostgreSQL does without a rewrite is metadata
-- only (reversible); one that rewrites keeps every value but undoing it is
-- another rewrite (forward_only).
SELECT statement_no AS no, effect, rollback, rule, command
  FROM rb_each($$
    ALTER TABLE rb ALTER COLUMN amount TYPE numeric(12,2);
    ALTER TABLE rb ALTER COLUMN code TYPE text;
    ALTER TABLE rb ALTER COLUMN code TYPE varchar(200);
    ALTER TABLE rb ALTER COLUMN n TYPE bigint;
    ALTER TABLE rb ALTER COLUMN n TYPE numeric(10,0);
    ALTER TABLE rb ALTER COLUMN born TYPE timestamptz;
    ALTER TABLE rb ALTER COLUMN ratio TYPE numeric;
  $$) ORDER BY statement_no;

-- USING: a cast of the column is judged cast by cast; anything else
-- computes new values, and the old ones are gone.
SELECT statement_no AS no, effect, rollback, command
  FROM rb_each($$
    ALTER TABLE rb ALTER COLUMN n TYPE bigint USING n::bigint;
    ALTER TABLE rb ALTER COLUMN id TYPE bigint USING id::int::bigint;
    ALTER TABLE rb ALTER COLUMN n TYPE bigint USING n * 2;
    ALTER TABLE rb ALTER COLUMN note TYPE int USING length(note);
  $$) ORDER BY statement_no;

-- Every other form: additive, renames and physical rebuilds are
-- reversible, DROP INDEX is forward_only, lost rows or columns are
-- data_restore. A statement without actions of its own is classed by what
-- it may remove.
SELECT statement_no AS no, effect, rollback, command, relation
  FROM rb_each($$
    ALTER TABLE rb ADD COLUMN extra int;
    ALTER TABLE rb ADD COLUMN token uuid DEFAULT gen_random_uuid();
    ALTER TABLE rb ALTER COLUMN n SET NOT NULL;
    ALTER TABLE rb ADD CONSTRAINT rb_positive CHECK (n > 0);
    CREATE INDEX ON rb (code);
    ALTER TABLE rb RENAME COLUMN note TO remark;
    ALTER TABLE rb SET SCHEMA rb_schema;
    VACUUM FULL rb;
    DROP INDEX rb_n;
    ALTER TABLE rb DROP COLUMN note;
    TRUNCATE rb;
    DROP TABLE rb;
    DROP SEQUENCE rb_seq;
    DROP SCHEMA rb_schema;
    DROP SCHEMA rb_schema CASCADE;
    CREATE TABLE rb_new (id int);
    SELECT 1;
  $$) ORDER BY statement_no;

-- A large table: the rewrite rule fires too, and the class is the same.
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;
SELECT rule, verdict, rollback FROM guarded_ddl.explain('ALTER TABLE rb ALTER COLUMN id TYPE int');
SELECT rule, verdict, rollback FROM guarded_ddl.explain('ALTER TABLE rb ALTER COLUMN n TYPE bigint');
RESET guarded_ddl.large_table_size;
RESET guarded_ddl.large_table_rows;

-- Nothing ran.
SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
 WHERE attrelid = 'rb'::regclass AND attname IN ('id', 'amount') ORDER BY attnum;

-- rules(): each rule's class for its usual form.
SELECT id, effect, rollback FROM guarded_ddl.rules() ORDER BY rollback, id;

-- ddl_log: the worst class of each statement's actions, whatever its verdict.
SELECT guarded_ddl.flush();
SELECT coalesce(max(id), 0) AS start_id FROM guarded_ddl.ddl_log \gset
ALTER TABLE rb ALTER COLUMN amount TYPE numeric(12,2);
ALTER TABLE rb ALTER COLUMN n TYPE bigint;
ALTER TABLE rb ADD COLUMN extra int, DROP COLUMN note;
ALTER TABLE rb ALTER COLUMN amount TYPE numeric(8,2);
BEGIN;
ALTER TABLE rb ALTER COLUMN id TYPE int;
ROLLBACK;
ALTER TABLE rb ALTER COLUMN code TYPE varchar(2);
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;
ALTER TABLE rb DROP COLUMN born;
RESET guarded_ddl.large_table_size;
RESET guarded_ddl.large_table_rows;
SET guarded_ddl.mode = off;
ALTER TABLE rb DROP COLUMN ratio;
RESET guarded_ddl.mode;
DROP SEQUENCE rb_seq;
DROP SCHEMA rb_schema CASCADE;
SELECT guarded_ddl.flush();
SELECT command, verdict, rollback, coalesce(statement, setting) AS statement
  FROM guarded_ddl.ddl_history WHERE id > :start_id ORDER BY id;
-- The column accepts the three classes only.
SELECT pg_get_constraintdef(oid) AS rollback_check FROM pg_constraint
 WHERE conrelid = 'guarded_ddl.ddl_log'::regclass AND conname LIKE '%rollback%';

DROP FUNCTION rb_each;
DROP TABLE rb;
DROP DOMAIN rb_code;
DROP EXTENSION guarded_ddl;
