-- cache_tables: the block counters of the tables cache_tables_rank chose ($1), heap,
-- indexes and TOAST, lifetime (the client turns them into rates between two reads).
-- Cost: only the $1 tables (at most top_n, 50 by default), looked up by oid; the functions
-- behind pg_statio_user_tables called directly (no relation opened, no lock taken).
-- Reads: pg_class, pg_namespace, pg_index, pg_stat_get_blocks_fetched(),
--   pg_stat_get_blocks_hit(). Privileges: none beyond LOGIN. PostgreSQL 12+.
-- Parameter: $1 oid[], the tables (a table dropped since the ranking is simply missing).
-- One row per table: relid oid, schemaname text, relname text, heap_blks_read /
--   heap_blks_hit / idx_blks_read / idx_blks_hit int8 (counters, blocks; indexes 0 when the
--   table has none), toast_blks_read / toast_blks_hit int8 (counters, blocks: the TOAST
--   table and its indexes together; 0 without TOAST), hit_ratio float8 (lifetime, heap +
--   indexes + TOAST, 0..1; NULL without any block access).
WITH /* pgvitals */ counters AS (
    SELECT c.oid AS relid, n.nspname AS schemaname, c.relname,
           pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid) AS heap_blks_read,
           pg_stat_get_blocks_hit(c.oid) AS heap_blks_hit,
           coalesce((SELECT sum(pg_stat_get_blocks_fetched(i.indexrelid)
                                - pg_stat_get_blocks_hit(i.indexrelid))
                       FROM pg_index i WHERE i.indrelid = c.oid), 0) AS idx_blks_read,
           coalesce((SELECT sum(pg_stat_get_blocks_hit(i.indexrelid))
                       FROM pg_index i WHERE i.indrelid = c.oid), 0) AS idx_blks_hit,
           coalesce((SELECT pg_stat_get_blocks_fetched(c.reltoastrelid)
                            - pg_stat_get_blocks_hit(c.reltoastrelid)
                            + coalesce(sum(pg_stat_get_blocks_fetched(x.indexrelid)
                                           - pg_stat_get_blocks_hit(x.indexrelid)), 0)
                       FROM pg_index x WHERE x.indrelid = c.reltoastrelid
                      HAVING c.reltoastrelid <> 0), 0) AS toast_blks_read,
           coalesce((SELECT pg_stat_get_blocks_hit(c.reltoastrelid)
                            + coalesce(sum(pg_stat_get_blocks_hit(x.indexrelid)), 0)
                       FROM pg_index x WHERE x.indrelid = c.reltoastrelid
                      HAVING c.reltoastrelid <> 0), 0) AS toast_blks_hit
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = ANY ($1::oid[])
)
SELECT t.relid::oid AS relid,
       t.schemaname::text AS schemaname,
       t.relname::text AS relname,
       t.heap_blks_read::int8 AS heap_blks_read,
       t.heap_blks_hit::int8 AS heap_blks_hit,
       t.idx_blks_read::int8 AS idx_blks_read,
       t.idx_blks_hit::int8 AS idx_blks_hit,
       t.toast_blks_read::int8 AS toast_blks_read,
       t.toast_blks_hit::int8 AS toast_blks_hit,
       ((t.heap_blks_hit + t.idx_blks_hit + t.toast_blks_hit)::float8
        / nullif(t.heap_blks_hit + t.idx_blks_hit + t.toast_blks_hit
                 + t.heap_blks_read + t.idx_blks_read + t.toast_blks_read, 0))::float8 AS hit_ratio
  FROM counters t
 ORDER BY t.heap_blks_read + t.idx_blks_read + t.toast_blks_read DESC, t.relid
