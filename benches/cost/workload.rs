//! The server the tools watch: tables with never-scanned indexes, distinct pg_stat_statements
//! entries, idle (and a few busy) sessions, a lock chain and pgbench at a fixed rate, at one
//! of two scales (`BENCH_SCALE=moderate`, the default, or `large`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use pgvitals::cluster::Node;
use tokio_postgres::{Client, NoTls};

/// Index columns of the bench tables, in the order indexes are made (at most five per table).
const COLUMNS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// Tables made per transaction (one `DO` block): 250 tables of the large scale take 1,500
/// locks, well inside the lock table of `max_connections = 2100`.
const TABLES_PER_BATCH: usize = 250;

/// Sessions in the lock chain: one holding `EXCLUSIVE` on `bench_lock` in an open transaction,
/// one waiting for `SHARE` behind it, one waiting for `ROW EXCLUSIVE` behind both.
pub const LOCK_CHAIN: usize = 3;

/// The database of the lock chain and the sleeping sessions. The waiters and sleepers hold a
/// snapshot (backend_xmin) for the whole run; in database `postgres` that would hold back
/// the xmin horizon of pgbench's tables (PostgreSQL 14+ computes it per database for user
/// tables), and pgbench's updates of its few branch rows would walk ever longer HOT chains:
/// the server's CPU grew from 10 to 33 s/min over a 9-minute run. Here they are still seen
/// by every tool (pg_stat_activity and pg_locks are cluster-wide) and by pgvitals' xmin
/// horizon view, but the workload stays the same from the first window to the last.
pub const LOCK_DB: &str = "bench_locks";

/// pgbench's rate, transactions per second.
pub const PGBENCH_TPS: u32 = 200;

/// pgbench's scale factor (`pgbench -i -s`): 100,000 accounts.
const PGBENCH_SCALE: u32 = 1;

#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub name: &'static str,
    pub tables: usize,
    /// Never-scanned indexes per table (non-unique, backing no constraint).
    pub indexes_per_table: usize,
    /// Distinct statements run once each (distinct queryids).
    pub statements: usize,
    pub idle: usize,
    pub idle_in_xact: usize,
    /// Sessions running `pg_sleep` the whole time (active).
    pub sleepers: usize,
    pub pgbench_clients: usize,
    pub max_connections: u32,
    pub pgss_max: u32,
    pub shared_buffers: &'static str,
}

impl Scale {
    pub const MODERATE: Scale = Scale {
        name: "moderate",
        tables: 2_000,
        indexes_per_table: 1,
        statements: 2_000,
        idle: 100,
        idle_in_xact: 5,
        sleepers: 2,
        pgbench_clients: 4,
        max_connections: 300,
        pgss_max: 5_000,
        shared_buffers: "128MB",
    };

    pub const LARGE: Scale = Scale {
        name: "large",
        tables: 10_000,
        indexes_per_table: 5,
        statements: 10_000,
        idle: 1_950,
        idle_in_xact: 40,
        sleepers: 4,
        pgbench_clients: 4,
        max_connections: 2_100,
        pgss_max: 12_000,
        shared_buffers: "256MB",
    };

    /// `BENCH_SCALE`: `moderate` (default) or `large`.
    pub fn from_env() -> Result<Scale, String> {
        match std::env::var("BENCH_SCALE").as_deref() {
            Err(_) | Ok("") | Ok("moderate") => Ok(Scale::MODERATE),
            Ok("large") => Ok(Scale::LARGE),
            Ok(other) => Err(format!(
                "BENCH_SCALE={other}: expected `moderate` or `large`"
            )),
        }
    }

    /// Client sessions of the workload (the tools and the bench's own come on top).
    pub fn sessions(&self) -> usize {
        self.idle + self.idle_in_xact + self.sleepers + LOCK_CHAIN + self.pgbench_clients
    }

    pub fn indexes(&self) -> usize {
        self.tables * self.indexes_per_table
    }

    /// Settings appended to postgresql.conf.
    pub fn conf(&self) -> Vec<String> {
        vec![
            format!("max_connections = {}", self.max_connections),
            format!("pg_stat_statements.max = {}", self.pgss_max),
            // the role in each log line: server-side errors are counted per tool
            "log_line_prefix = '%m [%p] %u@%d '".into(),
        ]
    }
}

