-- Dangerous-form rules: for every rule, blocked on a large table, allowed on
-- a small one, the safe variant allowed on the large one; explain agrees.
-- guarded_ddl.large_table_size = 0 makes every table large; the defaults
-- (10MB, 100000 rows) make these empty tables small.
CREATE EXTENSION guarded_ddl;
\set VERBOSITY default
SET guarded_ddl.large_table_rows = -1;

CREATE TABLE t (id int NOT NULL, a int, v varchar(10), n numeric(10, 2), ts timestamp,
                code varchar(10));
CREATE TABLE parent_t (id int PRIMARY KEY);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);

-- Each rule once on a large table: the ERROR names rule, table and size.
SET guarded_ddl.large_table_size = 0;
ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp();
ALTER TABLE t ADD COLUMN c serial;
ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS IDENTITY;
ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED;
ALTER TABLE t ADD COLUMN c positive;
ALTER TABLE t ADD COLUMN c int NOT NULL;
ALTER TABLE t ALTER COLUMN a TYPE bigint;
ALTER TABLE t ALTER COLUMN n TYPE numeric(10, 1);
ALTER TABLE t ALTER COLUMN a SET NOT NULL;
ALTER TABLE t ADD CONSTRAINT a_positive CHECK (a > 0);
ALTER TABLE t ADD CONSTRAINT t_parent FOREIGN KEY (id) REFERENCES parent_t (id);
ALTER TABLE t ADD CONSTRAINT t_a_unique UNIQUE (a);
ALTER TABLE t ADD PRIMARY KEY (id);
ALTER TABLE t ADD CONSTRAINT t_excl EXCLUDE USING btree (a WITH =);
CREATE INDEX t_a ON t (a);
ALTER TABLE t DROP COLUMN a;
ALTER TABLE t RENAME COLUMN a TO b;
ALTER TABLE t RENAME TO t2;
CREATE SCHEMA elsewhere;
ALTER TABLE t SET SCHEMA elsewhere;
-- (An in-place tablespace, a developer option, needs no directory.)
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE rules_space LOCATION '';
ALTER TABLE t SET TABLESPACE rules_space;
ALTER TABLE t SET TABLESPACE pg_default;
ALTER TABLE t SET UNLOGGED;
ALTER TABLE t SET ACCESS METHOD heap;
TRUNCATE t;
VACUUM FULL t;
DROP TABLE t;

-- The safe variants pass on the large table.
ALTER TABLE t ADD COLUMN c1 int;
ALTER TABLE t ADD COLUMN c2 int DEFAULT 42;
ALTER TABLE t ADD COLUMN c3 timestamptz DEFAULT now();
ALTER TABLE t ADD COLUMN c4 int NOT NULL DEFAULT 0;
ALTER TABLE t ALTER COLUMN v TYPE varchar(20);
ALTER TABLE t ALTER COLUMN v TYPE text;
ALTER TABLE t ALTER COLUMN n TYPE numeric(12, 2);
ALTER TABLE t ADD CONSTRAINT a_positive CHECK (a > 0) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT a_positive;
ALTER TABLE t ADD CONSTRAINT t_parent FOREIGN KEY (id) REFERENCES parent_t (id) NOT VALID;
ALTER TABLE t ADD CONSTRAINT a_not_null CHECK (a IS NOT NULL) NOT VALID;
ALTER TABLE t ALTER COLUMN a SET NOT NULL; -- a NOT VALID check proves nothing
ALTER TABLE t VALIDATE CONSTRAINT a_not_null;
ALTER TABLE t ALTER COLUMN a SET NOT NULL; -- now proven: no scan
ALTER TABLE t DROP CONSTRAINT a_not_null;
CREATE UNIQUE INDEX CONCURRENTLY t_id_key ON t (id);
ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id_key;
CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v);
ALTER TABLE t ADD CONSTRAINT t_v_pkey PRIMARY KEY USING INDEX t_v_key; -- v is nullable
CREATE INDEX CONCURRENTLY t_a ON t (a);
DROP INDEX t_a;
DROP INDEX CONCURRENTLY t_a;
CREATE INDEX CONCURRENTLY t_a ON t (a);
REINDEX TABLE t;
REINDEX INDEX t_a;
REINDEX INDEX CONCURRENTLY t_a;
CLUSTER t USING t_a;
VACUUM t;

