-- guarded_ddl 1.0
\echo Use "CREATE EXTENSION guarded_ddl" to load this file. \quit

-- The schema is created here rather than through the control file's schema
-- setting so that it is a member of the extension and DROP EXTENSION removes
-- it with everything else.
CREATE SCHEMA guarded_ddl;
REVOKE ALL ON SCHEMA guarded_ddl FROM PUBLIC;
COMMENT ON SCHEMA guarded_ddl IS 'guarded_ddl: policy, explain and audit log';

-- Creating this C function loads the library, so CREATE EXTENSION fails with
-- guarded_ddl's own hint on a server that did not preload it.
CREATE FUNCTION guarded_ddl.version() RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'gd_version';
COMMENT ON FUNCTION guarded_ddl.version() IS 'version of the loaded guarded_ddl library';
