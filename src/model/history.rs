//! History for the sparklines and the history panel: per server and series, every point of
//! the last hour ([`RAW_S`]) and, before that, the worst value of each minute for a day
//! ([`DAY_S`]). The samples fill it as they arrive; with a recording it is loaded from the
//! recording's `points` table ([`History::load`]), so the panel covers hours, not only what
//! this screen has seen.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

/// How long every point is kept (seconds): one hour.
pub const RAW_S: f64 = 3600.0;

/// The most raw points a series keeps: an hour at the fastest interval (250 ms).
pub const RAW_MAX: usize = 14_400;

/// How long minute buckets are kept (seconds): a day.
pub const DAY_S: f64 = 86_400.0;

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

impl SeriesUnit {
    /// The worse of two values: the lower ratio (a hit ratio falls when it goes wrong),
    /// the higher of anything else.
    pub fn worse(self, a: f64, b: f64) -> f64 {
        match self {
            SeriesUnit::Ratio => a.min(b),
            _ => a.max(b),
        }
    }
}

/// A series drawn as a sparkline: its key (unique, the name of the value it follows, and
/// the `series.name` of a recording) and unit. Each area declares its own series (a
/// `const`) where it pushes them; [`crate::model::areas::SERIES`] lists them all.
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

fn epoch_s(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn from_epoch_s(s: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s.max(0.0))
}

/// One series: the raw points of the last hour, and older minutes (start of the minute,
/// worst value), both oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
struct Track {
    raw: VecDeque<(f64, f64)>,
    minutes: VecDeque<(f64, f64)>,
}

impl Track {
    fn push(&mut self, unit: SeriesUnit, at: f64, value: f64) {
        self.raw.push_back((at, value));
        while let Some(&(t, v)) = self.raw.front() {
            if t >= at - RAW_S && self.raw.len() <= RAW_MAX {
                break;
            }
            self.raw.pop_front();
            let minute = (t / 60.0).floor() * 60.0;
            match self.minutes.back_mut() {
                Some((m, w)) if *m == minute => *w = unit.worse(*w, v),
                _ => self.minutes.push_back((minute, v)),
            }
        }
        while self.minutes.front().is_some_and(|(m, _)| *m < at - DAY_S) {
            self.minutes.pop_front();
        }
    }
}

/// The history of one server: a [`Track`] per series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    series: BTreeMap<Series, Track>,
}

impl History {
    /// Add a point of `series` at `at`. Points an hour older than the newest fold into
    /// their minute; minutes a day older go.
    pub fn push(&mut self, series: Series, at: SystemTime, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.series
            .entry(series)
            .or_default()
            .push(series.unit, epoch_s(at), value);
    }

    /// Replace `series` with `points` (epoch seconds, value), oldest first: what a recording
    /// holds before the time it is read at. Later pushes go on from there.
    pub fn load(&mut self, series: Series, points: impl IntoIterator<Item = (f64, f64)>) {
        let mut track = Track::default();
        for (at, v) in points {
            if v.is_finite() {
                track.push(series.unit, at, v);
            }
        }
        self.series.insert(series, track);
    }

    /// The last `n` raw values of a series, oldest first.
    pub fn recent(&self, series: Series, n: usize) -> Vec<f64> {
        let Some(track) = self.series.get(&series) else {
            return Vec::new();
        };
        let skip = track.raw.len().saturating_sub(n);
        track.raw.iter().skip(skip).map(|(_, v)| *v).collect()
    }

    /// The newest value of a series.
    pub fn last(&self, series: Series) -> Option<f64> {
        self.series.get(&series)?.raw.back().map(|(_, v)| *v)
    }

