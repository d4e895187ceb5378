-- Deploy users_name_split:users_name_expand to pg
-- Nullable columns without a default: a catalog change, no rewrite. The
-- ACCESS EXCLUSIVE lock is taken by guarded_ddl in bounded attempts.

BEGIN;

ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;

COMMIT;
