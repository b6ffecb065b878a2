//! Live tests of the replication collector on the shared primary + streaming standby, and
//! on a private cluster for a promotion.

use std::time::Duration;

use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::collect::Ctx;
use pgvitals::collect::areas::replication::ReplicationCollector;
use pgvitals::sample::ServerFacts;
use pgvitals::sample::{LagState, ReplayState, ReplicationSample, ServerRole};

use crate::common::{primary, standby, unique, wait_until_async};

/// The standby's `application_name` in the primary's `pg_stat_replication`.
const STANDBY_APP: &str = "pgvitals_standby";

/// A monitoring connection as the collectors get it: a pooled client, probed facts and the
/// session settings the session layer sets (read-only, statement and lock timeouts).
pub struct Monitor {
    _pool: deadpool_postgres::Pool,
    client: deadpool_postgres::Client,
    /// What the probe found on this connection.
    pub facts: ServerFacts,
}

impl Monitor {
    pub async fn new(node: &Node, db: &str) -> Monitor {
        let cfg: tokio_postgres::Config = node.conninfo(db).parse().expect("conninfo parses");
        let mgr = deadpool_postgres::Manager::new(cfg, tokio_postgres::NoTls);
        let pool = deadpool_postgres::Pool::builder(mgr)
            .max_size(1)
            .build()
            .expect("pool");
        let client = pool.get().await.expect("monitoring connection");
        client
            .batch_execute(
                "SET default_transaction_read_only = on; SET statement_timeout = '5s'; \
                 SET lock_timeout = '3s'",
            )
            .await
            .expect("session settings");
        let facts = pgvitals::collect::probe::probe(&client)
            .await
            .expect("probe");
        Monitor {
            _pool: pool,
            client,
            facts,
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            client: &self.client,
            facts: &self.facts,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Polls with `next` every 100 ms until `done(&sample)` or `timeout`; returns whether it was
/// reached and the last sample (for the failure message).
pub async fn poll_until<T, F, Fut>(
    timeout: Duration,
    mut next: F,
    done: impl Fn(&T) -> bool,
) -> (bool, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let sample = next().await;
        if done(&sample) || std::time::Instant::now() >= deadline {
            return (done(&sample), sample);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn poll(monitor: &Monitor) -> ReplicationSample {
    ReplicationCollector::new()
        .collect(&monitor.ctx())
        .await
        .expect("replication poll")
}

/// Resumes WAL replay on the standby when dropped, even when an assertion failed.
struct ResumeReplay(&'static Node);

impl Drop for ResumeReplay {
    fn drop(&mut self) {
        if let Err(e) = self.0.psql("postgres", "SELECT pg_wal_replay_resume()") {
            eprintln!("could not resume replay on the standby: {e}");
        }
    }
}

fn lsn_to_u64(lsn: &str) -> u64 {
    let (hi, lo) = lsn.split_once('/').expect("LSN has a slash");
    (u64::from_str_radix(hi, 16).expect("hex") << 32) | u64::from_str_radix(lo, 16).expect("hex")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_replay_shows_lag_on_both_sides() {
    let (p, s) = (primary(), standby());
    let mon_p = Monitor::new(p, "postgres").await;
    let mon_s = Monitor::new(s, "postgres").await;

    // Both roles poll without error before anything happens.
    let before_p = poll(&mon_p).await;
    assert_eq!(before_p.role, ServerRole::Primary);
    assert!(before_p.current_wal_lsn.is_some());
    assert!(before_p.standby_status.is_none());
    let before_s = poll(&mon_s).await;
    assert_eq!(before_s.role, ServerRole::Standby);
    assert!(before_s.current_wal_lsn.is_none(), "{before_s:?}");
    let st = before_s.standby_status.as_ref().expect("standby status");
    assert_eq!(
        st.wal_receiver_status.as_deref(),
        Some("streaming"),
        "{st:?}"
    );
    assert!(st.sender_port.is_some(), "{st:?}");
    assert!(!st.replay_paused);

    let table = unique("repl_lag");
    s.psql("postgres", "SELECT pg_wal_replay_pause()")
        .expect("pause replay");
    let _resume = ResumeReplay(s);
    assert!(
        wait_until_async(Duration::from_secs(10), || async {
            // pg_get_wal_replay_pause_state() is 14+; before, "paused" is all there is.
            if s.major() >= 14 {
                s.psql("postgres", "SELECT pg_get_wal_replay_pause_state()")
                    .is_ok_and(|state| state == "paused")
            } else {
                s.psql("postgres", "SELECT pg_is_wal_replay_paused()")
                    .is_ok_and(|state| state == "t")
            }
        })
        .await,
        "replay did not pause"
    );
    // About 2.5 MB of WAL.
    p.psql(
        "postgres",
        &format!(
            "CREATE TABLE {table} (id int, pad text); \
             INSERT INTO {table} SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g"
        ),
    )
    .expect("write WAL");
    let written = p
        .psql("postgres", "SELECT pg_current_wal_lsn()")
        .expect("current LSN");
    let written = lsn_to_u64(&written);

    // Wait until the standby has received that WAL (receive goes on while replay is paused).
    let (received, sample_s) = poll_until(
        Duration::from_secs(15),
        || poll(&mon_s),
        |sample| {
            sample
                .standby_status
                .as_ref()
                .and_then(|st| st.receive_lsn.as_deref())
                .is_some_and(|lsn| lsn_to_u64(lsn) >= written)
        },
    )
    .await;
    assert!(received, "standby never received the WAL: {sample_s:?}");
    assert_eq!(sample_s.role, ServerRole::Standby);
    let st = sample_s.standby_status.as_ref().expect("standby status");
    assert!(st.replay_paused, "{st:?}");
    assert_eq!(st.lag_state, ReplayState::Paused, "{st:?}");
    assert!(
        st.replay_lag_bytes.is_some_and(|b| b >= 2_000_000),
        "standby's own replay lag: {st:?}"
    );

    let sample_p = poll(&mon_p).await;
    assert_eq!(sample_p.role, ServerRole::Primary);
    let row = sample_p
        .standbys
        .iter()
        .find(|r| r.application_name == STANDBY_APP)
        .unwrap_or_else(|| panic!("no {STANDBY_APP} row: {sample_p:?}"));
    assert!(
        row.replay_lag_bytes.is_some_and(|b| b >= 2_000_000),
        "primary's view of the standby: {row:?}"
    );
    assert_eq!(row.state.as_deref(), Some("streaming"), "{row:?}");
    assert_eq!(row.lag_state, LagState::Streaming, "{row:?}");
    assert!(
        row.sent_lsn.is_some() && row.replay_lsn.is_some(),
        "{row:?}"
    );
    assert!(row.reply_age_s.is_some(), "{row:?}");

    // The whole pipeline, both sides: the replication lag alerts fire while replay is paused
    let thresholds = r#"
        [thresholds.replication_lag_bytes]
        warning = "1MB"
        critical = "1GB"
    "#;
    let mut config = pgvitals::config::Config::parse(thresholds).expect("thresholds");
    config.interval = Duration::from_millis(300);
    let specs = [
        pgvitals::conninfo::ConnSpec::parse(&p.conninfo("postgres")).expect("spec"),
        pgvitals::conninfo::ConnSpec::parse(&s.conninfo("postgres")).expect("spec"),
    ];
    let lag_alert = |store: &pgvitals::model::Store, server: usize, subject: &str| {
        store.servers[server]
            .alerts
            .active
            .values()
            .find(|a| {
                a.alert.rule == pgvitals::sample::Rule::ReplicationLagBytes
                    && a.alert.subject.to_string() == subject
            })
            .map(|a| a.alert.severity)
    };
    let store = pgvitals::app::take_snapshot(&specs, &config)
        .await
        .expect("snapshot");
    let on_primary = format!("standby {STANDBY_APP}");
    assert_eq!(
        lag_alert(&store, 0, &on_primary),
        Some(pgvitals::model::Severity::Warning),
        "primary's alerts: {:?}",
        store.servers[0].alerts.active.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        lag_alert(&store, 1, "server"),
        Some(pgvitals::model::Severity::Warning),
        "standby's alerts: {:?}",
        store.servers[1].alerts.active.keys().collect::<Vec<_>>()
    );
    assert!(pgvitals::model::snapshot::exit_code(&store) >= 1);

    drop(_resume);
    assert!(
        wait_until_async(Duration::from_secs(15), || async {
            let sample = poll(&mon_s).await;
            sample
                .standby_status
                .is_some_and(|st| !st.replay_paused && st.lag_state != ReplayState::Paused)
        })
        .await,
        "replay did not resume"
    );
    // ... and clear once the standby has caught up
    let mut cleared = false;
    for _ in 0..20 {
        let store = pgvitals::app::take_snapshot(&specs, &config)
            .await
            .expect("snapshot");
        if lag_alert(&store, 0, &on_primary).is_none() && lag_alert(&store, 1, "server").is_none() {
            cleared = true;
            break;
        }
    }
    assert!(cleared, "the replication lag alerts never cleared");
    p.psql("postgres", &format!("DROP TABLE {table}"))
        .expect("drop table");
}

/// Drops a replication slot when dropped.
struct DropSlot(&'static Node, String);

impl Drop for DropSlot {
    fn drop(&mut self) {
        let _ = self.0.psql(
            "postgres",
            &format!("SELECT pg_drop_replication_slot('{}')", self.1),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_slot_retains_wal_on_primary_and_standby() {
    let (p, s) = (primary(), standby());
    let slot = unique("inactive_slot");
    p.psql(
        "postgres",
        &format!("SELECT pg_create_physical_replication_slot('{slot}', true)"),
    )
    .expect("create slot on the primary");
    let _drop = DropSlot(p, slot.clone());
    let slot_s = unique("standby_slot");
    s.psql(
        "postgres",
        &format!("SELECT pg_create_physical_replication_slot('{slot_s}', true)"),
    )
    .expect("create slot on the standby");
    let _drop_s = DropSlot(s, slot_s.clone());

    let table = unique("slot_wal");
    p.psql(
        "postgres",
        &format!(
            "CREATE TABLE {table} AS SELECT g, repeat('y', 100) AS pad \
             FROM generate_series(1, 5000) g; DROP TABLE {table}"
        ),
    )
    .expect("write WAL");

    let mon_p = Monitor::new(p, "postgres").await;
    let sample = poll(&mon_p).await;
    let found = sample
        .slots
        .iter()
        .find(|x| x.slot_name == slot)
        .unwrap_or_else(|| panic!("slot {slot} missing: {sample:?}"));
    assert_eq!(found.slot_type, "physical");
    assert!(!found.active && found.active_pid.is_none(), "{found:?}");
    assert!(!found.temporary);
    assert!(
        found.retained_wal_bytes.is_some_and(|b| b > 500_000),
        "{found:?}"
    );
    if mon_p.facts.major() >= 13 {
        assert_eq!(found.wal_status.as_deref(), Some("reserved"), "{found:?}");
    }
    // The standby's own slot is active.
    let standby_slot = sample
        .slots
        .iter()
        .find(|x| x.slot_name == pgvitals::cluster::STANDBY_SLOT)
        .expect("the standby's slot");
    assert!(standby_slot.active && standby_slot.active_pid.is_some());

    // A slot on the standby: retained WAL measured from the standby's own position.
    let mon_s = Monitor::new(s, "postgres").await;
    let sample_s = poll(&mon_s).await;
    assert_eq!(sample_s.role, ServerRole::Standby);
    let found_s = sample_s
        .slots
        .iter()
        .find(|x| x.slot_name == slot_s)
        .unwrap_or_else(|| panic!("slot {slot_s} missing on the standby: {sample_s:?}"));
    assert!(
        found_s.retained_wal_bytes.is_some_and(|b| b >= 0),
        "{found_s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoted_standby_reads_as_primary_on_the_same_connection() {
    let cluster = tokio::task::spawn_blocking(|| {
        Cluster::start(ClusterOptions {
            standby: true,
            ..ClusterOptions::default()
        })
    })
    .await
    .expect("join")
    .expect("private cluster");
    let mon = Monitor::new(cluster.standby.as_ref().expect("standby"), "postgres").await;
    assert!(mon.facts.in_recovery);
    // a standby just started may still be replaying the last records it received (receive
    // 0/3000060, replay 0/3000000: "replaying"); it is idle once caught up, within seconds
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let before = loop {
        let sample = poll(&mon).await;
        let caught_up = sample
            .standby_status
            .as_ref()
            .is_some_and(|st| st.lag_state.as_str() == "idle");
        if caught_up || std::time::Instant::now() > deadline {
            break sample;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(before.role, ServerRole::Standby);

    assert_eq!(
        before
            .standby_status
            .as_ref()
            .map(|st| st.lag_state.as_str()),
        Some("idle"),
        "{before:?}"
    );

    // The upstream goes away: the standby must read "disconnected", never zero lag.
    let cluster = tokio::task::spawn_blocking(move || {
        let stopped = cluster.primary.stop("fast");
        (cluster, stopped)
    })
    .await
    .expect("join");
    let (cluster, stopped) = cluster;
    stopped.expect("stop the private primary");
    let (disconnected, sample) = poll_until(
        Duration::from_secs(15),
        || poll(&mon),
        |sample| {
            sample
                .standby_status
                .as_ref()
                .is_some_and(|st| st.lag_state == ReplayState::Disconnected)
        },
    )
    .await;
    assert!(disconnected, "{sample:?}");
    let st = sample.standby_status.as_ref().expect("standby status");
    assert_ne!(st.wal_receiver_status.as_deref(), Some("streaming"));
    assert!(st.replay_lag_s.is_none(), "{st:?}");

    let (cluster, promoted) = tokio::task::spawn_blocking(move || {
        let promoted = cluster.standby.as_ref().map(|node| node.promote());
        (cluster, promoted)
    })
    .await
    .expect("join");
    match promoted {
        Some(Ok(())) => {}
        other => panic!("promote failed: {other:?}"),
    }
    // Same connection, facts still say "in recovery": the poll must neither fail on a
    // recovery-only function nor call pg_current_wal_lsn() while in recovery.
    let after = poll(&mon).await;
    assert_eq!(after.role, ServerRole::Primary, "{after:?}");
    assert!(after.current_wal_lsn.is_some());
    assert!(after.standby_status.is_none());
    drop(cluster);
}
