-- Deploy users_name_split:users_full_name_validate to pg
-- Its own change, so its own transaction: VALIDATE scans users under SHARE
-- UPDATE EXCLUSIVE, which lets reads and writes go on. In the transaction
-- that added the constraint it would scan under ACCESS EXCLUSIVE instead
-- (rule validate_under_strong_lock).

BEGIN;

ALTER TABLE users VALIDATE CONSTRAINT users_full_name_not_null;

COMMIT;
