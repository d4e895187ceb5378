-- On each server of the fleet (its primary), in each database whose audit
-- log the central review database collects: publish guarded_ddl's log.
--
-- Inserts and updates only. Every row the audit writer inserts reaches the
-- central log, and so does its later update (lock_log.held_ms, filled in
-- when the statement's transaction ends). A purge() here deletes rows;
-- those deletes stay here, so the central database keeps the fleet's
-- history for as long as it chooses (guarded_ddl.purge(interval, bigint)
-- there).
--
-- The tables' primary keys, (system_identifier, id), are their replica
-- identity: nothing else to set. wal_level must be logical.
CREATE PUBLICATION guarded_ddl_log
    FOR TABLE guarded_ddl.ddl_log, guarded_ddl.lock_log
    WITH (publish = 'insert, update');
