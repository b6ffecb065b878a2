//! Statements: rates of each pg_stat_statements entry over the interval, its baseline, the
//! JSON's top list, and [`Rule::StatementRegression`].
//!
//! The baseline of a statement is the mean time per call of all its calls before the
//! interval (the previous poll's `total_exec_time / calls`): everything since its entry
//! began or the last `pg_stat_statements_reset()`, kept by the server itself, so it holds
//! across restarts of pgvitals and needs no memory here. A reset or an eviction starts it
//! again from nothing, and a baseline of fewer than [`BASELINE_MIN_CALLS`] calls is no
//! baseline: neither fires. As a regression goes on, its slow calls join the baseline, so a
//! statement that stays slow for good clears once slow is its new normal.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::model::alerts::{Evaluator, Subject};
use crate::model::format_duration_s;
use crate::model::rates::{elapsed, rate};
use crate::sample::{
    OptF32, OptF64, OptI64, Rule, Sample, Statement, StatementKey, StatementsSample,
};

/// The fewest calls a baseline must average before a regression is judged against it.
pub const BASELINE_MIN_CALLS: i64 = 100;

/// Below this mean per call over the interval (milliseconds) a slowdown is not judged: a
/// statement going from 20µs to 80µs is noise, not an incident.
pub const REGRESSION_FLOOR_MS: f64 = 1.0;

/// How many statements the JSON lists (the top ones by execution time over the interval).
pub const TOP_STATEMENTS: usize = 50;

/// Per-entry rates over the interval; an entry re-created since (stats_since, a counter
/// going backwards) or new gets none.
pub(super) fn derive(c: &mut StatementsSample, p: &StatementsSample) {
    let Some(dt) = elapsed(c.collected_at, p.collected_at) else {
        return;
    };
    if c.stats_reset != p.stats_reset {
        return;
    }
    // the collector sends entries in key order: found by binary search, with no index of
    // 10,000 keys per poll; an older recording's samples may be in another order
    let index: Option<HashMap<StatementKey, &Statement>> =
        (!p.statements.is_sorted_by_key(Statement::key))
            .then(|| p.statements.iter().map(|s| (s.key(), s)).collect());
    let previous = |k: &StatementKey| match &index {
        Some(index) => index.get(k).copied(),
        None => p
            .statements
            .binary_search_by_key(k, Statement::key)
            .ok()
            .map(|i| &p.statements[i]),
    };
    for s in &mut c.statements {
        let Some(ps) = previous(&s.key()) else {
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
        s.calls_per_s = (calls as f64 / dt).into();
        s.exec_time_ms_per_s = (exec_ms / dt).into();
        s.interval_mean_exec_time_ms = (calls > 0).then(|| exec_ms / calls as f64).into();
        if ps.calls > 0 {
            s.baseline_mean_exec_time_ms = (ps.total_exec_time_ms / ps.calls as f64).into();
            s.baseline_calls = ps.calls.into();
        }
        s.rows_per_s = rate(s.rows, ps.rows, dt).into();
        s.shared_blks_hit_per_s = rate(s.shared_blks_hit, ps.shared_blks_hit, dt).into();
        s.shared_blks_read_per_s = rate(s.shared_blks_read, ps.shared_blks_read, dt).into();
        s.temp_blks_written_per_s = rate(s.temp_blks_written, ps.temp_blks_written, dt).into();
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

/// [`Rule::StatementRegression`] of every statement with a baseline: the interval's mean per
/// call against it, with at least `min` calls in the interval, a baseline of at least
/// [`BASELINE_MIN_CALLS`] calls and an interval mean of at least [`REGRESSION_FLOOR_MS`].
pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(st) = ev.server.statements() else {
        return;
    };
    let min_calls = ev.thresholds.get(Rule::StatementRegression).min;
    for s in &st.statements {
        let (Some(mean), Some(base), Some(base_calls)) = (
            s.interval_mean_exec_time_ms.get(),
            s.baseline_mean_exec_time_ms.get(),
            s.baseline_calls.get(),
        ) else {
            continue;
        };
        let calls = s.calls - base_calls;
        if (calls as f64) < min_calls
            || base_calls < BASELINE_MIN_CALLS
            || mean < REGRESSION_FLOOR_MS
            || base <= 0.0
        {
            continue;
        }
        let factor = mean / base;
        let queryid = s.queryid;
        ev.check(
            Rule::StatementRegression,
            || Subject::Statement(queryid),
            factor,
            |th| {
                let text = s.query.as_deref().map_or_else(
                    || "text not read yet".to_owned(),
                    |q| crate::text::one_line(q, 80),
                );
                format!(
                    "statement {queryid} ({text}): {} → {} per call over the last interval ({factor:.1}× its baseline of {} calls, > {th}), {calls} calls",
                    format_duration_s(base / 1000.0),
                    format_duration_s(mean / 1000.0),
                    crate::model::format_count(base_calls as f64)
                )
            },
        );
    }
}

/// Milliseconds per second between two readings of an optional time counter; `None` when
/// either is unknown (a version without the column) or it went backwards.
fn time_rate(cur: OptF64, prev: OptF64, dt: f64) -> OptF32 {
    match (cur.get(), prev.get()) {
        (Some(cur), Some(prev)) if cur >= prev => ((cur - prev) / dt).into(),
        _ => OptF32::NONE,
    }
}

/// [`rate`] of an optional counter (a column the extension version may lack).
fn count_rate(cur: OptI64, prev: OptI64, dt: f64) -> OptF32 {
    match (cur.get(), prev.get()) {
        (Some(cur), Some(prev)) => rate(cur, prev, dt).into(),
        _ => OptF32::NONE,
    }
}

/// The JSON of a statements sample: the top [`TOP_STATEMENTS`] by execution time per second
/// over the interval, and `statements_total`.
pub(super) fn json(s: &StatementsSample, waits: &super::waits::WaitWindow) -> Value {
    let total = s.statements.len();
    // ranked by reference, and only the shown rows copied: a copy of 10,000 entries (and the
    // sort's buffer of as many) was the snapshot's largest allocation
    let mut ranked: Vec<&Statement> = s.statements.iter().collect();
    ranked.sort_by(|a, b| {
        let key = |x: &Statement| {
            (
                x.exec_time_ms_per_s.get().unwrap_or(-1.0),
                x.total_exec_time_ms,
            )
        };
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let s = StatementsSample {
        statements: ranked.into_iter().take(TOP_STATEMENTS).cloned().collect(),
        collected_at: s.collected_at,
        extension_version: s.extension_version.clone(),
        extension_schema: s.extension_schema.clone(),
        stats_reset: s.stats_reset,
        dealloc: s.dealloc,
        notice: s.notice.clone(),
    };
    let mut v = serde_json::to_value(Sample::Statements(s)).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        if let Some(Value::Array(rows)) = m.get_mut("statements") {
            for row in rows {
                if let Value::Object(r) = row {
                    let profile = r
                        .get("queryid")
                        .and_then(Value::as_i64)
                        .map_or(Value::Null, |q| super::waits::statement_json(waits, q));
                    r.insert("wait_profile".into(), profile);
                }
            }
        }
        m.insert("statements_total".into(), json!(total));
    }
    v
}
