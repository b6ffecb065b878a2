-- replication_status: this server's role and, on a standby, its receive/replay position.
-- Safe on both roles: every recovery-only function is guarded by pg_is_in_recovery() in the
-- same statement, so a server promoted under an open connection never fails the poll.
-- Reads: pg_is_in_recovery(), pg_current_wal_lsn() (primary only),
--   pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp(),
--   pg_get_wal_replay_pause_state() (standby only), pg_stat_wal_receiver (at most one row).
-- Privileges: none; sender_host / sender_port / last_msg_receipt_time of
--   pg_stat_wal_receiver need pg_read_all_stats (pg_monitor), else NULL.
-- One row; every column is a gauge.
--   collected_at float8 (epoch seconds, server clock), in_recovery bool,
--   current_wal_lsn text (primary only), receive_lsn text, replay_lsn text (standby only),
--   replay_lag_bytes int8 (receive - replay, bytes, never negative),
--   last_replay_age_s float8 (seconds since pg_last_xact_replay_timestamp()),
--   replay_paused bool (pause requested or paused), wal_receiver_status text
--   (NULL: no WAL receiver runs, or hidden without pg_read_all_stats), sender_host text,
--   sender_port int4, last_msg_receipt_age_s float8 (seconds), wal_receiver_running bool
--   (a WAL receiver process exists; its pid is visible to every role)
--   walsenders int4, slots int4 (how many walsenders and replication slots exist: the
--   standbys and slots queries run only when these are not 0, two queries a poll saved
--   on a server with neither; pg_stat_get_wal_senders() and pg_get_replication_slots()
--   read shared memory only)
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at,
       r.in_recovery,
       CASE WHEN NOT r.in_recovery THEN pg_current_wal_lsn()::text END AS current_wal_lsn,
       CASE WHEN r.in_recovery THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
       CASE WHEN r.in_recovery THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
       CASE WHEN r.in_recovery
            THEN greatest(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::int8
       END AS replay_lag_bytes,
       CASE WHEN r.in_recovery
            THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
       END AS last_replay_age_s,
       CASE WHEN r.in_recovery THEN pg_get_wal_replay_pause_state() <> 'not paused' ELSE false END AS replay_paused,
       w.status::text AS wal_receiver_status,
       w.sender_host::text AS sender_host,
       w.sender_port::int4 AS sender_port,
       extract(epoch FROM now() - w.last_msg_receipt_time)::float8 AS last_msg_receipt_age_s,
       (w.pid IS NOT NULL) AS wal_receiver_running,
       (SELECT count(*) FROM pg_stat_get_wal_senders())::int4 AS walsenders,
       (SELECT count(*) FROM pg_get_replication_slots())::int4 AS slots
  FROM (SELECT pg_is_in_recovery() AS in_recovery) r
  LEFT JOIN pg_stat_wal_receiver w ON r.in_recovery AND w.pid IS NOT NULL
