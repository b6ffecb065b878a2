-- activity: every backend in pg_stat_activity, in full; exactly activity.pg12.sql (its
-- header tells what is read, when, with which privileges and at what cost), plus query_id.
-- PostgreSQL 14+. Columns: those of activity.pg12.sql, and query_id int8 (gauge:
-- pg_stat_activity.query_id, the identifier of the backend's current or last query, the
-- queryid of pg_stat_statements; NULL when compute_query_id is off, or auto without
-- pg_stat_statements loaded, and for statements without one).
SELECT /* pgvitals */ (SELECT now()) AS now,
       (SELECT pg_postmaster_start_time()) AS postmaster_start,
       (a.pid = (SELECT pg_backend_pid())
        OR (a.backend_type = 'client backend'
            AND a.usename = (SELECT session_user)
            AND a.application_name <> ''
            AND a.application_name = (SELECT current_setting('application_name')))) AS pgvitals_own,
       a.pid::int4 AS pid,
       a.usename::text AS usename,
       a.datname::text AS datname,
       a.application_name::text AS application_name,
       host(a.client_addr) AS client_addr,
       a.backend_type::text AS backend_type,
       a.state::text AS state,
       a.wait_event_type::text AS wait_event_type,
       a.wait_event::text AS wait_event,
       a.backend_start,
       a.xact_start,
       a.query_start,
       a.state_change,
       age(a.backend_xid)::int8 AS backend_xid_age,
       age(a.backend_xmin)::int8 AS backend_xmin_age,
       a.query AS query,
       CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS blocked_by,
       a.query_id::int8 AS query_id
  FROM pg_stat_activity AS a
