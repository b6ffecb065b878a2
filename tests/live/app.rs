//! The whole collection pipeline (sessions, workers' polls, model, alerts, snapshot JSON)
//! against the shared primary and standby.

use std::time::Duration;

use pgvitals::app::take_snapshot;
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::{ServerState, Severity, snapshot};
use pgvitals::sample::Area;
use pgvitals::sample::Rule;
use pgvitals::sample::ServerRole;

use crate::common::{
    assert_all_areas_work, connect, primary, pump, standby, unique, wait_until_async,
};

fn spec(conninfo: &str) -> ConnSpec {
    ConnSpec::parse(conninfo).expect("the harness conninfo parses")
}

fn config(interval_ms: u64, thresholds: &str) -> Config {
    let mut c = Config::parse(thresholds).expect("test thresholds parse");
    c.interval = Duration::from_millis(interval_ms);
    c
}

/// The severity of `rule`'s alert on the subject whose text (the JSON `subject`) is `subject`.
fn alert(server: &ServerState, rule: Rule, subject: &str) -> Option<Severity> {
    server
        .alerts
        .active
        .values()
        .find(|a| a.alert.rule == rule && a.alert.subject.to_string() == subject)
        .map(|a| a.alert.severity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_of_primary_and_standby_has_every_area_with_real_numbers() {
    let specs = [
        spec(&primary().conninfo("postgres")),
        spec(&standby().conninfo("postgres")),
    ];
    let store = take_snapshot(&specs, &config(500, ""))
        .await
        .expect("snapshot runs");
    assert_eq!(store.servers.len(), 2);
    let (p, s) = (&store.servers[0], &store.servers[1]);
    for server in [p, s] {
        assert_all_areas_work(server, &[]);
    }
    assert_eq!(p.role(), Some(ServerRole::Primary));
    assert_eq!(s.role(), Some(ServerRole::Standby));
    // two rounds: rates exist
    assert!(
        p.server().and_then(|x| x.xact_per_s).is_some(),
        "no xact rate"
    );
    assert!(p.interval_hit_ratio().is_some() || p.cache().is_some());
    // the primary sees its standby; the standby sees its own receiver
    let repl = p.replication().expect("replication sample");
    assert!(!repl.standbys.is_empty(), "primary lists no standby");
    let own = s
        .replication()
        .and_then(|r| r.standby_status.clone())
        .expect("standby status");
    assert_eq!(own.wal_receiver_status.as_deref(), Some("streaming"));

    let doc = snapshot::document(&store);
    let list = doc.as_array().expect("two servers make an array");
    for server in list {
        for key in [
            "server",
            "activity",
            "statements",
            "cache",
            "replication",
            "unused_indexes",
            "vacuum",
            "alerts",
        ] {
            assert!(server.get(key).is_some(), "missing {key}");
        }
        assert!(server["server"]["target"].as_str().is_some());
        assert!(
            server["vacuum"]["databases"][0]["xid_age"]
                .as_i64()
                .is_some()
        );
        assert!(server["activity"]["max_connections"].as_i64().is_some());
    }
    assert_eq!(list[0]["server"]["role"], "primary");
    assert_eq!(list[1]["server"]["role"], "standby");
    assert!(snapshot::exit_code(&store) <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_alerts_fire_for_the_sessions_that_deserve_them_and_clear() {
    let thresholds = r#"
        [thresholds.idle_in_transaction]
        warning = "1s"
        critical = "1h"
        [thresholds.blocked]
        warning = "1s"
        critical = "1h"
        [thresholds.long_query]
        warning = "1s"
        critical = "1h"
        [thresholds.connections]
        warning = 1
        critical = 100
    "#;
    let db = unique("alerts");
    let admin = connect(primary(), "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    let setup = connect(primary(), &db).await;
    setup
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0);")
        .await
        .expect("setup");

    let holder = connect(primary(), &db).await;
    holder
        .batch_execute("BEGIN; UPDATE t SET v = v + 1 WHERE id = 1;")
        .await
        .expect("hold");
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let waiter = connect(primary(), &db).await;
    let waiter_pid: i32 = waiter
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let wait = tokio::spawn(async move {
        let _ = waiter
            .execute("UPDATE t SET v = v + 1 WHERE id = 1", &[])
            .await;
        waiter
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let cfg = config(300, thresholds);
    let specs = [spec(&primary().conninfo(&db))];
    let store = take_snapshot(&specs, &cfg).await.expect("snapshot");
    let server = &store.servers[0];
    assert_eq!(
        alert(
            server,
            Rule::IdleInTransaction,
            &format!("pid {holder_pid}")
        ),
        Some(Severity::Warning),
        "alerts: {:?}",
        server.alerts.active.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        alert(server, Rule::Blocked, &format!("pid {waiter_pid}")),
        Some(Severity::Warning)
    );
    assert_eq!(
        alert(server, Rule::LongQuery, &format!("pid {waiter_pid}")),
        Some(Severity::Warning)
    );
    assert_eq!(
        alert(server, Rule::Connections, "server"),
        Some(Severity::Warning)
    );
    let blocked = server
        .alerts
        .active
        .values()
        .find(|a| a.alert.rule == Rule::Blocked)
        .expect("blocked alert");
    assert!(
        blocked.alert.message.contains(&holder_pid.to_string()),
        "{}",
        blocked.alert.message
    );
    // Warnings only from this test; other tests share the server and may add their own
    // alerts, so the exit status follows the worst alert present.
    let critical = server
        .alerts
        .active
        .values()
        .any(|a| a.alert.severity == Severity::Critical);
    assert_eq!(
        snapshot::exit_code(&store),
        if critical { 2 } else { 1 },
        "alerts: {:?}",
        server
            .alerts
            .active
            .values()
            .map(|a| &a.alert)
            .collect::<Vec<_>>()
    );

    // clear: commit the holder, the waiter finishes
    holder.batch_execute("COMMIT").await.expect("commit");
    let _waiter = wait.await.expect("waiter");
    let store = take_snapshot(&specs, &cfg).await.expect("snapshot");
    let server = &store.servers[0];
    assert_eq!(
        alert(
            server,
            Rule::IdleInTransaction,
            &format!("pid {holder_pid}")
        ),
        None
    );
    assert_eq!(
        alert(server, Rule::Blocked, &format!("pid {waiter_pid}")),
        None
    );
    drop(setup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_and_replication_alerts_fire_and_clear() {
    let slot = unique("alert_slot");
    let table = unique("dead");
    let db = unique("alerts_storage");
    let admin = connect(primary(), "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    let c = connect(primary(), &db).await;
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);
         INSERT INTO {table} SELECT i, 0 FROM generate_series(1, 20000) i;
         UPDATE {table} SET v = 1;
         SELECT pg_create_physical_replication_slot('{slot}', true);
         CREATE TABLE {table}_wal AS SELECT i, repeat('x', 100) AS f FROM generate_series(1, 20000) i;"
    ))
    .await
    .expect("setup");
    // a backend flushes its statistics at exit for sure (PostgreSQL 15+ may hold them up to
    // 10 s in an idle session): close it
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let thresholds = r#"
        [thresholds.dead_tuples]
        warning = 0.3
        critical = 0.9
        min = 100
        [thresholds.slot_retained_wal]
        warning = "1kB"
        critical = "100GB"
        [thresholds.inactive_slot]
        min = "1kB"
        [thresholds.xid_age]
        warning = 1
        critical = 2000000000
    "#;
    let cfg = config(300, thresholds);
    let specs = [spec(&primary().conninfo(&db))];
    let store = take_snapshot(&specs, &cfg).await.expect("snapshot");
    let server = &store.servers[0];
    let keys: Vec<_> = server.alerts.active.keys().collect();
    assert_eq!(
        alert(server, Rule::DeadTuples, &format!("table public.{table}")),
        Some(Severity::Warning),
        "{keys:?} {:?} {:?}",
        server.vacuum().map(|v| &v.dead_tuples),
        server.area(Area::Vacuum).error
    );
    assert_eq!(
        alert(server, Rule::SlotRetainedWal, &format!("slot {slot}")),
        Some(Severity::Warning)
    );
    assert_eq!(
        alert(server, Rule::InactiveSlot, &format!("slot {slot}")),
        Some(Severity::Warning)
    );
    assert_eq!(
        alert(server, Rule::XidAge, &format!("database {db}")),
        Some(Severity::Warning)
    );

    let c = connect(primary(), &db).await;
    // TRUNCATE, not VACUUM: other tests' open transactions and the standby's feedback may
    // hold the xmin horizon, and VACUUM would then keep the dead tuples
    c.batch_execute(&format!("TRUNCATE {table}"))
        .await
        .expect("truncate");
    c.batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))
        .await
        .expect("drop slot");
    drop(c);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let store = take_snapshot(&specs, &cfg).await.expect("snapshot");
    let server = &store.servers[0];
    assert_eq!(
        alert(server, Rule::DeadTuples, &format!("table public.{table}")),
        None
    );
    assert_eq!(
        alert(server, Rule::SlotRetainedWal, &format!("slot {slot}")),
        None
    );
    assert_eq!(
        alert(server, Rule::InactiveSlot, &format!("slot {slot}")),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_reset_between_samples_gives_no_negative_rates() {
    use pgvitals::collect::areas::AnyCollector;
    use pgvitals::collect::pool::{ServerPool, Timing};
    use pgvitals::collect::worker::poll_once;
    use pgvitals::model::Store;
    use pgvitals::sample::{Sample, Update};
    use std::time::SystemTime;

    let db = unique("reset");
    let admin = connect(primary(), "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    let c = connect(primary(), &db).await;
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .expect("extension");
    let marker = unique("resetme");
    let q = format!("SELECT count(*) AS {marker} FROM generate_series(1, 10)");
    for _ in 0..50 {
        c.query(q.as_str(), &[]).await.expect("run");
    }

    let s = spec(&primary().conninfo(&db));
    let session = ServerPool::new(&s, Timing::default()).expect("session");
    let mut collector = AnyCollector::new(Area::Statements);
    let mut store = Store::new(
        vec![s.label()],
        Default::default(),
        Duration::from_secs(1),
        Duration::from_secs(60),
        SystemTime::now(),
    );
    for u in poll_once(0, Area::Statements, &session, &mut collector).await {
        store.apply(u, SystemTime::now());
    }
    let find = |store: &Store| {
        store.servers[0].statements().and_then(|st| {
            st.statements
                .iter()
                .find(|x| x.query.as_deref().is_some_and(|t| t.contains(&marker)))
                .cloned()
        })
    };
    let before = find(&store).expect("the statement is listed");
    assert!(before.calls >= 50);

    // reset only this statement's entry (other tests share the server), run it 3 more times
    c.query(
        "SELECT pg_stat_statements_reset($1::oid, $2::oid, $3::bigint)",
        &[&before.userid, &before.dbid, &before.queryid],
    )
    .await
    .expect("reset one entry");
    for _ in 0..3 {
        c.query(q.as_str(), &[]).await.expect("run");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for u in poll_once(0, Area::Statements, &session, &mut collector).await {
        if let Update::Sample { sample, .. } = &u {
            assert!(matches!(**sample, Sample::Statements(_)));
        }
        store.apply(u, SystemTime::now());
    }
    let after = find(&store).expect("still listed");
    assert!(after.calls < before.calls, "the counter went backwards");
    assert_eq!(
        after.calls_per_s, None,
        "a reset must start a fresh baseline"
    );
    for st in store.servers[0]
        .statements()
        .map(|s| s.statements.as_slice())
        .unwrap_or(&[])
    {
        for r in [
            st.calls_per_s,
            st.exec_time_ms_per_s,
            st.rows_per_s,
            st.shared_blks_read_per_s,
        ] {
            assert!(r.get().is_none_or(|v| v >= 0.0), "negative rate in {st:?}");
        }
    }
    // and the next interval rates against the post-reset baseline
    for _ in 0..4 {
        c.query(q.as_str(), &[]).await.expect("run");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for u in poll_once(0, Area::Statements, &session, &mut collector).await {
        store.apply(u, SystemTime::now());
    }
    let next = find(&store).expect("still listed");
    let rate = next
        .calls_per_s
        .get()
        .expect("a rate after the new baseline");
    assert!(rate > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_and_multixact_alerts_fire_and_the_cache_alert_clears() {
    let db = unique("alerts_cache");
    let admin = connect(primary(), "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    let c = connect(primary(), &db).await;
    // ~40 MB, more than the 16 MB of shared_buffers: a scan reads from outside the cache
    c.batch_execute(
        "CREATE TABLE big (id int, pad text) WITH (autovacuum_enabled = false);
         INSERT INTO big SELECT g, repeat('x', 300) FROM generate_series(1, 120000) g;
         CREATE TABLE m (id int PRIMARY KEY); INSERT INTO m VALUES (1);",
    )
    .await
    .expect("setup");
    // a multixact: two transactions share a row lock
    let a = connect(primary(), &db).await;
    let b = connect(primary(), &db).await;
    a.batch_execute("BEGIN; SELECT * FROM m WHERE id = 1 FOR SHARE")
        .await
        .expect("share a");
    b.batch_execute("BEGIN; SELECT * FROM m WHERE id = 1 FOR SHARE")
        .await
        .expect("share b");
    a.batch_execute("COMMIT").await.expect("commit a");
    b.batch_execute("COMMIT").await.expect("commit b");

    let thresholds = r#"
        [thresholds.cache_hit_ratio]
        warning = 0.99
        critical = 0.0
        min = 5000
        [thresholds.mxid_age]
        warning = 0
        critical = 2000000000
    "#;
    // Before PostgreSQL 15 a database has no statistics entry (stats_reset NULL) until the
    // collector processed a message from it, and readers may see a file 500 ms old: a first
    // sample without the entry and a second with it is a reset (no rate). Wait for it.
    if primary().major() < 15 {
        let check =
            format!("SELECT stats_reset IS NOT NULL FROM pg_stat_database WHERE datname = '{db}'");
        assert!(
            wait_until_async(Duration::from_secs(10), || async {
                primary().psql(&db, &check).is_ok_and(|v| v == "t")
            })
            .await,
            "no statistics entry for {db}"
        );
    }
    let mut cfg = config(1500, thresholds);
    cfg.slow_interval = Duration::from_secs(60);
    let specs = [spec(&primary().conninfo(&db))];
    // scan the table over and over while the snapshot takes its two samples
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_scans = stop.clone();
    let scanning = tokio::spawn(async move {
        for _ in 0..200 {
            if stop_scans.load(std::sync::atomic::Ordering::Relaxed)
                || c.batch_execute("SELECT count(*) FROM big").await.is_err()
            {
                break;
            }
        }
        c
    });
    let store = take_snapshot(&specs, &cfg).await.expect("snapshot");
    let server = &store.servers[0];
    let subject = format!("database {db}");
    let cache = server
        .cache()
        .and_then(|c| c.databases.iter().find(|d| d.datname == db).cloned());
    assert_eq!(
        alert(server, Rule::CacheHitRatio, &subject),
        Some(Severity::Warning),
        "{cache:?}"
    );
    assert_eq!(
        alert(server, Rule::MxidAge, &subject),
        Some(Severity::Warning)
    );
    // stop scanning, and wait for the scan in flight to finish
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let c = scanning.await.expect("scanner");
    // Before PostgreSQL 15 an idle backend keeps the counters it could not report yet (at
    // most one report per 500 ms) until its exit, and readers may see a stats file 500 ms
    // old: end the scanning session and let the counters settle.
    drop(c);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // no more scans: the catalog reads of our own monitoring queries (a couple of thousand
    // blocks a second, some of them misses since the scans evicted the catalogs) stay under
    // the floor of 5,000 blocks/s, so there is nothing to judge and the alert clears
    let store = take_snapshot(&specs, &cfg).await.expect("snapshot");
    let cache = store.servers[0]
        .cache()
        .and_then(|c| c.databases.iter().find(|d| d.datname == db).cloned());
    assert_eq!(
        alert(&store.servers[0], Rule::CacheHitRatio, &subject),
        None,
        "{cache:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_critical_alert_and_exit_status_3() {
    // a port nobody listens on
    let port = pgvitals::cluster::free_port().expect("free port");
    let specs = [spec(&format!(
        "host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=2 sslmode=disable"
    ))];
    let store = take_snapshot(&specs, &config(200, ""))
        .await
        .expect("snapshot");
    let server = &store.servers[0];
    assert_eq!(
        alert(server, Rule::ServerUnreachable, "server"),
        Some(Severity::Critical)
    );
    assert_eq!(snapshot::exit_code(&store), 3);
    let doc = snapshot::document(&store);
    assert_eq!(doc["activity"]["error"]["kind"], "unreachable");
    assert!(!doc.to_string().contains("password"));
}

/// The real binary: JSON on stdout, Nagios exit codes, one-line errors on stderr.
#[test]
fn the_snapshot_command_prints_json_and_exits_like_a_check() {
    let bin = env!("CARGO_BIN_EXE_pgvitals");
    let out = std::process::Command::new(bin)
        .args(["snapshot", "--interval", "300ms"])
        .arg(primary().conninfo("postgres"))
        .arg(standby().conninfo("postgres"))
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run pgvitals snapshot");
    let code = out.status.code().expect("exit code");
    assert!(
        (0..=2).contains(&code),
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let servers = doc.as_array().expect("an array for two servers");
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0]["server"]["role"], "primary");
    assert_eq!(servers[1]["server"]["role"], "standby");
    assert!(servers[1]["replication"]["standby_status"]["replay_lsn"].is_string());
    let worst = servers
        .iter()
        .flat_map(|s| s["alerts"].as_array().cloned().unwrap_or_default())
        .map(|a| match a["severity"].as_str() {
            Some("critical") => 2,
            Some("warning") => 1,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    assert_eq!(code, worst, "the exit status is the worst alert's");

    // bad input: exit 3 and one line on stderr, never a password
    for (args, needle) in [
        (vec!["snapshot", "host=x prt=5"], "prt"),
        (vec!["snapshot", "postgresql://u:s3cret@[::1"], ""),
        (vec!["snapshot", "--interval", "soon"], "soon"),
        (
            vec!["snapshot", "--config", "/nonexistent/pgvitals.toml"],
            "/nonexistent/pgvitals.toml",
        ),
        (vec!["--no-such-flag"], "no-such-flag"),
    ] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .output()
            .expect("run pgvitals");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("s3cret"),
            "{args:?} leaked the password: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    let out = std::process::Command::new(bin)
        .args([
            "snapshot",
            "host=127.0.0.1 port=1 user=postgres password=s3cret connect_timeout=2 sslmode=disable",
        ])
        .output()
        .expect("run pgvitals");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("s3cret") && !String::from_utf8_lossy(&out.stdout).contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_cancel_reaches_the_backend() {
    use pgvitals::sample::Command;
    let victim = connect(primary(), "postgres").await;
    let (pid, backend_start) = identity(&victim).await;
    let sleeping = tokio::spawn(async move { victim.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let running =
        pgvitals::app::start_workers(&[spec(&primary().conninfo("postgres"))], &config(500, ""))
            .expect("workers");
    running
        .commands
        .send(Command::CancelBackend {
            server: 0,
            pid,
            backend_start: Some(backend_start),
            usename: Some("postgres".into()),
            query: "SELECT pg_sleep(30)".into(),
        })
        .await
        .expect("send the command");
    let result = tokio::time::timeout(Duration::from_secs(10), sleeping)
        .await
        .expect("the query was not cancelled within 10 s")
        .expect("join");
    let err = result.expect_err("the sleep must end with an error");
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("57014"),
        "{err}"
    );
}

/// The identity of `client`'s backend: its pid and `backend_start` (epoch seconds), as the
/// activity sample reports them.
async fn identity(client: &tokio_postgres::Client) -> (i32, f64) {
    let row = client
        .query_one(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("own backend");
    (
        row.get(0),
        pgvitals::collect::epoch_s(row.get::<_, std::time::SystemTime>(1)),
    )
}

/// Waits for the outcome of the next command.
async fn outcome(running: &mut pgvitals::app::Running) -> pgvitals::sample::ActionOutcome {
    use pgvitals::sample::Update;
    let mut got = None;
    pump(running, Duration::from_secs(15), |u, _| match u {
        Update::Acted { outcome, .. } => {
            got = Some(outcome.clone());
            true
        }
        _ => false,
    })
    .await;
    got.expect("no outcome within 15 s")
}

/// Cancel and terminate name the backend by pid and backend_start, as shown: a command with
/// the right pid but another backend_start (what a pid reused since the row was shown looks
/// like) leaves the live backend alone and says so; the matching identity is acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_terminate_act_only_on_the_backend_that_was_shown() {
    use pgvitals::sample::Sample;
    use pgvitals::sample::{ActionOutcome, Command, Update};
    let victim = connect(primary(), "postgres").await;
    let (pid, started) = identity(&victim).await;
    let mut running =
        pgvitals::app::start_workers(&[spec(&primary().conninfo("postgres"))], &config(300, ""))
            .expect("workers");
    // the activity sample carries the same identity (SQL alias = field = JSON key)
    let mut shown = None;
    pump(&mut running, Duration::from_secs(15), |u, _| {
        if let Update::Sample { sample, .. } = u {
            if let Sample::Activity(a) = &**sample {
                shown = a
                    .sessions
                    .iter()
                    .find(|s| s.pid == pid)
                    .and_then(|s| s.backend_start.get());
            }
        }
        shown.is_some()
    })
    .await;
    let shown = shown.expect("the victim in an activity sample, with its backend_start");
    assert!((shown - started).abs() < 1e-6, "{shown} vs {started}");

    let sleeping = tokio::spawn(async move {
        let r = victim.simple_query("SELECT pg_sleep(30)").await;
        (victim, r)
    });
    // the JSON lists sessions that are not idle: once the victim runs its query, it is there
    // with the same identity
    pump(&mut running, Duration::from_secs(15), |_, store| {
        store.servers[0].activity().is_some_and(|a| {
            a.sessions
                .iter()
                .any(|s| s.pid == pid && s.state.as_deref() == Some("active"))
        })
    })
    .await;
    let doc = pgvitals::model::snapshot::document(&running.store);
    let listed = doc["activity"]["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["pid"] == pid))
        .expect("victim in the JSON");
    assert_eq!(listed["backend_start"].as_f64(), Some(shown));
    let command = |terminate: bool, backend_start: f64| {
        let (server, usename, query) = (0, Some("postgres".to_string()), "pg_sleep".to_string());
        if terminate {
            Command::TerminateBackend {
                server,
                pid,
                backend_start: Some(backend_start),
                usename,
                query,
            }
        } else {
            Command::CancelBackend {
                server,
                pid,
                backend_start: Some(backend_start),
                usename,
                query,
            }
        }
    };
    // an older backend_start with the same pid: left alone, for both functions
    for terminate in [true, false] {
        let sent = command(terminate, shown - 1.0);
        running.commands.send(sent.clone()).await.expect("send");
        let got = outcome(&mut running).await;
        let message = got.message(&sent);
        assert!(
            matches!(&got, ActionOutcome::LeftAlone(why) if why.contains("another backend")),
            "{message}"
        );
        assert!(
            message.starts_with(&format!("pid {pid} left alone")),
            "{message}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sleeping.is_finished(), "the live backend was signalled");
    let observer = connect(primary(), "postgres").await;
    let state: Option<String> = observer
        .query_one("SELECT state FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .await
        .expect("the victim is still there")
        .get(0);
    assert_eq!(state.as_deref(), Some("active"));

    // the identity that was shown: cancelled
    running
        .commands
        .send(command(false, shown))
        .await
        .expect("send");
    assert_eq!(outcome(&mut running).await, ActionOutcome::Done);
    let (victim, result) = tokio::time::timeout(Duration::from_secs(10), sleeping)
        .await
        .expect("the query was not cancelled within 10 s")
        .expect("join");
    let err = result.expect_err("the sleep must end with an error");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("57014"));

    // ... and terminated
    running
        .commands
        .send(command(true, shown))
        .await
        .expect("send");
    assert_eq!(outcome(&mut running).await, ActionOutcome::Done);
    assert!(
        wait_until_async(Duration::from_secs(10), || async {
            victim.simple_query("SELECT 1").await.is_err()
        })
        .await,
        "the backend was not terminated"
    );
    // gone: nothing to do (once the exiting backend has left pg_stat_activity: the client
    // sees its connection close a moment before the row goes)
    assert!(
        wait_until_async(Duration::from_secs(5), || async {
            observer
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .await
                .map(|r| r.get::<_, i64>(0) == 0)
                .unwrap_or(false)
        })
        .await
    );
    running
        .commands
        .send(command(false, shown))
        .await
        .expect("send");
    let got = outcome(&mut running).await;
    assert!(
        matches!(&got, ActionOutcome::LeftAlone(why) if why.contains("no backend has this pid")),
        "{got:?}"
    );
}

/// What the server sends never reaches stdout or stderr as a terminal control: a query text
/// with ESC and C1 sequences is escaped in the snapshot JSON (`\u001b`, `\u009b`), and a
/// server error naming a hostile database name is sanitized on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_output_has_no_raw_escape_or_c1_controls() {
    let hostile = "\u{1b}[31mred\u{9b}31m\u{85}\u{7f}";
    let victim = connect(primary(), "postgres").await;
    let sql = format!("SELECT pg_sleep(10) /* {hostile} */");
    let sleeping = tokio::spawn(async move { victim.simple_query(&sql).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let controls = |s: &str| {
        s.chars()
            .filter(|c| *c == '\u{1b}' || ('\u{7f}'..='\u{9f}').contains(c))
            .count()
    };
    let bin = env!("CARGO_BIN_EXE_pgvitals");
    let out = std::process::Command::new(bin)
        .args(["snapshot", "--interval", "300ms"])
        .arg(primary().conninfo("postgres"))
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run pgvitals snapshot");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 JSON");
    assert_eq!(controls(&stdout), 0, "raw controls in the JSON");
    assert!(
        stdout.contains("\\u001b[31mred\\u009b31m\\u0085\\u007f"),
        "the query text is escaped, not lost"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let shown = doc["activity"]["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .any(|s| s["query"].as_str().is_some_and(|q| q.contains(hostile)));
    assert!(shown, "the JSON reads back to the raw text");
    sleeping.abort();

    let conninfo = format!(
        "{} dbname='nope{hostile}'",
        primary()
            .conninfo("postgres")
            .replace("dbname=postgres", "")
    );
    let out = std::process::Command::new(bin)
        .args(["snapshot", "--interval", "300ms", &conninfo])
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run pgvitals snapshot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("nope"),
        "the error names the database: {stderr}"
    );
    assert_eq!(controls(&stderr), 0, "raw controls on stderr: {stderr:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(controls(&stdout), 0, "raw controls in the JSON: {stdout:?}");
}

/// `pgvitals snapshot` queries an area twice only when the model derives rates from it
/// ([`Area::needs_rates`]): counted in pg_stat_statements for a role of the test's own (the
/// snapshot is the only one that ever connects as it), by a relation only that area's query
/// reads.
#[test]
fn the_snapshot_queries_an_area_twice_only_when_it_has_rates() {
    let node = primary();
    let role = unique("snapshot_calls");
    node.psql(
        "postgres",
        &format!("CREATE ROLE {role} LOGIN; GRANT pg_monitor TO {role}"),
    )
    .expect("create the role");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .args(["snapshot", "--interval", "300ms"])
        .arg(node.conninfo_as(&role, "postgres"))
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .expect("run pgvitals snapshot");
    let code = out.status.code().expect("exit code");
    assert!(
        (0..=2).contains(&code),
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    for area in Area::ALL {
        assert!(
            doc[area.key()]["error"].is_null(),
            "{}: {}",
            area.key(),
            doc[area.key()]
        );
    }
    // (area, text only its query has: a column alias or a relation no other query reads,
    // in the query itself, not only in a file's header comment)
    let markers = [
        (Area::Server, "AS uptime_s"),
        (Area::Wal, "pg_stat_archiver"),
        (Area::UnusedIndexes, "AS index_size_bytes_total"),
        (Area::Vacuum, "pg_stat_progress_vacuum"),
        (Area::Replication, "pg_stat_wal_receiver"),
    ];
    for (area, marker) in markers {
        let calls = node
            .psql(
                "postgres",
                &format!(
                    "SELECT coalesce(string_agg(calls::text, ',' ORDER BY calls), '') \
                       FROM public.pg_stat_statements \
                      WHERE userid = '{role}'::regrole AND query LIKE '%{marker}%'"
                ),
            )
            .expect("read pg_stat_statements");
        let want = if area.needs_rates() { "2" } else { "1" };
        assert!(
            !calls.is_empty() && calls.split(',').all(|c| c == want),
            "{}: calls {calls:?} of the queries reading {marker}, expected {want} each",
            area.key()
        );
    }
    let _ = node.psql("postgres", &format!("DROP ROLE {role}"));
}
