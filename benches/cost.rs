//! What pgvitals costs, on a throwaway server with 1,000 statements and 200 sessions:
//!
//! * **server**: execution + planning time of pgvitals' own queries per collection cycle
//!   (from pg_stat_statements, filtered to pgvitals' own role), the CPU time of its backends
//!   (from /proc), and the most connections it ever held;
//! * **client**: CPU and peak RSS of the real dashboard in a pseudo terminal at a 1 s
//!   interval.
//!
//! Run with `cargo bench --bench cost` (about 3 minutes). Environment: `BENCH_SECONDS`
//! (default 60) for each measurement. Prints numbers; asserts nothing.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use tokio_postgres::{Client, NoTls};

const ROLE: &str = "pgvitals_bench";

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on Linux
    100.0
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// CPU seconds of a whole cluster: every live process of the postmaster's process group
/// (utime + stime) plus the postmaster's reaped children (cutime + cstime), so backends that
/// came and went (a tool that reconnects every refresh) are counted too.
fn cluster_cpu(postmaster: i32) -> f64 {
    let mut total = 0.0;
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{postmaster}/stat")) {
        if let Some((_, after)) = stat.rsplit_once(") ") {
            let f: Vec<&str> = after.split_whitespace().collect();
            for i in [13, 14] {
                total +=
                    f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / clock_ticks();
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some((_, after)) = stat.rsplit_once(") ") else {
                continue;
            };
            let f: Vec<&str> = after.split_whitespace().collect();
            // field 4 of stat is ppid (index 1 here)
            let ppid: i32 = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            if pid == postmaster || ppid == postmaster {
                total += cpu_seconds(pid).unwrap_or(0.0);
            }
        }
    }
    total
}

/// Server time (exec + plan, ms) and calls of one role in pg_stat_statements.
async fn role_statements(admin: &Client, role: &str) -> (i64, f64) {
    let row = admin
        .query_one(
            "SELECT coalesce(sum(calls), 0)::int8,
                    coalesce(sum(total_exec_time + total_plan_time), 0)::float8
               FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
              WHERE r.rolname = $1",
            &[&role],
        )
        .await
        .expect("role statements");
    (row.get(0), row.get(1))
}

/// Peak resident set size, bytes.
fn peak_rss(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

async fn connect(node: &Node, user: &str, app: &str) -> Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&node.socket_dir)
        .port(node.port)
        .user(user)
        .dbname("postgres")
        .application_name(app);
    let (client, conn) = config.connect(NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = Cluster::start(ClusterOptions {
        standby: true,
        shared_buffers: "128MB".into(),
        extra_conf: vec![
            "max_connections = 300".into(),
            "pg_stat_statements.max = 5000".into(),
        ],
        ..ClusterOptions::default()
    })
    .expect("start a cluster");
    rt.block_on(run(&cluster, Duration::from_secs(seconds)));
}

