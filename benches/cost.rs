//! What watching a busy server costs, pgvitals next to pg_top and pg_activity (issue 14,
//! "hold at scale").
//!
//! A throwaway server gets a workload at one of two scales (`BENCH_SCALE`):
//!
//! * `moderate` (default): 2,000 tables with one index each, ~2,000 distinct
//!   pg_stat_statements entries, 100 idle sessions, pgbench at 200 tps, a lock chain;
//! * `large`: 10,000 tables x 5 never-scanned indexes (50,000), ~10,000 entries, 2,001
//!   sessions (1,950 idle), pgbench at 200 tps, the lock chain.
//!
//! The lock chain (one session holding a table lock in an open transaction, two waiting
//! behind it) and the few `pg_sleep` sessions live in database `bench_locks`: their
//! snapshots would otherwise hold back the xmin horizon of pgbench's tables, and the
//! server's cost would grow from window to window (see `workload::LOCK_DB`).
//!
//! Then, one after another on the same warm server, each over the same window
//! (`BENCH_SECONDS`, default 120): nothing watching (the baseline), the real pgvitals
//! dashboard in a pseudo terminal (every area, `--interval 1s`), `pgvitals snapshot`, `pg_top
//! -W` and `pg_activity`, each as its own role. Per tool it prints its queries (calls, mean,
//! max and total ms, from pg_stat_statements of its role), the CPU of its backends
//! (`/proc/PID/schedstat`, to the ns), the whole cluster's CPU over the baseline (catches
//! backends that come and go), its
//! server time, its client CPU and peak RSS, the connections it held and the anonymous
//! memory of its backends; then a summary with the issue's targets.
//!
//! `cargo bench --bench cost`: moderate, about 9 minutes (the workload builds in 3 s, then
//! four 120 s windows and a snapshot); `BENCH_SCALE=large`: about 10 minutes (built in about
//! 30 s on 2 cores). The max ms of a query is the window's (the role's entries are reset at
//! its start); statements cancelled by statement_timeout are not in pg_stat_statements: they
//! are counted from the server log (`server-side errors`). `BENCH_TOOLS=pgvitals,snapshot` measures only those (of idle,
//! pgvitals, snapshot, pg_top, pg_activity). Prints numbers; asserts nothing. A tool that is
//! not installed is left out with a line saying so; `scripts/bench-cost.sh` installs pg_top
//! and pg_activity through apt first and runs both scales.

mod cost {
    pub mod procfs;
    pub mod pty;
    pub mod stats;
    pub mod workload;
}

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cost::procfs::{
    MIB, backend_cpu_seconds, cluster_cpu_by_kind, cpu_diff, cpu_seconds, status_bytes,
};
use cost::pty::Pty;
use cost::stats;
use cost::workload::{self, Scale, connect};
use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::sample::Area;
use tokio_postgres::Client;

/// Time a tool gets to connect and draw before its window starts.
const WARMUP: Duration = Duration::from_secs(5);

/// Width of the query text in the per-query tables.
const QUERY_WIDTH: usize = 60;

const PGVITALS_ROLE: &str = "pgvitals_bench";
const PGTOP_ROLE: &str = "pgtop_bench";
const PGACTIVITY_ROLE: &str = "pgactivity_bench";
/// A role nobody logs in as: the baseline window watches it.
const IDLE_ROLE: &str = "idle_bench";

/// The issue's targets for pgvitals at one scale.
struct Targets {
    server_cpu_s_min: f64,
    client_cpu_s_min: Option<f64>,
    rss_mib: f64,
    no_area_error: bool,
}

impl Targets {
    fn of(scale: &Scale) -> Targets {
        if scale.name == "large" {
            Targets {
                server_cpu_s_min: 1.5,
                client_cpu_s_min: None,
                rss_mib: 20.0,
                no_area_error: true,
            }
        } else {
            Targets {
                server_cpu_s_min: 0.15,
                client_cpu_s_min: Some(0.25),
                rss_mib: 10.0,
                no_area_error: false,
            }
        }
    }
}

