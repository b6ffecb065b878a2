-- unused_indexes: the largest indexes of the current database never scanned since the
-- statistics were reset (idx_scan = 0), leaving out indexes that back a primary key, a
-- unique index and any index that backs a constraint (pg_constraint.conindid: unique,
-- primary key, exclusion), with the count and estimated size of all of them.
-- Cost (the query is bounded by $1, the number of rows listed): candidates are ranked by
-- the planner's estimate (pg_class.relpages × block_size: no lock, no file access, no
-- relcache entry); exact sizes (pg_relation_size, pg_table_size: they open the relation and
-- stat its files) are taken only for the $1 rows listed. pg_constraint has no index on
-- conindid, so the constraint check is a hashed NOT IN, never a nested loop. Measured at
-- 50,000 indexes on 10,000 tables: see README "What it costs".
-- Never waits behind an ACCESS EXCLUSIVE lock: the size functions take an AccessShareLock,
-- so an index whose index or table has an AccessExclusiveLock granted or requested in
-- pg_locks is not listed (counted in skipped_locked; its estimate still counts in the
-- totals); the session's lock_timeout covers a lock taken in between.
-- Reads: pg_index, pg_class, pg_namespace, pg_constraint, pg_locks, pg_database,
--   pg_stat_get_numscans(), pg_stat_get_lastscan() (the functions behind
--   pg_stat_user_indexes.idx_scan / last_idx_scan), pg_relation_size(), pg_table_size().
--   PostgreSQL 16+ (with last_idx_scan). Privileges: none.
-- Parameter: $1 int8, the number of indexes listed (largest estimate first).
-- Every row carries the totals; with no index to list, one row with NULL indexrelid.
-- Columns: indexes_total int8 (every unused index, locked ones included),
--   index_size_bytes_total int8 (gauge, bytes, estimate: sum of relpages × block_size),
--   skipped_locked int8 (unused indexes not listed because of an AccessExclusiveLock),
--   indexrelid oid, schemaname text, relname text, indexrelname text,
--   idx_scan int8 (counter, always 0 here), index_size_bytes int8 (gauge, bytes, exact),
--   table_size_bytes int8 (gauge, bytes, pg_table_size: heap + TOAST + FSM/VM, exact),
--   last_idx_scan_age_s float8 (seconds since last_idx_scan; NULL: never),
--   is_valid bool (pg_index.indisvalid)
WITH /* pgvitals */ locked AS (
    SELECT l.relation
      FROM pg_locks l
     WHERE l.locktype = 'relation'
       AND l.mode = 'AccessExclusiveLock'
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
), indexes AS MATERIALIZED (
    -- every index of a user table that could be unused, without the statistics: estimated
    -- as what it is (thousands of rows), so the join is a hash join, not thousands of index
    -- probes (the statistics filter below is one the planner cannot estimate). An index is
    -- in its table's schema; relkind 'i' leaves out partitioned indexes (no statistics).
    SELECT ic.oid AS indexrelid, i.indrelid, ic.relpages::int8 AS relpages, i.indisvalid
      FROM pg_class ic
      JOIN pg_index i ON i.indexrelid = ic.oid
     WHERE ic.relkind = 'i'
       AND ic.relnamespace NOT IN (SELECT n.oid FROM pg_namespace n
                                    WHERE n.nspname IN ('pg_catalog', 'information_schema')
                                       OR n.nspname ~ '^pg_toast')
       AND NOT i.indisprimary
       AND NOT i.indisunique
       AND ic.oid NOT IN (SELECT c.conindid FROM pg_constraint c WHERE c.conindid <> 0)
), candidates AS MATERIALIZED (
    SELECT x.indexrelid, x.indrelid, x.relpages, x.indisvalid,
           (x.indexrelid IN (SELECT relation FROM locked)
            OR x.indrelid IN (SELECT relation FROM locked)) AS locked
      FROM indexes x
     WHERE pg_stat_get_numscans(x.indexrelid) = 0
), totals AS (
    SELECT count(*)::int8 AS indexes_total,
           (coalesce(sum(relpages), 0) * current_setting('block_size')::int8)::int8
             AS index_size_bytes_total,
           (count(*) FILTER (WHERE locked))::int8 AS skipped_locked
      FROM candidates
), listed AS (
    SELECT c.indexrelid, c.indrelid, c.indisvalid
      FROM candidates c
     WHERE NOT c.locked
     ORDER BY c.relpages DESC, c.indexrelid
     LIMIT $1
)
SELECT t.indexes_total, t.index_size_bytes_total, t.skipped_locked,
       l.indexrelid,
       n.nspname::text AS schemaname,
       tc.relname::text AS relname,
       ic.relname::text AS indexrelname,
       pg_stat_get_numscans(l.indexrelid)::int8 AS idx_scan,
       pg_relation_size(l.indexrelid)::int8 AS index_size_bytes,
       pg_table_size(l.indrelid)::int8 AS table_size_bytes,
       extract(epoch FROM now() - pg_stat_get_lastscan(l.indexrelid))::float8 AS last_idx_scan_age_s,
       l.indisvalid AS is_valid
  FROM totals t
  LEFT JOIN listed l ON true
  LEFT JOIN pg_class ic ON ic.oid = l.indexrelid
  LEFT JOIN pg_class tc ON tc.oid = l.indrelid
  LEFT JOIN pg_namespace n ON n.oid = tc.relnamespace
 ORDER BY index_size_bytes DESC NULLS LAST, schemaname, indexrelname