/// The running workload: its sessions and pgbench. [`Workload::stop`] ends them.
pub struct Workload {
    sessions: Vec<Client>,
    pgbench: Option<Child>,
    pub timings: Vec<(&'static str, Duration)>,
}

/// A connection to database `postgres` over the cluster's socket.
pub async fn connect(node: &Node, user: &str, app: &str) -> Client {
    connect_db(node, user, "postgres", app).await
}

pub async fn connect_db(node: &Node, user: &str, db: &str, app: &str) -> Client {
    try_connect(node, user, db, app)
        .await
        .unwrap_or_else(|e| panic!("connect as {user} to {db} ({app}): {e}"))
}

async fn try_connect(
    node: &Node,
    user: &str,
    db: &str,
    app: &str,
) -> Result<Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&node.socket_dir)
        .port(node.port)
        .user(user)
        .dbname(db)
        .application_name(app);
    let (client, conn) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// `program` with the cluster's socket, port and superuser, no `PG*` variables of ours.
fn pg_command(program: &str, node: &Node) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("-h")
        .arg(&node.socket_dir)
        .args(["-p", &node.port.to_string(), "-U", "postgres"]);
    cmd
}

/// The `DO` block making tables `lo..=hi`, each with 20 rows and its indexes.
fn tables_sql(lo: usize, hi: usize, indexes: usize) -> String {
    let mut body = String::from(
        "EXECUTE format('CREATE TABLE bench_t%s (id int, a int, b int, c int, d int, e int)', k);\n\
         EXECUTE format('INSERT INTO bench_t%s SELECT g, g, g, g, g, g FROM generate_series(1, 20) g', k);\n",
    );
    for col in &COLUMNS[..indexes] {
        body.push_str(&format!(
            "EXECUTE format('CREATE INDEX bench_t%1$s_{col} ON bench_t%1$s ({col})', k);\n"
        ));
    }
    format!("DO $$ BEGIN FOR k IN {lo}..{hi} LOOP\n{body}END LOOP; END $$")
}

/// Statement `s`: table `s % tables`, a column list chosen by `s / tables`, so every
/// statement has its own queryid. `WHERE id = ...` (no index on id): the indexes stay
/// unscanned.
fn statement_sql(s: usize, tables: usize) -> String {
    const LISTS: [&str; 6] = ["id, a", "id, b", "id, c", "id, d", "id, e", "a, b, c"];
    let table = s % tables;
    let list = LISTS[(s / tables) % LISTS.len()];
    format!(
        "SELECT {list} FROM bench_t{table} WHERE id = {}",
        s % 20 + 1
    )
}

