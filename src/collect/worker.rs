//! The polling workers of one server: one task per area on its own period
//! (`MissedTickBehavior::Skip`: a poll still running is never queued twice, and a slow area
//! delays only itself), each under a supervisor that reports a panicking collector and
//! starts it again, plus the task that carries out confirmed commands ([`super::actions`]).
//!
//! **Paced by cost.** An area polled less often than the interval by choice (statements,
//! vacuum, unused indexes: [`Cadence::AtLeast`], [`Cadence::Slow`]) waits after a sample at
//! least [`COST_FACTOR`](super::COST_FACTOR) times what the poll took
//! ([`super::paced`]): pg_stat_statements with 10,000 entries, read in 80 ms, every 20 s
//! rather than every 15 s. The fast areas keep the interval the user asked for.
//!
//! **Back-off after a timeout.** An area whose query ran past the query timeout
//! (`statement_timeout`, SQLSTATE 57014) or the client-side deadline is not tried again at
//! its period: at scale such a query costs seconds of server CPU per attempt and will most
//! likely time out again. After `n` consecutive timeouts the next try waits
//! [`backoff_wait`]: the period times 2^n (2×, 4×, 8×), at most [`BACKOFF_MAX_FACTOR`] (16×)
//! the period and at most [`BACKOFF_MAX_WAIT`] (30 min), never less than the period:
//! unused indexes at the default 60 s try again after 2, 4, 8, then every 16 min;
//! statements at 15 s after 30 s, 1, 2, then every 4 min. A sample resets the count. The
//! area's error says so (`the query ran past the 5 s query timeout; next try in 2 min
//! (backing off)`) and carries the wait as [`CollectError::retry_in_s`]. Only timeouts back
//! off: a lost connection has the pool's reconnect backoff, a permission error or a lock
//! timeout is no cost problem, and a 57014 that came sooner than the timeout could have fired
//! (a `pg_cancel_backend`) is a cancel, not a timeout.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::Ctx;
use super::areas::AnyCollector;
use super::pool::{NoConnection, ServerPool};
use crate::sample::{
    ActivitySample, Area, Cadence, CollectError, Command, ErrorKind, Sample, Update, WaitsSample,
};

/// The longest back-off after consecutive timeouts, in periods of the area
/// ([`backoff_wait`]).
pub const BACKOFF_MAX_FACTOR: u32 = 16;

/// The longest back-off after consecutive timeouts, whatever the period (a period longer
/// than this is still kept: an area is never polled more often than its period).
pub const BACKOFF_MAX_WAIT: Duration = Duration::from_secs(30 * 60);

/// How long an area with period `period` waits before its next try after `timeouts`
/// consecutive polls that timed out: `period` × 2^`timeouts`, at most [`BACKOFF_MAX_FACTOR`]
/// × `period` and at most [`BACKOFF_MAX_WAIT`], never less than `period` (0 timeouts: the
/// period).
pub fn backoff_wait(period: Duration, timeouts: u32) -> Duration {
    if timeouts == 0 {
        return period;
    }
    let factor = 1u32
        .checked_shl(timeouts)
        .unwrap_or(u32::MAX)
        .min(BACKOFF_MAX_FACTOR);
    period
        .saturating_mul(factor)
        .min(BACKOFF_MAX_WAIT)
        .max(period)
}

/// What the activity worker of a server tells its wait sampler (`Area::Waits`): every
/// activity sample also makes a waits sample of the same instant, at no server cost
/// ([`WaitsSample::from_activity`]; activity sends every non-idle backend in full), and the
/// sampler queries only on the ticks that fall between two activity polls. At the default
/// 1 s interval and [`crate::sample::WAITS_PERIOD`] (500 ms) that is one sample of each a
/// second: the same 2 samples a second, half the queries. Before the sampler's first own
/// sample nothing is derived (its `compute_query_id` is not known yet), and while activity
/// fails or falls behind the sampler samples on every tick.
#[derive(Debug, Default)]
pub struct WaitsFromActivity {
    inner: std::sync::Mutex<DerivedWaits>,
}

#[derive(Debug, Default)]
struct DerivedWaits {
    /// `compute_query_id` of the sampler's last own sample; `None` before the first.
    compute_query_id: Option<Option<String>>,
    /// When the last waits sample was derived from an activity sample.
    derived_at: Option<tokio::time::Instant>,
}

