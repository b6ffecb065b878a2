//! `pgvitals report`: an incident summary of a recording's window, in Markdown, for the
//! postmortem: the alerts in order with their durations, the worst values per server, the
//! lock chains seen (root blocker, waiters, longest wait), the top statements of the window
//! by execution time (counter deltas over the window), the wait profile (server-wide classes,
//! top wait events, the statements that waited most), and the replication lag peaks.
//!
//! Every text from a server goes through [`crate::text::one_line`] (no control character
//! reaches a terminal or a document) and has `|` escaped for the tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RecordError;
use super::read::Recording;
use crate::config::Config;
use crate::model::areas::waits::WaitCounts;
use crate::model::format_bytes;
use crate::model::locks::{LockNode, lock_tree};
use crate::sample::{Sample, Statement, Update, WaitClass};

/// Rows of the top statements table.
pub const TOP_STATEMENTS: usize = 10;

/// Rows of the wait profile's tables (wait events, statements that waited).
pub const TOP_WAITS: usize = 10;

/// The wait profile of one server over the window: backend-samples per class, per
/// `type:event`, per `query_id`.
#[derive(Default)]
struct Profile {
    samples: u64,
    server: WaitCounts,
    events: BTreeMap<(WaitClass, String), u64>,
    queries: BTreeMap<i64, WaitCounts>,
}

impl Profile {
    fn push(&mut self, sample: &crate::sample::WaitsSample) {
        self.samples += 1;
        for w in &sample.waits {
            let n = u64::try_from(w.backends).unwrap_or(0);
            let class = WaitClass::of(w.wait_event_type.as_deref());
            self.server.add(class, n);
            if class != WaitClass::Cpu {
                let event = format!(
                    "{}:{}",
                    w.wait_event_type.as_deref().unwrap_or(""),
                    w.wait_event.as_deref().unwrap_or("")
                );
                *self.events.entry((class, event)).or_default() += n;
            }
            if let Some(q) = w.query_id {
                // bounded like the live window: a new query past the cap counts server-wide only
                if self.queries.len() < crate::model::areas::waits::MAX_QUERIES
                    || self.queries.contains_key(&q)
                {
                    self.queries.entry(q).or_default().add(class, n);
                }
            }
        }
    }
}

