//! What the wait profile's sampler costs the server (issue 11): a throwaway PostgreSQL with
//! `BENCH_SESSIONS` client sessions (default 1,000), `BENCH_ACTIVE` of them active (default
//! 50: sleepers in `pg_sleep` loops and a queue of hot-row updates behind a lock holder), and
//! the sampler run exactly as the waits area's worker runs it (every
//! `sample::WAITS_PERIOD`, paced by its own server time, `collect::paced_sampler`) on one monitoring
//! connection for `BENCH_SECONDS` (default 60). Then, on the same connection and server, the
//! activity area at a 1 s interval (what pgvitals already pays), and a `SELECT 1` at the
//! sampler's rate (the floor of any query at that rate). Prints, per phase, the samples,
//! their mean and max duration, the rate they came at, and the CPU of the monitoring
//! backend (/proc), per minute. Prints numbers; asserts nothing.
//!
//! `cargo bench --bench waits` (about 4 minutes on 2 cores).

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use pgvitals::cluster::{Cluster, ClusterOptions};
use pgvitals::collect::Ctx;
use pgvitals::collect::areas::AnyCollector;
use pgvitals::collect::pool::{NoConnection, ServerPool, Timing};
use pgvitals::conninfo::ConnSpec;
use pgvitals::sample::{Area, WAITS_PERIOD};
use tokio_postgres::{Client, NoTls};

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) }.max(1) as f64;
    let t = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (t(11) + t(12)) / ticks
}

