//! Connecting through a connection pooler that refuses the `options` startup parameter.
//!
//! pgvitals sends its session settings (`default_transaction_read_only`, `statement_timeout`,
//! ...) as `options=-c ...` in the startup packet. PgBouncer (1.18, in any pool mode) answers
//! that with `FATAL: unsupported startup parameter: options` (SQLSTATE 08P01) unless told to
//! ignore it. [`PoolerConnect`] is the deadpool-postgres connector that notices this, connects
//! again without `options`, and from then on connects without them directly; the session reads
//! [`PoolerConnect::refused_flag`] to know the server is behind a pooler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, Error};

use super::Connector;

/// True when `error` is a pooler refusing the `options` startup parameter: a server error
/// whose message is `unsupported startup parameter: options` (PgBouncer's wording; the
/// parameter name is matched case-insensitively).
pub fn refuses_options(error: &Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        let m = db.message().to_ascii_lowercase();
        m.starts_with("unsupported startup parameter") && m.contains("options")
    })
}

/// A deadpool-postgres connector: connects with `with_options` (whose configs carry
/// `options`); when a pooler refuses `options` ([`refuses_options`]), connects with
/// `without_options` instead and sets the shared flag, after which every new connection uses
/// `without_options` at once (one refused attempt per session, not per connection). Both
/// try the hosts one by one ([`Connector::connect`]); the config deadpool passes is unused.
pub struct PoolerConnect {
    with_options: Connector,
    /// `None` when the user gave `options` of their own: dropping those would be a silent
    /// downgrade, so a refusal is then the error it is.
    without_options: Option<Connector>,
    refused: Arc<AtomicBool>,
}

impl PoolerConnect {
    /// `without_options`: the same connection parameters with no `options` at all (the
    /// user's own `-c` settings are refused just the same).
    pub fn new(with_options: Connector, without_options: Option<Connector>) -> Self {
        PoolerConnect {
            with_options,
            without_options,
            refused: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag set once a pooler refused `options`; shared with the session.
    pub fn refused_flag(&self) -> Arc<AtomicBool> {
        self.refused.clone()
    }
}

impl Connect for PoolerConnect {
    fn connect(
        &self,
        _pg_config: &Config,
    ) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), Error>> {
        Box::pin(async move {
            let Some(without_options) = &self.without_options else {
                return self.with_options.connect().await;
            };
            if !self.refused.load(Ordering::Relaxed) {
                match self.with_options.connect().await {
                    Ok(ok) => return Ok(ok),
                    Err(e) if refuses_options(&e) => {
                        tracing::info!(
                            "the server refused the options startup parameter ({e}): a \
                             connection pooler; connecting without session settings"
                        );
                        self.refused.store(true, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e),
                }
            }
            without_options.connect().await
        })
    }
}
