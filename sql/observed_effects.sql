-- explain() against what PostgreSQL then does: for each statement, the
-- effect explain() predicts, and the scan (pg_stat_user_tables.seq_scan)
-- or rewrite (a new relfilenode) observed when it runs. The tables are
-- small, so nothing is blocked.
CREATE EXTENSION guarded_ddl;
CREATE TABLE obs_parent (id int PRIMARY KEY);
INSERT INTO obs_parent SELECT g FROM generate_series(1, 100) g;
CREATE TABLE obs (id int, code varchar(10), note varchar(10));
INSERT INTO obs SELECT g, 'c', 'n' FROM generate_series(1, 100) g;
ALTER TABLE obs ADD CONSTRAINT code_valid CHECK (code <> '');
ALTER TABLE obs ADD CONSTRAINT note_unchecked CHECK (note <> '') NOT VALID;

-- Runs the statement, returns what explain() said of it beside what was
-- observed on obs: seq scans started and whether its file was replaced.
CREATE FUNCTION observe(stmt text,
    OUT effect text, OUT rule text, OUT seq_scans bigint, OUT rewritten boolean)
LANGUAGE plpgsql AS $$
DECLARE
    scans_before bigint;
    file_before oid;
BEGIN
    SELECT string_agg(DISTINCT e.effect, ',' ORDER BY e.effect),
           string_agg(DISTINCT e.rule, ',' ORDER BY e.rule)
      INTO effect, rule
      FROM guarded_ddl.explain(stmt) AS e WHERE e.relation = 'public.obs';
    PERFORM pg_stat_force_next_flush();
    scans_before := pg_stat_get_numscans('obs'::regclass) + pg_stat_get_xact_numscans('obs'::regclass);
    file_before := pg_relation_filenode('obs');
    EXECUTE stmt;
    seq_scans := pg_stat_get_numscans('obs'::regclass) + pg_stat_get_xact_numscans('obs'::regclass)
                 - scans_before;
    rewritten := pg_relation_filenode('obs') <> file_before;
END $$;

-- A CHECK written on a new column is verified by a scan.
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN c1 int CHECK (c1 > 0)');
-- A foreign key on a new column without a default: valid at once, no scan.
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN c2 int REFERENCES obs_parent');
-- With a default it is validated: a scan.
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN c3 int DEFAULT 1 REFERENCES obs_parent');
-- Each subcommand is transformed alone: another subcommand's foreign key
-- does not make this one's validated.
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN c4 int REFERENCES obs_parent, ADD FOREIGN KEY (id) REFERENCES obs_parent NOT VALID');
-- UNIQUE or PRIMARY KEY on a new column builds an index over every row.
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN c5 int UNIQUE');
-- A type change of a column with a valid CHECK re-checks it with a scan;
-- one whose CHECK is NOT VALID adds it back NOT VALID, unscanned.
SELECT * FROM observe('ALTER TABLE obs ALTER COLUMN code TYPE varchar(20)');
SELECT * FROM observe('ALTER TABLE obs ALTER COLUMN note TYPE varchar(20)');
-- Nothing to do, nothing done: SET LOGGED of a permanent table and SET
-- TABLESPACE to its own tablespace return early; SET UNLOGGED rewrites.
SELECT * FROM observe('ALTER TABLE obs SET LOGGED');
SELECT * FROM observe('ALTER TABLE obs SET TABLESPACE pg_default');
SELECT * FROM observe('ALTER TABLE obs SET UNLOGGED');
SELECT * FROM observe('ALTER TABLE obs SET UNLOGGED');
SELECT * FROM observe('ALTER TABLE obs SET LOGGED');
-- PostgreSQL 18: a generated column without STORED is VIRTUAL, computed
-- when read, so adding it rewrites nothing (expected/observed_effects_1.out);
-- before 18 STORED is required and every generated column is stored.
SELECT current_setting('server_version_num')::int >= 180000 AS pg18 \gset
\if :pg18
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN twice int GENERATED ALWAYS AS (id * 2)');
ALTER TABLE obs DROP COLUMN twice;
-- and a NOT ENFORCED constraint reads no row.
SELECT * FROM observe('ALTER TABLE obs ADD CONSTRAINT id_unenforced CHECK (id > 0) NOT ENFORCED');
\endif
SELECT * FROM observe('ALTER TABLE obs ADD COLUMN thrice int GENERATED ALWAYS AS (id * 3) STORED');
ALTER TABLE obs DROP COLUMN thrice;
-- A rewrite for comparison.
SELECT * FROM observe('ALTER TABLE obs ALTER COLUMN id TYPE bigint');

DROP TABLE obs, obs_parent;
DROP FUNCTION observe;
DROP EXTENSION guarded_ddl;
