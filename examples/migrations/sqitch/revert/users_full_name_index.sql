-- Revert users_name_split:users_full_name_index from pg
-- No transaction: DROP INDEX CONCURRENTLY cannot run in one.

DROP INDEX CONCURRENTLY IF EXISTS users_full_name;
