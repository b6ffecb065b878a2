//! Live tests of the vacuum collector: wraparound ages, dead tuples, running vacuums and
//! xmin horizon holders.

use std::time::Duration;

use pgvitals::cluster::{Cluster, ClusterOptions};
use pgvitals::collect::areas::vacuum::VacuumCollector;
use pgvitals::sample::VacuumSample;

use crate::common::{connect, primary};
use crate::replication::{Monitor, poll_until};
use crate::unused_indexes::TempDatabase;

async fn poll(monitor: &Monitor) -> VacuumSample {
    VacuumCollector::new()
        .collect(&monitor.ctx())
        .await
        .expect("vacuum poll")
}

fn xid_age_of(sample: &VacuumSample, datname: &str) -> i64 {
    sample
        .databases
        .iter()
        .find(|d| d.datname == datname)
        .unwrap_or_else(|| panic!("no database {datname}: {sample:?}"))
        .xid_age
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_xid_age_grows_with_consumed_transactions() {
    let p = primary();
    let mon = Monitor::new(p, "postgres").await;
    let before = poll(&mon).await;
    assert!(before.autovacuum_freeze_max_age >= 100_000);
    assert!(before.autovacuum_multixact_freeze_max_age >= 10_000);
    assert!(before.autovacuum_max_workers >= 1);
    // template0 is never vacuumed short of wraparound, so its age only grows: other tests
    // (or autovacuum) cannot make this comparison flaky.
    let age_before = xid_age_of(&before, "template0");

    let worker = connect(p, "postgres").await;
    for _ in 0..100 {
        worker
            .simple_query("SELECT txid_current()")
            .await
            .expect("consume an xid");
    }
    let after = poll(&mon).await;
    let age_after = xid_age_of(&after, "template0");
    assert!(
        age_after >= age_before + 100,
        "template0 xid age {age_before} -> {age_after}"
    );
    let t0 = after
        .databases
        .iter()
        .find(|d| d.datname == "template0")
        .expect("template0");
    let expected = 100.0 * t0.xid_age as f64 / after.autovacuum_freeze_max_age as f64;
    assert!(
        (t0.xid_freeze_max_age_pct - expected).abs() < 1e-6,
        "{t0:?}"
    );
    let expected = 100.0 * t0.xid_age as f64 / 2_147_483_648.0;
    assert!((t0.xid_wraparound_pct - expected).abs() < 1e-9, "{t0:?}");
    assert!(xid_age_of(&after, "postgres") >= 100);
    // The oldest tables of this database: system catalogs at least, sorted oldest first.
    assert!(!after.oldest_tables.is_empty());
    assert!(
        after
            .oldest_tables
            .windows(2)
            .all(|w| w[0].xid_age >= w[1].xid_age),
        "{:?}",
        after.oldest_tables
    );
    assert!(after.oldest_tables.len() <= 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_tuples_appear_after_an_update_without_autovacuum() {
    let db = TempDatabase::create("vac_dead");
    let p = primary();
    p.psql(
        &db.0,
        "CREATE TABLE churn (id int, v int) WITH (autovacuum_enabled = false); \
         INSERT INTO churn SELECT g, 0 FROM generate_series(1, 5000) g; \
         UPDATE churn SET v = 1",
    )
    .expect("churn");
    let mon = Monitor::new(p, &db.0).await;
    let (seen, sample) = poll_until(
        Duration::from_secs(10),
        || poll(&mon),
        |sample| {
            sample
                .dead_tuples
                .iter()
                .any(|t| t.relname == "churn" && t.n_dead_tup >= 5000)
        },
    )
    .await;
    assert!(seen, "no dead tuples for churn: {:?}", sample.dead_tuples);
    let churn = sample
        .dead_tuples
        .iter()
        .find(|t| t.relname == "churn")
        .expect("churn");
    assert_eq!(churn.schemaname, "public");
    let ratio = churn.dead_tup_ratio.expect("ratio");
    assert!(ratio > 0.3 && ratio <= 1.0, "{churn:?}");
    assert!(churn.last_autovacuum_age_s.is_none(), "{churn:?}");
    assert!(churn.last_vacuum_age_s.is_none(), "{churn:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_transaction_with_an_xid_holds_the_horizon() {
    let p = primary();
    let holder = connect(p, "postgres").await;
    holder
        .batch_execute("BEGIN; SELECT txid_current()")
        .await
        .expect("take an xid");
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let mon = Monitor::new(p, "postgres").await;
    let sample = poll(&mon).await;
    holder.batch_execute("COMMIT").await.expect("commit");

    let found = sample
        .xmin_horizon
        .iter()
        .find(|h| h.name == pid.to_string())
        .unwrap_or_else(|| panic!("pid {pid} not among {:?}", sample.xmin_horizon));
    assert!(
        found.kind == "backend_xid" || found.kind == "backend_xmin",
        "{found:?}"
    );
    assert!(found.detail.starts_with("postgres@postgres"), "{found:?}");
    assert!(found.xmin_age >= 0);
    assert!(
        sample
            .xmin_horizon
            .windows(2)
            .all(|w| w[0].xmin_age >= w[1].xmin_age),
        "{:?}",
        sample.xmin_horizon
    );
    // The monitor's own backend is never listed.
    let own = mon.facts.backend_pid.to_string();
    assert!(sample.xmin_horizon.iter().all(|h| h.name != own));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_transaction_and_running_vacuum_are_seen() {
    // The shared cluster runs with max_prepared_transactions = 0: a private primary.
    let cluster = tokio::task::spawn_blocking(|| {
        Cluster::start(ClusterOptions {
            extra_conf: vec!["max_prepared_transactions = 5".to_string()],
            ..ClusterOptions::default()
        })
    })
    .await
    .expect("join")
    .expect("private cluster");
    let p = &cluster.primary;
    p.psql(
        "postgres",
        "CREATE TABLE slow (id int, pad text) WITH (autovacuum_enabled = false); \
         INSERT INTO slow SELECT g, repeat('z', 200) FROM generate_series(1, 20000) g; \
         DELETE FROM slow WHERE id % 2 = 0; \
         BEGIN; CREATE TABLE in_limbo (i int); PREPARE TRANSACTION 'pgvitals_gid_1'",
    )
    .expect("setup");

    // A VACUUM slowed down by cost-based delay (100 ms per page or so).
    let vacuumer = connect(p, "postgres").await;
    let vacuum_pid: i32 = vacuumer
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    vacuumer
        .batch_execute("SET vacuum_cost_delay = 100; SET vacuum_cost_limit = 1")
        .await
        .expect("settings");
    let running = tokio::spawn(async move { vacuumer.batch_execute("VACUUM slow").await });

    let mon = Monitor::new(p, "postgres").await;
    let (seen, sample) = poll_until(
        Duration::from_secs(10),
        || poll(&mon),
        |sample| sample.workers.iter().any(|w| w.pid == vacuum_pid),
    )
    .await;
    let _ = p.psql(
        "postgres",
        &format!("SELECT pg_cancel_backend({vacuum_pid})"),
    );
    let _ = running.await;
    let _ = p.psql("postgres", "ROLLBACK PREPARED 'pgvitals_gid_1'");

    let prepared = sample
        .xmin_horizon
        .iter()
        .find(|h| h.kind == "prepared_xact")
        .unwrap_or_else(|| panic!("no prepared_xact: {:?}", sample.xmin_horizon));
    assert_eq!(prepared.name, "pgvitals_gid_1");
    assert!(
        prepared.detail.starts_with("postgres@postgres"),
        "{prepared:?}"
    );

    assert!(seen, "VACUUM of slow never showed up: {:?}", sample.workers);
    let w = sample
        .workers
        .iter()
        .find(|w| w.pid == vacuum_pid)
        .expect("the vacuum");
    assert!(!w.is_autovacuum, "{w:?}");
    assert_eq!(w.datname.as_deref(), Some("postgres"));
    assert_eq!(w.relname.as_deref(), Some("slow"));
    assert!(!w.phase.is_empty());
    assert!(w.heap_blks_total > 0, "{w:?}");
    assert!(w.max_dead_tuple_bytes.is_some_and(|b| b > 0), "{w:?}");
    assert!(w.running_s.is_some());
    drop(cluster);
}
