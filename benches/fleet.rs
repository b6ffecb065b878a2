//! What watching a fleet costs the client (issue 12, "many servers"): the `pgvitals serve`
//! process (the real binary, release build) watching 1 and then 20 servers, and what one
//! scrape of its `/metrics` costs.
//!
//! The 20 servers are 10 databases on a throwaway primary and the same 10 on its streaming
//! standby (each database is its own monitoring connection and its own set of areas, as 20
//! machines would be; the server side is not what is measured here). Each run: 10 s of
//! warm-up, then `BENCH_SECONDS` (default 60) without scrapes: the process's CPU (utime +
//! stime from /proc) per second and its RSS and peak RSS; then `BENCH_SCRAPES` (default 200)
//! scrapes back to back: wall time per scrape, bytes, and the process's CPU per scrape (its
//! CPU over the scrapes minus the idle rate over the same time).
//!
//! `cargo bench --bench fleet` (about 3 minutes). Prints numbers; asserts nothing.

#[path = "cost/procfs.rs"]
#[allow(dead_code)]
mod procfs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgvitals::cluster::{Cluster, ClusterOptions};
use procfs::{MIB, cpu_seconds, status_bytes};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Serve {
    child: Child,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(conninfos: &[String]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .arg("serve")
        .args(conninfos)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pgvitals serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let port = loop {
        let line = lines.next().expect("serve ended").expect("stderr");
        if let Some(rest) = line.split("on http://127.0.0.1:").nth(1) {
            break rest
                .split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Serve { child, port }
}

fn scrape(port: u16) -> usize {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .expect("request");
    let mut body = Vec::new();
    s.read_to_end(&mut body).expect("response");
    body.len()
}

fn run(what: &str, conninfos: &[String]) {
    let seconds = env_u64("BENCH_SECONDS", 60);
    let scrapes = env_u64("BENCH_SCRAPES", 200);
    let s = serve(conninfos);
    let pid = s.child.id() as i32;
    std::thread::sleep(Duration::from_secs(10));
    let (cpu0, t0) = (cpu_seconds(pid).unwrap_or(0.0), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let idle_cpu = cpu_seconds(pid).unwrap_or(0.0) - cpu0;
    let idle_s = t0.elapsed().as_secs_f64();
    let rss = status_bytes(pid, "VmRSS").unwrap_or(0) as f64 / MIB;
    let (cpu1, t1) = (cpu_seconds(pid).unwrap_or(0.0), Instant::now());
    let mut bytes = 0;
    for _ in 0..scrapes {
        bytes = scrape(s.port);
    }
    let scrape_s = t1.elapsed().as_secs_f64();
    let scrape_cpu = cpu_seconds(pid).unwrap_or(0.0) - cpu1 - idle_cpu / idle_s * scrape_s;
    let hwm = status_bytes(pid, "VmHWM").unwrap_or(0) as f64 / MIB;
    println!(
        "{what:<12} client CPU {:>6.2} % of a core ({:.3} s/min)  RSS {rss:>5.1} MiB (peak {hwm:.1})  \
         scrape {:>6.2} ms wall, {:>6.2} ms CPU, {:>7} bytes",
        idle_cpu / idle_s * 100.0,
        idle_cpu / idle_s * 60.0,
        scrape_s / scrapes as f64 * 1000.0,
        scrape_cpu.max(0.0) / scrapes as f64 * 1000.0,
        bytes
    );
}

fn main() {
    let cluster = Cluster::start(ClusterOptions {
        standby: true,
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"));
    let p = &cluster.primary;
    let s = cluster.standby.as_ref().expect("a standby");
    let dbs: Vec<String> = (1..=10).map(|i| format!("fleet{i}")).collect();
    for db in &dbs {
        p.psql("postgres", &format!("CREATE DATABASE {db}"))
            .expect("database");
        p.psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .expect("extension");
        p.psql(
            db,
            "CREATE TABLE t (id int PRIMARY KEY, v text); \
             INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g",
        )
        .expect("table");
    }
    // the standby has replayed the databases before they are watched there
    std::thread::sleep(Duration::from_secs(3));
    let one = vec![p.conninfo("postgres")];
    let twenty: Vec<String> = dbs
        .iter()
        .map(|db| p.conninfo(db))
        .chain(dbs.iter().map(|db| s.conninfo(db)))
        .collect();
    println!(
        "pgvitals serve, default intervals (2 s; statements 5 s, vacuum 10 s, unused indexes 60 s)"
    );
    run("1 server", &one);
    run("20 servers", &twenty);
}
