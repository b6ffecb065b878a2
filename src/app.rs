//! Wiring: sessions and workers for a list of servers, feeding a [`Store`]. Used by `main`
//! (dashboard, snapshot, demo) and by the tests, so both run the same code.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};

use crate::collect::areas::AnyCollector;
use crate::collect::pool::{ServerPool, Timing};
use crate::collect::worker::{self, Outcome};
use crate::config::Config;
use crate::conninfo::ConnSpec;
use crate::model::Store;
use crate::record::{Recorder, Retention};
use crate::sample::{Area, Cadence, Command, LinkEvent, Update};

/// Workers running for every server; the screen takes the receiving ends.
pub struct Running {
    /// A store with one (empty) server state per spec, in order.
    pub store: Store,
    pub updates: mpsc::Receiver<Update>,
    pub commands: mpsc::Sender<Command>,
    /// The fast poll interval; the workers follow changes.
    pub interval: watch::Sender<Duration>,
}

fn timing(config: &Config) -> Timing {
    Timing {
        query_timeout: config.query_timeout,
        slow_interval: config.slow_interval,
        top_n: config.top_n,
    }
}

fn new_store(specs: &[ConnSpec], config: &Config) -> Store {
    let mut store = Store::new(
        specs.iter().map(ConnSpec::label).collect(),
        config.thresholds.clone(),
        config.interval,
        config.slow_interval,
        SystemTime::now(),
    );
    for (server, spec) in store.servers.iter_mut().zip(specs) {
        server.connection_warnings = spec.warnings.clone();
        server.endpoints = spec.endpoints();
    }
    store
}

/// Start the workers of every server (connections are made lazily by the workers).
///
/// Errors: a TLS configuration that cannot be built for a server (message names it).
pub fn start_workers(specs: &[ConnSpec], config: &Config) -> Result<Running, String> {
    let store = new_store(specs, config);
    let (update_tx, update_rx) = mpsc::channel(256);
    let (interval_tx, interval_rx) = watch::channel(config.interval);
    let (command_tx, mut command_rx) = mpsc::channel::<Command>(8);
    let mut per_server = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let session = Arc::new(
            ServerPool::new(spec, timing(config))
                .map_err(|e| format!("{}: {}", spec.label(), e.message))?,
        );
        let (tx, rx) = mpsc::channel(8);
        per_server.push(tx);
        worker::spawn_server(i, session, update_tx.clone(), interval_rx.clone(), rx);
    }
    tokio::spawn(async move {
        while let Some(command) = command_rx.recv().await {
            if let Some(tx) = per_server.get(command.server()) {
                let _ = tx.send(command).await;
            }
        }
    });
    Ok(Running {
        store,
        updates: update_rx,
        commands: command_tx,
        interval: interval_tx,
    })
}

