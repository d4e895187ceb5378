-- Verify users_name_split:users_full_name_not_null on pg

SELECT 1/count(*) FROM pg_attribute
 WHERE attrelid = 'users'::regclass AND attname = 'full_name' AND attnotnull;
