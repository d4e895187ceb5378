-- Size profile: production's table sizes, imported on a small server, make
-- the guard judge its tables as production's (issue 12).
CREATE EXTENSION guarded_ddl;
\set SHOW_CONTEXT never
CREATE SCHEMA app;
CREATE TABLE app.users (id int PRIMARY KEY, name text);
CREATE TABLE app."Events" (id int, at timestamptz) PARTITION BY RANGE (id);
CREATE TABLE app.events_1 PARTITION OF app."Events" FOR VALUES FROM (0) TO (1000);
CREATE MATERIALIZED VIEW app.user_names AS SELECT name FROM app.users;
CREATE TABLE small_hot (id int);
INSERT INTO small_hot SELECT generate_series(1, 100);
ANALYZE small_hot;
CREATE VIEW app.not_a_table AS SELECT 1 AS one;

-- Export: every table, partitioned table and materialized view with the
-- guard's own figures (partitions summed into their parent; rows null when
-- never analyzed), but PostgreSQL's and guarded_ddl's own.
SELECT guarded_ddl.export_size_profile() AS profile \gset
SELECT :'profile'::jsonb->'version' AS version,
       :'profile'::jsonb->>'server_version' = current_setting('server_version') AS server_version,
       (:'profile'::jsonb->>'exported_at')::timestamptz <= now() AS exported_at;
SELECT e->>'name' AS name, c.relkind,
       (e->>'bytes')::bigint = CASE WHEN c.relkind = 'p'
           THEN (SELECT sum(pg_total_relation_size(p.relid)) FROM pg_partition_tree(c.oid) AS p)
           ELSE pg_total_relation_size(c.oid) END AS bytes_as_guard,
       e->'rows' AS rows
  FROM jsonb_array_elements(:'profile'::jsonb->'tables') AS e
  JOIN pg_class AS c ON c.oid = (e->>'name')::regclass
 WHERE e->>'name' LIKE 'app.%' OR e->>'name' = 'public.small_hot'
 ORDER BY 1;

-- Nothing here is large at the default thresholds (10 MB, 100000 rows).
SELECT relation, rule, verdict, relation_size FROM guarded_ddl.explain($$
    ALTER TABLE app.users ADD COLUMN token uuid DEFAULT gen_random_uuid();
    CREATE INDEX ON app."Events" (at);
    ALTER TABLE small_hot ALTER COLUMN id TYPE bigint$$);

-- Import production's profile: returns how many of its tables exist here;
-- the others are counted in the NOTICE, not an error.
SELECT guarded_ddl.import_size_profile($${"version": 1, "server_version": "15.6",
    "exported_at": "2024-05-01T12:00:00+00:00", "tables": [
    {"name": "app.users", "bytes": 54525952, "rows": 25000000},
    {"name": "app.\"Events\"", "bytes": 2147483648, "rows": null},
    {"name": "app.events_1", "bytes": 1073741824},
    {"name": "app.orders", "bytes": 1073741824, "rows": 500000},
    {"name": "public.small_hot", "bytes": 0, "rows": 0},
    {"name": "public.gone", "bytes": 1, "rows": 1}]}$$);
SELECT schema_name, table_name, bytes, rows, exported_at, imported_by = current_user AS by_me,
       relation
  FROM guarded_ddl.size_profile ORDER BY 1, 2;

-- The guard now judges by the larger figure, and says where it came from.
ALTER TABLE app.users ADD COLUMN token uuid DEFAULT gen_random_uuid();
CREATE INDEX ON app."Events" (at);
-- A live figure larger than the profile's is used as it is (no marker).
SET guarded_ddl.large_table_size = 0;
ALTER TABLE small_hot ALTER COLUMN id TYPE bigint;
RESET guarded_ddl.large_table_size;
-- explain() shows the figure the verdict was based on.
SELECT relation, rule, verdict, relation_size FROM guarded_ddl.explain($$
    ALTER TABLE app.users ADD COLUMN token uuid DEFAULT gen_random_uuid();
    CREATE INDEX ON app."Events" (at);
    ALTER TABLE small_hot ALTER COLUMN id TYPE bigint;
    REFRESH MATERIALIZED VIEW app.user_names$$);

-- A table the migrations create after the import matches by name: new in
-- its own transaction it is not large (as in production), later it is.
BEGIN;
CREATE TABLE app.orders (id int, user_id int);
ALTER TABLE app.orders ADD CHECK (user_id > 0);
COMMIT;
ALTER TABLE app.orders ADD CHECK (id > 0);

-- An entry resolved at import follows its table through a rename; a new
-- table given the old name is not production's.
SELECT guarded_ddl.approve('rename_table', 'app.users', 'rename test') AS approval \gset
ALTER TABLE app.users RENAME TO customers;
ALTER TABLE app.customers ADD COLUMN token uuid DEFAULT gen_random_uuid();
CREATE TABLE app.users (id int);
ALTER TABLE app.users ADD COLUMN token uuid DEFAULT gen_random_uuid();
SELECT schema_name, table_name, relation FROM guarded_ddl.size_profile
 WHERE table_name IN ('users', 'orders') ORDER BY 1, 2;

