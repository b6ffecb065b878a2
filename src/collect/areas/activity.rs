//! Activity: every backend in `pg_stat_activity`, the connection slots, and who blocks whom.
//!
//! Queries: `queries/activity.pg12.sql` (every backend in full: `pg_stat_activity`, and
//! `pg_blocking_pids()` only for sessions with `wait_event_type = 'Lock'`, because it takes
//! the lock manager's locks), `queries/activity_delta.pg12.sql` (only what changed, below;
//! both with a `.pg14.sql` twin that adds `query_id`) and
//! `queries/activity_settings.pg12.sql` / `.pg16.sql` (`max_connections`,
//! `superuser_reserved_connections`, and `reserved_connections` from 16). PostgreSQL 12+.
//! Privileges: any role sees every row; other roles' query texts, states and waits need
//! pg_read_all_stats (pg_monitor), else the text reads `<insufficient privilege>` (kept as is)
//! and the state is `None`.
//!
//! The sessions leave out pgvitals' own backend and the other connections of the same pgvitals
//! pool (same session user and the same non-empty `application_name`); they still count in
//! `client_backends` and `states`, since they occupy connection slots. Without
//! pg_read_all_stats, other roles' backends show no `backend_type` and no `state`: those
//! connected to a database count as client backends in state `unknown`, and their
//! `backend_type` reads `unknown`. Texts and names are
//! decoded leniently: a byte that is not UTF-8 (a LATIN1 or SQL_ASCII database) becomes U+FFFD.
//! Ages are seconds on the server clock; xid ages are transactions.
//!
//! # Only what changed
//!
//! The collector keeps, per backend, the last row it read with absolute timestamps, and
//! between full reads asks only for what changed (`activity_delta`, one statement, so one
//! snapshot of the backend status table). The server sends in full every backend that is in a
//! transaction (`xact_start` set: active, idle in transaction, a fastpath call), has started
//! a query since the previous poll (`coalesce(query_start, backend_start)` not older than the
//! previous poll's server `now` minus [`MARGIN`]), or was not a *quiet idle* session at the
//! previous poll (its pid is passed in: an active query that has since ended, a walsender,
//! a background process). For every other backend it sends a thin entry: pid and that
//! `since` timestamp, which the collector checks against the row it holds. A quiet idle
//! session is a client backend in state `idle`, waiting on `Client: ClientRead`, in no
//! transaction, with no xid or xmin. Any change of state goes through a new query (which
//! moves `query_start`) or a transaction (which sets `xact_start`), so a session that went
//! idle → active → idle, or idle → idle in transaction, between two polls is sent in full;
//! one that went active → idle → active was not quiet before and is sent in full too.
//!
//! The sample is always complete: thin backends are carried forward with their ages computed
//! against the new `now`, backends missing from both lists are gone, and the counts
//! (`states`, `client_backends`, `waiting_on_lock`) and the lock waits (`blocked_by`, only
//! ever on sessions sent in full) are those of a full read of the same snapshot. A thin entry
//! that does not match what the collector holds (a pid it does not know, another `since`: a
//! backend that published a query start later than it took the timestamp, a clock stepped
//! back) makes the poll read everything at once ([`FullReason::Mismatch`]).
//!
//! What a carried-forward idle session may miss until the next full read (at most
//! [`FULL_READ_EVERY`]): a `state_change` moved by a fastpath function call or a bare Sync
//! message that began and ended between two polls (its state is `idle` before and after),
//! a renamed role. Everything is read in full on the first poll, every [`FULL_READ_EVERY`],
//! and while more than one backend in [`DELTA_MAX_CHANGED_ONE_IN`] changed in the last poll
//! (then one scan costs less than a lookup per changed backend).
//!
//! Without pg_read_all_stats, other roles' backends have no visible timestamps: they are
//! always treated as changed (sent in full, as before), so with many of them the collector
//! reads everything every poll.
//!
//! The connection limits are postmaster settings: they are read on the first poll and again
//! only when `pg_postmaster_start_time()` (in every activity read) changes, i.e. after a
//! restart, or a pooler now pointing at another server.
//!
//! [`ActivityCollector::last_poll`] says what the last poll read (full or delta, why, rows
//! sent in full and thin, whether the settings were read); it is also logged at debug level.
//!
//! Cost at 2,005 backends, 1,950 of them idle (PostgreSQL 15, measured by the live test
//! `activity_delta::cost_at_2000_idle_sessions`; the details in the query files' headers): a
//! delta takes 4.4 ms of backend CPU, 53 KB on the wire and 0.8 ms of client CPU where the
//! full read takes 9.0 ms, 686 KB and 3.1 ms. What no query avoids is PostgreSQL's copy of
//! every backend's status entry into each transaction's snapshot: cold (polls 0.5 s apart on
//! a busy machine) that copy dominates, 23 ms against 27 ms.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use tokio_postgres::Row;

