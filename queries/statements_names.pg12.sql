-- statements_names: role and database names by oid, to label pg_stat_statements entries.
-- Reads: pg_roles, pg_database. Privileges: none. Cached by the client and read again only
-- when an entry names an oid it does not know (at most once a minute).
-- One row per role and database: kind text ('role' or 'database'), oid, name text.
SELECT /* pgvitals */ 'role' AS kind, r.oid AS oid, r.rolname::text AS name FROM pg_roles AS r
UNION ALL
SELECT 'database', d.oid, d.datname::text FROM pg_database AS d