/// One round of every area on every server, and `config.interval` later a second round of
/// the areas whose model derives rates ([`Area::needs_rates`]: server, statements, cache,
/// WAL), applied to a fresh store: the areas without rates (activity, replication, unused
/// indexes, vacuum) are queried once. An area whose first query timed out is not tried again
/// (it backs off, as in the dashboard: its error says `not tried again in this snapshot`).
/// Servers are collected concurrently; an unreachable server ends after its first failed
/// connect.
///
/// Errors: a TLS configuration that cannot be built.
pub async fn take_snapshot(specs: &[ConnSpec], config: &Config) -> Result<Store, String> {
    let mut store = new_store(specs, config);
    let mut tasks = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let session = ServerPool::new(spec, timing(config))
            .map_err(|e| format!("{}: {}", spec.label(), e.message))?;
        let interval = config.interval;
        tasks.push(tokio::spawn(async move {
            // (area, its collector, whether its query timed out)
            let mut collectors: Vec<(Area, AnyCollector, bool)> = Area::ALL
                .into_iter()
                .map(|a| (a, AnyCollector::with_top_n(a, session.top_n()), false))
                .collect();
            let mut updates = Vec::new();
            'rounds: for round in 0..2 {
                if round == 1 {
                    // the samplers (the wait profile) go on sampling while the rates'
                    // interval passes
                    let until = tokio::time::Instant::now() + interval;
                    loop {
                        let mut next = until;
                        for (area, collector, timed_out) in &mut collectors {
                            let Cadence::Sampler(every) = area.cadence() else {
                                continue;
                            };
                            if *timed_out {
                                continue;
                            }
                            let (got, outcome) = worker::poll(i, *area, &session, collector).await;
                            *timed_out = outcome == Outcome::TimedOut;
                            let paced = crate::collect::paced_sampler(every, collector.last_took());
                            next = next.min(tokio::time::Instant::now() + paced);
                            updates.extend(got);
                        }
                        if next >= until {
                            break;
                        }
                        tokio::time::sleep_until(next).await;
                    }
                    tokio::time::sleep_until(until).await;
                }
                for (area, collector, timed_out) in &mut collectors {
                    if round == 1 && (!area.needs_rates() || *timed_out) {
                        continue;
                    }
                    let (mut got, outcome) = worker::poll(i, *area, &session, collector).await;
                    if outcome == Outcome::TimedOut {
                        *timed_out = true;
                        let retry_skipped = round == 0 && area.needs_rates();
                        reword_timeout(&mut got, *area, session.query_timeout(), retry_skipped);
                    }
                    let down = got.iter().any(|u| {
                        matches!(
                            u,
                            Update::Link {
                                event: LinkEvent::Down { .. },
                                ..
                            }
                        )
                    });
                    updates.extend(got);
                    if down {
                        break 'rounds;
                    }
                }
            }
            updates
        }));
    }
    for task in tasks {
        let updates = task
            .await
            .map_err(|e| format!("a collection task failed: {e}"))?;
        for update in updates {
            store.apply(update, SystemTime::now());
        }
    }
    store.tick(SystemTime::now());
    Ok(store)
}

/// The error of `area`'s timed-out poll in a snapshot, in plain words
/// ([`worker::timeout_cause`]), and, when its second round is skipped for it,
/// `; not tried again in this snapshot (backing off)`.
fn reword_timeout(
    updates: &mut [Update],
    area: Area,
    query_timeout: Duration,
    retry_skipped: bool,
) {
    for update in updates {
        if let Update::Failed { area: a, error, .. } = update {
            if *a == area {
                let cause = worker::timeout_cause(error, query_timeout);
                error.message = if retry_skipped {
                    format!("{cause}; not tried again in this snapshot (backing off)")
                } else {
                    cause
                };
            }
        }
    }
}

/// What the recorder's thread is told.
enum ToRecorder {
    Update(Box<Update>),
    Tick(SystemTime),
}

/// How many updates may wait for the recorder's thread before new ones are skipped (and
/// counted in [`crate::model::RecordingState::dropped`]): a stalled disk must not grow the
/// dashboard's memory without bound.
pub const RECORDER_QUEUE: usize = 256;

/// A [`Recorder`] on its own thread (SQLite writes block), fed copies of the updates.
/// Dropping the handle (or [`RecorderHandle::stop`]) lets the thread commit and end.
pub struct RecorderHandle {
    tx: Option<std::sync::mpsc::SyncSender<ToRecorder>>,
    pub status: crate::model::RecordingStatus,
    join: Option<std::thread::JoinHandle<()>>,
}

