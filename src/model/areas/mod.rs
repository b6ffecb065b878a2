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
pub mod waits;
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
        // forecasts over a window of samples (no previous sample: the window starts here)
        (Sample::Vacuum(c), Some(Sample::Vacuum(p))) => vacuum::derive(c, Some(p)),
        (Sample::Vacuum(c), _) => vacuum::derive(c, None),
        (Sample::Replication(c), Some(Sample::Replication(p))) => replication::derive(c, Some(p)),
        (Sample::Replication(c), _) => replication::derive(c, None),
        // no rates in these areas (their ages are measured on the server clock)
        (
            Sample::Server(_)
            | Sample::Statements(_)
            | Sample::Cache(_)
            | Sample::Activity(_)
            | Sample::UnusedIndexes(_)
            | Sample::Wal(_)
            | Sample::Waits(_),
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
            Area::Statements => statements::evaluate(&mut ev),
            // no rule reads these areas
            Area::UnusedIndexes | Area::Waits => {}
        }
    }
    ev.out
}

/// Every series [`history_points`] gives (a recording names them in its `series` table).
pub const SERIES: [Series; 5] = [
    Series::XACT_PER_S,
    Series::CONNECTIONS,
    Series::CACHE_HIT_RATIO,
    Series::REPLAY_LAG_BYTES,
    wal::WAL_BYTES_PER_S,
];

/// The series whose key is `key`.
pub fn series_named(key: &str) -> Option<Series> {
    SERIES.into_iter().find(|s| s.key == key)
}

/// Whether samples of `area` matter to alerts or history: some rule reads them, or they
/// give sparkline points ([`history_points`]). A store that keeps only alerts and points (a
/// recorder's) need not derive the others (statements, unused indexes).
pub fn feeds_alerts_or_history(area: Area) -> bool {
    let points = match area {
        Area::Server | Area::Activity | Area::Cache | Area::Replication | Area::Wal => true,
        Area::Statements | Area::UnusedIndexes | Area::Vacuum | Area::Waits => false,
    };
    points || area.rules().next().is_some()
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
        Area::Statements | Area::UnusedIndexes | Area::Vacuum | Area::Waits => None,
    };
    point.into_iter().collect()
}

/// Keep what a new sample adds to the server's state beyond the area's latest sample (the
/// wait profile's window), before it is stored.
pub fn absorb(server: &mut ServerState, sample: &Sample) {
    match sample {
        Sample::Waits(w) => server.waits.push(w),
        Sample::Server(_)
        | Sample::Activity(_)
        | Sample::Statements(_)
        | Sample::Cache(_)
        | Sample::Replication(_)
        | Sample::UnusedIndexes(_)
        | Sample::Vacuum(_)
        | Sample::Wal(_) => {}
    }
}

