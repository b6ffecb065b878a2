-- activity_settings: the connection limits the activity panel measures against. All three
-- are postmaster settings (they change only with a restart): read on the collector's first
-- poll and again only when pg_postmaster_start_time() differs from the one read with them.
-- Reads: current_setting (max_connections, superuser_reserved_connections). Privileges: none.
-- PostgreSQL 12-15 (reserved_connections is 16+: 0 here). One row, gauges, connections:
--   max_connections int4, superuser_reserved_connections int4, reserved_connections int4,
--   postmaster_start timestamptz.
SELECT /* pgvitals */ current_setting('max_connections')::int4 AS max_connections,
       current_setting('superuser_reserved_connections')::int4 AS superuser_reserved_connections,
       0::int4 AS reserved_connections,
       pg_postmaster_start_time() AS postmaster_start
