//! The workers through a server restart, on a cluster of this test's own (the shared one must
//! not be stopped): the link goes down with the error and the next attempt, the areas keep
//! their last sample, and after the restart samples flow again within seconds, with rates
//! from a fresh baseline.

use std::time::{Duration, Instant, SystemTime};

use crate::common::pump;
use pgvitals::cluster::{Cluster, ClusterOptions};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::Link;
use pgvitals::sample::{Area, LinkEvent, Update};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_survive_a_server_restart_and_rebaseline() {
    let cluster = own_cluster(ClusterOptions::default()).await;
    let node = &cluster.primary;
    let config = Config {
        interval: Duration::from_millis(300),
        ..Config::default()
    };
    let spec = ConnSpec::parse(&node.conninfo("postgres")).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");

    // up: a server sample with a rate
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, store| {
            store.servers[0]
                .server()
                .is_some_and(|s| s.xact_per_s.is_some())
        })
        .await,
        "no server sample with a rate"
    );

    for mode in ["fast", "immediate"] {
        // stop (fast, then immediate: a crash-like stop with recovery on start): the link goes
        // down, with an error and a next attempt
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.primary.stop(mode))
            .await
            .expect("join")
            .expect("stop");
        let stopped_at = Instant::now();
        assert!(
            pump(&mut running, Duration::from_secs(15), |u, _| matches!(
                u,
                Update::Link {
                    event: LinkEvent::Down { .. },
                    ..
                }
            ))
            .await,
            "the link never went down"
        );
        let server = &running.store.servers[0];
        match &server.link {
            Link::Down {
                error,
                next_attempt,
                ..
            } => {
                assert!(!error.message.is_empty());
                // backoff is capped at 2 s
                let wait = next_attempt
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
                assert!(wait <= Duration::from_secs(2), "next attempt in {wait:?}");
            }
            other => panic!("link is {other:?}"),
        }
        // the last good sample is kept while the server is away
        assert!(server.server().is_some() && server.activity().is_some());
        assert!(stopped_at.elapsed() < Duration::from_secs(15));

        // start again: connected within a few seconds, and the first server sample after the
        // reconnect has no rate (a fresh baseline), the next one has
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.primary.start())
            .await
            .expect("join")
            .expect("start");
        let restarted = Instant::now();
        assert!(
            pump(&mut running, Duration::from_secs(10), |u, _| matches!(
                u,
                Update::Link {
                    event: LinkEvent::Connected(_),
                    ..
                }
            ))
            .await,
            "never reconnected"
        );
        let reconnect = restarted.elapsed();
        // within 2 s of the server accepting connections (pg_ctl start -w returns once it
        // does): the backoff is capped at 2 s, plus at most one poll tick (300 ms) and the
        // connect itself
        assert!(
            reconnect < Duration::from_millis(2600),
            "{mode}: reconnected only after {reconnect:?}"
        );
        let mut first_after: Option<Option<f64>> = None;
        assert!(
            pump(&mut running, Duration::from_secs(10), |u, store| {
                if let Update::Sample { sample, .. } = u {
                    if matches!(**sample, pgvitals::sample::Sample::Server(_)) {
                        let rate = store.servers[0].server().and_then(|s| s.xact_per_s);
                        match first_after {
                            None => first_after = Some(rate),
                            Some(_) => return rate.is_some(),
                        }
                    }
                }
                false
            })
            .await,
            "no rate after the reconnect"
        );
        assert_eq!(
            first_after,
            Some(None),
            "the first sample after a reconnect must start a fresh baseline"
        );
        assert!(matches!(running.store.servers[0].link, Link::Up { .. }));
    }
    drop(running);
    drop(cluster);
}

/// Start a cluster of this test's own (off the async threads: initdb takes a while).
async fn own_cluster(options: ClusterOptions) -> std::sync::Arc<Cluster> {
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(options))
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"));
    std::sync::Arc::new(cluster)
}

/// The postmaster of `node` and all its children (backends, checkpointer, walwriter, ...).
fn server_processes(node: &pgvitals::cluster::Node) -> Vec<i32> {
    let postmaster = node.postmaster_pid().expect("the server is running");
    let out = std::process::Command::new("pgrep")
        .args(["-P", &postmaster.to_string()])
        .output()
        .expect("run pgrep");
    let mut pids = vec![postmaster];
    pids.extend(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok()),
    );
    pids
}

