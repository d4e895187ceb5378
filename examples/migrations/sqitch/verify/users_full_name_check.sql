-- Verify users_name_split:users_full_name_check on pg

SELECT 1/count(*) FROM pg_constraint
 WHERE conname = 'users_full_name_not_null' AND conrelid = 'users'::regclass;
