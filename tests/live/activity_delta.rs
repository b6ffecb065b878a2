//! Live tests of the activity collector's deltas (only the changed sessions sent each poll),
//! on a cluster of their own with a couple of hundred idle sessions: every poll's sample is
//! what a full read of the same moment gives, no state change is lost, the unchanged idle
//! sessions travel thin, and the connection limits are read again only after a restart.
//! `cost_at_2000_idle_sessions` (ignored: `cargo test --release --test live
//! activity_delta::cost -- --ignored --nocapture`) measures the server and client cost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::collect::areas::activity::{
    ActivityCollector, FULL_READ_EVERY, FullReason, MARGIN, PollReport, ReadKind,
};
use pgvitals::sample::{ActivitySample, OptF64, Session};

use crate::common::{connect, wait_until_async};
use crate::probe::{Monitor, monitor};

/// A cluster of our own (the shared one has too few connection slots and other tests'
/// sessions), with room for `max_connections`, without autovacuum (no worker comes and goes
/// between two reads).
async fn own_cluster(max_connections: u32) -> Cluster {
    let options = ClusterOptions {
        extra_conf: vec![
            format!("max_connections = {max_connections}"),
            "autovacuum = off".to_string(),
        ],
        ..ClusterOptions::default()
    };
    tokio::task::spawn_blocking(move || Cluster::start(options))
        .await
        .expect("cluster task")
        .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"))
}

