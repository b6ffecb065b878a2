//! What a recording costs (issue 10, "flight recorder"): bytes per server-hour and per
//! server-day, and the recorder's CPU next to the rest of the client, on the demo's primary
//! and standby with the demo workload, at the default intervals (2 s, statements every 5 s,
//! vacuum 10 s, unused indexes 60 s).
//!
//! Two windows of `BENCH_SECONDS` (default 120) each, one after the other on the same demo:
//! the demo workload alone (about 30 pg_stat_statements entries), then with 2,000 more
//! distinct statements created first (and a tenth of them called again every few seconds).
//! In each, the workers feed a store exactly as the dashboard does (no terminal: the screen
//! would only add to the client side), and every update also goes through
//! `Recorder::record` on the same thread; the CPU time spent inside the recorder is timed
//! with the thread's CPU clock and compared with the process's CPU time outside it.
//!
//! `cargo bench --bench record` (about 5 minutes; `BENCH_WINDOWS=demo` for the first window
//! only; `BENCH_KEEP=PREFIX` keeps each window's file as `PREFIX.<growth>`). Prints numbers;
//! asserts nothing. The per-day figure is the file's growth after
//! the first third of a window (the texts, first key blocks and first page of every table
//! are paid once): use windows of several minutes, the file grows by 16 KiB pages.

use std::time::{Duration, Instant, SystemTime};

use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::record::{Recorder, Retention};

