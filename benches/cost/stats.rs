//! pg_stat_statements of one role, grouped by queryid: read before and after a window and
//! diffed.

use std::collections::HashMap;

use tokio_postgres::Client;

#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub calls: i64,
    pub exec_ms: f64,
    pub plan_ms: f64,
    /// Lifetime maximum of the entry: the window's maximum when the role's entries were
    /// reset at the window's start.
    pub max_ms: f64,
    pub query: String,
}

pub type Stats = HashMap<i64, Entry>;

/// One query's share of a window.
#[derive(Debug, Clone)]
pub struct Row {
    pub calls: i64,
    pub exec_ms: f64,
    pub plan_ms: f64,
    pub max_ms: f64,
    pub query: String,
}

impl Row {
    pub fn mean_ms(&self) -> f64 {
        self.exec_ms / self.calls.max(1) as f64
    }
}

/// Resets the entries of `role` only (superuser `admin`), so max_exec_time is the window's.
pub async fn reset(admin: &Client, role: &str) {
    admin
        .query(
            "SELECT pg_stat_statements_reset(r.oid, 0, 0) FROM pg_roles r WHERE r.rolname = $1",
            &[&role],
        )
        .await
        .expect("reset the role's pg_stat_statements entries");
}

pub async fn read(admin: &Client, role: &str) -> Stats {
    let rows = admin
        .query(
            "SELECT coalesce(s.queryid, 0)::int8, sum(s.calls)::int8,
                    sum(s.total_exec_time)::float8, sum(s.total_plan_time)::float8,
                    max(s.max_exec_time)::float8, min(s.query)
               FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
              WHERE r.rolname = $1
              GROUP BY s.queryid",
            &[&role],
        )
        .await
        .expect("read the role's pg_stat_statements entries");
    rows.iter()
        .map(|r| {
            (
                r.get(0),
                Entry {
                    calls: r.get(1),
                    exec_ms: r.get(2),
                    plan_ms: r.get(3),
                    max_ms: r.get(4),
                    query: r.get::<_, Option<String>>(5).unwrap_or_default(),
                },
            )
        })
        .collect()
}

/// What happened between `before` and `after`, most server time first.
pub fn diff(before: &Stats, after: &Stats) -> Vec<Row> {
    let mut rows: Vec<Row> = after
        .iter()
        .filter_map(|(id, a)| {
            let b = before.get(id).cloned().unwrap_or_default();
            let calls = a.calls - b.calls;
            (calls > 0).then(|| Row {
                calls,
                exec_ms: a.exec_ms - b.exec_ms,
                plan_ms: a.plan_ms - b.plan_ms,
                max_ms: a.max_ms,
                query: a.query.clone(),
            })
        })
        .collect();
    rows.sort_by(|x, y| (y.exec_ms + y.plan_ms).total_cmp(&(x.exec_ms + x.plan_ms)));
    rows
}

/// A query for a table row: pgvitals' queries by their name (the `-- name:` comment that
/// opens each file in queries/; other tools' comments are not names), then the first `width` characters of the SQL after the
/// leading comments, whitespace folded.
pub fn label(query: &str, width: usize) -> String {
    let mut name = None;
    let mut body = Vec::new();
    for line in query.lines() {
        let t = line.trim();
        if body.is_empty() && (t.starts_with("--") || t.is_empty()) {
            if name.is_none() {
                name = t
                    .trim_start_matches('-')
                    .trim()
                    .split_once(':')
                    .map(|(n, _)| n.to_string())
                    .filter(|n| !n.is_empty() && !n.contains(' '));
            }
            continue;
        }
        body.push(t);
    }
    let sql = body.join(" ");
    let sql: String = sql
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(width)
        .collect();
    match name {
        Some(n) if query.contains("/* pgvitals */") => format!("{n:<21} {sql}"),
        _ => sql,
    }
}
