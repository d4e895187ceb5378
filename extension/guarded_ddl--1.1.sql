-- guarded_ddl 1.1
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

-- The server's system identifier (pg_control_system().system_identifier,
-- without reading the control file): the audit rows this server writes
-- carry it, so that the rows of many servers can live in one table.
CREATE FUNCTION guarded_ddl.system_identifier() RETURNS bigint
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'gd_system_identifier';
COMMENT ON FUNCTION guarded_ddl.system_identifier() IS
    'this server''s system identifier, as pg_control_system() gives it: the system_identifier of the audit rows it writes';

-- Rules ---------------------------------------------------------------------

CREATE FUNCTION guarded_ddl.rules(
    OUT id text, OUT description text, OUT lock text, OUT effect text,
    OUT rollback text, OUT mode text, OUT hint text)
    RETURNS SETOF record
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'gd_rules';
COMMENT ON FUNCTION guarded_ddl.rules() IS
    'every dangerous-form rule with its lock, effect, rollback class, recipe and effective mode in this session';

CREATE FUNCTION guarded_ddl.explain(sql text, single_transaction boolean DEFAULT false,
    OUT statement_no integer, OUT command text, OUT relation text, OUT lock_mode text,
    OUT effect text, OUT rollback text, OUT rule text, OUT verdict text, OUT relation_size bigint,
    OUT hint text)
    RETURNS SETOF record
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'gd_explain';
COMMENT ON FUNCTION guarded_ddl.explain(text, boolean) IS
    'what each statement of the SQL text would lock and do after the ones before it, what undoing it takes, and guarded_ddl''s verdict, without running it';

-- Applying a migration: the statements a rule allows run as they are, those
-- a rule blocks as the rule's recipe, each step in its own transaction.
CREATE PROCEDURE guarded_ddl.apply(sql text)
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'gd_apply';
COMMENT ON PROCEDURE guarded_ddl.apply(text) IS
    'run the SQL text statement by statement, each in its own transaction; a statement a rule blocks runs as its mechanical recipe, step by step';
-- One number per recipe apply() runs, shared by the audit rows of its steps.
CREATE SEQUENCE guarded_ddl.recipe_ids;

-- Policy: approvals and per-table policy ------------------------------------

-- Only superusers and the SECURITY DEFINER functions below write these
-- tables; nothing is granted on them.
CREATE TABLE guarded_ddl.approval (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule text NOT NULL,
    relid oid NOT NULL,
    relation text NOT NULL, -- its name when approved
    reason text NOT NULL CHECK (btrim(reason) <> ''),
    approved_by name NOT NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    uses_allowed integer NOT NULL CHECK (uses_allowed > 0),
    uses integer NOT NULL DEFAULT 0,
    revoked_by name,
    revoked_at timestamptz,
    -- When the relation was dropped: the approval can never be used again
    -- (a new relation may get the same OID). Kept, not deleted, because the
    -- audit log names approval ids and a reviewer wants the reason, above
    -- all for the DROP that used the approval itself.
    dropped_at timestamptz
);
-- relid first: the hook looks up a rule's approvals on a relation, and a
-- drop looks up whether a dropped relation had any.
CREATE INDEX approval_relid_rule ON guarded_ddl.approval (relid, rule);
SELECT pg_catalog.pg_extension_config_dump('guarded_ddl.approval', '');

