-- cache: buffer cache hits and misses per database.
-- Reads: pg_stat_database (the shared-objects row, datname NULL, is left out). Privileges:
-- none beyond LOGIN. PostgreSQL 12+.
-- One row per database: collected_at float8 (epoch seconds, server clock), datname text,
--   blks_hit / blks_read int8 (counters, blocks: read = not found in shared_buffers),
--   hit_ratio float8 (lifetime blks_hit / (blks_hit + blks_read), 0..1; NULL without any
--   block access), stats_reset float8 (epoch seconds; NULL: never reset).
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at,
       d.datname::text AS datname,
       d.blks_hit::int8 AS blks_hit,
       d.blks_read::int8 AS blks_read,
       (d.blks_hit::float8 / nullif(d.blks_hit + d.blks_read, 0))::float8 AS hit_ratio,
       extract(epoch FROM d.stats_reset)::float8 AS stats_reset
  FROM pg_stat_database AS d
 WHERE d.datname IS NOT NULL
 ORDER BY d.datname
