//! Counters become per-second rates between two consecutive samples: the arithmetic every
//! area's derivation uses (each area's own is in [`super::areas`]).
//!
//! * The elapsed time is the **measured** one: the difference of the samples' server clocks
//!   (`collected_at`), never the nominal poll interval.
//! * A counter that goes backwards (pg_stat_statements_reset, pg_stat_reset, a restart, an
//!   evicted and re-created pg_stat_statements entry), a changed `stats_reset` or `stats_since`,
//!   or a new row starts a fresh baseline: the derived fields stay `None` ("no rate yet"),
//!   never a negative or absurd number, and never the lifetime counter shown as a rate.

use crate::sample::{EpochSeconds, GaugeMark};

/// Seconds between two server-clock readings, if positive.
pub(crate) fn elapsed(cur: EpochSeconds, prev: EpochSeconds) -> Option<f64> {
    let dt = cur - prev;
    (dt.is_finite() && dt > 0.0).then_some(dt)
}

/// Delta of a counter; `None` when it went backwards (a reset).
pub(crate) fn delta(cur: i64, prev: i64) -> Option<i64> {
    (cur >= prev).then(|| cur - prev)
}

pub(crate) fn rate(cur: i64, prev: i64, dt: f64) -> Option<f64> {
    delta(cur, prev).map(|d| d as f64 / dt)
}

pub(crate) fn ratio(hit: f64, read: f64) -> Option<f64> {
    let total = hit + read;
    (total > 0.0).then(|| hit / total)
}

/// Forecasts (time to wraparound, to a slot's invalidation) need the rate of a gauge over a
/// window longer than one poll: one interval's delta of an age that moves by a few hundred
/// a second is mostly noise, and the vacuum area is polled every 10 s at most. Readings are
/// kept as [`GaugeMark`]s at least [`MARK_EVERY_S`] apart (at most about
/// `WINDOW_S / MARK_EVERY_S` per row); the rate is the change from the oldest mark to the
/// current reading, over the server clock (`collected_at`, so a recording replayed through
/// the same derivation gives the same numbers).
///
/// Marks older than [`WINDOW_S`] are dropped, except the newest of them when no younger
/// one is left (polls further apart than the window still get a rate).
pub const WINDOW_S: f64 = 900.0;
/// A new mark is kept once the newest kept one is this old (server clock seconds).
pub const MARK_EVERY_S: f64 = 30.0;
/// The shortest window that gives a rate: until the oldest usable mark is this old, the
/// rate is `None` ("estimating").
pub const MIN_WINDOW_S: f64 = 60.0;

/// Which way a gauge moves between resets; a move the other way makes the earlier marks
/// unusable (the window restarts at the current reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Grows (an xid age, retained WAL); a drop is a reset (VACUUM FREEZE advanced
    /// `datfrozenxid`, a consumer advanced `restart_lsn`).
    Grows,
    /// Shrinks (`safe_wal_size`); a rise is a reset.
    Shrinks,
}

/// The marks of a gauge after a new reading `value` at `at`, given the marks carried by the
/// previous sample (`prev_marks`) and the previous reading (`prev_value`; `None`: a new row,
/// the first sample, a reconnect, or a gauge that was not known then). Restarts at the
/// current reading when the gauge moved against `dir` since the previous reading, or when
/// the clock did not advance.
pub(crate) fn carry_marks(
    prev_marks: &[GaugeMark],
    prev_value: Option<(EpochSeconds, i64)>,
    at: EpochSeconds,
    value: i64,
    dir: Direction,
) -> Vec<GaugeMark> {
    let now = GaugeMark { at, value };
    let usable = match prev_value {
        Some((prev_at, prev)) => {
            let moved_back = match dir {
                Direction::Grows => value < prev,
                Direction::Shrinks => value > prev,
            };
            elapsed(at, prev_at).is_some() && !moved_back
        }
        None => false,
    };
    if !usable {
        return vec![now];
    }
    let mut marks: Vec<GaugeMark> = prev_marks.iter().copied().filter(|m| m.at < at).collect();
    while marks.len() >= 2 && at - marks[0].at > WINDOW_S {
        marks.remove(0);
    }
    if marks.last().is_none_or(|m| at - m.at >= MARK_EVERY_S) {
        marks.push(now);
    }
    marks
}

