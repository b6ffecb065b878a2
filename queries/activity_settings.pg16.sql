-- activity_settings: the connection limits the activity panel measures against. All three
-- are postmaster settings (they change only with a restart): read on the collector's first
-- poll and again only when pg_postmaster_start_time() differs from the one read with them.
-- Reads: current_setting (max_connections, superuser_reserved_connections, reserved_connections). Privileges: none.
-- PostgreSQL 16+ (reserved_connections appeared in 16). One row, gauges, connections:
--   max_connections int4, superuser_reserved_connections int4, reserved_connections int4,
--   postmaster_start timestamptz.
SELECT /* pgvitals */ current_setting('max_connections')::int4 AS max_connections,
       current_setting('superuser_reserved_connections')::int4 AS superuser_reserved_connections,
       current_setting('reserved_connections')::int4 AS reserved_connections,
       pg_postmaster_start_time() AS postmaster_start
