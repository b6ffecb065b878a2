//! The collection layer: one polling worker per server and area, each sending typed samples
//! (or classified errors) over one channel to the model.
//!
//! * [`session`] owns the connections (deadpool-postgres, at most two per server), the session
//!   settings, the probe of [`ServerFacts`] after every (re)connect, and the reconnect backoff.
//! * One module per area turns the rows of its query (`queries/`) into a sample type of
//!   [`crate::sample`]. Collectors never see the UI.

pub mod activity;
pub mod cache;
pub mod error;
pub mod probe;
pub mod replication;
pub mod server;
pub mod session;
pub mod statements;
pub mod unused_indexes;
pub mod vacuum;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql, Type};

pub use error::{CollectError, ErrorKind};

use crate::sample::*;

/// The six health areas plus the small server sample.
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

impl Area {
    pub const ALL: [Area; 7] = [
        Area::Server,
        Area::Activity,
        Area::Statements,
        Area::Cache,
        Area::Replication,
        Area::UnusedIndexes,
        Area::Vacuum,
    ];

    /// The JSON key and the name used in messages.
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
}

/// One sample of one area.
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
        }
    }
}

/// pg_stat_statements as found on the server by the probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgssInfo {
    /// Schema the extension lives in (`pg_extension.extnamespace`).
    pub schema: String,
    /// Installed version, `(1, 10)` for `1.10`.
    pub version: (u32, u32),
    /// The version this server would install by default (`pg_available_extensions`), when
    /// newer than the installed one: the extension lags the server (after pg_upgrade).
    pub default_version: Option<(u32, u32)>,
}

/// What the probe learned about a server right after (re)connecting. Query variants are
/// chosen from these facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// `server_version_num`, e.g. 150018.
    pub server_version_num: i32,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// `current_user`.
    pub current_user: String,
    /// `current_database()`.
    pub datname: String,
    /// `pg_backend_pid()` of the probing connection.
    pub backend_pid: i32,
    /// `rolsuper` of the current user.
    pub is_superuser: bool,
    /// Memberships (direct or inherited).
    pub pg_monitor: bool,
    pub pg_read_all_stats: bool,
    pub pg_signal_backend: bool,
    /// `None` when the extension is not installed in the current database.
    pub pgss: Option<PgssInfo>,
    /// `pg_stat_statements` appears in `shared_preload_libraries`.
    pub pgss_preloaded: bool,
    /// `block_size`, bytes.
    pub block_size: i32,
}

impl ServerFacts {
    /// Major version: 12, 13, ... 18.
    pub fn major(&self) -> u32 {
        (self.server_version_num / 10000) as u32
    }

    /// The role can read other sessions' query texts and the statistics views in full.
    pub fn can_read_all_stats(&self) -> bool {
        self.is_superuser || self.pg_monitor || self.pg_read_all_stats
    }
}

/// Everything a collector needs for one poll: a connection, the server facts and the
/// client-side deadline.
pub struct Ctx<'a> {
    pub client: &'a deadpool_postgres::Client,
    pub facts: &'a ServerFacts,
    /// Client-side deadline for one query (a little above statement_timeout: the server
    /// normally ends the query first).
    pub timeout: Duration,
}

impl Ctx<'_> {
    /// The SQL of query `name` for this server's major version.
    pub fn sql(&self, name: &str) -> Result<&'static str, CollectError> {
        crate::queries::for_server(name, self.facts.major())
    }

    /// Run a read-only query (prepared once per connection) with bind parameters and the
    /// client-side deadline.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, CollectError> {
        let user = &self.facts.current_user;
        let work = async {
            let stmt = self
                .client
                .prepare_cached(sql)
                .await
                .map_err(|e| CollectError::from_pg(&e, user))?;
            self.client
                .query(&stmt, params)
                .await
                .map_err(|e| CollectError::from_pg(&e, user))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(CollectError::new(
                ErrorKind::ClientTimeout,
                format!("no answer from the server within {:?}", self.timeout),
            )),
        }
    }
}

/// `row.try_get(column)`, with the column named in the error.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, CollectError> {
    row.try_get(column).map_err(|e| {
        CollectError::new(
            ErrorKind::Decode,
            format!("column {column}: {}", error::error_chain(&e)),
        )
    })
}

/// A text value decoded leniently: bytes that are not valid UTF-8 (a query text from a
/// LATIN1 database, a truncated multibyte character) become U+FFFD instead of failing the
/// whole sample. Accepts text, varchar, bpchar, name and unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LossyText(pub String);

impl<'a> FromSql<'a> for LossyText {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(LossyText(String::from_utf8_lossy(raw).into_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        )
    }
}

/// Lenient text of a nullable column.
pub fn get_text(row: &Row, column: &str) -> Result<Option<String>, CollectError> {
    Ok(get::<Option<LossyText>>(row, column)?.map(|t| t.0))
}

/// Lenient text of a column that is never NULL (NULL reads as "").
pub fn get_text_or_empty(row: &Row, column: &str) -> Result<String, CollectError> {
    Ok(get_text(row, column)?.unwrap_or_default())
}

/// What the workers send to the model, over one bounded channel.
#[derive(Debug, Clone)]
pub enum Update {
    /// A fresh sample of one area.
    Sample {
        server: usize,
        sample: Box<Sample>,
        /// Client clock when the sample arrived.
        at: std::time::SystemTime,
    },
    /// A poll of one area failed; the area keeps its last good sample and turns stale.
    Failed {
        server: usize,
        area: Area,
        error: CollectError,
        at: std::time::SystemTime,
    },
    /// The server's connection state changed.
    Link {
        server: usize,
        event: LinkEvent,
        at: std::time::SystemTime,
    },
}

/// Connection events of one server.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// Connected (or reconnected) and probed: the facts may differ from before (a promotion).
    Connected(Box<ServerFacts>),
    /// Cannot connect; the next attempt is at `next_attempt`.
    Down {
        error: CollectError,
        next_attempt: std::time::SystemTime,
    },
}

/// A request from the screen to the workers of one server, confirmed by the user. The
/// session's user and query are carried for the log (what was cancelled, not just a pid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `pg_cancel_backend(pid)`.
    CancelBackend {
        server: usize,
        pid: i32,
        usename: Option<String>,
        query: String,
    },
    /// `pg_terminate_backend(pid)`.
    TerminateBackend {
        server: usize,
        pid: i32,
        usename: Option<String>,
        query: String,
    },
}

/// Seconds since the Unix epoch of a server timestamp (`timestamptz` decodes as `SystemTime`).
pub fn epoch_s(t: std::time::SystemTime) -> f64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Seconds from `ts` to `now`, both on the server clock; 0 when `ts` is a hair after `now`
/// (another backend's `state_change` can be later than our transaction's `now()`).
pub fn age_s(now: std::time::SystemTime, ts: Option<std::time::SystemTime>) -> Option<f64> {
    ts.map(|t| (epoch_s(now) - epoch_s(t)).max(0.0))
}
