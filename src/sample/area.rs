//! The areas pgvitals watches, and everything that is decided per area: this is the one
//! registry, with the [`Sample`] of each area and the alert [`Rule`]s (their area, unit and
//! default thresholds). A consumer that needs a per-area fact asks [`Area`]; a `match` over `Area`
//! elsewhere lists every area (no wildcard arm), so a new area is a compile error until each
//! layer has decided what to do with it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::*;

/// Rows of each top-N list (unused indexes, per-table cache) unless configured (`top_n`):
/// the totals beside a list always count every row.
pub const DEFAULT_TOP_N: u32 = 50;

/// The health areas plus the small server sample (header counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Server,
    Activity,
    Statements,
    Cache,
    Replication,
    UnusedIndexes,
    Vacuum,
    Wal,
    /// The wait profile's sampler (no tab: its profile shows in the statements and activity
    /// panels).
    Waits,
}

/// How often an area is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every `interval` (the `--interval` flag, 2 s by default).
    Interval,
    /// Every `interval`, but never more often than this: the area's query is costly and its
    /// values move slowly.
    AtLeast(Duration),
    /// Every `slow_interval` (60 s by default): expensive catalog work; never more often
    /// than [`crate::collect::COST_FACTOR`] times its own last duration (unused indexes at
    /// 50,000 indexes: 0.6 s, so every 2.5 minutes).
    Slow,
    /// Every this long whatever the interval (a sampler), and never more often than
    /// [`crate::collect::COST_FACTOR`] times its own last server time, nor less often than
    /// [`crate::collect::SAMPLER_MAX_PERIOD`].
    Sampler(Duration),
}

/// The wait profile's sampler runs at most this often: 2 samples a second while a sample
/// costs under 2 ms of server time (up to several hundred sessions); on a bigger server it
/// is paced by its own cost (one sample per 250 × its server time, the round trip left out:
/// one every 0.6 s at 1,000 sessions), so it takes at most 0.4 % of the session's time
/// until a sample costs 8 ms, and samples at least every 2 s beyond.
pub const WAITS_PERIOD: Duration = Duration::from_millis(500);

/// pg_stat_statements is polled at most this often: reading it costs about 1–4 µs per
/// entry on the server, whatever the columns (the extension builds every entry's row; 8 ms
/// for 2,000 entries under load, 10 ms at the default `pg_stat_statements.max` of 5,000),
/// the biggest single cost of a moderate server's monitoring (48 ms a minute at 10 s); its
/// rates are averaged over this window. Tools that keep a history read it less often still
/// (postgres_exporter on each scrape, pgwatch every 3 minutes).
pub const STATEMENTS_MIN_PERIOD: Duration = Duration::from_secs(15);

/// The cache area (every database's `blks_hit` / `blks_read` in `pg_stat_database`, and on
/// its own slower timer the per-table counters) is polled at most this often: a hit ratio
/// over a second is noise, one over 5 s is a reading, and the area's query, cheap as it is
/// (0.05 ms), costs the server about as much again in per-statement work as it executes.
pub const CACHE_MIN_PERIOD: Duration = Duration::from_secs(5);

/// The vacuum area (catalog scans of pg_class and pg_stat_user_tables, slow-moving ages) is
/// polled at most this often.
pub const VACUUM_MIN_PERIOD: Duration = Duration::from_secs(10);

impl Area {
    /// Every area, in tab order (the server first: it has no tab).
    pub const ALL: [Area; 9] = [
        Area::Server,
        Area::Activity,
        Area::Statements,
        Area::Cache,
        Area::Replication,
        Area::UnusedIndexes,
        Area::Vacuum,
        Area::Wal,
        Area::Waits,
    ];

