//! What the bench reads from /proc: CPU time of a process, of a whole cluster, and memory
//! counters of `/proc/PID/status`.

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

/// CPU seconds of a whole cluster: every live child of the postmaster (utime + stime), the
/// postmaster itself, and its reaped children (cutime + cstime), so backends that came and
/// went (a tool that reconnects every refresh) are counted too.
pub fn cluster_cpu(postmaster: i32) -> f64 {
    let mut total = 0.0;
    if let Some(f) = stat_fields(postmaster) {
        total += (ticks(&f, 11) + ticks(&f, 12) + ticks(&f, 13) + ticks(&f, 14)) / clock_ticks();
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
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
            total += (ticks(&f, 11) + ticks(&f, 12)) / clock_ticks();
        }
    }
    total
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