use crate::collect::{Ctx, age_s, epoch_s, get, get_text, get_text_or_empty};
use crate::queries::ServerQuery;
use crate::sample::{ActivitySample, CollectError, ErrorKind, OptF64, Session, StateCount};

/// `backend_type` of the backends that count against `max_connections`.
const CLIENT_BACKEND: &str = "client backend";

/// The `state` counted (and the `backend_type` shown) for backends of other roles when the
/// monitoring role lacks pg_read_all_stats: PostgreSQL shows neither.
pub const UNKNOWN_STATE: &str = "unknown";

/// A backend whose `since` (query start, or backend start before its first query) is this
/// much or less before the previous poll's `now` is sent in full again: a backend takes the
/// timestamp a moment before it publishes it, so a query that started just before our
/// previous snapshot may have shown only after it. The check of every thin entry catches any
/// such race anyway; the margin makes that fallback rare.
pub const MARGIN: Duration = Duration::from_secs(1);

/// Everything is read in full at least this often (client clock).
pub const FULL_READ_EVERY: Duration = Duration::from_secs(30);

/// The next poll reads everything when more than one backend in this many was sent in full
/// (changed) in the last poll. Measured on PostgreSQL 15 with 2,000 backends (warm caches): a
/// full read costs about 7 ms of backend CPU, a delta about 3 ms plus 17 us per backend sent
/// in full (a lookup of its pid in the status table each), so they meet near one in nine.
pub const DELTA_MAX_CHANGED_ONE_IN: usize = 10;

/// Why a poll read every backend in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullReason {
    /// The collector's first poll (nothing to compare against).
    First,
    /// [`FULL_READ_EVERY`] passed since the last full read.
    Periodic,
    /// More than one backend in [`DELTA_MAX_CHANGED_ONE_IN`] changed in the last poll.
    ManyChanged,
    /// A delta was read, but a thin entry did not match what the collector holds; the full
    /// read followed in the same poll.
    Mismatch,
}

/// What one poll read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// Every backend in full (`activity.pg12.sql`).
    Full(FullReason),
    /// The changed backends in full, the others thin (`activity_delta.pg12.sql`).
    Delta,
}

/// What the last poll read from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    pub read: ReadKind,
    /// Rows the server sent in full (every column, the query text), over the poll's
    /// queries (a delta and the full read after a mismatch both count).
    pub rows_full: usize,
    /// Backends the server sent as pid + `since` only.
    pub rows_thin: usize,
    /// The connection limits were read (first poll, or `pg_postmaster_start_time()` changed).
    pub settings_read: bool,
}

/// One backend as the collector holds it: the row's values, with absolute timestamps (the
/// session's ages are computed against each poll's `now`).
#[derive(Debug, Clone)]
struct Backend {
    /// Our own backend or another connection of our pool: counted, not listed.
    own: bool,
    /// Counts against `max_connections` (a client backend, or another role's backend with a
    /// database when its type is hidden).
    is_client: bool,
    backend_start: Option<SystemTime>,
    xact_start: Option<SystemTime>,
    query_start: Option<SystemTime>,
    state_change: Option<SystemTime>,
    /// The row; its `*_age_s` fields are filled per poll.
    session: Session,
}

