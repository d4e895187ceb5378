-- CREATE / ALTER ... UPDATE / DROP EXTENSION leave nothing behind.
CREATE EXTENSION guarded_ddl;
SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'guarded_ddl';
SELECT guarded_ddl.version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'guarded_ddl';

-- Everything the extension created is a member of it, the schema included.
SELECT pg_describe_object(classid, objid, objsubid) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'guarded_ddl')
 ORDER BY 1;

-- Nothing is granted to PUBLIC.
SELECT has_schema_privilege('public', 'guarded_ddl', 'USAGE') AS public_usage;

ALTER EXTENSION guarded_ddl UPDATE;

-- A schema of that name already there is not silently taken over.
DROP EXTENSION guarded_ddl;
SELECT count(*) AS leftover_schemas FROM pg_namespace WHERE nspname = 'guarded_ddl';
CREATE SCHEMA guarded_ddl;
CREATE EXTENSION guarded_ddl;
DROP SCHEMA guarded_ddl;

-- The extension can come back after a drop.
CREATE EXTENSION guarded_ddl;
DROP EXTENSION guarded_ddl;
