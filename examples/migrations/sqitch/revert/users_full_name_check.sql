-- Revert users_name_split:users_full_name_check from pg

BEGIN;

ALTER TABLE users DROP CONSTRAINT users_full_name_not_null;

COMMIT;
