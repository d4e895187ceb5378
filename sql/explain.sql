-- guarded_ddl.explain(): one row per action, without executing anything;
-- its verdicts agree with what execution does (see rules.sql).
CREATE EXTENSION guarded_ddl;
SET guarded_ddl.large_table_rows = -1;
SET guarded_ddl.large_table_size = 0;
CREATE TABLE users (id int PRIMARY KEY, name text, email text);
CREATE TABLE orders (id int, user_id int);

SELECT statement_no, command, relation, lock_mode, effect, rollback, rule, verdict, relation_size
  FROM guarded_ddl.explain($$
    SELECT 1;
    SET work_mem = '64MB';
    ALTER TABLE users ADD COLUMN full_name text, ADD COLUMN display_name text;
    ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
    ALTER TABLE users ALTER COLUMN name SET NOT NULL;
    ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);
    ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
    CREATE INDEX CONCURRENTLY users_email ON users (email);
    CREATE TABLE audit_note (id int);
    DROP TABLE orders;
  $$);

-- Nothing ran.
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0;
SELECT to_regclass('audit_note') AS audit_note;

-- The hint is the recipe, naming the statement's table and column.
SELECT hint FROM guarded_ddl.explain('ALTER TABLE users ALTER COLUMN name SET NOT NULL');

-- Verdicts follow the session's policy, like execution.
SET guarded_ddl.rules = 'set_not_null_scan=warn';
SELECT rule, verdict FROM guarded_ddl.explain('ALTER TABLE users ALTER COLUMN name SET NOT NULL');
SET guarded_ddl.mode = off;
SELECT rule, verdict FROM guarded_ddl.explain('ALTER TABLE users ALTER COLUMN name SET NOT NULL');
RESET guarded_ddl.mode;
RESET guarded_ddl.rules;
SET guarded_ddl.large_table_size = '10MB';
SELECT rule, verdict FROM guarded_ddl.explain('ALTER TABLE users ALTER COLUMN name SET NOT NULL');

-- Objects that do not exist: PostgreSQL's business at execution time.
SELECT statement_no, command, relation, effect, verdict FROM guarded_ddl.explain('ALTER TABLE nope ADD COLUMN x int');

-- Empty input, garbage, huge input. The errors cross the C++ boundary with
-- their SQLSTATE intact, and the session carries on.
SELECT count(*) FROM guarded_ddl.explain('');
\set VERBOSITY sqlstate
SELECT * FROM guarded_ddl.explain('ALTER TABLE users ADD COLUMN;');
SELECT * FROM guarded_ddl.explain(repeat('SELECT 1; ', 200000));
\set VERBOSITY default
SELECT * FROM guarded_ddl.explain('ALTER TABLE users ADD COLUMN;');
SELECT * FROM guarded_ddl.explain(repeat('SELECT 1; ', 200000));
SELECT 'still here' AS session;
SELECT * FROM guarded_ddl.explain(NULL);

DROP TABLE users, orders;
DROP EXTENSION guarded_ddl;
