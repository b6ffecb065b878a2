//! The model: the only place where samples become state.
//!
//! [`Store::apply`] takes each [`Update`] from the workers, keeps the latest sample per server
//! and area with its derived rates ([`rates`]) computed against the previous one, records
//! history for sparklines ([`history`]), and re-evaluates the alerts ([`alerts`]). The screen
//! and `pgvitals snapshot` ([`snapshot`]) both read the same `Store`, so they always show the
//! same numbers. The lock tree of the activity panel is built here too ([`locks`]). Times are the client's wall clock (`SystemTime`) and are passed in, so tests
//! are deterministic.

pub mod alerts;
pub mod areas;
pub mod chain;
pub mod history;
pub mod locks;
pub mod rates;
pub mod snapshot;
pub mod units;

pub use units::{format_bytes, format_count, format_duration_s, format_rate};

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::config::Thresholds;
use crate::sample::*;
use crate::sample::{Area, CollectError, LinkEvent, Sample, ServerFacts, Update};

pub use alerts::{ActiveAlert, Alert, AlertBook, ResolvedAlert, Severity, Subject};
pub use history::History;

/// Connection state of one server, as the workers report it.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// No connection yet.
    Connecting { since: SystemTime },
    /// Connected and probed.
    Up { since: SystemTime },
    /// Unreachable (or refusing us) since `since`; the workers retry at `next_attempt`.
    Down {
        since: SystemTime,
        error: CollectError,
        next_attempt: SystemTime,
    },
}

/// One area of one server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaState {
    /// The latest good sample, derived fields filled.
    pub sample: Option<Sample>,
    /// When `sample` arrived (client clock).
    pub sample_at: Option<SystemTime>,
    /// How long the latest poll of this area of its own took; `None` when unknown (a recorded
    /// sample). A sample that cost no poll (the waits of an activity sample) leaves it.
    pub took: Option<Duration>,
    /// The error of the latest poll, if it failed, and since when polls have failed.
    pub error: Option<(CollectError, SystemTime)>,
    /// When the latest failed poll failed (client clock); with the error's
    /// [`CollectError::retry_in_s`] it tells when a backing-off area tries again.
    pub failed_at: Option<SystemTime>,
    /// The next sample starts a fresh baseline (after a reconnect): no rates from it.
    rebaseline: bool,
    /// A recorded sample the first live one carries its forecast windows on from
    /// ([`ServerState::seed_windows`]).
    seed: Option<Sample>,
}

/// How fresh an area's data is, for labels like "stale for 12 s".
#[derive(Debug, Clone, PartialEq)]
pub enum Freshness<'a> {
    /// No sample and no error yet.
    Waiting,
    /// The latest poll succeeded and is recent.
    Fresh { at: SystemTime },
    /// The data shown is older than expected or the latest poll failed.
    Stale {
        last_ok: Option<SystemTime>,
        error: Option<&'a CollectError>,
        since: SystemTime,
    },
    /// Never collected; the error explains why (missing extension, privilege, ...).
    Unavailable { error: &'a CollectError },
}

impl AreaState {
    /// Freshness at `now`, where a sample older than `max_age` is stale.
    pub fn freshness(&self, now: SystemTime, max_age: Duration) -> Freshness<'_> {
        match (&self.sample_at, &self.error) {
            (None, None) => Freshness::Waiting,
            (None, Some((e, _))) => Freshness::Unavailable { error: e },
            (Some(at), Some((e, since))) => Freshness::Stale {
                last_ok: Some(*at),
                error: Some(e),
                since: *since,
            },
            (Some(at), None) => {
                if now.duration_since(*at).unwrap_or_default() > max_age {
                    Freshness::Stale {
                        last_ok: Some(*at),
                        error: None,
                        since: *at + max_age,
                    }
                } else {
                    Freshness::Fresh { at: *at }
                }
            }
        }
    }
}