async fn run(cluster: &Cluster, span: Duration) {
    let node = &cluster.primary;
    let admin = connect(node, "postgres", "bench-setup").await;
    println!("setting up: 1,000 distinct statements, 200 sessions ...");
    let mut setup = format!("CREATE ROLE {ROLE} LOGIN; GRANT pg_monitor TO {ROLE};");
    for t in 0..40 {
        setup.push_str(&format!(
            "CREATE TABLE bench_t{t} (x int); INSERT INTO bench_t{t} SELECT generate_series(1, 100);"
        ));
    }
    admin.batch_execute(&setup).await.expect("setup");
    for t in 0..40 {
        for k in 1..=25 {
            let cols = vec!["x"; k].join(", ");
            admin
                .query(&format!("SELECT {cols} FROM bench_t{t} LIMIT 1"), &[])
                .await
                .expect("statement");
        }
    }
    let mut sessions = Vec::new();
    for i in 0..200 {
        let c = connect(node, "postgres", &format!("bench-app-{}", i % 7)).await;
        if i % 10 == 0 {
            c.batch_execute("BEGIN; SELECT 1")
                .await
                .expect("idle in xact");
        } else if i % 10 == 1 {
            let c2 = connect(node, "postgres", "bench-sleeper").await;
            tokio::spawn(async move {
                let _ = c2.simple_query("SELECT pg_sleep(3600)").await;
            });
        }
        sessions.push(c);
    }
    let counted: i64 = admin
        .query_one("SELECT count(*) FROM pg_stat_statements", &[])
        .await
        .expect("count")
        .get(0);
    println!(
        "pg_stat_statements entries: {counted}; sessions: {}",
        sessions.len() + 20
    );

    // BENCH_SERVER=0: only the client measurement (the server phases shrink to a second)
    let server_span = if std::env::var("BENCH_SERVER").is_ok_and(|v| v == "0") {
        Duration::from_secs(1)
    } else {
        span
    };
    // ---- server cost: the workers (every area, both servers) at a 1 s interval ----
    let config = Config {
        interval: Duration::from_secs(1),
        ..Config::default()
    };
    let specs = [
        ConnSpec::parse(&node.conninfo_as(ROLE, "postgres")).expect("spec"),
        ConnSpec::parse(
            &cluster
                .standby
                .as_ref()
                .expect("standby")
                .conninfo_as(ROLE, "postgres"),
        )
        .expect("spec"),
    ];
    admin
        .query(
            "SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = $1), 0, 0)",
            &[&ROLE],
        )
        .await
        .expect("reset our role's statements only");
    let postmaster = node.postmaster_pid().expect("postmaster pid");
    let cluster_cpu_start = cluster_cpu(postmaster);
    let mut running = pgvitals::app::start_workers(&specs[..1], &config).expect("workers");
    let watcher = connect(node, "postgres", "bench-watch").await;
    let started = Instant::now();
    let mut cycles = 0u64;
    let mut max_conns = 0i64;
    let mut cpu_start: std::collections::HashMap<i32, f64> = Default::default();
    let mut cpu_last: std::collections::HashMap<i32, f64> = Default::default();
    let mut last_check = Instant::now() - Duration::from_secs(1);
    while started.elapsed() < server_span {
        match tokio::time::timeout(Duration::from_millis(200), running.updates.recv()).await {
            Ok(Some(update)) => {
                if let pgvitals::sample::Update::Sample { sample, .. } = &update {
                    if matches!(**sample, pgvitals::sample::Sample::Server(_)) {
                        cycles += 1;
                    }
                }
                running.store.apply(update, SystemTime::now());
            }
            Ok(None) => break,
            Err(_) => {}
        }
        if last_check.elapsed() >= Duration::from_secs(1) {
            last_check = Instant::now();
            let rows = watcher
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE usename = $1",
                    &[&ROLE],
                )
                .await
                .expect("our backends");
            max_conns = max_conns.max(rows.len() as i64);
            for r in rows {
                let pid: i32 = r.get(0);
                if let Some(cpu) = cpu_seconds(pid) {
                    cpu_start.entry(pid).or_insert(cpu);
                    cpu_last.insert(pid, cpu);
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let pgvitals_cluster_cpu = (cluster_cpu(postmaster) - cluster_cpu_start) * 60.0 / elapsed;
    let backend_cpu: f64 = cpu_last
        .iter()
        .map(|(pid, last)| last - cpu_start.get(pid).copied().unwrap_or(*last))
        .sum();
    let row = admin
        .query_one(
            "SELECT coalesce(sum(calls), 0)::int8, coalesce(sum(total_exec_time), 0)::float8,
                    coalesce(sum(total_plan_time), 0)::float8
               FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
              WHERE r.rolname = $1",
            &[&ROLE],
        )
        .await
        .expect("our statements");
    let (calls, exec_ms, plan_ms): (i64, f64, f64) = (row.get(0), row.get(1), row.get(2));
    let per_minute = 60.0 / elapsed;
    println!();
    println!("== server cost, 1 s interval, every area, {elapsed:.0} s ==");
    println!("collection cycles (server samples):      {cycles}");
    println!(
        "queries run by pgvitals:                 {calls} ({:.1} per cycle)",
        calls as f64 / cycles.max(1) as f64
    );
    println!(
        "exec time per cycle:                     {:.2} ms (+ {:.2} ms planning)",
        exec_ms / cycles.max(1) as f64,
        plan_ms / cycles.max(1) as f64
    );
    println!(
        "backend CPU of pgvitals' connections:    {:.3} s per minute",
        backend_cpu * per_minute
    );
    println!("most connections held at once:           {max_conns}");
    println!("per query (calls, ms per call, ms per minute):");
    let rows = admin
        .query(
            "SELECT calls::int8, (total_exec_time / greatest(calls, 1))::float8,
                    total_exec_time::float8, substr(query, strpos(query, '/* pgvitals */') + 15, 400)
               FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
              WHERE r.rolname = $1 ORDER BY total_exec_time DESC LIMIT 25",
            &[&ROLE],
        )
        .await
        .expect("per query");
    for r in rows {
        let (c, per, total, q): (i64, f64, f64, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let name = q.split_whitespace().take(14).collect::<Vec<_>>().join(" ");
        println!(
            "  {c:>5} {per:>8.3} {:>8.1}  {}",
            total * per_minute,
            &name[..name.len().min(90)]
        );
    }
    drop(running);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // ---- the same cluster with nothing watching it, then with pg_top ----
    let postmaster = node.postmaster_pid().expect("postmaster pid");
    let c0 = cluster_cpu(postmaster);
    tokio::time::sleep(server_span).await;
    let idle = (cluster_cpu(postmaster) - c0) * 60.0 / server_span.as_secs_f64();
    println!();
    println!("== whole-cluster server CPU per minute (all processes, reaped backends included) ==");
    println!("nothing watching:                        {idle:.3} s");
    println!(
        "pgvitals (every area, 1 s):           {:.3} s  (+{:.3} s over idle)",
        pgvitals_cluster_cpu,
        pgvitals_cluster_cpu - idle
    );
    admin
        .batch_execute("CREATE ROLE pgtop_bench LOGIN; GRANT pg_monitor TO pgtop_bench;")
        .await
        .expect("pg_top role");
    if let Ok(pg_top) = which("pg_top") {
        let count = server_span.as_secs().to_string();
        let c0 = cluster_cpu(postmaster);
        let t0 = Instant::now();
        let out = std::process::Command::new(pg_top)
            .args(["-b", "-s", "1", "-x", &count, "-h"])
            .arg(&node.socket_dir)
            .args([
                "-p",
                &node.port.to_string(),
                "-U",
                "pgtop_bench",
                "-d",
                "postgres",
            ])
            .output()
            .expect("run pg_top");
        let secs = t0.elapsed().as_secs_f64();
        let cpu = (cluster_cpu(postmaster) - c0) * 60.0 / secs;
        let (calls, ms) = role_statements(&admin, "pgtop_bench").await;
        println!(
            "pg_top -b -s 1 (sessions only):          {cpu:.3} s  (+{:.3} s over idle; {calls} queries, {:.2} ms server time per refresh; exit {})",
            cpu - idle,
            ms / server_span.as_secs_f64(),
            out.status
        );
    } else {
        println!("pg_top: not installed (apt-get install pgtop) — no side-by-side");
    }

    if std::env::var("BENCH_CLIENT").is_ok_and(|v| v == "0") {
        return;
    }

    // ---- client cost: the real dashboard in a pty at a 1 s interval, and pg_top likewise ----
    println!();
    println!(
        "== client cost in a 160x48 pseudo terminal, 1 s refresh, {}s each ==",
        span.as_secs()
    );
    let primary = specs_conninfo(cluster, true);
    let standby = specs_conninfo(cluster, false);
    let bin = env!("CARGO_BIN_EXE_pgvitals");
    client_cost(
        "pgvitals, primary only",
        bin,
        &[primary.as_str(), "--interval", "1s"],
        span,
    )
    .await;
    client_cost(
        "pgvitals, primary + standby",
        bin,
        &[primary.as_str(), standby.as_str(), "--interval", "1s"],
        span,
    )
    .await;
    if let Ok(pg_top) = which("pg_top") {
        let port = node.port.to_string();
        let host = node.socket_dir.to_string_lossy().into_owned();
        client_cost(
            "pg_top -s 1 (sessions only)",
            &pg_top.to_string_lossy(),
            &[
                "-s",
                "1",
                "-h",
                &host,
                "-p",
                &port,
                "-U",
                "pgtop_bench",
                "-d",
                "postgres",
            ],
            span,
        )
        .await;
    }
    drop(sessions);
}

/// Run `program args` in a 160x48 pty for `span` (after a 3 s warm-up) and print its CPU,
/// peak RSS and terminal output rate.
async fn client_cost(label: &str, program: &str, args: &[&str], span: Duration) {
    let pty = portable_pty::native_pty_system();
    let pair = pty
        .openpty(portable_pty::PtySize {
            rows: 48,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut cmd = portable_pty::CommandBuilder::new(program);
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(cmd).expect("spawn");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = bytes.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let pid = child.process_id().expect("pid") as i32;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu0 = cpu_seconds(pid).unwrap_or(0.0);
    let bytes0 = bytes.load(std::sync::atomic::Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(span).await;
    let cpu1 = cpu_seconds(pid).unwrap_or(0.0);
    let rss = peak_rss(pid).unwrap_or(0);
    let bytes1 = bytes.load(std::sync::atomic::Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "{label:<32} CPU {:.3} s/min ({:.2} % of a core), peak RSS {:.1} MiB, output {:.1} KiB/s",
        (cpu1 - cpu0) * 60.0 / secs,
        (cpu1 - cpu0) * 100.0 / secs,
        rss as f64 / 1024.0 / 1024.0,
        (bytes1 - bytes0) as f64 / 1024.0 / secs
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

fn specs_conninfo(cluster: &Cluster, primary: bool) -> String {
    let node = if primary {
        &cluster.primary
    } else {
        cluster.standby.as_ref().expect("standby")
    };
    node.conninfo_as(ROLE, "postgres")
}
