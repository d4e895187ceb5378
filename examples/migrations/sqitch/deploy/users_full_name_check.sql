-- Deploy users_name_split:users_full_name_check to pg
-- NOT VALID: existing rows are not checked, so no scan under the lock; new
-- and updated rows are checked from now on.

BEGIN;

ALTER TABLE users ADD CONSTRAINT users_full_name_not_null
    CHECK (full_name IS NOT NULL) NOT VALID;

COMMIT;
