//! The collection layer: one polling worker per server and area, each sending typed samples
//! (or classified errors) over one channel to the model.
//!
//! * [`pool`]: the connections of one server ([`pool::ServerPool`]: deadpool-postgres, at
//!   most two), the session settings, the probe of [`ServerFacts`] after every (re)connect,
//!   and the reconnect backoff.
//! * [`worker`]: one supervised polling task per area, on the area's period.
//! * [`actions`]: confirmed cancel / terminate, on the backend the user saw.
//! * [`error`]: tokio-postgres errors classified into [`CollectError`]s.
//! * [`explain`]: EXPLAIN of a statement's text, safely (never executed, one statement,
//!   read-only, bounded).
//! * [`areas`]: one collector per area turns the rows of its queries (`queries/`) into the
//!   area's sample type of [`crate::sample`]. Collectors never see the UI.

pub mod actions;
pub mod areas;
pub mod error;
pub mod explain;
pub mod pool;
pub mod probe;
pub mod worker;

use crate::collect::error::FromPg;
use std::time::Duration;

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql, Type};

use crate::queries::ServerQuery;
use crate::sample::*;

/// `work_mem` of the monitoring session: the sorts and hashes of the statements read
/// (`pg_stat_statements(false)` sorted by time, about 10,000 entries at scale) and of the
/// catalog queries stay in memory instead of spilling to temporary files, as they did at the
/// default 4 MB. It is a limit per sort or hash node, allocated only as far as a node needs
/// it (a 1 MB sort takes 1 MB), and the queries have one or two such nodes: with
/// [`pool::MAX_CONNECTIONS`] connections at most 2 × 2 × 32 MB (hash nodes may take
/// `hash_mem_multiplier` times that), in practice a few MB. A startup parameter put before
/// the user's own `options`, so a `-c work_mem=...` of theirs wins; `SET LOCAL` in each
/// pooled transaction ([`Ctx::pooled_begin`]).
pub const WORK_MEM: &str = "32MB";

/// How much later than `statement_timeout` the client-side deadline of a query falls (the
/// server normally ends the query first, with a clearer error).
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// A catalog-wide query runs at most once per this many times its own last duration
/// ([`paced`]): its share of the monitoring session's time stays under 0.4 % however large
/// the catalog grows.
pub const COST_FACTOR: u32 = 250;

/// A catalog-wide read whose result is carried forward between reads (database sizes, the
/// cache panel's table ranking, the oldest tables) runs at most once per this many times its
/// own last duration ([`paced_catalog`]): under 0.1 % of the session's time each.
pub const CATALOG_COST_FACTOR: u32 = 1000;

/// The time to wait before running again a query that should run every `every` and took
/// `took` last time: `every`, or [`COST_FACTOR`] × `took` when that is longer.
pub fn paced(every: Duration, took: Duration) -> Duration {
    every.max(took.saturating_mul(COST_FACTOR))
}

/// A sampler (the wait profile) waits at most this long between samples, however costly
/// [`paced`] says it is: 250 × its server time reaches 2 s when a sample costs 8 ms (a few
/// thousand sessions: 2.4 ms at 1,000 on the bench machine); beyond that an incident still
/// gets a sample every 2 s.
pub const SAMPLER_MAX_PERIOD: Duration = Duration::from_secs(2);

/// [`paced`] for a sampler: never longer than [`SAMPLER_MAX_PERIOD`] (or `every`, if longer).
pub fn paced_sampler(every: Duration, took: Duration) -> Duration {
    paced(every, took).min(SAMPLER_MAX_PERIOD.max(every))
}

/// [`paced`] for a carried-forward catalog-wide read: `every`, or [`CATALOG_COST_FACTOR`] ×
/// `took` when that is longer.
pub fn paced_catalog(every: Duration, took: Duration) -> Duration {
    every.max(took.saturating_mul(CATALOG_COST_FACTOR))
}