/// Send `signal` to the postmaster first, then to every child (stopping the postmaster first
/// means no new child escapes the freeze).
fn signal_server(node: &pgvitals::cluster::Node, signal: nix::sys::signal::Signal) -> usize {
    let pids = server_processes(node);
    for pid in &pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), signal);
    }
    // children forked between the pgrep and the signal to the postmaster
    for pid in server_processes(node) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    }
    pids.len()
}

/// Client backends of pgvitals' workers (application_name exactly `pgvitals`; the test's
/// own connections are `pgvitals-live-test`).
async fn pgvitals_backends(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgvitals' \
             AND backend_type = 'client backend'",
            &[],
        )
        .await
        .expect("count pgvitals backends")
        .get(0)
}

fn describe(update: &Update) -> String {
    match update {
        Update::Sample { sample, .. } => format!("sample {}", sample.area().key()),
        Update::Failed { area, error, .. } => {
            format!("failed {} {:?}: {}", area.key(), error.kind, error.message)
        }
        Update::Link {
            event: LinkEvent::Down { error, .. },
            ..
        } => format!("link down {:?}: {}", error.kind, error.message),
        Update::Link {
            event: LinkEvent::Connected(_),
            ..
        } => "link up".to_string(),
        Update::Acted { outcome, .. } => format!("acted: {outcome:?}"),
    }
}

/// How long the server is frozen (SIGSTOP of the postmaster and every child): 20 s, many
/// times the client-side deadline (3 s here), so queries time out, their connections wait
/// aside for the server, and pool waits time out again and again while it stays frozen.
const HANG: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_is_reported_and_never_gets_more_than_two_connections() {
    let cluster = own_cluster(ClusterOptions::default()).await;
    let node = &cluster.primary;
    let config = Config {
        interval: Duration::from_millis(300),
        query_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    // client-side deadline of one query: query_timeout + 2 s
    let deadline = config.query_timeout + Duration::from_secs(2);
    let spec = ConnSpec::parse(&node.conninfo("postgres")).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, store| {
            store.servers[0].server().is_some() && store.servers[0].activity().is_some()
        })
        .await,
        "no samples before the hang"
    );
    let watcher = crate::common::connect(node, "postgres").await;
    let before = pgvitals_backends(&watcher).await;
    assert!(
        (1..=2).contains(&before),
        "{before} pgvitals backends before the hang"
    );

    let frozen = signal_server(node, nix::sys::signal::Signal::SIGSTOP);
    let stopped = Instant::now();
    let mut timeline: Vec<(Duration, String)> = Vec::new();
    pump(&mut running, HANG, |u, _| {
        timeline.push((stopped.elapsed(), describe(u)));
        false
    })
    .await;
    signal_server(node, nix::sys::signal::Signal::SIGCONT);
    let resumed = Instant::now();
    for (t, what) in &timeline {
        eprintln!("hang +{:>6.2}s {what}", t.as_secs_f64());
    }
    eprintln!("froze {frozen} processes");

    // not silence: failures reported within the query deadline (plus a poll), and again at
    // least every few seconds while the server stays frozen
    let reports: Vec<Duration> = timeline
        .iter()
        .filter(|(_, what)| !what.starts_with("sample"))
        .map(|(t, _)| *t)
        .collect();
    let first = reports.first().copied();
    assert!(
        first.is_some_and(|t| t <= deadline + Duration::from_millis(1500)),
        "first failure report at {first:?}; timeline {timeline:?}"
    );
    let mut gaps: Vec<Duration> = reports.windows(2).map(|w| w[1] - w[0]).collect();
    if let Some(last) = reports.last() {
        gaps.push(HANG.saturating_sub(*last));
    }
    let worst = gaps.iter().max().copied().unwrap_or_default();
    // (a worker waits up to a deadline for the connection gate, the one holding it up to
    // another for the pool, and reports are not repeated within a backoff period)
    assert!(
        worst <= deadline + Duration::from_secs(3),
        "{worst:?} without any report during the hang; timeline {timeline:?}"
    );
    assert!(
        timeline
            .iter()
            .any(|(_, what)| what.contains("ClientTimeout") || what.starts_with("link down")),
        "no timeout or link-down report; timeline {timeline:?}"
    );

    // after SIGCONT: never more than two pgvitals backends (sampled every 100 ms for 4 s),
    // and samples again within a few seconds
    let sampler = async {
        let mut counts = Vec::new();
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            counts.push((resumed.elapsed(), pgvitals_backends(&watcher).await));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        counts
    };
    let mut back: Option<Duration> = None;
    let recovery = async {
        let mut after = Vec::new();
        pump(&mut running, Duration::from_secs(6), |u, _| {
            after.push((resumed.elapsed(), describe(u)));
            if matches!(u, Update::Sample { .. }) && back.is_none() {
                back = Some(resumed.elapsed());
            }
            false
        })
        .await;
        after
    };
    let (counts, after) = tokio::join!(sampler, recovery);
    for (t, what) in &after {
        eprintln!("after +{:>6.2}s {what}", t.as_secs_f64());
    }
    eprintln!("pgvitals backends after SIGCONT: {counts:?}");
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    assert!(
        most <= pgvitals::collect::pool::MAX_CONNECTIONS as i64,
        "{most} pgvitals backends after the hang: {counts:?}"
    );
    assert!(
        back.is_some_and(|t| t < Duration::from_secs(4)),
        "samples resumed only after {back:?}; {after:?}"
    );
    // the areas polled on the fast interval are fresh again and the link is up
    assert!(
        matches!(running.store.servers[0].link, Link::Up { .. }),
        "link {:?}",
        running.store.servers[0].link
    );
    let now = SystemTime::now();
    let server = &running.store.servers[0];
    for area in [Area::Server, Area::Activity, Area::Cache] {
        // within 3 s, or two periods and a second for an area polled less often (cache:
        // 5 s); a sample from before the hang is older than that
        let within = Duration::from_secs(3)
            .max(area.period(config.interval, config.slow_interval) * 2 + Duration::from_secs(1));
        assert!(
            matches!(
                server.area(area).freshness(now, within),
                pgvitals::model::Freshness::Fresh { .. }
            ),
            "{} not fresh after the hang: {:?}",
            area.key(),
            server.area(area)
        );
    }
    drop(running);
    drop(cluster);
}

