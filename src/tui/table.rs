//! The rows of the screen's tables, as pure functions of a sample and a [`TableQuery`] (sort
//! column, direction, filter): the state asks them for selection bounds and the row under the
//! cursor, the panels for what they draw, so both see the same rows in the same order. Each
//! sortable table's column names live here too (`panels::sort_names`).

use std::cmp::Ordering;

use crate::model::areas::waits::WaitWindow;
use crate::model::{Alert, ServerState};
use crate::sample::{
    ActivitySample, CacheSample, Session, Statement, StatementsSample, TableCache, UnusedIndex,
    UnusedIndexesSample,
};

/// What a table's rows are computed from: the sort column (an index into the table's
/// `panels::sort_names`), its direction, and the filter of the screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableQuery<'a> {
    pub sort: usize,
    pub reverse: bool,
    /// Rows are kept when one of their texts contains this (case-insensitive); empty: all.
    pub filter: &'a str,
}

impl TableQuery<'_> {
    /// True when `texts` match the filter (always, without a filter).
    pub fn matches(&self, texts: &[&str]) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        texts.iter().any(|t| t.to_lowercase().contains(&needle))
    }
}

/// Sort columns of the sessions table, in the order `s` cycles them.
pub const ACTIVITY_SORT: &[&str] = &[
    "query age",
    "xact age",
    "state age",
    "pid",
    "user",
    "database",
    "state",
];

/// Sort columns of the statements, in the order `s` cycles them (the first is the default).
/// The rates of the I/O, WAL, JIT and planning counters come after the lifetime total time,
/// named after pg_stat_statements' columns; see [`statement_sort_value`].
pub const STATEMENTS_SORT: &[&str] = &[
    "time/s",
    "mean (interval)",
    "mean (lifetime)",
    "calls/s",
    "rows/s",
    "reads/s",
    "total time",
    "shared_blk_read_time/s",
    "shared_blk_write_time/s",
    "temp_blk_read_time/s",
    "temp_blk_write_time/s",
    "wal_bytes/s",
    "jit time/s",
    "plan time/s",
    "wait",
];

/// Sort keys of [`STATEMENTS_SORT`] that are a column of their own, by index.
pub mod statement_sort {
    pub const EXEC_TIME_PER_S: usize = 0;
    pub const INTERVAL_MEAN: usize = 1;
    pub const LIFETIME_MEAN: usize = 2;
    pub const CALLS_PER_S: usize = 3;
    pub const ROWS_PER_S: usize = 4;
    pub const READS_PER_S: usize = 5;
    pub const TOTAL_TIME: usize = 6;
    pub const SHARED_BLK_READ_TIME_PER_S: usize = 7;
    pub const SHARED_BLK_WRITE_TIME_PER_S: usize = 8;
    pub const TEMP_BLK_READ_TIME_PER_S: usize = 9;
    pub const TEMP_BLK_WRITE_TIME_PER_S: usize = 10;
    pub const WAL_BYTES_PER_S: usize = 11;
    pub const JIT_TIME_PER_S: usize = 12;
    pub const PLAN_TIME_PER_S: usize = 13;
    /// Backend-samples spent waiting (not on CPU) in the wait profile's window: the
    /// statements that wait the most first.
    pub const WAIT: usize = 14;
}

/// Sort columns of the cache's tables list, in the order `s` cycles them.
pub const CACHE_SORT: &[&str] = &[
    "reads/s",
    "hits/s",
    "hit % (interval, worst first)",
    "reads (lifetime)",
    "hit % (lifetime, worst first)",
];

/// Sort columns of the unused indexes, in the order `s` cycles them.
pub const UNUSED_INDEXES_SORT: &[&str] = &["index size", "table size", "name"];

/// The row of a table that has a detail view (Enter): a session or a statement.
// one of these at a time (the row the detail shows): the size difference costs nothing
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DetailRow {
    Session(Session),
    Statement(Statement),
}

/// Whether an alert passes the filter (its message, rule name or subject).
pub fn alert_matches(query: &TableQuery<'_>, alert: &Alert) -> bool {
    query.matches(&[
        &alert.message,
        alert.rule.name(),
        &alert.subject.to_string(),
    ])
}

