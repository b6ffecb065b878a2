//! Cache: buffer cache hits and misses per database and per table.
//!
//! Queries: `queries/cache.pg12.sql` (`pg_stat_database`, every database; the shared-objects
//! row is left out) and `queries/cache_tables.pg12.sql` (`pg_statio_user_tables` of the
//! current database: the 200 tables with the most lifetime block reads, heap + indexes +
//! TOAST). No privilege beyond LOGIN. PostgreSQL 12+. Units: blocks (counters), ratios 0..1,
//! `stats_reset` in epoch seconds.
//!
//! The per-table query is several times costlier than the per-database one, so tables are
//! read at most every [`TABLES_INTERVAL`] and carried forward in between, with their own
//! timestamp (`tables_collected_at`) so their rates are over their own interval.

use crate::queries::ServerQuery;
use std::time::{Duration, Instant};

use crate::sample::{CollectError, ErrorKind};

use crate::collect::{Ctx, get, get_text_or_empty};
use crate::sample::{CacheSample, DatabaseCache, TableCache};

/// Tables are read at most this often.
pub const TABLES_INTERVAL: Duration = Duration::from_secs(5);

/// Polls [`CacheSample`]s; keeps the last table read.
#[derive(Debug, Default)]
pub struct CacheCollector {
    /// When the tables were last read (client clock), their server time, and the rows.
    tables_read: Option<(Instant, f64, Vec<TableCache>)>,
}

impl CacheCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One poll. Errors: the classified error of either query, or [`ErrorKind::Decode`].
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<CacheSample, CollectError> {
        let rows = ctx.query(ctx.sql(ServerQuery::Cache)?, &[]).await?;
        let mut collected_at = None;
        let mut databases = Vec::with_capacity(rows.len());
        for row in &rows {
            collected_at.get_or_insert(get::<f64>(row, "collected_at")?);
            databases.push(DatabaseCache {
                datname: get_text_or_empty(row, "datname")?,
                blks_hit: get(row, "blks_hit")?,
                blks_read: get(row, "blks_read")?,
                hit_ratio: get(row, "hit_ratio")?,
                stats_reset: get(row, "stats_reset")?,
                blks_hit_per_s: None,
                blks_read_per_s: None,
                interval_hit_ratio: None,
            });
        }
        // pg_stat_database always lists template1 at least.
        let collected_at = collected_at.ok_or_else(|| {
            CollectError::new(ErrorKind::Decode, "cache: pg_stat_database returned no row")
        })?;
        let due = self
            .tables_read
            .as_ref()
            .is_none_or(|(at, _, _)| at.elapsed() >= TABLES_INTERVAL);
        if !due {
            if let Some((_, tables_at, tables)) = &self.tables_read {
                return Ok(CacheSample {
                    collected_at,
                    databases,
                    tables_collected_at: Some(*tables_at),
                    tables: tables.clone(),
                });
            }
        }
        let rows = ctx.query(ctx.sql(ServerQuery::CacheTables)?, &[]).await?;
        let mut tables = Vec::with_capacity(rows.len());
        for row in &rows {
            tables.push(TableCache {
                relid: get(row, "relid")?,
                schemaname: get_text_or_empty(row, "schemaname")?,
                relname: get_text_or_empty(row, "relname")?,
                heap_blks_read: get(row, "heap_blks_read")?,
                heap_blks_hit: get(row, "heap_blks_hit")?,
                idx_blks_read: get(row, "idx_blks_read")?,
                idx_blks_hit: get(row, "idx_blks_hit")?,
                toast_blks_read: get(row, "toast_blks_read")?,
                toast_blks_hit: get(row, "toast_blks_hit")?,
                hit_ratio: get(row, "hit_ratio")?,
                blks_read_per_s: None,
                blks_hit_per_s: None,
                interval_hit_ratio: None,
            });
        }
        self.tables_read = Some((Instant::now(), collected_at, tables.clone()));
        Ok(CacheSample {
            collected_at,
            databases,
            tables_collected_at: Some(collected_at),
            tables,
        })
    }
}