/// `Lock 60% · CPU 30% · IO 10%`.
fn shares_line(c: &WaitCounts) -> String {
    c.shares()
        .into_iter()
        .map(|(class, s)| format!("{} {:.0}%", class.label(), s * 100.0))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// An epoch second as `2026-12-02 03:12:05 UTC`.
pub fn utc(t: f64) -> String {
    jiff::Timestamp::from_microsecond((t * 1e6).round() as i64)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{t}"))
}

/// A duration in seconds as `1h 02m`, `3m 05s`, `12s`.
fn span(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Server text made safe for one table cell of at most `max` columns.
fn cell(s: &str, max: usize) -> String {
    crate::text::one_line(s, max).replace('|', "\\|")
}

/// A root blocker seen in the window, keyed by (server, pid, backend_start).
#[derive(Default)]
struct Chain {
    first: f64,
    last: f64,
    usename: String,
    datname: String,
    query: String,
    max_waiting: usize,
    longest_wait_s: f64,
    waiters: std::collections::BTreeSet<i32>,
}

#[derive(Default)]
struct Worst {
    client_backends: Option<(i32, f64)>,
    waiting_on_lock: Option<(i32, f64)>,
    longest_query: Option<(f64, f64, i32)>,
    xid_age: Option<(i64, f64, String)>,
}

#[derive(Default)]
struct LagPeak {
    bytes: Option<(i64, f64)>,
    seconds: Option<(f64, f64)>,
}

fn keep_max<T: PartialOrd + Copy>(slot: &mut Option<(T, f64)>, v: T, at: f64) {
    if slot.is_none_or(|(w, _)| v > w) {
        *slot = Some((v, at));
    }
}

fn walk(node: &LockNode, depth: usize, out: &mut Vec<(i32, Option<f64>)>) {
    for w in &node.waiters {
        out.push((w.pid, w.wait_s));
        if depth < 64 {
            walk(w, depth + 1, out);
        }
    }
}

type StatementKey = (u32, u32, i64, bool);

fn key_of(s: &Statement) -> StatementKey {
    (s.userid, s.dbid, s.queryid, s.toplevel)
}

/// The Markdown report of `[from, to]` (server clock, epoch seconds).
///
/// Errors: the recording cannot be read.
pub fn report(rec: &Recording, from: f64, to: f64, config: &Config) -> Result<String, RecordError> {
    let labels = rec.labels().to_vec();
    let n = labels.len();
    let mut worst: Vec<Worst> = (0..n).map(|_| Worst::default()).collect();
    let mut chains: BTreeMap<(usize, i32, i64), Chain> = BTreeMap::new();
    let mut first_statements: Vec<Option<(f64, Vec<Statement>)>> = vec![None; n];
    let mut last_statements: Vec<Option<(f64, Vec<Statement>)>> = vec![None; n];
    let mut lags: BTreeMap<(usize, String), LagPeak> = BTreeMap::new();
    let mut profiles: Vec<Profile> = (0..n).map(|_| Profile::default()).collect();
    let mut samples = 0u64;
    rec.for_each_update(from, to, |at, update| {
        let Update::Sample { server, sample, .. } = update else {
            return true;
        };
        if at < from {
            return true;
        }
        samples += 1;
        match *sample {
            Sample::Activity(a) => {
                let w = &mut worst[server];
                keep_max(&mut w.client_backends, a.client_backends, at);
                keep_max(&mut w.waiting_on_lock, a.waiting_on_lock, at);
                for s in &a.sessions {
                    if s.state.as_deref() == Some("active") && s.backend_type == "client backend" {
                        if let Some(q) = s.query_age_s.get() {
                            if w.longest_query.is_none_or(|(m, _, _)| q > m) {
                                w.longest_query = Some((q, at, s.pid));
                            }
                        }
                    }
                }
                for root in lock_tree(&a.sessions) {
                    let session = a.sessions.iter().find(|s| s.pid == root.pid);
                    let start = session
                        .and_then(|s| s.backend_start.get())
                        .map_or(0, |b| (b * 1e6) as i64);
                    let chain = chains
                        .entry((server, root.pid, start))
                        .or_insert_with(|| Chain {
                            first: at,
                            ..Chain::default()
                        });
                    chain.last = at;
                    if let Some(s) = session {
                        chain.usename = s.usename.clone().unwrap_or_default();
                        chain.datname = s.datname.clone().unwrap_or_default();
                        if !s.query.is_empty() {
                            chain.query = s.query.clone();
                        }
                    }
                    let mut waiters = Vec::new();
                    walk(&root, 0, &mut waiters);
                    chain.max_waiting = chain.max_waiting.max(waiters.len());
                    for (pid, wait) in waiters {
                        chain.waiters.insert(pid);
                        chain.longest_wait_s = chain.longest_wait_s.max(wait.unwrap_or(0.0));
                    }
                }
            }
            Sample::Vacuum(v) => {
                for d in &v.databases {
                    let w = &mut worst[server];
                    if w.xid_age.as_ref().is_none_or(|(m, _, _)| d.xid_age > *m) {
                        w.xid_age = Some((d.xid_age, at, d.datname.clone()));
                    }
                }
            }
            Sample::Statements(s) => {
                if first_statements[server].is_none() {
                    first_statements[server] = Some((at, s.statements.clone()));
                }
                last_statements[server] = Some((at, s.statements));
            }
            Sample::Waits(w) => profiles[server].push(&w),
            Sample::Replication(r) => {
                for sb in &r.standbys {
                    let peak = lags.entry((server, sb.display_name())).or_default();
                    if let Some(b) = sb.replay_lag_bytes {
                        keep_max(&mut peak.bytes, b, at);
                    }
                    if let Some(s) = sb.replay_lag_s {
                        keep_max(&mut peak.seconds, s, at);
                    }
                }
                if let Some(st) = &r.standby_status {
                    let peak = lags
                        .entry((server, "(this standby's replay)".into()))
                        .or_default();
                    if let Some(b) = st.replay_lag_bytes {
                        keep_max(&mut peak.bytes, b, at);
                    }
                    if let Some(s) = st.replay_lag_s {
                        keep_max(&mut peak.seconds, s, at);
                    }
                }
            }
            _ => {}
        }
        true
    })?;
    let _ = config;

    let mut out = String::new();
    let _ = writeln!(out, "# pgvitals report: {} to {}\n", utc(from), utc(to));
    let _ = writeln!(
        out,
        "Servers: {}.",
        labels
            .iter()
            .map(|l| format!("`{}`", cell(l, 80)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "Samples in the window: {samples}.\n");

    let alerts = rec.alerts(from, to)?;
    let _ = writeln!(out, "## Alerts\n");
    if alerts.is_empty() {
        let _ = writeln!(out, "No alert was active in the window.\n");
    } else {
        let _ = writeln!(
            out,
            "| fired | resolved | lasted | server | severity | rule | subject | message |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for a in &alerts {
            let (resolved, lasted) = match a.resolved_at {
                Some(r) => (utc(r), span(r - a.fired_at)),
                None => (
                    "still active".to_string(),
                    format!("{}+", span(to - a.fired_at)),
                ),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                utc(a.fired_at),
                resolved,
                lasted,
                cell(labels.get(a.server).map_or("", String::as_str), 40),
                a.severity,
                a.rule,
                cell(&a.subject, 40),
                cell(&a.message, 120)
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Worst values\n");
    for (i, w) in worst.iter().enumerate() {
        let _ = writeln!(out, "`{}`:\n", cell(&labels[i], 80));
        let mut any = false;
        if let Some((v, at)) = w.client_backends {
            let _ = writeln!(out, "- client backends: {v} at {}", utc(at));
            any = true;
        }
        if let Some((v, at)) = w.waiting_on_lock {
            let _ = writeln!(out, "- sessions waiting on a lock: {v} at {}", utc(at));
            any = true;
        }
        if let Some((q, at, pid)) = w.longest_query {
            let _ = writeln!(
                out,
                "- longest running query: {} (pid {pid}) at {}",
                span(q),
                utc(at)
            );
            any = true;
        }
        if let Some((age, at, db)) = &w.xid_age {
            let _ = writeln!(
                out,
                "- oldest database xid age: {age} (`{}`) at {}",
                cell(db, 64),
                utc(*at)
            );
            any = true;
        }
        if !any {
            let _ = writeln!(out, "- no activity or vacuum sample in the window");
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Lock chains\n");
    if chains.is_empty() {
        let _ = writeln!(
            out,
            "No session waited on another's lock in the samples of the window.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "| server | root blocker | user | database | seen | waiters (most at once) | longest wait | root's query |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        let mut list: Vec<_> = chains.iter().collect();
        list.sort_by(|a, b| b.1.longest_wait_s.total_cmp(&a.1.longest_wait_s));
        for ((server, pid, _), c) in list {
            let waiters = c
                .waiters
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "| {} | pid {pid} | {} | {} | {} to {} | {} ({}) | {} | {} |",
                cell(&labels[*server], 40),
                cell(&c.usename, 32),
                cell(&c.datname, 32),
                utc(c.first),
                utc(c.last),
                cell(&waiters, 80),
                c.max_waiting,
                span(c.longest_wait_s),
                cell(&c.query, 100)
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Top statements by execution time in the window\n");
    let mut any_statements = false;
    for i in 0..n {
        let (Some((t0, first)), Some((t1, last))) = (&first_statements[i], &last_statements[i])
        else {
            continue;
        };
        let base: BTreeMap<StatementKey, &Statement> =
            first.iter().map(|s| (key_of(s), s)).collect();
        let mut rows: Vec<(f64, i64, i64, &Statement)> = last
            .iter()
            .filter_map(|s| {
                let (dt, dc, dr) = match base.get(&key_of(s)) {
                    // a reset or an eviction in between: the counters restarted
                    Some(b) if s.calls >= b.calls && s.stats_since == b.stats_since => (
                        s.total_exec_time_ms - b.total_exec_time_ms,
                        s.calls - b.calls,
                        s.rows - b.rows,
                    ),
                    _ => (s.total_exec_time_ms, s.calls, s.rows),
                };
                (dc > 0 || dt > 0.0).then_some((dt, dc, dr, s))
            })
            .collect();
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        if rows.is_empty() {
            continue;
        }
        any_statements = true;
        let _ = writeln!(
            out,
            "`{}`, {} to {}:\n",
            cell(&labels[i], 80),
            utc(*t0),
            utc(*t1)
        );
        let _ = writeln!(
            out,
            "| exec time | calls | mean | rows | user | database | query |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for (dt, dc, dr, s) in rows.into_iter().take(TOP_STATEMENTS) {
            let mean = if dc > 0 { dt / dc as f64 } else { 0.0 };
            let _ = writeln!(
                out,
                "| {:.1} ms | {dc} | {mean:.2} ms | {dr} | {} | {} | {} |",
                dt,
                cell(s.usename.as_deref().unwrap_or(""), 32),
                cell(s.datname.as_deref().unwrap_or(""), 32),
                cell(s.query.as_deref().unwrap_or("(text not recorded)"), 100)
            );
        }
        let _ = writeln!(out);
    }
    if !any_statements {
        let _ = writeln!(
            out,
            "No statement ran in the window (or pg_stat_statements was not recorded).\n"
        );
    }

    wait_profile(&mut out, &labels, &profiles, &last_statements);

    let _ = writeln!(out, "## Replication lag peaks\n");
    if lags.is_empty() {
        let _ = writeln!(out, "No standby in the samples of the window.\n");
    } else {
        let _ = writeln!(
            out,
            "| server | standby | replay lag (bytes) | at | replay lag (time) | at |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for ((server, name), p) in &lags {
            let (b, bat) = p.bytes.map_or(("-".into(), "-".into()), |(b, at)| {
                (format_bytes(b.max(0) as f64), utc(at))
            });
            let (s, sat) = p
                .seconds
                .map_or(("-".into(), "-".into()), |(s, at)| (span(s), utc(at)));
            let _ = writeln!(
                out,
                "| {} | {} | {b} | {bat} | {s} | {sat} |",
                cell(&labels[*server], 40),
                cell(name, 40)
            );
        }
        let _ = writeln!(out);
    }
    Ok(out)
}

/// The "Wait profile" section: per server, the classes over the window, the top wait events,
/// and the statements with the most backend-samples spent waiting (not on CPU), with their
/// text from the window's last statements sample.
fn wait_profile(
    out: &mut String,
    labels: &[String],
    profiles: &[Profile],
    last_statements: &[Option<(f64, Vec<Statement>)>],
) {
    let _ = writeln!(out, "## Wait profile\n");
    if profiles.iter().all(|p| p.samples == 0) {
        let _ = writeln!(out, "No wait sample in the window.\n");
        return;
    }
    for (i, p) in profiles.iter().enumerate() {
        if p.samples == 0 {
            continue;
        }
        let total = p.server.total();
        let _ = writeln!(
            out,
            "`{}`: {} samples, {total} backend-samples ({:.1} active backends on average){}\n",
            cell(&labels[i], 80),
            p.samples,
            total as f64 / p.samples as f64,
            if total > 0 {
                format!(": {}", shares_line(&p.server))
            } else {
                String::new()
            }
        );
        if !p.events.is_empty() {
            let mut events: Vec<_> = p.events.iter().collect();
            events.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let _ = writeln!(out, "| wait event | class | backend-samples | share |");
            let _ = writeln!(out, "|---|---|---|---|");
            for ((class, event), k) in events.into_iter().take(TOP_WAITS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {k} | {:.0}% |",
                    cell(event, 64),
                    class.label(),
                    *k as f64 * 100.0 / total.max(1) as f64
                );
            }
            let _ = writeln!(out);
        }
        let waited = |c: &WaitCounts| c.total() - c.get(WaitClass::Cpu);
        let mut queries: Vec<(&i64, &WaitCounts)> =
            p.queries.iter().filter(|(_, c)| waited(c) > 0).collect();
        queries.sort_by(|a, b| waited(b.1).cmp(&waited(a.1)).then(a.0.cmp(b.0)));
        if queries.is_empty() {
            continue;
        }
        let texts: BTreeMap<i64, &str> = last_statements[i]
            .iter()
            .flat_map(|(_, list)| list.iter())
            .filter_map(|s| Some((s.queryid, s.query.as_deref()?)))
            .collect();
        let _ = writeln!(
            out,
            "| queryid | waiting backend-samples | profile | query |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for (q, c) in queries.into_iter().take(TOP_WAITS) {
            let _ = writeln!(
                out,
                "| {q} | {} | {} | {} |",
                waited(c),
                shares_line(c),
                cell(texts.get(q).copied().unwrap_or("(text not recorded)"), 100)
            );
        }
        let _ = writeln!(out);
    }
}
