-- activity: every backend in pg_stat_activity (client backends and background processes), in
-- full: the collector's first read, a read every 30 s, and any poll where a delta
-- (activity_delta.pg12.sql) would not pay or did not match what the collector holds.
-- Reads: pg_stat_activity, pg_blocking_pids() (only for sessions waiting on a heavyweight
-- lock: it takes the lock manager's partition locks), age(). Privileges: LOGIN sees every
-- row; other roles' query texts, states and waits need pg_read_all_stats (pg_monitor), else
-- query = '<insufficient privilege>' and state NULL. PostgreSQL 12 and 13 (14+:
-- activity.pg14.sql, the same with query_id).
-- One row per backend, every column a gauge:
--   now timestamptz (server clock, the same for every row), postmaster_start timestamptz
--   (pg_postmaster_start_time(): the connection limits are read again when it changes),
--   pgvitals_own bool (our own backend or another connection of the same pgvitals pool:
--   same session user and the same non-empty application_name; counted, not listed),
--   pid int4, usename, datname,
--   application_name, client_addr, backend_type, state, wait_event_type, wait_event, query
--   text, backend_start / xact_start / query_start / state_change timestamptz (ages are
--   computed by the client against `now`), backend_xid_age / backend_xmin_age int8
--   (transactions), blocked_by int4[] (NULL unless wait_event_type = 'Lock'), query_id int8
--   (NULL here: pg_stat_activity.query_id is PostgreSQL 14+, activity.pg14.sql).
-- Cost: per-session constants are InitPlans evaluated once, timestamps travel in binary (no
-- numeric extract() per row), no ORDER BY (the screen sorts). Most of it is
-- pg_stat_get_activity() itself: the snapshot of every backend's status entry, then a
-- ProcArray search per backend (quadratic in their number). 2,005 backends, 1,950 idle
-- (PostgreSQL 15, medians, see activity_delta.pg12.sql): 9.0 ms backend CPU per call polled
-- back to back, 27 ms polled 0.5 s apart on a busy machine, 686 KB sent, 3.1 ms client CPU to
-- decode; hence the deltas between full reads.
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
       NULL::int8 AS query_id
  FROM pg_stat_activity AS a
