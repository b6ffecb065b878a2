//! WAL, checkpoints and archiving: one single-row query per poll, `queries/wal.pg12.sql`
//! (LSN delta, `pg_stat_bgwriter`), `wal.pg14.sql` (+ `pg_stat_wal`), `wal.pg17.sql`
//! (`pg_stat_checkpointer`), all with `pg_stat_archiver` and the archive settings. Cheap
//! (a few single-row statistics views), polled every interval, safe on a standby.
//! Privileges: none (the archive command is hidden without pg_read_all_settings).

use crate::collect::{Ctx, get, get_text};
use crate::queries::ServerQuery;
use crate::sample::{CollectError, ErrorKind, WalSample};

/// Polls [`WalSample`]s. Stateless: rates and the checkpoint window are the model's.
#[derive(Debug, Default)]
pub struct WalCollector {}

impl WalCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One poll. Errors: the query's, classified; [`ErrorKind::Decode`] for an unexpected
    /// row shape.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<WalSample, CollectError> {
        let rows = ctx.query(ctx.sql(ServerQuery::Wal)?, &[]).await?;
        let row = rows.first().ok_or_else(|| {
            CollectError::new(ErrorKind::Decode, "wal: the query returned no row")
        })?;
        Ok(WalSample {
            collected_at: get(row, "collected_at")?,
            in_recovery: get(row, "in_recovery")?,
            wal_lsn: get_text(row, "wal_lsn")?,
            wal_lsn_bytes: get(row, "wal_lsn_bytes")?,
            wal_records: get(row, "wal_records")?,
            wal_fpi: get(row, "wal_fpi")?,
            wal_bytes: get(row, "wal_bytes")?,
            wal_buffers_full: get(row, "wal_buffers_full")?,
            wal_stats_reset: get(row, "wal_stats_reset")?,
            num_timed: get(row, "num_timed")?,
            num_requested: get(row, "num_requested")?,
            write_time_ms: get(row, "write_time_ms")?,
            sync_time_ms: get(row, "sync_time_ms")?,
            buffers_written: get(row, "buffers_written")?,
            checkpointer_stats_reset: get(row, "checkpointer_stats_reset")?,
            archived_count: get(row, "archived_count")?,
            last_archived_wal: get_text(row, "last_archived_wal")?,
            last_archived_time: get(row, "last_archived_time")?,
            failed_count: get(row, "failed_count")?,
            last_failed_wal: get_text(row, "last_failed_wal")?,
            last_failed_time: get(row, "last_failed_time")?,
            archiver_stats_reset: get(row, "archiver_stats_reset")?,
            archive_mode: get_text(row, "archive_mode")?.unwrap_or_default(),
            archive_command_set: get(row, "archive_command_set")?,
            ..WalSample::default()
        })
    }
}
