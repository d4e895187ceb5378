-- Revert users_name_split:users_drop_name from pg
-- Brings the column back empty; refill it from full_name with a batched
-- backfill like examples/backfill.sh, not one UPDATE.

BEGIN;

ALTER TABLE users ADD COLUMN name text;

COMMIT;
