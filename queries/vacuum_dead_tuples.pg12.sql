-- vacuum_dead_tuples: the 20 user tables of the CURRENT database with the most dead tuples.
-- Cost: the dead-tuple count (pg_stat_get_dead_tuples, the function behind
-- pg_stat_user_tables.n_dead_tup) is read for every user table and only the 20 kept get the
-- other columns; not the view, which computes its twenty-odd columns for every table
-- (measured at 10,000 tables: see README "What it costs"). No relation is opened.
-- Reads: pg_class, pg_namespace, pg_stat_get_dead_tuples(), pg_stat_get_live_tuples(),
--   pg_stat_get_last_(auto)vacuum_time(), pg_stat_get_last_(auto)analyze_time().
--   PostgreSQL 12+. Privileges: none.
-- Columns: schemaname text, relname text, n_live_tup int8 / n_dead_tup int8 (gauges,
--   estimates, tuples), dead_tup_ratio float8 (n_dead_tup / (n_live_tup + n_dead_tup), 0..1;
--   NULL when both are 0), last_vacuum_age_s / last_autovacuum_age_s / last_analyze_age_s /
--   last_autoanalyze_age_s float8 (seconds since each; NULL: never)
WITH /* pgvitals */ dead AS (
    SELECT c.oid AS relid, pg_stat_get_dead_tuples(c.oid) AS n_dead_tup
      FROM pg_class c
     WHERE c.relkind IN ('r', 'm')
       AND c.relnamespace NOT IN (SELECT n.oid FROM pg_namespace n
                                   WHERE n.nspname IN ('pg_catalog', 'information_schema')
                                      OR n.nspname ~ '^pg_toast')
       AND pg_stat_get_dead_tuples(c.oid) > 0
     ORDER BY n_dead_tup DESC, c.oid
     LIMIT 20
), s AS (
    SELECT n.nspname AS schemaname, c.relname, d.n_dead_tup,
           pg_stat_get_live_tuples(d.relid) AS n_live_tup,
           pg_stat_get_last_vacuum_time(d.relid) AS last_vacuum,
           pg_stat_get_last_autovacuum_time(d.relid) AS last_autovacuum,
           pg_stat_get_last_analyze_time(d.relid) AS last_analyze,
           pg_stat_get_last_autoanalyze_time(d.relid) AS last_autoanalyze
      FROM dead d
      JOIN pg_class c ON c.oid = d.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
)
SELECT s.schemaname::text AS schemaname,
       s.relname::text AS relname,
       s.n_live_tup::int8 AS n_live_tup,
       s.n_dead_tup::int8 AS n_dead_tup,
       (s.n_dead_tup::float8 / nullif(s.n_live_tup + s.n_dead_tup, 0))::float8 AS dead_tup_ratio,
       extract(epoch FROM now() - s.last_vacuum)::float8 AS last_vacuum_age_s,
       extract(epoch FROM now() - s.last_autovacuum)::float8 AS last_autovacuum_age_s,
       extract(epoch FROM now() - s.last_analyze)::float8 AS last_analyze_age_s,
       extract(epoch FROM now() - s.last_autoanalyze)::float8 AS last_autoanalyze_age_s
  FROM s
 ORDER BY s.n_dead_tup DESC, s.schemaname, s.relname
