-- guarded_ddl.mode: validated, superuser-only, reserved prefix.
SHOW guarded_ddl.mode;
SET guarded_ddl.mode = 'warn';
SHOW guarded_ddl.mode;
SET guarded_ddl.mode = 'off';
SHOW guarded_ddl.mode;
RESET guarded_ddl.mode;
SHOW guarded_ddl.mode;

-- Bad values are rejected and change nothing.
SET guarded_ddl.mode = 'block';
SET guarded_ddl.mode = '';
SHOW guarded_ddl.mode;

-- Typos of guarded_ddl.* names are errors, not silent placeholders.
SET guarded_ddl.mdoe = 'off';
SHOW guarded_ddl.mode;

-- Ordinary roles cannot switch the guard off, or even weaken it.
CREATE ROLE gd_guc_user;
SET ROLE gd_guc_user;
SET guarded_ddl.mode = 'off';
SET guarded_ddl.mode = 'warn';
SHOW guarded_ddl.mode;
RESET ROLE;

-- Unless a DBA grants it, narrowly.
GRANT SET ON PARAMETER guarded_ddl.mode TO gd_guc_user;
SET ROLE gd_guc_user;
SET guarded_ddl.mode = 'warn';
SHOW guarded_ddl.mode;
RESET guarded_ddl.mode;
RESET ROLE;
REVOKE SET ON PARAMETER guarded_ddl.mode FROM gd_guc_user;
DROP ROLE gd_guc_user;

-- The hook sees DDL, including DDL issued from a DO block, and stays out of
-- the way of everything else.
SET client_min_messages = debug1;
CREATE TABLE guc_probe (id int);
DO $$ BEGIN EXECUTE 'ALTER TABLE guc_probe ADD COLUMN note int'; END $$;
SELECT count(*) FROM guc_probe;
SET guarded_ddl.mode = 'off';
DROP TABLE guc_probe;
RESET client_min_messages;
RESET guarded_ddl.mode;
