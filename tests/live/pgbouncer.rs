//! pgvitals through PgBouncer in transaction pooling mode, in front of the shared cluster's
//! primary: every area samples without errors, the pooled state is reported, and nothing of
//! pgvitals' session is left on the pooler's server connections for other clients (settings,
//! read-only, named prepared statements). Direct connections keep their session settings and
//! prepared statements. A PgBouncer that silently drops `options`
//! (`ignore_startup_parameters = options`) is noticed too.
//!
//! Needs the `pgbouncer` binary (Debian: `apt-get install -y pgbouncer`, 1.18 on bookworm);
//! `PGVITALS_PGBOUNCER` overrides the path. A missing binary fails the tests.

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgvitals::cluster::Node;
use pgvitals::collect::Ctx;
use pgvitals::collect::areas::AnyCollector;
use pgvitals::collect::pool::{NoConnection, ServerPool, Timing};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::sample::{Area, LinkEvent, Sample, Update};

use crate::common::primary;
use crate::common::pump;
use crate::probe::create_db;

/// The pgbouncer binary: `PGVITALS_PGBOUNCER`, else `/usr/sbin/pgbouncer` (Debian), else the
/// first `pgbouncer` on PATH. Panics with an install hint when there is none.
fn pgbouncer_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PGVITALS_PGBOUNCER") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "PGVITALS_PGBOUNCER={} is not a file: install pgbouncer (Debian/Ubuntu: \
             `apt-get install -y pgbouncer`) or point the variable at its binary",
            p.display()
        );
        return p;
    }
    let debian = PathBuf::from("/usr/sbin/pgbouncer");
    if debian.is_file() {
        return debian;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pgbouncer");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "pgbouncer not found (looked at $PGVITALS_PGBOUNCER, /usr/sbin/pgbouncer and PATH): \
         install it, e.g. `apt-get install -y pgbouncer` on Debian/Ubuntu"
    );
}

/// A PgBouncer process in front of one node, killed (and its directory removed) on drop,
/// whether the test passed or not.
pub(crate) struct Bouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// The node's superuser password, also the pooler's (SCRAM to clients).
    password: String,
}