CREATE TABLE guarded_ddl.table_policy_entry (
    relid oid PRIMARY KEY,
    large boolean,
    rules text,
    set_by name NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('guarded_ddl.table_policy_entry', '');
-- Each backend caches the policies it has read; every write to the table
-- drops those caches (a relcache invalidation of the table, sent at
-- commit). ALWAYS: also under session_replication_role = replica.
CREATE FUNCTION guarded_ddl.table_policy_changed() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'gd_table_policy_changed';
CREATE TRIGGER table_policy_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON guarded_ddl.table_policy_entry
    FOR EACH STATEMENT EXECUTE FUNCTION guarded_ddl.table_policy_changed();
ALTER TABLE guarded_ddl.table_policy_entry ENABLE ALWAYS TRIGGER table_policy_changed;

-- Validates a guarded_ddl.rules-style list (raises 22023 with the valid ids).
CREATE FUNCTION guarded_ddl.check_rules(rules text) RETURNS void
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'gd_check_rules_text';

CREATE FUNCTION guarded_ddl.approve(rule text, relation regclass, reason text,
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
REVOKE ALL ON FUNCTION guarded_ddl.approve(text, regclass, text, interval, integer) FROM PUBLIC;
COMMENT ON FUNCTION guarded_ddl.approve(text, regclass, text, interval, integer) IS
    'let statements the rule blocks on the relation run, for a while and a number of uses';

CREATE FUNCTION guarded_ddl.revoke_approval(approval_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE guarded_ddl.approval
       SET revoked_by = session_user, revoked_at = now()
     WHERE id = approval_id AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'guarded_ddl.revoke_approval: no active approval with id %', approval_id
            USING ERRCODE = '42704';
    END IF;
END $$;
REVOKE ALL ON FUNCTION guarded_ddl.revoke_approval(bigint) FROM PUBLIC;

-- Called by the hook (through fmgr, with these definer rights) when a rule
-- would block: the id of an active approval, or 0. Without consume it only
-- looks (explain(), and the hook before it queues for the table's lock), and
-- takes no row lock. consume counts a use; the hook does so once it holds
-- the table's lock, so two statements on the table rarely race for the row.
-- A row locked by another transaction (a revoke in flight, or a use by a
-- statement whose lock does not conflict) is waited for, as long as the
-- hook's lock_timeout allows (guarded_ddl.lock_timeout, set by the caller),
-- and then re-checked: skipping it would turn an approved statement into a
-- block without saying why. The hook reports a wait that runs out as 55P03
-- naming this table.
CREATE FUNCTION guarded_ddl.take_approval(rule text, relid oid, consume boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id bigint;
BEGIN
    IF NOT consume THEN
        SELECT a.id INTO found_id
          FROM guarded_ddl.approval AS a
         WHERE a.rule = take_approval.rule AND a.relid = take_approval.relid
           AND a.revoked_at IS NULL AND a.dropped_at IS NULL AND a.expires_at > now()
           AND a.uses < a.uses_allowed
         ORDER BY a.expires_at
         LIMIT 1;
        RETURN coalesce(found_id, 0);
    END IF;
    SELECT a.id INTO found_id
      FROM guarded_ddl.approval AS a
     WHERE a.rule = take_approval.rule AND a.relid = take_approval.relid
       AND a.revoked_at IS NULL AND a.dropped_at IS NULL AND a.expires_at > now()
       AND a.uses < a.uses_allowed
     ORDER BY a.expires_at
     LIMIT 1
       FOR UPDATE;
    IF found_id IS NULL THEN
        RETURN 0;
    END IF;
    UPDATE guarded_ddl.approval SET uses = uses + 1 WHERE id = found_id;
    RETURN found_id;
END $$;
REVOKE ALL ON FUNCTION guarded_ddl.take_approval(text, oid, boolean) FROM PUBLIC;

-- A dropped relation's approvals show no relation: its OID may name another
-- one by now.
CREATE VIEW guarded_ddl.approvals AS
SELECT id, rule, CASE WHEN dropped_at IS NULL THEN relid::regclass END AS relation,
       relation AS relation_when_approved, reason,
       approved_by, approved_at, expires_at, uses, uses_allowed, revoked_by, revoked_at,
       dropped_at,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN uses >= uses_allowed THEN 'used'
            WHEN dropped_at IS NOT NULL AND dropped_at < expires_at THEN 'dropped'
            WHEN expires_at <= now() THEN 'expired'
            ELSE 'active' END AS status
  FROM guarded_ddl.approval;

CREATE FUNCTION guarded_ddl.set_table_policy(relation regclass, large boolean DEFAULT NULL,
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
REVOKE ALL ON FUNCTION guarded_ddl.set_table_policy(regclass, boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION guarded_ddl.set_table_policy(regclass, boolean, text) IS
    'mark a table large or not, and override rule modes for it; both null removes the policy';

CREATE VIEW guarded_ddl.table_policy AS
SELECT relid::regclass AS relation, large, rules, set_by, set_at
  FROM guarded_ddl.table_policy_entry;

-- Policies and approvals follow a table through renames (they are kept by
-- OID) and end with it, so that a new relation given the same OID inherits
-- nothing: the policy is deleted, the approvals are marked dropped (kept for
-- the audit trail, never usable again). The hook (C) notes every relation a
-- statement drops (object_access_hook): by DROP TABLE, VIEW, INDEX,
-- SEQUENCE, SCHEMA, OWNED, ... or by the CASCADE of nearly any drop, ALTER
-- TABLE DROP COLUMN too, also from a function or a DO block. When the
-- statement ends, in its own (sub)transaction, it calls forget_tables if one
-- of them has a policy or an approval. Returns how many it ended.
CREATE FUNCTION guarded_ddl.forget_tables(relids oid[]) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH forgotten AS (
        DELETE FROM guarded_ddl.table_policy_entry WHERE relid = ANY (relids) RETURNING 1),
    ended AS (
        UPDATE guarded_ddl.approval SET dropped_at = now()
         WHERE relid = ANY (relids) AND dropped_at IS NULL RETURNING 1)
    SELECT (SELECT count(*) FROM forgotten) + (SELECT count(*) FROM ended)
$$;
REVOKE ALL ON FUNCTION guarded_ddl.forget_tables(oid[]) FROM PUBLIC;

-- Audit log ---------------------------------------------------------------

-- Written by the audit writer (a background worker) in transactions of its
-- own, so a statement that was blocked or rolled back is still here. One row
-- per DDL statement, and per change of a guarded_ddl.* setting.
--
-- A row is keyed by the server that wrote it and its id there: the rows of
-- a fleet of servers can live in one table (a central review database
-- subscribes to each server's publication of ddl_log and lock_log; see
-- examples/fleet), and the central server's own rows beside them. The key
-- is the replica identity, so the writer's UPDATEs of lock_log.held_ms
-- reach the subscribers. system_identifier is the last column because an
-- update from 1.0 adds it there.
CREATE TABLE guarded_ddl.ddl_log (
    id bigint GENERATED ALWAYS AS IDENTITY,
    started_at timestamptz NOT NULL,
    database name NOT NULL DEFAULT current_database(),
    session_role name,
    executing_role name,        -- current_user: differs under SET ROLE and SECURITY DEFINER
    application_name text,
    client_addr inet,           -- null for Unix-socket connections
    backend_pid integer NOT NULL,
    backend_start timestamptz,  -- as pg_stat_activity shows it: with the pid, names the session
    backend_seq bigint,         -- the row's number among its session's audit records
    xid xid8,                   -- top-level transaction, null when none was assigned
    statement_xid xid8,         -- the (sub)transaction the statement ran in
    nesting_level integer NOT NULL, -- 0: sent by the client; more: inside functions, DO, triggers
    command text NOT NULL,
    statement text,             -- bounded, passwords redacted
    objects text[] NOT NULL DEFAULT '{}',
    verdict text NOT NULL CHECK (verdict IN ('allowed', 'warned', 'blocked', 'approved', 'failed')),
    guard_mode text NOT NULL,   -- guarded_ddl.mode when the statement started
    rules text[] NOT NULL DEFAULT '{}',
    -- What undoing the statement takes: the worst class of its actions;
    -- null for settings, and when guarded_ddl.mode = off (no analysis).
    rollback text CHECK (rollback IN ('reversible', 'forward_only', 'data_restore')),
    approval_id bigint,
    sqlstate text,
    error_message text,
    duration_ms double precision NOT NULL,
    lock_wait_ms double precision,
    lock_attempts integer,
    setting text,               -- SET/RESET of a guarded_ddl.* variable
    old_value text,
    new_value text,
    -- Steps of a recipe guarded_ddl.apply() ran: the recipe's id, shared by
    -- its steps, and the statement the recipe stands for; null otherwise.
    recipe_id bigint,
    recipe_statement text,
    system_identifier bigint NOT NULL, -- the server that ran the statement
    CONSTRAINT ddl_log_pkey PRIMARY KEY (system_identifier, id)
);
CREATE INDEX ddl_log_started_at ON guarded_ddl.ddl_log (started_at);
-- For the writer, filling in lock hold times when a transaction ends.
CREATE INDEX ddl_log_backend ON guarded_ddl.ddl_log (backend_pid, backend_seq);
-- "What did apply run for this migration": the steps of each recipe.
CREATE INDEX ddl_log_recipe ON guarded_ddl.ddl_log (recipe_id) WHERE recipe_id IS NOT NULL;
COMMENT ON TABLE guarded_ddl.ddl_log IS 'guarded_ddl audit log: one row per DDL statement, whatever its verdict';

CREATE TABLE guarded_ddl.lock_log (
    id bigint GENERATED ALWAYS AS IDENTITY,
    ddl_id bigint NOT NULL,
    relation_oid oid NOT NULL,
    relation text NOT NULL,     -- its name before the statement ran
    lock_mode text NOT NULL,
    granted boolean NOT NULL,
    wait_ms double precision NOT NULL,
    granted_at timestamptz,     -- null when never granted
    -- From the grant to the end of the transaction or savepoint that
    -- released the lock; null while it is held.
    held_ms double precision,
    attempts integer NOT NULL,
    blockers jsonb NOT NULL DEFAULT '[]', -- [{pid, role, application, state, xact_age_ms, query}]
    system_identifier bigint NOT NULL, -- the server, as in ddl_log
    CONSTRAINT lock_log_pkey PRIMARY KEY (system_identifier, id),
    CONSTRAINT lock_log_ddl_id_fkey FOREIGN KEY (system_identifier, ddl_id)
        REFERENCES guarded_ddl.ddl_log (system_identifier, id) ON DELETE CASCADE
);
CREATE INDEX lock_log_ddl_id ON guarded_ddl.lock_log (system_identifier, ddl_id);
COMMENT ON TABLE guarded_ddl.lock_log IS 'guarded_ddl audit log: the relation locks each DDL statement took or waited for';

-- pg_dump keeps the rows. A restore runs CREATE EXTENSION and the schema's
-- DDL before it copies these rows back, and the writer logs that DDL
-- meanwhile, so ids must not restart at 1: they start at the creation
-- time in microseconds, which leaves every earlier database's ids below a
-- later one's. The sequences' values are not dumped, so after a restore ids
-- go on above the restored ones.
SELECT pg_catalog.pg_extension_config_dump('guarded_ddl.ddl_log', '');
SELECT pg_catalog.pg_extension_config_dump('guarded_ddl.lock_log', '');
-- Qualified throughout: CREATE EXTENSION runs as a superuser under the
-- database's search_path, and a database owner's public.format(text, bigint)
-- or numeric * integer operator would match better than pg_catalog's.
DO $$
DECLARE
    start_id pg_catalog.int8 := (EXTRACT(epoch FROM pg_catalog.clock_timestamp())
                                 OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8;
BEGIN
    EXECUTE pg_catalog.format('ALTER SEQUENCE guarded_ddl.ddl_log_id_seq RESTART WITH %s', start_id);
    EXECUTE pg_catalog.format('ALTER SEQUENCE guarded_ddl.lock_log_id_seq RESTART WITH %s', start_id);
END $$;

-- A GRANT by mistake must not open the log: only superusers (the writer, and
-- purge() running as the extension's owner) change its rows. The hook
-- refuses ALTER, DROP and TRUNCATE of the tables to everyone else.
CREATE FUNCTION guarded_ddl.refuse_log_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'guarded_ddl: only superusers can change the audit log (% on %)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = '42501',
                  HINT = 'Reviewers need only SELECT; guarded_ddl.purge() removes old rows.';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER refuse_change BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON guarded_ddl.ddl_log
    FOR EACH STATEMENT EXECUTE FUNCTION guarded_ddl.refuse_log_change();
CREATE TRIGGER refuse_change BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON guarded_ddl.lock_log
    FOR EACH STATEMENT EXECUTE FUNCTION guarded_ddl.refuse_log_change();

CREATE FUNCTION guarded_ddl.flush(timeout interval DEFAULT '10s') RETURNS boolean
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'gd_flush';
COMMENT ON FUNCTION guarded_ddl.flush(interval) IS
    'wait until every audit record queued so far for this database is in the log; false on timeout';

CREATE FUNCTION guarded_ddl.audit_stats(
    OUT queued bigint, OUT written bigint, OUT overflowed bigint, OUT failed bigint,
    OUT not_installed bigint, OUT pending integer)
    RETURNS record
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'gd_audit_stats';
COMMENT ON FUNCTION guarded_ddl.audit_stats() IS
    'audit queue counters since server start, all databases: records queued, written, sent to the server log because the queue was full, because the insert failed, because guarded_ddl was not installed, and records waiting';

CREATE VIEW guarded_ddl.ddl_history AS
-- The columns of ddl_log, the status, then system_identifier: an update
-- from 1.0 can only add a view's column at its end.
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

-- The locks of a time window as a self-contained SVG document (no scripts,
-- no external references): a lane per relation, each lock's wait and hold,
-- coloured by mode, blocked, failed and capped statements marked. SECURITY
-- INVOKER: whoever may read ddl_log and lock_log may call it.
CREATE FUNCTION guarded_ddl.lock_timeline(since timestamptz, until timestamptz DEFAULT pg_catalog.now())
    RETURNS text
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'gd_lock_timeline';
COMMENT ON FUNCTION guarded_ddl.lock_timeline(timestamptz, timestamptz) IS
    'SVG timeline of the locks this server''s guarded statements waited for and held between since and until (at most the newest 2000 lock rows), with blocked, failed and capped statements marked';
-- Another server's locks, on a central review database that holds the rows
-- of many (the C function tells the forms apart by their number of
-- arguments).
CREATE FUNCTION guarded_ddl.lock_timeline(since timestamptz, until timestamptz, system_identifier bigint)
    RETURNS text
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'gd_lock_timeline';
COMMENT ON FUNCTION guarded_ddl.lock_timeline(timestamptz, timestamptz, bigint) IS
    'SVG timeline of the locks the given server''s guarded statements waited for and held between since and until (at most the newest 2000 lock rows), with blocked, failed and capped statements marked';

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

CREATE FUNCTION guarded_ddl.purge(older_than interval) RETURNS bigint
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- This server's rows only: a central review database keeps the rows
    -- its subscriptions bring (purge(interval, bigint) removes those).
    RETURN guarded_ddl.purge(older_than, guarded_ddl.system_identifier());
REVOKE ALL ON FUNCTION guarded_ddl.purge(interval) FROM PUBLIC;
COMMENT ON FUNCTION guarded_ddl.purge(interval) IS
    'delete this server''s audit rows (and their lock rows) of statements older than the interval; returns how many statements';

-- Size profile --------------------------------------------------------------

-- Production's table sizes, imported on a CI or staging server whose tables
-- are small: the guard judges each relation by the larger of its live figure
-- and its profile figure, so CI blocks what production would. An entry
-- matches the relation it was resolved to at import (relid, followed through
-- renames) or, when that relation no longer exists or none did, whatever
-- relation now has its schema and name (a table a migration creates after the
-- import). Not dumped by pg_dump: relids mean nothing on another server, and
-- a profile belongs to the server it was imported on. Only superusers change
-- it (nothing is granted), through the two functions below.
CREATE TABLE guarded_ddl.size_profile_entry (
    schema_name name NOT NULL,
    table_name name NOT NULL,
    relid oid,                  -- resolved at import; null when unknown here then
    bytes bigint NOT NULL CHECK (bytes >= 0),
    rows double precision CHECK (rows >= 0), -- null: never analyzed in production
    exported_at timestamptz,
    imported_by name NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, table_name)
);
CREATE INDEX size_profile_entry_relid ON guarded_ddl.size_profile_entry (relid);
-- The same invalidation as the per-table policies: each backend's cached
-- profile figures are dropped when a write to the table commits.
CREATE TRIGGER size_profile_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON guarded_ddl.size_profile_entry
    FOR EACH STATEMENT EXECUTE FUNCTION guarded_ddl.table_policy_changed();
ALTER TABLE guarded_ddl.size_profile_entry ENABLE ALWAYS TRIGGER size_profile_changed;

-- Every ordinary and partitioned table and materialized view the caller may
-- see (any privilege on it, or pg_read_all_stats), with the guard's own
-- figures: bytes of table, TOAST and indexes, every fork, partitions summed
-- into their parent; rows the planner's estimate (null: never analyzed).
CREATE FUNCTION guarded_ddl.export_size_profile() RETURNS jsonb
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'gd_export_size_profile';
COMMENT ON FUNCTION guarded_ddl.export_size_profile() IS
    'this database''s table sizes and row estimates, as a profile for guarded_ddl.import_size_profile() elsewhere';

-- The profile's size, uncompressed, without detoasting it; above 100 MB it
-- raises 54000.
CREATE FUNCTION guarded_ddl.check_size_profile_size(profile jsonb) RETURNS void
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'gd_check_size_profile_size';

CREATE FUNCTION guarded_ddl.import_size_profile(profile jsonb) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hint constant text := 'guarded_ddl.export_size_profile() run on the production server '
                          'gives a valid profile.';
    name_hint constant text := 'Names are schema.table, each part quoted as quote_ident quotes it.';
    bad_key text;
    bad_no bigint;
    bad jsonb;
    problem text;
    exported timestamptz;
    entries integer;
    matched integer;
    removed integer;
BEGIN
    IF profile IS NULL THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: profile must not be null'
            USING ERRCODE = '22004', HINT = hint;
    END IF;
    PERFORM guarded_ddl.check_size_profile_size(profile);
    IF jsonb_typeof(profile) <> 'object' THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: profile is not a JSON object'
            USING ERRCODE = '22023', DETAIL = format('It is a JSON %s.', jsonb_typeof(profile)),
                  HINT = hint;
    END IF;
    SELECT k INTO bad_key FROM jsonb_object_keys(profile) AS k
     WHERE k NOT IN ('version', 'server_version', 'exported_at', 'tables') ORDER BY k LIMIT 1;
    IF bad_key IS NOT NULL THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: unknown key "%" in the profile', bad_key
            USING ERRCODE = '22023',
                  DETAIL = 'A version 1 profile has the keys version, server_version, exported_at and tables.',
                  HINT = hint;
    END IF;
    IF profile->'version' IS DISTINCT FROM '1'::jsonb THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: unsupported profile version %',
            coalesce((profile->'version')::text, '(none)')
            USING ERRCODE = '22023', DETAIL = 'This guarded_ddl reads profiles of version 1.',
                  HINT = hint;
    END IF;
    IF jsonb_typeof(profile->'tables') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: "tables" must be a JSON array'
            USING ERRCODE = '22023', HINT = hint;
    END IF;
    IF coalesce(jsonb_typeof(profile->'server_version'), 'string') NOT IN ('string', 'null')
       OR coalesce(jsonb_typeof(profile->'exported_at'), 'string') NOT IN ('string', 'null') THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: "server_version" and "exported_at" must be strings'
            USING ERRCODE = '22023', HINT = hint;
    END IF;
    BEGIN
        exported := (profile->>'exported_at')::timestamptz;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: "exported_at" is not a timestamp'
            USING ERRCODE = '22023', DETAIL = format('It is %s.', profile->'exported_at'),
                  HINT = hint;
    END;

    -- The first entry that is not {"name": string, "bytes": whole number
    -- >= 0, "rows": number >= 0 or null}, and what is wrong with it. CASE
    -- keeps each cast behind the type check it needs.
    SELECT t.no, t.e, t.problem INTO bad_no, bad, problem
      FROM (SELECT a.no, a.e,
                   CASE WHEN jsonb_typeof(a.e) <> 'object' THEN 'is not a JSON object'
                        WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(a.e) AS k
                                      WHERE k NOT IN ('name', 'bytes', 'rows'))
                            THEN 'has a key other than name, bytes and rows'
                        WHEN jsonb_typeof(a.e->'name') IS DISTINCT FROM 'string'
                            THEN 'has no "name" string'
                        WHEN jsonb_typeof(a.e->'bytes') IS DISTINCT FROM 'number'
                            THEN 'has no "bytes" number'
                        WHEN (a.e->>'bytes')::numeric < 0
                             OR (a.e->>'bytes')::numeric <> trunc((a.e->>'bytes')::numeric)
                             OR (a.e->>'bytes')::numeric > 9223372036854775807
                            THEN 'has "bytes" that is not a whole number from 0 to 2^63-1'
                        WHEN coalesce(jsonb_typeof(a.e->'rows'), 'null') NOT IN ('number', 'null')
                            THEN 'has "rows" that is neither a number nor null'
                        WHEN jsonb_typeof(a.e->'rows') = 'number'
                             AND ((a.e->>'rows')::numeric < 0 OR (a.e->>'rows')::numeric > 1e300)
                            THEN 'has "rows" that is negative or out of range'
                   END AS problem
              FROM jsonb_array_elements(profile->'tables') WITH ORDINALITY AS a(e, no)) AS t
     WHERE t.problem IS NOT NULL
     ORDER BY t.no
     LIMIT 1;
    IF bad_no IS NOT NULL THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: table entry % %', bad_no, problem
            USING ERRCODE = '22023', DETAIL = format('The entry is %s.', left(bad::text, 200)),
                  HINT = hint;
    END IF;

    -- Names: schema.table, two parts of at most 63 bytes, each unique.
    BEGIN
        SELECT t.no, t.e->>'name' INTO bad_no, problem
          FROM jsonb_array_elements(profile->'tables') WITH ORDINALITY AS t(e, no),
               LATERAL parse_ident(t.e->>'name') AS p(parts)
         WHERE cardinality(p.parts) <> 2
            OR octet_length(p.parts[1]) >= 64 OR octet_length(p.parts[2]) >= 64
         ORDER BY t.no LIMIT 1;
    EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS problem = MESSAGE_TEXT;
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: a table name is not a qualified name'
            USING ERRCODE = '22023', DETAIL = format('PostgreSQL says: %s.', problem),
                  HINT = name_hint;
    END;
    IF bad_no IS NOT NULL THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: table entry % has name %, not schema.table',
            bad_no, quote_literal(problem)
            USING ERRCODE = '22023',
                  DETAIL = 'A name has two parts, a schema and a table, of at most 63 bytes each.',
                  HINT = name_hint;
    END IF;
    SELECT quote_ident(p.parts[1]) || '.' || quote_ident(p.parts[2]) INTO problem
      FROM jsonb_array_elements(profile->'tables') AS t(e),
           LATERAL parse_ident(t.e->>'name') AS p(parts)
     GROUP BY p.parts[1], p.parts[2] HAVING count(*) > 1
     ORDER BY 1 LIMIT 1;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'guarded_ddl.import_size_profile: table % appears more than once', problem
            USING ERRCODE = '22023', HINT = hint;
    END IF;

    -- Replaced as a whole, in this transaction: other sessions see the old
    -- profile or the new one. DELETE, not TRUNCATE, so that the guard's reads
    -- in other sessions never wait for this.
    DELETE FROM guarded_ddl.size_profile_entry;
    GET DIAGNOSTICS removed = ROW_COUNT;
    INSERT INTO guarded_ddl.size_profile_entry
        (schema_name, table_name, relid, bytes, rows, exported_at, imported_by)
    SELECT p.parts[1], p.parts[2],
           (SELECT c.oid FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
             WHERE n.nspname = p.parts[1] AND c.relname = p.parts[2]
               AND c.relkind IN ('r', 'p', 'm') AND c.relpersistence <> 't'),
           (t.e->>'bytes')::bigint, (t.e->>'rows')::double precision, exported, session_user
      FROM jsonb_array_elements(profile->'tables') AS t(e),
           LATERAL parse_ident(t.e->>'name') AS p(parts);
    GET DIAGNOSTICS entries = ROW_COUNT;
    SELECT count(*) INTO matched FROM guarded_ddl.size_profile_entry WHERE relid IS NOT NULL;

    -- A DBA action: said to the caller and kept in the server log.
    RAISE NOTICE 'guarded_ddl: size profile imported (tables: %, found here: %, unknown here: %)',
        entries, matched, entries - matched
        USING DETAIL = 'An unknown table counts from the moment a table of its name is created.';
    RAISE LOG 'guarded_ddl: size profile imported by % (exported at %, server version %): % tables, % matched, % unknown, % entries replaced',
        session_user, coalesce(exported::text, 'unknown'),
        coalesce(profile->>'server_version', 'unknown'), entries, matched, entries - matched, removed;
    RETURN matched;
END $$;
REVOKE ALL ON FUNCTION guarded_ddl.import_size_profile(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION guarded_ddl.import_size_profile(jsonb) IS
    'replace the size profile with one from guarded_ddl.export_size_profile(); returns how many of its tables exist here';

CREATE FUNCTION guarded_ddl.clear_size_profile() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed integer;
BEGIN
    DELETE FROM guarded_ddl.size_profile_entry;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RAISE NOTICE 'guarded_ddl: size profile removed (tables: %)', removed;
    RAISE LOG 'guarded_ddl: size profile removed by % (tables: %)', session_user, removed;
    RETURN removed;
END $$;
REVOKE ALL ON FUNCTION guarded_ddl.clear_size_profile() FROM PUBLIC;
COMMENT ON FUNCTION guarded_ddl.clear_size_profile() IS
    'remove the imported size profile; returns how many tables it had';

-- The profile as the guard sees it: each entry with the relation it applies
-- to here now (null: none yet).
CREATE VIEW guarded_ddl.size_profile AS
SELECT e.schema_name, e.table_name, e.bytes, e.rows, e.exported_at, e.imported_by, e.imported_at,
       coalesce(
           (SELECT c.oid FROM pg_catalog.pg_class AS c WHERE c.oid = e.relid),
           (SELECT c.oid FROM pg_catalog.pg_class AS c
              JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
             WHERE n.nspname = e.schema_name AND c.relname = e.table_name
               AND c.relkind IN ('r', 'p', 'm')
               AND NOT EXISTS (SELECT 1 FROM guarded_ddl.size_profile_entry AS o
                                WHERE o.relid = c.oid)))::regclass AS relation
  FROM guarded_ddl.size_profile_entry AS e;

-- Backfill ------------------------------------------------------------------

-- One row per CALL guarded_ddl.backfill(...), written by the procedure with
-- each batch, in the batch's transaction, as this table's owner (the C code
-- switches to it, with search_path pinned, and writes only values it
-- computed itself). Nothing is granted on it: a caller cannot forge or
-- change a row, its own or another role's.
CREATE TABLE guarded_ddl.backfill_run (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid oid NOT NULL,
    relation text NOT NULL,       -- its name when the backfill started
    set_clause text NOT NULL,
    where_clause text NOT NULL,
    batch_size integer NOT NULL,
    role name NOT NULL,           -- current_user of the caller
    backend_pid integer NOT NULL,
    backend_start timestamptz NOT NULL,
    rows_done bigint NOT NULL DEFAULT 0,
    rows_left_estimate bigint,
    batches bigint NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL,
    last_batch_at timestamptz,
    finished_at timestamptz,
    state text NOT NULL CHECK (state IN ('running', 'done', 'stopped', 'failed')),
    error text
);
COMMENT ON TABLE guarded_ddl.backfill_run IS 'guarded_ddl.backfill: one row per call, its progress committed with each batch';

CREATE PROCEDURE guarded_ddl.backfill(relation regclass, set_clause text, where_clause text,
                                      batch_size integer DEFAULT 1000, pause interval DEFAULT '100ms',
                                      max_duration interval DEFAULT NULL)
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'gd_backfill';
COMMENT ON PROCEDURE guarded_ddl.backfill(regclass, text, text, integer, interval, interval) IS
    'update the rows matching where_clause with set_clause in primary-key order, batch_size rows per transaction (FOR UPDATE SKIP LOCKED), retrying busy rows, until none match or max_duration; run it again to resume';

-- A row still "running" whose session is gone was ended without a word
-- (terminated, crashed): it shows as failed.
CREATE VIEW guarded_ddl.backfills AS
SELECT b.id, b.relid::pg_catalog.regclass AS relation, b.set_clause, b.where_clause, b.batch_size,
       b.rows_done, b.rows_left_estimate,
       CASE WHEN b.last_batch_at > b.started_at
            THEN pg_catalog.round(b.rows_done / EXTRACT(epoch FROM b.last_batch_at - b.started_at), 1)
       END AS rate,
       b.batches, b.started_at, b.last_batch_at, b.finished_at,
       CASE WHEN b.state = 'running'
                 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity AS a
                                  WHERE a.pid = b.backend_pid
                                    AND (a.backend_start IS NULL OR a.backend_start = b.backend_start))
            THEN 'failed'
            ELSE b.state END AS state,
       b.role, b.error
  FROM guarded_ddl.backfill_run AS b;
COMMENT ON VIEW guarded_ddl.backfills IS 'progress of guarded_ddl.backfill calls: rows done, rows left (estimate), rate in rows/s, state';
