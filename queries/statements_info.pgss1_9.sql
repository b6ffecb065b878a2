-- statements_info: when pg_stat_statements was last reset and how many entries it evicted.
-- Reads: @extschema@.pg_stat_statements_info (pg_stat_statements 1.9+, PostgreSQL 14+; there
-- is no such view before). Privileges: none beyond EXECUTE (granted to PUBLIC).
-- One row: stats_reset float8 (epoch seconds, gauge), dealloc int8 (counter, entries).
SELECT /* pgvitals */ extract(epoch FROM i.stats_reset)::float8 AS stats_reset,
       i.dealloc::int8 AS dealloc
  FROM @extschema@.pg_stat_statements_info AS i
