//! Short history for sparklines: a ring of (time, value) per series and server.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use super::ServerState;
use crate::sample::Area;

/// How many points a series keeps (10 minutes at a 2 s interval).
pub const CAPACITY: usize = 300;

/// The series drawn as sparklines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Series {
    /// Transactions (commits + rollbacks) per second.
    XactPerS,
    /// Client backends.
    Connections,
    /// Buffer cache hit ratio over the interval, all databases, 0..1.
    CacheHitRatio,
    /// Worst replay lag, bytes.
    ReplayLagBytes,
}

/// Rings of recent values per series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    series: BTreeMap<Series, VecDeque<(SystemTime, f64)>>,
}

impl History {
    pub fn push(&mut self, series: Series, at: SystemTime, value: f64) {
        let ring = self.series.entry(series).or_default();
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back((at, value));
    }

    /// Values of a series, oldest first.
    pub fn values(&self, series: Series) -> impl Iterator<Item = f64> + '_ {
        self.series
            .get(&series)
            .into_iter()
            .flat_map(|r| r.iter().map(|(_, v)| *v))
    }

    pub fn len(&self, series: Series) -> usize {
        self.series.get(&series).map_or(0, VecDeque::len)
    }

    pub fn is_empty(&self) -> bool {
        self.series.values().all(VecDeque::is_empty)
    }
}

/// The history points a new sample of `area` yields, read from the server state after the
/// sample (with its rates) was stored.
pub fn points(server: &ServerState, area: Area) -> Vec<(Series, f64)> {
    let mut out = Vec::new();
    match area {
        Area::Server => {
            if let Some(v) = server.server().and_then(|s| s.xact_per_s) {
                out.push((Series::XactPerS, v));
            }
        }
        Area::Activity => {
            if let Some(a) = server.activity() {
                out.push((Series::Connections, f64::from(a.client_backends)));
            }
        }
        Area::Cache => {
            if let Some((ratio, _)) = server.interval_hit_ratio() {
                out.push((Series::CacheHitRatio, ratio));
            }
        }
        Area::Replication => {
            if let Some(lag) = server.worst_replay_lag_bytes() {
                out.push((Series::ReplayLagBytes, lag as f64));
            }
        }
        // no sparkline reads these areas
        Area::Statements | Area::UnusedIndexes | Area::Vacuum => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_capacity_points() {
        let mut h = History::default();
        let t = SystemTime::UNIX_EPOCH;
        for i in 0..(CAPACITY + 10) {
            h.push(Series::XactPerS, t, i as f64);
        }
        assert_eq!(h.len(Series::XactPerS), CAPACITY);
        assert_eq!(h.values(Series::XactPerS).next(), Some(10.0));
        assert_eq!(h.len(Series::Connections), 0);
    }
}
