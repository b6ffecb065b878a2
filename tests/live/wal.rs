//! Live tests of the WAL area: a WAL burst shows as WAL bytes per second, a forced checkpoint
//! as a requested checkpoint, a failing archive_command as `archive_failing` and its alert,
//! and the standby reports its replay position, on every major (12: the position's delta;
//! 14+: pg_stat_wal; 17+: pg_stat_checkpointer).

use std::time::{Duration, SystemTime};

use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::collect::areas::wal::WalCollector;
use pgvitals::config::Thresholds;
use pgvitals::model::Store;
use pgvitals::sample::{LinkEvent, Rule, Sample, Update, WalSample};

use crate::common::{connect, primary, standby};
use crate::replication::Monitor;

async fn poll(monitor: &Monitor) -> WalSample {
    WalCollector::new()
        .collect(&monitor.ctx())
        .await
        .expect("wal poll")
}

/// A store of one server fed with `samples` (as the workers would), so rates and alerts are
/// the model's own.
fn store_of(monitor: &Monitor, samples: &[WalSample]) -> Store {
    let mut store = Store::new(
        vec!["test:5432/postgres".into()],
        Thresholds::default(),
        Duration::from_secs(1),
        Duration::from_secs(60),
        SystemTime::now(),
    );
    store.apply(
        Update::Link {
            server: 0,
            event: LinkEvent::Connected(Box::new(monitor.facts.clone())),
            at: SystemTime::now(),
        },
        SystemTime::now(),
    );
    for s in samples {
        store.apply(
            Update::Sample {
                server: 0,
                sample: Box::new(Sample::Wal(s.clone())),
                at: SystemTime::now(),
                took: std::time::Duration::ZERO,
            },
            SystemTime::now(),
        );
    }
    store
}