fn timed(timings: &mut Vec<(&'static str, Duration)>, what: &'static str, t0: Instant) {
    let took = t0.elapsed();
    println!("  {what}: {:.1} s", took.as_secs_f64());
    timings.push((what, took));
}

/// Runs `jobs` (SQL strings) spread round-robin over `conns`, each connection running its
/// share one after another, the connections side by side.
async fn run_spread(conns: &[Client], jobs: Vec<String>) -> Result<(), tokio_postgres::Error> {
    let mut shares: Vec<Vec<String>> = vec![Vec::new(); conns.len()];
    for (i, job) in jobs.into_iter().enumerate() {
        shares[i % conns.len()].push(job);
    }
    futures_util::future::try_join_all(conns.iter().zip(shares).map(|(c, share)| async move {
        for sql in share {
            c.batch_execute(&sql).await?;
        }
        Ok::<(), tokio_postgres::Error>(())
    }))
    .await
    .map(|_| ())
}

/// Builds the workload on `node` (superuser `admin`) and starts it.
pub async fn start(node: &Node, admin: &Client, scale: &Scale, scratch: &Path) -> Workload {
    let mut timings = Vec::new();
    println!(
        "building the {} workload: {} tables x {} indexes, {} statements, {} sessions, pgbench at {} tps, a lock chain",
        scale.name,
        scale.tables,
        scale.indexes_per_table,
        scale.statements,
        scale.sessions(),
        PGBENCH_TPS
    );

    // pgbench's tables (before the statistics are reset)
    let t0 = Instant::now();
    let out = pg_command("pgbench", node)
        .args(["-i", "-q", "-s", &PGBENCH_SCALE.to_string(), "postgres"])
        .output()
        .expect("run pgbench -i");
    assert!(
        out.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    timed(&mut timings, "pgbench -i", t0);

    // tables and indexes: DO blocks of TABLES_PER_BATCH tables, on two connections
    let t0 = Instant::now();
    let builders = 2;
    let mut conns = Vec::new();
    for _ in 0..builders {
        let c = connect(node, "postgres", "bench-build").await;
        c.batch_execute(
            "SET pg_stat_statements.track = 'none'; SET pg_stat_statements.track_utility = off",
        )
        .await
        .expect("untracked builder session");
        conns.push(c);
    }
    let batches: Vec<String> = (0..scale.tables)
        .step_by(TABLES_PER_BATCH)
        .map(|lo| {
            let hi = (lo + TABLES_PER_BATCH).min(scale.tables) - 1;
            tables_sql(lo, hi, scale.indexes_per_table)
        })
        .collect();
    run_spread(&conns, batches)
        .await
        .expect("create the bench tables");
    admin
        .batch_execute(&format!("CREATE DATABASE {LOCK_DB}"))
        .await
        .expect("the lock chain's database");
    connect_db(node, "postgres", LOCK_DB, "bench-build")
        .await
        .batch_execute("CREATE TABLE bench_lock (id int); INSERT INTO bench_lock VALUES (1)")
        .await
        .expect("lock table");
    timed(&mut timings, "tables and indexes", t0);

    // distinct statements: the statistics start from here
    let t0 = Instant::now();
    admin
        .batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .expect("reset pg_stat_statements");
    for c in &conns {
        c.batch_execute("RESET pg_stat_statements.track; RESET pg_stat_statements.track_utility")
            .await
            .expect("tracked again");
    }
    let chunks: Vec<String> = (0..scale.statements)
        .collect::<Vec<_>>()
        .chunks(250)
        .map(|c| {
            c.iter()
                .map(|&s| statement_sql(s, scale.tables) + ";")
                .collect::<String>()
        })
        .collect();
    run_spread(&conns, chunks)
        .await
        .expect("run the distinct statements");
    timed(&mut timings, "distinct statements", t0);

    // sessions
    let t0 = Instant::now();
    let plain = scale.idle + scale.idle_in_xact;
    let mut sessions: Vec<Client> = stream::iter(0..plain)
        .map(|i| async move {
            let c = connect(node, "postgres", &format!("bench-app-{}", i % 7)).await;
            let sql = if i < scale.idle_in_xact {
                "BEGIN; SELECT 1"
            } else {
                "SELECT 1"
            };
            c.batch_execute(sql).await.expect("session");
            c
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for _ in 0..scale.sleepers {
        let c = connect_db(node, "postgres", LOCK_DB, "bench-sleeper").await;
        tokio::spawn(async move {
            let _ = c.simple_query("SELECT pg_sleep(86400)").await;
        });
    }
    // the lock chain, in its own database (see LOCK_DB)
    let holder = connect_db(node, "postgres", LOCK_DB, "bench-lock-holder").await;
    holder
        .batch_execute("BEGIN; LOCK TABLE bench_lock IN EXCLUSIVE MODE")
        .await
        .expect("lock holder");
    sessions.push(holder);
    for (i, mode) in ["SHARE", "ROW EXCLUSIVE"].into_iter().enumerate() {
        let c = connect_db(
            node,
            "postgres",
            LOCK_DB,
            &format!("bench-lock-waiter-{}", i + 1),
        )
        .await;
        tokio::spawn(async move {
            let _ = c
                .batch_execute(&format!("BEGIN; LOCK TABLE bench_lock IN {mode} MODE"))
                .await;
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    timed(&mut timings, "sessions", t0);

    // pgbench at a fixed rate, until stopped
    let pgbench = pg_command("pgbench", node)
        .args([
            "-n",
            "-c",
            &scale.pgbench_clients.to_string(),
            "-j",
            "2",
            "-R",
            &PGBENCH_TPS.to_string(),
            "-T",
            "86400",
            "postgres",
        ])
        .env("PGAPPNAME", "pgbench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(scratch.join("pgbench.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("start pgbench");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'",
                &[],
            )
            .await
            .expect("pgbench sessions")
            .get(0);
        if n as usize >= scale.pgbench_clients || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_stat_statements)::int8,
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int8,
                    (SELECT count(*) FROM pg_stat_activity WHERE state = 'idle')::int8,
                    (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock')::int8,
                    (SELECT count(*) FROM pg_stat_user_indexes WHERE idx_scan = 0)::int8,
                    (SELECT count(*) FROM pg_stat_user_tables)::int8,
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL
                        AND datname = 'postgres' AND pid <> pg_backend_pid()
                        AND application_name <> 'pgbench')::int8",
            &[],
        )
        .await
        .expect("workload check");
    println!(
        "workload: {} pg_stat_statements entries, {} client backends ({} idle), {} waiting on a lock, {} never-scanned indexes, {} tables; {} sessions of database postgres besides pgbench hold an xmin",
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        row.get::<_, i64>(2),
        row.get::<_, i64>(3),
        row.get::<_, i64>(4),
        row.get::<_, i64>(5),
        row.get::<_, i64>(6)
    );
    Workload {
        sessions,
        pgbench: Some(pgbench),
        timings,
    }
}

impl Workload {
    /// Stops pgbench and ends every workload session (the waiting and sleeping ones too).
    pub async fn stop(&mut self, admin: &Client) {
        if let Some(mut child) = self.pgbench.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.sessions.clear();
        let _ = admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                &[],
            )
            .await;
    }
}