/// Active plus resolved alerts after the filter.
pub fn alert_count(server: &ServerState, query: &TableQuery<'_>) -> usize {
    let alerts = &server.alerts;
    alerts
        .active
        .values()
        .filter(|a| alert_matches(query, &a.alert))
        .count()
        + alerts
            .resolved
            .iter()
            .chain(&alerts.earlier)
            .filter(|a| alert_matches(query, &a.alert))
            .count()
}

/// Sessions shown in the table: client backends and workers with a state (background
/// processes without one are left out), filtered and sorted as the query asks.
pub fn sessions<'a>(a: &'a ActivitySample, query: &TableQuery<'_>) -> Vec<&'a Session> {
    let mut rows: Vec<&Session> = a
        .sessions
        .iter()
        .filter(|s| s.state.is_some() || !s.blocked_by.is_empty())
        .filter(|s| {
            query.matches(&[
                &s.pid.to_string(),
                s.usename.as_deref().unwrap_or(""),
                s.datname.as_deref().unwrap_or(""),
                &s.application_name,
                s.state.as_deref().unwrap_or(""),
                s.wait_event.as_deref().unwrap_or(""),
                s.client_addr.as_deref().unwrap_or(""),
                &s.backend_type,
                &s.query,
            ])
        })
        .collect();
    let num = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
    rows.sort_by(|x, y| {
        match query.sort {
            0 => num(y.query_age_s.get()).total_cmp(&num(x.query_age_s.get())),
            1 => num(y.xact_age_s.get()).total_cmp(&num(x.xact_age_s.get())),
            2 => num(y.state_age_s.get()).total_cmp(&num(x.state_age_s.get())),
            3 => x.pid.cmp(&y.pid),
            4 => x.usename.cmp(&y.usename),
            5 => x.datname.cmp(&y.datname),
            _ => x.state.cmp(&y.state),
        }
        .then(x.pid.cmp(&y.pid))
    });
    if query.reverse {
        rows.reverse();
    }
    rows
}

/// The value a statement is sorted by under sort column `key`; `None` (no baseline yet)
/// sorts last in either direction.
/// (A key out of range sorts by execution time per second.)
pub fn statement_sort_value(s: &Statement, key: usize, waits: &WaitWindow) -> Option<f64> {
    use statement_sort::*;
    match key {
        WAIT => waits
            .of_query(s.queryid)
            .map(|c| (c.total() - c.get(crate::sample::WaitClass::Cpu)) as f64),
        INTERVAL_MEAN => s.interval_mean_exec_time_ms.get(),
        LIFETIME_MEAN => Some(s.mean_exec_time_ms),
        CALLS_PER_S => s.calls_per_s.get(),
        ROWS_PER_S => s.rows_per_s.get(),
        READS_PER_S => s.shared_blks_read_per_s.get(),
        TOTAL_TIME => Some(s.total_exec_time_ms),
        SHARED_BLK_READ_TIME_PER_S => s.shared_blk_read_time_ms_per_s.get(),
        SHARED_BLK_WRITE_TIME_PER_S => s.shared_blk_write_time_ms_per_s.get(),
        TEMP_BLK_READ_TIME_PER_S => s.temp_blk_read_time_ms_per_s.get(),
        TEMP_BLK_WRITE_TIME_PER_S => s.temp_blk_write_time_ms_per_s.get(),
        WAL_BYTES_PER_S => s.wal_bytes_per_s.get(),
        JIT_TIME_PER_S => s.jit_time_ms_per_s.get(),
        PLAN_TIME_PER_S => s.plan_time_ms_per_s.get(),
        _ => s.exec_time_ms_per_s.get(),
    }
}

