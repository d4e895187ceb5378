-- Deploy users_name_split:users_full_name_index to pg
-- No BEGIN/COMMIT: sqitch runs each script with psql as it is written, and
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block. A build
-- that fails half-way leaves an INVALID index, which IF NOT EXISTS would
-- keep: the verify script then fails, and sqitch's revert drops it, so the
-- next deploy builds it afresh.

CREATE INDEX CONCURRENTLY IF NOT EXISTS users_full_name ON users (full_name);