/// A program measured in a pseudo terminal.
struct Tool {
    label: &'static str,
    role: &'static str,
    program: String,
    args: Vec<String>,
    /// A prompt to answer (text, reply).
    prompt: Option<(&'static str, &'static str)>,
    /// Scrape pgvitals' tab bar for areas marked with `!` (a failed area).
    scrape_tabs: bool,
}

/// The client side of a window.
struct ClientCost {
    cpu_s: f64,
    hwm: u64,
    /// RSS at the end of the window: anonymous (the tool's own data) and file-backed (the
    /// pages of its binary and libraries, shared with the page cache).
    rss_anon: u64,
    rss_file: u64,
    out_bytes: u64,
    ended: String,
}

/// One window's numbers.
struct Measured {
    label: String,
    role: String,
    secs: f64,
    rows: Vec<stats::Row>,
    /// CPU of the role's backends seen during the window (first sight to last sight).
    backend_cpu_s: f64,
    backends_seen: usize,
    max_conns: usize,
    cluster_cpu_s: f64,
    /// The cluster's CPU in the window by process kind (`backend <user>`, `checkpointer`,
    /// `exited`, ...).
    cluster_by_kind: BTreeMap<String, f64>,
    client: Option<ClientCost>,
    rss_start: Vec<(i32, u64)>,
    rss_end: Vec<(i32, u64)>,
    server_errors: Vec<String>,
    screen_errors: BTreeSet<&'static str>,
    died: Option<String>,
}

impl Measured {
    fn per_min(&self, v: f64) -> f64 {
        v * 60.0 / self.secs.max(1e-9)
    }
    fn calls(&self) -> i64 {
        self.rows.iter().map(|r| r.calls).sum()
    }
    fn server_ms(&self) -> f64 {
        self.rows.iter().map(|r| r.exec_ms + r.plan_ms).sum()
    }
}

/// `pgvitals snapshot`'s numbers.
struct Snapshot {
    exit: i32,
    wall_s: f64,
    bytes: usize,
    client_cpu_s: f64,
    maxrss: u64,
    rows: Vec<stats::Row>,
    cluster_cpu_s: f64,
    area_errors: Vec<String>,
    area_bytes: Vec<(&'static str, usize)>,
    stderr: String,
}

struct Ctx<'a> {
    node: &'a Node,
    admin: Client,
    watcher: Client,
    postmaster: i32,
    span: Duration,
    scratch: PathBuf,
}

