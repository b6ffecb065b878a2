-- vacuum_databases: every database's transaction ID and multixact wraparound age.
-- Reads: pg_database (datfrozenxid, datminmxid), age(), mxid_age(), current_setting().
--   Works on a standby. Privileges: none.
-- Columns (gauges): datname text, xid_age int8 (age(datfrozenxid), transactions),
--   mxid_age int8 (mxid_age(datminmxid), multixacts), xid_freeze_max_age_pct float8 (% of
--   autovacuum_freeze_max_age), xid_wraparound_pct float8 (% of 2^31 = 2147483648),
--   mxid_freeze_max_age_pct float8 (% of autovacuum_multixact_freeze_max_age),
--   mxid_wraparound_pct float8 (% of 2^31)
SELECT /* pgvitals */ d.datname::text AS datname,
       age(d.datfrozenxid)::int8 AS xid_age,
       mxid_age(d.datminmxid)::int8 AS mxid_age,
       (100.0 * age(d.datfrozenxid)
          / current_setting('autovacuum_freeze_max_age')::float8)::float8 AS xid_freeze_max_age_pct,
       (100.0 * age(d.datfrozenxid) / 2147483648.0)::float8 AS xid_wraparound_pct,
       (100.0 * mxid_age(d.datminmxid)
          / current_setting('autovacuum_multixact_freeze_max_age')::float8)::float8 AS mxid_freeze_max_age_pct,
       (100.0 * mxid_age(d.datminmxid) / 2147483648.0)::float8 AS mxid_wraparound_pct
  FROM pg_database d
 ORDER BY age(d.datfrozenxid) DESC, d.datname
