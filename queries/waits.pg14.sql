-- waits: what the active backends wait on at this instant, by query, for the wait profile;
-- PostgreSQL 14+ (pg_stat_activity.query_id, compute_query_id).
-- Reads: pg_stat_get_activity(NULL), the function behind pg_stat_activity, without the
-- view's joins to pg_database and pg_authid. Privileges: without pg_read_all_stats other
-- roles' backends show no state (so they are not counted). Cost: the function copies the
-- status of every backend and builds a row for each, about 4 us per backend (4 ms at 1,000
-- sessions on PostgreSQL 15), whatever the filter; the sampler is paced by that cost.
-- Rows: at least one. collected_at float8 (epoch s, server clock), took_s float8 (the
--   server's time on this statement so far, s: the sampler is paced on it, not on the round
--   trip), compute_query_id text;
--   then per (query_id, wait_event_type, wait_event) of the active client backends and
--   parallel workers (pgvitals' own backend left out): query_id int8 (NULL: not computed,
--   or a statement pg_stat_statements does not track), wait_event_type text (NULL: on CPU),
--   wait_event text, backends int4; a single row with NULL backends when nothing is active.
--   Most backends first, at most 200 rows (sample::WAITS_MAX_ROWS).
SELECT /* pgvitals */ one.collected_at,
       extract(epoch FROM clock_timestamp() - statement_timestamp())::float8 AS took_s,
       one.compute_query_id,
       w.query_id,
       w.wait_event_type,
       w.wait_event,
       w.backends
  FROM (SELECT extract(epoch FROM now())::float8 AS collected_at,
               current_setting('compute_query_id') AS compute_query_id) one
  LEFT JOIN (
        SELECT a.query_id,
               a.wait_event_type,
               a.wait_event,
               count(*)::int4 AS backends
          FROM pg_stat_get_activity(NULL) a
         WHERE a.state = 'active'
           AND a.backend_type IN ('client backend', 'parallel worker')
           AND a.pid <> pg_backend_pid()
         GROUP BY a.query_id, a.wait_event_type, a.wait_event
         ORDER BY backends DESC, a.query_id, a.wait_event_type, a.wait_event
         LIMIT 200) w ON true