    /// The area whose [`Area::key`] is `key`.
    pub fn from_key(key: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.key() == key)
    }

    /// The JSON key of `pgvitals snapshot` and the name used in messages.
    pub fn key(self) -> &'static str {
        match self {
            Area::Server => "server",
            Area::Activity => "activity",
            Area::Statements => "statements",
            Area::Cache => "cache",
            Area::Replication => "replication",
            Area::UnusedIndexes => "unused_indexes",
            Area::Vacuum => "vacuum",
            Area::Wal => "wal",
            Area::Waits => "waits",
        }
    }

    /// The area's title (tab bar, panel frame); `short` for narrow terminals.
    pub fn title(self, short: bool) -> &'static str {
        match (self, short) {
            (Area::Server, _) => "Server",
            (Area::Activity, _) => "Activity",
            (Area::Statements, false) => "Statements",
            (Area::Statements, true) => "Stmts",
            (Area::Cache, _) => "Cache",
            (Area::Replication, false) => "Replication",
            (Area::Replication, true) => "Repl",
            (Area::UnusedIndexes, false) => "Unused indexes",
            (Area::UnusedIndexes, true) => "Unused",
            (Area::Vacuum, _) => "Vacuum",
            (Area::Wal, _) => "WAL",
            (Area::Waits, _) => "Waits",
        }
    }

    /// Whether the area has a tab of its own (the server sample feeds the header instead).
    pub fn has_tab(self) -> bool {
        match self {
            Area::Server | Area::Waits => false,
            Area::Activity
            | Area::Statements
            | Area::Cache
            | Area::Replication
            | Area::UnusedIndexes
            | Area::Vacuum
            | Area::Wal => true,
        }
    }

    /// The areas that have a tab, in tab order (keys 1, 2, ...).
    pub fn tabs() -> impl Iterator<Item = Area> {
        Area::ALL.into_iter().filter(|a| a.has_tab())
    }

    /// How often the area is polled (see [`Area::period`]).
    pub fn cadence(self) -> Cadence {
        match self {
            Area::Server | Area::Activity | Area::Replication | Area::Wal => Cadence::Interval,
            Area::Cache => Cadence::AtLeast(CACHE_MIN_PERIOD),
            Area::Statements => Cadence::AtLeast(STATEMENTS_MIN_PERIOD),
            Area::Vacuum => Cadence::AtLeast(VACUUM_MIN_PERIOD),
            Area::UnusedIndexes => Cadence::Slow,
            Area::Waits => Cadence::Sampler(WAITS_PERIOD),
        }
    }

    /// The poll period of the area, given the fast and slow intervals: every `interval` for
    /// server, activity, replication and WAL; cache at most every 5 s; vacuum at most every
    /// 10 s; statements at most every 15 s; unused indexes every `slow_interval` (never
    /// faster than `interval`). On the moderate bench (2,000 statements, 117 sessions, 200
    /// tps) this keeps every area at a 1 s interval near 2.3 ms of server time per second.
    pub fn period(self, interval: Duration, slow_interval: Duration) -> Duration {
        match self.cadence() {
            Cadence::Interval => interval,
            Cadence::AtLeast(min) => interval.max(min),
            Cadence::Slow => slow_interval.max(interval),
            Cadence::Sampler(every) => every,
        }
    }

    /// Whether what the model derives from this area's sample needs the previous sample (the
    /// model's `derive`: rates over the measured interval). `pgvitals snapshot` queries such
    /// an area twice, `--interval` apart, and every other area once. Server (transactions per
    /// second), statements (calls and times per second, interval means), cache (hits and
    /// reads per second, the interval hit ratio) and WAL (bytes and records per second, the
    /// checkpoint window) need two samples; activity, replication (its lags are the server's
    /// own), unused indexes and vacuum (ages on the server's clock) need one. The forecasts
    /// of vacuum (xid consumption, time to wraparound) and replication (slot growth, time to
    /// invalidation) need a window of samples of at least a minute
    /// (`model::rates::MIN_WINDOW_S`), which two polls `--interval` apart do not make: a
    /// snapshot shows them as `null` ("estimating"). Checked against the derive functions by
    /// a model test (`model::areas`).
    pub fn needs_rates(self) -> bool {
        match self {
            Area::Server | Area::Statements | Area::Cache | Area::Wal => true,
            Area::Activity
            | Area::Replication
            | Area::UnusedIndexes
            | Area::Vacuum
            | Area::Waits => false,
        }
    }

    /// The first PostgreSQL major the area exists on; below it the area reads "needs
    /// PostgreSQL N" instead of polling (and is not an error).
    pub fn first_major(self) -> u32 {
        match self {
            Area::Server
            | Area::Activity
            | Area::Statements
            | Area::Cache
            | Area::Replication
            | Area::UnusedIndexes
            | Area::Vacuum
            | Area::Wal
            | Area::Waits => 12,
        }
    }

    /// "needs PostgreSQL N" when the server's `major` is below [`Area::first_major`].
    pub fn unavailable_on(self, major: u32) -> Option<String> {
        (major < self.first_major()).then(|| {
            format!(
                "needs PostgreSQL {} (this server is {major})",
                self.first_major()
            )
        })
    }

    /// The alert rules that read this area's samples.
    pub fn rules(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.into_iter().filter(move |r| r.area() == self)
    }

    /// What a role without `pg_read_all_stats` cannot see in this area (the area still polls
    /// without error: PostgreSQL hides columns instead of failing), or `None` when the area
    /// needs no privilege. `in_recovery`: on a standby the replication area shows the WAL
    /// receiver instead of standbys.
    pub fn hidden_without_read_all_stats(self, in_recovery: bool) -> Option<&'static str> {
        match self {
            // the WAL area's one hidden setting (archive_command) needs pg_read_all_settings,
            // not pg_read_all_stats: its panel says so itself
            Area::Server | Area::Cache | Area::UnusedIndexes | Area::Wal => None,
            Area::Activity => Some(
                "other roles' sessions show `<insufficient privilege>` and no state, times, client, wait event or blocking pids",
            ),
            Area::Statements => Some("other roles' statements are left out"),
            Area::Waits => Some("other roles' active backends are left out of the wait profile"),
            Area::Replication if in_recovery => {
                Some("the WAL receiver's status, sender and last message time are hidden")
            }
            Area::Replication => Some("standbys' state, LSNs, lag and xmin are hidden"),
            Area::Vacuum => Some(
                "other roles' vacuums show no table or progress, and the state and transaction age of their sessions holding the xmin horizon are hidden",
            ),
        }
    }
}

