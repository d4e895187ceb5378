\echo
\echo '=== guarded_ddl is loaded in this server'
SELECT guarded_ddl.version();
SHOW guarded_ddl.mode;
SHOW guarded_ddl.lock_timeout;

\echo
\echo '=== A migration meets a long transaction on users.'
\echo '    Instead of queueing (and stalling every reader of users behind it), the'
\echo '    guard tries in short bounded attempts and goes through once the blocker ends.'
\! psql -Xq -c "BEGIN; SELECT count(*) FROM users; SELECT pg_sleep(3); COMMIT;" >/dev/null &
SELECT pg_sleep(0.5);
SET client_min_messages = debug1;
ALTER TABLE users ADD COLUMN nickname text;
RESET client_min_messages;

\echo
\echo '=== The blocker does not go away in time: the migration fails cleanly'
\echo '    with SQLSTATE 55P03, naming who is in the way.'
\! psql -Xq -c "SET application_name = 'reporting-job'; BEGIN; SELECT count(*) FROM users; SELECT pg_sleep(4); COMMIT;" >/dev/null &
SELECT pg_sleep(0.5);
SET guarded_ddl.lock_budget = '2s';
\set VERBOSITY verbose
ALTER TABLE users ADD COLUMN nickname2 text;
\set VERBOSITY default
RESET guarded_ddl.lock_budget;
-- let the reporting job finish before the server goes away
SELECT pg_sleep(2.5);
