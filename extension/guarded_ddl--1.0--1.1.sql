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

CREATE OR REPLACE FUNCTION guarded_ddl.purge(older_than interval) RETURNS bigint
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- This server's rows only: a central review database keeps the rows
    -- its subscriptions bring (purge(interval, bigint) removes those).
    RETURN guarded_ddl.purge(older_than, guarded_ddl.system_identifier());
COMMENT ON FUNCTION guarded_ddl.purge(interval) IS
    'delete this server''s audit rows (and their lock rows) of statements older than the interval; returns how many statements';

-- No event triggers (issue 15): any sql_drop or table_rewrite trigger makes
-- PostgreSQL track the dropped objects of every DDL statement, and that cost
-- was paid with the guard switched off. The library now ends dropped
-- relations' policies and approvals from object_access_hook, and stops a
-- rewrite the rules did not allow when the rewrite creates its new heap.
DROP EVENT TRIGGER guarded_ddl_table_rewrite;
DROP FUNCTION guarded_ddl.table_rewrite_guard();
DROP EVENT TRIGGER guarded_ddl_forget_dropped_tables;
DROP FUNCTION guarded_ddl.forget_dropped_tables();

-- relid first: the hook looks up a rule's approvals on a relation, and a
-- drop looks up whether a dropped relation had any.
DROP INDEX guarded_ddl.approval_rule_relid;
CREATE INDEX approval_relid_rule ON guarded_ddl.approval (relid, rule);

-- approve() and set_table_policy() refuse TOAST relations: the hook does
-- not look for their approvals and policies when they are dropped.
CREATE OR REPLACE FUNCTION guarded_ddl.approve(rule text, relation regclass, reason text,
                                    valid_for interval DEFAULT '1 hour', uses integer DEFAULT 1)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    IF rule IS NULL OR relation IS NULL OR reason IS NULL OR valid_for IS NULL OR uses IS NULL THEN
        RAISE EXCEPTION 'guarded_ddl.approve: no argument may be null' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM guarded_ddl.rules() AS r WHERE r.id = approve.rule) THEN
        RAISE EXCEPTION 'guarded_ddl.approve: unknown rule "%"', rule
            USING ERRCODE = '42704',
                  HINT = 'SELECT id FROM guarded_ddl.rules() lists the rule ids.';
    END IF;
    -- regclass input checks a name, but a bare OID is taken as it is.
    IF NOT EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relation) THEN
        RAISE EXCEPTION 'guarded_ddl.approve: relation with OID % does not exist', relation::oid
            USING ERRCODE = '42P01';
    END IF;
    IF btrim(reason) = '' THEN
        RAISE EXCEPTION 'guarded_ddl.approve: a reason is required' USING ERRCODE = '22023';
    END IF;
    IF valid_for <= interval '0' OR valid_for > interval '30 days' THEN
        RAISE EXCEPTION 'guarded_ddl.approve: valid_for must be positive and at most 30 days'
            USING ERRCODE = '22023';
    END IF;
    IF uses < 1 THEN
        RAISE EXCEPTION 'guarded_ddl.approve: uses must be at least 1' USING ERRCODE = '22023';
    END IF;
    -- No rule fires on a temporary table, and one dropped at the end of its
    -- session passes no drop the hook sees: its approval would outlive it.
    IF EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relation AND c.relpersistence = 't') THEN
        RAISE EXCEPTION 'guarded_ddl.approve: % is a temporary relation', relation
            USING ERRCODE = '22023',
                  DETAIL = 'guarded_ddl never blocks statements on temporary relations.';
    END IF;
    -- TOAST relations go with their table: the hook does not look for their
    -- approvals when they are dropped.
    IF EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relation AND c.relnamespace = 'pg_toast'::pg_catalog.regnamespace) THEN
        RAISE EXCEPTION 'guarded_ddl.approve: % is a TOAST relation', relation
            USING ERRCODE = '22023',
                  DETAIL = 'Statements name the table, not its TOAST relations.';
    END IF;
    INSERT INTO guarded_ddl.approval (rule, relid, relation, reason, approved_by, expires_at, uses_allowed)
    VALUES (rule, relation, relation::text, reason, session_user, now() + valid_for, uses)
    RETURNING id INTO new_id;
    RETURN new_id;
END $$;

CREATE OR REPLACE FUNCTION guarded_ddl.set_table_policy(relation regclass, large boolean DEFAULT NULL,
                                             rules text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'guarded_ddl.set_table_policy: relation must not be null' USING ERRCODE = '22004';
    END IF;
    -- A policy for a dropped table's OID would wait for a future table.
    IF NOT EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relation) THEN
        RAISE EXCEPTION 'guarded_ddl.set_table_policy: relation with OID % does not exist',
            relation::oid USING ERRCODE = '42P01';
    END IF;
    IF rules IS NOT NULL THEN
        PERFORM guarded_ddl.check_rules(rules);
    END IF;
    -- A temporary table dropped at the end of its session passes no drop
    -- the hook sees: its policy would outlive it.
    IF EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relation AND c.relpersistence = 't') THEN
        RAISE EXCEPTION 'guarded_ddl.set_table_policy: % is a temporary relation', relation
            USING ERRCODE = '22023',
                  DETAIL = 'guarded_ddl never treats temporary relations as large.';
    END IF;
    -- TOAST relations go with their table: the hook does not look for their
    -- policies when they are dropped.
    IF EXISTS (SELECT 1 FROM pg_class AS c WHERE c.oid = relation AND c.relnamespace = 'pg_toast'::pg_catalog.regnamespace) THEN
        RAISE EXCEPTION 'guarded_ddl.set_table_policy: % is a TOAST relation', relation
            USING ERRCODE = '22023',
                  DETAIL = 'A table''s policy covers its TOAST relations.';
    END IF;
    IF large IS NULL AND rules IS NULL THEN
        DELETE FROM guarded_ddl.table_policy_entry WHERE relid = relation;
        RETURN;
    END IF;
    INSERT INTO guarded_ddl.table_policy_entry AS p (relid, large, rules, set_by)
    VALUES (relation, large, rules, session_user)
    ON CONFLICT (relid) DO UPDATE
       SET large = excluded.large, rules = excluded.rules, set_by = excluded.set_by, set_at = now();
END $$;