/// One sample of one area.
// A sample travels boxed (`Update::Sample`) and is stored once per area: the size of the
// largest variant (the WAL sample's counters) costs nothing per poll.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Sample {
    Server(ServerSample),
    Activity(ActivitySample),
    Statements(StatementsSample),
    Cache(CacheSample),
    Replication(ReplicationSample),
    UnusedIndexes(UnusedIndexesSample),
    Vacuum(VacuumSample),
    Wal(WalSample),
    Waits(WaitsSample),
}

impl Sample {
    pub fn area(&self) -> Area {
        match self {
            Sample::Server(_) => Area::Server,
            Sample::Activity(_) => Area::Activity,
            Sample::Statements(_) => Area::Statements,
            Sample::Cache(_) => Area::Cache,
            Sample::Replication(_) => Area::Replication,
            Sample::UnusedIndexes(_) => Area::UnusedIndexes,
            Sample::Vacuum(_) => Area::Vacuum,
            Sample::Wal(_) => Area::Wal,
            Sample::Waits(_) => Area::Waits,
        }
    }
}

/// The alert rules, by their config/JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Client backends as % of usable connections (max_connections minus reserved slots).
    Connections,
    /// Seconds a query has been running (state active).
    LongQuery,
    /// Seconds a session has been idle in transaction.
    IdleInTransaction,
    /// Seconds a session has been waiting on a lock (approximated by its query's age).
    Blocked,
    /// Buffer cache hit ratio over the last interval (0..1, lower is worse); evaluated only
    /// with at least `min` blocks accessed per second.
    CacheHitRatio,
    /// Bytes a standby's replay is behind (either side's view).
    ReplicationLagBytes,
    /// Seconds of replay lag.
    ReplicationLagTime,
    /// Bytes of WAL a replication slot retains.
    SlotRetainedWal,
    /// An inactive (non-temporary) slot retaining at least `min` bytes; critical when its WAL is
    /// `unreserved` or `lost`.
    InactiveSlot,
    /// Seconds until a slot's `safe_wal_size` runs out at the rate it shrinks
    /// (`invalidation_eta_s`, lower is worse); only with max_slot_wal_keep_size and a
    /// measured rate (never while estimating).
    SlotInvalidationEta,
    /// `age(datfrozenxid)`, transactions.
    XidAge,
    /// `mxid_age(datminmxid)`, multixacts.
    MxidAge,
    /// Seconds until a database's xid age reaches the wraparound stop at the measured
    /// consumption rate (`xid_wraparound_eta_s`, lower is worse); only with a rate (never
    /// while estimating).
    XidWraparoundEta,
    /// Dead tuple ratio of a table (0..1), evaluated only with at least `min` dead tuples.
    DeadTuples,
    /// The server cannot be reached (seconds since the last good contact). Always critical.
    ServerUnreachable,
    /// Archiving fails (the last failure is newer than the last success): the value is the
    /// seconds since the last successful archive, while WAL piles up until the disk fills.
    ArchiveFailing,
    /// Share of requested checkpoints (0..1) over the last hour, with at least `min`
    /// checkpoints in it: WAL reaches `max_wal_size` before `checkpoint_timeout`.
    CheckpointsRequested,
    /// A statement slower than it used to be: its mean time per call over the interval as a
    /// multiple of its baseline (the mean of every call before the interval since its entry
    /// began), with at least `min` calls in the interval (see
    /// `model::areas::statements` for the floors).
    StatementRegression,
}

