//! The workers through a server restart, on a cluster of this test's own (the shared one must
//! not be stopped): the link goes down with the error and the next attempt, the areas keep
//! their last sample, and after the restart samples flow again within seconds, with rates
//! from a fresh baseline.

use std::time::{Duration, Instant, SystemTime};

use pgvitals::cluster::{Cluster, ClusterOptions};
use pgvitals::collect::{LinkEvent, Update};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::Link;

/// Receive updates into the store until `done` holds or `timeout` passes.
async fn pump(
    running: &mut pgvitals::app::Running,
    timeout: Duration,
    mut done: impl FnMut(&Update, &pgvitals::model::Store) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, running.updates.recv()).await {
            Ok(Some(update)) => {
                let copy = update.clone();
                running.store.apply(update, SystemTime::now());
                if done(&copy, &running.store) {
                    return true;
                }
            }
            _ => return false,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_survive_a_server_restart_and_rebaseline() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(ClusterOptions::default()))
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"));
    let cluster = std::sync::Arc::new(cluster);
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

    // stop (fast): the link goes down, with an error and a next attempt
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.primary.stop("fast"))
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
    assert!(
        reconnect < Duration::from_secs(4),
        "reconnected only after {reconnect:?}"
    );
    let mut first_after: Option<Option<f64>> = None;
    assert!(
        pump(&mut running, Duration::from_secs(10), |u, store| {
            if let Update::Sample { sample, .. } = u {
                if matches!(**sample, pgvitals::collect::Sample::Server(_)) {
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
    drop(running);
    drop(cluster);
}
