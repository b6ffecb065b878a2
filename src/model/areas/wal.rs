//! The derived fields of the WAL area: WAL rates over the interval, the share of requested
//! checkpoints over a sliding window of about an hour, and whether archiving fails.
//!
//! * WAL bytes per second come from the WAL position's delta between two samples (the insert
//!   position on a primary, the replay position on a standby): exact at the moment of each
//!   poll and there on every major, where `pg_stat_wal.wal_bytes` (14+) lags by up to a
//!   second and on a standby counts only the little WAL it writes itself. Records and
//!   full-page images per second come from `pg_stat_wal` (14+). A reset (`stats_reset`
//!   changed, a counter going backwards) gives no rate.
//! * Checkpoints: a checkpoint happens every few minutes at most, so the share of requested
//!   ones (WAL reached `max_wal_size`) is measured over up to an hour of readings kept at
//!   least [`MARK_EVERY_S`] apart, not over one interval. A reset clears the window.
//! * Archiving fails when the last failure is newer than the last success; the age of the
//!   last success is how long WAL has been piling up.
//!
//! Rules: [`Rule::ArchiveFailing`] (warning at once, critical after 10 minutes by default)
//! and [`Rule::CheckpointsRequested`] (share of requested checkpoints in the window, judged
//! with at least `min` checkpoints in it). Sparkline: WAL bytes per second.

use crate::model::alerts::{Evaluator, Subject};
use crate::model::history::{Series, SeriesUnit};
use crate::model::{ServerState, format_bytes, format_duration_s};
use crate::sample::{Area, CheckpointMark, Rule, Sample, WalSample};

/// WAL generated (replayed, on a standby) per second.
pub const WAL_BYTES_PER_S: Series = Series {
    key: "wal_bytes_per_s",
    unit: SeriesUnit::BytesPerSecond,
};

/// The latest WAL sample of `server`.
pub fn sample(server: &ServerState) -> Option<&WalSample> {
    match server.area(Area::Wal).sample.as_ref() {
        Some(Sample::Wal(w)) => Some(w),
        _ => None,
    }
}

/// The sparkline point of a new sample.
pub(super) fn history(server: &ServerState) -> Option<(Series, f64)> {
    sample(server)
        .and_then(|w| w.wal_bytes_per_s)
        .map(|v| (WAL_BYTES_PER_S, v))
}

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(w) = sample(ev.server) else {
        return;
    };
    archive_failing(ev, w);
    checkpoints_requested(ev, w);
}

/// [`Rule::ArchiveFailing`]: the value is the seconds since the last successful archive.
fn archive_failing(ev: &mut Evaluator<'_>, w: &WalSample) {
    if !w.archive_failing {
        return;
    }
    let piling = w.last_archived_age_s.unwrap_or(0.0);
    let last = w.last_failed_wal.clone().unwrap_or_else(|| "?".into());
    let failed = w.failed_count;
    ev.check(
        Rule::ArchiveFailing,
        || Subject::Server,
        piling,
        |threshold| {
            format!(
                "archiving fails ({failed} failures, last {last}); no WAL archived for {} (> {threshold}): WAL piles up until archive_command works",
                format_duration_s(piling)
            )
        },
    );
}

/// [`Rule::CheckpointsRequested`]: share of requested checkpoints over the window.
fn checkpoints_requested(ev: &mut Evaluator<'_>, w: &WalSample) {
    let (Some(ratio), Some(timed), Some(requested), Some(window)) = (
        w.checkpoints_requested_ratio,
        w.checkpoints_timed_in_window,
        w.checkpoints_requested_in_window,
        w.checkpoints_window_s,
    ) else {
        return;
    };
    let floor = ev.thresholds.get(Rule::CheckpointsRequested).min;
    if ((timed + requested) as f64) < floor {
        return;
    }
    let rate = w.wal_bytes_per_s.map_or_else(|| "-".into(), format_bytes);
    ev.check(
        Rule::CheckpointsRequested,
        || Subject::Server,
        ratio,
        |threshold| {
            format!(
                "{requested} of {} checkpoints in the last {} were requested (> {threshold}): max_wal_size is too small for {rate}/s of WAL",
                timed + requested,
                format_duration_s(window)
            )
        },
    );
}

