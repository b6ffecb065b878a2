-- replication_slots: every replication slot (physical and logical, temporary included) and
-- the WAL it keeps. "Current" is pg_current_wal_lsn() on a primary and, during recovery,
-- the newest WAL this server has (greatest of pg_last_wal_receive_lsn() and
-- pg_last_wal_replay_lsn()): a standby can have slots, and pg_current_wal_lsn() fails there.
-- Reads: pg_replication_slots (PostgreSQL 12: no wal_status / safe_wal_size, see .pg13),
--   pg_is_in_recovery(), pg_current_wal_lsn(), pg_last_wal_receive_lsn(),
--   pg_last_wal_replay_lsn(). Privileges: none.
-- Columns (all gauges): slot_name text, slot_type text (physical | logical), plugin text,
--   database text, temporary bool, active bool, active_pid int4,
--   retained_wal_bytes int8 (current LSN - restart_lsn, bytes; NULL when restart_lsn is),
--   wal_status text (NULL before 13), safe_wal_size_bytes int8 (NULL before 13),
--   xmin_age int8 / catalog_xmin_age int8 (transactions), inactive_since_age_s float8
--   (NULL before 17)
WITH /* pgvitals */ cur AS (
    SELECT CASE WHEN pg_is_in_recovery()
                THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                ELSE pg_current_wal_lsn()
           END AS lsn
)
SELECT s.slot_name::text AS slot_name,
       s.slot_type::text AS slot_type,
       s.plugin::text AS plugin,
       s.database::text AS database,
       s.temporary,
       s.active,
       s.active_pid::int4 AS active_pid,
       pg_wal_lsn_diff(cur.lsn, s.restart_lsn)::int8 AS retained_wal_bytes,
       NULL::text AS wal_status,
       NULL::int8 AS safe_wal_size_bytes,
       age(s.xmin)::int8 AS xmin_age,
       age(s.catalog_xmin)::int8 AS catalog_xmin_age,
       NULL::float8 AS inactive_since_age_s
  FROM pg_replication_slots s
 CROSS JOIN cur
 ORDER BY s.slot_name