fn main() {
    let scale = Scale::from_env().unwrap_or_else(|e| panic!("{e}"));
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let tools: BTreeSet<String> = std::env::var("BENCH_TOOLS")
        .unwrap_or_else(|_| "idle,pgvitals,snapshot,pg_top,pg_activity".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    let cluster = Cluster::start(ClusterOptions {
        standby: false,
        shared_buffers: scale.shared_buffers.into(),
        extra_conf: scale.conf(),
        ..ClusterOptions::default()
    })
    .expect("start a cluster");
    println!(
        "cluster: PostgreSQL {} at {} port {} (started in {:.1} s)",
        cluster.primary.major(),
        cluster.primary.socket_dir.display(),
        cluster.primary.port,
        t0.elapsed().as_secs_f64()
    );
    rt.block_on(run(&cluster, scale, Duration::from_secs(seconds), &tools));
    println!("total run time: {:.0} s", t0.elapsed().as_secs_f64());
}

async fn run(cluster: &Cluster, scale: Scale, span: Duration, tools: &BTreeSet<String>) {
    let node = &cluster.primary;
    let scratch = tempfile::Builder::new()
        .prefix("pgvitals-bench-")
        .tempdir()
        .expect("scratch dir");
    let admin = connect(node, "postgres", "bench-admin").await;
    let mut roles = String::new();
    for role in [PGVITALS_ROLE, PGTOP_ROLE, PGACTIVITY_ROLE, IDLE_ROLE] {
        roles.push_str(&format!(
            "CREATE ROLE {role} LOGIN; GRANT pg_monitor TO {role};"
        ));
    }
    admin.batch_execute(&roles).await.expect("roles");

    let t_build = Instant::now();
    let mut load = workload::start(node, &admin, &scale, scratch.path()).await;
    let build_s = t_build.elapsed().as_secs_f64();
    println!("workload built in {build_s:.0} s; settling 10 s");
    tokio::time::sleep(Duration::from_secs(10)).await;

    let ctx = Ctx {
        node,
        watcher: connect(node, "postgres", "bench-watch").await,
        admin,
        postmaster: node.postmaster_pid().expect("postmaster pid"),
        span,
        scratch: scratch.path().to_path_buf(),
    };
    let t_measure = Instant::now();
    let mut results: Vec<Measured> = Vec::new();
    let mut idle: Option<Measured> = None;
    let mut snapshot: Option<Snapshot> = None;
    if tools.contains("idle") {
        let m = measure(&ctx, None, IDLE_ROLE, "nothing watching").await;
        print_measured(&m, None);
        idle = Some(m);
    }
    let idle_rate = idle.as_ref().map(|m| m.cluster_cpu_s / m.secs);
    if tools.contains("pgvitals") {
        let log = ctx.scratch.join("pgvitals.log");
        let tool = Tool {
            label: "pgvitals",
            role: PGVITALS_ROLE,
            program: env!("CARGO_BIN_EXE_pgvitals").into(),
            args: vec![
                node.conninfo_as(PGVITALS_ROLE, "postgres"),
                "--interval".into(),
                "1s".into(),
                "--log".into(),
                log.to_string_lossy().into_owned(),
            ],
            prompt: None,
            scrape_tabs: true,
        };
        let m = measure(&ctx, Some(&tool), tool.role, tool.label).await;
        print_measured(&m, idle_rate);
        print_log(&log);
        results.push(m);
    }
    if tools.contains("snapshot") {
        let s = run_snapshot(&ctx, idle_rate).await;
        print_snapshot(&s);
        snapshot = Some(s);
    }
    let host = node.socket_dir.to_string_lossy().into_owned();
    let port = node.port.to_string();
    let conn_args = |flags: &[&str], role: &str| -> Vec<String> {
        let mut v: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        v.extend(
            ["-h", &host, "-p", &port, "-U", role, "-d", "postgres"]
                .iter()
                .map(|s| s.to_string()),
        );
        v
    };
    if tools.contains("pg_top") {
        match which("pg_top") {
            Some(program) => {
                let tool = Tool {
                    label: "pg_top -W",
                    role: PGTOP_ROLE,
                    program,
                    args: conn_args(&["-W", "-s", "1"], PGTOP_ROLE),
                    // -W asks for a password (trust on the socket: any will do)
                    prompt: Some(("assword", "x\r")),
                    scrape_tabs: false,
                };
                let m = measure(&ctx, Some(&tool), tool.role, tool.label).await;
                print_measured(&m, idle_rate);
                results.push(m);
            }
            None => println!("\npg_top: not installed (apt-get install pgtop)"),
        }
    }
    if tools.contains("pg_activity") {
        match which("pg_activity") {
            Some(program) => {
                let tool = Tool {
                    label: "pg_activity",
                    role: PGACTIVITY_ROLE,
                    program,
                    args: conn_args(&["--refresh", "1"], PGACTIVITY_ROLE),
                    prompt: None,
                    scrape_tabs: false,
                };
                let m = measure(&ctx, Some(&tool), tool.role, tool.label).await;
                print_measured(&m, idle_rate);
                results.push(m);
            }
            None => println!("\npg_activity: not installed (apt-get install pg-activity)"),
        }
    }
    let measure_s = t_measure.elapsed().as_secs_f64();
    print_summary(
        &scale,
        span,
        &results,
        idle.as_ref(),
        snapshot.as_ref(),
        (build_s, measure_s),
        &load.timings,
    );
    load.stop(&ctx.admin).await;
}

/// Pids of `role`'s backends.
async fn role_pids(watcher: &Client, role: &str) -> Vec<i32> {
    watcher
        .query(
            "SELECT pid FROM pg_stat_activity WHERE usename = $1",
            &[&role],
        )
        .await
        .expect("the role's backends")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn rss_anon(pids: &[i32]) -> Vec<(i32, u64)> {
    pids.iter()
        .filter_map(|&p| status_bytes(p, "RssAnon").map(|b| (p, b)))
        .collect()
}

fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// ERROR / FATAL lines of `role` in the server log after byte `from`, each with the first
/// line of the statement that failed.
fn server_errors(path: &Path, from: u64, role: &str) -> Vec<String> {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        if f.seek(SeekFrom::Start(from)).is_ok() {
            let _ = f.read_to_string(&mut text);
        }
    }
    let who = format!(" {role}@");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains(&who) || !(line.contains("ERROR:") || line.contains("FATAL:")) {
            continue;
        }
        let msg = line
            .split_once(&who)
            .map(|(_, r)| r)
            .unwrap_or(line)
            .split_once(' ')
            .map(|(_, r)| r.trim())
            .unwrap_or("");
        // the STATEMENT line follows; its continuation lines carry the query's first words
        let statement = lines[i + 1..]
            .iter()
            .take(3)
            .find_map(|l| l.split_once("STATEMENT:").map(|(_, r)| r.trim()))
            .map(|s| s.chars().take(50).collect::<String>())
            .unwrap_or_default();
        out.push(format!("{msg} [{statement}]"));
    }
    out
}