/// The rate of the gauge (per second, `>= 0`: the way it moves, see [`Direction`]) from the
/// oldest of `marks` to the reading `value` at `at`; `None` while that window is shorter than
/// [`MIN_WINDOW_S`] ("estimating").
pub(crate) fn window_rate(
    marks: &[GaugeMark],
    at: EpochSeconds,
    value: i64,
    dir: Direction,
) -> Option<f64> {
    let start = marks.first()?;
    let dt = elapsed(at, start.at).filter(|dt| *dt >= MIN_WINDOW_S)?;
    let moved = match dir {
        Direction::Grows => value - start.value,
        Direction::Shrinks => start.value - value,
    };
    (moved >= 0).then(|| moved as f64 / dt)
}

/// Seconds until a gauge at `value` reaches `limit` at `rate` (in the gauge's direction,
/// `distance` = how far it still has to go, <= 0 when already there): 0 when already there,
/// `None` without a rate or with a rate of 0 (no ETA rather than an infinite one).
pub(crate) fn eta_s(distance: i64, rate: Option<f64>) -> Option<f64> {
    let rate = rate?;
    if distance <= 0 {
        return Some(0.0);
    }
    (rate > 0.0 && rate.is_finite()).then(|| distance as f64 / rate)
}

#[cfg(test)]
mod window_tests {
    use super::*;

    /// Readings of a gauge every `every` seconds from `t0`, `value(t)` each, carried like
    /// the model does; the marks and rate after each.
    fn run(
        readings: impl IntoIterator<Item = (f64, i64)>,
        dir: Direction,
    ) -> Vec<(Vec<GaugeMark>, Option<f64>)> {
        let mut out: Vec<(Vec<GaugeMark>, Option<f64>)> = Vec::new();
        let mut prev: Option<(f64, i64)> = None;
        for (at, value) in readings {
            let prev_marks = out.last().map(|(m, _)| m.clone()).unwrap_or_default();
            let marks = carry_marks(&prev_marks, prev, at, value, dir);
            let rate = window_rate(&marks, at, value, dir);
            out.push((marks, rate));
            prev = Some((at, value));
        }
        out
    }

    #[test]
    fn estimating_until_the_window_spans_a_minute_then_the_rate_over_it() {
        // 120 per second, polled every 10 s
        let d = run(
            (0..=12).map(|i| (1000.0 + 10.0 * f64::from(i), 5_000 + 1_200 * i64::from(i))),
            Direction::Grows,
        );
        for (i, (_, rate)) in d.iter().enumerate().take(6) {
            assert_eq!(*rate, None, "poll {i}: {}s of window", 10 * i);
        }
        assert_eq!(d[6].1, Some(120.0), "60 s: a rate");
        assert_eq!(d[12].1, Some(120.0));
        // marks at least 30 s apart
        let marks: Vec<f64> = d[12].0.iter().map(|m| m.at).collect();
        assert_eq!(marks, [1000.0, 1030.0, 1060.0, 1090.0, 1120.0]);
    }

    #[test]
    fn the_rate_is_over_the_last_15_minutes_of_marks() {
        // 10 per second for 20 minutes, then 100 per second for 30 minutes, every 10 s
        let mut readings = Vec::new();
        let mut value = 0i64;
        for i in 0..300 {
            readings.push((f64::from(i) * 10.0, value));
            value += if i < 120 { 100 } else { 1_000 };
        }
        let d = run(readings, Direction::Grows);
        let (marks, rate) = d.last().cloned().unwrap_or_default();
        assert!(marks.len() <= 32, "{}", marks.len());
        let span = 2990.0 - marks[0].at;
        assert!((870.0..=WINDOW_S).contains(&span), "{span}");
        assert_eq!(rate, Some(100.0), "only the last 15 minutes count");
        // half way through the change the rate is between the two
        let mid = d[150].1.unwrap_or(0.0);
        assert!(mid > 10.0 && mid < 100.0, "{mid}");
    }

