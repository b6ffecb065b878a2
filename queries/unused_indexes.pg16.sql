-- unused_indexes: indexes of the current database never scanned since the statistics were
-- reset (idx_scan = 0), leaving out indexes that back a primary key, a unique index and any
-- index that backs a constraint (pg_constraint.conindid: unique, primary key, exclusion).
-- Never waits behind an ACCESS EXCLUSIVE lock: pg_relation_size / pg_table_size take an
-- AccessShareLock, so a row whose index or table has an AccessExclusiveLock granted or
-- requested in pg_locks comes back with locked = true and NULL sizes (the collector counts
-- it in skipped_locked); the session's lock_timeout covers a lock taken in between.
-- Reads: pg_stat_user_indexes, pg_index, pg_constraint, pg_locks, pg_database,
--   pg_relation_size(), pg_table_size(). PostgreSQL 16+ (with last_idx_scan).
-- Privileges: none (pg_locks and the statistics views are readable by every role).
-- Columns: indexrelid oid, schemaname text, relname text, indexrelname text,
--   idx_scan int8 (counter, always 0 here), index_size_bytes int8 (gauge, bytes),
--   table_size_bytes int8 (gauge, bytes, pg_table_size: heap + TOAST + FSM/VM),
--   last_idx_scan_age_s float8 (seconds since last_idx_scan; NULL: never), is_valid bool (pg_index.indisvalid),
--   locked bool (an AccessExclusiveLock is held or awaited: sizes NULL)
WITH /* pgvitals */ locked AS (
    SELECT DISTINCT l.relation
      FROM pg_locks l
     WHERE l.locktype = 'relation'
       AND l.mode = 'AccessExclusiveLock'
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
), candidates AS (
    SELECT s.indexrelid, s.relid, s.schemaname, s.relname, s.indexrelname, s.idx_scan, s.last_idx_scan,
           i.indisvalid,
           (s.indexrelid IN (SELECT relation FROM locked)
            OR s.relid IN (SELECT relation FROM locked)) AS locked
      FROM pg_stat_user_indexes s
      JOIN pg_index i ON i.indexrelid = s.indexrelid
     WHERE s.idx_scan = 0
       AND NOT i.indisprimary
       AND NOT i.indisunique
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
)
SELECT c.indexrelid,
       c.schemaname::text AS schemaname,
       c.relname::text AS relname,
       c.indexrelname::text AS indexrelname,
       c.idx_scan::int8 AS idx_scan,
       CASE WHEN NOT c.locked THEN pg_relation_size(c.indexrelid)::int8 END AS index_size_bytes,
       CASE WHEN NOT c.locked THEN pg_table_size(c.relid)::int8 END AS table_size_bytes,
       extract(epoch FROM now() - c.last_idx_scan)::float8 AS last_idx_scan_age_s,
       c.indisvalid AS is_valid,
       c.locked
  FROM candidates c
 ORDER BY c.locked, index_size_bytes DESC NULLS LAST, c.schemaname, c.indexrelname