/// One window: start the tool (when given) in a pty, let it warm up, reset its role's
/// statements, then for `ctx.span` follow its backends once a second.
async fn measure(ctx: &Ctx<'_>, tool: Option<&Tool>, role: &str, label: &str) -> Measured {
    println!(
        "\n-- measuring {label} ({} s window) ...",
        ctx.span.as_secs()
    );
    let mut pty = tool.map(|t| Pty::spawn(&t.program, &t.args, t.prompt));
    if pty.is_some() {
        tokio::time::sleep(WARMUP).await;
    }
    let mut died = pty.as_mut().and_then(|p| {
        p.exited()
            .map(|s| format!("{s} before the window; screen:\n{}", p.contents()))
    });
    stats::reset(&ctx.admin, role).await;
    let before = stats::read(&ctx.admin, role).await;
    let log = ctx.node.log_file().to_path_buf();
    let log_from = log_len(&log);
    let rss_start = rss_anon(&role_pids(&ctx.watcher, role).await);
    let client0 = pty.as_ref().and_then(|p| cpu_seconds(p.pid));
    let bytes0 = pty.as_ref().map_or(0, |p| p.bytes());
    let c0 = cluster_cpu_by_kind(ctx.postmaster);
    let t0 = Instant::now();

    let mut first: HashMap<i32, f64> = HashMap::new();
    let mut last: HashMap<i32, f64> = HashMap::new();
    let mut max_conns = 0;
    let mut screen_errors = BTreeSet::new();
    let mut last_pids = Vec::new();
    while t0.elapsed() < ctx.span {
        let pids = role_pids(&ctx.watcher, role).await;
        max_conns = max_conns.max(pids.len());
        for &pid in &pids {
            if let Some(cpu) = backend_cpu_seconds(pid) {
                first.entry(pid).or_insert(cpu);
                last.insert(pid, cpu);
            }
        }
        last_pids = pids;
        if let (Some(p), Some(t)) = (pty.as_ref(), tool) {
            if t.scrape_tabs {
                let screen = p.contents();
                let tab_bar = screen.lines().find(|l| l.contains(" 1 Activity"));
                for area in Area::tabs() {
                    let marked = format!("{}!", area.title(false));
                    if tab_bar.is_some_and(|l| l.contains(&marked)) {
                        screen_errors.insert(area.key());
                    }
                }
            }
        }
        let next = t0.elapsed().as_secs_f64().floor() + 1.0;
        tokio::time::sleep(Duration::from_secs_f64(
            (next - t0.elapsed().as_secs_f64()).max(0.05),
        ))
        .await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cluster_by_kind = cpu_diff(&c0, &cluster_cpu_by_kind(ctx.postmaster));
    let rss_end = rss_anon(&last_pids);
    let after = stats::read(&ctx.admin, role).await;
    let client = pty.map(|mut p| {
        let cpu1 = cpu_seconds(p.pid);
        let hwm = status_bytes(p.pid, "VmHWM").unwrap_or(0);
        let rss_anon = status_bytes(p.pid, "RssAnon").unwrap_or(0);
        let rss_file = status_bytes(p.pid, "RssFile").unwrap_or(0);
        let out_bytes = p.bytes() - bytes0;
        if died.is_none() {
            died = p
                .exited()
                .map(|s| format!("{s} during the window; screen:\n{}", p.contents()));
        }
        let ended = p.quit("q", Duration::from_secs(5));
        ClientCost {
            cpu_s: match (client0, cpu1) {
                (Some(a), Some(b)) => b - a,
                _ => f64::NAN,
            },
            hwm,
            rss_anon,
            rss_file,
            out_bytes,
            ended,
        }
    });
    if tool.is_some() {
        // let its backends go before the next window
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    Measured {
        label: label.to_string(),
        role: role.to_string(),
        secs,
        rows: stats::diff(&before, &after),
        backend_cpu_s: last
            .iter()
            .map(|(pid, l)| l - first.get(pid).copied().unwrap_or(*l))
            .sum(),
        backends_seen: last.len(),
        max_conns,
        cluster_cpu_s: cluster_by_kind.values().sum(),
        cluster_by_kind,
        client,
        rss_start,
        rss_end,
        server_errors: server_errors(&log, log_from, role),
        screen_errors,
        died,
    }
}

fn print_rows(rows: &[stats::Row], secs: f64) {
    println!(
        "  {:>6} {:>9} {:>9} {:>10} {:>9}  query",
        "calls", "mean ms", "max ms", "total ms", "ms/min"
    );
    for r in rows.iter().take(40) {
        println!(
            "  {:>6} {:>9.3} {:>9.3} {:>10.1} {:>9.1}  {}",
            r.calls,
            r.mean_ms(),
            r.max_ms,
            r.exec_ms,
            r.exec_ms * 60.0 / secs,
            stats::label(&r.query, QUERY_WIDTH)
        );
    }
    if rows.len() > 40 {
        println!("  ... and {} more", rows.len() - 40);
    }
}

fn mib_list(v: &[(i32, u64)]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter()
        .map(|(pid, b)| format!("{pid}: {:.1}", *b as f64 / MIB))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_measured(m: &Measured, idle_rate: Option<f64>) {
    println!("== {} (role {}), {:.0} s ==", m.label, m.role, m.secs);
    if let Some(d) = &m.died {
        println!("  !! the program exited {d}");
    }
    if m.role != IDLE_ROLE {
        println!(
            "queries: {} calls, {} distinct; server time (exec + plan) {:.1} ms = {:.3} s/min",
            m.calls(),
            m.rows.len(),
            m.server_ms(),
            m.per_min(m.server_ms()) / 1000.0
        );
        print_rows(&m.rows, m.secs);
        println!(
            "server CPU of its backends:  {:.3} s/min ({} backends seen, at most {} at once)",
            m.per_min(m.backend_cpu_s),
            m.backends_seen,
            m.max_conns
        );
    }
    match idle_rate {
        Some(rate) => println!(
            "whole-cluster CPU:           {:.3} s/min ({:+.3} s/min over nothing watching)",
            m.per_min(m.cluster_cpu_s),
            m.per_min(m.cluster_cpu_s) - rate * 60.0
        ),
        None => println!(
            "whole-cluster CPU:           {:.3} s/min",
            m.per_min(m.cluster_cpu_s)
        ),
    }
    let mut kinds: Vec<(&String, &f64)> = m
        .cluster_by_kind
        .iter()
        .filter(|(_, v)| m.per_min(**v).abs() >= 0.01)
        .collect();
    kinds.sort_by(|a, b| b.1.total_cmp(a.1));
    println!(
        "  by process, s/min: {}",
        kinds
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", m.per_min(**v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(c) = &m.client {
        println!(
            "client: CPU {:.3} s/min, peak RSS (VmHWM) {:.1} MiB (at the end: anonymous {:.1}, \
             file-backed {:.1}), terminal output {:.1} KiB/s; {}",
            m.per_min(c.cpu_s),
            c.hwm as f64 / MIB,
            c.rss_anon as f64 / MIB,
            c.rss_file as f64 / MIB,
            c.out_bytes as f64 / 1024.0 / m.secs,
            c.ended
        );
    }
    if m.role != IDLE_ROLE {
        println!("backend RssAnon, MiB, start: {}", mib_list(&m.rss_start));
        println!("backend RssAnon, MiB, end:   {}", mib_list(&m.rss_end));
        println!("server-side errors of the role: {}", m.server_errors.len());
        let mut seen = BTreeMap::new();
        for e in &m.server_errors {
            *seen.entry(e.as_str()).or_insert(0) += 1;
        }
        for (e, n) in seen.iter().take(5) {
            println!("  {n} x {e}");
        }
        if m.label == "pgvitals" {
            println!(
                "areas marked failed (!) on the tab bar: {}",
                if m.screen_errors.is_empty() {
                    "none".to_string()
                } else {
                    m.screen_errors
                        .iter()
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
    }
}

fn print_log(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let notable: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    println!(
        "pgvitals --log: {} lines, {} WARN/ERROR",
        text.lines().count(),
        notable.len()
    );
    for l in notable.iter().take(5) {
        println!("  {}", l.chars().take(160).collect::<String>());
    }
}

/// Runs `cmd` to its end, returning stdout, stderr, exit code (negative: signal), wall time,
/// CPU seconds and peak RSS (from wait4's rusage).
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, for its rusage"
)]
fn run_measured(cmd: &mut Command) -> (Vec<u8>, String, i32, f64, f64, u64) {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut ru: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(r, pid, "wait4");
    let exit = if nix::libc::WIFEXITED(status) {
        nix::libc::WEXITSTATUS(status)
    } else {
        -nix::libc::WTERMSIG(status)
    };
    let tv = |t: nix::libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    (stdout, stderr, exit, wall, cpu, ru.ru_maxrss as u64 * 1024)
}

async fn run_snapshot(ctx: &Ctx<'_>, idle_rate: Option<f64>) -> Snapshot {
    println!("\n-- pgvitals snapshot --interval 1s ...");
    let role = PGVITALS_ROLE;
    stats::reset(&ctx.admin, role).await;
    let before = stats::read(&ctx.admin, role).await;
    let c0 = cluster_cpu(ctx.postmaster);
    let conninfo = ctx.node.conninfo_as(role, "postgres");
    let (out, stderr, exit, wall, cpu, maxrss) = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgvitals"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        cmd.args(["snapshot", &conninfo, "--interval", "1s"]);
        run_measured(&mut cmd)
    })
    .await
    .expect("snapshot task");
    let c1 = cluster_cpu(ctx.postmaster);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = stats::read(&ctx.admin, role).await;
    let mut area_errors = Vec::new();
    let mut area_bytes = Vec::new();
    match serde_json::from_slice::<serde_json::Value>(&out) {
        Ok(doc) => {
            for area in Area::ALL {
                let v = &doc[area.key()];
                area_bytes.push((area.key(), serde_json::to_string(v).map_or(0, |s| s.len())));
                if let Some(e) = v.get("error") {
                    let kind = e["kind"].as_str().unwrap_or("?");
                    if kind != "needs_newer_server" {
                        area_errors.push(format!(
                            "{}: {kind}: {}",
                            area.key(),
                            e["message"].as_str().unwrap_or("")
                        ));
                    }
                }
            }
        }
        Err(e) => area_errors.push(format!("the output is not JSON: {e}")),
    }
    Snapshot {
        exit,
        wall_s: wall,
        bytes: out.len(),
        client_cpu_s: cpu,
        maxrss,
        rows: stats::diff(&before, &after),
        cluster_cpu_s: (c1 - c0) - idle_rate.unwrap_or(0.0) * wall,
        area_errors,
        area_bytes,
        stderr,
    }
}

fn print_snapshot(s: &Snapshot) {
    println!("== pgvitals snapshot (role {PGVITALS_ROLE}) ==");
    println!(
        "exit {}, {:.2} s wall, JSON {} bytes; client CPU {:.3} s, peak RSS {:.1} MiB",
        s.exit,
        s.wall_s,
        s.bytes,
        s.client_cpu_s,
        s.maxrss as f64 / MIB
    );
    println!(
        "JSON bytes per area: {}",
        s.area_bytes
            .iter()
            .map(|(k, b)| format!("{k} {b}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let calls: i64 = s.rows.iter().map(|r| r.calls).sum();
    let ms: f64 = s.rows.iter().map(|r| r.exec_ms + r.plan_ms).sum();
    println!(
        "server: {calls} queries, {ms:.1} ms (exec + plan); whole-cluster CPU over nothing watching {:.3} s",
        s.cluster_cpu_s
    );
    print_rows(&s.rows, 60.0);
    println!(
        "area errors: {}",
        if s.area_errors.is_empty() {
            "none".into()
        } else {
            s.area_errors.join("; ")
        }
    );
    for line in s.stderr.lines().take(5) {
        println!("  stderr: {line}");
    }
}

fn print_summary(
    scale: &Scale,
    span: Duration,
    results: &[Measured],
    idle: Option<&Measured>,
    snapshot: Option<&Snapshot>,
    (build_s, measure_s): (f64, f64),
    timings: &[(&'static str, Duration)],
) {
    let t = Targets::of(scale);
    let idle_rate = idle.map(|m| m.cluster_cpu_s / m.secs);
    println!();
    println!(
        "== summary: {} scale ({} tables, {} indexes, {} sessions), {} s windows ==",
        scale.name,
        scale.tables,
        scale.indexes(),
        scale.sessions(),
        span.as_secs()
    );
    println!(
        "build {:.0} s ({}); measurements {:.0} s",
        build_s,
        timings
            .iter()
            .map(|(w, d)| format!("{w} {:.0} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        measure_s
    );
    let mut header = format!("{:<34} {:>8}", "", "target");
    for m in results {
        header.push_str(&format!(" {:>14}", m.label));
    }
    println!("{header}");
    let row = |name: &str, target: String, cells: Vec<String>| {
        let mut line = format!("{name:<34} {target:>8}");
        for c in cells {
            line.push_str(&format!(" {c:>14}"));
        }
        println!("{line}");
    };
    let verdict = |v: f64, limit: Option<f64>, pgvitals: bool| match limit {
        Some(l) if pgvitals && v.is_finite() => {
            format!("{v:.3} {}", if v <= l { "ok" } else { "OVER" })
        }
        _ => format!("{v:.3}"),
    };
    let is_pgv = |m: &Measured| m.label == "pgvitals";
    row(
        "server CPU, backends, s/min",
        format!("<= {}", t.server_cpu_s_min),
        results
            .iter()
            .map(|m| {
                verdict(
                    m.per_min(m.backend_cpu_s),
                    Some(t.server_cpu_s_min),
                    is_pgv(m),
                )
            })
            .collect(),
    );
    row(
        "server CPU, cluster over idle",
        String::new(),
        results
            .iter()
            .map(|m| match idle_rate {
                Some(r) => format!("{:.3}", m.per_min(m.cluster_cpu_s) - r * 60.0),
                None => "-".into(),
            })
            .collect(),
    );
    row(
        "server exec + plan time, s/min",
        String::new(),
        results
            .iter()
            .map(|m| format!("{:.3}", m.per_min(m.server_ms()) / 1000.0))
            .collect(),
    );
    row(
        "queries per minute",
        String::new(),
        results
            .iter()
            .map(|m| format!("{:.0}", m.per_min(m.calls() as f64)))
            .collect(),
    );
    row(
        "slowest query in the window, ms",
        String::new(),
        results
            .iter()
            .map(|m| format!("{:.1}", m.rows.iter().map(|r| r.max_ms).fold(0.0, f64::max)))
            .collect(),
    );
    row(
        "client CPU, s/min",
        t.client_cpu_s_min
            .map_or(String::new(), |v| format!("<= {v}")),
        results
            .iter()
            .map(|m| {
                let v = m.client.as_ref().map_or(f64::NAN, |c| m.per_min(c.cpu_s));
                verdict(v, t.client_cpu_s_min, is_pgv(m))
            })
            .collect(),
    );
    row(
        "client peak RSS, MiB",
        format!("<= {}", t.rss_mib),
        results
            .iter()
            .map(|m| {
                let v = m.client.as_ref().map_or(f64::NAN, |c| c.hwm as f64 / MIB);
                match is_pgv(m) {
                    true => format!("{v:.1} {}", if v <= t.rss_mib { "ok" } else { "OVER" }),
                    false => format!("{v:.1}"),
                }
            })
            .collect(),
    );
    row(
        "connections (most at once / seen)",
        String::new(),
        results
            .iter()
            .map(|m| format!("{} / {}", m.max_conns, m.backends_seen))
            .collect(),
    );
    row(
        "backend RssAnon at end, MiB (max)",
        String::new(),
        results
            .iter()
            .map(|m| {
                let v = m.rss_end.iter().map(|(_, b)| *b).max().unwrap_or(0);
                format!("{:.1}", v as f64 / MIB)
            })
            .collect(),
    );
    row(
        "server-side errors in the window",
        String::new(),
        results
            .iter()
            .map(|m| m.server_errors.len().to_string())
            .collect(),
    );
    let mut area_errors: BTreeSet<String> = BTreeSet::new();
    for m in results.iter().filter(|m| is_pgv(m)) {
        area_errors.extend(m.screen_errors.iter().map(|a| format!("{a} (screen)")));
        if !m.server_errors.is_empty() {
            area_errors.insert(format!("{} server errors", m.server_errors.len()));
        }
    }
    if let Some(s) = snapshot {
        area_errors.extend(
            s.area_errors
                .iter()
                .map(|e| format!("snapshot {}", e.split(':').next().unwrap_or(e.as_str()))),
        );
        println!(
            "pgvitals snapshot: exit {}, {:.2} s, {} bytes of JSON, client {:.3} s CPU / {:.1} MiB, server {:.1} ms",
            s.exit,
            s.wall_s,
            s.bytes,
            s.client_cpu_s,
            s.maxrss as f64 / MIB,
            s.rows.iter().map(|r| r.exec_ms + r.plan_ms).sum::<f64>()
        );
    }
    println!(
        "pgvitals area errors{}: {}",
        if t.no_area_error {
            " (target: none)"
        } else {
            ""
        },
        if area_errors.is_empty() {
            "none".to_string()
        } else {
            area_errors.into_iter().collect::<Vec<_>>().join(", ")
        }
    );
    if let Some(m) = idle {
        println!(
            "nothing watching: whole cluster {:.3} s CPU/min (workload and background)",
            m.per_min(m.cluster_cpu_s)
        );
    }
}

/// CPU seconds of the whole cluster so far.
fn cluster_cpu(postmaster: i32) -> f64 {
    cluster_cpu_by_kind(postmaster).values().sum()
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    })
}
