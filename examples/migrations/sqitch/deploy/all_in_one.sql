-- Deploy users_name_split:all_in_one to pg
-- The obvious migration, in one transaction. guarded_ddl stops it at the
-- backfill (rule dml_under_strong_lock: it would rewrite every row of users
-- while the ALTER's ACCESS EXCLUSIVE lock stalls every reader; SET NOT NULL
-- after it would be stopped too, by set_not_null_scan); the transaction
-- rolls back, so nothing of it is applied.

BEGIN;

ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1);
ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
ALTER TABLE users DROP COLUMN name;

COMMIT;
