//! What the bench reads from /proc: CPU time of a process, of a whole cluster, and memory
//! counters of `/proc/PID/status`.

use std::collections::BTreeMap;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// The fields of `/proc/PID/stat` after the command name (field 3, the state, is index 0).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    Some(after.split_whitespace().map(str::to_string).collect())
}

fn ticks(fields: &[String], index: usize) -> f64 {
    fields
        .get(index)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// utime + stime of a process, seconds.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let f = stat_fields(pid)?;
    Some((ticks(&f, 11) + ticks(&f, 12)) / clock_ticks())
}

/// CPU time of a single-threaded process (a PostgreSQL backend), seconds, to the nanosecond:
/// the first field of `/proc/PID/schedstat` (the scheduler's run time of the process's one
/// task). utime + stime of `/proc/PID/stat` come in clock ticks (10 ms), which over a 120 s
/// window of a backend that spends 0.1 s a minute is a 5 % step per reading. Falls back to
/// [`cpu_seconds`] where schedstat cannot be read.
pub fn backend_cpu_seconds(pid: i32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(|ns| ns as f64 / 1e9)
        .or_else(|| cpu_seconds(pid))
}

/// What a server process is, from its title (`postgres: <cluster_name>: checkpointer`,
/// `postgres: <cluster_name>: <user> <db> [local] idle`): an auxiliary process by name, or
/// `backend <user>` for a client backend.
fn process_kind(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let title = String::from_utf8_lossy(&raw).replace('\0', " ");
    let rest = title
        .trim()
        .strip_prefix("postgres:")
        .unwrap_or(&title)
        .trim();
    // the cluster_name prefix: one word ending in ':'
    let rest = match rest.split_once(' ') {
        Some((first, tail)) if first.ends_with(':') => tail.trim(),
        _ => rest,
    };
    const AUX: [&str; 11] = [
        "checkpointer",
        "background writer",
        "walwriter",
        "autovacuum launcher",
        "autovacuum worker",
        "logical replication launcher",
        "archiver",
        "stats collector",
        "walsender",
        "walreceiver",
        "startup",
    ];
    if let Some(aux) = AUX.iter().find(|a| rest.starts_with(**a)) {
        return (*aux).to_string();
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    if words.len() >= 3 {
        return format!("backend {}", words[0]);
    }
    "other".to_string()
}

/// CPU seconds of a whole cluster by process kind ([`process_kind`]): every live child of
/// the postmaster (utime + stime), the postmaster itself, and its reaped children (cutime +
/// cstime: `exited`), so backends that came and went (a tool that reconnects every refresh)
/// are counted too. A process that exits between two readings moves from its kind to
/// `exited`; the sum is exact.
pub fn cluster_cpu_by_kind(postmaster: i32) -> BTreeMap<String, f64> {
    let mut by = BTreeMap::new();
    if let Some(f) = stat_fields(postmaster) {
        by.insert(
            "postmaster".to_string(),
            (ticks(&f, 11) + ticks(&f, 12)) / clock_ticks(),
        );
        by.insert(
            "exited".to_string(),
            (ticks(&f, 13) + ticks(&f, 14)) / clock_ticks(),
        );
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return by;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == postmaster {
            continue;
        }
        let Some(f) = stat_fields(pid) else { continue };
        // field 4 of stat is the ppid (index 1 here)
        if f.get(1).and_then(|v| v.parse::<i32>().ok()) == Some(postmaster) {
            *by.entry(process_kind(pid)).or_insert(0.0) +=
                (ticks(&f, 11) + ticks(&f, 12)) / clock_ticks();
        }
    }
    by
}

/// `after - before` per kind.
pub fn cpu_diff(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let mut out = after.clone();
    for (k, v) in before {
        *out.entry(k.clone()).or_insert(0.0) -= v;
    }
    out
}

/// A `kB` line of `/proc/PID/status` (`VmHWM`, `RssAnon`, ...), in bytes.
pub fn status_bytes(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub const MIB: f64 = 1024.0 * 1024.0;