impl Rule {
    pub const ALL: [Rule; 18] = [
        Rule::Connections,
        Rule::LongQuery,
        Rule::IdleInTransaction,
        Rule::Blocked,
        Rule::CacheHitRatio,
        Rule::ReplicationLagBytes,
        Rule::ReplicationLagTime,
        Rule::SlotRetainedWal,
        Rule::InactiveSlot,
        Rule::SlotInvalidationEta,
        Rule::XidAge,
        Rule::MxidAge,
        Rule::XidWraparoundEta,
        Rule::DeadTuples,
        Rule::ServerUnreachable,
        Rule::ArchiveFailing,
        Rule::CheckpointsRequested,
        Rule::StatementRegression,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Connections => "connections",
            Rule::LongQuery => "long_query",
            Rule::IdleInTransaction => "idle_in_transaction",
            Rule::Blocked => "blocked",
            Rule::CacheHitRatio => "cache_hit_ratio",
            Rule::ReplicationLagBytes => "replication_lag_bytes",
            Rule::ReplicationLagTime => "replication_lag_time",
            Rule::SlotRetainedWal => "slot_retained_wal",
            Rule::InactiveSlot => "inactive_slot",
            Rule::SlotInvalidationEta => "slot_invalidation_eta",
            Rule::XidAge => "xid_age",
            Rule::MxidAge => "mxid_age",
            Rule::XidWraparoundEta => "xid_wraparound_eta",
            Rule::DeadTuples => "dead_tuples",
            Rule::ServerUnreachable => "server_unreachable",
            Rule::ArchiveFailing => "archive_failing",
            Rule::CheckpointsRequested => "checkpoints_requested",
            Rule::StatementRegression => "statement_regression",
        }
    }

    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The area whose samples the rule reads (its alerts are that area's).
    pub fn area(self) -> Area {
        match self {
            Rule::Connections | Rule::LongQuery | Rule::IdleInTransaction | Rule::Blocked => {
                Area::Activity
            }
            Rule::CacheHitRatio => Area::Cache,
            Rule::ReplicationLagBytes
            | Rule::ReplicationLagTime
            | Rule::SlotRetainedWal
            | Rule::InactiveSlot
            | Rule::SlotInvalidationEta => Area::Replication,
            Rule::XidAge | Rule::MxidAge | Rule::XidWraparoundEta | Rule::DeadTuples => {
                Area::Vacuum
            }
            Rule::ServerUnreachable => Area::Server,
            Rule::ArchiveFailing | Rule::CheckpointsRequested => Area::Wal,
            Rule::StatementRegression => Area::Statements,
        }
    }

    /// The default (warning, critical, min) of the rule's threshold, in its [`Unit`]; `min`
    /// is the volume floor below which it is not evaluated (cache: blocks/s; dead tuples:
    /// dead tuples; inactive slot: bytes), or 0.
    pub fn defaults(self) -> (f64, f64, f64) {
        const MB: f64 = 1024.0 * 1024.0;
        const GB: f64 = 1024.0 * MB;
        const HOUR: f64 = 3600.0;
        match self {
            Rule::Connections => (80.0, 95.0, 0.0),
            Rule::LongQuery => (300.0, 1800.0, 0.0),
            Rule::IdleInTransaction => (60.0, 600.0, 0.0),
            Rule::Blocked => (30.0, 300.0, 0.0),
            Rule::CacheHitRatio => (0.95, 0.90, 500.0),
            Rule::ReplicationLagBytes => (10.0 * MB, 1.0 * GB, 0.0),
            Rule::ReplicationLagTime => (30.0, 300.0, 0.0),
            Rule::SlotRetainedWal => (1.0 * GB, 10.0 * GB, 0.0),
            // warning/critical unused: inactive is a warning, unreserved/lost critical
            Rule::InactiveSlot => (1.0, 1.0, 16.0 * MB),
            // lower is worse: warning below 6 h left, critical below 1 h
            Rule::SlotInvalidationEta => (6.0 * HOUR, HOUR, 0.0),
            Rule::XidAge => (500_000_000.0, 1_200_000_000.0, 0.0),
            Rule::MxidAge => (500_000_000.0, 1_200_000_000.0, 0.0),
            // lower is worse: warning below 72 h left, critical below 24 h
            Rule::XidWraparoundEta => (72.0 * HOUR, 24.0 * HOUR, 0.0),
            Rule::DeadTuples => (0.2, 0.5, 10_000.0),
            Rule::ServerUnreachable => (0.0, 0.0, 0.0),
            // warning at once, critical after 10 minutes without a successful archive
            Rule::ArchiveFailing => (0.0, 600.0, 0.0),
            Rule::CheckpointsRequested => (0.5, 0.9, 3.0),
            // 3× slower a warning, 10× critical, judged with at least 10 calls in the interval
            Rule::StatementRegression => (3.0, 10.0, 10.0),
        }
    }

    /// True when a lower value is worse: the cache hit ratio, and the time left of the
    /// forecasts (wraparound stop, slot invalidation).
    pub fn lower_is_worse(self) -> bool {
        matches!(
            self,
            Rule::CacheHitRatio | Rule::XidWraparoundEta | Rule::SlotInvalidationEta
        )
    }

    /// The unit of values and thresholds, for messages and config parsing.
    pub fn unit(self) -> Unit {
        match self {
            Rule::Connections => Unit::Percent,
            Rule::LongQuery
            | Rule::IdleInTransaction
            | Rule::Blocked
            | Rule::ReplicationLagTime
            | Rule::ServerUnreachable
            | Rule::ArchiveFailing
            | Rule::XidWraparoundEta
            | Rule::SlotInvalidationEta => Unit::Seconds,
            Rule::CacheHitRatio | Rule::DeadTuples | Rule::CheckpointsRequested => Unit::Ratio,
            Rule::ReplicationLagBytes | Rule::SlotRetainedWal | Rule::InactiveSlot => Unit::Bytes,
            Rule::XidAge | Rule::MxidAge => Unit::Transactions,
            Rule::StatementRegression => Unit::Factor,
        }
    }
}