async fn connect(cluster: &Cluster, app: &str) -> Client {
    let node = &cluster.primary;
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&node.socket_dir)
        .port(node.port)
        .user("postgres")
        .dbname("postgres")
        .application_name(app);
    let (client, conn) = config.connect(NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// One phase's numbers.
struct Phase {
    name: String,
    samples: u64,
    mean_ms: f64,
    max_ms: f64,
    per_s: f64,
    cpu_s_per_min: f64,
}

/// Poll `area` (or `SELECT 1` when `None`) for `seconds`, every `every` paced by its cost
/// when `paced`, on the leased connection; the backend's CPU from /proc.
async fn phase(
    name: &str,
    session: &ServerPool,
    area: Option<Area>,
    every: Duration,
    paced: bool,
    seconds: u64,
) -> Phase {
    let lease = match session.lease().await.0 {
        Ok(l) => l,
        Err(NoConnection::Failed { error, .. }) => panic!("{}", error.message),
        Err(NoConnection::Waiting) => panic!("backing off"),
    };
    let pid: i32 = lease
        .client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let ctx = Ctx {
        client: &lease.client,
        facts: &lease.facts,
        timeout: session.query_deadline(),
    };
    let mut collector = area.map(|a| AnyCollector::with_top_n(a, 50));
    let cpu0 = cpu_seconds(pid);
    let start = Instant::now();
    let (mut n, mut total, mut max) = (0u64, 0.0f64, 0.0f64);
    while start.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        match collector.as_mut() {
            Some(c) => {
                c.collect(&ctx).await.expect("sample");
            }
            None => {
                ctx.query("SELECT 1", &[]).await.expect("select 1");
            }
        }
        let took = t.elapsed();
        n += 1;
        total += took.as_secs_f64() * 1000.0;
        max = max.max(took.as_secs_f64() * 1000.0);
        let wait = if paced {
            // as the worker paces it: on the server's time of the sample when the collector
            // knows it (the waits query reports it), with the sampler's ceiling
            let cost = collector.as_ref().map_or(took, |c| c.last_took());
            pgvitals::collect::paced_sampler(every, cost)
        } else {
            every
        };
        tokio::time::sleep(wait.saturating_sub(took)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    Phase {
        name: name.to_string(),
        samples: n,
        mean_ms: total / n.max(1) as f64,
        max_ms: max,
        per_s: n as f64 / secs,
        cpu_s_per_min: cpu / secs * 60.0,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sessions = env_or("BENCH_SESSIONS", 1000) as usize;
    let active = env_or("BENCH_ACTIVE", 50) as usize;
    let seconds = env_or("BENCH_SECONDS", 60);
    let options = ClusterOptions {
        extra_conf: vec![
            format!("max_connections = {}", sessions + 50),
            "compute_query_id = on".into(),
        ],
        ..ClusterOptions::default()
    };
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(options))
        .await
        .expect("start")
        .expect("cluster");
    let setup = connect(&cluster, "bench-setup").await;
    setup
        .batch_execute(
            "CREATE TABLE hot (id int PRIMARY KEY, n int); INSERT INTO hot VALUES (1, 0)",
        )
        .await
        .expect("setup");
    // the active ones: a lock holder (idle in transaction) and hot-row updaters queued
    // behind it (a fifth of the active), the rest in pg_sleep loops
    let holder = connect(&cluster, "bench-holder").await;
    holder
        .batch_execute("BEGIN; UPDATE hot SET n = n + 1 WHERE id = 1")
        .await
        .expect("hold the row");
    let updaters = active / 5;
    let mut keep = vec![holder];
    for i in 0..active {
        let c = connect(&cluster, "bench-active").await;
        let sql = if i < updaters {
            "UPDATE hot SET n = n + 1 WHERE id = 1"
        } else {
            "SELECT pg_sleep(3600)"
        };
        tokio::spawn(async move {
            let _ = c.batch_execute(sql).await;
            drop(c);
        });
    }
    let idle = sessions.saturating_sub(active + 1);
    let idle_clients: Vec<Client> = stream::iter(0..idle)
        .map(|_| async {
            let c = connect(&cluster, "bench-idle").await;
            c.batch_execute("SELECT 1").await.expect("idle session");
            c
        })
        .buffer_unordered(16)
        .collect()
        .await;
    keep.extend(idle_clients);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts = setup
        .query_one(
            "SELECT count(*) FILTER (WHERE backend_type = 'client backend'), \
             count(*) FILTER (WHERE state = 'active' AND backend_type = 'client backend') \
             FROM pg_stat_activity",
            &[],
        )
        .await
        .expect("counts");
    let (clients, actives): (i64, i64) = (counts.get(0), counts.get(1));
    let version: String = setup
        .query_one("SHOW server_version", &[])
        .await
        .expect("version")
        .get(0);
    println!(
        "PostgreSQL {version} with {clients} client backends, {actives} active ({updaters} \
         waiting on a row lock, the rest in pg_sleep); {seconds} s per phase"
    );

    let spec = ConnSpec::parse(&cluster.primary.conninfo("postgres")).expect("spec");
    let session = ServerPool::new(&spec, Timing::default()).expect("session");
    let phases = [
        phase(
            &format!(
                "waits sampler (every {} ms, paced by its cost)",
                WAITS_PERIOD.as_millis()
            ),
            &session,
            Some(Area::Waits),
            WAITS_PERIOD,
            true,
            seconds,
        )
        .await,
        phase(
            "activity area (every 1 s)",
            &session,
            Some(Area::Activity),
            Duration::from_secs(1),
            false,
            seconds,
        )
        .await,
        phase(
            &format!("SELECT 1 (every {} ms)", WAITS_PERIOD.as_millis()),
            &session,
            None,
            WAITS_PERIOD,
            false,
            seconds,
        )
        .await,
    ];
    println!(
        "{:<50} {:>8} {:>8} {:>8} {:>9} {:>16}",
        "phase", "samples", "per s", "mean ms", "max ms", "backend CPU s/min"
    );
    for p in &phases {
        println!(
            "{:<50} {:>8} {:>8.2} {:>8.2} {:>9.2} {:>16.3}",
            p.name, p.samples, p.per_s, p.mean_ms, p.max_ms, p.cpu_s_per_min
        );
    }
    drop(keep);
    drop(cluster);
}
