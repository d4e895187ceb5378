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

-- Rules ---------------------------------------------------------------------

CREATE FUNCTION guarded_ddl.rules(
    OUT id text, OUT description text, OUT lock text, OUT effect text,
    OUT mode text, OUT hint text)
    RETURNS SETOF record
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'gd_rules';
COMMENT ON FUNCTION guarded_ddl.rules() IS
    'every dangerous-form rule with its lock, effect, recipe and effective mode in this session';

CREATE FUNCTION guarded_ddl.explain(sql text,
    OUT statement_no integer, OUT command text, OUT relation text, OUT lock_mode text,
    OUT effect text, OUT rule text, OUT verdict text, OUT relation_size bigint, OUT hint text)
    RETURNS SETOF record
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'gd_explain';
COMMENT ON FUNCTION guarded_ddl.explain(text) IS
    'what each statement of the SQL text would lock and do, and guarded_ddl''s verdict, without running it';

-- The backstop: PostgreSQL announces every ALTER TABLE / ALTER TYPE rewrite
-- before it starts; a large table's rewrite the rules did not allow stops here.
CREATE FUNCTION guarded_ddl.table_rewrite_guard() RETURNS event_trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'gd_table_rewrite_guard';
CREATE EVENT TRIGGER guarded_ddl_table_rewrite ON table_rewrite
    EXECUTE FUNCTION guarded_ddl.table_rewrite_guard();
