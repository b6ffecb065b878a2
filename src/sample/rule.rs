//! The alert rules, by name, with the area each belongs to and the unit of its values.

use serde::{Deserialize, Serialize};

use super::Area;

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
    /// `age(datfrozenxid)`, transactions.
    XidAge,
    /// `mxid_age(datminmxid)`, multixacts.
    MxidAge,
    /// Dead tuple ratio of a table (0..1), evaluated only with at least `min` dead tuples.
    DeadTuples,
    /// The server cannot be reached (seconds since the last good contact). Always critical.
    ServerUnreachable,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::Connections,
        Rule::LongQuery,
        Rule::IdleInTransaction,
        Rule::Blocked,
        Rule::CacheHitRatio,
        Rule::ReplicationLagBytes,
        Rule::ReplicationLagTime,
        Rule::SlotRetainedWal,
        Rule::InactiveSlot,
        Rule::XidAge,
        Rule::MxidAge,
        Rule::DeadTuples,
        Rule::ServerUnreachable,
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
            Rule::XidAge => "xid_age",
            Rule::MxidAge => "mxid_age",
            Rule::DeadTuples => "dead_tuples",
            Rule::ServerUnreachable => "server_unreachable",
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
            | Rule::InactiveSlot => Area::Replication,
            Rule::XidAge | Rule::MxidAge | Rule::DeadTuples => Area::Vacuum,
            Rule::ServerUnreachable => Area::Server,
        }
    }

    /// True when a lower value is worse (only the cache hit ratio).
    pub fn lower_is_worse(self) -> bool {
        matches!(self, Rule::CacheHitRatio)
    }

    /// The unit of values and thresholds, for messages and config parsing.
    pub fn unit(self) -> Unit {
        match self {
            Rule::Connections => Unit::Percent,
            Rule::LongQuery
            | Rule::IdleInTransaction
            | Rule::Blocked
            | Rule::ReplicationLagTime
            | Rule::ServerUnreachable => Unit::Seconds,
            Rule::CacheHitRatio | Rule::DeadTuples => Unit::Ratio,
            Rule::ReplicationLagBytes | Rule::SlotRetainedWal | Rule::InactiveSlot => Unit::Bytes,
            Rule::XidAge | Rule::MxidAge => Unit::Transactions,
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
}
