//! Back-off after a timeout, against the shared primary, in a database of this test's own:
//! the WAL area's query really runs past `statement_timeout` on the server (SQLSTATE 57014),
//! and the attempts after it are spaced by the back-off, said in the area's error.
//!
//! How the query is made to run past the timeout: a session of the test holds
//! `pg_catalog.pg_stat_archiver` (a view only the WAL query reads) locked ACCESS EXCLUSIVE in
//! this database, and the monitoring connection string turns the session's lock_timeout off
//! with `options='-c lock_timeout=0'` (the user's own options come after pgvitals' and win).
//! So the query waits for the lock until `statement_timeout` ends it: the server's own
//! "canceling statement due to statement timeout", as for a query that computes too long,
//! and not the lock timeout pgvitals would otherwise hit first.

use std::time::{Duration, Instant};

use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::snapshot;
use pgvitals::sample::{Area, CollectError, ErrorKind, Update};

use crate::common::{connect, primary, pump};
use crate::unused_indexes::TempDatabase;

const INTERVAL: Duration = Duration::from_millis(250);
const QUERY_TIMEOUT: Duration = Duration::from_millis(300);

fn config() -> Config {
    Config {
        interval: INTERVAL,
        query_timeout: QUERY_TIMEOUT,
        ..Config::default()
    }
}

fn spec(db: &str) -> ConnSpec {
    let conninfo = format!("{} options='-c lock_timeout=0'", primary().conninfo(db));
    ConnSpec::parse(&conninfo).expect("spec")
}

/// The WAL area's failures (time, error) until `n` of them or `timeout`, how many WAL
/// samples came after the first failure (none should: the lock is held by then; samples
/// before it may have been taken, or queued, before the lock), and how many samples the
/// server area sent meanwhile (the other areas carry on).
async fn wal_failures(
    running: &mut pgvitals::app::Running,
    n: usize,
    timeout: Duration,
) -> (Vec<(Instant, CollectError)>, usize, usize) {
    let mut failures = Vec::new();
    let (mut wal_samples, mut server_samples) = (0, 0);
    pump(running, timeout, |u, _| {
        match u {
            Update::Failed {
                area: Area::Wal,
                error,
                ..
            } => failures.push((Instant::now(), error.clone())),
            Update::Sample { sample, .. } if sample.area() == Area::Wal && !failures.is_empty() => {
                wal_samples += 1
            }
            Update::Sample { sample, .. } if sample.area() == Area::Server => server_samples += 1,
            _ => {}
        }
        failures.len() >= n
    })
    .await;
    (failures, wal_samples, server_samples)
}

