-- Review queries on the central review database: the fleet's audit log,
-- each row with the server it came from (fleet.server names it; a server
-- not registered there shows its system_identifier).

-- What DDL ran anywhere last week, newest first.
SELECT coalesce(s.name, d.system_identifier::text) AS server, d.system_identifier, d.database,
       d.started_at, d.session_role, d.command, d.verdict, d.statement
  FROM guarded_ddl.ddl_log AS d
  LEFT JOIN fleet.server AS s USING (system_identifier)
 WHERE d.started_at > now() - interval '7 days' AND d.setting IS NULL
 ORDER BY d.started_at DESC;

-- What was blocked, where, and why.
SELECT coalesce(s.name, d.system_identifier::text) AS server, d.system_identifier, d.database,
       d.started_at, d.session_role, d.application_name, d.rules, d.objects, d.statement
  FROM guarded_ddl.ddl_log AS d
  LEFT JOIN fleet.server AS s USING (system_identifier)
 WHERE d.verdict = 'blocked' AND d.started_at > now() - interval '7 days'
 ORDER BY d.started_at;

-- Per server: statements by verdict last week, and who loosened the guard.
SELECT coalesce(s.name, d.system_identifier::text) AS server, d.system_identifier,
       count(*) FILTER (WHERE d.setting IS NULL) AS statements,
       count(*) FILTER (WHERE d.verdict = 'blocked') AS blocked,
       count(*) FILTER (WHERE d.verdict = 'failed') AS failed,
       count(*) FILTER (WHERE d.verdict = 'approved') AS approved,
       count(*) FILTER (WHERE d.guard_mode <> 'enforce' OR d.setting IS NOT NULL) AS loosened
  FROM guarded_ddl.ddl_log AS d
  LEFT JOIN fleet.server AS s USING (system_identifier)
 WHERE d.started_at > now() - interval '7 days'
 GROUP BY 1, 2
 ORDER BY 1;

-- The longest lock waits and holds across the fleet: a lock row belongs to
-- the statement of the same server and id.
SELECT coalesce(s.name, d.system_identifier::text) AS server, d.system_identifier, d.database,
       l.relation, l.lock_mode, l.wait_ms, round(l.held_ms) AS held_ms, l.granted,
       d.started_at, d.statement
  FROM guarded_ddl.lock_log AS l
  JOIN guarded_ddl.ddl_log AS d
    ON d.system_identifier = l.system_identifier AND d.id = l.ddl_id
  LEFT JOIN fleet.server AS s ON s.system_identifier = d.system_identifier
 WHERE d.started_at > now() - interval '7 days'
 ORDER BY greatest(l.wait_ms, coalesce(l.held_ms, 0)) DESC
 LIMIT 20;