/// CPU seconds of `clock` (this thread's or the process's).
fn cpu(clock: nix::libc::clockid_t) -> f64 {
    let mut ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { nix::libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn thread_cpu() -> f64 {
    cpu(nix::libc::CLOCK_THREAD_CPUTIME_ID)
}

fn process_cpu() -> f64 {
    cpu(nix::libc::CLOCK_PROCESS_CPUTIME_ID)
}

struct Window {
    seconds: f64,
    bytes: u64,
    /// The file's growth after the warm-up (its first third: texts, first key blocks,
    /// pages of every table), bytes per second, and key blocks written meanwhile.
    growth_per_s: f64,
    keys_after_warm_up: u64,
    frames: u64,
    key_frames: u64,
    raw_bytes: u64,
    recorder_cpu: f64,
    other_cpu: f64,
    /// (table or index, bytes) from SQLite's dbstat, largest first.
    tables: Vec<(String, u64)>,
    /// (area, samples, stored bytes, line bytes) of the blocks table.
    areas: Vec<(String, u64, u64, u64)>,
}

/// (table or index, bytes) and (area, samples, stored bytes, line bytes).
type Breakdown = (Vec<(String, u64)>, Vec<(String, u64, u64, u64)>);

/// Where the file's bytes are: per table and index (dbstat), and per area of the blocks.
fn breakdown(path: &std::path::Path) -> Breakdown {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the recording");
    let tables = conn
        .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .and_then(|mut q| {
            q.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_default();
    let areas = conn
        .prepare(
            "SELECT area, sum(samples), sum(length(body)), sum(raw_len) FROM blocks
              GROUP BY area ORDER BY 3 DESC",
        )
        .and_then(|mut q| {
            q.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .expect("frames per area");
    (tables, areas)
}

async fn window(
    specs: &[ConnSpec],
    config: &Config,
    path: &std::path::Path,
    seconds: u64,
) -> Window {
    let _ = std::fs::remove_file(path);
    let mut recorder = Recorder::create(
        path,
        &specs.iter().map(ConnSpec::label).collect::<Vec<_>>(),
        config,
        Retention::default(),
    )
    .expect("create the recording");
    let mut running = pgvitals::app::start_workers(specs, config).expect("workers");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu0 = process_cpu();
    let mut in_recorder = 0.0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let started = Instant::now();
    let warm_up = Duration::from_secs(seconds / 3);
    let mut warm: Option<(Instant, u64, u64)> = None;
    while Instant::now() < deadline {
        if warm.is_none() && started.elapsed() >= warm_up {
            recorder.flush().expect("flush");
            warm = Some((
                Instant::now(),
                recorder.used_bytes().expect("size"),
                recorder.stats.key_frames,
            ));
        }
        tokio::select! {
            update = running.updates.recv() => {
                let Some(update) = update else { break };
                running.store.apply(update.clone(), SystemTime::now());
                let t = thread_cpu();
                recorder.record(update).expect("record");
                in_recorder += thread_cpu() - t;
            }
            _ = tick.tick() => {
                let t = thread_cpu();
                recorder.tick(SystemTime::now()).expect("tick");
                in_recorder += thread_cpu() - t;
            }
        }
    }
    let t = thread_cpu();
    recorder.flush().expect("flush");
    in_recorder += thread_cpu() - t;
    let total = process_cpu() - cpu0;
    let bytes = recorder.used_bytes().expect("size");
    let stats = recorder.stats.clone();
    let (warm_at, warm_bytes, warm_keys) = warm.expect("a warm-up mark");
    let growth_per_s = bytes.saturating_sub(warm_bytes) as f64 / warm_at.elapsed().as_secs_f64();
    drop(recorder);
    if let Ok(keep) = std::env::var("BENCH_KEEP") {
        let _ = std::fs::copy(path, format!("{keep}.{}", growth_per_s.round()));
    }
    let (tables, areas) = breakdown(path);
    Window {
        growth_per_s,
        keys_after_warm_up: stats.key_frames - warm_keys,
        tables,
        areas,
        seconds: seconds as f64,
        bytes,
        frames: stats.frames,
        key_frames: stats.key_frames,
        raw_bytes: stats.raw_bytes,
        recorder_cpu: in_recorder,
        other_cpu: total - in_recorder,
    }
}

fn print(name: &str, servers: usize, w: &Window) {
    let per_server_hour = w.bytes as f64 / servers as f64 / w.seconds * 3600.0;
    println!("{name}:");
    println!(
        "  file {:.1} KB over {:.0} s for {servers} servers: {:.2} MB per server-hour, {:.1} MB per server-day",
        w.bytes as f64 / 1e3,
        w.seconds,
        per_server_hour / 1e6,
        per_server_hour * 24.0 / 1e6
    );
    let steady = w.growth_per_s / servers as f64 * 3600.0;
    println!(
        "  after the warm-up the file grows {:.2} MB per server-hour, {:.1} MB per server-day ({} key blocks meanwhile)",
        steady / 1e6,
        steady * 24.0 / 1e6,
        w.keys_after_warm_up
    );
    println!(
        "  {} samples in {} groups of blocks, {:.1} MB of frame JSON before compression",
        w.frames,
        w.key_frames,
        w.raw_bytes as f64 / 1e6
    );
    println!(
        "  client CPU: recorder {:.3} s/min, the rest {:.3} s/min: recording adds {:.1} %",
        w.recorder_cpu / w.seconds * 60.0,
        w.other_cpu / w.seconds * 60.0,
        100.0 * w.recorder_cpu / w.other_cpu.max(1e-9)
    );
    let hour = |b: u64| b as f64 / servers as f64 / w.seconds * 3600.0 / 1e6;
    println!("  by table and index (MB per server-hour):");
    for (name, bytes) in &w.tables {
        println!("    {name:<28} {:>7.3}", hour(*bytes));
    }
    println!("  blocks by area (samples, MB per server-hour stored, of JSON):");
    for (area, n, stored, raw) in &w.areas {
        println!(
            "    {area:<16} {n:>6} {:>7.3} {:>8.2}  ({:.0} B a sample)",
            hour(*stored),
            hour(*raw),
            *stored as f64 / (*n).max(1) as f64
        );
    }
}

/// Statement `i` of 2,000 with its own queryid: pg_stat_statements ignores aliases and
/// constants, so the shape differs instead (1..40 output columns × an IN list of 1..50 items).
fn distinct(i: usize) -> String {
    let columns = (0..=i % 40).map(|_| "1").collect::<Vec<_>>().join(", ");
    let list = (0..=i / 40)
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT {columns} FROM pg_class WHERE relpages IN ({list}) LIMIT 1")
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let demo = pgvitals::demo::Demo::start(Duration::from_secs(seconds * 3 + 120), false)
            .await
            .expect("start the demo");
        let specs: Vec<ConnSpec> = demo
            .conninfos()
            .iter()
            .map(|c| ConnSpec::parse(c).expect("conninfo"))
            .collect();
        let config = Config::default();
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bench.db");
        // let the workload reach its steady state (its first statements, the standby)
        tokio::time::sleep(Duration::from_secs(10)).await;
        let demo_only = window(&specs, &config, &path, seconds).await;
        print("demo workload", specs.len(), &demo_only);
        if std::env::var("BENCH_WINDOWS").is_ok_and(|w| w == "demo") {
            demo.stop().await;
            return;
        }

        // 2,000 more statements, a tenth of them called again every few seconds
        let (client, conn) = tokio_postgres::connect(&demo.conninfos()[0], tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        for i in 0..2000 {
            let _ = client.batch_execute(&distinct(i)).await;
        }
        let busy = tokio::spawn(async move {
            loop {
                for i in (0..2000).step_by(10) {
                    let _ = client.batch_execute(&distinct(i)).await;
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        });
        let many = window(&specs, &config, &path, seconds).await;
        print("demo workload + 2,000 statements", specs.len(), &many);
        busy.abort();
        demo.stop().await;
    });
}
