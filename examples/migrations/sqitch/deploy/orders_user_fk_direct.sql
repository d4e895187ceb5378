-- Deploy users_name_split:orders_user_fk_direct to pg
-- Validates every row of orders while holding SHARE ROW EXCLUSIVE on orders
-- and users: guarded_ddl stops it (rule add_foreign_key).

BEGIN;

ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id);

COMMIT;
