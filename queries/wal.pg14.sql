-- wal: WAL volume, checkpoints and the archiver, PostgreSQL 14-16: WAL records, full-page
-- images and bytes from pg_stat_wal; checkpoints from pg_stat_bgwriter.
-- Reads: pg_stat_wal, pg_current_wal_lsn() / pg_last_wal_replay_lsn(), pg_stat_bgwriter,
-- pg_stat_archiver, current_setting(). Privileges: none (archive_command is readable by
-- every role; archive_library, 15+, is read with missing_ok). Not pg_settings: scanning it
-- costs 0.5 ms, 50 times the rest of the query.
-- One row: collected_at float8 (epoch s, server clock), in_recovery bool,
--   wal_lsn text, wal_lsn_bytes int8 (bytes since 0/0: primary = insert position, standby =
--   replay position; NULL before the standby replayed anything),
--   wal_records / wal_fpi / wal_bytes / wal_buffers_full int8 counters and wal_stats_reset
--   float8 (epoch s) from pg_stat_wal,
--   num_timed / num_requested int8 (checkpoints, counters), write_time_ms / sync_time_ms
--   float8 (counters, ms), buffers_written int8 (counter), checkpointer_stats_reset float8,
--   archived_count / failed_count int8 (counters), last_archived_wal / last_failed_wal text,
--   last_archived_time / last_failed_time / archiver_stats_reset float8 (epoch s),
--   archive_mode text (off, on, always), archive_command_set bool (archive_command or
--   archive_library is set)
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at,
       pg_is_in_recovery() AS in_recovery,
       w.lsn::text AS wal_lsn,
       (w.lsn - '0/0'::pg_lsn)::int8 AS wal_lsn_bytes,
       s.wal_records,
       s.wal_fpi,
       s.wal_bytes::int8 AS wal_bytes,
       s.wal_buffers_full,
       extract(epoch FROM s.stats_reset)::float8 AS wal_stats_reset,
       b.checkpoints_timed AS num_timed,
       b.checkpoints_req AS num_requested,
       b.checkpoint_write_time::float8 AS write_time_ms,
       b.checkpoint_sync_time::float8 AS sync_time_ms,
       b.buffers_checkpoint AS buffers_written,
       extract(epoch FROM b.stats_reset)::float8 AS checkpointer_stats_reset,
       a.archived_count,
       a.last_archived_wal,
       extract(epoch FROM a.last_archived_time)::float8 AS last_archived_time,
       a.failed_count,
       a.last_failed_wal,
       extract(epoch FROM a.last_failed_time)::float8 AS last_failed_time,
       extract(epoch FROM a.stats_reset)::float8 AS archiver_stats_reset,
       current_setting('archive_mode') AS archive_mode,
       -- archive_command reads '(disabled)' while archive_mode is off
       (current_setting('archive_command') NOT IN ('', '(disabled)')
        OR coalesce(current_setting('archive_library', true), '') <> '') AS archive_command_set
  FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                    ELSE pg_current_wal_lsn() END AS lsn) w,
       pg_stat_bgwriter b,
       pg_stat_archiver a,
       pg_stat_wal s
