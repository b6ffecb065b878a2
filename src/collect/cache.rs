//! Cache: buffer cache hits and misses per database and per table.
//!
//! Queries: `queries/cache.pg12.sql` (`pg_stat_database`, every database; the shared-objects
//! row is left out) and `queries/cache_tables.pg12.sql` (`pg_statio_user_tables` of the
//! current database: the 200 tables with the most lifetime block reads, heap + indexes +
//! TOAST). No privilege beyond LOGIN. PostgreSQL 12+. Units: blocks (counters), ratios 0..1,
//! `stats_reset` in epoch seconds.

use super::{CollectError, Ctx, ErrorKind, get, get_text_or_empty};
use crate::sample::{CacheSample, DatabaseCache, TableCache};

/// Polls [`CacheSample`]s. Stateless.
#[derive(Debug, Default)]
pub struct CacheCollector {}

impl CacheCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One poll. Errors: the classified error of either query, or [`ErrorKind::Decode`].
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<CacheSample, CollectError> {
        let rows = ctx.query(ctx.sql("cache")?, &[]).await?;
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
        let rows = ctx.query(ctx.sql("cache_tables")?, &[]).await?;
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
        // pg_stat_database always lists template1 at least.
        let collected_at = collected_at.ok_or_else(|| {
            CollectError::new(ErrorKind::Decode, "cache: pg_stat_database returned no row")
        })?;
        Ok(CacheSample {
            collected_at,
            databases,
            tables,
        })
    }
}
