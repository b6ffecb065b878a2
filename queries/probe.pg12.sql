-- probe: what pgvitals must know about a server before choosing its queries.
-- Reads: pg_settings, pg_roles, pg_extension, pg_available_extensions. Privileges: none
-- beyond LOGIN. One row; every column is a gauge.
--   server_version_num int4, in_recovery bool, current_user text, datname text,
--   backend_pid int4, is_superuser bool, pg_monitor / pg_read_all_stats / pg_signal_backend
--   bool (membership, inherited), pgss_schema text (NULL: not installed here),
--   pgss_version text, pgss_default_version text, pgss_preloaded bool, block_size int4,
--   control_readable bool (EXECUTE on pg_control_system(), public unless revoked: then the
--   probe reads the system identifier next).
-- shared_preload_libraries is visible only to superusers and pg_read_all_settings (pg_monitor):
-- for other roles pg_settings hides the row, and pgss_preloaded falls back to whether the
-- library's own setting pg_stat_statements.max exists (it is defined only when preloaded).
SELECT /* pgvitals */ current_setting('server_version_num')::int4 AS server_version_num,
       pg_is_in_recovery() AS in_recovery,
       current_user::text AS current_user,
       current_database()::text AS datname,
       pg_backend_pid() AS backend_pid,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       pg_has_role(current_user, 'pg_monitor', 'USAGE') AS pg_monitor,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS pg_read_all_stats,
       pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS pg_signal_backend,
       (SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements') AS pgss_schema,
       (SELECT extversion::text FROM pg_extension WHERE extname = 'pg_stat_statements') AS pgss_version,
       (SELECT default_version::text FROM pg_available_extensions
         WHERE name = 'pg_stat_statements') AS pgss_default_version,
       coalesce((SELECT 'pg_stat_statements' = ANY (string_to_array(replace(setting, ' ', ''), ','))
                   FROM pg_settings WHERE name = 'shared_preload_libraries'),
                current_setting('pg_stat_statements.max', true) IS NOT NULL) AS pgss_preloaded,
       current_setting('block_size')::int4 AS block_size,
       has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE') AS control_readable