-- timestamp -> timestamptz rewrites unless the session TimeZone is UTC.
SET TimeZone = 'Europe/Paris';
ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;
SET TimeZone = 'UTC';
ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;
RESET TimeZone;

-- A column's valid CHECK constraints are revalidated even without a
-- rewrite; a NOT VALID one is added back NOT VALID, unscanned.
ALTER TABLE t ADD CONSTRAINT code_nonempty CHECK (length(code) > 0) NOT VALID;
ALTER TABLE t ALTER COLUMN code TYPE varchar(30);
SET guarded_ddl.mode = off;
ALTER TABLE t ADD CONSTRAINT code_short CHECK (length(code) < 100);
RESET guarded_ddl.mode;
ALTER TABLE t ALTER COLUMN code TYPE varchar(40);
SET guarded_ddl.mode = off;
ALTER TABLE t DROP CONSTRAINT code_short;
RESET guarded_ddl.mode;

-- VALIDATE is the safe step, unless the transaction holds ACCESS EXCLUSIVE.
BEGIN;
LOCK t IN ACCESS EXCLUSIVE MODE;
ALTER TABLE t VALIDATE CONSTRAINT code_nonempty;
ROLLBACK;

-- Partitions: attach scans unless a constraint implies the bound; DETACH
-- without CONCURRENTLY is blocked.
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 (id int, at date);
ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE events_2025 ADD CONSTRAINT in_2025
    CHECK (at IS NOT NULL AND at >= '2025-01-01' AND at < '2026-01-01') NOT VALID;
ALTER TABLE events_2025 VALIDATE CONSTRAINT in_2025;
ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE events DETACH PARTITION events_2025;
ALTER TABLE events DETACH PARTITION events_2025 CONCURRENTLY;
-- With a DEFAULT partition, that one is scanned whatever the new partition proves.
CREATE TABLE events_other PARTITION OF events DEFAULT;
ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

-- Materialized views and domains.
CREATE MATERIALIZED VIEW t_counts AS SELECT count(*) AS n FROM t;
REFRESH MATERIALIZED VIEW t_counts;
CREATE UNIQUE INDEX CONCURRENTLY t_counts_n ON t_counts (n);
REFRESH MATERIALIZED VIEW CONCURRENTLY t_counts;
ALTER TABLE t ADD COLUMN p positive DEFAULT NULL; -- a constrained domain: rewrite
SET guarded_ddl.rules = 'add_column_volatile_default=off';
ALTER TABLE t ADD COLUMN p positive;
RESET guarded_ddl.rules;
ALTER DOMAIN positive ADD CONSTRAINT below_million CHECK (VALUE < 1000000);
ALTER DOMAIN positive ADD CONSTRAINT below_million CHECK (VALUE < 1000000) NOT VALID;

-- The same statements on small tables all pass.
SET guarded_ddl.large_table_size = '10MB';
ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp();
ALTER TABLE t ALTER COLUMN a TYPE bigint;
ALTER TABLE t RENAME COLUMN c TO c_renamed;
CREATE INDEX t_a2 ON t (a);
ALTER TABLE t DROP COLUMN c_renamed;

-- warn mode: the same text as a WARNING, and the statement runs.
SET guarded_ddl.large_table_size = 0;
SET guarded_ddl.mode = warn;
ALTER TABLE t ADD COLUMN w int NOT NULL;
ALTER TABLE t ALTER COLUMN w TYPE bigint;
RESET guarded_ddl.mode;

-- Per-rule overrides: off, warn, and enforce even when the mode is warn.
SET guarded_ddl.rules = 'drop_column=off, rename_column=warn';
ALTER TABLE t RENAME COLUMN w TO w2;
ALTER TABLE t DROP COLUMN w2;
SET guarded_ddl.mode = warn;
SET guarded_ddl.rules = 'create_index=enforce';
CREATE INDEX t_a3 ON t (a);
RESET guarded_ddl.mode;
RESET guarded_ddl.rules;

