-- replication_standbys: one row per walsender (pg_stat_replication), on a primary or on a
-- cascading standby, with the lag of each stage in bytes and in seconds.
-- "Current" is pg_current_wal_lsn() on a primary and, during recovery (cascading standby),
-- the newest WAL this server has (greatest of pg_last_wal_receive_lsn() and
-- pg_last_wal_replay_lsn()): pg_current_wal_lsn() fails during recovery.
-- Reads: pg_stat_replication, pg_is_in_recovery(), pg_current_wal_lsn(),
--   pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(). The same columns on 12 to 18.
-- Privileges: pg_read_all_stats (pg_monitor) to see the LSN, lag, backend_xmin and
--   reply_time columns of other roles' walsenders (NULL otherwise).
-- Columns (all gauges): pid int4, usename text, application_name text, client_addr text,
--   state text, sync_state text, sent_lsn / write_lsn / flush_lsn / replay_lsn text,
--   sent_lag_bytes / write_lag_bytes / flush_lag_bytes / replay_lag_bytes int8 (current LSN
--   minus each stage, bytes), write_lag_s / flush_lag_s / replay_lag_s float8 (seconds; NULL
--   when the standby is caught up and nothing happens), backend_xmin_age int8 (transactions,
--   hot_standby_feedback), reply_age_s float8 (seconds since reply_time)
-- Cost: pg_stat_replication joins every backend's status to the walsenders; this reads the
-- walsenders (pg_stat_get_wal_senders) and then only their own rows of
-- pg_stat_get_activity(pid), so it stays cheap with hundreds of sessions.

WITH /* pgvitals */ cur AS (
    SELECT CASE WHEN pg_is_in_recovery()
                THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                ELSE pg_current_wal_lsn()
           END AS lsn
)
SELECT w.pid::int4 AS pid,
       u.rolname::text AS usename,
       coalesce(a.application_name, '')::text AS application_name,
       host(a.client_addr) AS client_addr,
       w.state::text AS state,
       w.sync_state::text AS sync_state,
       w.sent_lsn::text AS sent_lsn,
       w.write_lsn::text AS write_lsn,
       w.flush_lsn::text AS flush_lsn,
       w.replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(cur.lsn, w.sent_lsn)::int8 AS sent_lag_bytes,
       pg_wal_lsn_diff(cur.lsn, w.write_lsn)::int8 AS write_lag_bytes,
       pg_wal_lsn_diff(cur.lsn, w.flush_lsn)::int8 AS flush_lag_bytes,
       pg_wal_lsn_diff(cur.lsn, w.replay_lsn)::int8 AS replay_lag_bytes,
       date_part('epoch', w.write_lag)::float8 AS write_lag_s,
       date_part('epoch', w.flush_lag)::float8 AS flush_lag_s,
       date_part('epoch', w.replay_lag)::float8 AS replay_lag_s,
       age(a.backend_xmin)::int8 AS backend_xmin_age,
       date_part('epoch', now() - w.reply_time)::float8 AS reply_age_s
  FROM pg_stat_get_wal_senders() AS w
 CROSS JOIN LATERAL pg_stat_get_activity(w.pid) AS a
  LEFT JOIN pg_roles AS u ON u.oid = a.usesysid
 CROSS JOIN cur
 ORDER BY a.application_name, w.pid
