-- Revert users_name_split:orders_user_fk_direct from pg

BEGIN;

ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;

COMMIT;