-- Malformed guarded_ddl.rules values are refused and change nothing.
SET guarded_ddl.rules = 'drop_colum=warn';
SET guarded_ddl.rules = 'drop_column=block';
SET guarded_ddl.rules = 'drop_column';
SET guarded_ddl.rules = 'drop_column=warn, drop_column=off';
SHOW guarded_ddl.rules;

-- Tables created in this transaction and temporary tables are never large.
BEGIN;
CREATE TABLE fresh (id int);
ALTER TABLE fresh ADD COLUMN c timestamptz DEFAULT clock_timestamp();
ALTER TABLE fresh ALTER COLUMN id TYPE bigint;
COMMIT;
ALTER TABLE fresh ALTER COLUMN id TYPE int;
CREATE TEMP TABLE scratch (id int);
ALTER TABLE scratch ALTER COLUMN id TYPE bigint;

-- DDL inside a DO block and a function is guarded the same way.
DO $$ BEGIN ALTER TABLE t ALTER COLUMN id TYPE bigint; END $$;

-- The backstop: ALTER TYPE ... CASCADE rewrites a typed table the rules
-- attribute to the composite type; the backstop stops it when the rewrite
-- creates its new heap.
-- Here only the typed table counts as large: by its rows.
CREATE TYPE pair AS (x int, y int);
CREATE TABLE pairs OF pair;
INSERT INTO pairs SELECT i, i FROM generate_series(1, 5) AS i;
ANALYZE pairs;
SET guarded_ddl.large_table_size = -1;
SET guarded_ddl.large_table_rows = 5;
ALTER TYPE pair ALTER ATTRIBUTE x TYPE bigint CASCADE;
SET guarded_ddl.mode = warn;
ALTER TYPE pair ALTER ATTRIBUTE x TYPE bigint CASCADE;
RESET guarded_ddl.mode;
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;

-- A partitioned table is as large as its partitions together.
CREATE TABLE measurements (id int, at date, v int) PARTITION BY RANGE (at);
CREATE TABLE measurements_a PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
CREATE TABLE measurements_b PARTITION OF measurements FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');
INSERT INTO measurements SELECT i, date '2025-01-01' + i * 60, i FROM generate_series(0, 5) AS i;
ANALYZE measurements_a, measurements_b;
SET guarded_ddl.large_table_size = -1;
SET guarded_ddl.large_table_rows = 5;
ALTER TABLE measurements_a ALTER COLUMN v TYPE bigint;
ALTER TABLE measurements ALTER COLUMN v TYPE bigint;
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;

-- With the default thresholds a table of 110000 rows is large by its rows.
CREATE TABLE big AS SELECT i AS id FROM generate_series(1, 110000) AS i;
ANALYZE big;
RESET guarded_ddl.large_table_size;
RESET guarded_ddl.large_table_rows;
ALTER TABLE big ALTER COLUMN id TYPE bigint;
ALTER TABLE big ADD COLUMN note text;
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;

-- guarded_ddl.rules() lists every rule with its effective mode.
SELECT count(*) AS rules, count(DISTINCT id) AS distinct_ids FROM guarded_ddl.rules();
SET guarded_ddl.rules = 'drop_column=warn';
SELECT id, lock, effect, rollback, mode FROM guarded_ddl.rules() WHERE id IN ('drop_column', 'create_index') ORDER BY id;
RESET guarded_ddl.rules;
SELECT id, description FROM guarded_ddl.rules() ORDER BY id;

RESET guarded_ddl.large_table_size;
DROP TABLE t, parent_t, events, fresh, pairs, measurements, big CASCADE;
DROP TYPE pair;
DROP DOMAIN positive;
DROP SCHEMA elsewhere;
DROP TABLESPACE rules_space;
DROP EXTENSION guarded_ddl;
