-- vacuum_progress: every running VACUUM (manual or autovacuum; not VACUUM FULL) in any
-- database. PostgreSQL 12-16 count dead tuples; reported here as tuples × 6 bytes (the size
-- of an item pointer) so that 17+ (.pg17: bytes) reads the same.
-- Reads: pg_stat_progress_vacuum, pg_stat_get_activity(pid) (pg_stat_activity of one
--   backend), pg_database.
-- Privileges: pg_read_all_stats (pg_monitor) to see other roles' vacuums in full.
-- Columns (gauges): pid int4, datname text, relname text (relid::regclass, only when the
--   table is in the current database), phase text, is_autovacuum bool (backend_type =
--   'autovacuum worker'), running_s float8 (seconds since xact_start), heap_blks_total /
--   heap_blks_scanned / heap_blks_vacuumed int8 (blocks), index_vacuum_count int8,
--   dead_tuple_bytes / max_dead_tuple_bytes int8 (bytes), scanned_ratio float8 (0..1)
SELECT /* pgvitals */ p.pid::int4 AS pid,
       p.datname::text AS datname,
       CASE WHEN p.datname = current_database() THEN p.relid::regclass::text END AS relname,
       coalesce(p.phase, '')::text AS phase,
       coalesce(a.backend_type = 'autovacuum worker', false) AS is_autovacuum,
       extract(epoch FROM now() - a.xact_start)::float8 AS running_s,
       p.heap_blks_total::int8 AS heap_blks_total,
       p.heap_blks_scanned::int8 AS heap_blks_scanned,
       p.heap_blks_vacuumed::int8 AS heap_blks_vacuumed,
       p.index_vacuum_count::int8 AS index_vacuum_count,
       (p.num_dead_tuples * 6)::int8 AS dead_tuple_bytes,
       (p.max_dead_tuples * 6)::int8 AS max_dead_tuple_bytes,
       (p.heap_blks_scanned::float8 / nullif(p.heap_blks_total, 0))::float8 AS scanned_ratio
  FROM pg_stat_progress_vacuum p
  -- one backend's entry per vacuum, not the whole of pg_stat_activity (which builds every
  -- backend's: thousands of sessions)
  LEFT JOIN LATERAL pg_stat_get_activity(p.pid) AS a ON true
 ORDER BY a.xact_start NULLS LAST, p.pid