/// Descending by `value` (ascending when `reverse`), rows without a value last in either
/// direction.
fn by_value_none_last(a: Option<f64>, b: Option<f64>, reverse: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => {
            let o = y.total_cmp(&x);
            if reverse { o.reverse() } else { o }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Statements after filter and sort (descending by default, `r` reverses; rows without a
/// value stay last).
pub fn statements<'a>(
    st: &'a StatementsSample,
    waits: &WaitWindow,
    query: &TableQuery<'_>,
) -> Vec<&'a Statement> {
    let key = query.sort;
    let mut rows: Vec<&Statement> = st
        .statements
        .iter()
        .filter(|s| {
            query.matches(&[
                s.query.as_deref().unwrap_or(""),
                s.usename.as_deref().unwrap_or(""),
                s.datname.as_deref().unwrap_or(""),
                &s.queryid.to_string(),
            ])
        })
        .collect();
    rows.sort_by(|a, b| {
        let (va, vb) = (
            statement_sort_value(a, key, waits),
            statement_sort_value(b, key, waits),
        );
        by_value_none_last(va, vb, query.reverse)
            .then(b.total_exec_time_ms.total_cmp(&a.total_exec_time_ms))
            .then(a.queryid.cmp(&b.queryid))
    });
    rows
}

/// Blocks a table has read from outside the buffer cache over the statistics' lifetime
/// (heap, indexes, TOAST).
pub fn lifetime_reads(t: &TableCache) -> i64 {
    t.heap_blks_read + t.idx_blks_read + t.toast_blks_read
}

/// The cache's tables after filter and sort; rows without a value stay last.
pub fn cache_tables<'a>(c: &'a CacheSample, query: &TableQuery<'_>) -> Vec<&'a TableCache> {
    let mut rows: Vec<&TableCache> = c
        .tables
        .iter()
        .filter(|t| query.matches(&[&t.schemaname, &t.relname]))
        .collect();
    // larger is first, except hit ratios (worst, i.e. smallest, first)
    let value = |t: &TableCache| -> Option<f64> {
        match query.sort {
            0 => t.blks_read_per_s,
            1 => t.blks_hit_per_s,
            2 => t.interval_hit_ratio.map(|r| -r),
            3 => Some(lifetime_reads(t) as f64),
            _ => t.hit_ratio.map(|r| -r),
        }
    };
    rows.sort_by(|a, b| {
        by_value_none_last(value(a), value(b), query.reverse)
            .then(lifetime_reads(b).cmp(&lifetime_reads(a)))
            .then(a.relid.cmp(&b.relid))
    });
    rows
}

/// Unused indexes after filter and sort.
pub fn unused_indexes<'a>(
    u: &'a UnusedIndexesSample,
    query: &TableQuery<'_>,
) -> Vec<&'a UnusedIndex> {
    let mut rows: Vec<&UnusedIndex> = u
        .indexes
        .iter()
        .filter(|i| query.matches(&[&i.schemaname, &i.relname, &i.indexrelname]))
        .collect();
    match query.sort {
        0 => rows.sort_by_key(|i| std::cmp::Reverse(i.index_size_bytes)),
        1 => rows.sort_by_key(|i| std::cmp::Reverse(i.table_size_bytes)),
        _ => rows.sort_by(|a, b| {
            (&a.schemaname, &a.indexrelname).cmp(&(&b.schemaname, &b.indexrelname))
        }),
    }
    if query.reverse {
        rows.reverse();
    }
    rows
}

/// Sort columns of the fleet table, in the order `s` cycles them: the first (worst state,
/// then the most alerts, then the name) is the default.
pub const FLEET_SORT: &[&str] = &["state", "name", "connections", "lag", "xid age", "xact/s"];

/// How a server of the fleet is doing, worst last (the fleet sorts worst first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FleetState {
    Ok,
    Connecting,
    Warning,
    Critical,
    Unreachable,
}

impl FleetState {
    pub fn name(self) -> &'static str {
        match self {
            FleetState::Ok => "ok",
            FleetState::Connecting => "connecting",
            FleetState::Warning => "warning",
            FleetState::Critical => "critical",
            FleetState::Unreachable => "unreachable",
        }
    }
}

