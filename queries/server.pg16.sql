-- server: version, recovery, uptime, connection limits and transaction counters.
-- Reads: current_setting (server_version, server_version_num, max_connections,
-- superuser_reserved_connections, track_io_timing), pg_is_in_recovery(),
-- pg_postmaster_start_time(), pg_stat_database. Privileges: none beyond LOGIN. PostgreSQL 16+ (reserved_connections appeared in 16).
-- One row:
--   collected_at float8 (epoch seconds, server clock), server_version text,
--   server_version_num int4, in_recovery bool, uptime_s float8 (gauge, seconds),
--   datname text, max_connections / superuser_reserved_connections / reserved_connections
--   int4 (gauges), xact_commit / xact_rollback int8
--   (counters, transactions, summed over every database and the shared row),
--   track_io_timing bool (gauge, as this session sees it: pg_stat_statements' I/O times grow
--   only while it is on; a reload or a role/database setting changes it, so it is read with
--   every poll, where current_setting costs nothing, rather than once at connect).
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at,
       current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int4 AS server_version_num,
       pg_is_in_recovery() AS in_recovery,
       extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS uptime_s,
       current_database()::text AS datname,
       current_setting('max_connections')::int4 AS max_connections,
       current_setting('superuser_reserved_connections')::int4 AS superuser_reserved_connections,
       current_setting('reserved_connections')::int4 AS reserved_connections,
       current_setting('track_io_timing')::bool AS track_io_timing,
       d.xact_commit,
       d.xact_rollback
  FROM (SELECT coalesce(sum(xact_commit), 0)::int8 AS xact_commit,
               coalesce(sum(xact_rollback), 0)::int8 AS xact_rollback
          FROM pg_stat_database) AS d