/// The JSON of one sample of `server` (`pgvitals snapshot`): the sample's own fields, except
/// where an area bounds what it lists or adds the wait profile.
pub fn sample_json(server: &ServerState, sample: &Sample) -> Value {
    match sample {
        Sample::Statements(s) => statements::json(s, &server.waits),
        Sample::Activity(a) => activity::json(a),
        Sample::Waits(w) => server.waits.json(w, server.facts.as_ref()),
        Sample::Server(_)
        | Sample::Cache(_)
        | Sample::Replication(_)
        | Sample::UnusedIndexes(_)
        | Sample::Vacuum(_)
        | Sample::Wal(_) => serde_json::to_value(sample).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::*;

    /// Two polls of `area` 2 s apart on a busy server: every counter of the second is higher
    /// (the same statement, database and WAL stream, more transactions, calls, blocks and
    /// WAL), everything else the same.
    fn two_polls(area: Area) -> (Sample, Sample) {
        let at = |i: i64| 1_000.0 + 2.0 * i as f64;
        let poll = |i: i64| -> Sample {
            match area {
                Area::Server => Sample::Server(ServerSample {
                    collected_at: at(i),
                    uptime_s: 500.0 + at(i),
                    xact_commit: 1_000 + 300 * i,
                    xact_rollback: 10 + i,
                    ..Default::default()
                }),
                Area::Activity => Sample::Activity(ActivitySample {
                    collected_at: at(i),
                    client_backends: 12,
                    ..Default::default()
                }),
                Area::Statements => Sample::Statements(StatementsSample {
                    collected_at: at(i),
                    statements: vec![Statement {
                        userid: 10,
                        dbid: 5,
                        queryid: 42,
                        toplevel: true,
                        calls: 100 + 50 * i,
                        total_exec_time_ms: 1_000.0 + 400.0 * i as f64,
                        rows: 100 + 50 * i,
                        shared_blks_hit: 5_000 + 900 * i,
                        shared_blks_read: 50 + 9 * i,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                Area::Cache => Sample::Cache(CacheSample {
                    collected_at: at(i),
                    databases: vec![DatabaseCache {
                        datname: "app".into(),
                        blks_hit: 990_000 + 9_000 * i,
                        blks_read: 10_000 + 1_000 * i,
                        ..Default::default()
                    }],
                    tables_collected_at: Some(at(i)),
                    tables: vec![TableCache {
                        relid: 7,
                        heap_blks_hit: 1_000 + 100 * i,
                        heap_blks_read: 100 + 10 * i,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                Area::Replication => Sample::Replication(ReplicationSample {
                    collected_at: at(i),
                    role: ServerRole::Primary,
                    current_wal_lsn: Some(format!("0/{:X}", 0x1000_0000 + 0x10_000 * i)),
                    standbys: vec![Standby {
                        pid: 99,
                        application_name: "standby1".into(),
                        replay_lag_bytes: Some(4096 * i),
                        ..Default::default()
                    }],
                    slots: vec![],
                    standby_status: None,
                }),
                Area::UnusedIndexes => Sample::UnusedIndexes(UnusedIndexesSample {
                    collected_at: at(i),
                    indexes: vec![UnusedIndex {
                        indexrelid: 77,
                        indexrelname: "t_a".into(),
                        index_size_bytes: 8192 * (1 + i),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                Area::Vacuum => Sample::Vacuum(VacuumSample {
                    collected_at: at(i),
                    autovacuum_freeze_max_age: 200_000_000,
                    databases: vec![DatabaseAge {
                        datname: "app".into(),
                        xid_age: 1_000 + 300 * i,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                Area::Wal => Sample::Wal(WalSample {
                    collected_at: at(i),
                    wal_lsn_bytes: Some(50_000 + 80_000 * i),
                    wal_records: Some(500 + 700 * i),
                    wal_fpi: Some(10 + 20 * i),
                    wal_bytes: Some(40_000 + 80_000 * i),
                    wal_stats_reset: Some(100.0),
                    checkpointer_stats_reset: Some(100.0),
                    num_timed: 3,
                    num_requested: 1 + i,
                    archive_mode: "off".into(),
                    ..Default::default()
                }),
                Area::Waits => Sample::Waits(WaitsSample {
                    collected_at: at(i),
                    compute_query_id: Some("on".into()),
                    waits: vec![ActiveWait {
                        query_id: Some(42),
                        wait_event_type: Some("Lock".into()),
                        wait_event: Some("relation".into()),
                        backends: 1 + i as i32,
                    }],
                }),
            }
        };
        (poll(0), poll(1))
    }

    /// [`Area::needs_rates`] (what `pgvitals snapshot` samples twice) says exactly which
    /// areas' derived output depends on the previous sample: derived with and without the
    /// first of two polls, the second comes out different (in its JSON, what a snapshot
    /// shows) only for those areas. The vacuum and replication forecasts carry marks from the
    /// previous sample too (not in the JSON), but need a window of a minute that two polls
    /// `--interval` apart do not make: their JSON is the same either way.
    #[test]
    fn the_areas_that_need_rates_are_those_whose_derive_reads_the_previous_sample() {
        for area in Area::ALL {
            let (prev, cur) = two_polls(area);
            let mut alone = cur.clone();
            derive(&mut alone, None);
            let mut with_prev = cur.clone();
            derive(&mut with_prev, Some(&prev));
            let server = ServerState::new("s".into(), std::time::UNIX_EPOCH);
            assert_eq!(
                sample_json(&server, &alone) != sample_json(&server, &with_prev),
                area.needs_rates(),
                "{}: derived alone {alone:?}, with the previous poll {with_prev:?}",
                area.key()
            );
        }
    }
}
