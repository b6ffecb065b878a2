-- server_now: the server clock, for a poll whose own query returned no row.
-- Reads: now(). Privileges: none. PostgreSQL 12+.
-- One row: collected_at float8 (epoch seconds, server clock).
SELECT /* pgvitals */ extract(epoch FROM now())::float8 AS collected_at
