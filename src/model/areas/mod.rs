//! Everything the model derives per area, one module per area: the derived fields (rates
//! over the interval), the alert rules that read the area ([`crate::sample::Area::rules`]),
//! the sparkline points, and the area's JSON. This `mod.rs` is the one place that lists the
//! areas (exhaustive `match`es): a new area is a new module here and an arm in each.

pub mod activity;
pub mod cache;
pub mod replication;
pub mod server;
pub mod statements;
pub mod vacuum;
pub mod wal;

use std::time::SystemTime;

use serde_json::Value;

use super::ServerState;
use super::alerts::{Alert, Evaluator};
use super::history::Series;
use crate::config::Thresholds;
use crate::sample::{Area, Sample};

/// Fill the derived fields of `cur` from `prev` (the previous sample of the same area).
/// Without a usable previous sample the derived fields stay `None` ("no rate yet").
pub fn derive(cur: &mut Sample, prev: Option<&Sample>) {
    match (cur, prev) {
        (Sample::Server(c), Some(Sample::Server(p))) => server::derive(c, p),
        (Sample::Statements(c), Some(Sample::Statements(p))) => statements::derive(c, p),
        (Sample::Cache(c), Some(Sample::Cache(p))) => cache::derive(c, p),
        (Sample::Wal(c), Some(Sample::Wal(p))) => wal::derive(c, p),
        (Sample::Wal(c), None) => wal::derive_alone(c),
        // no rates in these areas (their ages are measured on the server clock)
        (
            Sample::Server(_)
            | Sample::Statements(_)
            | Sample::Cache(_)
            | Sample::Activity(_)
            | Sample::Replication(_)
            | Sample::UnusedIndexes(_)
            | Sample::Vacuum(_)
            | Sample::Wal(_),
            _,
        ) => {}
    }
}

/// Every alert that holds for `server` at `now`, area by area.
pub fn evaluate(server: &ServerState, thresholds: &Thresholds, now: SystemTime) -> Vec<Alert> {
    let mut ev = Evaluator {
        server,
        thresholds,
        now,
        out: Vec::new(),
    };
    for area in Area::ALL {
        match area {
            Area::Server => server::evaluate(&mut ev),
            Area::Activity => activity::evaluate(&mut ev),
            Area::Cache => cache::evaluate(&mut ev),
            Area::Replication => replication::evaluate(&mut ev),
            Area::Vacuum => vacuum::evaluate(&mut ev),
            Area::Wal => wal::evaluate(&mut ev),
            // no rule reads these areas
            Area::Statements | Area::UnusedIndexes => {}
        }
    }
    ev.out
}

/// The sparkline points a new sample of `area` yields, read from the server state after the
/// sample (with its rates) was stored.
pub fn history_points(server: &ServerState, area: Area) -> Vec<(Series, f64)> {
    let point = match area {
        Area::Server => server
            .server()
            .and_then(|s| s.xact_per_s)
            .map(|v| (Series::XACT_PER_S, v)),
        Area::Activity => server
            .activity()
            .map(|a| (Series::CONNECTIONS, f64::from(a.client_backends))),
        Area::Cache => server
            .interval_hit_ratio()
            .map(|(ratio, _)| (Series::CACHE_HIT_RATIO, ratio)),
        Area::Replication => server
            .worst_replay_lag_bytes()
            .map(|lag| (Series::REPLAY_LAG_BYTES, lag as f64)),
        Area::Wal => wal::history(server),
        Area::Statements | Area::UnusedIndexes | Area::Vacuum => None,
    };
    point.into_iter().collect()
}

/// The JSON of one sample (`pgvitals snapshot`): the sample's own fields, except where an
/// area bounds what it lists.
pub fn sample_json(sample: &Sample) -> Value {
    match sample {
        Sample::Statements(s) => statements::json(s),
        Sample::Activity(a) => activity::json(a),
        Sample::Server(_)
        | Sample::Cache(_)
        | Sample::Replication(_)
        | Sample::UnusedIndexes(_)
        | Sample::Vacuum(_)
        | Sample::Wal(_) => serde_json::to_value(sample).unwrap_or(Value::Null),
    }
}
