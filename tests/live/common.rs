//! Shared helpers of the live tests: the cluster, connections, unique names, polling.
#![allow(dead_code)]

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use pgvitals::cluster::{Cluster, ClusterOptions, Node};

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The cluster every live test shares: a primary and a streaming standby (default
/// [`ClusterOptions`], `shared_buffers = 16MB`), started on first use and never dropped (its
/// reaper removes it when the test binary exits).
///
/// Panics with the [`pgvitals::cluster::ClusterError`] message (e.g. which package to install)
/// when it cannot start: a test that needs a server fails, it never skips. Only the first
/// caller tries; later callers get the same message.
///
/// Do not stop, promote or reconfigure these servers: tests run in parallel threads. Start
/// your own with `Cluster::start` for that.
pub fn cluster() -> &'static Cluster {
    let started = CLUSTER.get_or_init(|| {
        Cluster::start(ClusterOptions {
            standby: true,
            ..ClusterOptions::default()
        })
        .map_err(|e| e.to_string())
    });
    match started {
        Ok(cluster) => cluster,
        Err(message) => panic!("cannot start the test PostgreSQL cluster: {message}"),
    }
}

/// The shared cluster's primary.
pub fn primary() -> &'static Node {
    &cluster().primary
}

/// The shared cluster's standby.
pub fn standby() -> &'static Node {
    match &cluster().standby {
        Some(node) => node,
        None => panic!("the shared test cluster has no standby"),
    }
}

/// A tokio-postgres client as `postgres` to database `db` on `node` over its unix socket (no
/// TLS). The connection task is spawned on the current tokio runtime; it ends with the client.
pub async fn connect(node: &Node, db: &str) -> tokio_postgres::Client {
    connect_as(node, "postgres", db).await
}

/// Like [`connect`], as role `user` (authentication is `trust`).
pub async fn connect_as(node: &Node, user: &str, db: &str) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&node.socket_dir)
        .port(node.port)
        .user(user)
        .dbname(db)
        .application_name("pgvitals-live-test");
    let (client, connection) = match config.connect(tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!(
            "connect to {} ({}) failed: {e}",
            node.name,
            node.conninfo_as(user, db)
        ),
    };
    tokio::spawn(async move {
        // The error, if any, surfaces in the client's next call.
        let _ = connection.await;
    });
    client
}

/// A name unique within this test run and among concurrent runs: `<prefix>_<pid>_<n>`, lower
/// case, usable unquoted as an SQL identifier when `prefix` is.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}_{}_{n}", prefix.to_lowercase(), std::process::id())
}

/// Polls `poll` every 20 ms until it returns true (→ true) or `timeout` passes (→ false).
/// Blocks the thread: inside a tokio test use [`wait_until_async`] (or a multi-thread runtime).
pub fn wait_until(timeout: Duration, mut poll: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if poll() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Async [`wait_until`]: awaits `poll()` every 20 ms until it yields true or `timeout` passes.
pub async fn wait_until_async<F, Fut>(timeout: Duration, mut poll: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if poll().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Receives the workers' updates into their store until `done` (given each update and the
/// store after it) holds (→ true) or `timeout` passes or the channel closes (→ false).
pub async fn pump(
    running: &mut pgvitals::app::Running,
    timeout: Duration,
    mut done: impl FnMut(&pgvitals::sample::Update, &pgvitals::model::Store) -> bool,
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

/// Every area has a sample and none is in error, except `except`.
pub fn assert_all_areas_work(
    server: &pgvitals::model::ServerState,
    except: &[pgvitals::sample::Area],
) {
    for area in pgvitals::sample::Area::ALL {
        if except.contains(&area) {
            continue;
        }
        let st = server.area(area);
        assert!(
            st.error.is_none(),
            "{} {}: {:?}",
            server.label,
            area.key(),
            st.error
        );
        assert!(
            st.sample.is_some(),
            "{} {} has no sample",
            server.label,
            area.key()
        );
    }
}

/// A primary and a streaming standby of the calling test's own (for tests that pause replay
/// or stage an incident the shared cluster's other tests must not see), started off the
/// async runtime. Panics with the cluster's error.
pub async fn own_primary_and_standby() -> pgvitals::cluster::Cluster {
    tokio::task::spawn_blocking(|| {
        pgvitals::cluster::Cluster::start(pgvitals::cluster::ClusterOptions {
            standby: true,
            ..pgvitals::cluster::ClusterOptions::default()
        })
    })
    .await
    .expect("cluster task")
    .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"))
}
