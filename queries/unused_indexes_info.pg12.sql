-- unused_indexes_info: how old the index statistics of this database are.
-- Reads: pg_stat_database (row of current_database()). Privileges: none.
-- One row (gauges): collected_at float8 (epoch seconds, server clock),
--   stats_reset_age_s float8 (seconds since stats_reset; NULL: never reset)
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at,
       (SELECT extract(epoch FROM now() - d.stats_reset)::float8
          FROM pg_stat_database d
         WHERE d.datname = current_database()) AS stats_reset_age_s