impl WaitsFromActivity {
    fn lock(&self) -> std::sync::MutexGuard<'_, DerivedWaits> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sampler took a sample of its own.
    pub fn sampled(&self, sample: &WaitsSample) {
        self.lock().compute_query_id = Some(sample.compute_query_id.clone());
    }

    /// The waits sample of an activity sample taken at `now`; `None` before the sampler's
    /// first own sample.
    pub fn derive(
        &self,
        activity: &ActivitySample,
        now: tokio::time::Instant,
    ) -> Option<WaitsSample> {
        let mut inner = self.lock();
        let compute_query_id = inner.compute_query_id.clone()?;
        inner.derived_at = Some(now);
        Some(WaitsSample::from_activity(activity, compute_query_id))
    }

    /// Whether the sampler's tick at `now` is left to activity: a waits sample was derived
    /// less than half a sampler period `every` ago, or the next one (activity polls every
    /// `activity_every`) is due in no more than that. Once activity is later than a period
    /// and a half past its due time, every tick samples.
    pub fn skip_tick(
        &self,
        now: tokio::time::Instant,
        every: Duration,
        activity_every: Duration,
    ) -> bool {
        let Some(at) = self.lock().derived_at else {
            return false;
        };
        let since = now.saturating_duration_since(at);
        if since > activity_every + every + every / 2 {
            return false;
        }
        let until = activity_every.saturating_sub(since);
        since < every / 2 || until <= every / 2
    }
}

/// What one poll of an area came to, for the area's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A sample.
    Sampled,
    /// The area's own query ran past the query timeout (SQLSTATE 57014 after at least the
    /// timeout) or the client-side deadline: the area backs off.
    TimedOut,
    /// Anything else: another error, no connection (the pool's backoff), or an area this
    /// server's major does not have.
    Other,
}

/// The consecutive timeouts of one area ([`backoff_wait`]).
#[derive(Debug, Clone, Default)]
pub struct TimeoutBackoff {
    timeouts: u32,
}

impl TimeoutBackoff {
    /// Consecutive polls that timed out since the last sample.
    pub fn timeouts(&self) -> u32 {
        self.timeouts
    }

    /// Follow one poll's outcome: a sample resets the count, a timeout adds one and returns
    /// how long the area waits before its next try; any other outcome leaves the count as it
    /// is (it says nothing about the query's cost) and the area keeps its period.
    pub fn after(&mut self, outcome: Outcome, period: Duration) -> Option<Duration> {
        match outcome {
            Outcome::Sampled => {
                self.timeouts = 0;
                None
            }
            Outcome::TimedOut => {
                self.timeouts = self.timeouts.saturating_add(1);
                Some(backoff_wait(period, self.timeouts))
            }
            Outcome::Other => None,
        }
    }
}

/// A duration the way the messages say it: `300 ms`, `5 s`, `2.5 s`, `2 min`, `1 min 30 s`,
/// `1 h`, `1 h 20 min`.
pub fn spoken(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 60_000 {
        return if ms % 1000 == 0 {
            format!("{} s", ms / 1000)
        } else {
            format!("{:.1} s", ms as f64 / 1000.0)
        };
    }
    let secs = (ms + 500) / 1000;
    let (big, small, big_unit, small_unit) = if secs < 3600 {
        (secs / 60, secs % 60, "min", "s")
    } else {
        (secs / 3600, (secs % 3600) / 60, "h", "min")
    };
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small} {small_unit}")
    }
}

/// What ran past what, in plain words, for an error of a poll that timed out: `the query ran
/// past the 5 s query timeout` (statement_timeout), or the client's own text for the
/// client-side deadline (`no answer from the server within 7s`).
pub fn timeout_cause(error: &CollectError, query_timeout: Duration) -> String {
    match error.kind {
        ErrorKind::StatementTimeout => format!(
            "the query ran past the {} query timeout",
            spoken(query_timeout)
        ),
        _ => error.message.clone(),
    }
}

/// The error of a poll that timed out, as the area reports it while it backs off for `wait`:
/// `the query ran past the 5 s query timeout; next try in 2 min (backing off)`, with
/// [`CollectError::retry_in_s`] set; kind, SQLSTATE and fix unchanged.
pub fn backing_off(error: CollectError, query_timeout: Duration, wait: Duration) -> CollectError {
    CollectError {
        message: format!(
            "{}; next try in {} (backing off)",
            timeout_cause(&error, query_timeout),
            spoken(wait)
        ),
        retry_in_s: Some(wait.as_secs_f64()),
        ..error
    }
}

