//! Unused indexes of the current database: never scanned since the statistics were reset.
//!
//! Queries (PostgreSQL 12+):
//! * `queries/unused_indexes_info.pg12.sql`: `pg_stat_database.stats_reset` of
//!   `current_database()` (how far back "never scanned" reaches).
//! * `queries/unused_indexes.pg12.sql` / `.pg16.sql` (16+: `last_idx_scan`): the indexes of
//!   user tables with `pg_stat_get_numscans() = 0` (`pg_stat_user_indexes.idx_scan`),
//!   leaving out primary keys, unique indexes and every index that backs a constraint
//!   (`pg_constraint.conindid`: primary key, unique, exclusion). All of them are counted
//!   ([`UnusedIndexesSample::indexes_total`]) and their sizes estimated from
//!   `pg_class.relpages` ([`UnusedIndexesSample::index_size_bytes_total`]: no lock, no file
//!   access); only the largest [`UnusedIndexesCollector::top_n`] by that estimate are listed,
//!   with exact sizes from `pg_relation_size` (index) and `pg_table_size` (table: heap +
//!   TOAST + FSM/VM), bytes. The exact sizes open the relation (a relcache entry in the
//!   monitoring backend, kept for the session), so they are taken only for the rows listed.
//!
//! Never waits behind an ACCESS EXCLUSIVE lock: the size functions take an AccessShareLock,
//! so indexes whose index or table has an AccessExclusiveLock granted or awaited in
//! `pg_locks` are not measured and are counted in
//! [`UnusedIndexesSample::skipped_locked`]; the session's `lock_timeout` covers a lock
//! taken between the check and the measurement ([`crate::sample::ErrorKind::LockTimeout`]).
//!
//! Privileges: none. Only the current database (`pg_stat_user_indexes` is per database).
//! Polled on the slow timer (sizes stat files).

use crate::queries::ServerQuery;
use crate::sample::{CollectError, ErrorKind};

use crate::collect::{Ctx, get, get_text_or_empty};
use crate::sample::{DEFAULT_TOP_N, UnusedIndex, UnusedIndexesSample};

/// Polls [`UnusedIndexesSample`]s. Stateless but for the number of rows listed.
#[derive(Debug)]
pub struct UnusedIndexesCollector {
    /// How many indexes are listed (largest estimate first); the totals count all.
    pub top_n: u32,
}

impl Default for UnusedIndexesCollector {
    fn default() -> Self {
        Self {
            top_n: DEFAULT_TOP_N,
        }
    }
}

impl UnusedIndexesCollector {
    /// A collector listing [`DEFAULT_TOP_N`] indexes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A collector listing `top_n` indexes (at least 1).
    pub fn with_top_n(top_n: u32) -> Self {
        Self {
            top_n: top_n.max(1),
        }
    }

    /// One poll: the statistics age, then the totals and the `top_n` largest unused indexes
    /// (by estimate; listed with exact sizes, largest first).
    ///
    /// Errors: the failing query's error, classified ([`FromPg`](crate::collect::error::FromPg); a lock taken
    /// in the instant between the lock check and the size is [`ErrorKind::LockTimeout`]);
    /// [`ErrorKind::Decode`] when a row does not have the expected shape.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<UnusedIndexesSample, CollectError> {
        let rows = ctx
            .query(ctx.sql(ServerQuery::UnusedIndexesInfo)?, &[])
            .await?;
        let row = rows.first().ok_or_else(|| {
            CollectError::new(
                ErrorKind::Decode,
                "unused_indexes_info: the query returned no row",
            )
        })?;
        let mut sample = UnusedIndexesSample {
            collected_at: get(row, "collected_at")?,
            stats_reset_age_s: get(row, "stats_reset_age_s")?,
            indexes: Vec::new(),
            indexes_total: 0,
            index_size_bytes_total: 0,
            skipped_locked: 0,
        };
        let top_n = i64::from(self.top_n);
        for row in ctx
            .query(ctx.sql(ServerQuery::UnusedIndexes)?, &[&top_n])
            .await?
        {
            sample.indexes_total = get(&row, "indexes_total")?;
            sample.index_size_bytes_total = get(&row, "index_size_bytes_total")?;
            sample.skipped_locked = get(&row, "skipped_locked")?;
            // the totals row of a database without an unused index
            let Some(indexrelid) = get::<Option<u32>>(&row, "indexrelid")? else {
                continue;
            };
            // The size functions return NULL for a relation dropped since the catalog scan.
            let (Some(index_size_bytes), Some(table_size_bytes)) = (
                get::<Option<i64>>(&row, "index_size_bytes")?,
                get::<Option<i64>>(&row, "table_size_bytes")?,
            ) else {
                continue;
            };
            sample.indexes.push(UnusedIndex {
                indexrelid,
                schemaname: get_text_or_empty(&row, "schemaname")?,
                relname: get_text_or_empty(&row, "relname")?,
                indexrelname: get_text_or_empty(&row, "indexrelname")?,
                idx_scan: get(&row, "idx_scan")?,
                index_size_bytes,
                table_size_bytes,
                last_idx_scan_age_s: get(&row, "last_idx_scan_age_s")?,
                is_valid: get(&row, "is_valid")?,
            });
        }
        Ok(sample)
    }
}
