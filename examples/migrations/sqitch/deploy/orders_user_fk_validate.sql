-- Deploy users_name_split:orders_user_fk_validate to pg
-- Its own transaction: the scan of orders runs under SHARE UPDATE EXCLUSIVE
-- (and ROW SHARE on users), so the application keeps reading and writing.

BEGIN;

ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;

COMMIT;
