-- statements: the numbers of every pg_stat_statements entry, without texts (showtext :=
-- false, so the query text file is not read). Texts come from statements_text, once per key.
-- Reads: @extschema@.pg_stat_statements(false) only (role and database names come from
-- statements_names, cached by the client: joining them here doubled the cost). Privileges: entries
-- of other roles need pg_read_all_stats (pg_monitor), else their queryid is NULL and they are
-- left out. Needs pg_stat_statements in shared_preload_libraries (else SQLSTATE 55000).
-- pg_stat_statements 1.11+ (PostgreSQL 17+): stats_since (a change means the entry was
-- evicted and re-created); blk_read_time / blk_write_time are renamed shared_blk_read_time /
-- shared_blk_write_time (and count shared blocks only); jit_deform_time is new.
-- One row per entry: collected_at float8 (epoch seconds, server clock), userid oid, dbid
--   oid, queryid int8, toplevel bool, calls int8 (counter),
--   total_exec_time_ms float8 (counter, ms), mean_exec_time_ms float8 (lifetime mean, ms),
--   total_plan_time_ms float8 (counter, ms), rows int8 (counter),
--   shared_blks_hit / shared_blks_read / temp_blks_read / temp_blks_written int8 (counters,
--   blocks), shared_blk_read_time_ms / shared_blk_write_time_ms float8 (counters, ms;
--   shared_blk_read_time / shared_blk_write_time: shared blocks only; not counted while track_io_timing is off),
--   temp_blk_read_time_ms / temp_blk_write_time_ms float8 (counters, ms; 1.10+),
--   wal_records / wal_fpi / wal_bytes int8 (counters: WAL records, full-page images, bytes;
--   1.8+), jit_time_ms float8 (counter, ms: jit_generation_time + jit_inlining_time
--   + jit_optimization_time + jit_emission_time, EXPLAIN's JIT "Total"; jit_deform_time is part of jit_generation_time;
--   1.10+), stats_since float8 (epoch seconds).
SELECT /* pgvitals */ (SELECT extract(epoch FROM now())::float8) AS collected_at,
       s.userid::oid AS userid,
       s.dbid::oid AS dbid,
       s.queryid::int8 AS queryid,
       s.toplevel AS toplevel,
       s.calls::int8 AS calls,
       s.total_exec_time::float8 AS total_exec_time_ms,
       s.mean_exec_time::float8 AS mean_exec_time_ms,
       s.total_plan_time::float8 AS total_plan_time_ms,
       s.rows::int8 AS rows,
       s.shared_blks_hit::int8 AS shared_blks_hit,
       s.shared_blks_read::int8 AS shared_blks_read,
       s.temp_blks_read::int8 AS temp_blks_read,
       s.temp_blks_written::int8 AS temp_blks_written,
       s.shared_blk_read_time::float8 AS shared_blk_read_time_ms,
       s.shared_blk_write_time::float8 AS shared_blk_write_time_ms,
       s.temp_blk_read_time::float8 AS temp_blk_read_time_ms,
       s.temp_blk_write_time::float8 AS temp_blk_write_time_ms,
       s.wal_records::int8 AS wal_records,
       s.wal_fpi::int8 AS wal_fpi,
       s.wal_bytes::int8 AS wal_bytes,
       (s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time
        + s.jit_emission_time)::float8 AS jit_time_ms,
       date_part('epoch', s.stats_since)::float8 AS stats_since
  FROM @extschema@.pg_stat_statements(false) AS s
 WHERE s.queryid IS NOT NULL
