-- Verify users_name_split:users_drop_name on pg

SELECT 1/(1 - count(*)) FROM pg_attribute
 WHERE attrelid = 'users'::regclass AND attname = 'name' AND NOT attisdropped;