impl Backend {
    /// One row of `activity` (or a full row of `activity_delta`).
    fn decode(row: &Row) -> Result<Backend, CollectError> {
        let own: bool = get::<Option<bool>>(row, "pgvitals_own")?.unwrap_or(false);
        let backend_type = get_text(row, "backend_type")?;
        let datname = get_text(row, "datname")?;
        // Without pg_read_all_stats, another role's backend_type is NULL too: a backend
        // connected to a database is then most likely a client backend.
        let is_client = match backend_type.as_deref() {
            Some(t) => t == CLIENT_BACKEND,
            None => datname.is_some(),
        };
        let backend_start: Option<SystemTime> = get(row, "backend_start")?;
        Ok(Backend {
            own,
            is_client,
            backend_start,
            xact_start: get(row, "xact_start")?,
            query_start: get(row, "query_start")?,
            state_change: get(row, "state_change")?,
            session: Session {
                pid: get(row, "pid")?,
                usename: get_text(row, "usename")?,
                datname,
                application_name: get_text_or_empty(row, "application_name")?,
                client_addr: get_text(row, "client_addr")?,
                backend_type: backend_type.unwrap_or_else(|| UNKNOWN_STATE.to_string()),
                state: get_text(row, "state")?,
                wait_event_type: get_text(row, "wait_event_type")?,
                wait_event: get_text(row, "wait_event")?,
                backend_start: backend_start.map(epoch_s).into(),
                backend_age_s: OptF64::NONE,
                xact_age_s: OptF64::NONE,
                query_age_s: OptF64::NONE,
                state_age_s: OptF64::NONE,
                backend_xid_age: get(row, "backend_xid_age")?,
                backend_xmin_age: get(row, "backend_xmin_age")?,
                query: get_text_or_empty(row, "query")?,
                blocked_by: get::<Option<Vec<i32>>>(row, "blocked_by")?.unwrap_or_default(),
                query_id: get(row, "query_id")?,
            },
        })
    }

    /// `Some(since)` when this is a quiet idle session, which a delta may send thin while its
    /// `since` (query start, or backend start before any query) stays the same: a client
    /// backend in state `idle`, waiting for the client, in no transaction, with no xid or
    /// xmin (their ages move with every transaction on the server).
    fn quiet_since(&self) -> Option<SystemTime> {
        let s = &self.session;
        let quiet = self.is_client
            && s.backend_type == CLIENT_BACKEND
            && s.state.as_deref() == Some("idle")
            && s.wait_event_type.as_deref() == Some("Client")
            && s.wait_event.as_deref() == Some("ClientRead")
            && self.xact_start.is_none()
            && s.backend_xid_age.is_none()
            && s.backend_xmin_age.is_none()
            && s.blocked_by.is_empty();
        if quiet {
            self.query_start.or(self.backend_start)
        } else {
            None
        }
    }

    /// A copy of the session with its ages against `now`.
    fn session_at(&self, now: SystemTime) -> Session {
        self.ages(now).on(self.session.clone())
    }

    /// The session with its ages against `now`.
    fn into_session_at(self, now: SystemTime) -> Session {
        self.ages(now).on(self.session)
    }

    fn ages(&self, now: SystemTime) -> Ages {
        Ages {
            backend: age_s(now, self.backend_start),
            xact: age_s(now, self.xact_start),
            query: age_s(now, self.query_start),
            state: age_s(now, self.state_change),
        }
    }
}

/// A session's ages at one `now`, seconds.
struct Ages {
    backend: Option<f64>,
    xact: Option<f64>,
    query: Option<f64>,
    state: Option<f64>,
}

