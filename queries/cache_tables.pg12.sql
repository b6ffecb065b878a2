-- cache_tables: the 200 tables of the current database with the most block reads (heap +
-- indexes + TOAST), lifetime.
-- Reads: pg_statio_user_tables. Privileges: none beyond LOGIN (the view lists every user
-- table of the current database). PostgreSQL 12+.
-- One row per table: relid oid, schemaname text, relname text, heap_blks_read /
--   heap_blks_hit / idx_blks_read / idx_blks_hit int8 (counters, blocks; indexes 0 when the
--   table has none), toast_blks_read / toast_blks_hit int8 (counters, blocks: the TOAST
--   table and its index together; 0 without TOAST), hit_ratio float8 (lifetime, heap +
--   indexes + TOAST, 0..1; NULL without any block access).
SELECT /* pgvitals */ t.relid::oid AS relid,
       t.schemaname::text AS schemaname,
       t.relname::text AS relname,
       t.heap_blks_read::int8 AS heap_blks_read,
       t.heap_blks_hit::int8 AS heap_blks_hit,
       t.idx_blks_read::int8 AS idx_blks_read,
       t.idx_blks_hit::int8 AS idx_blks_hit,
       t.toast_blks_read::int8 AS toast_blks_read,
       t.toast_blks_hit::int8 AS toast_blks_hit,
       (t.blks_hit::float8 / nullif(t.blks_hit + t.blks_read, 0))::float8 AS hit_ratio
  FROM (SELECT relid, schemaname, relname,
               coalesce(heap_blks_read, 0) AS heap_blks_read,
               coalesce(heap_blks_hit, 0) AS heap_blks_hit,
               coalesce(idx_blks_read, 0) AS idx_blks_read,
               coalesce(idx_blks_hit, 0) AS idx_blks_hit,
               coalesce(toast_blks_read, 0) + coalesce(tidx_blks_read, 0) AS toast_blks_read,
               coalesce(toast_blks_hit, 0) + coalesce(tidx_blks_hit, 0) AS toast_blks_hit,
               coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0)
                 + coalesce(toast_blks_read, 0) + coalesce(tidx_blks_read, 0) AS blks_read,
               coalesce(heap_blks_hit, 0) + coalesce(idx_blks_hit, 0)
                 + coalesce(toast_blks_hit, 0) + coalesce(tidx_blks_hit, 0) AS blks_hit
          FROM pg_statio_user_tables) AS t
 ORDER BY t.blks_read DESC, t.relid
 LIMIT 200
