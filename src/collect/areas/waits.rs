//! The wait profile's sampler: one small query, `queries/waits.pg12.sql` (no `query_id`
//! before 14) / `waits.pg14.sql`, that groups the active backends by query and wait event on
//! the server and returns at most [`WAITS_MAX_ROWS`] rows. Polled every [`WAITS_PERIOD`],
//! paced by its own cost ([`crate::sample::Cadence::Sampler`]). Privileges: other roles'
//! backends count only with pg_read_all_stats.

use crate::collect::{Ctx, get, get_text};
use crate::queries::ServerQuery;
use crate::sample::{ActiveWait, CollectError, ErrorKind, WAITS_MAX_ROWS, WaitsSample};

#[cfg(doc)]
use crate::sample::WAITS_PERIOD;

/// Polls [`WaitsSample`]s. Stateless: the window is the model's.
#[derive(Debug, Default)]
pub struct WaitsCollector {}

impl WaitsCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One sample. Errors: the query's, classified; [`ErrorKind::Decode`] for an unexpected
    /// row shape.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<WaitsSample, CollectError> {
        let rows = ctx.query(ctx.sql(ServerQuery::Waits)?, &[]).await?;
        let first = rows.first().ok_or_else(|| {
            CollectError::new(ErrorKind::Decode, "waits: the query returned no row")
        })?;
        let mut sample = WaitsSample {
            collected_at: get(first, "collected_at")?,
            compute_query_id: get_text(first, "compute_query_id")?,
            waits: Vec::with_capacity(rows.len()),
        };
        for row in rows.iter().take(WAITS_MAX_ROWS) {
            // (the one row of an idle server has no backends)
            let Some(backends) = get::<Option<i32>>(row, "backends")? else {
                continue;
            };
            sample.waits.push(ActiveWait {
                query_id: get(row, "query_id")?,
                wait_event_type: get_text(row, "wait_event_type")?,
                wait_event: get_text(row, "wait_event")?,
                backends,
            });
        }
        Ok(sample)
    }
}
