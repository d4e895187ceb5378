-- CREATE / ALTER ... UPDATE / DROP EXTENSION leave nothing behind.
CREATE EXTENSION guarded_ddl;
SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'guarded_ddl';
SELECT guarded_ddl.version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'guarded_ddl';

-- Everything the extension created is a member of it, the schema included.
-- A table's or view's row type (and its array type) comes with the relation;
-- PostgreSQL 18 records them as members too, so they are left out here.
SELECT pg_describe_object(classid, objid, objsubid) AS member
  FROM pg_depend d
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'guarded_ddl')
   AND NOT (classid = 'pg_type'::regclass AND EXISTS (
        SELECT FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem
         WHERE t.oid = d.objid AND (t.typrelid <> 0 OR e.typrelid <> 0)))
 ORDER BY 1;

-- Nothing is granted to PUBLIC.
SELECT has_schema_privilege('public', 'guarded_ddl', 'USAGE') AS public_usage;

ALTER EXTENSION guarded_ddl UPDATE;

-- A schema of that name already there is not silently taken over.
DROP EXTENSION guarded_ddl;
SELECT count(*) AS leftover_schemas FROM pg_namespace WHERE nspname = 'guarded_ddl';
CREATE SCHEMA guarded_ddl;
\set VERBOSITY terse
CREATE EXTENSION guarded_ddl;
\set VERBOSITY default
DROP SCHEMA guarded_ddl;

-- The extension can come back after a drop.
CREATE EXTENSION guarded_ddl;
DROP EXTENSION guarded_ddl;
