-- vacuum_settings: the autovacuum limits the wraparound percentages are measured against,
-- and the server version (the wraparound stop limits depend on the major).
-- Reads: current_setting(). Privileges: none.
-- One row (gauges): collected_at float8 (epoch seconds, server clock),
--   autovacuum_freeze_max_age int8 (transactions), autovacuum_multixact_freeze_max_age int8
--   (multixacts), autovacuum_max_workers int4, server_version_num int4 (e.g. 150018)
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at,
       current_setting('autovacuum_freeze_max_age')::int8 AS autovacuum_freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::int8 AS autovacuum_multixact_freeze_max_age,
       current_setting('autovacuum_max_workers')::int4 AS autovacuum_max_workers,
       current_setting('server_version_num')::int4 AS server_version_num
