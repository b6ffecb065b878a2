//! Cache: buffer cache hits and misses per database and per table.
//!
//! Queries (PostgreSQL 12+, no privilege beyond LOGIN):
//! * `queries/cache.pg12.sql`: `pg_stat_database`, every database (the shared-objects row is
//!   left out), every poll;
//! * `queries/cache_tables_rank.pg12.sql`: which tables to follow: the `top_n` user tables of
//!   the current database with the most lifetime block reads (heap + indexes), and how many
//!   user tables there are; every [`RANK_INTERVAL`] or less often on a large catalog (it
//!   touches every table's and index's statistics entry: at 10,000 tables and 50,000
//!   indexes it is the costly one);
//! * `queries/cache_tables.pg12.sql`: the counters (heap, indexes, TOAST) of the ranked tables
//!   only, by oid, at most every [`TABLES_INTERVAL`], carried forward in between with their
//!   own timestamp (`tables_collected_at`) so their rates are over their own interval.
//!
//! The columns are those of `pg_statio_user_tables`, computed by the functions behind it.
//! Units: blocks (counters), ratios 0..1, `stats_reset` in epoch seconds.

use crate::queries::ServerQuery;
use std::time::{Duration, Instant};

use crate::sample::{CollectError, ErrorKind};

use crate::collect::{Ctx, get, get_text_or_empty};
use crate::sample::{CacheSample, DEFAULT_TOP_N, DatabaseCache, TableCache};

/// The followed tables' counters are read at most this often (as often as pg_stat_statements:
/// one index lookup per table and per index of it, 1.8 ms for 50 tables with 2,000 in the
/// catalog, the third cost of a moderate server's monitoring at 5 s).
pub const TABLES_INTERVAL: Duration = Duration::from_secs(10);

/// The tables to follow are ranked at most this often (lifetime reads move slowly), and at
/// most once per [`CATALOG_COST_FACTOR`](crate::collect::CATALOG_COST_FACTOR) times the ranking's own
/// duration.
pub const RANK_INTERVAL: Duration = Duration::from_secs(60);

/// The last ranking: when (client clock), how long it took, the tables followed, the user
/// tables in all.
#[derive(Debug)]
struct Ranking {
    at: Instant,
    took: Duration,
    relids: Vec<u32>,
    tables_total: i64,
}

/// Polls [`CacheSample`]s; keeps the last ranking and the last table read.
#[derive(Debug)]
pub struct CacheCollector {
    /// How many tables are followed.
    pub top_n: u32,
    ranking: Option<Ranking>,
    /// When the tables were last read (client clock), their server time, and the rows.
    tables_read: Option<(Instant, f64, Vec<TableCache>)>,
}

impl Default for CacheCollector {
    fn default() -> Self {
        Self::with_top_n(DEFAULT_TOP_N)
    }
}

impl CacheCollector {
    /// A collector following [`DEFAULT_TOP_N`] tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// A collector following `top_n` tables (at least 1).
    pub fn with_top_n(top_n: u32) -> Self {
        Self {
            top_n: top_n.max(1),
            ranking: None,
            tables_read: None,
        }
    }

    /// The ranking, read again when missing or older than [`RANK_INTERVAL`].
    async fn ranking(&mut self, ctx: &Ctx<'_>) -> Result<&Ranking, CollectError> {
        let stale = self
            .ranking
            .as_ref()
            .is_none_or(|r| r.at.elapsed() >= crate::collect::paced_catalog(RANK_INTERVAL, r.took));
        if stale {
            let started = Instant::now();
            let top_n = i64::from(self.top_n);
            let rows = ctx
                .query(ctx.sql(ServerQuery::CacheTablesRank)?, &[&top_n])
                .await?;
            let mut ranking = Ranking {
                at: started,
                took: started.elapsed(),
                relids: Vec::with_capacity(rows.len()),
                tables_total: 0,
            };
            for row in &rows {
                ranking.tables_total = get(row, "tables_total")?;
                if let Some(relid) = get::<Option<u32>>(row, "relid")? {
                    ranking.relids.push(relid);
                }
            }
            self.ranking = Some(ranking);
        }
        Ok(self.ranking.as_ref().expect("ranking set above"))
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
            if let (Some((_, tables_at, tables)), Some(ranking)) =
                (&self.tables_read, &self.ranking)
            {
                return Ok(CacheSample {
                    collected_at,
                    databases,
                    tables_collected_at: Some(*tables_at),
                    tables: tables.clone(),
                    tables_total: ranking.tables_total,
                });
            }
        }
        let ranking = self.ranking(ctx).await?;
        let tables_total = ranking.tables_total;
        let relids = ranking.relids.clone();
        let rows = ctx
            .query(ctx.sql(ServerQuery::CacheTables)?, &[&relids])
            .await?;
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
            tables_total,
        })
    }
}
