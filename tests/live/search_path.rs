//! Monitoring queries cannot be hijacked by objects in a user schema: a schema placed before
//! pg_catalog in the role's search_path (`ALTER ROLE ... IN DATABASE ... SET search_path =
//! evil, pg_catalog`) holds views, functions, an aggregate and operators with the names the
//! queries use unqualified, every one raising `hijacked ...` when called. Every area must
//! still work, directly and through PgBouncer (refusing `options`, and accepting and
//! dropping them), and the monitoring session's search_path is pinned.

use std::time::Duration;

use pgvitals::collect::Ctx;
use pgvitals::collect::pool::{NoConnection, ServerPool, Timing};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::sample::Area;

use crate::common::{assert_all_areas_work, connect, primary, pump};
use crate::pgbouncer::Bouncer;
use crate::probe::create_db;

/// Views of pg_catalog shadowed in the evil schema (those missing on a major are skipped).
const VIEWS: &[&str] = &[
    "pg_stat_activity",
    "pg_settings",
    "pg_stat_database",
    "pg_database",
    "pg_class",
    "pg_namespace",
    "pg_index",
    "pg_roles",
    "pg_extension",
    "pg_available_extensions",
    "pg_stat_user_tables",
    "pg_stat_user_indexes",
    "pg_statio_user_tables",
    "pg_stat_all_tables",
    "pg_stat_replication",
    "pg_replication_slots",
    "pg_stat_wal_receiver",
    "pg_stat_progress_vacuum",
    "pg_locks",
    "pg_prepared_xacts",
];

/// Functions shadowed: (name, argument types, result type).
const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("now", "", "timestamptz"),
    ("pg_is_in_recovery", "", "bool"),
    ("pg_backend_pid", "", "int4"),
    ("current_setting", "text", "text"),
    ("current_setting", "text, bool", "text"),
    ("current_database", "", "name"),
    ("version", "", "text"),
    ("age", "xid", "int4"),
    ("mxid_age", "xid", "int4"),
    ("pg_blocking_pids", "int4", "int4[]"),
    ("host", "inet", "text"),
    ("pg_database_size", "oid", "int8"),
    ("pg_database_size", "name", "int8"),
    ("pg_relation_size", "regclass", "int8"),
    ("pg_total_relation_size", "regclass", "int8"),
    ("pg_postmaster_start_time", "", "timestamptz"),
    ("pg_has_role", "name, name, text", "bool"),
    ("pg_current_wal_lsn", "", "pg_lsn"),
    ("pg_last_wal_replay_lsn", "", "pg_lsn"),
    ("pg_last_wal_receive_lsn", "", "pg_lsn"),
    ("pg_wal_lsn_diff", "pg_lsn, pg_lsn", "numeric"),
    ("pg_stat_statements", "bool", "SETOF record"),
    ("string_to_array", "text, text", "text[]"),
    ("replace", "text, text, text", "text"),
    ("date_part", "text, timestamptz", "float8"),
];

/// Operators shadowed: `=`, `<>`, `>` and `+` on these types.
const OPERATOR_TYPES: &[&str] = &["text", "name", "int4", "int8", "oid", "timestamptz"];