impl Ages {
    fn on(self, session: Session) -> Session {
        Session {
            backend_age_s: self.backend.into(),
            xact_age_s: self.xact.into(),
            query_age_s: self.query.into(),
            state_age_s: self.state.into(),
            ..session
        }
    }
}

/// The connection limits and the postmaster start they were read at.
#[derive(Debug, Clone)]
struct Settings {
    max_connections: i32,
    superuser_reserved: i32,
    reserved: i32,
    postmaster_start: SystemTime,
}

/// Every backend of one snapshot.
#[derive(Debug)]
struct Snapshot {
    now: SystemTime,
    postmaster_start: SystemTime,
    backends: Vec<Backend>,
}

/// What a delta returned.
#[derive(Debug)]
struct Delta {
    now: SystemTime,
    postmaster_start: SystemTime,
    /// (pid, since) of the backends sent thin.
    thin: Vec<(i32, SystemTime)>,
    full: Vec<Backend>,
}

/// What the collector holds from the last poll.
#[derive(Debug)]
struct Baseline {
    /// Server clock of the last poll.
    now: SystemTime,
    /// The quiet idle sessions by pid, with their `since`. Boxed: a map sized for 2,000
    /// backends has 4,096 slots, and slots of whole backends (most of them never filled)
    /// took twice the memory of the backends themselves.
    quiet: HashMap<i32, Box<(SystemTime, Backend)>>,
    /// The pids of every other backend (sent in full by the next delta).
    others: Vec<i32>,
    /// Backends in the last poll.
    backends: usize,
    /// Of those, how many a delta sent (or would have sent) in full.
    changed: usize,
}

impl Baseline {
    /// The backends of `delta` as a full read of its snapshot would give them: the full rows,
    /// and for each thin entry the backend held (moved out), checked by pid and `since`.
    /// `Err(pid)`: the first thin entry that does not match.
    fn merge(mut self, delta: Delta) -> Result<Vec<Backend>, i32> {
        let mut backends = delta.full;
        backends.reserve(delta.thin.len());
        for (pid, since) in delta.thin {
            match self.quiet.remove(&pid).map(|b| *b) {
                Some((held, backend)) if held == since => backends.push(backend),
                _ => return Err(pid),
            }
        }
        Ok(backends)
    }
}

/// The sample of `backends` seen at `now` (counts over every backend; sessions without our
/// own, sorted) and the baseline for the next poll, which keeps the quiet idle sessions.
/// `changed`: the rows a delta sent in full; for a full read, how many a delta would have sent
/// against `previous` (the backends not quiet, and the quiet ones with a recent `since`).
fn finish(
    now: SystemTime,
    settings: &Settings,
    backends: Vec<Backend>,
    changed: Option<usize>,
    previous: Option<&Baseline>,
) -> (ActivitySample, Baseline) {
    let count = backends.len();
    let recent_since = previous.map(|p| p.now - MARGIN);
    let mut recent = 0;
    let mut client_backends = 0;
    let mut waiting_on_lock = 0;
    let mut states: BTreeMap<String, i32> = BTreeMap::new();
    let mut sessions = Vec::with_capacity(count);
    let mut quiet = HashMap::with_capacity(count);
    let mut others = Vec::new();
    for b in backends {
        let s = &b.session;
        if b.is_client {
            client_backends += 1;
            let name = s.state.as_deref().unwrap_or(UNKNOWN_STATE);
            match states.get_mut(name) {
                Some(n) => *n += 1,
                None => {
                    states.insert(name.to_string(), 1);
                }
            }
            if s.wait_event_type.as_deref() == Some("Lock") {
                waiting_on_lock += 1;
            }
        }
        match b.quiet_since() {
            Some(since) => {
                if recent_since.is_some_and(|t| since >= t) {
                    recent += 1;
                }
                if !b.own {
                    sessions.push(b.session_at(now));
                }
                quiet.insert(b.session.pid, Box::new((since, b)));
            }
            None => {
                others.push(b.session.pid);
                if !b.own {
                    sessions.push(b.into_session_at(now));
                }
            }
        }
    }
    // Active first, background processes last, then the oldest transaction first (the
    // query does not sort: sorting here is cheaper than on the server).
    sessions.sort_by(|a, b| {
        let rank = |s: &Session| match s.state.as_deref() {
            Some("active") => 0,
            None => 2,
            Some(_) => 1,
        };
        let older = |x: Option<f64>, y: Option<f64>| {
            y.unwrap_or(-1.0)
                .partial_cmp(&x.unwrap_or(-1.0))
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        rank(a)
            .cmp(&rank(b))
            .then(older(a.xact_age_s.get(), b.xact_age_s.get()))
            .then(older(a.backend_age_s.get(), b.backend_age_s.get()))
    });
    let sample = ActivitySample {
        collected_at: epoch_s(now),
        max_connections: settings.max_connections,
        usable_connections: settings.max_connections
            - settings.superuser_reserved
            - settings.reserved,
        client_backends,
        states: states
            .into_iter()
            .map(|(state, count)| StateCount { state, count })
            .collect(),
        waiting_on_lock,
        sessions,
    };
    let baseline = Baseline {
        now,
        changed: changed.unwrap_or(others.len() + recent),
        quiet,
        others,
        backends: count,
    };
    (sample, baseline)
}

/// Polls [`ActivitySample`]s, reading only what changed between full reads (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct ActivityCollector {
    settings: Option<Settings>,
    baseline: Option<Baseline>,
    /// When the last full read was (client clock).
    full_read_at: Option<Instant>,
    last: Option<PollReport>,
}

