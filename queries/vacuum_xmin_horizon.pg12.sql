-- vacuum_xmin_horizon: what holds the xmin horizon back (what VACUUM cannot clean up past),
-- oldest first, at most 50 rows. One row per holder:
--   backend_xmin / backend_xid: a backend's snapshot xmin or its own transaction ID, whichever
--     is older (pg_stat_activity; walsenders are left out, see standby_feedback; pgvitals'
--     own backend too), name = pid, detail = "user@db state, xact <s>s";
--   prepared_xact: pg_prepared_xacts, name = gid, detail = "owner@db, prepared <s>s ago";
--   replication_slot_xmin / replication_slot_catalog_xmin: pg_replication_slots, name =
--     slot_name, detail = "slot_type active|inactive [database]";
--   standby_feedback: pg_stat_replication.backend_xmin (hot_standby_feedback), name =
--     application_name, detail = "client_addr state".
-- Reads: pg_stat_activity, pg_prepared_xacts, pg_replication_slots,
--   pg_stat_get_wal_senders() + pg_stat_get_activity(pid) (pg_stat_replication's own
--   sources, per walsender), age(). The same on 12 to 18; works on a standby.
-- Privileges: pg_read_all_stats (pg_monitor) to see other roles' backend_xmin / backend_xid
--   and standby feedback.
-- Columns (gauges): kind text, name text, xmin_age int8 (age(xmin), transactions),
--   detail text
SELECT /* pgvitals */ h.kind, h.name, h.xmin_age, h.detail
  FROM (
    SELECT CASE WHEN a.backend_xid IS NOT NULL
                 AND (a.backend_xmin IS NULL OR age(a.backend_xid) >= age(a.backend_xmin))
                THEN 'backend_xid' ELSE 'backend_xmin' END AS kind,
           a.pid::text AS name,
           greatest(age(a.backend_xmin), age(a.backend_xid))::int8 AS xmin_age,
           coalesce(a.usename::text, '?') || '@' || coalesce(a.datname::text, '?') || ' '
             || coalesce(a.state, a.backend_type, '<insufficient privilege>')
             || coalesce(', xact ' || round(extract(epoch FROM now() - a.xact_start))::text || 's', '')
             AS detail
      FROM pg_stat_activity a
     WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL)
       AND a.pid <> pg_backend_pid()
       AND a.backend_type IS DISTINCT FROM 'walsender'
    UNION ALL
    SELECT 'prepared_xact', p.gid::text, age(p.transaction)::int8,
           p.owner::text || '@' || p.database::text || ', prepared '
             || round(extract(epoch FROM now() - p.prepared))::text || 's ago'
      FROM pg_prepared_xacts p
    UNION ALL
    SELECT 'replication_slot_xmin', s.slot_name::text, age(s.xmin)::int8,
           s.slot_type || CASE WHEN s.active THEN ' active' ELSE ' inactive' END
             || coalesce(' ' || s.database::text, '')
      FROM pg_replication_slots s
     WHERE s.xmin IS NOT NULL
    UNION ALL
    SELECT 'replication_slot_catalog_xmin', s.slot_name::text, age(s.catalog_xmin)::int8,
           s.slot_type || CASE WHEN s.active THEN ' active' ELSE ' inactive' END
             || coalesce(' ' || s.database::text, '')
      FROM pg_replication_slots s
     WHERE s.catalog_xmin IS NOT NULL
    UNION ALL
    -- pg_stat_replication without the view: it would build every backend's entry a second
    -- time (pg_stat_get_activity(NULL)); per walsender pid it builds one
    SELECT 'standby_feedback', coalesce(r.application_name, '')::text, age(r.backend_xmin)::int8,
           coalesce(host(r.client_addr), 'local') || ' ' || coalesce(w.state, '')
      FROM pg_stat_get_wal_senders() AS w
     CROSS JOIN LATERAL pg_stat_get_activity(w.pid) AS r
     WHERE r.backend_xmin IS NOT NULL
  ) h
 ORDER BY h.xmin_age DESC, h.kind, h.name
 LIMIT 50
