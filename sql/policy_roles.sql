-- Who may loosen the guard and how: settings only with GRANT SET ON
-- PARAMETER, the policy tables only through their functions, approvals only
-- with EXECUTE granted; DDL run for someone else (event trigger, SECURITY
-- DEFINER) is judged all the same. Plus expiry, bad input and what a
-- policy does when its table is renamed or dropped.
CREATE EXTENSION guarded_ddl;
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;
CREATE ROLE gd_app;
CREATE ROLE gd_owner_of_trigger;
GRANT USAGE ON SCHEMA guarded_ddl TO gd_app;
GRANT CREATE ON SCHEMA public TO gd_app;
CREATE TABLE orders (id int, legacy int, note text, extra int);
ALTER TABLE orders OWNER TO gd_app;

-- Settings: superuser-only, whichever way a role tries (42501).
SET ROLE gd_app;
SET guarded_ddl.mode = off;
\set VERBOSITY sqlstate
SET guarded_ddl.mode = warn;
SET guarded_ddl.rules = 'drop_column=off';
SET guarded_ddl.lock_timeout = 0;
SET guarded_ddl.lock_retries = 1;
SET guarded_ddl.large_table_size = -1;
SET guarded_ddl.large_table_rows = -1;
SET LOCAL guarded_ddl.mode = off;
RESET guarded_ddl.mode;
SELECT set_config('guarded_ddl.mode', 'off', false);
ALTER ROLE gd_app SET guarded_ddl.mode = off;
CREATE FUNCTION guard_off() RETURNS void LANGUAGE sql SET guarded_ddl.mode = off AS 'SELECT';
\set VERBOSITY default
SHOW guarded_ddl.mode;
ALTER TABLE orders DROP COLUMN legacy;
RESET ROLE;

-- GRANT SET ON PARAMETER lets a DBA delegate exactly one setting.
GRANT SET ON PARAMETER guarded_ddl.mode TO gd_app;
SET ROLE gd_app;
SET guarded_ddl.mode = warn;
ALTER TABLE orders RENAME COLUMN note TO remark;
\set VERBOSITY sqlstate
SET guarded_ddl.rules = 'drop_column=off';
SET guarded_ddl.lock_timeout = 0;
\set VERBOSITY default
RESET guarded_ddl.mode;
RESET ROLE;
REVOKE SET ON PARAMETER guarded_ddl.mode FROM gd_app;
SET ROLE gd_app;
\set VERBOSITY sqlstate
SET guarded_ddl.mode = warn;
\set VERBOSITY default
RESET ROLE;

-- The policy tables: nothing granted, not even through the views, and the
-- hook's own lookup function is not callable either.
SET ROLE gd_app;
\set VERBOSITY sqlstate
INSERT INTO guarded_ddl.approval (rule, relid, relation, reason, approved_by, expires_at, uses_allowed)
VALUES ('drop_column', 'orders'::regclass, 'orders', 'self', 'me', now() + interval '1 hour', 9);
UPDATE guarded_ddl.approval SET uses = 0;
DELETE FROM guarded_ddl.approval;
INSERT INTO guarded_ddl.table_policy_entry (relid, large, set_by) VALUES ('orders'::regclass, false, 'me');
UPDATE guarded_ddl.table_policy_entry SET large = false;
DELETE FROM guarded_ddl.table_policy_entry;
UPDATE guarded_ddl.approvals SET uses = 0;
DELETE FROM guarded_ddl.table_policy;
SELECT guarded_ddl.take_approval('drop_column', 'orders'::regclass, true);
SELECT guarded_ddl.approve('drop_column', 'orders', 'self-service');
SELECT guarded_ddl.revoke_approval(1);
SELECT guarded_ddl.set_table_policy('orders', large => false);
\set VERBOSITY default
ALTER TABLE orders DROP COLUMN legacy;
RESET ROLE;
SELECT count(*) FROM guarded_ddl.approval;
SELECT count(*) FROM guarded_ddl.table_policy_entry;

-- An approval grants no privilege: another role with an approval for the
-- table still cannot drop its column, takes no use, and the owner can.
CREATE ROLE gd_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO gd_other;
SELECT guarded_ddl.approve('drop_column', 'orders', 'contract step') AS approval_id \gset
SET ROLE gd_other;
ALTER TABLE orders DROP COLUMN legacy;
RESET ROLE;
SELECT uses, status FROM guarded_ddl.approvals WHERE id = :approval_id;
SET ROLE gd_app;
ALTER TABLE orders DROP COLUMN legacy;
RESET ROLE;
SELECT uses, status FROM guarded_ddl.approvals WHERE id = :approval_id;

-- One statement is one use, however many of its subcommands the rule covers.
SELECT guarded_ddl.approve('drop_column', 'orders', 'two columns at once') AS approval_id \gset
ALTER TABLE orders ADD COLUMN tmp1 int, ADD COLUMN tmp2 int;
ALTER TABLE orders DROP COLUMN tmp1, DROP COLUMN tmp2;
SELECT uses, uses_allowed, status FROM guarded_ddl.approvals WHERE id = :approval_id;

-- Expiry: an approval past its valid_for lets nothing through.
SELECT guarded_ddl.approve('drop_column', 'orders', 'brief', valid_for => '1 millisecond') AS approval_id \gset
SELECT pg_sleep(0.05);
ALTER TABLE orders DROP COLUMN extra;
SELECT uses, status FROM guarded_ddl.approvals WHERE id = :approval_id;

