-- CALL guarded_ddl.apply(sql): allowed statements run as they are, each in
-- its own transaction; a statement a rule blocks runs as its recipe when the
-- rule has one (each rule of the README's table), and raises GD001
-- otherwise. The final catalog state is what the blocked statement would
-- have produced.
CREATE EXTENSION guarded_ddl;
\set VERBOSITY default

CREATE TABLE ap_parent (id int PRIMARY KEY);
INSERT INTO ap_parent SELECT g FROM generate_series(1, 1000) g;
CREATE TABLE ap (id int PRIMARY KEY, a int, b int, parent_id int, "Odd col" int);
INSERT INTO ap SELECT g, g, g, g, g FROM generate_series(1, 1000) g;
CREATE DOMAIN ap_pos AS int;
CREATE TABLE ap_dom (id int PRIMARY KEY, v ap_pos);
INSERT INTO ap_dom SELECT g, g FROM generate_series(1, 1000) g;
SELECT guarded_ddl.set_table_policy(t, large => true)
  FROM unnest(ARRAY['ap', 'ap_parent', 'ap_dom']::regclass[]) t;

-- The blocked statements, run directly: GD001 (each rule fires here).
ALTER TABLE ap ADD CHECK (a > 0);

-- Refused inside a transaction block (25001), before anything runs.
BEGIN;
CALL guarded_ddl.apply('ALTER TABLE ap ADD CHECK (a > 0)');
ROLLBACK;
-- and from a function (an atomic context).
CREATE FUNCTION ap_call() RETURNS void LANGUAGE plpgsql AS $$
BEGIN CALL guarded_ddl.apply('SELECT 1'); END $$;
SELECT ap_call();
-- Transaction control in the text is refused before anything runs.
CALL guarded_ddl.apply('ALTER TABLE ap ADD COLUMN x int; COMMIT');
SELECT count(*) AS x_columns FROM pg_attribute WHERE attrelid = 'ap'::regclass AND attname = 'x';

-- Each in-transaction recipe, and an allowed statement, in one text.
CALL guarded_ddl.apply($$
    CREATE TABLE ap_small (id int);
    ALTER TABLE ap ADD CHECK (a > 0);
    ALTER TABLE ap ADD CONSTRAINT ap_parent_fk FOREIGN KEY (parent_id) REFERENCES ap_parent (id);
    ALTER TABLE ap ALTER COLUMN b SET NOT NULL;
    ALTER TABLE ap ADD FOREIGN KEY ("Odd col") REFERENCES ap_parent -- a trailing comment
    ;
    ALTER DOMAIN ap_pos ADD CHECK (VALUE > 0);
$$);
-- The catalogs: every constraint valid, b NOT NULL, no helper left.
SELECT conname, contype, convalidated, pg_get_constraintdef(oid) AS def
  FROM pg_constraint WHERE conrelid = 'ap'::regclass OR contypid = 'ap_pos'::regtype
 ORDER BY conname;
SELECT attname, attnotnull FROM pg_attribute
 WHERE attrelid = 'ap'::regclass AND attname IN ('a', 'b') ORDER BY attname;
SELECT to_regclass('ap_small') IS NOT NULL AS small_created;

-- A rule without a mechanical recipe: GD001, and nothing of the statement
-- runs (the statements before it did, each committed).
CALL guarded_ddl.apply('CREATE TABLE ap_before (id int); ALTER TABLE ap DROP COLUMN a');
SELECT count(*) AS a_columns FROM pg_attribute
 WHERE attrelid = 'ap'::regclass AND attname = 'a' AND NOT attisdropped;
SELECT to_regclass('ap_before') IS NOT NULL AS before_created;
-- A multi-command ALTER TABLE has no recipe either.
CALL guarded_ddl.apply('ALTER TABLE ap ADD CONSTRAINT ap_two CHECK (id > 0), ADD COLUMN y int');
SELECT count(*) AS ap_two FROM pg_constraint WHERE conname = 'ap_two';

-- Resumable: the state an interrupted SET NOT NULL recipe leaves is
-- recognised. PostgreSQL 15's recipe goes through a helper CHECK, which is
-- reused, then dropped; 18's adds the NOT NULL constraint NOT VALID and
-- validates it (expected/apply_1.out).
SELECT current_setting('server_version_num')::int >= 180000 AS pg18 \gset
ALTER TABLE ap ALTER COLUMN b DROP NOT NULL;
\if :pg18
ALTER TABLE ap ADD CONSTRAINT ap_b_not_null NOT NULL b NOT VALID;
\else
ALTER TABLE ap ADD CONSTRAINT ap_b_not_null CHECK (b IS NOT NULL) NOT VALID;
\endif
CALL guarded_ddl.apply('ALTER TABLE ap ALTER COLUMN b SET NOT NULL');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ap'::regclass AND attname = 'b';
SELECT count(*) AS helpers_left FROM pg_constraint
 WHERE conname = 'ap_b_not_null' AND contype = 'c';
\if :pg18
-- Interrupted after VALIDATE: 18's recipe is done then.
CALL guarded_ddl.apply('ALTER TABLE ap ALTER COLUMN b SET NOT NULL');
\else
-- Interrupted after VALIDATE: the valid helper is reused as well (the
-- state is made with the guard off).
ALTER TABLE ap ALTER COLUMN b DROP NOT NULL;
SET guarded_ddl.mode = off;
ALTER TABLE ap ADD CONSTRAINT ap_b_not_null CHECK (b IS NOT NULL);
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('ALTER TABLE ap ALTER COLUMN b SET NOT NULL');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ap'::regclass AND attname = 'b';
SELECT count(*) AS helpers_left FROM pg_constraint WHERE conname = 'ap_b_not_null';
-- Interrupted after SET NOT NULL: the rerun only drops the helper.
SET guarded_ddl.mode = off;
ALTER TABLE ap ADD CONSTRAINT ap_b_not_null CHECK (b IS NOT NULL);
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('ALTER TABLE ap ALTER COLUMN b SET NOT NULL');
SELECT count(*) AS helpers_left FROM pg_constraint WHERE conname = 'ap_b_not_null';
\endif
-- A CHECK interrupted after its NOT VALID step: the rerun only validates.
ALTER TABLE ap DROP CONSTRAINT ap_a_check;
ALTER TABLE ap ADD CONSTRAINT ap_a_check CHECK (a > 0) NOT VALID;
CALL guarded_ddl.apply('ALTER TABLE ap ADD CHECK (a > 0)');
SELECT convalidated FROM pg_constraint WHERE conname = 'ap_a_check';
-- The same text again: every step is done already, nothing runs.
CALL guarded_ddl.apply($$
    ALTER TABLE ap ADD CONSTRAINT ap_parent_fk FOREIGN KEY (parent_id) REFERENCES ap_parent (id);
    ALTER DOMAIN ap_pos ADD CHECK (VALUE > 0);
$$);

-- A failing step stops apply with PostgreSQL's error; the steps before it
-- stay committed, and a rerun once the data is fixed only validates.
CALL guarded_ddl.apply('ALTER TABLE ap ADD CONSTRAINT ap_id_above_one CHECK (id > 1)');
SELECT conname, convalidated FROM pg_constraint WHERE conname = 'ap_id_above_one';
DELETE FROM ap WHERE id = 1;
CALL guarded_ddl.apply('ALTER TABLE ap ADD CONSTRAINT ap_id_above_one CHECK (id > 1)');
SELECT conname, convalidated FROM pg_constraint WHERE conname = 'ap_id_above_one';

-- Top-level steps, run by a background worker as the caller: CREATE INDEX
-- runs CONCURRENTLY (the name PostgreSQL would give an unnamed index), ADD
-- UNIQUE as a unique index built CONCURRENTLY then ADD CONSTRAINT USING
-- INDEX, DROP INDEX CONCURRENTLY; a statement written CONCURRENTLY runs at
-- top level as it is.
CALL guarded_ddl.apply($$
    CREATE INDEX ON ap (a, (b + 1)) INCLUDE (parent_id);
    CREATE INDEX ap_b_idx ON ap USING hash (b);
    ALTER TABLE ap ADD UNIQUE (a);
    CREATE INDEX CONCURRENTLY ap_id_idx ON ap (id) WHERE id > 10;
    DROP INDEX ap_b_idx;
$$);
SELECT indexrelid::regclass AS index, indisvalid, pg_get_indexdef(indexrelid) AS def
  FROM pg_index WHERE indrelid = 'ap'::regclass ORDER BY indexrelid::regclass::text;
SELECT conname, contype, conindid::regclass AS index FROM pg_constraint WHERE conname = 'ap_a_key';
-- Again: every index is there and valid, nothing runs.
CALL guarded_ddl.apply('CREATE INDEX ON ap (a, (b + 1)) INCLUDE (parent_id); ALTER TABLE ap ADD UNIQUE (a)');
-- A rerun of the finished DROP INDEX: the index is gone and the audit log
-- shows the earlier apply ran its recipe, so it is done already. A name no
-- apply ever dropped (a typo) still fails as PostgreSQL fails it, and so
-- does the rerun of a statement whose recipe never ran.
CALL guarded_ddl.apply('DROP INDEX ap_b_idx');
CALL guarded_ddl.apply('DROP INDEX ap_b_idz');
CALL guarded_ddl.apply('DROP INDEX ap_b_idz');
-- An invalid index of that name (a failed build) is dropped and built again.
SET guarded_ddl.mode = off;
UPDATE ap SET parent_id = 3 WHERE id = 2;
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('CREATE UNIQUE INDEX ap_parent_key ON ap (parent_id)');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'ap_parent_key'::regclass;
SET guarded_ddl.mode = off;
UPDATE ap SET parent_id = 2 WHERE id = 2;
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('CREATE UNIQUE INDEX ap_parent_key ON ap (parent_id)');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'ap_parent_key'::regclass;
-- A primary key: on NOT NULL columns, its recipe; on a nullable column,
-- none (GD001).
CREATE TABLE ap_nopk (id int NOT NULL, v int);
INSERT INTO ap_nopk SELECT g, g FROM generate_series(1, 1000) g;
SELECT guarded_ddl.set_table_policy('ap_nopk', large => true);
CALL guarded_ddl.apply('ALTER TABLE ap_nopk ADD PRIMARY KEY (v)');
CALL guarded_ddl.apply('ALTER TABLE ap_nopk ADD PRIMARY KEY (id)');
SELECT conname, contype, conindid::regclass AS index FROM pg_constraint WHERE conrelid = 'ap_nopk'::regclass;

-- REINDEX INDEX / TABLE runs CONCURRENTLY (top level). The invalid copies
-- an interrupted REINDEX CONCURRENTLY leaves (<index>_ccnew, _ccold) are
-- dropped CONCURRENTLY first; here they are made as invalid indexes of those
-- names by CONCURRENTLY builds that fail on duplicates.
CREATE TABLE ap_rx (id int, v int, w int);
INSERT INTO ap_rx SELECT g, g % 10, g FROM generate_series(1, 1000) g;
SET guarded_ddl.mode = off;
CREATE INDEX ap_rx_v_idx ON ap_rx (v);
CREATE INDEX ap_rx_w_idx ON ap_rx (w);
RESET guarded_ddl.mode;
SELECT guarded_ddl.set_table_policy('ap_rx', large => true);
\set VERBOSITY terse
CREATE UNIQUE INDEX CONCURRENTLY ap_rx_v_idx_ccnew ON ap_rx (v);
CREATE UNIQUE INDEX CONCURRENTLY ap_rx_v_idx_ccold1 ON ap_rx (v);
CREATE UNIQUE INDEX CONCURRENTLY ap_rx_w_idx_ccnew ON ap_rx (v);
\set VERBOSITY default
SELECT 'ap_rx_v_idx'::regclass::oid AS v_before, 'ap_rx_w_idx'::regclass::oid AS w_before \gset
CALL guarded_ddl.apply('REINDEX INDEX ap_rx_v_idx');
-- v's copies are gone, w's is still there; v was rebuilt, w not.
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
 WHERE indrelid = 'ap_rx'::regclass ORDER BY indexrelid::regclass::text;
SELECT 'ap_rx_v_idx'::regclass::oid <> :v_before AS v_rebuilt,
       'ap_rx_w_idx'::regclass::oid <> :w_before AS w_rebuilt;
SELECT 'ap_rx_v_idx'::regclass::oid AS v_before \gset
-- Terse: VERBOSE's DETAIL gives timings.
\set VERBOSITY terse
CALL guarded_ddl.apply('REINDEX (VERBOSE) TABLE ap_rx');
\set VERBOSITY default
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
 WHERE indrelid = 'ap_rx'::regclass ORDER BY indexrelid::regclass::text;
SELECT 'ap_rx_v_idx'::regclass::oid <> :v_before AS v_rebuilt,
       'ap_rx_w_idx'::regclass::oid <> :w_before AS w_rebuilt;

-- DETACH PARTITION runs CONCURRENTLY (top level), unless the table has a
-- DEFAULT partition (PostgreSQL refuses CONCURRENTLY then): GD001.
CREATE TABLE ap_parts (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE ap_parts_1 PARTITION OF ap_parts FOR VALUES FROM (0) TO (1000);
CREATE TABLE ap_parts_2 PARTITION OF ap_parts FOR VALUES FROM (1000) TO (2000);
INSERT INTO ap_parts SELECT g, g FROM generate_series(0, 1999) g;
SELECT guarded_ddl.set_table_policy(t, large => true)
  FROM unnest(ARRAY['ap_parts', 'ap_parts_1', 'ap_parts_2']::regclass[]) t;
CALL guarded_ddl.apply('ALTER TABLE ap_parts DETACH PARTITION ap_parts_1');
SELECT inhrelid::regclass AS partition, inhdetachpending FROM pg_inherits
 WHERE inhparent = 'ap_parts'::regclass ORDER BY 1::text;
SELECT relispartition FROM pg_class WHERE oid = 'ap_parts_1'::regclass;
-- The rerun: ap_parts_1 is no partition any more and the earlier apply ran
-- the recipe: done already. A table that never was a partition: PostgreSQL's
-- error.
CALL guarded_ddl.apply('ALTER TABLE ap_parts DETACH PARTITION ap_parts_1');
CALL guarded_ddl.apply('ALTER TABLE ap_parts DETACH PARTITION ap_rx');
CREATE TABLE ap_parts_def PARTITION OF ap_parts DEFAULT;
CALL guarded_ddl.apply('ALTER TABLE ap_parts DETACH PARTITION ap_parts_2');
SELECT inhrelid::regclass AS partition FROM pg_inherits
 WHERE inhparent = 'ap_parts'::regclass ORDER BY 1::text;

-- REFRESH MATERIALIZED VIEW runs CONCURRENTLY (top level) when the view is
-- populated and has a unique index on plain columns; otherwise GD001.
CREATE MATERIALIZED VIEW ap_mv AS SELECT id, a FROM ap;
CREATE MATERIALIZED VIEW ap_mv_empty AS SELECT id FROM ap WITH NO DATA;
SET guarded_ddl.mode = off;
CREATE UNIQUE INDEX ap_mv_empty_id ON ap_mv_empty (id);
CREATE UNIQUE INDEX ap_mv_partial ON ap_mv (id) WHERE id > 5;
RESET guarded_ddl.mode;
SELECT guarded_ddl.set_table_policy(t, large => true)
  FROM unnest(ARRAY['ap_mv', 'ap_mv_empty']::regclass[]) t;
SET guarded_ddl.mode = off;
INSERT INTO ap (id, a, b) VALUES (5000, 1, 1);
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('REFRESH MATERIALIZED VIEW ap_mv');
CALL guarded_ddl.apply('REFRESH MATERIALIZED VIEW ap_mv_empty');
SET guarded_ddl.mode = off;
CREATE UNIQUE INDEX ap_mv_id ON ap_mv (id);
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('REFRESH MATERIALIZED VIEW ap_mv WITH NO DATA');
SELECT count(*) AS mv_has_5000 FROM ap_mv WHERE id = 5000;
CALL guarded_ddl.apply('REFRESH MATERIALIZED VIEW ap_mv');
SELECT count(*) AS mv_has_5000 FROM ap_mv WHERE id = 5000;

-- ADD COLUMN ... NOT NULL without a default: no mechanical recipe (the
-- rows need values first, chosen by the author): GD001, and the NOTICE says
-- what to do (backfill, then SET NOT NULL through apply). With a constant
-- default the statement needs no scan and runs as it is; a default calling
-- a user's function is blocked by another rule (worst assumed: a rewrite).
CREATE FUNCTION ap_seven() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 7';
CALL guarded_ddl.apply('ALTER TABLE ap ADD COLUMN c int NOT NULL');
CALL guarded_ddl.apply('ALTER TABLE ap ADD COLUMN e int NOT NULL DEFAULT 0');
CALL guarded_ddl.apply('ALTER TABLE ap ADD COLUMN f int NOT NULL DEFAULT ap_seven()');
SELECT attname, attnotnull FROM pg_attribute
 WHERE attrelid = 'ap'::regclass AND attname IN ('c', 'e', 'f') ORDER BY attnum;

-- ATTACH PARTITION: a CHECK matching the bound's partition constraint,
-- added NOT VALID on the partition and validated, proves the bound, so the
-- ATTACH itself does not scan; then the helper is dropped. Range, list, and
-- a sub-partitioned parent (its own partition constraint is included).
CREATE TABLE ap_att (id int, k text, v int) PARTITION BY RANGE (id);
CREATE TABLE ap_att_1 (id int, k text, v int);
INSERT INTO ap_att_1 SELECT g, 'a', g FROM generate_series(0, 999) g;
CREATE TABLE ap_att_2 (v int, k text, id int);  -- columns in another order
INSERT INTO ap_att_2 SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1000, 1999) g;
CREATE TABLE ap_att_3 (id int, k text, v int) PARTITION BY LIST (k);
CREATE TABLE ap_att_3a (id int, k text, v int);
INSERT INTO ap_att_3a SELECT g, 'a', g FROM generate_series(2000, 2999) g;
SELECT guarded_ddl.set_table_policy(t, large => true)
  FROM unnest(ARRAY['ap_att', 'ap_att_1', 'ap_att_2', 'ap_att_3', 'ap_att_3a']::regclass[]) t;
CALL guarded_ddl.apply($$
    ALTER TABLE ap_att ATTACH PARTITION ap_att_1 FOR VALUES FROM (MINVALUE) TO (1000);
    ALTER TABLE ap_att ATTACH PARTITION ap_att_3 FOR VALUES FROM (2000) TO (3000);
$$);
-- Into ap_att_3, itself a partition: its bound's constraint is part of the
-- CHECK.
CALL guarded_ddl.apply($$ALTER TABLE ap_att_3 ATTACH PARTITION ap_att_3a FOR VALUES IN ('a', 'c')$$);
SELECT c.oid::regclass AS partition, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_class c WHERE c.relispartition AND c.relname LIKE 'ap_att%' ORDER BY 1::text;
SELECT count(*) AS helpers_left FROM pg_constraint WHERE conname LIKE 'ap_att%partition_bound';
-- The same text again: each table is a partition of that parent with that
-- bound, which the catalogs prove: done already, nothing runs. Another
-- bound, or another parent: PostgreSQL's error (already a partition).
CALL guarded_ddl.apply($$
    ALTER TABLE ap_att ATTACH PARTITION ap_att_1 FOR VALUES FROM (MINVALUE) TO (1000);
    ALTER TABLE ap_att ATTACH PARTITION ap_att_3 FOR VALUES FROM (2000) TO (3000);
$$);
CALL guarded_ddl.apply($$ALTER TABLE ap_att_3 ATTACH PARTITION ap_att_3a FOR VALUES IN ('a', 'c')$$);
CALL guarded_ddl.apply($$ALTER TABLE ap_att_3 ATTACH PARTITION ap_att_3a FOR VALUES IN ('a')$$);
CALL guarded_ddl.apply('ALTER TABLE ap_att ATTACH PARTITION ap_att_1 FOR VALUES FROM (MINVALUE) TO (999)');
CALL guarded_ddl.apply('ALTER TABLE ap_att_3 ATTACH PARTITION ap_att_1 FOR VALUES IN (''a'')');
-- Interrupted after the ATTACH: the rerun only drops the helper (PostgreSQL
-- would refuse the statement itself: already a partition). The state is
-- made with the guard off.
SET guarded_ddl.mode = off;
ALTER TABLE ap_att_2 ADD CONSTRAINT ap_att_2_partition_bound CHECK (id >= 1000 AND id < 2000);
ALTER TABLE ap_att ATTACH PARTITION ap_att_2 FOR VALUES FROM (1000) TO (2000);
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('ALTER TABLE ap_att ATTACH PARTITION ap_att_2 FOR VALUES FROM (1000) TO (2000)');
SELECT count(*) AS helpers_left FROM pg_constraint WHERE conname LIKE 'ap_att%partition_bound';
-- A row outside the bound: VALIDATE fails with PostgreSQL's error, nothing
-- is attached; once the row is gone the rerun reuses the helper.
CREATE TABLE ap_att_4 (id int, k text, v int);
INSERT INTO ap_att_4 SELECT g, 'a', g FROM generate_series(3000, 3999) g;
INSERT INTO ap_att_4 VALUES (5000, 'a', 0);
SELECT guarded_ddl.set_table_policy('ap_att_4', large => true);
CALL guarded_ddl.apply('ALTER TABLE ap_att ATTACH PARTITION ap_att_4 FOR VALUES FROM (3000) TO (4000)');
SELECT relispartition FROM pg_class WHERE oid = 'ap_att_4'::regclass;
SET guarded_ddl.mode = off;
DELETE FROM ap_att_4 WHERE id = 5000;
RESET guarded_ddl.mode;
CALL guarded_ddl.apply('ALTER TABLE ap_att ATTACH PARTITION ap_att_4 FOR VALUES FROM (3000) TO (4000)');
SELECT relispartition FROM pg_class WHERE oid = 'ap_att_4'::regclass;
SELECT count(*) AS helpers_left FROM pg_constraint WHERE conname LIKE 'ap_att%partition_bound';
-- With a DEFAULT partition (scanned whatever the recipe does): GD001.
CREATE TABLE ap_att_def PARTITION OF ap_att DEFAULT;
CREATE TABLE ap_att_5 (id int, k text, v int);
INSERT INTO ap_att_5 SELECT g, 'a', g FROM generate_series(4000, 4999) g;
SELECT guarded_ddl.set_table_policy('ap_att_5', large => true);
CALL guarded_ddl.apply('ALTER TABLE ap_att ATTACH PARTITION ap_att_5 FOR VALUES FROM (4000) TO (5000)');
-- A bound with an expression: no recipe (it would call ap_seven() before
-- the ATTACH does): GD001.
CALL guarded_ddl.apply('ALTER TABLE ap_att ATTACH PARTITION ap_att_5 FOR VALUES FROM (4000) TO (ap_seven() * 1000 - 2000)');
SELECT count(*) AS rows FROM ap_att;

-- Audit: every step has its row, with the recipe's id and statement; the
-- README's review query.
SELECT guarded_ddl.flush();
SELECT recipe_statement, statement, verdict, status
  FROM guarded_ddl.ddl_history
 WHERE recipe_statement LIKE '%SET NOT NULL%'
   AND recipe_id = (SELECT min(recipe_id) FROM guarded_ddl.ddl_log
                     WHERE recipe_statement LIKE '%SET NOT NULL%')
 ORDER BY id;
-- The failed VALIDATE of the CHECK on id is there too, with its error.
SELECT statement, verdict, sqlstate, status
  FROM guarded_ddl.ddl_history WHERE recipe_statement LIKE '%ap_id_above_one%' ORDER BY id;
SELECT count(DISTINCT recipe_id) = count(DISTINCT (recipe_id, recipe_statement)) AS one_statement_per_recipe
  FROM guarded_ddl.ddl_log WHERE recipe_id IS NOT NULL;
SELECT count(*) AS ordinary_rows_with_recipe
  FROM guarded_ddl.ddl_log WHERE recipe_id IS NULL AND recipe_statement IS NOT NULL;

SET guarded_ddl.mode = off;
DROP MATERIALIZED VIEW ap_mv, ap_mv_empty;
DROP TABLE ap, ap_parent, ap_dom, ap_small, ap_before, ap_nopk, ap_rx, ap_parts, ap_parts_1, ap_att, ap_att_5;
DROP DOMAIN ap_pos;
DROP FUNCTION ap_seven();
DROP FUNCTION ap_call();
RESET guarded_ddl.mode;
DROP EXTENSION guarded_ddl;