fn setup_sql(db: &str) -> String {
    let mut sql = String::from(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public;\n\
         CREATE SCHEMA evil;\n\
         CREATE FUNCTION evil.boom() RETURNS bool LANGUAGE plpgsql VOLATILE AS \
         $$BEGIN RAISE EXCEPTION 'hijacked view'; END$$;\n\
         CREATE FUNCTION evil.cnt(int8) RETURNS int8 LANGUAGE plpgsql AS \
         $$BEGIN RAISE EXCEPTION 'hijacked count(*)'; END$$;\n\
         CREATE AGGREGATE evil.count(*) (SFUNC = evil.cnt, STYPE = int8, INITCOND = '0');\n",
    );
    for view in VIEWS {
        sql.push_str(&format!(
            "DO $$BEGIN EXECUTE 'CREATE VIEW evil.{view} AS SELECT * FROM pg_catalog.{view} \
             WHERE evil.boom()'; EXCEPTION WHEN undefined_table THEN NULL; END$$;\n"
        ));
    }
    sql.push_str(
        "CREATE VIEW evil.pg_stat_statements AS SELECT * FROM public.pg_stat_statements \
         WHERE evil.boom();\n",
    );
    for (name, args, ret) in FUNCTIONS {
        sql.push_str(&format!(
            "CREATE FUNCTION evil.{name}({args}) RETURNS {ret} LANGUAGE plpgsql AS \
             $$BEGIN RAISE EXCEPTION 'hijacked {name}({args})'; END$$;\n"
        ));
    }
    for ty in OPERATOR_TYPES {
        for (op, tag) in [("=", "eq"), ("<>", "ne"), (">", "gt"), ("+", "pl")] {
            sql.push_str(&format!(
                "CREATE FUNCTION evil.op_{tag}_{ty}({ty}, {ty}) RETURNS bool LANGUAGE plpgsql AS \
                 $$BEGIN RAISE EXCEPTION 'hijacked {ty} {op} {ty}'; END$$;\n\
                 CREATE OPERATOR evil.{op} (LEFTARG = {ty}, RIGHTARG = {ty}, \
                 FUNCTION = evil.op_{tag}_{ty});\n"
            ));
        }
    }
    sql.push_str(&format!(
        "ALTER ROLE postgres IN DATABASE {db} SET search_path = evil, pg_catalog;\n"
    ));
    sql
}

/// All areas through `conninfo` work, and the session's search_path is pinned.
async fn check(conninfo: &str, what: &str) {
    let spec = ConnSpec::parse(conninfo).expect("spec");
    let config = Config {
        interval: Duration::from_millis(300),
        ..Config::default()
    };
    let mut running =
        pgvitals::app::start_workers(std::slice::from_ref(&spec), &config).expect("workers");
    pump(&mut running, Duration::from_secs(30), |_, store| {
        let server = &store.servers[0];
        Area::ALL
            .iter()
            .all(|a| server.area(*a).sample.is_some() || server.area(*a).error.is_some())
            && Area::ALL.iter().all(|a| server.area(*a).sample.is_some())
    })
    .await;
    let server = &running.store.servers[0];
    for area in Area::ALL {
        if let Some((e, _)) = &server.area(area).error {
            panic!("{what}: {} failed: {}", area.key(), e.message);
        }
    }
    assert_all_areas_work(server, &[]);

    let session = ServerPool::new(&spec, Timing::default()).expect("session");
    let lease = match session.lease().await.0 {
        Ok(l) => l,
        Err(NoConnection::Failed { error, .. }) => panic!("{what}: {}", error.message),
        Err(NoConnection::Waiting) => panic!("{what}: backing off"),
    };
    let ctx = Ctx {
        client: &lease.client,
        facts: &lease.facts,
        timeout: session.query_deadline(),
    };
    let rows = ctx
        .query(
            "SELECT pg_catalog.current_setting('search_path') AS search_path",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: {}", e.message));
    let path: String = rows[0].get("search_path");
    assert_eq!(path.replace(' ', ""), "pg_catalog,pg_temp", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_in_a_schema_before_pg_catalog_cannot_hijack_the_monitoring_queries() {
    let db = create_db("hijack");
    primary()
        .psql(&db.name, &setup_sql(&db.name))
        .expect("create the evil schema");
    // the trap works: an ordinary session of that role in that database is hijacked
    let victim = connect(primary(), &db.name).await;
    let err = victim
        .simple_query("SELECT count(*) FROM pg_stat_activity")
        .await
        .expect_err("an ordinary session walks into the trap");
    assert!(err.to_string().contains("hijacked") || format!("{err:?}").contains("hijacked"));

    check(&primary().conninfo(&db.name), "direct").await;
    let refusing = Bouncer::start(primary(), "");
    check(&refusing.conninfo(&db.name), "pgbouncer refusing options").await;
    let ignoring = Bouncer::start(primary(), "ignore_startup_parameters = options");
    check(&ignoring.conninfo(&db.name), "pgbouncer dropping options").await;
}