impl RecorderHandle {
    /// Start the thread. A write error stops recording: the status says why (one line) and
    /// later updates are ignored; `on_error` is called once with the line.
    pub fn spawn(
        mut recorder: Recorder,
        on_error: impl Fn(&str) + Send + 'static,
    ) -> RecorderHandle {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ToRecorder>(RECORDER_QUEUE);
        let status = crate::model::RecordingStatus::default();
        status.set(|s| s.path = recorder.path().display().to_string());
        let thread_status = status.clone();
        let join = std::thread::Builder::new()
            .name("pgvitals-recorder".into())
            .spawn(move || {
                let mut failed = false;
                while let Ok(msg) = rx.recv() {
                    if failed {
                        continue;
                    }
                    let result = match msg {
                        ToRecorder::Update(u) => recorder.record(*u),
                        ToRecorder::Tick(now) => recorder.tick(now),
                    };
                    if let Err(e) = result {
                        failed = true;
                        let line = crate::text::fold(&e.to_string());
                        on_error(&line);
                        thread_status.set(|s| s.error = Some(line));
                    }
                }
                if !failed {
                    if let Err(e) = recorder.flush() {
                        on_error(&crate::text::fold(&e.to_string()));
                    }
                }
            })
            .ok();
        RecorderHandle {
            tx: Some(tx),
            status,
            join,
        }
    }

    /// Hand a copy of `update` to the recorder; skipped (and counted) when its queue is full.
    pub fn send(&self, update: &Update) {
        if let Some(tx) = &self.tx {
            if tx
                .try_send(ToRecorder::Update(Box::new(update.clone())))
                .is_err()
            {
                self.status.set(|s| s.dropped += 1);
            }
        }
    }

    /// Let the recorder commit, evaluate time-based alerts and prune when due.
    pub fn tick(&self, now: SystemTime) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(ToRecorder::Tick(now));
        }
    }

    /// Commit what is pending and wait for the thread to end.
    pub fn stop(mut self) {
        self.tx = None;
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

impl Drop for RecorderHandle {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

/// Open a recorder for `specs` at `path` with the config's caps.
///
/// Errors: the file cannot be created, locked or read (one line).
pub fn open_recorder(
    path: &std::path::Path,
    specs: &[ConnSpec],
    config: &Config,
) -> Result<Recorder, String> {
    let labels: Vec<String> = specs.iter().map(ConnSpec::label).collect();
    Recorder::create(
        path,
        &labels,
        config,
        Retention {
            max_size: config.record_max_size,
            max_age: config.record_max_age,
        },
    )
    .map_err(|e| e.to_string())
}

/// Put a recorder between the workers and the screen: every update goes to `recorder`
/// (a copy) and on to the returned receiver; the recorder is ticked every second. The
/// store gets the recorder's status for the header.
pub fn tee_to_recorder(
    running: &mut Running,
    recorder: std::sync::Arc<RecorderHandle>,
) -> mpsc::Receiver<Update> {
    running.store.recording = Some(recorder.status.clone());
    let (tx, rx) = mpsc::channel(256);
    let (_, placeholder) = mpsc::channel(1);
    let mut updates = std::mem::replace(&mut running.updates, placeholder);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                update = updates.recv() => match update {
                    Some(update) => {
                        recorder.send(&update);
                        if tx.send(update).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => recorder.tick(SystemTime::now()),
            }
        }
    });
    rx
}

/// How old a recorded sample may be to start a live screen's forecast windows (the
/// windows' own length, [`crate::model::rates::WINDOW_S`]).
pub const SEED_AGE_S: f64 = crate::model::rates::WINDOW_S;

/// Give a live `store` what the recording at `path` knows of its servers (matched by
/// label): the history of the day before (sparklines, history panel), the alerts resolved
/// before (alerts panel), and the last vacuum and replication samples of the last
/// [`SEED_AGE_S`] so that the forecasts need not start from "estimating". A recording
/// that cannot be read, or holds none of these servers, gives nothing.
///
/// Errors: the file cannot be read (one line; the screen goes on without it).
pub fn recall(store: &mut Store, path: &std::path::Path) -> Result<(), String> {
    let recording = crate::record::read::Recording::open(path).map_err(|e| e.to_string())?;
    let now = crate::sample::epoch_s(SystemTime::now());
    recording
        .load_history(store, now, now)
        .map_err(|e| e.to_string())?;
    recording
        .seed_windows(store, now, SEED_AGE_S)
        .map_err(|e| e.to_string())
}

