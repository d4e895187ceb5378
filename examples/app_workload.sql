-- The application while the backfill runs, as a pgbench script: look a user
-- up, write to that user's row (the row lock is what the backfill's SKIP
-- LOCKED steps around) and record an order.
--   pgbench -n -c 4 -T 20 -D users=200000 -f examples/app_workload.sql
\set uid random(1, :users)
BEGIN;
SELECT name, full_name, display_name FROM users WHERE id = :uid;
UPDATE users SET email = email WHERE id = :uid;
INSERT INTO orders (user_id, total) VALUES (:uid, 9.99);
END;