/// The last result of a carried-forward catalog-wide read: when it was read (client clock),
/// how long that took, the value. Read again when older than [`paced_catalog`] says.
#[derive(Debug, Clone)]
pub struct Carried<T> {
    at: std::time::Instant,
    took: Duration,
    value: T,
}

impl<T: Clone> Carried<T> {
    /// The value of a read that started at `started` and has just finished.
    pub fn finished(started: std::time::Instant, value: T) -> Self {
        Carried {
            at: started,
            took: started.elapsed(),
            value,
        }
    }

    /// The value, while it is younger than `every` paced by the read's own cost.
    pub fn fresh(carried: &Option<Self>, every: Duration) -> Option<T> {
        carried
            .as_ref()
            .filter(|c| c.at.elapsed() < paced_catalog(every, c.took))
            .map(|c| c.value.clone())
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
    /// The statements that open one pooled query's transaction: `BEGIN READ ONLY` and, LOCAL
    /// to it, `statement_timeout` = the client-side deadline minus [`DEADLINE_MARGIN`] (at
    /// least 100 ms), `lock_timeout` = a fifth of that (at least 100 ms) and
    /// `idle_in_transaction_session_timeout` = twice it, `work_mem` = [`WORK_MEM`] and
    /// `search_path` = [`probe::SEARCH_PATH`]: the values a direct connection gets in its
    /// startup `options`.
    /// Milliseconds, integers only.
    pub fn pooled_begin(&self) -> String {
        let statement_ms = self
            .timeout
            .saturating_sub(DEADLINE_MARGIN)
            .as_millis()
            .max(100);
        let lock_ms = (statement_ms / 5).max(100);
        format!(
            // The marker after each keyword: pg_stat_statements records each statement
            // (and from PostgreSQL 18 without leading comments).
            "BEGIN /* pgvitals */ READ ONLY; \
             SET /* pgvitals */ LOCAL statement_timeout = {statement_ms}; \
             SET /* pgvitals */ LOCAL lock_timeout = {lock_ms}; \
             SET /* pgvitals */ LOCAL idle_in_transaction_session_timeout = {}; \
             SET /* pgvitals */ LOCAL work_mem = '{WORK_MEM}'; \
             SET /* pgvitals */ LOCAL search_path = {}",
            statement_ms * 2,
            probe::SEARCH_PATH
        )
    }

    /// The SQL of query `name` for this server's major version.
    pub fn sql(&self, query: ServerQuery) -> Result<&'static str, CollectError> {
        crate::queries::for_server(query, self.facts.major())
    }

    /// Run a read-only query with bind parameters and the client-side deadline.
    ///
    /// Directly connected, the statement is prepared once per connection (a named statement,
    /// cached by deadpool) and executed; the session settings came with the connection.
    /// Through a pooler ([`ServerFacts::pooled`]), where consecutive transactions may run on
    /// different server connections and a named statement would be missing on the next one
    /// (or left behind for another client), it goes out as an unnamed statement
    /// (`query_typed`, the parameter types taken from the Rust values: [`param_type`]) inside
    /// `BEGIN READ ONLY` + `SET LOCAL` timeouts ([`Ctx::pooled_begin`]) ... `COMMIT`, the
    /// three pipelined in one round trip: the server enforces read-only and the timeouts,
    /// and nothing outlives the transaction.
    /// Errors: the classified server error; [`ErrorKind::ClientTimeout`] after the deadline;
    /// [`ErrorKind::Query`] for a parameter whose type [`param_type`] does not know.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, CollectError> {
        let user = &self.facts.current_user;
        let work = async {
            if self.facts.pooled {
                let mut typed = Vec::with_capacity(params.len());
                for (i, p) in params.iter().enumerate() {
                    let ty = param_type(*p).ok_or_else(|| {
                        CollectError::new(
                            ErrorKind::Query,
                            format!(
                                "parameter ${}: no PostgreSQL type known for this value",
                                i + 1
                            ),
                        )
                    })?;
                    typed.push((*p, ty));
                }
                // one transaction, pipelined (sent together, answered in order): the pooler
                // keeps one server connection from BEGIN to COMMIT, and the settings are LOCAL,
                // so nothing outlives it
                let begin = self.pooled_begin();
                let (begun, rows, committed) = tokio::join!(
                    self.client.batch_execute(&begin),
                    self.client.query_typed(sql, &typed),
                    self.client.batch_execute("COMMIT /* pgvitals */"),
                );
                let pg = |e: tokio_postgres::Error| CollectError::from_pg(&e, user);
                begun.map_err(pg)?;
                let rows = rows.map_err(pg)?;
                committed.map_err(pg)?;
                return Ok(rows);
            }
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
        self.within_deadline(work).await
    }