/// Poll `area` once on `session`: lease a connection, run the collector, report. Returns the
/// updates to send (a link event first, when the link changed); see [`poll`] for the outcome.
pub async fn poll_once(
    server: usize,
    area: Area,
    session: &ServerPool,
    collector: &mut AnyCollector,
) -> Vec<Update> {
    poll(server, area, session, collector).await.0
}

/// [`poll_once`], and what the poll came to ([`Outcome`]) for the area's schedule. The
/// errors are as classified (a timeout is not yet reworded: the schedule does that,
/// [`backing_off`]).
pub async fn poll(
    server: usize,
    area: Area,
    session: &ServerPool,
    collector: &mut AnyCollector,
) -> (Vec<Update>, Outcome) {
    let mut out = Vec::new();
    let (lease, event) = session.lease().await;
    if let Some(event) = event {
        out.push(Update::Link {
            server,
            event,
            at: SystemTime::now(),
        });
    }
    let lease = match lease {
        Ok(l) => l,
        Err(NoConnection::Waiting) => return (out, Outcome::Other),
        Err(NoConnection::Failed { error, .. }) => {
            // (a pool wait that timed out: other queries hold the connections; not this
            // area's cost)
            if error.kind == ErrorKind::ClientTimeout {
                out.push(Update::Failed {
                    server,
                    area,
                    error,
                    at: SystemTime::now(),
                });
            }
            return (out, Outcome::Other);
        }
    };
    if let Some(reason) = area.unavailable_on(lease.facts.major()) {
        // below the area's first major: said once per poll period, nothing is queried
        out.push(Update::Failed {
            server,
            area,
            error: CollectError::new(ErrorKind::NeedsNewerServer, reason),
            at: SystemTime::now(),
        });
        return (out, Outcome::Other);
    }
    let ctx = Ctx {
        client: &lease.client,
        facts: &lease.facts,
        timeout: session.query_deadline(),
    };
    crate::fault::check_in("collect", area.key());
    let started = Instant::now();
    let result = collector.collect(&ctx).await;
    let elapsed = started.elapsed();
    let at = SystemTime::now();
    match result {
        Ok(sample) => {
            out.push(Update::Sample {
                server,
                sample: Box::new(sample),
                at,
                took: elapsed,
            });
            (out, Outcome::Sampled)
        }
        Err(mut error) => {
            let timed_out = match error.kind {
                ErrorKind::ClientTimeout => true,
                // 57014 is also what pg_cancel_backend ends a query with: a timeout only
                // when the query ran for the timeout (statement_timeout fires no sooner)
                ErrorKind::StatementTimeout => elapsed >= session.query_timeout().mul_f64(0.9),
                _ => false,
            };
            if error.kind == ErrorKind::StatementTimeout && !timed_out {
                // canceled well before the timeout: someone's pg_cancel_backend, not a slow
                // query; said as such, and no back-off
                error.kind = ErrorKind::Query;
                error.message = format!(
                    "query canceled after {:.1}s, before the {}s statement_timeout \
                     (someone's pg_cancel_backend): {}",
                    elapsed.as_secs_f64(),
                    session.query_timeout().as_secs_f64(),
                    error.message
                );
                error.fix = None;
            }
            // a prepared statement vanished between two transactions: a transaction pooler
            // that passed `options` through; the next connection is probed as pooled
            let vanished = error.sqlstate.as_deref() == Some("26000") && !lease.facts.pooled;
            if vanished {
                session.mark_pooled_by_vanished_statement();
            }
            let closed = lease.client.is_closed();
            if error.kind == ErrorKind::ClientTimeout && !closed && !vanished {
                // the server did not answer in time: keep the connection (see `drain`)
                session.drain(lease.client);
            } else if error.breaks_connection() || closed || vanished {
                session.discard(lease);
            }
            out.push(Update::Failed {
                server,
                area,
                error,
                at,
            });
            let outcome = if timed_out {
                Outcome::TimedOut
            } else {
                Outcome::Other
            };
            (out, outcome)
        }
    }
}