/// The checkpoint window: readings older than this are dropped.
pub const WINDOW_S: f64 = 3600.0;
/// A new reading is kept once the newest kept one is this old.
pub const MARK_EVERY_S: f64 = 300.0;

/// Fill the fields of `c` that need no earlier sample (archiving state).
pub(super) fn derive_alone(c: &mut WalSample) {
    let failing = match (c.last_failed_time, c.last_archived_time) {
        (Some(failed), Some(archived)) => failed > archived,
        (Some(_), None) => c.failed_count > 0,
        (None, _) => false,
    };
    c.archive_failing = c.archiving_on() && failing;
    c.last_archived_age_s = c
        .last_archived_time
        .or(c.archiver_stats_reset)
        .map(|t| (c.collected_at - t).max(0.0));
    if c.checkpoint_marks.is_empty() {
        c.checkpoint_marks.push(mark(c));
    }
}

/// Fill the derived fields of `c` from the previous sample `p`.
pub(super) fn derive(c: &mut WalSample, p: &WalSample) {
    derive_alone(c);
    let dt = c.collected_at - p.collected_at;
    if !(dt.is_finite() && dt > 0.0) {
        return;
    }
    wal_rates(c, p, dt);
    checkpoint_window(c, p);
}

fn mark(c: &WalSample) -> CheckpointMark {
    CheckpointMark {
        at: c.collected_at,
        num_timed: c.num_timed,
        num_requested: c.num_requested,
    }
}

fn per_s(cur: Option<i64>, prev: Option<i64>, dt: f64) -> Option<f64> {
    let (cur, prev) = (cur?, prev?);
    (cur >= prev).then(|| (cur - prev) as f64 / dt)
}

fn wal_rates(c: &mut WalSample, p: &WalSample, dt: f64) {
    let same_stats = c.wal_stats_reset == p.wal_stats_reset;
    let from_stats = |cur, prev| same_stats.then(|| per_s(cur, prev, dt)).flatten();
    c.wal_records_per_s = from_stats(c.wal_records, p.wal_records);
    c.wal_fpi_per_s = from_stats(c.wal_fpi, p.wal_fpi);
    // The position is exact at the moment of the poll; pg_stat_wal lags by up to a second
    // (backends flush their WAL counters at most once a second: measured 1.2 MB of a 22 MB
    // burst in the first 0.7 s on 15), so it only stands in when there is no position.
    c.wal_bytes_per_s = per_s(c.wal_lsn_bytes, p.wal_lsn_bytes, dt)
        .or_else(|| from_stats(c.wal_bytes, p.wal_bytes));
    if c.in_recovery != p.in_recovery {
        // a promotion switches from the replay to the insert position
        c.wal_bytes_per_s = None;
    }
}

