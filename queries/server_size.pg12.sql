-- server_size: the size of every database the role may connect to (slow timer, at most once
-- a minute: pg_database_size stats every file of every database).
-- Reads: pg_database, pg_database_size(), has_database_privilege(). Privileges: CONNECT on
-- each database counted (databases without it are skipped, not an error). PostgreSQL 12+.
-- One row: database_size_bytes int8 (gauge, bytes; NULL when no database is visible).
SELECT /* pgvitals */ sum(pg_database_size(d.oid))::int8 AS database_size_bytes
  FROM pg_database AS d
 WHERE has_database_privilege(d.oid, 'CONNECT')