    #[test]
    fn a_drop_restarts_the_window_and_polls_further_apart_than_the_window_still_rate() {
        let readings = (0..=10).map(|i| (10.0 * f64::from(i), 1_000_000 + 500 * i64::from(i)));
        let mut all: Vec<(f64, i64)> = readings.collect();
        // VACUUM FREEZE: the age drops, then grows again at 50/s
        all.push((110.0, 1_000));
        for i in 1..=7 {
            all.push((110.0 + 10.0 * f64::from(i), 1_000 + 500 * i64::from(i)));
        }
        let d = run(all, Direction::Grows);
        assert_eq!(d[10].1, Some(50.0));
        assert_eq!(d[11].0.len(), 1, "the marks before the drop are dropped");
        assert_eq!(d[11].1, None, "estimating again");
        assert_eq!(d[16].1, None, "50 s after the drop");
        assert_eq!(d[17].1, Some(50.0), "60 s after the drop");
        // every 20 minutes: the previous mark is kept, beyond the 15-minute window
        let d = run(
            (0..4).map(|i| (1200.0 * f64::from(i), 6_000 * i64::from(i))),
            Direction::Grows,
        );
        assert_eq!(d[1].1, Some(5.0));
        assert_eq!(d[3].1, Some(5.0));
        assert!(d[3].0.len() <= 2);
    }

    #[test]
    fn a_shrinking_gauge_rates_its_shrink_and_a_rise_restarts() {
        let d = run(
            (0..=7).map(|i| (10.0 * f64::from(i), 1_000_000 - 1_000 * i64::from(i))),
            Direction::Shrinks,
        );
        assert_eq!(d[6].1, Some(100.0));
        let mut marks = d[7].0.clone();
        marks = carry_marks(
            &marks,
            Some((70.0, 993_000)),
            80.0,
            999_000,
            Direction::Shrinks,
        );
        assert_eq!(marks.len(), 1, "a rise (restart_lsn advanced) restarts");
        assert_eq!(window_rate(&marks, 80.0, 999_000, Direction::Shrinks), None);
    }

    #[test]
    fn a_clock_that_did_not_advance_restarts() {
        let marks = [GaugeMark { at: 0.0, value: 0 }];
        let m = carry_marks(&marks, Some((100.0, 10)), 100.0, 20, Direction::Grows);
        assert_eq!(
            m,
            [GaugeMark {
                at: 100.0,
                value: 20
            }]
        );
    }

    #[test]
    fn eta_is_none_without_a_rate_or_with_a_rate_of_zero_and_zero_when_there() {
        assert_eq!(eta_s(1_200, Some(120.0)), Some(10.0));
        assert_eq!(eta_s(1_200, Some(0.0)), None, "never, not infinity");
        assert_eq!(eta_s(1_200, None), None, "estimating");
        assert_eq!(eta_s(0, Some(0.0)), Some(0.0), "already there");
        assert_eq!(eta_s(-5, Some(3.0)), Some(0.0), "already past");
        assert_eq!(eta_s(-5, None), None, "still needs a rate");
    }
}

#[cfg(test)]
mod tests {
    use crate::model::areas::derive;
    use crate::sample::*;

    fn stmt(queryid: i64, calls: i64, total: f64) -> Statement {
        Statement {
            userid: 10,
            dbid: 5,
            queryid,
            toplevel: true,
            calls,
            total_exec_time_ms: total,
            mean_exec_time_ms: if calls > 0 { total / calls as f64 } else { 0.0 },
            rows: calls,
            ..Default::default()
        }
    }

    fn stmts(at: f64, list: Vec<Statement>) -> Sample {
        Sample::Statements(StatementsSample {
            collected_at: at,
            statements: list,
            ..Default::default()
        })
    }

    fn get(s: &Sample) -> &StatementsSample {
        match s {
            Sample::Statements(s) => s,
            _ => panic!("not statements"),
        }
    }

    #[test]
    fn statement_rates_use_the_measured_interval() {
        let prev = stmts(100.0, vec![stmt(1, 10, 100.0)]);
        // 2.5 s measured, although the nominal interval might be 2 s
        let mut cur = stmts(102.5, vec![stmt(1, 20, 350.0), stmt(2, 5, 5.0)]);
        derive(&mut cur, Some(&prev));
        let s = get(&cur);
        assert_eq!(s.statements[0].calls_per_s, Some(4.0));
        assert_eq!(s.statements[0].exec_time_ms_per_s, Some(100.0));
        assert_eq!(s.statements[0].interval_mean_exec_time_ms, Some(25.0));
        // a new entry has no baseline: no rate, not its lifetime counter
        assert_eq!(s.statements[1].calls_per_s, None);
    }