fn derived(store: &Store) -> WalSample {
    match store.servers[0]
        .area(pgvitals::sample::Area::Wal)
        .sample
        .clone()
    {
        Some(Sample::Wal(w)) => w,
        other => panic!("no WAL sample in the store: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_burst_and_a_forced_checkpoint_are_seen() {
    let p = primary();
    let mon = Monitor::new(p, "postgres").await;
    let worker = connect(p, "postgres").await;
    let table = crate::common::unique("wal_burst");
    worker
        .batch_execute(&format!("CREATE TABLE {table} (id int, filler text)"))
        .await
        .unwrap();
    let before = poll(&mon).await;
    assert!(!before.in_recovery);
    assert!(
        before.wal_lsn.is_some() && before.wal_lsn_bytes.is_some(),
        "{before:?}"
    );
    let major = mon.facts.major();
    // pg_stat_wal exists from 14 on
    assert_eq!(before.wal_bytes.is_some(), major >= 14, "{before:?}");
    // about 20 MB of WAL, then a checkpoint asked for by hand
    worker
        .batch_execute(&format!(
            "INSERT INTO {table} SELECT i, repeat('x', 200) FROM generate_series(1, 80000) i"
        ))
        .await
        .unwrap();
    worker.batch_execute("CHECKPOINT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await; // stats reach the views (< 15)
    let after = wait_for(&mon, |w| w.num_requested > before.num_requested).await;
    let store = store_of(&mon, &[before.clone(), after.clone()]);
    let w = derived(&store);
    let written = (after.wal_lsn_bytes.unwrap() - before.wal_lsn_bytes.unwrap()) as f64;
    assert!(written > 15e6, "the burst wrote {written} bytes of WAL");
    let dt = after.collected_at - before.collected_at;
    let rate = w.wal_bytes_per_s.expect("a WAL rate");
    assert!(
        rate > 0.5 * written / dt && rate < 2.0 * written / dt,
        "rate {rate} B/s for {written} bytes in {dt} s"
    );
    if major >= 14 {
        // pg_stat_wal lags (backends report their WAL counters at most every 0.5–1 s): wait
        // until it has the burst, one record per inserted row at least, and take the record
        // rate over that interval
        let started = std::time::Instant::now();
        let counted = loop {
            // a transaction end on the writer's connection flushes its pending WAL counters
            // (at most once a second; an idle backend only after 10 s)
            worker.batch_execute("SELECT 1").await.unwrap();
            let w = poll(&mon).await;
            if w.wal_records.unwrap_or(0) >= before.wal_records.unwrap_or(0) + 80_000 {
                break w;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "pg_stat_wal never counted the burst: {w:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let w2 = derived(&store_of(&mon, &[before.clone(), counted.clone()]));
        let dt2 = counted.collected_at - before.collected_at;
        let records = w2.wal_records_per_s.expect("a record rate");
        assert!(
            records >= 0.9 * 80_000.0 / dt2,
            "{records} records/s over {dt2} s"
        );
        assert!(w2.wal_fpi_per_s.is_some(), "{w2:?}");
    }
    assert!(
        after.num_requested > before.num_requested,
        "the CHECKPOINT is counted"
    );
    assert!(after.buffers_written >= before.buffers_written);
    assert_eq!(
        w.checkpoints_requested_in_window,
        Some(after.num_requested - before.num_requested)
    );
    worker
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

/// Polls until `done` holds (statistics before 15 arrive up to 500 ms late), at most 10 s.
async fn wait_for(mon: &Monitor, done: impl Fn(&WalSample) -> bool) -> WalSample {
    let started = std::time::Instant::now();
    loop {
        let last = poll(mon).await;
        if done(&last) {
            return last;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not seen within 10 s: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_reports_its_replay_position() {
    let s = standby();
    let mon = Monitor::new(s, "postgres").await;
    let a = poll(&mon).await;
    assert!(a.in_recovery);
    assert!(
        a.wal_lsn_bytes.is_some(),
        "a streaming standby has replayed: {a:?}"
    );
    // WAL made on the primary is replayed here and shows as the standby's WAL rate
    let worker = connect(primary(), "postgres").await;
    worker
        .batch_execute("CREATE TABLE IF NOT EXISTS wal_standby_probe (x int); INSERT INTO wal_standby_probe SELECT generate_series(1, 20000)")
        .await
        .unwrap();
    let b = wait_for(&mon, |w| w.wal_lsn_bytes > a.wal_lsn_bytes).await;
    let w = derived(&store_of(&mon, &[a, b]));
    assert!(w.wal_bytes_per_s.unwrap() > 0.0, "{w:?}");
}

/// A cluster of its own whose archive_command fails on purpose.
fn failing_archiver() -> Cluster {
    Cluster::start(ClusterOptions {
        extra_conf: vec![
            "archive_mode = on".into(),
            "archive_command = 'false'".into(),
        ],
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("the archiver test needs its own PostgreSQL server: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_archive_command_is_an_alert() {
    let cluster = failing_archiver();
    let node: &Node = &cluster.primary;
    let mon = Monitor::new(node, "postgres").await;
    let first = poll(&mon).await;
    assert_eq!(first.archive_mode, "on");
    assert_eq!(
        first.archive_command_set,
        Some(true),
        "a superuser sees the command"
    );
    let worker = connect(node, "postgres").await;
    worker
        .batch_execute(
            "CREATE TABLE t AS SELECT generate_series(1, 1000) i; SELECT pg_switch_wal()",
        )
        .await
        .unwrap();
    // the archiver retries `false` three times, then waits; the first failure is enough
    let failing = wait_for(&mon, |w| w.failed_count > 0).await;
    assert!(failing.last_failed_wal.is_some(), "{failing:?}");
    assert_eq!(failing.archived_count, 0);
    let store = store_of(&mon, &[first, failing]);
    let w = derived(&store);
    assert!(w.archive_failing, "{w:?}");
    let alert = store.servers[0]
        .alerts
        .active
        .values()
        .find(|a| a.alert.rule == Rule::ArchiveFailing)
        .unwrap_or_else(|| panic!("no archive_failing alert: {:?}", store.servers[0].alerts));
    assert!(
        alert.alert.message.contains("archiving fails"),
        "{}",
        alert.alert.message
    );
    // the snapshot key is `wal`
    let doc = pgvitals::model::snapshot::server_json(&store.servers[0]);
    assert_eq!(
        doc["wal"]["archive_failing"],
        serde_json::json!(true),
        "{doc:#}"
    );
    assert!(doc["wal"]["failed_count"].as_i64().unwrap() > 0);
}
