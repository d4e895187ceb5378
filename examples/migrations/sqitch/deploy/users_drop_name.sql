-- Deploy users_name_split:users_drop_name to pg
-- Only once no deployed version of the application reads users.name.
-- guarded_ddl blocks it (rule drop_column) until a DBA approves:
--   SELECT guarded_ddl.approve('drop_column', 'users', 'name unused since release 42');

BEGIN;

ALTER TABLE users DROP COLUMN name;

COMMIT;
