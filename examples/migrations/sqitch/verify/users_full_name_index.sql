-- Verify users_name_split:users_full_name_index on pg

SELECT 1/count(*) FROM pg_index WHERE indexrelid = 'users_full_name'::regclass AND indisvalid;
