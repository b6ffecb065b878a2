//! Live tests of the probe, and the monitoring-connection helper the other collector tests of
//! this area use.

use std::time::Duration;

use pgvitals::cluster::Node;
use pgvitals::collect::Ctx;
use pgvitals::collect::probe::{parse_extension_version, probe};
use pgvitals::sample::ServerFacts;

use crate::common::{self, primary, standby, unique};

/// The `application_name` of the monitoring connection in these tests (the workload
/// connections of `common::connect` use another one, so they are not "our pool").
pub const MONITOR_APP: &str = "pgvitals";

/// A pgvitals-like monitoring connection: a one-connection deadpool pool, probed.
pub struct Monitor {
    pub client: deadpool_postgres::Client,
    pub facts: ServerFacts,
}

impl Monitor {
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            client: &self.client,
            facts: &self.facts,
            timeout: Duration::from_secs(20),
        }
    }

    /// Probe again (after an ALTER EXTENSION, say).
    pub async fn reprobe(&mut self) {
        self.facts = probe(&self.client).await.expect("probe");
    }
}

/// Connect to `db` on `node` like pgvitals does and probe.
pub async fn monitor(node: &Node, db: &str) -> Monitor {
    let mut cfg: tokio_postgres::Config = node.conninfo(db).parse().expect("conninfo parses");
    cfg.application_name(MONITOR_APP);
    let mgr = deadpool_postgres::Manager::new(cfg, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(mgr)
        .max_size(1)
        .build()
        .expect("pool");
    let client = pool.get().await.expect("monitoring connection");
    let facts = probe(&client).await.expect("probe");
    Monitor { client, facts }
}

/// Drops a database (FORCE: leftover sessions are ended) when the test ends, pass or fail.
pub struct DropDb {
    pub name: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        let _ = primary().psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A new empty database on the primary (UTF8), dropped with the guard.
pub fn create_db(prefix: &str) -> DropDb {
    let name = unique(prefix);
    primary()
        .psql("postgres", &format!("CREATE DATABASE {name}"))
        .expect("create database");
    DropDb { name }
}

#[tokio::test]
async fn probe_sees_the_primary_and_pg_stat_statements() {
    let m = monitor(primary(), "postgres").await;
    let f = &m.facts;
    assert!(!f.in_recovery);
    assert!(f.is_superuser);
    assert!(f.can_read_all_stats());
    assert_eq!(f.current_user, "postgres");
    assert_eq!(f.datname, "postgres");
    assert_eq!(f.major(), primary().major());
    assert_eq!(f.block_size, 8192);
    assert!(f.pgss_preloaded);
    let pgss = f.pgss.as_ref().expect("pg_stat_statements found");
    assert_eq!(pgss.schema, "public");
    let installed = primary()
        .psql(
            "postgres",
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'",
        )
        .expect("extversion");
    assert_eq!(Some(pgss.version), parse_extension_version(&installed));
    if f.major() == 15 {
        assert_eq!(pgss.version, (1, 10));
    }
    assert_eq!(pgss.default_version, None, "installed is the default");
    // backend_pid is the monitoring connection's own.
    let pid: i32 = m
        .client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    assert_eq!(f.backend_pid, pid);
}

#[tokio::test]
async fn probe_sees_recovery_on_the_standby() {
    let m = monitor(standby(), "postgres").await;
    assert!(m.facts.in_recovery);
    assert!(m.facts.pgss.is_some(), "replicated from the primary");
}

/// Drops a role when the test ends.
pub struct DropRole {
    pub name: String,
}

impl Drop for DropRole {
    fn drop(&mut self) {
        let _ = primary().psql("postgres", &format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// A new LOGIN role without any privilege, dropped with the guard.
pub fn create_role(prefix: &str) -> DropRole {
    let name = unique(prefix);
    primary()
        .psql("postgres", &format!("CREATE ROLE {name} LOGIN"))
        .expect("create role");
    DropRole { name }
}

#[tokio::test]
async fn probe_sees_an_old_extension_and_a_plain_role() {
    let db = create_db("probe_old");
    primary()
        .psql(
            &db.name,
            // 1.4: the oldest install script, shipped by every major from 12 to 18.
            "CREATE EXTENSION pg_stat_statements VERSION '1.4'",
        )
        .expect("old extension");
    let m = monitor(primary(), &db.name).await;
    let pgss = m.facts.pgss.clone().expect("installed");
    assert_eq!(pgss.version, (1, 4));
    assert!(pgss.default_version.is_some_and(|d| d > (1, 4)));

    // A role without pg_monitor.
    let role = create_role("probe_plain");
    let plain = common::connect_as(primary(), &role.name, &db.name).await;
    let facts = probe(&plain).await.expect("probe as a plain role");
    assert!(!facts.is_superuser);
    assert!(!facts.pg_monitor);
    assert!(!facts.pg_read_all_stats);
    assert!(!facts.can_read_all_stats());
    assert_eq!(facts.current_user, role.name);
    assert_eq!(facts.pgss.map(|p| p.version), Some((1, 4)));
}

#[tokio::test]
async fn probe_of_a_missing_extension_is_none() {
    let db = create_db("probe_none");
    let m = monitor(primary(), &db.name).await;
    assert_eq!(m.facts.pgss, None);
    assert!(m.facts.pgss_preloaded);
    assert_eq!(m.facts.datname, db.name);
}

/// A second monitoring connection, opened while the first is leased (as when the first waits
/// out a slow query), is no reconnect: the session reports no `Connected` event for it, so
/// no area loses its baseline (every rate would read "no rate yet" for a poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_to_the_same_server_is_no_reconnect() {
    use pgvitals::collect::pool::{ServerPool, Timing};
    use pgvitals::conninfo::ConnSpec;
    use pgvitals::sample::LinkEvent;

    let spec = ConnSpec::parse(&primary().conninfo("postgres")).expect("spec");
    let session = ServerPool::new(&spec, Timing::default()).expect("session");
    let (first, event) = session.lease().await;
    let first = first.ok().expect("first connection");
    assert!(matches!(event, Some(LinkEvent::Connected(_))), "{event:?}");
    let (second, event) = session.lease().await;
    let second = second.ok().expect("second connection");
    assert_ne!(
        first.facts.backend_pid, second.facts.backend_pid,
        "the second lease is another connection"
    );
    assert!(event.is_none(), "a second connection reported {event:?}");
}
