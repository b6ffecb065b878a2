-- cache_tables_rank: which tables the cache panel follows: the $1 user tables of the current
-- database with the most block reads (heap + indexes, lifetime), and how many user tables
-- there are. Run on a slow timer (once a minute): it touches every table's and index's
-- statistics entry; the counters of the ranked tables are then read every few seconds by
-- cache_tables.
-- Cost: one pass over pg_class (tables) and one over pg_index, calling the functions behind
-- pg_statio_user_tables directly (pg_stat_get_blocks_fetched / _hit: no relation is opened,
-- no lock is taken); not the view itself, whose per-table join of indexes and TOAST costs
-- several times more at 50,000 indexes. TOAST reads are left out of the ranking (they are
-- in cache_tables' counters).
-- Reads: pg_class, pg_index, pg_namespace, pg_stat_get_blocks_fetched(),
--   pg_stat_get_blocks_hit(). Privileges: none beyond LOGIN. PostgreSQL 12+.
-- Parameter: $1 int8, the number of tables ranked.
-- Every row carries the total; with no user table, one row with NULL relid.
-- Columns: tables_total int8 (user tables: relkind r, m; the rows of pg_statio_user_tables
--   less its TOAST tables), relid oid (NULL: no table), blks_read int8 (counter, blocks,
--   heap + indexes, lifetime: the rank).
WITH /* pgvitals */ tables AS MATERIALIZED (
    SELECT c.oid AS relid
      FROM pg_class c
     WHERE c.relkind IN ('r', 'm')
       AND c.relnamespace NOT IN (SELECT n.oid FROM pg_namespace n
                                   WHERE n.nspname IN ('pg_catalog', 'information_schema')
                                      OR n.nspname ~ '^pg_toast')
), reads AS (
    SELECT t.relid,
           pg_stat_get_blocks_fetched(t.relid) - pg_stat_get_blocks_hit(t.relid) AS blks_read
      FROM tables t
    UNION ALL
    SELECT i.indrelid,
           pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid)
      FROM pg_index i
     WHERE i.indrelid IN (SELECT relid FROM tables)
), ranked AS (
    SELECT r.relid, sum(r.blks_read)::int8 AS blks_read
      FROM reads r
     GROUP BY r.relid
     ORDER BY blks_read DESC, r.relid
     LIMIT $1
)
SELECT (SELECT count(*) FROM tables)::int8 AS tables_total, k.relid, k.blks_read
  FROM (SELECT 1) AS one
  LEFT JOIN ranked k ON true
 ORDER BY k.blks_read DESC, k.relid
