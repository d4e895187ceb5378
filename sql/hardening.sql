-- Hardening from the security review: a dropped table's approvals can never
-- be used again (its OID may come back on another table), explain() tells a
-- role nothing about the size, policy or approvals of tables it cannot see,
-- and passwords in connection strings stay out of the audit log.
CREATE EXTENSION guarded_ddl;
-- Only tables with a policy saying so are large.
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = -1;

-- 1. Approvals end with their table -----------------------------------------

CREATE TABLE appr_t (id int, a int, b int);
SELECT 'appr_t'::regclass::oid AS t_oid \gset
SELECT guarded_ddl.approve('drop_column', 'appr_t', 'contract step', uses => 2) AS t_approval \gset
SELECT guarded_ddl.take_approval('drop_column', :t_oid, false) = :t_approval AS usable_before_drop;
DROP TABLE appr_t;
-- Neither looking nor taking finds it by the old OID.
SELECT guarded_ddl.take_approval('drop_column', :t_oid, false) AS look,
       guarded_ddl.take_approval('drop_column', :t_oid, true) AS take;
-- Kept for the audit trail, without a relation (the OID names nothing, or
-- something else, now).
SELECT relation, relation_when_approved, uses, status, dropped_at IS NOT NULL AS dropped
  FROM guarded_ddl.approvals WHERE id = :t_approval;
-- A new table that got the old OID inherits nothing: simulated by pointing
-- the row at a new table, since OID reuse cannot be forced.
CREATE TABLE appr_new (id int, a int);
SELECT guarded_ddl.set_table_policy('appr_new', large => true);
UPDATE guarded_ddl.approval SET relid = 'appr_new'::regclass WHERE id = :t_approval;
\set VERBOSITY sqlstate
ALTER TABLE appr_new DROP COLUMN a;
\set VERBOSITY default
SELECT guarded_ddl.set_table_policy('appr_new');
DROP TABLE appr_new;

-- The DROP TABLE an approval let through uses it, then ends it.
CREATE TABLE appr_dropped (id int);
SELECT guarded_ddl.set_table_policy('appr_dropped', large => true);
SELECT guarded_ddl.approve('drop_table', 'appr_dropped', 'retired') AS d_approval \gset
DROP TABLE appr_dropped;
SELECT relation, relation_when_approved, uses, status, dropped_at IS NOT NULL AS dropped
  FROM guarded_ddl.approvals WHERE id = :d_approval;

-- DROP SCHEMA ... CASCADE and DROP OWNED end the approvals of what they drop
-- (tables, and indexes), and nothing else.
CREATE SCHEMA appr_schema;
CREATE TABLE appr_schema.t (id int, a int);
CREATE INDEX appr_schema_t_a ON appr_schema.t (a);
CREATE TABLE appr_kept (id int, a int);
SELECT guarded_ddl.approve('drop_column', 'appr_schema.t', 'schema goes') AS s_approval \gset
SELECT guarded_ddl.approve('drop_index', 'appr_schema.appr_schema_t_a', 'schema goes') AS i_approval \gset
SELECT guarded_ddl.approve('drop_column', 'appr_kept', 'stays') AS k_approval \gset
CREATE ROLE gd_appr_owner;
CREATE TABLE appr_owned (id int, a int);
ALTER TABLE appr_owned OWNER TO gd_appr_owner;
SELECT guarded_ddl.approve('drop_column', 'appr_owned', 'owner goes') AS o_approval \gset
DROP SCHEMA appr_schema CASCADE;
DROP OWNED BY gd_appr_owner;
DROP ROLE gd_appr_owner;
SELECT id = :s_approval AS schema_table, id = :i_approval AS schema_index,
       id = :o_approval AS owned, relation, status
  FROM guarded_ddl.approvals WHERE id IN (:s_approval, :i_approval, :o_approval, :k_approval)
 ORDER BY id;
DROP TABLE appr_kept;

-- Temporary tables: no rule fires on them, and their drop at session end
-- passes no statement, so neither approvals nor policies are taken for them.
CREATE TEMP TABLE appr_temp (id int);
SELECT guarded_ddl.approve('drop_table', 'appr_temp', 'scratch');
SELECT guarded_ddl.set_table_policy('appr_temp', large => true);
DROP TABLE appr_temp;
-- Nor for TOAST relations, which go with their table.
CREATE TABLE appr_toasted (id int, v text);
SELECT reltoastrelid AS toast_oid FROM pg_class WHERE oid = 'appr_toasted'::regclass \gset
\set VERBOSITY sqlstate
SELECT guarded_ddl.approve('drop_table', :toast_oid, 'toast');
SELECT guarded_ddl.set_table_policy(:toast_oid, large => true);
\set VERBOSITY default
DROP TABLE appr_toasted;

