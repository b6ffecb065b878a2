//! Statements: rates of each pg_stat_statements entry over the interval, and the JSON's top
//! list. No alert rule reads this area.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::model::rates::{elapsed, rate};
use crate::sample::{Sample, Statement, StatementsSample};

/// How many statements the JSON lists (the top ones by execution time over the interval).
pub const TOP_STATEMENTS: usize = 50;

type StatementKey = (u32, u32, i64, bool);

/// Per-entry rates over the interval; an entry re-created since (stats_since, a counter
/// going backwards) or new gets none.
pub(super) fn derive(c: &mut StatementsSample, p: &StatementsSample) {
    let Some(dt) = elapsed(c.collected_at, p.collected_at) else {
        return;
    };
    if c.stats_reset != p.stats_reset {
        return;
    }
    let prev: HashMap<StatementKey, &Statement> = p
        .statements
        .iter()
        .map(|s| ((s.userid, s.dbid, s.queryid, s.toplevel), s))
        .collect();
    for s in &mut c.statements {
        let Some(ps) = prev.get(&(s.userid, s.dbid, s.queryid, s.toplevel)) else {
            continue;
        };
        if s.stats_since != ps.stats_since
            || s.calls < ps.calls
            || s.total_exec_time_ms < ps.total_exec_time_ms
        {
            continue;
        }
        let calls = s.calls - ps.calls;
        let exec_ms = s.total_exec_time_ms - ps.total_exec_time_ms;
        s.calls_per_s = Some(calls as f64 / dt);
        s.exec_time_ms_per_s = Some(exec_ms / dt);
        s.interval_mean_exec_time_ms = (calls > 0).then(|| exec_ms / calls as f64);
        s.rows_per_s = rate(s.rows, ps.rows, dt);
        s.shared_blks_hit_per_s = rate(s.shared_blks_hit, ps.shared_blks_hit, dt);
        s.shared_blks_read_per_s = rate(s.shared_blks_read, ps.shared_blks_read, dt);
        s.temp_blks_written_per_s = rate(s.temp_blks_written, ps.temp_blks_written, dt);
        s.plan_time_ms_per_s = time_rate(s.total_plan_time_ms, ps.total_plan_time_ms, dt);
        s.shared_blk_read_time_ms_per_s =
            time_rate(s.shared_blk_read_time_ms, ps.shared_blk_read_time_ms, dt);
        s.shared_blk_write_time_ms_per_s =
            time_rate(s.shared_blk_write_time_ms, ps.shared_blk_write_time_ms, dt);
        s.temp_blk_read_time_ms_per_s =
            time_rate(s.temp_blk_read_time_ms, ps.temp_blk_read_time_ms, dt);
        s.temp_blk_write_time_ms_per_s =
            time_rate(s.temp_blk_write_time_ms, ps.temp_blk_write_time_ms, dt);
        s.wal_bytes_per_s = count_rate(s.wal_bytes, ps.wal_bytes, dt);
        s.wal_records_per_s = count_rate(s.wal_records, ps.wal_records, dt);
        s.wal_fpi_per_s = count_rate(s.wal_fpi, ps.wal_fpi, dt);
        s.jit_time_ms_per_s = time_rate(s.jit_time_ms, ps.jit_time_ms, dt);
    }
}

/// Milliseconds per second between two readings of an optional time counter; `None` when
/// either is unknown (a version without the column) or it went backwards.
fn time_rate(cur: Option<f64>, prev: Option<f64>, dt: f64) -> Option<f64> {
    let (cur, prev) = (cur?, prev?);
    (cur >= prev).then(|| (cur - prev) / dt)
}

/// [`rate`] of an optional counter (a column the extension version may lack).
fn count_rate(cur: Option<i64>, prev: Option<i64>, dt: f64) -> Option<f64> {
    rate(cur?, prev?, dt)
}

/// The JSON of a statements sample: the top [`TOP_STATEMENTS`] by execution time per second
/// over the interval, and `statements_total`.
pub(super) fn json(s: &StatementsSample) -> Value {
    let mut s = s.clone();
    let total = s.statements.len();
    s.statements.sort_by(|a, b| {
        let key = |x: &Statement| (x.exec_time_ms_per_s.unwrap_or(-1.0), x.total_exec_time_ms);
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    s.statements.truncate(TOP_STATEMENTS);
    let mut v = serde_json::to_value(Sample::Statements(s)).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("statements_total".into(), json!(total));
    }
    v
}