/// Everything known about one server.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// `host:port/dbname`, never a password.
    pub label: String,
    pub facts: Option<ServerFacts>,
    pub link: Link,
    pub areas: BTreeMap<Area, AreaState>,
    pub history: History,
    pub alerts: AlertBook,
    /// What the connection settings warn about (one line each, e.g. a password file with
    /// group or world access that was ignored), from [`crate::conninfo::ConnSpec::warnings`].
    /// Raw text: the screen sanitizes it. Shown in the header and the snapshot JSON.
    pub connection_warnings: Vec<String>,
    /// (host, port) pgvitals reaches the server at, from its connection settings (host
    /// names, addresses or socket directories): how a standby's upstream is recognised
    /// among the watched servers ([`chain`]). Empty when unknown.
    pub endpoints: Vec<(String, u16)>,
    /// The wait profile over the last [`areas::waits::WINDOW_S`] seconds, from the waits
    /// area's samples.
    pub waits: areas::waits::WaitWindow,
    /// Samples arrived since the alerts were last evaluated.
    alerts_due: bool,
}

macro_rules! accessor {
    ($name:ident, $variant:ident, $ty:ty) => {
        #[doc = concat!("The latest `", stringify!($ty), "`, if any.")]
        pub fn $name(&self) -> Option<&$ty> {
            match self
                .areas
                .get(&Area::$variant)
                .and_then(|a| a.sample.as_ref())
            {
                Some(Sample::$variant(s)) => Some(s),
                _ => None,
            }
        }
    };
}

impl ServerState {
    pub fn new(label: String, now: SystemTime) -> Self {
        ServerState {
            label,
            facts: None,
            link: Link::Connecting { since: now },
            areas: Area::ALL
                .into_iter()
                .map(|a| (a, AreaState::default()))
                .collect(),
            history: History::default(),
            alerts: AlertBook::default(),
            connection_warnings: Vec::new(),
            endpoints: Vec::new(),
            waits: Default::default(),
            alerts_due: false,
        }
    }

    /// Start the forecast windows (xid and multixact consumption, slot retention) of the
    /// next sample of `sample`'s area from recorded samples: with a recording, the forecasts
    /// need not begin with "estimating". Give the recorded samples oldest first; each is
    /// derived against the one before, so the windows build up as they did when recorded.
    /// Only the areas whose derived fields are windows of readings (vacuum, replication)
    /// take a seed; for the others (rates between two polls) a sample from before the
    /// screen started is no baseline, and it is ignored, as is a seed once the area has a
    /// sample. Only the next sample of the area uses it.
    pub fn seed_windows(&mut self, mut sample: Sample) {
        if !matches!(sample, Sample::Vacuum(_) | Sample::Replication(_)) {
            return;
        }
        let state = self.areas.entry(sample.area()).or_default();
        if state.sample.is_some() {
            return;
        }
        areas::derive(&mut sample, state.seed.as_ref());
        state.seed = Some(sample);
    }

    pub fn area(&self, area: Area) -> &AreaState {
        static EMPTY: std::sync::OnceLock<AreaState> = std::sync::OnceLock::new();
        self.areas
            .get(&area)
            .unwrap_or_else(|| EMPTY.get_or_init(AreaState::default))
    }

    accessor!(server, Server, ServerSample);
    accessor!(activity, Activity, ActivitySample);
    accessor!(statements, Statements, StatementsSample);
    accessor!(cache, Cache, CacheSample);
    accessor!(replication, Replication, ReplicationSample);
    accessor!(unused_indexes, UnusedIndexes, UnusedIndexesSample);
    accessor!(vacuum, Vacuum, VacuumSample);

    /// Primary or standby, from the freshest source.
    pub fn role(&self) -> Option<ServerRole> {
        if let Some(r) = self.replication() {
            return Some(r.role);
        }
        self.facts.as_ref().map(|f| {
            if f.in_recovery {
                ServerRole::Standby
            } else {
                ServerRole::Primary
            }
        })
    }

