-- vacuum_oldest_tables: the 20 tables of the CURRENT database (system catalogs included)
-- with the oldest relfrozenxid, counting each table's TOAST table, and a size estimate that
-- takes no lock (relpages × block_size, as of the last VACUUM / ANALYZE).
-- Read at most once a minute (the ages move slowly; at 10,000 tables it is the costliest
-- vacuum query). Reads: pg_class, pg_namespace, age(), mxid_age(). Works on a standby.
-- Privileges: none.
-- Columns (gauges): schemaname text, relname text, xid_age int8 (transactions),
--   mxid_age int8 (multixacts), table_size_bytes int8 (bytes, estimate)
WITH /* pgvitals */ oldest AS (
    -- ranked on oids and ages only (names are joined for the 20 kept); the TOAST side is
    -- only TOAST tables (a tenth of pg_class), not every relation
    SELECT c.oid,
           greatest(age(c.relfrozenxid), age(t.relfrozenxid))::int8 AS xid_age,
           greatest(mxid_age(c.relminmxid), mxid_age(t.relminmxid))::int8 AS mxid_age,
           (c.relpages::int8 * current_setting('block_size')::int8) AS table_size_bytes
      FROM pg_class c
      LEFT JOIN (SELECT x.oid, x.relfrozenxid, x.relminmxid
                   FROM pg_class x WHERE x.relkind = 't') AS t ON t.oid = c.reltoastrelid
     WHERE c.relkind IN ('r', 'm')
     ORDER BY xid_age DESC, mxid_age DESC, c.oid
     LIMIT 20
)
SELECT n.nspname::text AS schemaname,
       c.relname::text AS relname,
       o.xid_age,
       o.mxid_age,
       o.table_size_bytes
  FROM oldest o
  JOIN pg_class c ON c.oid = o.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 ORDER BY o.xid_age DESC, o.mxid_age DESC, n.nspname, c.relname
