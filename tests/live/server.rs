//! Live tests of the server collector.

use pgvitals::collect::areas::activity::ActivityCollector;
use pgvitals::collect::areas::cache::CacheCollector;
use pgvitals::collect::areas::server::ServerCollector;
use pgvitals::collect::areas::statements::StatementsCollector;

use crate::common::{connect, primary, standby};
use crate::probe::monitor;

#[tokio::test]
async fn xact_commit_grows_and_the_size_runs_on_the_slow_timer() {
    let m = monitor(primary(), "postgres").await;
    let mut collector = ServerCollector::new();
    let first = collector.collect(&m.ctx()).await.expect("first sample");
    assert!(!first.in_recovery);
    assert_eq!(first.datname, "postgres");
    assert_eq!(first.server_version_num, m.facts.server_version_num);
    assert!(
        first
            .server_version
            .starts_with(&format!("{}.", primary().major()))
    );
    assert!(first.uptime_s > 0.0);
    assert!(first.max_connections > first.superuser_reserved_connections);
    if primary().major() < 16 {
        assert_eq!(first.reserved_connections, 0);
    }
    let size = first.database_size_bytes.expect("size on the first poll");
    assert!(size > 1_000_000, "several databases of a few MB: {size}");
    assert_eq!(collector.size_queries(), 1);

    // The counters are summed over every database, and the other tests create and drop
    // databases on this cluster: a drop takes its counts out of the sum. An attempt whose sum
    // fell below its baseline starts again from a new one.
    let mut baseline = first.clone();
    let mut second = first.clone();
    'attempt: for _ in 0..5 {
        let w = connect(primary(), "postgres").await;
        for _ in 0..5 {
            w.batch_execute("BEGIN; SELECT 1; COMMIT")
                .await
                .expect("xact");
        }
        w.batch_execute("BEGIN; SELECT 1; ROLLBACK")
            .await
            .expect("rollback");
        // Backends report their counters when idle, at most once a second; before PostgreSQL
        // 15 a backend that stays idle keeps what it could not report yet until its next
        // transaction or its exit: end the session.
        drop(w);
        for _ in 0..50 {
            second = collector.collect(&m.ctx()).await.expect("sample");
            if second.xact_commit < baseline.xact_commit
                || second.xact_rollback < baseline.xact_rollback
            {
                baseline = second.clone();
                continue 'attempt;
            }
            if second.xact_commit >= baseline.xact_commit + 5
                && second.xact_rollback > baseline.xact_rollback
            {
                break 'attempt;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    assert!(
        second.xact_commit >= baseline.xact_commit + 5,
        "{} -> {}",
        baseline.xact_commit,
        second.xact_commit
    );
    assert!(second.xact_rollback > baseline.xact_rollback);
    assert!(second.collected_at > first.collected_at);
    // The size is carried forward, not measured again within the minute.
    assert_eq!(collector.size_queries(), 1);
    assert_eq!(second.database_size_bytes, Some(size));
    assert_eq!(second.xact_per_s, None, "derived fields are the model's");
}

#[tokio::test]
async fn activity_statements_and_cache_work_on_the_standby() {
    let m = monitor(standby(), "postgres").await;
    let activity = ActivityCollector::new()
        .collect(&m.ctx())
        .await
        .expect("activity on the standby");
    assert!(
        activity
            .sessions
            .iter()
            .any(|s| s.backend_type == "startup"),
        "the startup process replays WAL"
    );
    let statements = StatementsCollector::new()
        .collect(&m.ctx())
        .await
        .expect("statements on the standby");
    assert_eq!(
        statements.extension_version,
        m.facts
            .pgss
            .as_ref()
            .map(|p| format!("{}.{}", p.version.0, p.version.1))
            .expect("installed")
    );
    let cache = CacheCollector::new()
        .collect(&m.ctx())
        .await
        .expect("cache on the standby");
    assert!(cache.databases.iter().any(|d| d.datname == "postgres"));
}

#[tokio::test]
async fn the_standby_is_in_recovery() {
    let m = monitor(standby(), "postgres").await;
    let sample = ServerCollector::new()
        .collect(&m.ctx())
        .await
        .expect("standby sample");
    assert!(sample.in_recovery);
    assert!(sample.database_size_bytes.is_some());
}