    /// Interval hit ratio over all databases (0..1) and blocks accessed per second, from the
    /// cache sample's derived rates.
    pub fn interval_hit_ratio(&self) -> Option<(f64, f64)> {
        let cache = self.cache()?;
        let (mut hit, mut read, mut any) = (0.0, 0.0, false);
        for d in &cache.databases {
            if let (Some(h), Some(r)) = (d.blks_hit_per_s, d.blks_read_per_s) {
                hit += h;
                read += r;
                any = true;
            }
        }
        (any && hit + read > 0.0).then(|| (hit / (hit + read), hit + read))
    }

    /// The worst replication lag in bytes this server knows of: the largest replay lag of its
    /// standbys (primary) or its own replay lag (standby).
    pub fn worst_replay_lag_bytes(&self) -> Option<i64> {
        let r = self.replication()?;
        let standbys = r.standbys.iter().filter_map(|s| s.replay_lag_bytes).max();
        let own = r.standby_status.as_ref().and_then(|s| s.replay_lag_bytes);
        standbys.into_iter().chain(own).max()
    }

    /// The oldest database by xid age: (datname, xid_age, % of the way to wraparound).
    pub fn worst_xid_age(&self) -> Option<(&str, i64, f64)> {
        self.vacuum()?
            .databases
            .iter()
            .max_by_key(|d| d.xid_age)
            .map(|d| (d.datname.as_str(), d.xid_age, d.xid_wraparound_pct))
    }
}

/// The state of every server being watched.
#[derive(Debug, Clone)]
pub struct Store {
    pub servers: Vec<ServerState>,
    pub thresholds: Thresholds,
    /// Poll interval of the fast areas (for staleness).
    pub interval: Duration,
    /// Poll interval of the slow areas.
    pub slow_interval: Duration,
    /// The recorder writing what this store receives, if any (the header shows `REC`, or
    /// why recording stopped).
    pub recording: Option<RecordingStatus>,
}

/// What the screen shows of a recorder running beside it: the file, and the one-line
/// error that stopped it. Shared with the recorder's thread.
#[derive(Debug, Clone, Default)]
pub struct RecordingStatus(pub std::sync::Arc<std::sync::Mutex<RecordingState>>);

/// See [`RecordingStatus`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingState {
    pub path: String,
    /// Why recording stopped (raw text: the screen sanitizes it); `None` while it runs.
    pub error: Option<String>,
    /// Updates the recorder could not keep up with and skipped.
    pub dropped: u64,
}

impl RecordingStatus {
    /// A copy of the state (the lock is held for the copy only; a poisoned lock reads as
    /// the default).
    pub fn get(&self) -> RecordingState {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Change the state.
    pub fn set(&self, f: impl FnOnce(&mut RecordingState)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }
}

impl Store {
    pub fn new(
        labels: Vec<String>,
        thresholds: Thresholds,
        interval: Duration,
        slow_interval: Duration,
        now: SystemTime,
    ) -> Self {
        Store {
            servers: labels
                .into_iter()
                .map(|l| ServerState::new(l, now))
                .collect(),
            thresholds,
            interval,
            slow_interval,
            recording: None,
        }
    }

    /// The age after which an area's sample counts as stale: three of its poll periods (never
    /// less than the interval: a sampler, faster than the interval, slows down with its own
    /// cost), plus 2 s. Saturates at [`Duration::MAX`] instead of overflowing, whatever the
    /// intervals.
    pub fn max_age(&self, area: Area) -> Duration {
        area.period(self.interval, self.slow_interval)
            .max(self.interval)
            .saturating_mul(3)
            .saturating_add(Duration::from_secs(2))
    }

    /// Apply one update from the workers, then re-evaluate that server's alerts.
    pub fn apply(&mut self, update: Update, now: SystemTime) {
        self.ingest(update);
        self.evaluate_due(now);
    }

