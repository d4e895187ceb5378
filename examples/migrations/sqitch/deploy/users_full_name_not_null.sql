-- Deploy users_name_split:users_full_name_not_null to pg
-- The validated check proves the column has no NULL, so SET NOT NULL skips
-- its scan (guarded_ddl allows it); the check is then redundant.

BEGIN;

ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_full_name_not_null;

COMMIT;