/// Wait (15 s at most) for the WAL area's first sample: the area works before the test
/// locks its view.
async fn first_wal_sample(running: &mut pgvitals::app::Running) {
    assert!(
        pump(running, Duration::from_secs(15), |_, store| store.servers
            [0]
        .area(Area::Wal)
        .sample
        .is_some())
        .await,
        "no WAL sample before the lock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_that_times_out_backs_off_says_so_and_starts_over_after_a_sample() {
    let db = TempDatabase::create("backoff");
    let mut running = pgvitals::app::start_workers(&[spec(&db.0)], &config()).expect("workers");
    first_wal_sample(&mut running).await;

    let locker = connect(primary(), &db.0).await;
    let lock = "BEGIN; LOCK TABLE pg_catalog.pg_stat_archiver IN ACCESS EXCLUSIVE MODE";
    locker.batch_execute(lock).await.expect("lock the view");
    let started = Instant::now();
    // without the back-off the area would try every other tick (a 300 ms poll on a 250 ms
    // period): about 18 tries in the 9 s the first five take with it
    let (failures, wal_samples, server_samples) =
        wal_failures(&mut running, 5, Duration::from_secs(25)).await;
    let took = started.elapsed();
    eprintln!(
        "{} failures in {took:?}: {:?}",
        failures.len(),
        failures
            .iter()
            .map(|(t, e)| (t.duration_since(started), e.retry_in_s, e.message.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(failures.len(), 5, "five timeouts within 25 s: {failures:?}");
    assert_eq!(wal_samples, 0, "WAL samples after the first timeout");
    assert!(
        server_samples >= 10,
        "the server area carried on: {server_samples} samples"
    );
    let expected = [0.5, 1.0, 2.0, 4.0, 4.0];
    let spoken = ["500 ms", "1 s", "2 s", "4 s", "4 s"];
    for (i, (_, error)) in failures.iter().enumerate() {
        assert_eq!(error.kind, ErrorKind::StatementTimeout, "{error:?}");
        assert_eq!(error.sqlstate.as_deref(), Some("57014"), "{error:?}");
        assert_eq!(
            error.retry_in_s,
            Some(expected[i]),
            "timeout {}: {error:?}",
            i + 1
        );
        assert_eq!(
            error.message,
            format!(
                "the query ran past the 300 ms query timeout; next try in {} (backing off)",
                spoken[i]
            )
        );
    }
    // each try after a timeout comes after the wait it announced (plus the try's own 300 ms
    // until statement_timeout), and not much later; the failures are timed as they arrive,
    // and a loaded machine delays one now and then (CI: 0.69 s between the first two), so
    // the lower bound is the announced wait alone
    for (i, pair) in failures.windows(2).enumerate() {
        let gap = pair[1].0.duration_since(pair[0].0).as_secs_f64();
        let wait = expected[i];
        assert!(
            gap >= wait && gap <= wait + 0.3 + 1.5,
            "timeout {} → {}: {gap:.2} s apart, announced {wait} s",
            i + 1,
            i + 2
        );
    }

    // the store and the snapshot JSON say it too
    let server = &running.store.servers[0];
    let state = server.area(Area::Wal);
    let (error, _) = state.error.as_ref().expect("the WAL area is in error");
    assert_eq!(error.retry_in_s, Some(4.0));
    assert!(state.failed_at.is_some());
    assert!(state.sample.is_some(), "the last good sample is kept");
    let json = snapshot::server_json(server);
    assert_eq!(json["wal"]["error"]["kind"], "statement_timeout", "{json}");
    assert_eq!(json["wal"]["error"]["retry_in_s"], 4.0, "{json}");
    let message = json["wal"]["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.ends_with("next try in 4 s (backing off)"),
        "{message}"
    );

    // released: the next try (at most 4 s after the last timeout) samples, and that resets
    // the count: the next timeout waits two periods again
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let last_failure = failures
        .last()
        .map(|(t, _)| *t)
        .unwrap_or_else(Instant::now);
    assert!(
        pump(&mut running, Duration::from_secs(8), |u, _| matches!(
            u,
            Update::Sample { sample, .. } if sample.area() == Area::Wal
        ))
        .await,
        "the WAL area did not recover"
    );
    let back = last_failure.elapsed().as_secs_f64();
    assert!(
        (3.9..4.0 + 1.5).contains(&back),
        "sampled {back:.2} s after the last timeout, announced 4 s"
    );
    assert!(running.store.servers[0].area(Area::Wal).error.is_none());
    locker.batch_execute(lock).await.expect("lock again");
    let (again, _, _) = wal_failures(&mut running, 1, Duration::from_secs(10)).await;
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let (_, error) = again
        .first()
        .expect("a timeout after the lock was taken again");
    assert_eq!(error.retry_in_s, Some(0.5), "{error:?}");
    assert!(
        error.message.ends_with("next try in 500 ms (backing off)"),
        "{error:?}"
    );
    drop(running);
}

/// `pgvitals snapshot` does not try a timed-out area again in its second round, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_does_not_try_a_timed_out_area_again() {
    let db = TempDatabase::create("backoff_snap");
    let locker = connect(primary(), &db.0).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE pg_catalog.pg_stat_archiver IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the view");
    let store = pgvitals::app::take_snapshot(&[spec(&db.0)], &config())
        .await
        .expect("snapshot");
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let server = &store.servers[0];
    let (error, _) = server.area(Area::Wal).error.as_ref().expect("WAL in error");
    assert_eq!(error.kind, ErrorKind::StatementTimeout, "{error:?}");
    assert_eq!(
        error.message,
        "the query ran past the 300 ms query timeout; not tried again in this snapshot \
         (backing off)"
    );
    assert_eq!(error.retry_in_s, None, "no next try: the snapshot ends");
    // the other areas were sampled, without error (their rates in a snapshot are checked by
    // `app::snapshot_of_primary_and_standby_has_every_area_with_real_numbers`: after a
    // timeout the session may open its second connection, and on a loaded machine that has
    // cost the server area its baseline)
    assert!(
        server.server().is_some() && server.area(Area::Server).error.is_none(),
        "{:?}",
        server.area(Area::Server)
    );
    let json = snapshot::server_json(server);
    assert!(json["wal"]["error"]["retry_in_s"].is_null(), "{json}");
}

/// A monitoring query canceled by someone's `pg_cancel_backend` ends with the same SQLSTATE
/// as a timeout (57014), but long before the timeout: it is said as a cancel (kind `query`,
/// "query canceled after …"), and the area does not back off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_query_is_no_timeout() {
    let db = TempDatabase::create("canceled");
    let config = Config {
        interval: INTERVAL,
        query_timeout: Duration::from_secs(20),
        ..Config::default()
    };
    let mut running = pgvitals::app::start_workers(&[spec(&db.0)], &config).expect("workers");
    first_wal_sample(&mut running).await;
    let locker = connect(primary(), &db.0).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE pg_catalog.pg_stat_archiver IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the view");
    // the monitoring backend waiting on that lock, canceled by "an administrator"
    let admin = connect(primary(), "postgres").await;
    let canceled = crate::common::wait_until_async(Duration::from_secs(15), || async {
        admin
            .query_one(
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                &[&db.0],
            )
            .await
            .is_ok_and(|r| r.get::<_, i64>(0) > 0)
    })
    .await;
    assert!(canceled, "no monitoring query waited on the lock");
    let (failures, _, _) = wal_failures(&mut running, 1, Duration::from_secs(15)).await;
    let (_, error) = failures.first().expect("the canceled poll's failure");
    assert_eq!(error.kind, ErrorKind::Query, "{error:?}");
    assert_eq!(error.sqlstate.as_deref(), Some("57014"), "{error:?}");
    assert!(
        error.message.starts_with("query canceled after ")
            && error.message.contains("before the 20s statement_timeout"),
        "{error:?}"
    );
    assert_eq!(
        error.retry_in_s, None,
        "no back-off after a cancel: {error:?}"
    );
    locker.batch_execute("ROLLBACK").await.expect("release");
}
