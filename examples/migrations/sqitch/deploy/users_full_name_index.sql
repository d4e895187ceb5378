-- Deploy users_name_split:users_full_name_index to pg
-- No BEGIN/COMMIT: sqitch runs each script with psql as it is written, and
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block. If it
-- fails half-way it leaves an INVALID index behind; IF NOT EXISTS would then
-- keep it, so drop an invalid one first.

SELECT format('DROP INDEX CONCURRENTLY %I', indexrelid::regclass)
  FROM pg_index
 WHERE indexrelid = to_regclass('users_full_name') AND NOT indisvalid \gexec

CREATE INDEX CONCURRENTLY IF NOT EXISTS users_full_name ON users (full_name);
