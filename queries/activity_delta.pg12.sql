-- activity_delta: what changed in pg_stat_activity since the last poll, in one statement (one
-- snapshot of the backend status table: PostgreSQL takes it once per transaction).
-- Parameters: $1 timestamptz = the server `now` of the previous poll minus a margin; $2 int4[]
-- = the pids whose previous row was not a quiet idle session (active, idle in transaction,
-- background processes, hidden rows, ...: always sent in full).
-- Reads: pg_stat_get_backend_idset() and the per-backend accessors pg_stat_get_backend_pid /
-- _start / _activity_start / _xact_start (no ProcArray search, no text), and for each
-- changed backend only pg_stat_get_activity(pid), pg_database, pg_roles, age(),
-- pg_blocking_pids() (only for sessions waiting on a heavyweight lock). Privileges: as
-- activity.pg12.sql; without pg_read_all_stats the accessors return NULL for other roles'
-- backends, so those are always sent in full. PostgreSQL 12 and 13 here, 14+ in
-- activity_delta.pg14.sql, the same with query_id (the accessors take the ids
-- pg_stat_get_backend_idset returns: indexes up to 15, backend ids / proc numbers from 16).
-- A backend is *quiet* when it is in no transaction (xact_start NULL) and its
-- `since` = coalesce(query_start, backend_start) is older than $1: it has started no query
-- since the previous poll, and it is not in $2. Rows:
--   * one summary row: now timestamptz (server clock), postmaster_start timestamptz
--     (pg_postmaster_start_time(): the connection limits change only with a restart),
--     thin_pid int4[] and thin_since timestamptz[] (the quiet backends: pid and `since`,
--     which the client checks against the row it holds); every other column NULL;
--   * one row per other backend, the columns of activity.pg12.sql (now and
--     postmaster_start NULL, thin_pid / thin_since NULL; query_id NULL here, 14+ in
--     activity_delta.pg14.sql).
-- Cost, from tests/live/activity_delta.rs cost_at_2000_idle_sessions (PostgreSQL 15, two
-- shared cores, 2,005 backends: 1,950 idle, 30 active, 5 idle in transaction, 15 running a
-- query every 0.5 s; binary results, medians): polled back to back, 4.4 ms backend CPU per
-- call and 53 KB sent (55 rows in full, 1,950 thin), 0.8 ms client CPU; activity.pg12.sql
-- 9.0 ms, 686 KB and 3.1 ms. Polled 0.5 s apart on that busy machine, 23 ms against 27 ms:
-- most of a cold poll is PostgreSQL copying every backend's status entry, query text
-- included, into the transaction's snapshot (pgstat_read_current_status), which every read
-- of backend status pays, this one too. pg_stat_get_activity(pid) then scans that snapshot
-- for the pid (about 17 us per changed backend at 2,000; more for the background processes
-- at its end), so the collector reads everything with activity.pg12.sql instead while more
-- than one backend in ten changed.
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
       NULL::int8
  FROM b
  CROSS JOIN LATERAL pg_stat_get_activity(b.pid) AS a
  LEFT JOIN pg_database AS d ON d.oid = a.datid
  LEFT JOIN pg_roles AS u ON u.oid = a.usesysid
 WHERE NOT b.thin