-- Unknown rule ids and relations that do not exist: clear errors, nothing recorded.
SELECT count(*) AS approvals_before FROM guarded_ddl.approval \gset
SELECT guarded_ddl.approve('no_such_rule', 'orders', 'typo');
SELECT guarded_ddl.approve('drop_column', 'public.no_such_table', 'missing');
SELECT guarded_ddl.approve('drop_column', 999999::oid::regclass, 'dangling oid');
SELECT guarded_ddl.set_table_policy('no_such_table', large => true);
SELECT guarded_ddl.set_table_policy(999999::oid::regclass, large => true);
SELECT guarded_ddl.set_table_policy('orders', rules => 'no_such_rule=warn');
SELECT guarded_ddl.set_table_policy('orders', rules => 'drop_column=sometimes');
SELECT guarded_ddl.revoke_approval(999999);
SELECT count(*) = :approvals_before AS nothing_recorded FROM guarded_ddl.approval;
SELECT count(*) AS policies FROM guarded_ddl.table_policy_entry;

-- Someone else's event trigger running DDL on a large table is guarded:
-- the trigger's DDL is blocked, and the statement that fired it with it.
CREATE TABLE side_effects (id int, scratch int);
ALTER TABLE side_effects OWNER TO gd_owner_of_trigger;
CREATE FUNCTION drop_scratch() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.side_effects'::regclass
                                            AND attname = 'scratch' AND NOT attisdropped) THEN
        ALTER TABLE public.side_effects DROP COLUMN scratch;
    END IF;
END $$;
ALTER FUNCTION drop_scratch() OWNER TO gd_owner_of_trigger;
CREATE EVENT TRIGGER drop_scratch_after_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION drop_scratch();
SET ROLE gd_app;
CREATE TABLE app_new (id int);
RESET ROLE;
SELECT to_regclass('app_new') AS app_new_created;
SELECT attname FROM pg_attribute WHERE attrelid = 'side_effects'::regclass AND attnum > 0
   AND NOT attisdropped ORDER BY attnum;
-- With an approval for that table, the trigger's DDL runs and uses it.
SELECT guarded_ddl.approve('drop_column', 'side_effects', 'trigger cleanup') AS approval_id \gset
SET ROLE gd_app;
CREATE TABLE app_new (id int);
RESET ROLE;
SELECT attname FROM pg_attribute WHERE attrelid = 'side_effects'::regclass AND attnum > 0
   AND NOT attisdropped ORDER BY attnum;
SELECT uses, status FROM guarded_ddl.approvals WHERE id = :approval_id;
DROP EVENT TRIGGER drop_scratch_after_ddl;
DROP FUNCTION drop_scratch();

-- A SECURITY DEFINER function owned by a superuser, called by gd_app, is
-- judged the same, and so is DDL after SET ROLE to the table's owner.
CREATE FUNCTION truncate_orders() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    TRUNCATE public.orders;
END $$;
GRANT EXECUTE ON FUNCTION truncate_orders() TO gd_app;
SET ROLE gd_app;
SELECT truncate_orders();
RESET ROLE;
SET ROLE gd_app;
TRUNCATE orders;
RESET ROLE;
DROP FUNCTION truncate_orders();

-- A table's policy follows it through a rename and a schema change, and goes
-- away with it (also when dropped with its schema).
SELECT guarded_ddl.set_table_policy('orders', large => false, rules => 'truncate=warn');
ALTER TABLE orders RENAME TO purchase_orders;
CREATE SCHEMA archive;
ALTER TABLE purchase_orders SET SCHEMA archive;
SELECT relation, large, rules FROM guarded_ddl.table_policy;
-- still in force under the new name: not large, so nothing fires
ALTER TABLE archive.purchase_orders RENAME COLUMN remark TO note;
DROP SCHEMA archive CASCADE;
SELECT count(*) AS policies FROM guarded_ddl.table_policy_entry;

-- Relations that ALTER TABLE DROP COLUMN takes along lose their policies
-- too: a view by CASCADE, the column's index always. The table keeps its own.
CREATE TABLE drop_cascade (id int PRIMARY KEY, a int, b int);
SELECT guarded_ddl.set_table_policy('drop_cascade', large => false);
CREATE VIEW drop_cascade_a AS SELECT a FROM drop_cascade;
CREATE INDEX drop_cascade_b ON drop_cascade (b);
SELECT guarded_ddl.set_table_policy('drop_cascade_a', large => false);
SELECT guarded_ddl.set_table_policy('drop_cascade_b', large => false);
ALTER TABLE drop_cascade DROP COLUMN a CASCADE;
ALTER TABLE drop_cascade DROP COLUMN b;
SELECT relation, large FROM guarded_ddl.table_policy ORDER BY relation::text;
-- DROP OWNED drops the role's tables, and their policies with them.
CREATE ROLE gd_owner_dropped;
CREATE TABLE owned_then_dropped (id int);
ALTER TABLE owned_then_dropped OWNER TO gd_owner_dropped;
SELECT guarded_ddl.set_table_policy('owned_then_dropped', large => false);
DROP OWNED BY gd_owner_dropped;
DROP ROLE gd_owner_dropped;
SELECT relation, large FROM guarded_ddl.table_policy ORDER BY relation::text;
DROP TABLE drop_cascade;
SELECT count(*) AS policies FROM guarded_ddl.table_policy_entry;

SET guarded_ddl.mode = off;
DROP TABLE side_effects;
RESET guarded_ddl.mode;
RESET guarded_ddl.large_table_size;
RESET guarded_ddl.large_table_rows;
DROP OWNED BY gd_app, gd_other, gd_owner_of_trigger;
DROP ROLE gd_app, gd_other, gd_owner_of_trigger;
DROP EXTENSION guarded_ddl;
