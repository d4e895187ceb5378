-- guarded_ddl 1.0 -> 1.1: fleet-ready audit rows.
\echo Use "ALTER EXTENSION guarded_ddl UPDATE TO '1.1'" to load this file. \quit

-- ddl_log and lock_log rows carry the system identifier of the server that
-- wrote them, and are keyed by it and their id there, so that the rows of
-- many servers can live in one table (a central review database; see
-- examples/fleet). The rows written before the update are this server's.
-- The statements below run as the updating superuser, inside the extension
-- script, where guarded_ddl judges nothing; the audit writer waits for the
-- tables' locks meanwhile and writes its records afterwards.

CREATE FUNCTION guarded_ddl.system_identifier() RETURNS bigint
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'gd_system_identifier';
COMMENT ON FUNCTION guarded_ddl.system_identifier() IS
    'this server''s system identifier, as pg_control_system() gives it: the system_identifier of the audit rows it writes';

-- The audit log's triggers refuse changes by non-superusers only; the
-- columns are added nullable, filled, then made NOT NULL (one rewrite-free
-- ADD COLUMN, one UPDATE of the existing rows).
ALTER TABLE guarded_ddl.ddl_log ADD COLUMN system_identifier bigint;
ALTER TABLE guarded_ddl.lock_log ADD COLUMN system_identifier bigint;
UPDATE guarded_ddl.ddl_log SET system_identifier = guarded_ddl.system_identifier();
UPDATE guarded_ddl.lock_log SET system_identifier = guarded_ddl.system_identifier();
ALTER TABLE guarded_ddl.ddl_log ALTER COLUMN system_identifier SET NOT NULL;
ALTER TABLE guarded_ddl.lock_log ALTER COLUMN system_identifier SET NOT NULL;

-- The keys: (system_identifier, id), and lock rows reference their
-- statement's server and id. The foreign key goes first, as it depends on
-- ddl_log's old primary key.
ALTER TABLE guarded_ddl.lock_log DROP CONSTRAINT lock_log_ddl_id_fkey;
ALTER TABLE guarded_ddl.lock_log DROP CONSTRAINT lock_log_pkey;
ALTER TABLE guarded_ddl.ddl_log DROP CONSTRAINT ddl_log_pkey;
ALTER TABLE guarded_ddl.ddl_log ADD CONSTRAINT ddl_log_pkey PRIMARY KEY (system_identifier, id);
ALTER TABLE guarded_ddl.lock_log ADD CONSTRAINT lock_log_pkey PRIMARY KEY (system_identifier, id);
ALTER TABLE guarded_ddl.lock_log ADD CONSTRAINT lock_log_ddl_id_fkey FOREIGN KEY (system_identifier, ddl_id)
    REFERENCES guarded_ddl.ddl_log (system_identifier, id) ON DELETE CASCADE;
DROP INDEX guarded_ddl.lock_log_ddl_id;
CREATE INDEX lock_log_ddl_id ON guarded_ddl.lock_log (system_identifier, ddl_id);

-- A central review database holds other servers' rows: their transaction
-- ids mean nothing here.
CREATE OR REPLACE VIEW guarded_ddl.ddl_history AS
-- The columns of ddl_log, the status, then system_identifier: a view's
-- new column goes at its end (the view and its grants are kept).
SELECT l.id, l.started_at, l.database, l.session_role, l.executing_role, l.application_name,
       l.client_addr, l.backend_pid, l.backend_start, l.backend_seq, l.xid, l.statement_xid,
       l.nesting_level, l.command, l.statement, l.objects, l.verdict, l.guard_mode, l.rules,
       l.rollback, l.approval_id, l.sqlstate, l.error_message, l.duration_ms, l.lock_wait_ms,
       l.lock_attempts, l.setting, l.old_value, l.new_value, l.recipe_id, l.recipe_statement,
       -- An error aborts the (sub)transaction the statement ran in; the
       -- statement's own (sub)transaction id tells a ROLLBACK TO SAVEPOINT
       -- from its top-level transaction's commit.
       CASE WHEN l.verdict IN ('blocked', 'failed') THEN 'aborted'
            -- Committed on its own (CREATE INDEX CONCURRENTLY, VACUUM).
            WHEN l.statement_xid IS NULL AND l.xid IS NULL THEN 'committed'
            -- Another server's transaction ids mean nothing here (a central
            -- review database): that server's own ddl_history knows.
            WHEN l.system_identifier OPERATOR(pg_catalog.<>) guarded_ddl.system_identifier() THEN NULL
            WHEN l.statement_xid IS NOT NULL THEN pg_catalog.pg_xact_status(l.statement_xid)
            ELSE pg_catalog.pg_xact_status(l.xid) END AS status,
       l.system_identifier
  FROM guarded_ddl.ddl_log AS l;
COMMENT ON VIEW guarded_ddl.ddl_history IS 'ddl_log with the fate of each statement''s transaction: committed, aborted or in progress (null: another server''s transaction)';

-- One server's locks: lock_timeline(since, until) draws this server's, the
-- new three-argument form the given server's (the C function tells them
-- apart by their number of arguments).
CREATE FUNCTION guarded_ddl.lock_timeline(since timestamptz, until timestamptz, system_identifier bigint)
    RETURNS text
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'gd_lock_timeline';
COMMENT ON FUNCTION guarded_ddl.lock_timeline(timestamptz, timestamptz, bigint) IS
    'SVG timeline of the locks the given server''s guarded statements waited for and held between since and until (at most the newest 2000 lock rows), with blocked, failed and capped statements marked';
COMMENT ON FUNCTION guarded_ddl.lock_timeline(timestamptz, timestamptz) IS
    'SVG timeline of the locks this server''s guarded statements waited for and held between since and until (at most the newest 2000 lock rows), with blocked, failed and capped statements marked';

CREATE OR REPLACE FUNCTION guarded_ddl.purge(older_than interval) RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'guarded_ddl.purge: older_than must not be negative' USING ERRCODE = '22023';
    END IF;
    -- This server's rows only: a central review database keeps the rows
    -- its subscriptions bring (purge(interval, bigint) removes those).
    DELETE FROM guarded_ddl.ddl_log
     WHERE system_identifier = guarded_ddl.system_identifier() AND started_at < now() - older_than;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;
COMMENT ON FUNCTION guarded_ddl.purge(interval) IS
    'delete this server''s audit rows (and their lock rows) of statements older than the interval; returns how many statements';

-- On a central review database: the retention of another server's rows.
-- A publication of ddl_log and lock_log publishes inserts and updates only
-- (examples/fleet), so a purge on a server never reaches the central log.
CREATE FUNCTION guarded_ddl.purge(older_than interval, system_identifier bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'guarded_ddl.purge: older_than must not be negative' USING ERRCODE = '22023';
    END IF;
    DELETE FROM guarded_ddl.ddl_log AS l
     WHERE l.system_identifier = purge.system_identifier AND l.started_at < now() - older_than;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;
REVOKE ALL ON FUNCTION guarded_ddl.purge(interval, bigint) FROM PUBLIC;
COMMENT ON FUNCTION guarded_ddl.purge(interval, bigint) IS
    'delete the audit rows (and their lock rows) of the given server''s statements older than the interval; returns how many statements';