impl ActivityCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the last successful poll read; `None` before the first.
    pub fn last_poll(&self) -> Option<PollReport> {
        self.last
    }

    /// What a poll at `now` reads: a full read (and why), or a delta (`None`).
    fn plan(&self, now: Instant) -> Option<FullReason> {
        let Some(b) = &self.baseline else {
            return Some(FullReason::First);
        };
        if self
            .full_read_at
            .is_none_or(|at| now.saturating_duration_since(at) >= FULL_READ_EVERY)
        {
            Some(FullReason::Periodic)
        } else if b.changed.saturating_mul(DELTA_MAX_CHANGED_ONE_IN) > b.backends {
            Some(FullReason::ManyChanged)
        } else {
            None
        }
    }

    /// One poll. Errors: the classified error of any query; [`ErrorKind::Decode`] when a row
    /// has an unexpected shape (texts never fail: they are decoded leniently). After an
    /// error in the delta itself the next delta is still measured against the last
    /// successful poll; after one later in the poll (the full read that follows a mismatch,
    /// the limits) the next poll reads everything.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<ActivitySample, CollectError> {
        let mut rows_thin = 0;
        let (snapshot, read, rows_full, changed) =
            match (self.plan(Instant::now()), &self.baseline) {
                (None, Some(baseline)) => {
                    let delta = read_delta(ctx, baseline.now - MARGIN, &baseline.others).await?;
                    let (now, postmaster_start) = (delta.now, delta.postmaster_start);
                    let sent_full = delta.full.len();
                    rows_thin = delta.thin.len();
                    let baseline = self.baseline.take().ok_or_else(|| {
                        CollectError::new(ErrorKind::Decode, "activity: no baseline")
                    })?;
                    match baseline.merge(delta) {
                        Ok(backends) => (
                            Snapshot {
                                now,
                                postmaster_start,
                                backends,
                            },
                            ReadKind::Delta,
                            sent_full,
                            Some(sent_full),
                        ),
                        Err(pid) => {
                            tracing::debug!(pid, "activity delta: a thin entry does not match");
                            let full = read_full(ctx).await?;
                            let rows = sent_full + full.backends.len();
                            (full, ReadKind::Full(FullReason::Mismatch), rows, None)
                        }
                    }
                }
                (reason, _) => {
                    let full = read_full(ctx).await?;
                    let rows = full.backends.len();
                    let reason = reason.unwrap_or(FullReason::First);
                    (full, ReadKind::Full(reason), rows, None)
                }
            };
        let settings_read = match &self.settings {
            Some(s) if s.postmaster_start == snapshot.postmaster_start => false,
            _ => {
                self.settings = Some(read_settings(ctx).await?);
                true
            }
        };
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| CollectError::new(ErrorKind::Decode, "activity_settings: not read"))?;
        let (sample, baseline) = finish(
            snapshot.now,
            settings,
            snapshot.backends,
            changed,
            self.baseline.as_ref(),
        );
        if read != ReadKind::Delta {
            self.full_read_at = Some(Instant::now());
        }
        self.baseline = Some(baseline);
        let report = PollReport {
            read,
            rows_full,
            rows_thin,
            settings_read,
        };
        tracing::debug!(
            read = ?report.read,
            rows_full,
            rows_thin,
            settings_read,
            "activity poll"
        );
        self.last = Some(report);
        Ok(sample)
    }
}