/// A connection as `user`, or the error (the common helper panics on errors; here refusals
/// are what the test looks for).
async fn try_connect(
    node: &pgvitals::cluster::Node,
    user: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&node.socket_dir)
        .port(node.port)
        .user(user)
        .dbname("postgres")
        .application_name("pgvitals-live-test");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_is_seen_without_restarting_the_workers() {
    let cluster = own_cluster(ClusterOptions {
        standby: true,
        ..ClusterOptions::default()
    })
    .await;
    let standby = cluster.standby.as_ref().expect("a standby");
    let config = Config {
        interval: Duration::from_millis(300),
        ..Config::default()
    };
    let spec = ConnSpec::parse(&standby.conninfo("postgres")).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    // the standby's view: in recovery, the receiver side of replication
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, store| {
            let s = &store.servers[0];
            s.server().is_some() && s.replication().is_some()
        })
        .await,
        "no samples from the standby"
    );
    {
        let s = &running.store.servers[0];
        assert!(s.server().expect("server").in_recovery);
        let r = s.replication().expect("replication");
        assert_eq!(r.role, pgvitals::sample::ServerRole::Standby, "{r:?}");
        assert!(r.standby_status.is_some(), "{r:?}");
        assert!(r.current_wal_lsn.is_none(), "{r:?}");
        assert_eq!(s.role(), Some(pgvitals::sample::ServerRole::Standby));
    }

    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.standby.as_ref().expect("standby").promote())
        .await
        .expect("join")
        .expect("promote");
    let promoted = Instant::now();
    let (mut server_flipped, mut replication_flipped) = (None, None);
    assert!(
        pump(&mut running, Duration::from_secs(10), |u, store| {
            let s = &store.servers[0];
            if let Update::Sample { sample, .. } = u {
                match &**sample {
                    pgvitals::sample::Sample::Server(x) if !x.in_recovery => {
                        server_flipped.get_or_insert(promoted.elapsed());
                    }
                    pgvitals::sample::Sample::Replication(r)
                        if r.role == pgvitals::sample::ServerRole::Primary =>
                    {
                        replication_flipped.get_or_insert(promoted.elapsed());
                    }
                    _ => {}
                }
            }
            server_flipped.is_some()
                && replication_flipped.is_some()
                && s.role() == Some(pgvitals::sample::ServerRole::Primary)
        })
        .await,
        "the promotion was not seen within 10 s (server {server_flipped:?}, replication \
         {replication_flipped:?})"
    );
    eprintln!(
        "promotion seen: server sample {server_flipped:?}, replication {replication_flipped:?}"
    );
    let r = running.store.servers[0]
        .replication()
        .expect("replication")
        .clone();
    // the primary's view: a current WAL position, no receiver status
    assert!(r.current_wal_lsn.is_some(), "{r:?}");
    assert!(r.standby_status.is_none(), "{r:?}");
    for t in [server_flipped, replication_flipped] {
        assert!(
            t.is_some_and(|t| t < Duration::from_secs(5)),
            "seen only after {t:?}"
        );
    }
    // the areas carry on on the promoted server: nothing failed
    let server = &running.store.servers[0];
    for area in Area::ALL {
        assert!(
            server.area(area).error.is_none(),
            "{} failed after the promotion: {:?}",
            area.key(),
            server.area(area).error
        );
    }
    drop(running);
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_own_backends_are_replaced_and_samples_flow_again() {
    // the shared cluster: nothing is stopped, and only backends with this test's
    // application_name are terminated
    let node = crate::common::primary();
    let app = crate::common::unique("pgvitals_term");
    let spec = ConnSpec::parse(&format!(
        "{} application_name={app}",
        node.conninfo("postgres")
    ))
    .expect("spec");
    let config = Config {
        interval: Duration::from_millis(300),
        ..Config::default()
    };
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, store| {
            store.servers[0].server().is_some() && store.servers[0].activity().is_some()
        })
        .await,
        "no samples"
    );
    let admin = crate::common::connect(node, "postgres").await;
    let ours = |rows: Vec<tokio_postgres::Row>| -> Vec<i32> {
        rows.iter().map(|r| r.get::<_, i32>(0)).collect()
    };
    let before = ours(
        admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .expect("pids"),
    );
    assert!(!before.is_empty() && before.len() <= 2, "{before:?}");
    let terminated: i64 = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(terminated >= 1);
    let killed = Instant::now();
    let mut timeline = Vec::new();
    let mut server_samples_after = 0;
    assert!(
        pump(&mut running, Duration::from_secs(8), |u, _| {
            timeline.push((killed.elapsed(), describe(u)));
            if let Update::Sample { sample, .. } = u {
                if sample.area() == Area::Server {
                    server_samples_after += 1;
                }
            }
            server_samples_after >= 3
        })
        .await,
        "samples did not resume after pg_terminate_backend; {timeline:?}"
    );
    for (t, what) in &timeline {
        eprintln!("terminated +{:>5.2}s {what}", t.as_secs_f64());
    }
    let resumed = timeline
        .iter()
        .filter(|(_, w)| w == "sample server")
        .nth(2)
        .map(|(t, _)| *t)
        .unwrap_or_default();
    assert!(
        resumed < Duration::from_secs(4),
        "resumed after {resumed:?}"
    );
    // whatever was reported is about the lost connection, not some other failure
    for (_, what) in &timeline {
        if what.starts_with("failed") || what.starts_with("link down") {
            assert!(what.contains("Unreachable"), "{what}");
        }
    }
    // new backends replaced the terminated ones, still at most two
    let after = ours(
        admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .expect("pids"),
    );
    assert!(!after.is_empty() && after.len() <= 2, "{after:?}");
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "old backends {before:?} still there: {after:?}"
    );
    assert!(matches!(running.store.servers[0].link, Link::Up { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_reached_is_reported_retried_and_recovered() {
    let cluster = own_cluster(ClusterOptions {
        extra_conf: vec![
            "max_connections = 8".to_string(),
            "superuser_reserved_connections = 2".to_string(),
        ],
        ..ClusterOptions::default()
    })
    .await;
    let node = &cluster.primary;
    node.psql(
        "postgres",
        "CREATE ROLE monitor LOGIN IN ROLE pg_monitor; CREATE ROLE filler LOGIN",
    )
    .expect("roles");
    // fill every slot an ordinary role may take
    let mut fillers = Vec::new();
    let refusal = loop {
        match try_connect(node, "filler").await {
            Ok(c) => fillers.push(c),
            Err(e) => break e,
        }
        assert!(fillers.len() < 20, "max_connections = 8 never refused");
    };
    assert_eq!(
        refusal.code().map(|c| c.code()),
        Some("53300"),
        "filling stopped for another reason: {refusal}"
    );
    eprintln!("{} fillers; then: {refusal}", fillers.len());

    let config = Config {
        interval: Duration::from_millis(300),
        ..Config::default()
    };
    let spec = ConnSpec::parse(&node.conninfo_as("monitor", "postgres")).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    let started = Instant::now();
    let mut downs: Vec<(Duration, pgvitals::sample::CollectError, SystemTime)> = Vec::new();
    pump(&mut running, Duration::from_secs(4), |u, _| {
        if let Update::Link {
            event:
                LinkEvent::Down {
                    error,
                    next_attempt,
                },
            at,
            ..
        } = u
        {
            let wait = next_attempt.duration_since(*at).unwrap_or_default();
            downs.push((
                started.elapsed(),
                error.clone(),
                SystemTime::UNIX_EPOCH + wait,
            ));
        }
        false
    })
    .await;
    for (t, e, wait) in &downs {
        eprintln!(
            "+{:.2}s down {:?} {:?} next in {:?}: {}",
            t.as_secs_f64(),
            e.kind,
            e.sqlstate,
            wait.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
            e.message
        );
    }
    // what the screen shows: the link is down because of too many connections, with the fix
    match &running.store.servers[0].link {
        Link::Down { error, .. } => {
            assert_eq!(
                error.kind,
                pgvitals::sample::ErrorKind::TooManyConnections,
                "{error:?}"
            );
            assert_eq!(error.sqlstate.as_deref(), Some("53300"));
            assert!(
                error
                    .fix
                    .as_deref()
                    .is_some_and(|f| f.contains("pg_use_reserved_connections")),
                "{error:?}"
            );
        }
        other => panic!("link is {other:?}"),
    }
    // retried, one attempt at a time, with a backoff between 187 ms (250 ms - jitter) and 2 s
    assert!(downs.len() >= 3, "only {} attempts in 4 s", downs.len());
    assert!(
        downs.len() <= 16,
        "{} attempts in 4 s: no backoff",
        downs.len()
    );
    for pair in downs.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= Duration::from_millis(150), "attempts {gap:?} apart");
    }
    for (_, _, wait) in &downs {
        let wait = wait
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        assert!(wait <= Duration::from_secs(2), "next attempt in {wait:?}");
    }
    assert!(running.store.servers[0].server().is_none());

    // a slot frees up: connected and sampling within the 2 s backoff cap (plus a poll)
    drop(fillers);
    let freed = Instant::now();
    assert!(
        pump(&mut running, Duration::from_secs(6), |_, store| {
            store.servers[0].server().is_some() && matches!(store.servers[0].link, Link::Up { .. })
        })
        .await,
        "no recovery after the slots freed up"
    );
    let took = freed.elapsed();
    assert!(took < Duration::from_secs(4), "recovered after {took:?}");
    drop(running);
    drop(cluster);
}

/// Areas that failed and areas that sampled, by key, during `window`.
async fn watch_areas(
    running: &mut pgvitals::app::Running,
    window: Duration,
) -> (
    std::collections::BTreeMap<&'static str, usize>,
    std::collections::BTreeMap<&'static str, pgvitals::sample::CollectError>,
) {
    let mut sampled = std::collections::BTreeMap::new();
    let mut failed = std::collections::BTreeMap::new();
    pump(running, window, |u, _| {
        match u {
            Update::Sample { sample, .. } => *sampled.entry(sample.area().key()).or_insert(0) += 1,
            Update::Failed { area, error, .. } => {
                failed.insert(area.key(), error.clone());
            }
            _ => {}
        }
        false
    })
    .await;
    (sampled, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_relation_fails_only_the_area_that_needs_it() {
    // the shared cluster, in a database of this test's own
    let node = crate::common::primary();
    let db = crate::common::unique("faults_lock");
    let admin = crate::common::connect(node, "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create database");
    let owner = crate::common::connect(node, &db).await;
    owner
        .batch_execute(
            // the extension too: without it the statements area reports itself every 15 s
            "CREATE EXTENSION pg_stat_statements; \
             CREATE TABLE locked_t (id int, x int); CREATE INDEX locked_t_x ON locked_t (x); \
             CREATE TABLE free_t (id int, x int); CREATE INDEX free_t_x ON free_t (x)",
        )
        .await
        .expect("tables");
    let config = Config {
        interval: Duration::from_millis(300),
        slow_interval: Duration::from_millis(500),
        // lock_timeout is a fifth: 200 ms
        query_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let spec = ConnSpec::parse(&node.conninfo(&db)).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, store| {
            store.servers[0]
                .unused_indexes()
                .is_some_and(|u| u.indexes.iter().any(|i| i.indexrelname == "free_t_x"))
        })
        .await,
        "no unused indexes sample"
    );

    // 1. a user table locked ACCESS EXCLUSIVE (an ALTER TABLE in progress): its index is
    //    skipped, nothing waits, nothing fails
    let locker = crate::common::connect(node, &db).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the table");
    // the slow areas are paced by their cost (250 x a few ms at this 500 ms slow
    // interval): wait for an unused-indexes sample taken under the lock
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, store| {
            store.servers[0]
                .unused_indexes()
                .is_some_and(|u| u.skipped_locked >= 1)
        })
        .await,
        "no unused indexes sample under the lock"
    );
    let (sampled, failed) = watch_areas(&mut running, Duration::from_secs(3)).await;
    eprintln!("table locked: sampled {sampled:?}, failed {failed:?}");
    assert!(failed.is_empty(), "{failed:?}");
    let unused = running.store.servers[0]
        .unused_indexes()
        .expect("unused indexes");
    assert!(unused.skipped_locked >= 1, "{unused:?}");
    assert!(
        unused.indexes.iter().any(|i| i.indexrelname == "free_t_x"),
        "{unused:?}"
    );
    locker.batch_execute("ROLLBACK").await.expect("unlock");

    // 2. a catalog the unused-indexes query reads, locked ACCESS EXCLUSIVE (as VACUUM FULL
    //    pg_constraint holds it): that area fails with a lock timeout and its fix; the others
    //    carry on
    locker
        .batch_execute("BEGIN; LOCK TABLE pg_catalog.pg_constraint IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock pg_constraint");
    // unused indexes polls when its cost-paced wait is over: until it fails, then a window
    // in which the others must carry on
    let mut unused_error = None;
    pump(&mut running, Duration::from_secs(20), |u, _| {
        if let Update::Failed { area, error, .. } = u {
            if *area == Area::UnusedIndexes {
                unused_error = Some(error.clone());
            }
        }
        unused_error.is_some()
    })
    .await;
    // long enough for a cache poll (at most every 5 s) to fall in it
    let window = Duration::from_secs(6);
    let (sampled, failed) = watch_areas(&mut running, window).await;
    eprintln!("pg_constraint locked: sampled {sampled:?}, failed {failed:?}");
    // 3 polls of each area in the window, or as many as its period allows (cache: 1)
    let polls = |key: &str| {
        let area = Area::ALL
            .into_iter()
            .find(|a| a.key() == key)
            .expect("an area");
        let period = area.period(config.interval, config.slow_interval);
        ((window.as_millis() / period.as_millis().max(1)) as usize).clamp(1, 3)
    };
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let error = unused_error
        .as_ref()
        .unwrap_or_else(|| panic!("unused indexes did not fail: {failed:?}"));
    assert_eq!(
        error.kind,
        pgvitals::sample::ErrorKind::LockTimeout,
        "{error:?}"
    );
    assert_eq!(error.sqlstate.as_deref(), Some("55P03"));
    assert!(error.fix.is_some(), "{error:?}");
    for area in ["server", "activity", "cache", "replication"] {
        match failed.get(area) {
            // Planning a view with GROUP BY (pg_statio_user_tables) reads pg_constraint for
            // primary keys: a query prepared for the first time on a connection (or re-planned
            // after an invalidation) meets the lock too, and ends the same bounded way.
            Some(e) => assert_eq!(
                e.kind,
                pgvitals::sample::ErrorKind::LockTimeout,
                "{area} failed otherwise: {failed:?}"
            ),
            None => assert!(
                sampled.get(area).copied().unwrap_or(0) >= polls(area),
                "{area} stalled while pg_constraint was locked: {sampled:?}, {failed:?}"
            ),
        }
    }
    for area in ["server", "activity"] {
        assert!(
            sampled.get(area).copied().unwrap_or(0) >= 3,
            "{area} stalled while pg_constraint was locked: {sampled:?}, {failed:?}"
        );
    }
    // the link stayed up: a lock timeout is not a broken connection
    assert!(matches!(running.store.servers[0].link, Link::Up { .. }));

    // released: the area recovers
    assert!(
        pump(&mut running, Duration::from_secs(5), |u, _| matches!(
            u,
            Update::Sample { sample, .. } if sample.area() == Area::UnusedIndexes
        ))
        .await,
        "unused indexes did not recover"
    );
    assert!(
        running.store.servers[0]
            .area(Area::UnusedIndexes)
            .error
            .is_none()
    );
    drop(running);
    drop(owner);
    drop(locker);
    let _ = admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await;
}
