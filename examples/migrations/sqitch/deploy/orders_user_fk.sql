-- Deploy users_name_split:orders_user_fk to pg
-- NOT VALID: new rows are checked from now on, existing ones are not read
-- while the lock is held.

BEGIN;

ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;

COMMIT;
