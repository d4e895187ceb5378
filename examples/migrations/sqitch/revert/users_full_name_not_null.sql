-- Revert users_name_split:users_full_name_not_null from pg

BEGIN;

ALTER TABLE users ADD CONSTRAINT users_full_name_not_null
    CHECK (full_name IS NOT NULL) NOT VALID;
ALTER TABLE users ALTER COLUMN full_name DROP NOT NULL;

COMMIT;
