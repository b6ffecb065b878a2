//! Server: version, recovery state, uptime, connection limits and transaction counters.
//!
//! Queries: `queries/server.pg12.sql` / `server.pg16.sql` (`current_setting`,
//! `pg_is_in_recovery()`, `pg_postmaster_start_time()`, `pg_stat_database`; no privilege
//! beyond LOGIN; the 16 variant reads `reserved_connections`; `track_io_timing` for the
//! statements panel's note) every poll, and
//! `queries/server_size.pg12.sql` (`pg_database_size` over the databases the role may CONNECT
//! to) on a slow timer, at most once per [`SIZE_INTERVAL`], and at most once per
//! [`CATALOG_COST_FACTOR`](crate::collect::CATALOG_COST_FACTOR) times its own last duration
//! (at 80,000 relations it takes a quarter of a second of stat calls: then about every four
//! minutes); its value is carried forward in between. Units: seconds (`uptime_s`), bytes
//! (`database_size_bytes`), transactions
//! (`xact_commit`, `xact_rollback`, counters).

use crate::queries::ServerQuery;
use std::time::{Duration, Instant};

use crate::sample::CollectError;

use crate::collect::{Ctx, get, get_text_or_empty};
use crate::sample::ServerSample;

/// How often the database sizes are measured (`pg_database_size` stats every file of every
/// database: 10 ms at 2,000 tables, a quarter of a second at 80,000 relations). Sizes move
/// slowly; every 5 minutes is fresh enough for the header and the exporter, and a fifth of
/// the cost of every minute.
pub const SIZE_INTERVAL: Duration = Duration::from_secs(300);

/// Polls [`ServerSample`]s; keeps the last database size and when it was measured.
#[derive(Debug, Default)]
pub struct ServerCollector {
    /// When the size query last ran (successfully or not); `None` before the first poll.
    size_measured_at: Option<Instant>,
    /// The last measured size of all connectable databases, bytes.
    database_size_bytes: Option<i64>,
    /// How many times the size query ran (for tests of the slow timer).
    size_queries: u64,
    /// How long the size query took last time.
    size_took: Duration,
}

impl ServerCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the size query (`pg_database_size`) has run on this collector.
    pub fn size_queries(&self) -> u64 {
        self.size_queries
    }

    /// One poll. The size query runs on the first poll and then at most every
    /// [`SIZE_INTERVAL`] or [`CATALOG_COST_FACTOR`](crate::collect::CATALOG_COST_FACTOR) times its last
    /// duration, whichever is longer. When only the size query fails (and the connection is still usable)
    /// the sample carries the last known size and the error is logged; any other failure is
    /// the poll's error.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<ServerSample, CollectError> {
        let rows = ctx.query(ctx.sql(ServerQuery::Server)?, &[]).await?;
        let row = rows.first().ok_or_else(|| {
            CollectError::new(
                crate::sample::ErrorKind::Decode,
                "server: the query returned no row",
            )
        })?;
        let mut sample = ServerSample {
            collected_at: get(row, "collected_at")?,
            server_version: get_text_or_empty(row, "server_version")?,
            server_version_num: get(row, "server_version_num")?,
            in_recovery: get(row, "in_recovery")?,
            uptime_s: get(row, "uptime_s")?,
            datname: get_text_or_empty(row, "datname")?,
            max_connections: get(row, "max_connections")?,
            superuser_reserved_connections: get(row, "superuser_reserved_connections")?,
            reserved_connections: get(row, "reserved_connections")?,
            database_size_bytes: None,
            xact_commit: get(row, "xact_commit")?,
            xact_rollback: get(row, "xact_rollback")?,
            xact_commit_per_s: None,
            xact_rollback_per_s: None,
            xact_per_s: None,
            track_io_timing: get(row, "track_io_timing")?,
        };
        let every = crate::collect::paced_catalog(SIZE_INTERVAL, self.size_took);
        let due = self.size_measured_at.is_none_or(|at| at.elapsed() >= every);
        if due {
            let started = Instant::now();
            self.size_measured_at = Some(started);
            self.size_queries += 1;
            let measured = self.measure_size(ctx).await;
            self.size_took = started.elapsed();
            match measured {
                Ok(size) => self.database_size_bytes = size,
                Err(e) if e.breaks_connection() => return Err(e),
                Err(e) => tracing::warn!(
                    error = %e,
                    "server: database size query failed; keeping the last size"
                ),
            }
        }
        sample.database_size_bytes = self.database_size_bytes;
        Ok(sample)
    }

    async fn measure_size(&self, ctx: &Ctx<'_>) -> Result<Option<i64>, CollectError> {
        let rows = ctx.query(ctx.sql(ServerQuery::ServerSize)?, &[]).await?;
        match rows.first() {
            Some(row) => get(row, "database_size_bytes"),
            None => Ok(None),
        }
    }
}
