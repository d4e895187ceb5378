-- Revert users_name_split:all_in_one from pg

BEGIN;

ALTER TABLE users ADD COLUMN name text;
UPDATE users SET name = full_name;
ALTER TABLE users DROP COLUMN full_name, DROP COLUMN display_name;

COMMIT;