    /// `work` within the client-side deadline; [`ErrorKind::ClientTimeout`] past it.
    async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, CollectError>>,
    ) -> Result<T, CollectError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(CollectError::new(
                ErrorKind::ClientTimeout,
                format!("no answer from the server within {:?}", self.timeout),
            )),
        }
    }

    /// [`Ctx::query`], row by row: `each` sees every row as it arrives, and the row is dropped
    /// right after, so a large result (10,000 pg_stat_statements entries, their texts) is
    /// never held whole, in wire form and decoded at once. Directly connected only; through a
    /// pooler the rows come as one batch, as with [`Ctx::query`]. Returns the rows seen.
    /// Errors: those of [`Ctx::query`], and the first of `each`'s (the rest of the result is
    /// then not read; the connection stays usable).
    pub async fn query_each(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        mut each: impl FnMut(&Row) -> Result<(), CollectError>,
    ) -> Result<usize, CollectError> {
        if self.facts.pooled {
            let rows = self.query(sql, params).await?;
            for row in &rows {
                each(row)?;
            }
            return Ok(rows.len());
        }
        let user = &self.facts.current_user;
        let pg = |e: tokio_postgres::Error| CollectError::from_pg(&e, user);
        let work = async {
            use futures_util::TryStreamExt;
            let stmt = self.client.prepare_cached(sql).await.map_err(pg)?;
            let rows = self
                .client
                .query_raw(&stmt, params.iter().copied())
                .await
                .map_err(pg)?;
            let mut rows = std::pin::pin!(rows);
            let mut n = 0;
            while let Some(row) = rows.try_next().await.map_err(pg)? {
                each(&row)?;
                n += 1;
            }
            Ok(n)
        };
        self.within_deadline(work).await
    }
}

/// The PostgreSQL types a query parameter may have, most specific first: the first one a value
/// encodes as is its type ([`param_type`]).
const PARAM_TYPES: &[Type] = &[
    Type::BOOL,
    Type::INT2,
    Type::INT4,
    Type::INT8,
    Type::OID,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::TEXT,
    Type::BYTEA,
    Type::TIMESTAMPTZ,
    Type::BOOL_ARRAY,
    Type::INT2_ARRAY,
    Type::INT4_ARRAY,
    Type::INT8_ARRAY,
    Type::OID_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::TEXT_ARRAY,
];

/// The PostgreSQL type of a bind parameter, for protocols that must name it up front (an
/// unnamed statement through a pooler): the first of bool, int2, int4, int8, oid, float4,
/// float8, text, bytea, timestamptz and their arrays (bool[] .. text[]) that the value
/// accepts (`i32` → int4, `i64` → int8, `u32` → oid, `String`/`&str` → text, `Vec<i64>` →
/// int8[]; `Option<T>` as `T`). `None` for any other type. Encoding is checked locally, so
/// nothing is sent.
pub fn param_type(value: &(dyn ToSql + Sync)) -> Option<Type> {
    PARAM_TYPES
        .iter()
        .find(|ty| {
            let mut scratch = Default::default();
            value.to_sql_checked(ty, &mut scratch).is_ok()
        })
        .cloned()
}

