//! Vacuum: wraparound ages, dead tuples, running vacuums and what holds the xmin horizon.
//!
//! Queries (PostgreSQL 12+, six small ones per poll, all read-only and safe on a standby):
//! * `queries/vacuum_settings.pg12.sql`: `autovacuum_freeze_max_age` (transactions),
//!   `autovacuum_multixact_freeze_max_age` (multixacts), `autovacuum_max_workers`,
//!   `server_version_num` (the wraparound stop limits depend on the major).
//! * `queries/vacuum_databases.pg12.sql`: `pg_database` — every database's
//!   `age(datfrozenxid)` / `mxid_age(datminmxid)` and their percentages of the freeze max
//!   ages and of the 2^31 (2147483648) to wraparound. No privilege needed.
//! * `queries/vacuum_oldest_tables.pg12.sql`: `pg_class` — the 20 tables with the oldest
//!   relfrozenxid counting their TOAST table, size estimated as `relpages × block_size`
//!   (takes no lock). **Current database only.** Read at most every [`OLDEST_INTERVAL`]
//!   (it scans all of `pg_class`; the ages move slowly) and carried forward in between.
//! * `queries/vacuum_dead_tuples.pg12.sql`: `pg_stat_user_tables`' functions — the 20 tables
//!   with the most dead tuples, ratio and ages (seconds) of the last (auto)vacuum /
//!   (auto)analyze. **Current database only.** Like the oldest tables, read at most every
//!   [`OLDEST_INTERVAL`] and carried forward.
//! * `queries/vacuum_progress.pg12.sql` / `.pg17.sql`: `pg_stat_progress_vacuum` joined to
//!   `pg_stat_activity`, every database; dead-tuple memory in bytes (17+ reports bytes;
//!   before, tuples × 6 bytes).
//! * `queries/vacuum_xmin_horizon.pg12.sql`: backends' `backend_xmin` / `backend_xid`
//!   (`pg_stat_activity`), `pg_prepared_xacts`, slots' `xmin` / `catalog_xmin`
//!   (`pg_replication_slots`) and standby feedback (`pg_stat_replication.backend_xmin`),
//!   oldest first, at most 50.
//!
//! Privileges: pg_read_all_stats (pg_monitor) to see other roles' vacuums, backend xmins and
//! standby feedback in full; the ages need none.

use crate::queries::ServerQuery;
use crate::sample::{CollectError, ErrorKind};
use std::time::{Duration, Instant};

use crate::collect::{Carried, Ctx, get, get_text, get_text_or_empty};
use crate::sample::{
    DatabaseAge, TableAge, TableDeadTuples, VacuumProgress, VacuumSample, XminHolder,
};

/// The oldest tables and the tables with the most dead tuples are read at most this often
/// (and at most once per
/// [`CATALOG_COST_FACTOR`](crate::collect::CATALOG_COST_FACTOR) times the query's own duration).
pub const OLDEST_INTERVAL: Duration = Duration::from_secs(60);

/// Polls [`VacuumSample`]s; keeps the last reads of the oldest and most-dead tables.
#[derive(Debug, Default)]
pub struct VacuumCollector {
    /// The last read of the oldest tables.
    oldest_read: Option<Carried<Vec<TableAge>>>,
    /// The last read of the tables with the most dead tuples.
    dead_read: Option<Carried<Vec<TableDeadTuples>>>,
}