-- The drop is noted by the hook as the statement runs, and the approvals and
-- policies end in the statement's own transaction: a DROP rolled back (with
-- its transaction, or to a savepoint) leaves them in force, one committed
-- ends them, whether a function, a DO block or a statement did it.
CREATE TABLE appr_rb (id int);
SELECT guarded_ddl.set_table_policy('appr_rb', large => false);
SELECT guarded_ddl.approve('drop_column', 'appr_rb', 'kept') AS rb_approval \gset
BEGIN;
DROP TABLE appr_rb;
ROLLBACK;
BEGIN;
SAVEPOINT s;
DROP TABLE appr_rb;
ROLLBACK TO SAVEPOINT s;
-- a later statement of the same transaction ends nothing either
CREATE TABLE appr_rb_other (id int);
DROP TABLE appr_rb_other;
COMMIT;
-- a DROP that fails after it dropped (a DO block raising) ends nothing
DO $$ BEGIN DROP TABLE appr_rb; RAISE EXCEPTION 'changed my mind'; END $$;
-- nor one whose exception block rolls it back
DO $$ BEGIN
    BEGIN DROP TABLE appr_rb; RAISE EXCEPTION 'undo'; EXCEPTION WHEN raise_exception THEN NULL; END;
END $$;
SELECT relation, large FROM guarded_ddl.table_policy WHERE relation = 'appr_rb'::regclass;
SELECT status FROM guarded_ddl.approvals WHERE id = :rb_approval;
-- Dropped by a function, in a transaction that commits: ended.
CREATE FUNCTION drop_appr_rb() RETURNS void LANGUAGE plpgsql AS $$
BEGIN EXECUTE 'DROP TABLE appr_rb'; END $$;
BEGIN;
SELECT drop_appr_rb();
SELECT count(*) AS policies_in_transaction FROM guarded_ddl.table_policy_entry
 WHERE relid = (SELECT relid FROM guarded_ddl.approval WHERE id = :rb_approval);
COMMIT;
SELECT relation, relation_when_approved, status FROM guarded_ddl.approvals WHERE id = :rb_approval;
SELECT count(*) AS policies FROM guarded_ddl.table_policy_entry
 WHERE relid = (SELECT relid FROM guarded_ddl.approval WHERE id = :rb_approval);
DROP FUNCTION drop_appr_rb();
-- DROP SCHEMA ... CASCADE in a transaction rolled back keeps them, then
-- committed ends them.
CREATE SCHEMA appr_rb_schema;
CREATE TABLE appr_rb_schema.t (id int);
SELECT guarded_ddl.set_table_policy('appr_rb_schema.t', large => true);
SELECT guarded_ddl.approve('drop_table', 'appr_rb_schema.t', 'schema') AS rbs_approval \gset
BEGIN;
DROP SCHEMA appr_rb_schema CASCADE;
ROLLBACK;
SELECT relation, large FROM guarded_ddl.table_policy WHERE relation = 'appr_rb_schema.t'::regclass;
SELECT status FROM guarded_ddl.approvals WHERE id = :rbs_approval;
DROP SCHEMA appr_rb_schema CASCADE;
SELECT status FROM guarded_ddl.approvals WHERE id = :rbs_approval;
SELECT count(*) AS policies FROM guarded_ddl.table_policy_entry
 WHERE relid = (SELECT relid FROM guarded_ddl.approval WHERE id = :rbs_approval);
-- DROP INDEX CONCURRENTLY drops in a transaction of its own: the index's
-- approvals still end, when the statement does.
CREATE TABLE appr_conc (id int);
CREATE INDEX appr_conc_id ON appr_conc (id);
SELECT guarded_ddl.approve('drop_index', 'appr_conc_id', 'concurrently') AS c_approval \gset
DROP INDEX CONCURRENTLY appr_conc_id;
SELECT relation_when_approved, status FROM guarded_ddl.approvals WHERE id = :c_approval;
DROP TABLE appr_conc;
-- PostgreSQL tracks no dropped objects for the guard: it has no event trigger.
SELECT count(*) AS event_triggers FROM pg_event_trigger;

-- 2. explain() and tables the caller cannot see ------------------------------

