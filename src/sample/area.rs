//! The areas pgvitals watches, and everything that is decided per area: this is the one
//! registry. A consumer that needs a per-area fact asks [`Area`]; a `match` over `Area`
//! elsewhere lists every area (no wildcard arm), so a new area is a compile error until each
//! layer has decided what to do with it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Rule;

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
}

/// How often an area is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every `interval` (the `--interval` flag, 2 s by default).
    Interval,
    /// Every `interval`, but never more often than this: the area's query is costly and its
    /// values move slowly.
    AtLeast(Duration),
    /// Every `slow_interval` (60 s by default): expensive catalog work.
    Slow,
}

/// pg_stat_statements is polled at most this often: reading it costs about 3 µs per entry
/// on the server (3 ms for 1,000 entries, 15 ms at the default `pg_stat_statements.max`).
pub const STATEMENTS_MIN_PERIOD: Duration = Duration::from_secs(5);

/// The vacuum area (catalog scans of pg_class and pg_stat_user_tables, slow-moving ages) is
/// polled at most this often.
pub const VACUUM_MIN_PERIOD: Duration = Duration::from_secs(10);

impl Area {
    /// Every area, in tab order (the server first: it has no tab).
    pub const ALL: [Area; 7] = [
        Area::Server,
        Area::Activity,
        Area::Statements,
        Area::Cache,
        Area::Replication,
        Area::UnusedIndexes,
        Area::Vacuum,
    ];

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
        }
    }

    /// Whether the area has a tab of its own (the server sample feeds the header instead).
    pub fn has_tab(self) -> bool {
        match self {
            Area::Server => false,
            Area::Activity
            | Area::Statements
            | Area::Cache
            | Area::Replication
            | Area::UnusedIndexes
            | Area::Vacuum => true,
        }
    }

    /// The areas that have a tab, in tab order (keys 1, 2, ...).
    pub fn tabs() -> impl Iterator<Item = Area> {
        Area::ALL.into_iter().filter(|a| a.has_tab())
    }

    /// How often the area is polled (see [`Area::period`]).
    pub fn cadence(self) -> Cadence {
        match self {
            Area::Server | Area::Activity | Area::Cache | Area::Replication => Cadence::Interval,
            Area::Statements => Cadence::AtLeast(STATEMENTS_MIN_PERIOD),
            Area::Vacuum => Cadence::AtLeast(VACUUM_MIN_PERIOD),
            Area::UnusedIndexes => Cadence::Slow,
        }
    }

    /// The poll period of the area, given the fast and slow intervals: every `interval` for
    /// server, activity, cache and replication; statements and vacuum at most every 5 s and
    /// 10 s; unused indexes every `slow_interval` (never faster than `interval`). Measured on
    /// a server with 1,000 statements and 200 sessions, this keeps all six areas at a 1 s
    /// interval near 2 ms of server time per second.
    pub fn period(self, interval: Duration, slow_interval: Duration) -> Duration {
        match self.cadence() {
            Cadence::Interval => interval,
            Cadence::AtLeast(min) => interval.max(min),
            Cadence::Slow => slow_interval.max(interval),
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
            | Area::Vacuum => 12,
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
            Area::Server | Area::Cache | Area::UnusedIndexes => None,
            Area::Activity => Some(
                "other roles' sessions show `<insufficient privilege>` and no state, times, client, wait event or blocking pids",
            ),
            Area::Statements => Some("other roles' statements are left out"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_the_cadence() {
        let (fast, slow) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(Area::Activity.period(fast, slow), fast);
        assert_eq!(Area::Statements.period(fast, slow), STATEMENTS_MIN_PERIOD);
        assert_eq!(
            Area::Statements.period(Duration::from_secs(9), slow),
            Duration::from_secs(9)
        );
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
        assert!(!Area::Server.has_tab());
        assert_eq!(Area::tabs().count(), Area::ALL.len() - 1);
        assert_eq!(Area::Vacuum.unavailable_on(12), None);
    }
}