    #[test]
    fn each_entry_finds_its_own_previous_reading_in_key_order_or_not() {
        let key = |q: i64, user: u32, top: bool| Statement {
            userid: user,
            toplevel: top,
            ..stmt(q, 10 * q, 10.0 * q as f64)
        };
        // the collector's key order, and a recording's arbitrary one
        let sorted = vec![
            key(1, 10, true),
            key(2, 10, false),
            key(2, 10, true),
            key(3, 11, true),
        ];
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        shuffled.swap(0, 2);
        for prev in [sorted.clone(), shuffled] {
            let prev = stmts(100.0, prev);
            let cur: Vec<Statement> = sorted
                .iter()
                .map(|s| Statement {
                    calls: s.calls + s.queryid + i64::from(s.toplevel),
                    ..s.clone()
                })
                .chain([key(4, 10, true)])
                .collect();
            let mut cur = stmts(101.0, cur);
            derive(&mut cur, Some(&prev));
            for s in &get(&cur).statements {
                let want = (s.queryid < 4).then(|| (s.queryid + i64::from(s.toplevel)) as f64);
                assert_eq!(s.calls_per_s, want, "{s:?}");
            }
        }
    }

    #[test]
    fn io_wal_jit_and_plan_rates_only_where_both_readings_have_the_column() {
        let with = |s: Statement, read: f64, wal: i64, jit: Option<f64>| Statement {
            total_plan_time_ms: (read / 2.0).into(),
            shared_blk_read_time_ms: read.into(),
            shared_blk_write_time_ms: 0.0.into(),
            temp_blk_read_time_ms: jit.map(|_| 1.0).into(),
            temp_blk_write_time_ms: jit.into(),
            wal_records: (wal / 100).into(),
            wal_fpi: 0.into(),
            wal_bytes: wal.into(),
            jit_time_ms: jit.into(),
            ..s
        };
        let prev = stmts(
            100.0,
            vec![
                with(stmt(1, 10, 100.0), 10.0, 1000, Some(4.0)),
                with(stmt(2, 10, 100.0), 10.0, 1000, None),
            ],
        );
        let mut cur = stmts(
            102.0,
            vec![
                with(stmt(1, 20, 200.0), 30.0, 5000, Some(10.0)),
                // a version without temp times or JIT (before 1.10)
                with(stmt(2, 20, 200.0), 14.0, 1000, None),
            ],
        );
        derive(&mut cur, Some(&prev));
        let (a, b) = (&get(&cur).statements[0], &get(&cur).statements[1]);
        assert_eq!(a.shared_blk_read_time_ms_per_s, Some(10.0));
        assert_eq!(a.shared_blk_write_time_ms_per_s, Some(0.0));
        assert_eq!(a.plan_time_ms_per_s, Some(5.0));
        assert_eq!(a.wal_bytes_per_s, Some(2000.0));
        assert_eq!(a.wal_records_per_s, Some(20.0));
        assert_eq!(a.wal_fpi_per_s, Some(0.0));
        assert_eq!(a.jit_time_ms_per_s, Some(3.0));
        assert_eq!(a.temp_blk_read_time_ms_per_s, Some(0.0));
        assert_eq!(a.temp_blk_write_time_ms_per_s, Some(3.0));
        assert_eq!(b.shared_blk_read_time_ms_per_s, Some(2.0));
        assert_eq!(b.wal_bytes_per_s, Some(0.0));
        assert_eq!(b.jit_time_ms_per_s, None, "no column, no rate (not 0)");
        assert_eq!(b.temp_blk_write_time_ms_per_s, None);
    }