/// One server's row of the fleet overview, from its state at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    /// Index of the server in the store.
    pub index: usize,
    pub name: String,
    /// `primary`, `standby` or `?` (not connected yet).
    pub role: &'static str,
    pub state: FleetState,
    pub warnings: usize,
    pub criticals: usize,
    /// The worst active alert's message (the oldest of the worst severity), raw text.
    pub worst_alert: Option<String>,
    /// Client backends as % of the usable connections.
    pub connections_pct: Option<f64>,
    pub xact_per_s: Option<f64>,
    /// Cache hit ratio over the last interval (0..1).
    pub hit_ratio: Option<f64>,
    /// The worst replay lag this server knows of, bytes (its standbys', or its own).
    pub replay_lag_bytes: Option<i64>,
    /// The oldest database's xid age, % of the way to wraparound.
    pub xid_wraparound_pct: Option<f64>,
    /// Age of the freshest sample, seconds (`None`: no sample yet).
    pub sample_age_s: Option<f64>,
}

/// The row of one server.
pub fn fleet_row(index: usize, s: &ServerState, now: std::time::SystemTime) -> FleetRow {
    use crate::model::Link;
    use crate::sample::ServerRole;
    let (warnings, criticals) = s.alerts.counts();
    let state = match &s.link {
        Link::Down { .. } => FleetState::Unreachable,
        _ if criticals > 0 => FleetState::Critical,
        _ if warnings > 0 => FleetState::Warning,
        Link::Connecting { .. } => FleetState::Connecting,
        Link::Up { .. } => FleetState::Ok,
    };
    let connections_pct = s.activity().and_then(|a| {
        (a.usable_connections > 0)
            .then(|| f64::from(a.client_backends) * 100.0 / f64::from(a.usable_connections))
    });
    let freshest = s.areas.values().filter_map(|a| a.sample_at).max();
    FleetRow {
        index,
        name: s.label.clone(),
        role: match s.role() {
            Some(ServerRole::Primary) => "primary",
            Some(ServerRole::Standby) => "standby",
            None => "?",
        },
        state,
        warnings,
        criticals,
        worst_alert: s.alerts.sorted().first().map(|a| a.alert.message.clone()),
        connections_pct,
        xact_per_s: s.server().and_then(|v| v.xact_per_s),
        hit_ratio: s.interval_hit_ratio().map(|(r, _)| r),
        replay_lag_bytes: s.worst_replay_lag_bytes(),
        xid_wraparound_pct: s.worst_xid_age().map(|(_, _, pct)| pct),
        sample_age_s: freshest.map(|t| now.duration_since(t).unwrap_or_default().as_secs_f64()),
    }
}

/// Every server's row after the filter (name, role, state, worst alert), sorted by
/// [`FLEET_SORT`]`[query.sort]`, worst or largest first (reversed by `query.reverse`).
pub fn fleet(
    store: &crate::model::Store,
    query: &TableQuery<'_>,
    now: std::time::SystemTime,
) -> Vec<FleetRow> {
    let mut rows: Vec<FleetRow> = store
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| fleet_row(i, s, now))
        .filter(|r| {
            query.matches(&[
                &r.name,
                r.role,
                r.state.name(),
                r.worst_alert.as_deref().unwrap_or(""),
            ])
        })
        .collect();
    let desc = |a: Option<f64>, b: Option<f64>| {
        b.unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.unwrap_or(f64::NEG_INFINITY))
    };
    rows.sort_by(|a, b| {
        let by = match query.sort {
            0 => b
                .state
                .cmp(&a.state)
                .then(b.criticals.cmp(&a.criticals))
                .then(b.warnings.cmp(&a.warnings)),
            1 => Ordering::Equal,
            2 => desc(a.connections_pct, b.connections_pct),
            3 => desc(
                a.replay_lag_bytes.map(|v| v as f64),
                b.replay_lag_bytes.map(|v| v as f64),
            ),
            4 => desc(a.xid_wraparound_pct, b.xid_wraparound_pct),
            _ => desc(a.xact_per_s, b.xact_per_s),
        };
        by.then_with(|| a.name.cmp(&b.name))
    });
    if query.reverse {
        rows.reverse();
    }
    rows
}