/// `n` idle sessions, each having run one query of about `text_len` bytes.
async fn hold_idle(node: &Node, n: usize, text_len: usize) -> Vec<tokio_postgres::Client> {
    futures_util::stream::iter(0..n)
        .map(|i| async move {
            let c = connect(node, "postgres").await;
            let pad = "x".repeat(text_len.saturating_sub(40));
            c.batch_execute(&format!("SELECT 1 AS held /* holder {i} {pad} */"))
                .await
                .expect("holder's query");
            c
        })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn pid_of(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

/// How long the test's sessions take to settle after their last call returned: a client
/// has its result a moment before the backend reports `idle` and waits for the client
/// (`Client: ClientRead`).
const SETTLE: Duration = Duration::from_millis(150);

/// Poll `collector` (the one under test) and a fresh collector (whose first poll is always
/// a full read) right after it, with nothing in between: the sessions held by the test do not
/// move meanwhile (they are given [`SETTLE`] first).
async fn poll_both(
    m: &Monitor,
    collector: &mut ActivityCollector,
) -> (ActivitySample, PollReport, ActivitySample, PollReport) {
    tokio::time::sleep(SETTLE).await;
    let sample = collector.collect(&m.ctx()).await.expect("activity sample");
    let report = collector.last_poll().expect("a report");
    let mut fresh = ActivityCollector::new();
    let reference = fresh.collect(&m.ctx()).await.expect("full read");
    let full = fresh.last_poll().expect("a report");
    assert_eq!(full.read, ReadKind::Full(FullReason::First));
    (sample, report, reference, full)
}

/// The sessions connected to a database (client backends, also another role's whose type
/// is hidden), by pid.
fn clients(sample: &ActivitySample) -> BTreeMap<i32, &Session> {
    sample
        .sessions
        .iter()
        .filter(|s| s.datname.is_some())
        .map(|s| (s.pid, s))
        .collect()
}

/// The absolute time of an age in `sample` (ages are against the sample's own `now`).
fn when(sample: &ActivitySample, age: OptF64) -> Option<f64> {
    age.get().map(|a| sample.collected_at - a)
}

/// `got` shows what `reference` (a full read a moment later) shows: the same counts, the
/// same client sessions with the same states, texts, waits, blockers and timestamps (ages
/// are compared as the absolute times they stand for).
fn assert_same(got: &ActivitySample, reference: &ActivitySample, step: &str) {
    assert_same_but(got, reference, step, |_| false);
}

/// [`assert_same`], leaving out the sessions `skip` names.
fn assert_same_but(
    got: &ActivitySample,
    reference: &ActivitySample,
    step: &str,
    skip: impl Fn(&Session) -> bool,
) {
    assert_eq!(got.client_backends, reference.client_backends, "{step}");
    assert_eq!(got.states, reference.states, "{step}: states");
    assert_eq!(got.waiting_on_lock, reference.waiting_on_lock, "{step}");
    assert_eq!(got.max_connections, reference.max_connections, "{step}");
    assert_eq!(got.usable_connections, reference.usable_connections);
    let (mut a, mut b) = (clients(got), clients(reference));
    a.retain(|_, s| !skip(s));
    b.retain(|_, s| !skip(s));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{step}: the client sessions listed"
    );
    for (pid, x) in &a {
        let y = b[pid];
        let fixed = |s: &Session| {
            (
                s.usename.clone(),
                s.datname.clone(),
                s.application_name.clone(),
                s.client_addr.clone(),
                s.state.clone(),
                s.wait_event_type.clone(),
                s.wait_event.clone(),
                s.backend_start,
                s.query.clone(),
                s.blocked_by.clone(),
                s.backend_xid_age.is_some(),
                s.backend_xmin_age.is_some(),
            )
        };
        assert_eq!(fixed(x), fixed(y), "{step}: pid {pid}");
        for (what, p, q) in [
            ("backend start", x.backend_age_s, y.backend_age_s),
            ("xact start", x.xact_age_s, y.xact_age_s),
            ("query start", x.query_age_s, y.query_age_s),
            ("state change", x.state_age_s, y.state_age_s),
        ] {
            let (p, q) = (when(got, p), when(reference, q));
            let close = match (p, q) {
                (Some(p), Some(q)) => (p - q).abs() < 1e-3,
                (None, None) => true,
                _ => false,
            };
            assert!(
                close,
                "{step}: pid {pid} {what}: {p:?} vs {q:?}\n{x:#?}\n{y:#?}"
            );
        }
    }
}

async fn wait_for(watcher: &tokio_postgres::Client, what: &str, sql: &str, pid: i32) {
    let ok = wait_until_async(Duration::from_secs(20), || async {
        watcher
            .query_one(sql, &[&pid])
            .await
            .is_ok_and(|r| r.get::<_, bool>(0))
    })
    .await;
    assert!(ok, "timed out waiting for {what} (pid {pid})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_lose_no_state_change_and_send_unchanged_idle_sessions_thin() {
    let cluster = own_cluster(300).await;
    let node = &cluster.primary;
    const HOLDERS: usize = 250;
    let holders = hold_idle(node, HOLDERS, 120).await;
    let setup = connect(node, "postgres").await;
    setup
        .batch_execute("CREATE TABLE act_delta (id int PRIMARY KEY, v int); INSERT INTO act_delta VALUES (1, 0)")
        .await
        .expect("table");
    let actor = |name: &'static str| async move {
        let c = connect(node, "postgres").await;
        let pid = pid_of(&c).await;
        c.batch_execute(&format!("SELECT 1 /* {name} */"))
            .await
            .expect("first query");
        (c, pid)
    };
    let (a, pid_a) = actor("a").await; // idle -> active (pg_sleep) -> idle
    let (b, pid_b) = actor("b").await; // idle -> idle in transaction -> idle
    let (c, pid_c) = actor("c").await; // disconnects
    let (e, pid_e) = actor("e").await; // active -> idle -> active between two polls
    let (f, pid_f) = actor("f").await; // runs the same text again: only its times move
    let (g, pid_g) = actor("g").await; // holds a row lock
    let (h, pid_h) = actor("h").await; // waits on it
    let watcher = connect(node, "postgres").await;
    let m = monitor(node, "postgres").await;
    // the held sessions' queries lie more than MARGIN before the first poll
    tokio::time::sleep(MARGIN + Duration::from_millis(200)).await;

    let mut collector = ActivityCollector::new();
    let (first, report, reference, _) = poll_both(&m, &mut collector).await;
    assert_eq!(report.read, ReadKind::Full(FullReason::First));
    assert!(report.settings_read);
    assert_eq!(report.rows_thin, 0);
    assert_same(&first, &reference, "first poll");
    let mut last_full = Instant::now();
    let mut deltas = 0;
    // Every delta poll: the sample is the full read's, and the untouched holders were thin.
    let mut check = |step: &str,
                     got: &ActivitySample,
                     report: PollReport,
                     reference: &ActivitySample,
                     full: PollReport,
                     untouched: usize| {
        assert_same(got, reference, step);
        assert!(
            !report.settings_read,
            "{step}: the limits are not read again"
        );
        if last_full.elapsed() >= FULL_READ_EVERY {
            assert_eq!(report.read, ReadKind::Full(FullReason::Periodic), "{step}");
            last_full = Instant::now();
            return;
        }
        assert_eq!(report.read, ReadKind::Delta, "{step}: {report:?}");
        deltas += 1;
        assert_eq!(
            report.rows_full + report.rows_thin,
            got.sessions.len() + 1,
            "{step}: every backend (ours too) is sent once, in full or thin"
        );
        assert!(report.rows_full < full.rows_full, "{step}: {report:?}");
        assert!(
            report.rows_thin >= untouched,
            "{step}: the {untouched} untouched idle sessions travel thin: {report:?}"
        );
    };

    // Step 1: A runs a long query, B opens a transaction, C leaves, D1 and D2 arrive (D2
    // runs no query), E starts the first of two sleeps, F repeats its query, G takes a row
    // lock that H then waits on.
    let task_a = tokio::spawn(async move {
        a.batch_execute("SELECT pg_sleep(2) /* a */")
            .await
            .map(|_| a)
    });
    b.batch_execute("BEGIN; SELECT 1 /* b in transaction */")
        .await
        .expect("B opens a transaction");
    drop(c);
    let d1 = connect(node, "postgres").await;
    let pid_d1 = pid_of(&d1).await;
    d1.batch_execute("SELECT 1 /* d1 */").await.expect("d1");
    let d2 = {
        // a new session that has run no query at all (pid_of would be one)
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&node.socket_dir)
            .port(node.port)
            .user("postgres")
            .dbname("postgres")
            .application_name("d2");
        let (client, conn) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("d2 connects");
        tokio::spawn(conn);
        client
    };
    let (e_first_done, e_first_done_rx) = tokio::sync::oneshot::channel();
    let task_e = tokio::spawn(async move {
        e.batch_execute("SELECT pg_sleep(2.5) /* e */").await?;
        let _ = e_first_done.send(());
        e.batch_execute("SELECT pg_sleep(2.5) /* e */").await?;
        Ok::<_, tokio_postgres::Error>(e)
    });
    f.batch_execute("SELECT 1 /* f */").await.expect("F again");
    g.batch_execute("BEGIN; UPDATE act_delta SET v = 1 WHERE id = 1")
        .await
        .expect("G locks the row");
    let task_h = tokio::spawn(async move {
        h.batch_execute("UPDATE act_delta SET v = 2 WHERE id = 1")
            .await
            .map(|_| h)
    });
    let active = "SELECT coalesce(bool_or(state = 'active' AND query LIKE '%pg_sleep%'), false) FROM pg_stat_activity WHERE pid = $1";
    wait_for(&watcher, "A active", active, pid_a).await;
    wait_for(&watcher, "E active", active, pid_e).await;
    wait_for(
        &watcher,
        "C gone",
        "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)",
        pid_c,
    )
    .await;
    wait_for(
        &watcher,
        "H waiting on G",
        "SELECT coalesce(bool_or(wait_event_type = 'Lock'), false) FROM pg_stat_activity WHERE pid = $1",
        pid_h,
    )
    .await;
    let (got, report, reference, full) = poll_both(&m, &mut collector).await;
    check("step 1", &got, report, &reference, full, HOLDERS);
    let s = clients(&got);
    assert_eq!(s[&pid_a].state.as_deref(), Some("active"));
    assert_eq!(s[&pid_b].state.as_deref(), Some("idle in transaction"));
    assert!(!s.contains_key(&pid_c), "C is gone");
    assert_eq!(s[&pid_d1].query, "SELECT 1 /* d1 */");
    assert!(
        s.values()
            .any(|x| x.application_name == "d2" && x.query.is_empty()),
        "D2 is listed"
    );
    assert_eq!(s[&pid_h].blocked_by, vec![pid_g]);
    assert!(got.waiting_on_lock >= 1);
    let f_before = when(&first, clients(&first)[&pid_f].state_age_s).expect("F's state change");
    let f_now = when(&got, s[&pid_f].state_age_s).expect("F's state change");
    assert!(f_now > f_before, "F's idle -> active -> idle is seen");
    let e_query_start = when(&got, s[&pid_e].query_age_s).expect("E's query start");

    // Step 2: A's query ends, B commits, E's first sleep ends and the second starts (the same
    // text: only its times tell), G lets go and H's update completes.
    let a = task_a.await.expect("A task").expect("A's sleep");
    b.batch_execute("COMMIT").await.expect("B commits");
    e_first_done_rx.await.expect("E's first sleep ended");
    wait_for(&watcher, "E active again", active, pid_e).await;
    g.batch_execute("ROLLBACK").await.expect("G lets go");
    let h = task_h.await.expect("H task").expect("H's update");
    let (got, report, reference, full) = poll_both(&m, &mut collector).await;
    check("step 2", &got, report, &reference, full, HOLDERS);
    let s = clients(&got);
    assert_eq!(s[&pid_a].state.as_deref(), Some("idle"));
    assert_eq!(s[&pid_a].query, "SELECT pg_sleep(2) /* a */");
    assert_eq!(s[&pid_b].state.as_deref(), Some("idle"));
    assert_eq!(s[&pid_b].query, "COMMIT");
    assert_eq!(s[&pid_e].state.as_deref(), Some("active"));
    let e_query_start_now = when(&got, s[&pid_e].query_age_s).expect("E's query start");
    assert!(
        e_query_start_now > e_query_start,
        "E's second sleep is seen as a new query"
    );
    assert!(s[&pid_h].blocked_by.is_empty());
    assert_eq!(got.waiting_on_lock, 0);

    // Step 3: nothing moves; every quiet session travels thin, the ages still advance.
    tokio::time::sleep(MARGIN + Duration::from_millis(200)).await;
    let (got, report, reference, full) = poll_both(&m, &mut collector).await;
    check("step 3", &got, report, &reference, full, HOLDERS + 5);
    assert!(
        clients(&got)[&pid_f].state_age_s.get() > clients(&first)[&pid_f].state_age_s.get(),
        "a carried session's age is against the new now"
    );
    assert!(deltas >= 1, "no poll was a delta");

    let e = task_e.await.expect("E task").expect("E's sleeps");
    drop((a, b, d1, d2, e, f, g, h, holders, setup, watcher));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limits_are_read_again_only_after_a_restart() {
    let cluster = own_cluster(60).await;
    let node = &cluster.primary;
    let m = monitor(node, "postgres").await;
    let mut collector = ActivityCollector::new();
    let sample = collector.collect(&m.ctx()).await.expect("sample");
    assert!(collector.last_poll().expect("report").settings_read);
    assert_eq!(sample.max_connections, 60);
    for _ in 0..3 {
        collector.collect(&m.ctx()).await.expect("sample");
        assert!(!collector.last_poll().expect("report").settings_read);
    }
    // a reload does not apply a postmaster setting; a restart does
    node.psql("postgres", "ALTER SYSTEM SET max_connections = 70")
        .expect("alter system");
    node.psql("postgres", "SELECT pg_reload_conf()")
        .expect("reload");
    let sample = collector.collect(&m.ctx()).await.expect("sample");
    assert_eq!(sample.max_connections, 60);
    drop(m);
    let restart = |n: &Node| n.stop("fast").and_then(|()| n.start());
    restart(node).expect("restart");
    let m = monitor(node, "postgres").await;
    let sample = collector
        .collect(&m.ctx())
        .await
        .expect("sample after the restart");
    let report = collector.last_poll().expect("report");
    assert!(report.settings_read, "{report:?}");
    assert_eq!(sample.max_connections, 70);
    collector.collect(&m.ctx()).await.expect("sample");
    assert!(!collector.last_poll().expect("report").settings_read);
}

/// `n` idle sessions as `role`, each having run one query.
async fn hold_idle_as(node: &Node, role: &str, n: usize) -> Vec<tokio_postgres::Client> {
    futures_util::stream::iter(0..n)
        .map(|i| async move {
            let c = crate::common::connect_as(node, role, "postgres").await;
            c.batch_execute(&format!("SELECT 1 AS held /* {role} {i} */"))
                .await
                .expect("holder's query");
            c
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// A pgvitals-like monitoring connection as `role` (application_name `pgvitals`), probed.
async fn monitor_as(node: &Node, role: &str) -> Monitor {
    let mut cfg: tokio_postgres::Config = node
        .conninfo_as(role, "postgres")
        .parse()
        .expect("conninfo");
    cfg.application_name(crate::probe::MONITOR_APP);
    let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(
        cfg,
        tokio_postgres::NoTls,
    ))
    .max_size(1)
    .build()
    .expect("pool");
    let client = pool.get().await.expect("monitoring connection");
    let facts = pgvitals::collect::probe::probe(&client)
        .await
        .expect("probe");
    Monitor { client, facts }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pg_read_all_stats_other_roles_sessions_are_always_sent_in_full() {
    let cluster = own_cluster(300).await;
    let node = &cluster.primary;
    node.psql("postgres", "CREATE ROLE plain LOGIN")
        .expect("role");
    let mine = hold_idle_as(node, "plain", 150).await;
    let mut hidden = hold_idle(node, 3, 60).await;
    let m = monitor_as(node, "plain").await;
    assert!(!m.facts.can_read_all_stats());
    tokio::time::sleep(MARGIN + Duration::from_millis(200)).await;
    let mut collector = ActivityCollector::new();
    let (first, _, reference, _) = poll_both(&m, &mut collector).await;
    assert_same(&first, &reference, "first poll");
    let hidden_rows = clients(&first)
        .values()
        .filter(|s| s.query == "<insufficient privilege>")
        .count();
    assert_eq!(hidden_rows, 3, "postgres's sessions are hidden from plain");
    let (got, report, reference, _) = poll_both(&m, &mut collector).await;
    assert_same(&got, &reference, "second poll");
    assert_eq!(report.read, ReadKind::Delta, "{report:?}");
    assert!(
        report.rows_thin >= 150 && report.rows_full >= hidden_rows,
        "plain's idle sessions thin, the hidden ones in full: {report:?}"
    );
    assert!(
        got.states
            .iter()
            .any(|c| c.state == "unknown" && c.count == 3)
    );
    // many hidden sessions: a delta would look each of them up, one scan costs less
    hidden.extend(hold_idle(node, 40, 60).await);
    let (got, report, reference, _) = poll_both(&m, &mut collector).await;
    assert_same(&got, &reference, "with 43 hidden sessions");
    assert_eq!(report.read, ReadKind::Delta, "{report:?}");
    assert!(report.rows_full >= 43, "{report:?}");
    let (got, report, reference, _) = poll_both(&m, &mut collector).await;
    assert_same(&got, &reference, "the next poll");
    assert_eq!(
        report.read,
        ReadKind::Full(FullReason::ManyChanged),
        "{report:?}"
    );
    drop((mine, hidden));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_work_through_pgbouncer_transaction_pooling() {
    use pgvitals::collect::pool::{NoConnection, ServerPool, Timing};
    let cluster = own_cluster(300).await;
    let node = &cluster.primary;
    let mut holders = hold_idle(node, 151, 60).await;
    let leaving = holders.pop().expect("a holder");
    let pid_leaving = pid_of(&leaving).await;
    let watcher = connect(node, "postgres").await;
    let (b, pid_b) = {
        let c = connect(node, "postgres").await;
        let pid = pid_of(&c).await;
        (c, pid)
    };
    let bouncer = crate::pgbouncer::Bouncer::start(node, "");
    let spec = pgvitals::conninfo::ConnSpec::parse(&bouncer.conninfo("postgres")).expect("spec");
    let session = ServerPool::new(&spec, Timing::default()).expect("session");
    let lease = match session.lease().await.0 {
        Ok(l) => l,
        Err(NoConnection::Waiting) => panic!("no connection: backing off"),
        Err(NoConnection::Failed { error, .. }) => panic!("no connection: {}", error.message),
    };
    assert!(lease.facts.pooled);
    let ctx = pgvitals::collect::Ctx {
        client: &lease.client,
        facts: &lease.facts,
        timeout: session.query_deadline(),
    };
    // the pooler's server connections run our queries by turns: left out of the comparison
    let pooler = |s: &Session| s.application_name == crate::probe::MONITOR_APP;
    tokio::time::sleep(MARGIN + Duration::from_millis(200)).await;
    let mut collector = ActivityCollector::new();
    collector.collect(&ctx).await.expect("first poll");
    async fn poll(
        ctx: &pgvitals::collect::Ctx<'_>,
        collector: &mut ActivityCollector,
    ) -> (ActivitySample, PollReport, ActivitySample) {
        tokio::time::sleep(SETTLE).await;
        let got = collector
            .collect(ctx)
            .await
            .expect("poll through the pooler");
        let report = collector.last_poll().expect("report");
        let reference = ActivityCollector::new()
            .collect(ctx)
            .await
            .expect("full read through the pooler");
        (got, report, reference)
    }
    let (got, report, reference) = poll(&ctx, &mut collector).await;
    assert_same_but(&got, &reference, "through the pooler", pooler);
    assert_eq!(report.read, ReadKind::Delta, "{report:?}");
    assert!(report.rows_thin >= 150, "{report:?}");
    b.batch_execute("BEGIN; SELECT 1 /* b */")
        .await
        .expect("B opens a transaction");
    drop(leaving);
    wait_for(
        &watcher,
        "the holder gone",
        "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)",
        pid_leaving,
    )
    .await;
    let (got, report, reference) = poll(&ctx, &mut collector).await;
    assert_same_but(&got, &reference, "B in a transaction", pooler);
    assert_eq!(report.read, ReadKind::Delta, "{report:?}");
    assert_eq!(
        clients(&got)[&pid_b].state.as_deref(),
        Some("idle in transaction")
    );
    assert!(!clients(&got).contains_key(&pid_leaving), "gone");
    b.batch_execute("ROLLBACK").await.expect("rollback");
    drop(holders);
}

/// A unix-socket stream that counts the bytes it reads (what the server sent).
struct Counting {
    inner: tokio::net::UnixStream,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl tokio::io::AsyncRead for Counting {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            let n = (buf.filled().len() - before) as u64;
            self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Counting {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        b: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, b)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Connects deadpool's connections through [`Counting`].
struct CountingConnect {
    socket: std::path::PathBuf,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl deadpool_postgres::Connect for CountingConnect {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        let config = pg_config.clone();
        Box::pin(async move {
            let inner = tokio::net::UnixStream::connect(&self.socket)
                .await
                .expect("unix socket");
            let stream = Counting {
                inner,
                read: self.read.clone(),
            };
            let (client, conn) = config.connect_raw(stream, tokio_postgres::NoTls).await?;
            let handle = tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok((client, handle))
        })
    }
}

/// On-CPU time of a process or thread (`/proc/<path>/schedstat`, nanoseconds).
fn on_cpu(path: &str) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{path}/schedstat")).expect("schedstat");
    let ns = text.split_whitespace().next().expect("a field");
    Duration::from_nanos(ns.parse().expect("nanoseconds"))
}

#[derive(Debug, Default)]
struct Cost {
    server: Vec<Duration>,
    client: Vec<Duration>,
    wall: Vec<Duration>,
    bytes: u64,
    rows_full: usize,
    rows_thin: usize,
}

impl Cost {
    fn add(&mut self, server: Duration, client: Duration, wall: Duration, bytes: u64) {
        self.server.push(server);
        self.client.push(client);
        self.wall.push(wall);
        self.bytes += bytes;
    }

    fn merge(&mut self, other: &Cost) {
        self.server.extend(&other.server);
        self.client.extend(&other.client);
        self.wall.extend(&other.wall);
        self.bytes += other.bytes;
        self.rows_full += other.rows_full;
        self.rows_thin += other.rows_thin;
    }

    fn polls(&self) -> usize {
        self.server.len()
    }

    /// "mean / median ms" of `times`.
    fn ms(times: &[Duration]) -> String {
        let mut sorted = times.to_vec();
        sorted.sort();
        let n = sorted.len().max(1) as f64;
        let mean = sorted.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / n;
        let median = sorted
            .get(sorted.len() / 2)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3);
        format!("{mean:>6.2} / {median:>6.2}")
    }

    fn line(&self, what: &str) -> String {
        let n = self.polls().max(1) as f64;
        format!(
            "{what:<34} {:>4} polls  server CPU {} ms  client CPU {} ms  wall {} ms  \
             {:>7.0} bytes  {:>6.0} full rows  {:>6.0} thin  (mean / median)",
            self.polls(),
            Self::ms(&self.server),
            Self::ms(&self.client),
            Self::ms(&self.wall),
            self.bytes as f64 / n,
            self.rows_full as f64 / n,
            self.rows_thin as f64 / n,
        )
    }
}

/// The cost of a poll at 2,000 sessions, 1,950 of them idle (30 running a long query, 5 idle
/// in transaction, 15 running a short query every half second): per poll, the backend CPU
/// of the monitoring connection (parse, plan, execute, send), the client's CPU (the
/// collector's thread: protocol, decoding, the sample), the bytes the server sent, the rows
/// in full and thin. "before" is a fresh collector's poll, exactly what every poll read
/// before deltas (every row in full, and the limits); "after" the same collector polled once
/// a second, as the dashboard does, including its periodic full reads. The two alternate,
/// `ACTIVITY_COST_GAP_MS` apart (500; 0 for back-to-back polls on warm caches), for
/// `ACTIVITY_COST_POLLS` rounds (60).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: about two minutes, 2,000 connections"]
async fn cost_at_2000_idle_sessions() {
    let env = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let polls = env("ACTIVITY_COST_POLLS", 60);
    let gap = Duration::from_millis(env("ACTIVITY_COST_GAP_MS", 500));
    let cluster = own_cluster(2100).await;
    let node = &cluster.primary;
    let held = hold_idle(node, 1950, 150).await;
    let mut busy = Vec::new();
    for i in 0..30 {
        let c = connect(node, "postgres").await;
        busy.push(tokio::spawn(async move {
            let _ = c
                .batch_execute(&format!("SELECT pg_sleep(3600) /* report {i} */"))
                .await;
        }));
    }
    let mut in_transaction = Vec::new();
    for i in 0..5 {
        let c = connect(node, "postgres").await;
        c.batch_execute(&format!("BEGIN; SELECT {i} /* open transaction */"))
            .await
            .expect("open transaction");
        in_transaction.push(c);
    }
    for i in 0..15 {
        let c = connect(node, "postgres").await;
        busy.push(tokio::spawn(async move {
            loop {
                if c.batch_execute(&format!("SELECT {i} /* churn */"))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }));
    }
    let admin = connect(node, "postgres").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let backends: i64 = admin
        .query_one("SELECT count(*) FROM pg_stat_activity", &[])
        .await
        .expect("count")
        .get(0);
    admin
        .batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .expect("reset");

    let socket = node.socket_dir.join(format!(".s.PGSQL.{}", node.port));
    let conninfo = node.conninfo("postgres");
    // The collector on a thread and runtime of its own, so its thread's CPU is the client's.
    let measured = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let mut cfg: tokio_postgres::Config = conninfo.parse().expect("conninfo");
            cfg.application_name(crate::probe::MONITOR_APP);
            let manager = deadpool_postgres::Manager::from_connect(
                cfg,
                CountingConnect {
                    socket,
                    read: read.clone(),
                },
                deadpool_postgres::ManagerConfig::default(),
            );
            let pool = deadpool_postgres::Pool::builder(manager)
                .max_size(1)
                .build()
                .expect("pool");
            let client = pool.get().await.expect("monitoring connection");
            let facts = pgvitals::collect::probe::probe(&client)
                .await
                .expect("probe");
            let m = Monitor { client, facts };
            let backend = m.facts.backend_pid.to_string();
            let (mut before, mut after_delta, mut after_full) =
                (Cost::default(), Cost::default(), Cost::default());
            let mut steady = ActivityCollector::new();
            let thread = "thread-self";
            for _ in 0..polls {
                for fresh in [true, false] {
                    let (s0, c0, b0, w0) = (
                        on_cpu(&backend),
                        on_cpu(thread),
                        read.load(std::sync::atomic::Ordering::Relaxed),
                        Instant::now(),
                    );
                    let mut once = ActivityCollector::new();
                    let collector = if fresh { &mut once } else { &mut steady };
                    let sample = collector.collect(&m.ctx()).await.expect("sample");
                    let report = collector.last_poll().expect("report");
                    let (server, client, wall) =
                        (on_cpu(&backend) - s0, on_cpu(thread) - c0, w0.elapsed());
                    let bytes = read.load(std::sync::atomic::Ordering::Relaxed) - b0;
                    drop(sample);
                    let cost = match (fresh, report.read) {
                        (true, _) => &mut before,
                        (false, ReadKind::Delta) => &mut after_delta,
                        (false, _) => &mut after_full,
                    };
                    cost.add(server, client, wall, bytes);
                    cost.rows_full += report.rows_full;
                    cost.rows_thin += report.rows_thin;
                    // both kinds of poll start alike, `gap` after the last one
                    tokio::time::sleep(gap).await;
                }
            }
            (before, after_delta, after_full)
        })
    })
    .join()
    .expect("the measuring thread");
    let (before, delta, full) = measured;
    let mut all = Cost::default();
    all.merge(&delta);
    all.merge(&full);
    println!(
        "PostgreSQL {}, {backends} backends in pg_stat_activity, polls {gap:?} apart",
        node.major()
    );
    println!("{}", before.line("before (every row, and the limits)"));
    println!("{}", delta.line("after: deltas"));
    println!("{}", full.line("after: its periodic full reads"));
    println!("{}", all.line("after: every poll"));
    for row in admin
        .query(
            "SELECT calls, mean_exec_time, min_exec_time, mean_plan_time, \
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 60) \
               FROM pg_stat_statements WHERE query LIKE '%pgvitals%' AND calls > 1 \
              ORDER BY total_exec_time DESC",
            &[],
        )
        .await
        .expect("pg_stat_statements")
    {
        println!(
            "  pg_stat_statements: {:>5} calls  mean {:>6.3} ms  min {:>6.3} ms  plan {:>5.3} ms  {}",
            row.get::<_, i64>(0),
            row.get::<_, f64>(1),
            row.get::<_, f64>(2),
            row.get::<_, f64>(3),
            row.get::<_, String>(4)
        );
    }
    assert!(delta.polls() > 0, "no delta was read");
    assert!(
        delta.rows_thin as f64 / delta.polls() as f64 >= 1900.0,
        "the idle sessions travel thin"
    );
    assert!(
        all.bytes * 4 < before.bytes,
        "a quarter of the bytes or less"
    );
    for task in busy {
        task.abort();
    }
    drop((held, in_transaction));
}