impl Bouncer {
    /// Start PgBouncer on a free 127.0.0.1 port: `* = host=<node socket> port=<node port>`,
    /// `auth_type = scram-sha-256` (user `postgres` with the node's password in the auth
    /// file, in a 0700 directory: like the cluster, reachable by our OS user only),
    /// `pool_mode = transaction`,
    /// `default_pool_size = 2`, plus `extra` lines. As root it runs as the `postgres` OS user
    /// (PgBouncer refuses to run as root).
    pub(crate) fn start(node: &Node, extra: &str) -> Bouncer {
        let bin = pgbouncer_bin();
        let dir = tempfile::Builder::new()
            .prefix("pgvitals-pgbouncer-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .expect("temp dir");
        let port = pgvitals::cluster::free_port().expect("free port");
        let conf = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("users.txt");
        let log = dir.path().join("pgbouncer.log");
        std::fs::write(&users, format!("\"postgres\" \"{}\"\n", node.password()))
            .expect("auth file");
        std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600))
            .expect("chmod auth file");
        std::fs::write(
            &conf,
            format!(
                "[databases]\n* = host={socket} port={node_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {users}\npool_mode = transaction\n\
                 default_pool_size = 2\nmin_pool_size = 0\nreserve_pool_size = 0\n\
                 max_client_conn = 100\nlogfile = {log}\nlog_connections = 0\n\
                 log_disconnections = 0\n{extra}\n",
                socket = node.socket_dir.display(),
                node_port = node.port,
                users = users.display(),
                log = log.display(),
            ),
        )
        .expect("config file");
        let mut cmd = Command::new(&bin);
        cmd.arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if nix::unistd::geteuid().is_root() {
            use std::os::unix::process::CommandExt;
            let user = nix::unistd::User::from_name("postgres")
                .expect("look up the postgres OS user")
                .expect("running as root needs a `postgres` OS user to run pgbouncer as");
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).expect("chown");
            for f in [&conf, &users] {
                nix::unistd::chown(f, Some(user.uid), Some(user.gid)).expect("chown");
            }
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let mut bouncer = Bouncer {
            child,
            port,
            dir,
            password: node.password().to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return bouncer;
            }
            if let Ok(Some(status)) = bouncer.child.try_wait() {
                panic!(
                    "pgbouncer exited ({status}) before listening: {}",
                    bouncer.log()
                );
            }
            if Instant::now() > deadline {
                panic!("pgbouncer did not listen within 15 s: {}", bouncer.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// A libpq-style conninfo through the pooler, with the password.
    pub(crate) fn conninfo(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres password={} dbname={db} sslmode=disable",
            self.port, self.password
        )
    }

    /// A plain client through the pooler (simple query protocol only: named statements do
    /// not survive transaction pooling).
    async fn client(&self, db: &str, application_name: &str) -> tokio_postgres::Client {
        let mut config: tokio_postgres::Config = self.conninfo(db).parse().expect("conninfo");
        config.application_name(application_name);
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect through pgbouncer: {e}\n{}", self.log()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first column of the first row of a simple query.
async fn one(client: &tokio_postgres::Client, sql: &str) -> String {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    for m in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
            return row.get(0).unwrap_or_default().to_string();
        }
    }
    panic!("{sql}: no row");
}

/// A lease on `session`, or a panic naming why there is none.
async fn lease(session: &ServerPool) -> pgvitals::collect::pool::Lease {
    match session.lease().await.0 {
        Ok(l) => l,
        Err(NoConnection::Waiting) => panic!("no connection: backing off"),
        Err(NoConnection::Failed { error, .. }) => panic!("no connection: {}", error.message),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_areas_work_through_pgbouncer_transaction_pooling_without_leaking_state() {
    let node = primary();
    let db = create_db("pgb");
    node.psql(
        &db.name,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    )
    .expect("create pg_stat_statements");
    // the server's own defaults, from a direct connection
    let defaults: Vec<String> = [
        "default_transaction_read_only",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "work_mem",
    ]
    .iter()
    .map(|name| node.psql(&db.name, &format!("SHOW {name}")).expect("show"))
    .collect();
    let bouncer = Bouncer::start(node, "");

    // other clients share the two server connections all along
    let stop = Arc::new(AtomicBool::new(false));
    let client_queries = Arc::new(AtomicUsize::new(0));
    let mut others = Vec::new();
    for i in 0..3 {
        let client = bouncer.client(&db.name, &format!("pool-client-{i}")).await;
        let stop = stop.clone();
        let count = client_queries.clone();
        others.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                client
                    .simple_query("SELECT pg_sleep(0.005), count(*) FROM pg_class")
                    .await
                    .map_err(|e| e.to_string())?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }

    let config = Config {
        interval: Duration::from_millis(250),
        slow_interval: Duration::from_secs(1),
        ..Config::default()
    };
    let spec = ConnSpec::parse(&bouncer.conninfo(&db.name)).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    let mut failures: Vec<String> = Vec::new();
    let mut pooled_event = None;
    let mut activity_samples = 0;
    let all = pump(&mut running, Duration::from_secs(40), |u, store| {
        match u {
            Update::Failed { area, error, .. } => {
                failures.push(format!("{}: {}", area.key(), error.message));
            }
            Update::Link {
                event: LinkEvent::Down { error, .. },
                ..
            } => failures.push(format!("link down: {}", error.message)),
            Update::Link {
                event: LinkEvent::Connected(facts),
                ..
            } => pooled_event = Some(facts.pooled),
            Update::Sample { sample, .. } => {
                if let Sample::Activity(_) = **sample {
                    activity_samples += 1;
                }
            }
            Update::Acted { .. } => {}
        }
        let server = &store.servers[0];
        activity_samples >= 8 && Area::ALL.iter().all(|a| server.area(*a).sample.is_some())
    })
    .await;
    let server = &running.store.servers[0];
    let missing: Vec<&str> = Area::ALL
        .iter()
        .filter(|a| server.area(**a).sample.is_none())
        .map(|a| a.key())
        .collect();
    assert!(
        all,
        "not every area sampled through pgbouncer within 40 s; missing {missing:?}, \
         failures {failures:?}\npgbouncer log:\n{}",
        bouncer.log()
    );
    assert!(
        failures.is_empty(),
        "errors through pgbouncer: {failures:?}"
    );
    assert_eq!(pooled_event, Some(true), "the Connected event says pooled");
    let facts = server.facts.as_ref().expect("facts");
    assert!(facts.pooled, "the store's facts say pooled");
    // pgvitals' own use of the pooler's server connections is not listed as sessions
    let Some(Sample::Activity(activity)) = &server.area(Area::Activity).sample else {
        panic!("no activity sample");
    };
    // (other tests run pgvitals on the shared server as other roles: those are listed,
    // rightly; ours connect through the pool as postgres)
    assert!(
        activity
            .sessions
            .iter()
            .all(|s| s.application_name != "pgvitals" || s.usename.as_deref() != Some("postgres")),
        "pgvitals listed itself: {:?}",
        activity
            .sessions
            .iter()
            .map(|s| (&s.application_name, &s.usename, s.pid))
            .collect::<Vec<_>>()
    );
    assert!(
        client_queries.load(Ordering::Relaxed) > 0,
        "the other clients ran queries meanwhile"
    );

    stop.store(true, Ordering::Relaxed);
    for h in others {
        let outcome = h.await.expect("client task");
        assert!(
            outcome.is_ok(),
            "another client of the pool failed: {outcome:?}"
        );
    }

    // Hold both server connections of the pool at once (two open transactions), and look at
    // what pgvitals left on each: nothing.
    let a = bouncer.client(&db.name, "leak-check-a").await;
    let b = bouncer.client(&db.name, "leak-check-b").await;
    let mut pids = Vec::new();
    for c in [&a, &b] {
        c.simple_query("BEGIN").await.expect("begin");
        pids.push(one(c, "SELECT pg_backend_pid()").await);
    }
    assert_ne!(pids[0], pids[1], "two transactions, two server connections");
    for (c, pid) in [(&a, &pids[0]), (&b, &pids[1])] {
        let seen = vec![
            one(c, "SHOW default_transaction_read_only").await,
            one(c, "SHOW statement_timeout").await,
            one(c, "SHOW lock_timeout").await,
            one(c, "SHOW idle_in_transaction_session_timeout").await,
            one(c, "SHOW work_mem").await,
        ];
        assert_eq!(seen, defaults, "settings on server connection {pid}");
        assert_eq!(
            one(c, "SHOW transaction_read_only").await,
            "off",
            "read-only transaction leaked on {pid}"
        );
        assert_eq!(
            one(c, "SELECT count(*) FROM pg_prepared_statements").await,
            "0",
            "prepared statements left on server connection {pid}"
        );
        c.simple_query("COMMIT").await.expect("commit");
    }
    drop(running);
    drop(bouncer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_connections_prepare_and_a_pooler_dropping_options_is_noticed() {
    let node = primary();
    let timing = Timing {
        query_timeout: Duration::from_secs(5),
        slow_interval: Duration::from_secs(60),
        ..Timing::default()
    };

    // direct: session settings in force, statements prepared and kept
    let direct = ServerPool::new(
        &ConnSpec::parse(&node.conninfo("postgres")).expect("spec"),
        timing.clone(),
    )
    .expect("session");
    let l = lease(&direct).await;
    assert!(!l.facts.pooled, "a direct connection is not pooled");
    let ctx = Ctx {
        client: &l.client,
        facts: &l.facts,
        timeout: direct.query_deadline(),
    };
    AnyCollector::new(Area::Activity)
        .collect(&ctx)
        .await
        .expect("activity, direct");
    assert_eq!(
        one(&l.client, "SHOW default_transaction_read_only").await,
        "on"
    );
    let prepared: i64 = one(&l.client, "SELECT count(*) FROM pg_prepared_statements")
        .await
        .parse()
        .expect("count");
    assert!(
        prepared >= 2,
        "direct: the activity queries stay prepared ({prepared})"
    );

    // PgBouncer refusing options (the default)
    let refusing = Bouncer::start(node, "");
    let pooled = ServerPool::new(
        &ConnSpec::parse(&refusing.conninfo("postgres")).expect("spec"),
        timing.clone(),
    )
    .expect("session");
    let l = lease(&pooled).await;
    assert!(l.facts.pooled, "options refused: pooled");
    let ctx = Ctx {
        client: &l.client,
        facts: &l.facts,
        timeout: pooled.query_deadline(),
    };
    AnyCollector::new(Area::Activity)
        .collect(&ctx)
        .await
        .expect("activity through pgbouncer");
    assert_eq!(
        one(&l.client, "SELECT count(*) FROM pg_prepared_statements").await,
        "0"
    );

    // PgBouncer accepting options and dropping them: noticed from the settings in force
    let ignoring = Bouncer::start(node, "ignore_startup_parameters = options");
    let dropped = ServerPool::new(
        &ConnSpec::parse(&ignoring.conninfo("postgres")).expect("spec"),
        timing,
    )
    .expect("session");
    let l = lease(&dropped).await;
    assert!(l.facts.pooled, "options dropped silently: pooled");
    assert_eq!(
        one(&l.client, "SHOW default_transaction_read_only").await,
        "off",
        "the pooler really dropped the options"
    );
    let ctx = Ctx {
        client: &l.client,
        facts: &l.facts,
        timeout: dropped.query_deadline(),
    };
    AnyCollector::new(Area::Activity)
        .collect(&ctx)
        .await
        .expect("activity through a pooler that drops options");
    // a parameterised query (the statements text fetch has one): the types come from the
    // Rust values, and the server reads them as such
    let rows = ctx
        .query(
            "SELECT pg_typeof($1)::text AS a, pg_typeof($2)::text AS b, $1 AS ids",
            &[&vec![7i64, 8], &"x"],
        )
        .await
        .expect("parameterised query through the pooler");
    let row = rows.first().expect("a row");
    assert_eq!(row.get::<_, String>("a"), "bigint[]");
    assert_eq!(row.get::<_, String>("b"), "text");
    assert_eq!(row.get::<_, Vec<i64>>("ids"), vec![7, 8]);
    assert_eq!(
        one(&l.client, "SELECT count(*) FROM pg_prepared_statements").await,
        "0"
    );
}

/// The work_mem of a monitoring query, read by a query through the same session as the
/// collectors' (`Ctx::query`: prepared directly, in its own pooled transaction through a
/// pooler).
async fn work_mem_of(session: &ServerPool) -> (String, bool) {
    let l = lease(session).await;
    let ctx = Ctx {
        client: &l.client,
        facts: &l.facts,
        timeout: session.query_deadline(),
    };
    let rows = ctx
        .query(
            "SELECT /* pgvitals */ current_setting('work_mem') AS work_mem",
            &[],
        )
        .await
        .expect("read work_mem");
    let row = rows.first().expect("a row");
    (row.get("work_mem"), l.facts.pooled)
}

/// The monitoring session sorts in 32MB of work_mem (`collect::WORK_MEM`), directly (a
/// startup parameter) and through PgBouncer (`SET LOCAL` in each query's transaction), and a
/// `-c work_mem=...` in the user's own `options` wins over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitoring_session_has_32mb_of_work_mem_unless_the_user_sets_their_own() {
    let node = primary();
    let timing = Timing::default();
    let default = node.psql("postgres", "SHOW work_mem").expect("show");
    assert_ne!(default, "32MB", "the server's own default differs");
    let session = |conninfo: String| {
        ServerPool::new(&ConnSpec::parse(&conninfo).expect("spec"), timing.clone())
            .expect("session")
    };

    let direct = session(node.conninfo("postgres"));
    assert_eq!(
        work_mem_of(&direct).await,
        ("32MB".to_string(), false),
        "direct"
    );
    let theirs = session(format!(
        "{} options='-c work_mem=8MB'",
        node.conninfo("postgres")
    ));
    assert_eq!(
        work_mem_of(&theirs).await,
        ("8MB".to_string(), false),
        "the user's own work_mem wins"
    );

    let bouncer = Bouncer::start(node, "");
    let pooled = session(bouncer.conninfo("postgres"));
    assert_eq!(
        work_mem_of(&pooled).await,
        ("32MB".to_string(), true),
        "through PgBouncer"
    );
    // and nothing of it outlives the transaction on the pooler's server connection
    let other = bouncer.client("postgres", "work-mem-check").await;
    assert_eq!(one(&other, "SHOW work_mem").await, default);
}

/// A pooler that passed `options` through would show itself by a prepared statement vanishing
/// between transactions (SQLSTATE 26000). Simulated on a direct connection with `DEALLOCATE
/// ALL`: that poll fails, the connection is replaced, and the next one is pooled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_prepared_statement_switches_to_the_pooled_path() {
    let node = primary();
    let session = ServerPool::new(
        &ConnSpec::parse(&node.conninfo("postgres")).expect("spec"),
        Timing::default(),
    )
    .expect("session");
    let mut collector = AnyCollector::new(Area::Activity);
    let summary = |updates: &[Update]| -> (Option<bool>, bool, Option<String>) {
        let mut pooled = None;
        let mut sampled = false;
        let mut sqlstate = None;
        for u in updates {
            match u {
                Update::Link {
                    event: LinkEvent::Connected(f),
                    ..
                } => pooled = Some(f.pooled),
                Update::Sample { .. } => sampled = true,
                Update::Failed { error, .. } => {
                    sqlstate = Some(
                        error
                            .sqlstate
                            .clone()
                            .unwrap_or_else(|| error.message.clone()),
                    )
                }
                _ => {}
            }
        }
        (pooled, sampled, sqlstate)
    };
    let first =
        pgvitals::collect::worker::poll_once(0, Area::Activity, &session, &mut collector).await;
    assert_eq!(summary(&first), (Some(false), true, None), "{first:?}");

    let l = lease(&session).await;
    l.client
        .batch_execute("DEALLOCATE ALL")
        .await
        .expect("deallocate");
    drop(l);
    let failed =
        pgvitals::collect::worker::poll_once(0, Area::Activity, &session, &mut collector).await;
    assert_eq!(
        summary(&failed),
        (None, false, Some("26000".to_string())),
        "{failed:?}"
    );
    let again =
        pgvitals::collect::worker::poll_once(0, Area::Activity, &session, &mut collector).await;
    assert_eq!(summary(&again), (Some(true), true, None), "{again:?}");
    let l = lease(&session).await;
    assert!(l.facts.pooled);
    assert_eq!(
        one(&l.client, "SELECT count(*) FROM pg_prepared_statements").await,
        "0",
        "the new connection runs unnamed statements"
    );
}
