-- Revert users_name_split:users_name_expand from pg
-- Dropping columns of a large table is rule drop_column: it needs
-- SELECT guarded_ddl.approve('drop_column', 'users', '<why>') first.

BEGIN;

ALTER TABLE users DROP COLUMN full_name, DROP COLUMN display_name;

COMMIT;