    /// `n` columns over the `span_s` seconds that end at `end`: the worst value of the
    /// points (and minutes) in each, `None` where there is none.
    pub fn columns(
        &self,
        series: Series,
        end: SystemTime,
        span_s: f64,
        n: usize,
    ) -> Vec<Option<f64>> {
        let mut out = vec![None; n];
        let Some(track) = self.series.get(&series) else {
            return out;
        };
        if n == 0 || span_s <= 0.0 {
            return out;
        }
        let end = epoch_s(end);
        let start = end - span_s;
        let width = span_s / n as f64;
        let mut place = |t: f64, v: f64| {
            if t > start && t <= end {
                let i = (((t - start) / width).ceil() as usize).clamp(1, n) - 1;
                out[i] = Some(out[i].map_or(v, |w: f64| series.unit.worse(w, v)));
            }
        };
        // a minute counts in the column of its middle
        for &(m, v) in &track.minutes {
            place(m + 30.0, v);
        }
        for &(t, v) in &track.raw {
            place(t, v);
        }
        out
    }

    /// Raw points of a series (not counting minutes).
    pub fn len(&self, series: Series) -> usize {
        self.series.get(&series).map_or(0, |t| t.raw.len())
    }

    pub fn is_empty(&self) -> bool {
        self.series
            .values()
            .all(|t| t.raw.is_empty() && t.minutes.is_empty())
    }

    /// The time of the oldest point or minute of any series.
    pub fn oldest(&self) -> Option<SystemTime> {
        self.series
            .values()
            .filter_map(|t| {
                t.minutes
                    .front()
                    .or(t.raw.front())
                    .map(|(at, _)| from_epoch_s(*at))
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: f64) -> SystemTime {
        from_epoch_s(s)
    }

    #[test]
    fn an_hour_is_kept_point_by_point_and_older_points_as_the_worst_of_their_minute() {
        let mut h = History::default();
        let t0 = 1_800_000_000.0;
        // two hours at 2 s; the value is the minute's index, a spike of 1000 at 00:10:30
        for i in 0..3600 {
            let t = t0 + f64::from(i) * 2.0;
            let v = if i == 315 {
                1000.0
            } else {
                (f64::from(i) * 2.0 / 60.0).floor()
            };
            h.push(Series::XACT_PER_S, at(t), v);
        }
        let newest = t0 + 7198.0;
        assert_eq!(
            h.len(Series::XACT_PER_S),
            1801,
            "the last hour, every point"
        );
        assert_eq!(h.last(Series::XACT_PER_S), Some(119.0));
        assert_eq!(h.recent(Series::XACT_PER_S, 3), vec![119.0, 119.0, 119.0]);
        // 2 h in 120 columns: one per minute, the spike kept in its minute
        let cols = h.columns(Series::XACT_PER_S, at(newest), 7200.0, 120);
        assert_eq!(cols[10], Some(1000.0), "{:?}", &cols[..12]);
        assert_eq!(cols[9], Some(9.0));
        assert_eq!(cols[119], Some(119.0));
        assert!(cols.iter().all(Option::is_some), "{cols:?}");
        // 10 minutes: the older hour is outside
        let cols = h.columns(Series::XACT_PER_S, at(newest), 600.0, 10);
        assert_eq!(cols[0], Some(110.0));
        assert_eq!(cols[9], Some(119.0));
        // a day later, the minutes are gone too
        h.push(Series::XACT_PER_S, at(newest + DAY_S + 3600.0), 1.0);
        let cols = h.columns(Series::XACT_PER_S, at(newest + DAY_S + 3600.0), DAY_S, 24);
        assert_eq!(cols.iter().flatten().count(), 1, "{cols:?}");
    }

    #[test]
    fn a_ratio_keeps_its_lowest_value_and_empty_columns_are_none() {
        let mut h = History::default();
        let s = Series::CACHE_HIT_RATIO;
        h.load(
            s,
            [(100.0, 0.99), (101.0, 0.50), (102.0, 0.98), (130.0, 0.97)],
        );
        let cols = h.columns(s, at(130.0), 30.0, 3);
        assert_eq!(cols, vec![Some(0.50), None, Some(0.97)]);
        assert_eq!(
            h.columns(Series::CONNECTIONS, at(130.0), 30.0, 3),
            vec![None; 3]
        );
        assert_eq!(h.oldest(), Some(at(100.0)));
        // non-finite values are not points
        h.push(s, at(131.0), f64::NAN);
        assert_eq!(h.last(s), Some(0.97));
    }
}
