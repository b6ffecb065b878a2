-- activity_delta: what changed in pg_stat_activity since the last poll; exactly
-- activity_delta.pg12.sql (its header tells the parameters, what is read, the rows and the
-- cost), plus query_id (pg_stat_get_activity's, as in activity.pg14.sql) in the rows of the
-- backends sent in full. PostgreSQL 14+.
WITH /* pgvitals */ b AS MATERIALIZED (
  SELECT i.pid,
         coalesce(i.query_start, i.backend_start) AS since,
         coalesce(i.xact_start IS NULL AND coalesce(i.query_start, i.backend_start) < $1, false)
           AND f.pid IS NULL AS thin
    FROM (SELECT pg_stat_get_backend_pid(id) AS pid,
                 pg_stat_get_backend_start(id) AS backend_start,
                 pg_stat_get_backend_activity_start(id) AS query_start,
                 pg_stat_get_backend_xact_start(id) AS xact_start
            FROM pg_stat_get_backend_idset() AS id) AS i
    LEFT JOIN (SELECT DISTINCT unnest($2::int4[])) AS f(pid) ON f.pid = i.pid
)
SELECT (SELECT now()) AS now,
       (SELECT pg_postmaster_start_time()) AS postmaster_start,
       coalesce(array_agg(b.pid) FILTER (WHERE b.thin), '{}') AS thin_pid,
       coalesce(array_agg(b.since) FILTER (WHERE b.thin), '{}') AS thin_since,
       NULL::bool AS pgvitals_own, NULL::int4 AS pid, NULL::text AS usename,
       NULL::text AS datname, NULL::text AS application_name, NULL::text AS client_addr,
       NULL::text AS backend_type, NULL::text AS state, NULL::text AS wait_event_type,
       NULL::text AS wait_event, NULL::timestamptz AS backend_start,
       NULL::timestamptz AS xact_start, NULL::timestamptz AS query_start,
       NULL::timestamptz AS state_change, NULL::int8 AS backend_xid_age,
       NULL::int8 AS backend_xmin_age, NULL::text AS query, NULL::int4[] AS blocked_by,
       NULL::int8 AS query_id
  FROM b
UNION ALL
SELECT NULL, NULL, NULL, NULL,
       (a.pid = (SELECT pg_backend_pid())
        OR (a.backend_type = 'client backend'
            AND u.rolname = (SELECT session_user)
            AND a.application_name <> ''
            AND a.application_name = (SELECT current_setting('application_name')))),
       a.pid::int4,
       u.rolname::text,
       d.datname::text,
       a.application_name::text,
       host(a.client_addr),
       a.backend_type::text,
       a.state::text,
       a.wait_event_type::text,
       a.wait_event::text,
       a.backend_start,
       a.xact_start,
       a.query_start,
       a.state_change,
       age(a.backend_xid)::int8,
       age(a.backend_xmin)::int8,
       a.query,
       CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END,
       a.query_id::int8
  FROM b
  CROSS JOIN LATERAL pg_stat_get_activity(b.pid) AS a
  LEFT JOIN pg_database AS d ON d.oid = a.datid
  LEFT JOIN pg_roles AS u ON u.oid = a.usesysid
 WHERE NOT b.thin