fn checkpoint_window(c: &mut WalSample, p: &WalSample) {
    let reset = c.checkpointer_stats_reset != p.checkpointer_stats_reset
        || c.num_timed < p.num_timed
        || c.num_requested < p.num_requested;
    let mut marks: Vec<CheckpointMark> = if reset {
        Vec::new()
    } else {
        p.checkpoint_marks
            .iter()
            .copied()
            .filter(|m| c.collected_at - m.at <= WINDOW_S)
            .collect()
    };
    let newest = marks.last().map(|m| m.at);
    if newest.is_none_or(|at| c.collected_at - at >= MARK_EVERY_S) {
        marks.push(mark(c));
    }
    c.checkpoint_marks = marks;
    let Some(start) = c.checkpoint_marks.first().copied() else {
        return;
    };
    if start.at >= c.collected_at {
        return;
    }
    let timed = c.num_timed - start.num_timed;
    let requested = c.num_requested - start.num_requested;
    c.checkpoints_window_s = Some(c.collected_at - start.at);
    c.checkpoints_timed_in_window = Some(timed);
    c.checkpoints_requested_in_window = Some(requested);
    c.checkpoints_requested_ratio =
        (timed + requested > 0).then(|| requested as f64 / (timed + requested) as f64);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn wal(at: f64) -> WalSample {
        WalSample {
            collected_at: at,
            archive_mode: "on".into(),
            wal_stats_reset: Some(100.0),
            checkpointer_stats_reset: Some(100.0),
            ..WalSample::default()
        }
    }

    /// Derives a sequence like the model does (each from the previous derived one).
    fn chain(samples: Vec<WalSample>) -> Vec<WalSample> {
        let mut out: Vec<WalSample> = Vec::new();
        for mut s in samples {
            match out.last() {
                Some(p) => derive(&mut s, p),
                None => derive_alone(&mut s),
            }
            out.push(s);
        }
        out
    }

    #[test]
    fn wal_rate_from_pg_stat_wal_or_the_position() {
        let mut a = wal(1000.0);
        a.wal_bytes = Some(1_000);
        a.wal_lsn_bytes = Some(50_000);
        a.wal_fpi = Some(10);
        let mut b = wal(1002.0);
        b.wal_bytes = Some(9_000);
        b.wal_lsn_bytes = Some(90_000);
        b.wal_fpi = Some(30);
        let d = chain(vec![a.clone(), b.clone()]);
        assert_eq!(d[0].wal_bytes_per_s, None, "no baseline yet");
        // the position's delta (exact), not pg_stat_wal's lagging counter
        assert_eq!(d[1].wal_bytes_per_s, Some(20_000.0));
        assert_eq!(d[1].wal_fpi_per_s, Some(10.0));
        // no position (a standby before its first replay): pg_stat_wal stands in
        let (mut na, mut nb) = (a.clone(), b.clone());
        na.wal_lsn_bytes = None;
        nb.wal_lsn_bytes = None;
        assert_eq!(chain(vec![na, nb])[1].wal_bytes_per_s, Some(4_000.0));
        // before 14 (no pg_stat_wal): the position's delta
        let (mut a12, mut b12) = (a.clone(), b.clone());
        for s in [&mut a12, &mut b12] {
            s.wal_bytes = None;
            s.wal_fpi = None;
            s.wal_stats_reset = None;
        }
        let d = chain(vec![a12, b12]);
        assert_eq!(d[1].wal_bytes_per_s, Some(20_000.0));
        assert_eq!(d[1].wal_fpi_per_s, None);
        // a standby: the replay position, whatever pg_stat_wal says
        let (mut sa, mut sb) = (a.clone(), b.clone());
        sa.in_recovery = true;
        sb.in_recovery = true;
        assert_eq!(chain(vec![sa, sb])[1].wal_bytes_per_s, Some(20_000.0));
        // a reset of pg_stat_wal: no record or image rate, never a negative one
        let mut r = b.clone();
        r.wal_stats_reset = Some(1001.0);
        r.wal_fpi = Some(1);
        assert_eq!(chain(vec![a, r])[1].wal_fpi_per_s, None);
    }

    #[test]
    fn requested_checkpoint_share_over_a_sliding_window() {
        // a checkpoint every 60 s, 3 of 4 requested, polled every 30 s for 2 hours
        let mut samples = Vec::new();
        let (mut timed, mut requested) = (5, 5);
        for i in 0..240 {
            let mut s = wal(1000.0 + 30.0 * i as f64);
            if i % 2 == 0 && i > 0 {
                if (i / 2) % 4 == 0 {
                    timed += 1;
                } else {
                    requested += 1;
                }
            }
            s.num_timed = timed;
            s.num_requested = requested;
            samples.push(s);
        }
        let d = chain(samples);
        let last = d.last().unwrap();
        let window = last.checkpoints_window_s.unwrap();
        assert!((3300.0..=WINDOW_S).contains(&window), "{window}");
        assert!(last.checkpoint_marks.len() <= 13);
        let ratio = last.checkpoints_requested_ratio.unwrap();
        assert!((0.70..=0.80).contains(&ratio), "{ratio}");
        // the lifetime counters would say otherwise after a change of pattern: only the
        // window counts
        let in_window = last.checkpoints_timed_in_window.unwrap()
            + last.checkpoints_requested_in_window.unwrap();
        assert!((50..=60).contains(&in_window), "{in_window}");
        // a stats reset clears the window
        let mut reset = wal(last.collected_at + 30.0);
        reset.checkpointer_stats_reset = Some(last.collected_at + 10.0);
        let mut r = reset.clone();
        derive(&mut r, last);
        assert_eq!(r.checkpoint_marks.len(), 1);
        assert_eq!(r.checkpoints_requested_ratio, None);
    }

    #[test]
    fn archiving_fails_when_the_last_failure_is_newer() {
        let mut s = wal(5000.0);
        s.last_archived_time = Some(4000.0);
        s.last_failed_time = Some(4500.0);
        s.failed_count = 3;
        derive_alone(&mut s);
        assert!(s.archive_failing);
        assert_eq!(s.last_archived_age_s, Some(1000.0));
        s.last_archived_time = Some(4600.0);
        derive_alone(&mut s);
        assert!(!s.archive_failing, "a success after the failure");
        // never archived, failing since the reset
        let mut n = wal(5000.0);
        n.archiver_stats_reset = Some(4900.0);
        n.last_failed_time = Some(4950.0);
        n.failed_count = 1;
        derive_alone(&mut n);
        assert!(n.archive_failing);
        assert_eq!(n.last_archived_age_s, Some(100.0));
        // archive_mode off: stale failures from before are not a failure now
        n.archive_mode = "off".into();
        derive_alone(&mut n);
        assert!(!n.archive_failing);
    }

    /// The two rules, through the store as the screen and the snapshot see them.
    #[test]
    fn archive_failing_and_requested_checkpoints_raise_alerts() {
        use std::time::{Duration, SystemTime};

        use crate::config::Thresholds;
        use crate::model::Store;
        use crate::sample::{Rule, Sample, ServerFacts, Update};

        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let mut store = Store::new(
            vec!["db:5432/app".into()],
            Thresholds::default(),
            Duration::from_secs(30),
            Duration::from_secs(60),
            t0,
        );
        store.apply(
            Update::Link {
                server: 0,
                event: crate::sample::LinkEvent::Connected(Box::new(ServerFacts::example(
                    "u", true,
                ))),
                at: t0,
            },
            t0,
        );
        // 40 minutes at 30 s: 9 of 12 checkpoints requested; archiving failing for the last
        // 15 minutes
        for i in 0..80 {
            let at = 1000.0 + 30.0 * f64::from(i);
            let mut s = wal(at);
            s.num_timed = 100 + i64::from(i) / 20;
            s.num_requested = 200 + (i64::from(i) * 9) / 80;
            s.last_archived_time = Some(1000.0 + 30.0 * 50.0);
            if i > 50 {
                s.last_failed_time = Some(at - 1.0);
                s.failed_count = i64::from(i - 50);
            }
            let when = t0 + Duration::from_secs(30 * u64::from(i as u32));
            store.apply(
                Update::Sample {
                    server: 0,
                    sample: Box::new(Sample::Wal(s)),
                    at: when,
                    took: std::time::Duration::ZERO,
                },
                when,
            );
        }
        let book = &store.servers[0].alerts;
        let of = |rule: Rule| book.active.values().find(|a| a.alert.rule == rule).cloned();
        let archive = of(Rule::ArchiveFailing).expect("archive_failing");
        assert_eq!(
            archive.alert.severity,
            crate::model::Severity::Critical,
            "> 10 min"
        );
        assert!(
            archive.alert.message.contains("WAL piles up"),
            "{}",
            archive.alert.message
        );
        let requested = of(Rule::CheckpointsRequested).expect("checkpoints_requested");
        assert!(requested.alert.value > 0.5, "{}", requested.alert.value);
        assert!(
            requested.alert.message.contains("max_wal_size"),
            "{}",
            requested.alert.message
        );
    }
}
