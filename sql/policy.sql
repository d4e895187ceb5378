-- DBA policy: approvals for one rule on one table, per-table policy, and a
-- guard no ordinary role can switch off or edit.
CREATE EXTENSION guarded_ddl;
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;
CREATE TABLE accounts (id int PRIMARY KEY, legacy_code text, note text);
CREATE TABLE small_hot (id int);

-- An approval lets the blocked statement run once, then it is used up.
ALTER TABLE accounts DROP COLUMN legacy_code;
SELECT guarded_ddl.approve('drop_column', 'accounts', 'contract release 42: legacy_code unused since 41');
ALTER TABLE accounts DROP COLUMN legacy_code;
ALTER TABLE accounts DROP COLUMN note;
SELECT id, rule, relation, uses, uses_allowed, status FROM guarded_ddl.approvals ORDER BY id;

-- It covers one rule on one table only.
SELECT guarded_ddl.approve('drop_column', 'small_hot', 'other table', uses => 3);
ALTER TABLE accounts DROP COLUMN note;
ALTER TABLE accounts RENAME COLUMN note TO remark;

-- A statement rolled back after the approval let it past the rule does
-- not use the approval up.
SELECT guarded_ddl.approve('drop_column', 'accounts', 'retry-safe');
BEGIN;
ALTER TABLE accounts DROP COLUMN note;
ROLLBACK;
SELECT id, uses, status FROM guarded_ddl.approvals WHERE id = 3;

-- Expired and revoked approvals no longer match.
UPDATE guarded_ddl.approval SET expires_at = now() - interval '1 second' WHERE id = 3;
ALTER TABLE accounts DROP COLUMN note;
SELECT guarded_ddl.approve('drop_column', 'accounts', 'second try');
SELECT guarded_ddl.revoke_approval(4);
ALTER TABLE accounts DROP COLUMN note;
SELECT guarded_ddl.revoke_approval(4);
SELECT id, status FROM guarded_ddl.approvals ORDER BY id;

-- explain() sees an active approval but does not use it.
SELECT guarded_ddl.approve('drop_column', 'accounts', 'explain check');
SELECT rule, verdict FROM guarded_ddl.explain('ALTER TABLE accounts DROP COLUMN note');
SELECT uses FROM guarded_ddl.approvals WHERE id = 5;
SELECT guarded_ddl.revoke_approval(5);

-- Bad input changes nothing.
SELECT guarded_ddl.approve('drop_colum', 'accounts', 'typo');
SELECT guarded_ddl.approve('drop_column', 'no_such_table', 'missing');
SELECT guarded_ddl.approve('drop_column', 'accounts', '   ');
SELECT guarded_ddl.approve('drop_column', 'accounts', 'too long', valid_for => '1 year');
SELECT guarded_ddl.approve('drop_column', 'accounts', 'no uses', uses => 0);
SELECT guarded_ddl.approve(NULL, 'accounts', 'null rule');
SELECT count(*) FROM guarded_ddl.approval;

-- Per-table policy: a small hot table marked large, a large cold one not.
SET guarded_ddl.large_table_size = '10MB';
CREATE INDEX small_hot_id ON small_hot (id);
SELECT guarded_ddl.set_table_policy('small_hot', large => true);
CREATE INDEX small_hot_id2 ON small_hot (id);
SET guarded_ddl.large_table_size = 0;
SELECT guarded_ddl.set_table_policy('accounts', large => false);
ALTER TABLE accounts ALTER COLUMN id TYPE bigint;
-- ... and rule modes for one table, which beat the session's.
SELECT guarded_ddl.set_table_policy('accounts', rules => 'rename_column=warn');
ALTER TABLE accounts RENAME COLUMN note TO remark;
SET guarded_ddl.rules = 'rename_column=off';
ALTER TABLE accounts RENAME COLUMN remark TO note;
RESET guarded_ddl.rules;
SELECT guarded_ddl.set_table_policy('accounts', rules => 'rename_colum=warn');
SELECT relation, large, rules FROM guarded_ddl.table_policy ORDER BY relation::text;

-- Policies follow renames and disappear with the table.
SELECT guarded_ddl.set_table_policy('small_hot', large => false);
ALTER TABLE small_hot RENAME TO small_warm;
SELECT relation, large FROM guarded_ddl.table_policy ORDER BY relation::text;
DROP TABLE small_warm;
SELECT relation, large FROM guarded_ddl.table_policy ORDER BY relation::text;
SELECT guarded_ddl.set_table_policy('accounts');
SELECT count(*) FROM guarded_ddl.table_policy;

-- Ordinary roles: no approving, no editing the tables, no switching off.
CREATE ROLE gd_migrator;
CREATE ROLE gd_dba_helper;
GRANT USAGE ON SCHEMA guarded_ddl TO gd_migrator, gd_dba_helper;
ALTER TABLE accounts OWNER TO gd_migrator;
SET ROLE gd_migrator;
SELECT guarded_ddl.approve('drop_column', 'accounts', 'self-service');
INSERT INTO guarded_ddl.approval (rule, relid, relation, reason, approved_by, expires_at, uses_allowed)
VALUES ('drop_column', 'accounts'::regclass, 'accounts', 'sneaky', 'me', now() + interval '1 hour', 1);
UPDATE guarded_ddl.approval SET uses = 0;
SELECT guarded_ddl.set_table_policy('accounts', large => false);
SET guarded_ddl.mode = off;
SET guarded_ddl.rules = 'drop_column=off';
ALTER TABLE accounts DROP COLUMN note;
RESET ROLE;

-- A DBA may delegate approving, and only approving.
GRANT EXECUTE ON FUNCTION guarded_ddl.approve(text, regclass, text, interval, integer) TO gd_dba_helper;
SET ROLE gd_dba_helper;
SELECT guarded_ddl.approve('drop_column', 'accounts', 'delegated');
-- An approval grants no privilege: the helper does not own the table.
ALTER TABLE accounts DROP COLUMN note;
RESET ROLE;
SET ROLE gd_migrator;
ALTER TABLE accounts DROP COLUMN note;
RESET ROLE;
SELECT id, approved_by, uses, status FROM guarded_ddl.approvals WHERE id = 6;
SELECT count(*) AS active FROM guarded_ddl.approvals WHERE status = 'active';

-- SECURITY DEFINER functions and SET ROLE do not evade the guard.
CREATE FUNCTION drop_it() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    ALTER TABLE accounts DROP COLUMN id;
END $$;
GRANT EXECUTE ON FUNCTION drop_it() TO gd_migrator;
SET ROLE gd_migrator;
SELECT drop_it();
RESET ROLE;

-- The C++ boundary: a logic-zone error arrives with SQLSTATE, DETAIL, HINT.
\set VERBOSITY sqlstate
SELECT guarded_ddl.check_rules('drop_column=maybe');
\set VERBOSITY default
SELECT guarded_ddl.check_rules('drop_column=maybe');
SELECT guarded_ddl.check_rules('drop_column=warn, truncate=off');

DROP FUNCTION drop_it();
RESET guarded_ddl.large_table_size;
DROP TABLE accounts;
DROP OWNED BY gd_migrator, gd_dba_helper;
DROP ROLE gd_migrator, gd_dba_helper;
DROP EXTENSION guarded_ddl;