impl VacuumCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One poll: settings, databases, oldest tables and dead tuples (each at most every
    /// [`OLDEST_INTERVAL`]), running vacuums, xmin horizon holders.
    ///
    /// Errors: the first query that fails, classified ([`FromPg`](crate::collect::error::FromPg));
    /// [`ErrorKind::Decode`] when a row does not have the expected shape.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<VacuumSample, CollectError> {
        let rows = ctx
            .query(ctx.sql(ServerQuery::VacuumSettings)?, &[])
            .await?;
        let row = rows.first().ok_or_else(|| {
            CollectError::new(
                ErrorKind::Decode,
                "vacuum_settings: the query returned no row",
            )
        })?;
        let mut sample = VacuumSample {
            collected_at: get(row, "collected_at")?,
            autovacuum_freeze_max_age: get(row, "autovacuum_freeze_max_age")?,
            autovacuum_multixact_freeze_max_age: get(row, "autovacuum_multixact_freeze_max_age")?,
            autovacuum_max_workers: get(row, "autovacuum_max_workers")?,
            server_version_num: get(row, "server_version_num")?,
            ..VacuumSample::default()
        };

        for row in ctx
            .query(ctx.sql(ServerQuery::VacuumDatabases)?, &[])
            .await?
        {
            sample.databases.push(DatabaseAge {
                datname: get_text_or_empty(&row, "datname")?,
                xid_age: get(&row, "xid_age")?,
                mxid_age: get(&row, "mxid_age")?,
                xid_freeze_max_age_pct: get(&row, "xid_freeze_max_age_pct")?,
                xid_wraparound_pct: get(&row, "xid_wraparound_pct")?,
                mxid_freeze_max_age_pct: get(&row, "mxid_freeze_max_age_pct")?,
                mxid_wraparound_pct: get(&row, "mxid_wraparound_pct")?,
                // the forecasts are the model's (over a window of samples)
                ..DatabaseAge::default()
            });
        }

        sample.oldest_tables = self.oldest_tables(ctx).await?;

        sample.dead_tuples = self.dead_tuples(ctx).await?;

        for row in ctx
            .query(ctx.sql(ServerQuery::VacuumProgress)?, &[])
            .await?
        {
            sample.workers.push(VacuumProgress {
                pid: get(&row, "pid")?,
                datname: get_text(&row, "datname")?,
                relname: get_text(&row, "relname")?,
                phase: get_text_or_empty(&row, "phase")?,
                is_autovacuum: get(&row, "is_autovacuum")?,
                running_s: get(&row, "running_s")?,
                heap_blks_total: get::<Option<i64>>(&row, "heap_blks_total")?.unwrap_or(0),
                heap_blks_scanned: get::<Option<i64>>(&row, "heap_blks_scanned")?.unwrap_or(0),
                heap_blks_vacuumed: get::<Option<i64>>(&row, "heap_blks_vacuumed")?.unwrap_or(0),
                index_vacuum_count: get::<Option<i64>>(&row, "index_vacuum_count")?.unwrap_or(0),
                dead_tuple_bytes: get(&row, "dead_tuple_bytes")?,
                max_dead_tuple_bytes: get(&row, "max_dead_tuple_bytes")?,
                scanned_ratio: get(&row, "scanned_ratio")?,
            });
        }

        for row in ctx
            .query(ctx.sql(ServerQuery::VacuumXminHorizon)?, &[])
            .await?
        {
            sample.xmin_horizon.push(XminHolder {
                kind: get_text_or_empty(&row, "kind")?,
                name: get_text_or_empty(&row, "name")?,
                xmin_age: get::<Option<i64>>(&row, "xmin_age")?.unwrap_or(0),
                detail: get_text_or_empty(&row, "detail")?,
            });
        }
        Ok(sample)
    }

    /// The oldest tables: read again when older than [`OLDEST_INTERVAL`], else the last read.
    async fn oldest_tables(&mut self, ctx: &Ctx<'_>) -> Result<Vec<TableAge>, CollectError> {
        if let Some(tables) = Carried::fresh(&self.oldest_read, OLDEST_INTERVAL) {
            return Ok(tables);
        }
        let started = Instant::now();
        let mut tables = Vec::new();
        for row in ctx
            .query(ctx.sql(ServerQuery::VacuumOldestTables)?, &[])
            .await?
        {
            tables.push(TableAge {
                schemaname: get_text_or_empty(&row, "schemaname")?,
                relname: get_text_or_empty(&row, "relname")?,
                xid_age: get::<Option<i64>>(&row, "xid_age")?.unwrap_or(0),
                mxid_age: get::<Option<i64>>(&row, "mxid_age")?.unwrap_or(0),
                table_size_bytes: get(&row, "table_size_bytes")?,
            });
        }

        self.oldest_read = Some(Carried::finished(started, tables.clone()));
        Ok(tables)
    }

    /// The tables with the most dead tuples: read again when older than [`OLDEST_INTERVAL`]
    /// (the counts move as backends report and autovacuum acts, on the scale of minutes),
    /// else the last read.
    async fn dead_tuples(&mut self, ctx: &Ctx<'_>) -> Result<Vec<TableDeadTuples>, CollectError> {
        if let Some(tables) = Carried::fresh(&self.dead_read, OLDEST_INTERVAL) {
            return Ok(tables);
        }
        let started = Instant::now();
        let mut tables = Vec::new();
        for row in ctx
            .query(ctx.sql(ServerQuery::VacuumDeadTuples)?, &[])
            .await?
        {
            tables.push(TableDeadTuples {
                schemaname: get_text_or_empty(&row, "schemaname")?,
                relname: get_text_or_empty(&row, "relname")?,
                n_live_tup: get(&row, "n_live_tup")?,
                n_dead_tup: get(&row, "n_dead_tup")?,
                dead_tup_ratio: get(&row, "dead_tup_ratio")?,
                last_vacuum_age_s: get(&row, "last_vacuum_age_s")?,
                last_autovacuum_age_s: get(&row, "last_autovacuum_age_s")?,
                last_analyze_age_s: get(&row, "last_analyze_age_s")?,
                last_autoanalyze_age_s: get(&row, "last_autoanalyze_age_s")?,
            });
        }

        self.dead_read = Some(Carried::finished(started, tables.clone()));
        Ok(tables)
    }
}