/// A nullable column read as one of the sample's optional-number types (NULL is `None`).
macro_rules! from_sql_opt {
    ($name:ident, $value:ty, $sql:literal) => {
        #[doc = concat!("A nullable ", $sql, " column as an [`", stringify!($name), "`].")]
        impl<'a> FromSql<'a> for $name {
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                <$value>::from_sql(ty, raw).map($name::from)
            }

            fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Ok($name::NONE)
            }

            fn accepts(ty: &Type) -> bool {
                <$value as FromSql>::accepts(ty)
            }
        }
    };
}

from_sql_opt!(OptF64, f64, "float8");
from_sql_opt!(OptI64, i64, "int8");

/// `row.try_get(column)`, with the column named in the error.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, CollectError> {
    row.try_get(column).map_err(|e| {
        CollectError::new(
            ErrorKind::Decode,
            format!("column {column}: {}", crate::sample::error_chain(&e)),
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

/// Seconds since the Unix epoch of a server timestamp (`timestamptz` decodes as `SystemTime`);
/// [`crate::sample::epoch_s`], kept here under its old path for the collectors.
pub use crate::sample::epoch_s;

/// Seconds from `ts` to `now`, both on the server clock; 0 when `ts` is a hair after `now`
/// (another backend's `state_change` can be later than our transaction's `now()`).
pub fn age_s(now: std::time::SystemTime, ts: Option<std::time::SystemTime>) -> Option<f64> {
    ts.map(|t| (epoch_s(now) - epoch_s(t)).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sampler_is_paced_by_its_cost_up_to_a_ceiling() {
        let every = Duration::from_millis(250);
        // cheap: its own period
        assert_eq!(paced_sampler(every, Duration::from_micros(500)), every);
        // 4 ms of server time: 250 × 4 ms
        assert_eq!(
            paced_sampler(every, Duration::from_millis(4)),
            Duration::from_secs(1)
        );
        // 40 ms (a huge server, or a stall): still a sample every 2 s
        assert_eq!(
            paced_sampler(every, Duration::from_millis(40)),
            SAMPLER_MAX_PERIOD
        );
        // a period above the ceiling is kept
        assert_eq!(
            paced_sampler(Duration::from_secs(5), Duration::from_millis(40)),
            Duration::from_secs(5)
        );
        // the others have no ceiling
        assert_eq!(
            paced(every, Duration::from_millis(40)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn epoch_seconds_of_a_server_timestamp_round_trip_to_the_microsecond() {
        use std::time::{Duration, UNIX_EPOCH};
        for micros in [
            1_760_000_000_123_456u64,
            1_760_000_000_999_999,
            1_000_000,
            4_102_444_800_000_001,
        ] {
            let t = UNIX_EPOCH + Duration::from_micros(micros);
            assert_eq!(from_epoch_s(epoch_s(t)), t, "{micros}");
        }
        let before = UNIX_EPOCH - Duration::from_micros(1_500_000);
        assert_eq!(from_epoch_s(epoch_s(before)), before);
    }

    #[test]
    fn param_types_follow_the_rust_values() {
        assert_eq!(param_type(&1i32), Some(Type::INT4));
        assert_eq!(param_type(&1i64), Some(Type::INT8));
        assert_eq!(param_type(&7u32), Some(Type::OID));
        assert_eq!(param_type(&true), Some(Type::BOOL));
        assert_eq!(param_type(&1.5f64), Some(Type::FLOAT8));
        assert_eq!(param_type(&"x"), Some(Type::TEXT));
        assert_eq!(param_type(&String::from("x")), Some(Type::TEXT));
        assert_eq!(param_type(&vec![1i64, 2]), Some(Type::INT8_ARRAY));
        assert_eq!(param_type(&Vec::<i64>::new()), Some(Type::INT8_ARRAY));
        assert_eq!(param_type(&vec![1i32]), Some(Type::INT4_ARRAY));
        assert_eq!(param_type(&Some(3i64)), Some(Type::INT8));
        assert_eq!(param_type(&None::<i32>), Some(Type::INT4));
        assert_eq!(
            param_type(&std::time::SystemTime::now()),
            Some(Type::TIMESTAMPTZ)
        );
        // a type outside the table: no guess
        assert_eq!(param_type(&vec![vec![1i64]]), None);
    }
}