    #[test]
    fn a_reset_starts_a_fresh_baseline_instead_of_negative_rates() {
        let prev = stmts(100.0, vec![stmt(1, 1000, 5000.0)]);
        let mut cur = stmts(102.0, vec![stmt(1, 3, 2.0)]);
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);
        // and the next sample rates against the post-reset one
        let mut next = stmts(104.0, vec![stmt(1, 7, 4.0)]);
        derive(&mut next, Some(&cur));
        assert_eq!(get(&next).statements[0].calls_per_s, Some(2.0));
    }

    #[test]
    fn changed_stats_reset_or_stats_since_means_no_rates() {
        let prev = stmts(100.0, vec![stmt(1, 10, 10.0)]);
        let mut cur = stmts(102.0, vec![stmt(1, 20, 20.0)]);
        if let Sample::Statements(s) = &mut cur {
            s.stats_reset = Some(101.0);
        }
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);

        let mut evicted = stmt(1, 20, 20.0);
        evicted.stats_since = 101.0.into();
        let mut cur = stmts(102.0, vec![evicted]);
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);
    }

    #[test]
    fn a_clock_that_did_not_advance_gives_no_rates() {
        let prev = stmts(100.0, vec![stmt(1, 10, 10.0)]);
        let mut cur = stmts(100.0, vec![stmt(1, 20, 20.0)]);
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);
    }

    fn db(name: &str, hit: i64, read: i64) -> DatabaseCache {
        DatabaseCache {
            datname: name.into(),
            blks_hit: hit,
            blks_read: read,
            ..Default::default()
        }
    }

    #[test]
    fn interval_hit_ratio_reflects_only_the_interval() {
        // lifetime ratio 99 %, but the last interval read as much as it hit
        let prev = Sample::Cache(CacheSample {
            collected_at: 0.0,
            databases: vec![db("app", 990_000, 10_000)],
            tables: vec![],
            tables_collected_at: None,
            tables_total: 0,
        });
        let mut cur = Sample::Cache(CacheSample {
            collected_at: 2.0,
            databases: vec![db("app", 991_000, 11_000)],
            tables: vec![],
            tables_collected_at: None,
            tables_total: 0,
        });
        derive(&mut cur, Some(&prev));
        let Sample::Cache(c) = &cur else {
            panic!("not cache")
        };
        assert_eq!(c.databases[0].interval_hit_ratio, Some(0.5));
        assert_eq!(c.databases[0].blks_read_per_s, Some(500.0));
    }

    fn table(read: i64, hit: i64) -> TableCache {
        TableCache {
            relid: 7,
            heap_blks_read: read,
            heap_blks_hit: hit,
            ..Default::default()
        }
    }

    fn tables_sample(at: f64, tables_at: f64, t: TableCache) -> Sample {
        Sample::Cache(CacheSample {
            collected_at: at,
            databases: vec![],
            tables_collected_at: Some(tables_at),
            tables_total: 0,
            tables: vec![t],
        })
    }

    #[test]
    fn table_rates_use_their_own_read_times_and_survive_carried_forward_polls() {
        let first = tables_sample(0.0, 0.0, table(100, 100));
        // tables read again 5 s later, while the databases were polled every second
        let mut second = tables_sample(5.0, 5.0, table(600, 600));
        derive(&mut second, Some(&first));
        let Sample::Cache(c) = &second else {
            panic!("not cache")
        };
        assert_eq!(c.tables[0].blks_read_per_s, Some(100.0));
        // a poll that carried the tables forward keeps their rates, instead of showing 0
        let mut third = tables_sample(6.0, 5.0, table(600, 600));
        derive(&mut third, Some(&second));
        let Sample::Cache(c) = &third else {
            panic!("not cache")
        };
        assert_eq!(c.tables[0].blks_read_per_s, Some(100.0));
        assert_eq!(c.tables[0].interval_hit_ratio, Some(0.5));
    }

    #[test]
    fn pg_stat_reset_on_a_database_gives_no_rates() {
        let prev = Sample::Cache(CacheSample {
            collected_at: 0.0,
            databases: vec![db("app", 990_000, 10_000)],
            tables: vec![],
            tables_collected_at: None,
            tables_total: 0,
        });
        let mut cur = Sample::Cache(CacheSample {
            collected_at: 2.0,
            databases: vec![db("app", 50, 5)],
            tables: vec![],
            tables_collected_at: None,
            tables_total: 0,
        });
        derive(&mut cur, Some(&prev));
        let Sample::Cache(c) = &cur else {
            panic!("not cache")
        };
        assert_eq!(c.databases[0].interval_hit_ratio, None);
        assert_eq!(c.databases[0].blks_hit_per_s, None);
    }

    #[test]
    fn server_restart_gives_no_transaction_rate() {
        let p = ServerSample {
            collected_at: 0.0,
            uptime_s: 1000.0,
            xact_commit: 5000,
            ..Default::default()
        };
        let mut c = ServerSample {
            collected_at: 2.0,
            uptime_s: 1.0,
            xact_commit: 10,
            ..Default::default()
        };
        let mut s = Sample::Server(c.clone());
        derive(&mut s, Some(&Sample::Server(p.clone())));
        assert!(matches!(
            s,
            Sample::Server(ServerSample {
                xact_per_s: None,
                ..
            })
        ));
        c.uptime_s = 1002.0;
        c.xact_commit = 5100;
        let mut s = Sample::Server(c);
        derive(&mut s, Some(&Sample::Server(p)));
        assert!(matches!(
            s,
            Sample::Server(ServerSample {
                xact_per_s: Some(50.0),
                ..
            })
        ));
    }
}
