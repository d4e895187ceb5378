-- Verify users_name_split:orders_user_fk_validate on pg

SELECT 1/count(*) FROM pg_constraint
 WHERE conname = 'orders_user_id_fkey' AND conrelid = 'orders'::regclass AND convalidated;