    /// Apply one update without evaluating the alerts (see [`Store::evaluate_due`]): the
    /// screen ingests the samples of a poll cycle one by one and evaluates once per frame.
    pub fn ingest(&mut self, update: Update) {
        let index = match &update {
            Update::Sample { server, .. }
            | Update::Failed { server, .. }
            | Update::Link { server, .. } => *server,
            // the outcome of a command: shown by the screen, nothing to keep
            Update::Acted { .. } => return,
        };
        let Some(server) = self.servers.get_mut(index) else {
            return;
        };
        match update {
            Update::Sample {
                sample, at, took, ..
            } => ingest_sample(server, *sample, at, took),
            Update::Failed {
                area, error, at, ..
            } => ingest_failure(server, area, error, at),
            Update::Link { event, at, .. } => ingest_link(server, event, at),
            Update::Acted { .. } => return,
        }
        server.alerts_due = true;
    }

    /// Evaluate the alerts of every server that received something since the last time.
    pub fn evaluate_due(&mut self, now: SystemTime) {
        for server in &mut self.servers {
            if std::mem::take(&mut server.alerts_due) {
                let current = areas::evaluate(server, &self.thresholds, now);
                server.alerts.update(current, now);
            }
        }
    }

    /// Re-evaluate the time-based alerts (unreachable for N s) without a new sample, and
    /// whatever is due.
    pub fn tick(&mut self, now: SystemTime) {
        for server in &mut self.servers {
            if matches!(server.link, Link::Down { .. }) {
                server.alerts_due = true;
            }
        }
        self.evaluate_due(now);
    }

    /// Count of active (warning, critical) alerts over all servers.
    pub fn alert_counts(&self) -> (usize, usize) {
        self.servers.iter().fold((0, 0), |(w, c), s| {
            let (sw, sc) = s.alerts.counts();
            (w + sw, c + sc)
        })
    }
}

/// Keep a new sample of one area: its rates against the previous one (unless a reconnect
/// asked for a fresh baseline), its history points; a sample means the link is up.
fn ingest_sample(server: &mut ServerState, mut sample: Sample, at: SystemTime, took: Duration) {
    let area = sample.area();
    areas::absorb(server, &sample);
    let state = server.areas.entry(area).or_default();
    // after a reconnect the previous sample is no baseline, but what needs no earlier
    // sample is still derived
    let prev = (!state.rebaseline)
        .then_some(state.sample.as_ref())
        .flatten()
        .or(state.seed.as_ref());
    areas::derive(&mut sample, prev);
    state.rebaseline = false;
    state.seed = None;
    state.sample = Some(sample);
    state.sample_at = Some(at);
    // zero: not a poll of its own (a recorded sample, or the waits of an activity sample):
    // the last poll's time stands
    if !took.is_zero() {
        state.took = Some(took);
    }
    state.error = None;
    state.failed_at = None;
    for (series, value) in areas::history_points(server, area) {
        server.history.push(series, at, value);
    }
    if matches!(server.link, Link::Down { .. } | Link::Connecting { .. }) {
        server.link = Link::Up { since: at };
    }
}

/// Keep the error of a failed poll, with the time polls started failing.
fn ingest_failure(server: &mut ServerState, area: Area, error: CollectError, at: SystemTime) {
    let state = server.areas.entry(area).or_default();
    let since = match &state.error {
        Some((_, since)) => *since,
        None => at,
    };
    state.error = Some((error, since));
    state.failed_at = Some(at);
}

/// Follow the link: a connect brings the probed facts and a fresh baseline for every area;
/// a loss keeps the time the server was first lost.
fn ingest_link(server: &mut ServerState, event: LinkEvent, at: SystemTime) {
    match event {
        LinkEvent::Connected(facts) => {
            server.facts = Some(*facts);
            server.link = Link::Up { since: at };
            for state in server.areas.values_mut() {
                state.rebaseline = true;
            }
        }
        LinkEvent::Down {
            error,
            next_attempt,
        } => {
            let since = match &server.link {
                Link::Down { since, .. } => *since,
                Link::Connecting { since } => *since,
                Link::Up { .. } => at,
            };
            server.link = Link::Down {
                since,
                error,
                next_attempt,
            };
        }
    }
}