/// A recording as the replay screen's [`crate::tui::replay::Timeline`]: stores rebuilt with
/// `config`'s thresholds, times shown in the local time zone.
pub struct RecordedTimeline {
    pub recording: crate::record::read::Recording,
    pub config: Config,
    span: (f64, f64),
}

impl RecordedTimeline {
    /// Errors: the recording holds no sample.
    pub fn new(
        recording: crate::record::read::Recording,
        config: Config,
    ) -> Result<RecordedTimeline, String> {
        let span = recording
            .span()
            .map_err(|e| e.to_string())?
            .ok_or("the recording holds no sample yet")?;
        Ok(RecordedTimeline {
            recording,
            config,
            span,
        })
    }
}

impl crate::tui::replay::Timeline for RecordedTimeline {
    fn span(&self) -> (f64, f64) {
        self.span
    }

    fn seek(&mut self, at: f64) -> Result<(Store, SystemTime), String> {
        let (mut store, _) = self
            .recording
            .store_at(at, &self.config)
            .map_err(|e| e.to_string())?;
        self.recording
            .load_history(&mut store, at, at - crate::record::read::WARM_UP_S)
            .map_err(|e| e.to_string())?;
        let now = latest_sample_time(&store).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok((store, now))
    }

    fn advance(&mut self, store: &mut Store, from: f64, to: f64) -> Result<SystemTime, String> {
        let mut last = None;
        self.recording
            .for_each_update_after(from + 1e-6, to, |_, update| {
                let at = crate::record::read::update_at(&update);
                store.apply(update, at);
                last = Some(at);
                true
            })
            .map_err(|e| e.to_string())?;
        let now = last
            .or_else(|| latest_sample_time(store))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        store.tick(now);
        Ok(now)
    }

    fn step(&self, at: f64, forward: bool) -> Option<f64> {
        self.recording.next_sample(at, forward).ok().flatten()
    }

    fn alerts(&self) -> Vec<(f64, bool)> {
        self.recording
            .alerts(self.span.0 - 1.0, self.span.1 + 1.0)
            .map(|list| {
                list.into_iter()
                    .map(|a| (a.fired_at, a.severity == "critical"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn parse_time(&self, s: &str) -> Result<f64, String> {
        crate::record::read::parse_time(s, Some(self.span.1))
    }

    fn format(&self, at: f64) -> (String, String) {
        let tz = jiff::tz::TimeZone::system();
        match jiff::Timestamp::from_microsecond((at * 1e6) as i64) {
            Ok(ts) => {
                let z = ts.to_zoned_datetime(tz);
                (
                    z.strftime("%Y-%m-%d %Z").to_string(),
                    z.strftime("%H:%M:%S").to_string(),
                )
            }
            Err(_) => (String::new(), format!("{at}")),
        }
    }
}

/// The newest `sample_at` of any area of any server (the replay draws at that time).
fn latest_sample_time(store: &Store) -> Option<SystemTime> {
    store
        .servers
        .iter()
        .flat_map(|s| s.areas.values().filter_map(|a| a.sample_at))
        .max()
}

pub use crate::collect::explain::ExplainedStatement;

/// The plan of pg_stat_statements entry `queryid` on the server of `spec`: a pool of its own
/// for [`crate::collect::explain::explain_statement`] (never executed, one statement,
/// read-only, bounded). Errors: one line.
pub async fn explain_statement(
    spec: &ConnSpec,
    config: &Config,
    queryid: i64,
) -> Result<ExplainedStatement, String> {
    let pool = ServerPool::new(spec, timing(config)).map_err(|e| e.message)?;
    crate::collect::explain::explain_statement(&pool, queryid).await
}