/// The polling loop of one area: poll on its period (never twice at once), back off after a
/// timeout (see the module doc), follow interval changes, end when the model side hangs up.
async fn area_worker(
    server: usize,
    area: Area,
    session: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    mut interval: watch::Receiver<Duration>,
    waits: Arc<WaitsFromActivity>,
) {
    let mut collector = AnyCollector::with_top_n(area, session.top_n());
    let mut backoff = TimeoutBackoff::default();
    // the kind of failure last logged, so a failing area logs once, not on every poll
    let mut failing: Option<(crate::sample::ErrorKind, Option<String>)> = None;
    // backing off: no poll before this, across interval changes too
    let mut not_before: Option<tokio::time::Instant> = None;
    loop {
        let every = area.period(*interval.borrow_and_update(), session.slow_interval());
        let now = tokio::time::Instant::now();
        let start = not_before.filter(|t| *t > now).unwrap_or(now);
        let mut ticker = tokio::time::interval_at(start, every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                changed = interval.changed() => {
                    if changed.is_err() { return; }
                    break; // new interval: rebuild the ticker
                }
                _ = updates.closed() => return,
            }
            if area == Area::Waits {
                let activity_every =
                    Area::Activity.period(*interval.borrow(), session.slow_interval());
                if waits.skip_tick(tokio::time::Instant::now(), every, activity_every) {
                    continue;
                }
            }
            let (mut polled, outcome) = poll(server, area, &session, &mut collector).await;
            share_waits(server, area, &waits, &mut polled);
            if let Some(wait) = backoff.after(outcome, every) {
                for update in &mut polled {
                    if let Update::Failed { area: a, error, .. } = update {
                        if *a == area {
                            *error = backing_off(error.clone(), session.query_timeout(), wait);
                            tracing::warn!(
                                server,
                                area = area.key(),
                                timeouts = backoff.timeouts(),
                                "{}",
                                crate::text::fold(&error.message)
                            );
                        }
                    }
                }
                // the next tick after the wait, then on the period again
                ticker.reset_after(wait);
                not_before = Some(tokio::time::Instant::now() + wait);
            } else if outcome == Outcome::Sampled {
                not_before = None;
                // an area slower than its interval by choice is also paced by its cost
                let paced = match area.cadence() {
                    Cadence::Sampler(_) => super::paced_sampler(every, collector.last_took()),
                    _ => super::paced(every, collector.last_took()),
                };
                if area.cadence() != Cadence::Interval && paced > every {
                    ticker.reset_after(paced);
                }
            }
            log_transition(&session, area, &polled, outcome, &mut failing);
            for update in polled {
                if updates.send(update).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Between the activity worker and the wait sampler of one server ([`WaitsFromActivity`]):
/// an activity sample in `polled` adds the waits sample of the same instant (took: zero, it
/// cost the server nothing); the sampler's own sample is noted.
fn share_waits(server: usize, area: Area, waits: &WaitsFromActivity, polled: &mut Vec<Update>) {
    let derived = polled.iter().find_map(|u| match u {
        Update::Sample { sample, at, .. } => match (area, sample.as_ref()) {
            (Area::Activity, Sample::Activity(a)) => waits
                .derive(a, tokio::time::Instant::now())
                .map(|w| (w, *at)),
            (Area::Waits, Sample::Waits(w)) => {
                waits.sampled(w);
                None
            }
            _ => None,
        },
        _ => None,
    });
    if let Some((w, at)) = derived {
        polled.push(Update::Sample {
            server,
            sample: Box::new(Sample::Waits(w)),
            at,
            took: Duration::ZERO,
        });
    }
}

/// Log (`--log`, or stderr for `record` / `serve`) when an area starts failing, fails in a
/// new way (another kind or SQLSTATE), or recovers: one line each, server text folded and
/// sanitized. An area that does not exist on the server's major is no failure.
fn log_transition(
    session: &ServerPool,
    area: Area,
    polled: &[Update],
    outcome: Outcome,
    failing: &mut Option<(crate::sample::ErrorKind, Option<String>)>,
) {
    let label = crate::text::fold(session.label());
    let failed = polled.iter().find_map(|u| match u {
        Update::Failed { area: a, error, .. } if *a == area && error.kind.is_failure() => {
            Some(error)
        }
        _ => None,
    });
    if let Some(error) = failed {
        let now = (error.kind, error.sqlstate.clone());
        if failing.as_ref() != Some(&now) {
            tracing::warn!(
                "{label}: {} failing: {}",
                area.key(),
                crate::text::fold(&error.message)
            );
            *failing = Some(now);
        }
    } else if outcome == Outcome::Sampled && failing.take().is_some() {
        tracing::info!("{label}: {} recovered", area.key());
    }
}

/// Start the workers of one server: one supervised task per area on its period, and one that
/// runs confirmed commands (cancel / terminate, [`super::actions::spawn_executor`]). They end
/// when `updates` is closed.
pub fn spawn_server(
    server: usize,
    pool: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    interval: watch::Receiver<Duration>,
    commands: mpsc::Receiver<Command>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let waits = Arc::new(WaitsFromActivity::default());
    let mut handles: Vec<_> = Area::ALL
        .into_iter()
        .map(|area| {
            tokio::spawn(supervise(
                server,
                area,
                pool.clone(),
                updates.clone(),
                interval.clone(),
                waits.clone(),
            ))
        })
        .collect();
    handles.push(super::actions::spawn_executor(
        server, pool, updates, commands,
    ));
    handles
}

/// A supervisor per area: a collector that panics is reported (the area's error says it
/// crashed) and started again with a fresh collector a second later; the other areas and
/// the screen carry on.
async fn supervise(
    server: usize,
    area: Area,
    pool: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    interval: watch::Receiver<Duration>,
    waits: Arc<WaitsFromActivity>,
) {
    loop {
        let worker = tokio::spawn(crate::fault::IN_WORKER.scope(
            true,
            area_worker(
                server,
                area,
                pool.clone(),
                updates.clone(),
                interval.clone(),
                waits.clone(),
            ),
        ));
        match worker.await {
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                tracing::error!(server, area = area.key(), "collector panicked: {what}");
                let error = CollectError::new(
                    ErrorKind::Query,
                    format!(
                        "the {} collector crashed ({what}); restarting it",
                        area.key()
                    ),
                );
                let failed = Update::Failed {
                    server,
                    area,
                    error,
                    at: SystemTime::now(),
                };
                if updates.send(failed).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_wait_doubles_per_timeout_up_to_sixteen_periods() {
        let waits: Vec<Duration> = (0..7).map(|n| backoff_wait(MIN, n)).collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 16, 16].map(|m| MIN * m).to_vec(),
            "unused indexes at the default slow interval"
        );
        let statements = crate::sample::STATEMENTS_MIN_PERIOD;
        assert_eq!(backoff_wait(statements, 1), Duration::from_secs(30));
        assert_eq!(backoff_wait(statements, 4), Duration::from_secs(240));
        assert_eq!(backoff_wait(statements, 40), Duration::from_secs(240));
        assert_eq!(backoff_wait(statements, u32::MAX), Duration::from_secs(240));
    }

    #[test]
    fn the_wait_is_at_most_half_an_hour_but_never_below_the_period() {
        let five = 5 * MIN;
        assert_eq!(backoff_wait(five, 1), 10 * MIN);
        assert_eq!(backoff_wait(five, 3), 30 * MIN, "40 min capped");
        assert_eq!(backoff_wait(five, 9), BACKOFF_MAX_WAIT);
        let hour = 60 * MIN;
        assert_eq!(backoff_wait(hour, 0), hour);
        assert_eq!(
            backoff_wait(hour, 3),
            hour,
            "never more often than the period"
        );
        assert_eq!(backoff_wait(Duration::MAX, 5), Duration::MAX, "no overflow");
    }

    #[test]
    fn a_sample_resets_the_count_and_other_failures_leave_it() {
        let mut b = TimeoutBackoff::default();
        let p = Duration::from_secs(2);
        assert_eq!(b.after(Outcome::Sampled, p), None);
        assert_eq!(b.after(Outcome::TimedOut, p), Some(Duration::from_secs(4)));
        assert_eq!(b.after(Outcome::TimedOut, p), Some(Duration::from_secs(8)));
        // a lost connection or a permission error: the period, and the count kept
        assert_eq!(b.after(Outcome::Other, p), None);
        assert_eq!(b.timeouts(), 2);
        assert_eq!(b.after(Outcome::TimedOut, p), Some(Duration::from_secs(16)));
        assert_eq!(b.after(Outcome::Sampled, p), None);
        assert_eq!(b.timeouts(), 0);
        assert_eq!(b.after(Outcome::TimedOut, p), Some(Duration::from_secs(4)));
    }

    #[test]
    fn the_sampler_queries_only_between_two_activity_polls() {
        let ms = Duration::from_millis;
        let shared = WaitsFromActivity::default();
        let t0 = tokio::time::Instant::now();
        let (every, activity) = (ms(500), ms(1000));
        assert!(
            !shared.skip_tick(t0, every, activity),
            "nothing derived yet"
        );
        let active = ActivitySample {
            collected_at: 10.0,
            ..ActivitySample::default()
        };
        assert_eq!(
            shared.derive(&active, t0),
            None,
            "compute_query_id unknown before the sampler's first sample"
        );
        assert!(!shared.skip_tick(t0, every, activity));
        shared.sampled(&WaitsSample {
            compute_query_id: Some("on".into()),
            ..WaitsSample::default()
        });
        let derived = shared.derive(&active, t0).expect("derived");
        assert_eq!(derived.compute_query_id.as_deref(), Some("on"));
        assert_eq!(derived.collected_at, 10.0);
        // sampler ticks at every phase against activity's 1 s: exactly one of each two
        // ticks a second queries, a quarter to three quarters of a second after activity
        for phase in (0..500).step_by(10) {
            let ticks = [ms(phase), ms(phase + 500)];
            let sampled: Vec<Duration> = ticks
                .into_iter()
                .filter(|d| !shared.skip_tick(t0 + *d, every, activity))
                .collect();
            assert_eq!(sampled.len(), 1, "phase {phase} ms: {sampled:?}");
            assert!(
                sampled[0] >= ms(250) && sampled[0] <= ms(750),
                "{sampled:?}"
            );
        }
        // activity at the sampler's own rate: the sampler never queries
        for phase in (0..500).step_by(10) {
            assert!(shared.skip_tick(t0 + ms(phase), every, every), "{phase}");
        }
        // activity every 5 s: the sampler takes the ticks between
        let sampled = (1..10)
            .filter(|i| !shared.skip_tick(t0 + ms(500 * i), every, ms(5000)))
            .count();
        assert_eq!(sampled, 9, "the nine ticks between two activity polls");
        // activity fell behind (failing, slow): every tick samples again
        assert!(!shared.skip_tick(t0 + ms(1800), every, activity));
        assert!(!shared.skip_tick(t0 + ms(60_000), every, activity));
    }

    #[test]
    fn durations_are_spoken_plainly() {
        let ms = Duration::from_millis;
        assert_eq!(spoken(ms(300)), "300 ms");
        assert_eq!(spoken(ms(5000)), "5 s");
        assert_eq!(spoken(ms(2500)), "2.5 s");
        assert_eq!(spoken(ms(120_000)), "2 min");
        assert_eq!(spoken(ms(90_000)), "1 min 30 s");
        assert_eq!(spoken(ms(3_600_000)), "1 h");
        assert_eq!(spoken(ms(4_800_000)), "1 h 20 min");
    }

    #[test]
    fn a_backing_off_error_says_what_ran_past_what_and_when_the_next_try_is() {
        let server = CollectError {
            kind: ErrorKind::StatementTimeout,
            sqlstate: Some("57014".into()),
            message: "canceling statement due to statement timeout".into(),
            fix: Some("raise --query-timeout".into()),
            retry_in_s: None,
        };
        let e = backing_off(server, Duration::from_secs(5), 4 * MIN);
        assert_eq!(
            e.message,
            "the query ran past the 5 s query timeout; next try in 4 min (backing off)"
        );
        assert_eq!(e.retry_in_s, Some(240.0));
        assert_eq!(e.kind, ErrorKind::StatementTimeout);
        assert_eq!(e.sqlstate.as_deref(), Some("57014"));
        assert_eq!(e.fix.as_deref(), Some("raise --query-timeout"));
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["retry_in_s"], serde_json::json!(240.0));

        let client = CollectError::new(
            ErrorKind::ClientTimeout,
            "no answer from the server within 7s",
        );
        let e = backing_off(client, Duration::from_secs(5), Duration::from_secs(10));
        assert_eq!(
            e.message,
            "no answer from the server within 7s; next try in 10 s (backing off)"
        );
    }
}
