-- Statements PostgreSQL refuses are not judged: the guard steps aside and
-- PostgreSQL's own error (and SQLSTATE) is what the session sees, even
-- with every table large. Prediction never calls a user's function. A
-- refused statement is still audited. (test/t/015_wrong_target.pl compares
-- the whole matrix of wrong targets with a vanilla server.)
CREATE EXTENSION guarded_ddl;
\set VERBOSITY terse
SET guarded_ddl.large_table_size = 0;
SET guarded_ddl.large_table_rows = 0;
SELECT guarded_ddl.flush();
SELECT coalesce(max(id), 0) AS start_id FROM guarded_ddl.ddl_log \gset

CREATE TABLE pre_plain (a text, b int CHECK (b > 0));
INSERT INTO pre_plain VALUES ('x', 1);
CREATE TABLE pre_other (a text);
CREATE TABLE pre_parted (a text) PARTITION BY LIST (a);
CREATE TABLE pre_default PARTITION OF pre_parted DEFAULT;
CREATE VIEW pre_view AS SELECT a FROM pre_plain;
CREATE TYPE pre_composite AS (x int);
CREATE ROLE pre_intruder;
GRANT SELECT ON pre_plain TO pre_intruder;
GRANT USAGE ON SCHEMA guarded_ddl TO pre_intruder;

-- ATTACH onto a table that is not partitioned (this crashed the backend).
ALTER TABLE pre_plain ATTACH PARTITION pre_other FOR VALUES IN ('a');
ALTER TABLE pg_class ATTACH PARTITION pre_other FOR VALUES IN ('a');
SELECT rule, verdict FROM guarded_ddl.explain(
    $$ALTER TABLE pre_plain ATTACH PARTITION pre_other FOR VALUES IN ('a')$$);
-- A bound of the wrong strategy, a partition with other columns.
ALTER TABLE pre_parted ATTACH PARTITION pre_other FOR VALUES FROM ('a') TO ('b');
ALTER TABLE pre_parted ATTACH PARTITION pre_plain FOR VALUES IN ('a');
ALTER TABLE pre_parted DETACH PARTITION pre_plain;

-- Wrong kinds of relation, missing and system columns.
ALTER TABLE pre_view ALTER COLUMN a SET NOT NULL;
ALTER TABLE pre_composite ADD COLUMN y int;
ALTER TABLE pre_plain ALTER COLUMN nope TYPE int;
ALTER TABLE pre_plain ALTER COLUMN ctid TYPE text;
ALTER TABLE pre_plain DROP COLUMN xmin;
ALTER TABLE pre_plain ADD COLUMN a int NOT NULL;
ALTER TABLE pre_plain ADD COLUMN c no_such_type;
REFRESH MATERIALIZED VIEW pre_plain;
CREATE INDEX ON pre_plain (nope);
CLUSTER pre_plain USING no_such_index;
TRUNCATE pre_view;
ALTER DOMAIN pre_composite ADD CONSTRAINT c CHECK (true);
-- A view still uses the column: PostgreSQL refuses the drop (RESTRICT).
ALTER TABLE pre_plain DROP COLUMN a;
-- The same forms are judged where PostgreSQL would run them.
ALTER TABLE pre_plain ALTER COLUMN a SET NOT NULL;
ALTER TABLE pre_plain DROP COLUMN b;

-- REINDEX of a partitioned table commits a transaction per partition: it is
-- judged outside a transaction block and PostgreSQL's to refuse inside one.
REINDEX TABLE pre_parted;
BEGIN;
REINDEX TABLE pre_parted;
ROLLBACK;

-- A role that may not run the statement gets PostgreSQL's 42501, not the rule.
SET ROLE pre_intruder;
TRUNCATE pre_plain;
ALTER TABLE pre_plain DROP COLUMN a;
ALTER TABLE pre_plain ADD COLUMN c no_such_type;
DROP TABLE pre_plain;
SELECT rule, verdict, relation_size FROM guarded_ddl.explain('ALTER TABLE pre_plain DROP COLUMN a');
RESET ROLE;

-- Prediction never calls a user's function: noisy() says when it runs.
CREATE FUNCTION pre_noisy() RETURNS int IMMUTABLE LANGUAGE plpgsql AS
$$ BEGIN RAISE NOTICE 'pre_noisy ran'; RETURN 1; END $$;
CREATE FUNCTION pre_noisy_text() RETURNS text IMMUTABLE LANGUAGE plpgsql AS
$$ BEGIN RAISE NOTICE 'pre_noisy_text ran'; RETURN 'n'; END $$;
SELECT rule, verdict FROM guarded_ddl.explain('ALTER TABLE pre_plain ADD COLUMN d int DEFAULT pre_noisy()');
SELECT rule, verdict FROM guarded_ddl.explain(
    $$ALTER TABLE pre_parted ATTACH PARTITION pre_other FOR VALUES IN (pre_noisy_text())$$);
-- A CHECK that would prove SET NOT NULL but calls one is not folded for the
-- proof (pre_noisy_text runs once here, when PostgreSQL validates it).
SET guarded_ddl.mode = off;
ALTER TABLE pre_plain ADD CONSTRAINT a_noisy CHECK (a IS NOT NULL AND a <> pre_noisy_text());
SET guarded_ddl.mode = warn;
SELECT rule, verdict FROM guarded_ddl.explain('ALTER TABLE pre_plain ALTER COLUMN a SET NOT NULL');
-- PostgreSQL itself calls pre_noisy() once, to store the default.
ALTER TABLE pre_plain ADD COLUMN d int DEFAULT pre_noisy();
RESET guarded_ddl.mode;

-- Refused statements are in the audit log with PostgreSQL's SQLSTATE.
SELECT guarded_ddl.flush();
SELECT command, verdict, sqlstate, statement
  FROM guarded_ddl.ddl_log
 WHERE id > :start_id AND statement LIKE 'ALTER TABLE pre_plain ATTACH%'
 ORDER BY id;

SET guarded_ddl.mode = off;
DROP TABLE pre_plain, pre_other, pre_parted CASCADE;
DROP TYPE pre_composite;
DROP FUNCTION pre_noisy, pre_noisy_text;
REVOKE USAGE ON SCHEMA guarded_ddl FROM pre_intruder;
DROP ROLE pre_intruder;
DROP EXTENSION guarded_ddl;
