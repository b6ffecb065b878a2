-- statements_text: the query texts of the given queryids, fetched once per new entry key
-- (pg_stat_statements(true) reads the whole query text file, so it never runs every poll).
-- Reads: @extschema@.pg_stat_statements(true). Privileges: as statements; texts of other
-- roles need pg_read_all_stats (else '<insufficient privilege>'). Entries of other databases
-- are converted to this database's encoding; a byte that does not convert fails the whole
-- query (SQLSTATE 22021 / 22P05). pg_stat_statements 1.4 to 1.8: no toplevel (reads true).
-- Parameter $1 int8[]: the queryids wanted.
-- One row per matching entry: userid oid, dbid oid, queryid int8, toplevel bool,
--   query text (normalized; cut to its first 65536 characters).
SELECT /* pgvitals */ s.userid::oid AS userid,
       s.dbid::oid AS dbid,
       s.queryid::int8 AS queryid,
       true AS toplevel,
       left(s.query, 65536) AS query
  FROM @extschema@.pg_stat_statements(true) AS s
 WHERE s.queryid = ANY ($1::int8[])