/// `activity`: every backend in full.
async fn read_full(ctx: &Ctx<'_>) -> Result<Snapshot, CollectError> {
    // row by row: at 2,000 sessions with their texts the whole result is megabytes
    let mut head: Option<(SystemTime, SystemTime)> = None;
    let mut backends = Vec::new();
    ctx.query_each(ctx.sql(ServerQuery::Activity)?, &[], |row| {
        if head.is_none() {
            head = Some((get(row, "now")?, get(row, "postmaster_start")?));
        }
        backends.push(Backend::decode(row)?);
        Ok(())
    })
    .await?;
    // pg_stat_activity always holds our own backend.
    let (now, postmaster_start) = head.ok_or_else(|| {
        CollectError::new(
            ErrorKind::Decode,
            "activity: pg_stat_activity returned no row",
        )
    })?;
    Ok(Snapshot {
        now,
        postmaster_start,
        backends,
    })
}

/// `activity_delta`: the backends not quiet since `threshold` in full (and those in
/// `others`), the rest thin.
async fn read_delta(
    ctx: &Ctx<'_>,
    threshold: SystemTime,
    others: &[i32],
) -> Result<Delta, CollectError> {
    let others = others.to_vec();
    let mut summary = None;
    let mut full = Vec::new();
    ctx.query_each(
        ctx.sql(ServerQuery::ActivityDelta)?,
        &[&threshold, &others],
        |row| {
            match get::<Option<Vec<i32>>>(row, "thin_pid")? {
                Some(pids) => {
                    let since: Vec<SystemTime> = get(row, "thin_since")?;
                    if since.len() != pids.len() {
                        return Err(CollectError::new(
                            ErrorKind::Decode,
                            "activity_delta: thin_pid and thin_since differ in length",
                        ));
                    }
                    let now: SystemTime = get(row, "now")?;
                    let postmaster_start: SystemTime = get(row, "postmaster_start")?;
                    summary = Some((now, postmaster_start, pids.into_iter().zip(since).collect()));
                }
                None => full.push(Backend::decode(row)?),
            }
            Ok(())
        },
    )
    .await?;
    let (now, postmaster_start, thin) = summary
        .ok_or_else(|| CollectError::new(ErrorKind::Decode, "activity_delta: no summary row"))?;
    Ok(Delta {
        now,
        postmaster_start,
        thin,
        full,
    })
}