-- A new import replaces the whole profile, seen at once by the guard.
SELECT guarded_ddl.import_size_profile(
    '{"version": 1, "tables": [{"name": "app.customers", "bytes": 1099511627776, "rows": 1}]}');
ALTER TABLE app.customers ADD COLUMN token2 uuid DEFAULT gen_random_uuid();
ALTER TABLE app.orders ADD CHECK (id > 0);
SELECT schema_name, table_name, bytes, exported_at FROM guarded_ddl.size_profile;

-- Bad input gets a clear error and changes nothing.
SELECT guarded_ddl.import_size_profile(NULL);
SELECT guarded_ddl.import_size_profile('[]');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [], "tabels": []}');
SELECT guarded_ddl.import_size_profile('{"version": 2, "tables": []}');
SELECT guarded_ddl.import_size_profile('{"tables": []}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": {}}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "exported_at": "last week", "tables": []}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1}, 7]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders"}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": "12"}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": -1}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1.5}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1e30}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1, "rows": "many"}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1, "rows": -5}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1, "size": 2}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": 42, "bytes": 1}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "orders", "bytes": 1}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "db.app.orders", "bytes": 1}]}');
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.\"orders", "bytes": 1}]}');
SELECT guarded_ddl.import_size_profile(jsonb_build_object('version', 1, 'tables',
    jsonb_build_array(jsonb_build_object('name', 'app.' || repeat('x', 64), 'bytes', 1))));
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": [{"name": "app.orders", "bytes": 1}, {"name": "APP.Orders", "bytes": 2}]}');
-- Over 100 MB (uncompressed).
SELECT guarded_ddl.import_size_profile(jsonb_build_object('version', 1, 'tables', '[]'::jsonb,
    'padding', repeat('x', 101 * 1024 * 1024)));
-- The SQLSTATEs: 22004 null, 22023 malformed, 54000 too large.
CREATE FUNCTION import_sqlstate(profile jsonb) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM guarded_ddl.import_size_profile(profile);
    RETURN 'imported';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $f$;
SELECT import_sqlstate(NULL) AS "null",
       import_sqlstate('[]') AS not_object,
       import_sqlstate('{"version": 1, "tables": [{"name": "orders", "bytes": 1}]}') AS bad_name,
       import_sqlstate('{"version": 1, "tables": [{"name": "app.\"o", "bytes": 1}]}') AS bad_ident,
       import_sqlstate('{"version": 1, "tables": [{"name": "a.o", "bytes": -1}]}') AS bad_bytes,
       import_sqlstate(jsonb_build_object('version', 1, 'tables', '[]'::jsonb,
           'padding', repeat('x', 101 * 1024 * 1024))) AS too_large;
DROP FUNCTION import_sqlstate(jsonb);
SELECT schema_name, table_name, bytes FROM guarded_ddl.size_profile;

-- Who may do what: export is for any role with USAGE on the schema, and
-- shows the tables it may see (any privilege, or pg_read_all_stats); import
-- and clear are for superusers (or whom they grant EXECUTE); nobody else
-- writes the table.
CREATE ROLE gd_ci_monitor;
GRANT USAGE ON SCHEMA guarded_ddl TO gd_ci_monitor;
GRANT SELECT ON app.orders TO gd_ci_monitor;
SET ROLE gd_ci_monitor;
SELECT jsonb_path_query_array(guarded_ddl.export_size_profile(), '$.tables[*].name') AS visible;
SELECT guarded_ddl.import_size_profile('{"version": 1, "tables": []}');
SELECT guarded_ddl.clear_size_profile();
DELETE FROM guarded_ddl.size_profile_entry;
INSERT INTO guarded_ddl.size_profile_entry (schema_name, table_name, bytes, imported_by)
VALUES ('app', 'orders', 1, current_user);
RESET ROLE;
GRANT pg_read_all_stats TO gd_ci_monitor;
SET ROLE gd_ci_monitor;
SELECT jsonb_path_query_array(guarded_ddl.export_size_profile(),
                              '$.tables[*].name ? (@ starts with "app.")') AS visible;
RESET ROLE;
SELECT schema_name, table_name, bytes FROM guarded_ddl.size_profile;

-- clear_size_profile() removes it: back to the live figures.
SELECT guarded_ddl.clear_size_profile();
SELECT relation, rule, verdict FROM guarded_ddl.explain(
    'ALTER TABLE app.customers ADD COLUMN token2 uuid DEFAULT gen_random_uuid()');
SELECT count(*) FROM guarded_ddl.size_profile_entry;

-- An export imports as it is (a round trip on one server matches every
-- table it lists).
SET client_min_messages = warning;
SELECT guarded_ddl.export_size_profile() AS profile \gset
SELECT guarded_ddl.import_size_profile(:'profile') =
       jsonb_array_length(:'profile'::jsonb->'tables') AS all_matched;
SELECT guarded_ddl.clear_size_profile() > 0 AS cleared;
RESET client_min_messages;

REVOKE pg_read_all_stats FROM gd_ci_monitor;
DROP OWNED BY gd_ci_monitor;
DROP ROLE gd_ci_monitor;
DROP SCHEMA app CASCADE;
DROP TABLE small_hot;
DROP EXTENSION guarded_ddl;
