-- vacuum_dead_tuples: the 20 user tables of the CURRENT database with the most dead tuples.
-- Reads: pg_stat_user_tables. Privileges: none.
-- Columns: schemaname text, relname text, n_live_tup int8 / n_dead_tup int8 (gauges,
--   estimates, tuples), dead_tup_ratio float8 (n_dead_tup / (n_live_tup + n_dead_tup), 0..1;
--   NULL when both are 0), last_vacuum_age_s / last_autovacuum_age_s / last_analyze_age_s /
--   last_autoanalyze_age_s float8 (seconds since each; NULL: never)
SELECT /* pgvitals */ s.schemaname::text AS schemaname,
       s.relname::text AS relname,
       s.n_live_tup::int8 AS n_live_tup,
       s.n_dead_tup::int8 AS n_dead_tup,
       (s.n_dead_tup::float8 / nullif(s.n_live_tup + s.n_dead_tup, 0))::float8 AS dead_tup_ratio,
       extract(epoch FROM now() - s.last_vacuum)::float8 AS last_vacuum_age_s,
       extract(epoch FROM now() - s.last_autovacuum)::float8 AS last_autovacuum_age_s,
       extract(epoch FROM now() - s.last_analyze)::float8 AS last_analyze_age_s,
       extract(epoch FROM now() - s.last_autoanalyze)::float8 AS last_autoanalyze_age_s
  FROM pg_stat_user_tables s
 WHERE s.n_dead_tup > 0
 ORDER BY s.n_dead_tup DESC, s.schemaname, s.relname
 LIMIT 20