/// `activity_settings`: the connection limits.
async fn read_settings(ctx: &Ctx<'_>) -> Result<Settings, CollectError> {
    let rows = ctx
        .query(ctx.sql(ServerQuery::ActivitySettings)?, &[])
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| CollectError::new(ErrorKind::Decode, "activity_settings: no row"))?;
    Ok(Settings {
        max_connections: get(row, "max_connections")?,
        superuser_reserved: get(row, "superuser_reserved_connections")?,
        reserved: get(row, "reserved_connections")?,
        postmaster_start: get(row, "postmaster_start")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::UNIX_EPOCH;

    fn pids(backends: &[Backend]) -> HashSet<i32> {
        backends.iter().map(|b| b.session.pid).collect()
    }

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_760_000_000 + s)
    }

    /// A client backend in `state`, started at 0 s, last query at `query_s`.
    fn backend(pid: i32, state: &str, query_s: u64) -> Backend {
        let in_xact = state != "idle";
        Backend {
            own: false,
            is_client: true,
            backend_start: Some(at(0)),
            xact_start: in_xact.then(|| at(query_s)),
            query_start: Some(at(query_s)),
            state_change: Some(at(query_s)),
            session: Session {
                pid,
                backend_type: CLIENT_BACKEND.into(),
                state: Some(state.into()),
                wait_event_type: (!in_xact).then(|| "Client".into()),
                wait_event: (!in_xact).then(|| "ClientRead".into()),
                backend_start: Some(epoch_s(at(0))).into(),
                query: format!("SELECT {pid}"),
                ..Session::default()
            },
        }
    }

    fn settings() -> Settings {
        Settings {
            max_connections: 100,
            superuser_reserved: 3,
            reserved: 0,
            postmaster_start: at(0),
        }
    }

    #[test]
    fn only_quiet_idle_sessions_may_be_carried() {
        assert_eq!(backend(1, "idle", 5).quiet_since(), Some(at(5)));
        assert_eq!(backend(2, "active", 5).quiet_since(), None);
        assert_eq!(backend(3, "idle in transaction", 5).quiet_since(), None);
        let mut never_queried = backend(4, "idle", 5);
        never_queried.query_start = None;
        assert_eq!(
            never_queried.quiet_since(),
            Some(at(0)),
            "backend_start then"
        );
        let mut xmin = backend(5, "idle", 5);
        xmin.session.backend_xmin_age = Some(3).into();
        assert_eq!(xmin.quiet_since(), None, "its xmin age moves");
        let mut waiting = backend(6, "idle", 5);
        waiting.session.wait_event_type = Some("LWLock".into());
        assert_eq!(waiting.quiet_since(), None);
        let mut hidden = backend(7, "idle", 5);
        hidden.session.state = None;
        assert_eq!(hidden.quiet_since(), None, "another role's, unseen");
        let mut walsender = backend(8, "idle", 5);
        walsender.session.backend_type = "walsender".into();
        assert_eq!(walsender.quiet_since(), None);
    }

    /// The baseline after a poll that saw `backends` at `now`.
    fn baseline(
        now: SystemTime,
        backends: &[Backend],
        changed: Option<usize>,
        previous: Option<&Baseline>,
    ) -> Baseline {
        finish(now, &settings(), backends.to_vec(), changed, previous).1
    }

    #[test]
    fn a_delta_carries_thin_backends_drops_gone_ones_and_counts_like_a_full_read() {
        let before = vec![
            backend(1, "idle", 5),
            backend(2, "idle", 6),
            backend(3, "active", 7),
            backend(4, "idle", 8), // disconnects
        ];
        let held = baseline(at(10), &before, None, None);
        assert_eq!(held.others, vec![3]);
        assert_eq!(held.changed, 1);
        // now: 1 unchanged, 2 ran a query (idle again), 3 went idle, 4 is gone, 5 is new
        let now_full = vec![
            backend(2, "idle", 11),
            backend(3, "idle", 7),
            backend(5, "idle in transaction", 12),
        ];
        let delta = Delta {
            now: at(20),
            postmaster_start: at(0),
            thin: vec![(1, at(5))],
            full: now_full.clone(),
        };
        let merged = held.merge(delta).expect("every thin entry matches");
        assert_eq!(pids(&merged), HashSet::from([1, 2, 3, 5]));
        let mut full_read = now_full;
        full_read.push(backend(1, "idle", 5));
        let (a, next) = finish(at(20), &settings(), merged, Some(3), None);
        let (b, _) = finish(at(20), &settings(), full_read, None, None);
        assert_eq!(a, b);
        assert_eq!(a.client_backends, 4);
        assert_eq!(
            a.states,
            vec![
                StateCount {
                    state: "idle".into(),
                    count: 3
                },
                StateCount {
                    state: "idle in transaction".into(),
                    count: 1
                },
            ]
        );
        // the carried session's ages are against the new now
        let one = a.sessions.iter().find(|s| s.pid == 1).expect("listed");
        assert_eq!(one.state_age_s, Some(15.0));
        assert_eq!(one.backend_age_s, Some(20.0));
        assert_eq!(a.usable_connections, 97);
        // the next delta sends 5 in full, and may send 1, 2 and 3 thin
        assert_eq!(next.others, vec![5]);
        let mut quiet: Vec<i32> = next.quiet.keys().copied().collect();
        quiet.sort_unstable();
        assert_eq!(quiet, vec![1, 2, 3]);
        assert_eq!(next.changed, 3);
    }

    #[test]
    fn our_own_backends_are_counted_not_listed() {
        let mut ours = backend(1, "idle", 5);
        ours.own = true;
        let (sample, held) = finish(
            at(9),
            &settings(),
            vec![ours, backend(2, "idle", 5)],
            None,
            None,
        );
        assert_eq!(sample.client_backends, 2);
        assert_eq!(sample.sessions.len(), 1);
        assert!(held.quiet.contains_key(&1), "and still carried");
    }

    #[test]
    fn a_thin_entry_that_does_not_match_is_refused() {
        let held = || {
            baseline(
                at(10),
                &[backend(1, "idle", 5), backend(2, "active", 6)],
                None,
                None,
            )
        };
        let thin = |thin: Vec<(i32, SystemTime)>| Delta {
            now: at(20),
            postmaster_start: at(0),
            thin,
            full: Vec::new(),
        };
        assert_eq!(held().merge(thin(vec![(1, at(5))])).map(|b| b.len()), Ok(1));
        assert_eq!(held().merge(thin(vec![(1, at(6))])).map(|_| ()), Err(1));
        assert_eq!(held().merge(thin(vec![(9, at(5))])).map(|_| ()), Err(9));
        // 2 was not quiet: a thin entry for it is no match either
        assert_eq!(held().merge(thin(vec![(2, at(6))])).map(|_| ()), Err(2));
        // nor is the same pid twice
        assert_eq!(
            held().merge(thin(vec![(1, at(5)), (1, at(5))])).map(|_| ()),
            Err(1)
        );
    }

    #[test]
    fn the_next_read_is_full_when_many_changed_or_after_a_while() {
        let idle: Vec<Backend> = (1..=30).map(|p| backend(p, "idle", 5)).collect();
        let mut c = ActivityCollector::new();
        let t0 = Instant::now();
        assert_eq!(c.plan(t0), Some(FullReason::First));
        c.full_read_at = Some(t0);
        c.baseline = Some(baseline(at(10), &idle, Some(3), None));
        assert_eq!(c.plan(t0), None, "3 of 30 changed: a delta");
        c.baseline = Some(baseline(at(10), &idle, Some(4), None));
        assert_eq!(c.plan(t0), Some(FullReason::ManyChanged));
        // a full read estimates what a delta would have sent: the recent queries count
        let previous = baseline(at(8), &idle, Some(0), None);
        let mut now = idle.clone();
        for b in now.iter_mut().take(4) {
            b.query_start = Some(at(9));
        }
        assert_eq!(baseline(at(10), &now, None, Some(&previous)).changed, 4);
        c.baseline = Some(baseline(at(10), &idle, Some(0), None));
        assert_eq!(c.plan(t0), None);
        assert_eq!(c.plan(t0 + FULL_READ_EVERY), Some(FullReason::Periodic));
    }
}