CREATE ROLE gd_seer;
CREATE ROLE gd_stranger;
GRANT USAGE ON SCHEMA guarded_ddl TO gd_seer, gd_stranger;
GRANT CREATE ON SCHEMA public TO gd_stranger;
SET ROLE gd_stranger;
CREATE DOMAIN stranger_int AS int;
RESET ROLE;
CREATE TABLE secret_t (id int PRIMARY KEY, a int, b int, d stranger_int);
INSERT INTO secret_t SELECT g, g, g, g FROM generate_series(1, 1000) AS g;
ANALYZE secret_t;
SELECT guarded_ddl.set_table_policy('secret_t', large => true, rules => 'truncate=warn');
SELECT guarded_ddl.approve('drop_column', 'secret_t', 'contract step') AS x_approval \gset
GRANT SELECT ON secret_t TO gd_seer;
\set explained 'ALTER TABLE secret_t DROP COLUMN a; TRUNCATE secret_t; ALTER TABLE secret_t RENAME COLUMN b TO c; CREATE TABLE fresh (id int)'

-- The owner (here the superuser) sees the verdicts, which follow from the
-- policy (large, truncate=warn) and the approval (drop_column), the size
-- and the recipe.
SELECT statement_no, relation, effect, rule, verdict, relation_size > 0 AS sized,
       hint IS NOT NULL AS has_hint
  FROM guarded_ddl.explain(:'explained');
-- A role that may not run these statements (it may only read the table)
-- gets what running them would give it: PostgreSQL's refusal, so no rule.
SET ROLE gd_seer;
SELECT statement_no, relation, effect, rule, verdict, relation_size, hint
  FROM guarded_ddl.explain(:'explained');
RESET ROLE;
-- The owner of a domain may constrain it, and that scans every table using
-- it, whoever owns them: the role learns what the statement would do to a
-- table it has no privilege on, but nothing that depends on the table's
-- size, policy or approvals.
SET ROLE gd_stranger;
SELECT statement_no, relation, lock_mode, effect, rule, verdict, relation_size, hint
  FROM guarded_ddl.explain('ALTER DOMAIN stranger_int ADD CONSTRAINT positive CHECK (VALUE > 0)');
RESET ROLE;
-- Nothing was used or changed by any of them.
SELECT uses, status FROM guarded_ddl.approvals WHERE id = :x_approval;
SELECT guarded_ddl.set_table_policy('secret_t');
DROP TABLE secret_t;
DROP DOMAIN stranger_int;
REVOKE CREATE ON SCHEMA public FROM gd_stranger;
DROP OWNED BY gd_seer, gd_stranger;
DROP ROLE gd_seer, gd_stranger;

-- 3. Passwords in connection strings and options never reach the log --------

SELECT guarded_ddl.flush();
SELECT coalesce(max(id), 0) AS log_start FROM guarded_ddl.ddl_log \gset
CREATE SUBSCRIPTION gd_sub
    CONNECTION 'host=localhost dbname=gd_nowhere user=rep password=hunter2'
    PUBLICATION gd_pub WITH (connect = false);
ALTER SUBSCRIPTION gd_sub CONNECTION 'password = ''hunter 3'' host=localhost dbname=gd_nowhere';
ALTER SUBSCRIPTION gd_sub CONNECTION 'postgresql://rep:hunter4@localhost/gd_nowhere?sslmode=disable';
ALTER SUBSCRIPTION gd_sub CONNECTION 'postgresql://rep@localhost/gd_nowhere?password=hunter5';
ALTER SUBSCRIPTION gd_sub SET (slot_name = NONE);
DROP SUBSCRIPTION gd_sub;
CREATE FOREIGN DATA WRAPPER gd_fdw;
CREATE SERVER gd_srv FOREIGN DATA WRAPPER gd_fdw OPTIONS (host 'localhost', password 'hunter6');
CREATE USER MAPPING FOR CURRENT_USER SERVER gd_srv OPTIONS (user 'rep', "password" 'hunter7');
ALTER USER MAPPING FOR CURRENT_USER SERVER gd_srv OPTIONS (SET password 'hunter8');
DROP FOREIGN DATA WRAPPER gd_fdw CASCADE;
SELECT guarded_ddl.flush();
SELECT command, statement FROM guarded_ddl.ddl_log WHERE id > :log_start ORDER BY id;
SELECT count(*) AS passwords_logged FROM guarded_ddl.ddl_log
 WHERE id > :log_start AND statement LIKE '%hunter%';

RESET guarded_ddl.large_table_size;
RESET guarded_ddl.large_table_rows;
DROP EXTENSION guarded_ddl;
