-- On the central review database, once per server of the fleet:
--   psql -v name=NAME -v sysid=ID -v conninfo='CONNINFO' -f central.sql
-- name: a label for the server (letters, digits and _; the subscription is
-- named guarded_ddl_NAME); sysid: the server's
-- SELECT system_identifier FROM pg_control_system(); conninfo: how the
-- central server reaches it (a role with REPLICATION and SELECT on the two
-- tables). add_server.sh runs it.
--
-- The central database has guarded_ddl installed too: its own DDL keeps
-- being logged in the same tables, with its own system_identifier, beside
-- the rows the subscriptions bring. Every row is keyed by (system_identifier,
-- id), so the servers' ids never collide with each other's or the central's.
\set ON_ERROR_STOP on

-- The fleet's servers by name, for the review queries (review.sql).
CREATE SCHEMA IF NOT EXISTS fleet;
CREATE TABLE IF NOT EXISTS fleet.server (
    system_identifier bigint PRIMARY KEY,
    name text NOT NULL UNIQUE,
    added_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO fleet.server (system_identifier, name)
VALUES (guarded_ddl.system_identifier(), 'central')
ON CONFLICT DO NOTHING;
INSERT INTO fleet.server (system_identifier, name) VALUES (:'sysid', :'name');

SELECT 'guarded_ddl_' || :'name' AS subscription \gset
-- The rows the server has now are copied first (copy_data), then every
-- insert and update as it commits there.
CREATE SUBSCRIPTION :"subscription" CONNECTION :'conninfo' PUBLICATION guarded_ddl_log;
