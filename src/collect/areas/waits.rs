//! The wait profile's sampler: one small query, `queries/waits.pg12.sql` (no `query_id`
//! before 14) / `waits.pg14.sql`, that groups the active backends by query and wait event on
//! the server and returns at most [`WAITS_MAX_ROWS`] rows. Polled every [`WAITS_PERIOD`],
//! paced by its own cost ([`crate::sample::Cadence::Sampler`]), except on the ticks that an
//! activity sample of the same server covers: every activity sample also makes a waits sample
//! ([`crate::sample::WaitsSample::from_activity`], [`crate::collect::worker::WaitsFromActivity`]). Privileges: other roles'
//! backends count only with pg_read_all_stats.

use crate::collect::{Ctx, get, get_text};
use crate::queries::ServerQuery;
use crate::sample::{ActiveWait, CollectError, ErrorKind, WAITS_MAX_ROWS, WaitsSample};

#[cfg(doc)]
use crate::sample::WAITS_PERIOD;

/// Polls [`WaitsSample`]s. The window is the model's; the collector keeps only the server's
/// time on the last sample, which paces the sampler.
#[derive(Debug, Default)]
pub struct WaitsCollector {
    server_took: Option<std::time::Duration>,
}

impl WaitsCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The server's time on the last sample (`clock_timestamp() - statement_timestamp()` at
    /// its end), without the round trip: a far or loaded client does not slow the sampler.
    /// `None` before the first sample or after a failed one.
    pub fn server_took(&self) -> Option<std::time::Duration> {
        self.server_took
    }

    /// One sample. Errors: the query's, classified; [`ErrorKind::Decode`] for an unexpected
    /// row shape.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<WaitsSample, CollectError> {
        self.server_took = None;
        let rows = ctx.query(ctx.sql(ServerQuery::Waits)?, &[]).await?;
        let first = rows.first().ok_or_else(|| {
            CollectError::new(ErrorKind::Decode, "waits: the query returned no row")
        })?;
        let mut sample = WaitsSample {
            collected_at: get(first, "collected_at")?,
            compute_query_id: get_text(first, "compute_query_id")?,
            waits: Vec::with_capacity(rows.len()),
        };
        let mut took_s: f64 = 0.0;
        for row in &rows {
            took_s = took_s.max(get::<Option<f64>>(row, "took_s")?.unwrap_or(0.0));
        }
        if took_s.is_finite() && took_s >= 0.0 {
            self.server_took = Some(std::time::Duration::from_secs_f64(took_s.min(3600.0)));
        }
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
