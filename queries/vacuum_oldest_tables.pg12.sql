-- vacuum_oldest_tables: the 20 tables of the CURRENT database (system catalogs included)
-- with the oldest relfrozenxid, counting each table's TOAST table, and a size estimate that
-- takes no lock (relpages × block_size, as of the last VACUUM / ANALYZE).
-- Reads: pg_class, pg_namespace, age(), mxid_age(). Works on a standby. Privileges: none.
-- Columns (gauges): schemaname text, relname text, xid_age int8 (transactions),
--   mxid_age int8 (multixacts), table_size_bytes int8 (bytes, estimate)
SELECT /* pgvitals */ n.nspname::text AS schemaname,
       c.relname::text AS relname,
       greatest(age(c.relfrozenxid), age(t.relfrozenxid))::int8 AS xid_age,
       greatest(mxid_age(c.relminmxid), mxid_age(t.relminmxid))::int8 AS mxid_age,
       (c.relpages::int8 * current_setting('block_size')::int8) AS table_size_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
 WHERE c.relkind IN ('r', 'm')
 ORDER BY xid_age DESC, mxid_age DESC, n.nspname, c.relname
 LIMIT 20