/// Units of rule values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Percent,
    Seconds,
    Ratio,
    Bytes,
    Transactions,
    /// A multiple of a baseline (`3.0×`).
    Factor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_the_cadence() {
        let (fast, slow) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(Area::Activity.period(fast, slow), fast);
        assert_eq!(Area::Statements.period(fast, slow), STATEMENTS_MIN_PERIOD);
        assert_eq!(
            Area::Statements.period(Duration::from_secs(20), slow),
            Duration::from_secs(20)
        );
        assert_eq!(Area::Cache.period(fast, slow), CACHE_MIN_PERIOD);
        assert_eq!(
            Area::Cache.period(Duration::from_secs(6), slow),
            Duration::from_secs(6)
        );
        assert_eq!(Area::Wal.period(fast, slow), fast);
        assert_eq!(Area::Vacuum.period(fast, slow), VACUUM_MIN_PERIOD);
        assert_eq!(Area::UnusedIndexes.period(fast, slow), slow);
        assert_eq!(
            Area::UnusedIndexes.period(Duration::from_secs(90), slow),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn every_rule_belongs_to_an_area_and_keys_are_unique() {
        let owned: usize = Area::ALL.iter().map(|a| a.rules().count()).sum();
        assert_eq!(owned, Rule::ALL.len());
        let mut keys: Vec<&str> = Area::ALL.iter().map(|a| a.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Area::ALL.len());
        assert!(!Area::Server.has_tab() && !Area::Waits.has_tab());
        assert_eq!(Area::tabs().count(), Area::ALL.len() - 2);
        assert_eq!(Area::Vacuum.unavailable_on(12), None);
    }
}
