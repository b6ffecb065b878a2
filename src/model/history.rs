//! Short history for sparklines: a ring of (time, value) per series and server.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

/// How many points a series keeps (10 minutes at a 2 s interval).
pub const CAPACITY: usize = 300;

/// How a series' values read (labels and the sparkline's scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesUnit {
    /// Events per second.
    PerSecond,
    /// A count.
    Count,
    /// A ratio 0..1, drawn over 0.5..1 (where a hit ratio matters).
    Ratio,
    /// Bytes.
    Bytes,
    /// Bytes per second.
    BytesPerSecond,
}

/// A series drawn as a sparkline: its key (unique, the name of the value it follows) and
/// unit. Each area declares its own series (a `const`) where it pushes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Series {
    pub key: &'static str,
    pub unit: SeriesUnit,
}

impl Series {
    /// Transactions (commits + rollbacks) per second.
    pub const XACT_PER_S: Series = Series {
        key: "xact_per_s",
        unit: SeriesUnit::PerSecond,
    };
    /// Client backends.
    pub const CONNECTIONS: Series = Series {
        key: "client_backends",
        unit: SeriesUnit::Count,
    };
    /// Buffer cache hit ratio over the interval, all databases, 0..1.
    pub const CACHE_HIT_RATIO: Series = Series {
        key: "interval_hit_ratio",
        unit: SeriesUnit::Ratio,
    };
    /// Worst replay lag, bytes.
    pub const REPLAY_LAG_BYTES: Series = Series {
        key: "replay_lag_bytes",
        unit: SeriesUnit::Bytes,
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_capacity_points() {
        let mut h = History::default();
        let t = SystemTime::UNIX_EPOCH;
        for i in 0..(CAPACITY + 10) {
            h.push(Series::XACT_PER_S, t, i as f64);
        }
        assert_eq!(h.len(Series::XACT_PER_S), CAPACITY);
        assert_eq!(h.values(Series::XACT_PER_S).next(), Some(10.0));
        assert_eq!(h.len(Series::CONNECTIONS), 0);
    }
}
