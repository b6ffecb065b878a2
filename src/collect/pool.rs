//! The connections to one server ([`ServerPool`]): at most two, their settings, the probe
//! after each new connection, and the reconnect backoff.
//!
//!
//! * **At most two connections per server**, pooled by deadpool-postgres (fast recycling: no
//!   extra round trip per poll). Each connection is persistent; nothing reconnects per
//!   refresh.
//! * **Session settings** travel as startup parameters (`options=-c ...`), so they cost no
//!   round trip and are in force before the first query: `default_transaction_read_only=on`,
//!   `statement_timeout`, `lock_timeout` (a catalog query never queues behind an ACCESS
//!   EXCLUSIVE lock for long), `idle_in_transaction_session_timeout`, `work_mem=32MB`
//!   ([`super::WORK_MEM`]: sorts stay in memory; before the user's own options, so theirs
//!   wins), and last (after the user's own options, so it always wins)
//!   `search_path=pg_catalog,pg_temp`
//!   ([`probe::SEARCH_PATH`]: no object in a user schema can stand in for one the queries
//!   use). `application_name` is `pgvitals` unless the user set one.
//! * **Through a pooler** (PgBouncer in transaction mode): a pooler that refuses `options`
//!   ("unsupported startup parameter: options") gets a second attempt without it (and every
//!   later connection goes without at once: [`crate::conninfo::pooler::PoolerConnect`]); one
//!   that drops it silently is noticed after the probe (the settings are not in force), and
//!   one that passes it through by a prepared statement that vanishes between two
//!   transactions (SQLSTATE 26000: that poll fails, the connection is replaced). Either
//!   way [`ServerFacts::pooled`] is set and each query runs as an unnamed statement inside a
//!   pipelined `BEGIN READ ONLY` with `SET LOCAL` timeouts ([`super::Ctx::query`]), so no
//!   setting or prepared statement is left on the pooler's server connections.
//! * **Probe** after every new connection ([`super::probe::probe`]): the facts (version,
//!   recovery, privileges, pg_stat_statements) choose the query variants. A promoted standby
//!   is noticed at the next reconnect, and also by the replication collector, which reports
//!   the role it sees.
//! * **Backoff**: after a failed connect, no worker tries again before the next attempt time
//!   (exponential from 250 ms, capped at 2 s, with jitter), so a dead server sees one attempt
//!   at a time, and a returning one is picked up within 2 s.

use crate::collect::error::FromPg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use crate::sample::{CollectError, ErrorKind, LinkEvent, ServerFacts};

use super::probe;
use crate::conninfo::ConnSpec;
use crate::conninfo::pooler::PoolerConnect;

/// Connections per server, at most.
pub const MAX_CONNECTIONS: usize = 2;

/// How long a connection whose query outlived the client-side deadline is kept aside
/// (counted against [`MAX_CONNECTIONS`], not used) waiting for the server to answer the
/// cancel, before it is dropped. A server that hangs (stopped, swapping) keeps our two
/// connections and gets no new ones meanwhile: no pile-up when it wakes up. A dead peer is
/// found sooner by TCP keepalives and the TCP user timeout
/// ([`crate::conninfo::DEFAULT_KEEPALIVES_IDLE`]: 10 s idle, then 3 probes 5 s apart; 30 s).
pub const DRAIN_MAX: Duration = Duration::from_secs(600);

/// Timing of the workers of one server.
#[derive(Debug, Clone)]
pub struct Timing {
    /// statement_timeout of the session; lock_timeout is a fifth of it (at least 100 ms); the
    /// client-side deadline is this plus 2 s.
    pub query_timeout: Duration,
    /// Poll interval of the slow areas (unused indexes).
    pub slow_interval: Duration,
    /// Rows listed of the top-N lists (unused indexes, per-table cache).
    pub top_n: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            query_timeout: Duration::from_secs(5),
            slow_interval: Duration::from_secs(60),
            top_n: crate::sample::DEFAULT_TOP_N,
        }
    }
}

/// Exponential backoff with jitter between connection attempts.
#[derive(Debug)]
struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
}

impl Backoff {
    const BASE: Duration = Duration::from_millis(250);
    const CAP: Duration = Duration::from_secs(2);

    fn delay(failures: u32) -> Duration {
        let exp = Self::BASE.saturating_mul(1u32 << failures.min(8));
        let capped = exp.min(Self::CAP);
        // jitter: 75..100 % of the delay, so a fleet of dashboards does not reconnect in step
        capped.mul_f64(0.75 + 0.25 * rand::random::<f64>())
    }
}

/// The connections to one server, shared by its workers.
pub struct ServerPool {
    pool: Pool,
    /// Held by the one connection attempt in progress while the link is not up.
    connecting: tokio::sync::Mutex<()>,
    /// Set by the connector when a pooler refused the `options` startup parameter.
    options_refused: Arc<AtomicBool>,
    /// Set when a prepared statement vanished (SQLSTATE 26000): a transaction pooler.
    statements_vanished: AtomicBool,
    /// For cancel requests of queries that outlived the deadline.
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Connections set aside by [`Session::drain`], waiting for the server.
    draining: Arc<std::sync::atomic::AtomicUsize>,
    label: String,
    timing: Timing,
    /// The connection settings, for a short-lived connection to another database of the
    /// same server ([`ServerPool::for_database`]).
    spec: ConnSpec,
    state: Mutex<SessionState>,
}

struct SessionState {
    backoff: Backoff,
    facts: Option<Arc<ServerFacts>>,
    /// True while the link is known to be up (a Connected event was sent).
    up: bool,
}

/// A connection with the facts that go with it.
pub struct Lease {
    pub client: deadpool_postgres::Client,
    pub facts: Arc<ServerFacts>,
}

/// Why no connection could be had.
pub enum NoConnection {
    /// Backing off: the next attempt is later; nothing to report.
    Waiting,
    /// The attempt failed now.
    Failed {
        error: CollectError,
        next_attempt: SystemTime,
    },
}

impl ServerPool {
    /// Build the pool (connects lazily). Errors: a TLS configuration that cannot be built
    /// (unreadable sslrootcert, ...).
    pub fn new(spec: &ConnSpec, timing: Timing) -> Result<ServerPool, CollectError> {
        let statement_ms = timing.query_timeout.as_millis().max(100);
        let lock_ms = (statement_ms / 5).max(100);
        let ours = format!(
            "-c default_transaction_read_only=on -c statement_timeout={statement_ms} -c lock_timeout={lock_ms} -c idle_in_transaction_session_timeout={} -c work_mem={}",
            statement_ms * 2,
            super::WORK_MEM
        );
        // ours first: a setting the user's own options repeat (a work_mem of theirs) wins
        // search_path last, after the user's own options: it always wins (see
        // probe::SEARCH_PATH; spaces separate options, so no space in the value)
        let pinned = format!("-c search_path={}", probe::SEARCH_PATH.replace(' ', ""));
        let add_ours = |config: &mut tokio_postgres::Config| {
            let options = match config.get_options() {
                Some(theirs) if !theirs.trim().is_empty() => {
                    format!("{ours} {theirs} {pinned}")
                }
                _ => format!("{ours} {pinned}"),
            };
            config.options(&options);
        };
        let with_options = spec
            .connector(&add_ours)
            .map_err(|e| CollectError::new(ErrorKind::Tls, e.to_string()))?;
        // through a pooler that refuses `options` (PgBouncer), connect without them — but only
        // when the user gave none of their own (their settings are not dropped silently; our
        // own are SET LOCAL in every pooled transaction)
        let without_options = match &spec.options {
            Some(_) => None,
            None => Some(
                spec.connector(&|_| {})
                    .map_err(|e| CollectError::new(ErrorKind::Tls, e.to_string()))?,
            ),
        };
        let tls = with_options.tls().clone();
        let config = with_options
            .targets()
            .first()
            .map(|t| t.config.clone())
            .unwrap_or_default();
        let connect = PoolerConnect::new(with_options, without_options);
        let options_refused = connect.refused_flag();
        let manager = Manager::from_connect(
            config,
            connect,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let connect_timeout = spec
            .connect_timeout
            .unwrap_or(Duration::from_secs(10))
            .max(Duration::from_secs(2));
        let pool = Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timing.query_timeout + Duration::from_secs(2)))
            .create_timeout(Some(connect_timeout))
            .recycle_timeout(Some(Duration::from_secs(2)))
            .build()
            .map_err(|e| CollectError::new(ErrorKind::Query, e.to_string()))?;
        Ok(ServerPool {
            pool,
            options_refused,
            statements_vanished: AtomicBool::new(false),
            tls,
            draining: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            connecting: tokio::sync::Mutex::new(()),
            label: spec.label(),
            timing,
            spec: spec.clone(),
            state: Mutex::new(SessionState {
                backoff: Backoff {
                    failures: 0,
                    next_attempt: None,
                },
                facts: None,
                up: false,
            }),
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The poll period of the slow areas.
    pub fn slow_interval(&self) -> Duration {
        self.timing.slow_interval
    }

    /// Rows listed of the top-N lists ([`Timing::top_n`]).
    pub fn top_n(&self) -> u32 {
        self.timing.top_n
    }

    /// A named prepared statement vanished between two transactions (SQLSTATE 26000): the
    /// server is behind a pooler that passes `options` through; the next probe says pooled.
    pub fn mark_pooled_by_vanished_statement(&self) {
        self.statements_vanished.store(true, Ordering::Relaxed);
    }

    /// The `statement_timeout` of the monitoring session (`--query-timeout`).
    /// A new pool for database `datname` of this pool's server: the same settings, `dbname`
    /// changed (EXPLAIN plans a statement in its own database).
    ///
    /// Errors: the TLS configuration cannot be built (as [`ServerPool::new`]).
    pub fn for_database(&self, datname: &str) -> Result<ServerPool, CollectError> {
        let mut there = self.spec.clone();
        there.dbname = datname.to_owned();
        ServerPool::new(&there, self.timing.clone())
    }

    pub fn query_timeout(&self) -> Duration {
        self.timing.query_timeout
    }

    /// The client-side deadline of one query.
    pub fn query_deadline(&self) -> Duration {
        self.timing.query_timeout + super::DEADLINE_MARGIN
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection (creating and probing one when needed) with its facts. Returns the
    /// `LinkEvent` to report when the link changed (connected with new facts, or down).
    pub async fn lease(&self) -> (Result<Lease, NoConnection>, Option<LinkEvent>) {
        // While the link is not up, one connection attempt at a time: the other workers wait
        // for it (and use the connection it made) or see its backoff, so a server that refuses
        // or does not answer gets one attempt per backoff period, not one per area.
        let _gate = if self.lock().up {
            None
        } else {
            match tokio::time::timeout(self.query_deadline(), self.connecting.lock()).await {
                Ok(gate) => Some(gate),
                Err(_) => return self.attempt_hangs(),
            }
        };
        {
            let st = self.lock();
            if let Some(t) = st.backoff.next_attempt {
                if Instant::now() < t {
                    return (Err(NoConnection::Waiting), None);
                }
            }
        }
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(e) => {
                let error = pool_error(e);
                let hung = self.draining.load(Ordering::Relaxed) > 0;
                if error.kind == ErrorKind::ClientTimeout && self.lock().up && !hung {
                    // every connection busy with a slow query: not a link failure
                    return (
                        Err(NoConnection::Failed {
                            next_attempt: SystemTime::now(),
                            error,
                        }),
                        None,
                    );
                }
                return self.failed(error);
            }
        };
        let fresh = {
            let m = deadpool_postgres::Object::metrics(&client);
            m.recycle_count == 0 && m.recycled.is_none()
        };
        let known = self.lock().facts.clone();
        let facts = match (fresh, known) {
            (false, Some(f)) => f,
            _ => {
                let probed = tokio::time::timeout(self.query_deadline(), self.probe(&client)).await;
                match probed {
                    Ok(Ok(f)) => Arc::new(f),
                    Ok(Err(e)) => {
                        let _ = deadpool_postgres::Object::take(client);
                        return self.failed(e);
                    }
                    Err(_) => {
                        self.drain(client);
                        return self.failed(CollectError::new(
                            ErrorKind::ClientTimeout,
                            "the server accepted the connection but did not answer the probe",
                        ));
                    }
                }
            }
        };
        let event = {
            let mut st = self.lock();
            st.backoff = Backoff {
                failures: 0,
                next_attempt: None,
            };
            // (a second connection to the same server is no reconnect: no rebaseline)
            let changed = !st.facts.as_deref().is_some_and(|f| f.same_server(&facts));
            let event =
                (!st.up || changed).then(|| LinkEvent::Connected(Box::new((*facts).clone())));
            st.up = true;
            st.facts = Some(facts.clone());
            event
        };
        (Ok(Lease { client, facts }), event)
    }

    /// [`probe::probe`], plus whether the connection goes through a pooler: the pooler refused
    /// `options`, a prepared statement vanished between transactions (SQLSTATE 26000 on an
    /// earlier connection), or the settings sent in `options` are not in force.
    async fn probe(&self, client: &tokio_postgres::Client) -> Result<ServerFacts, CollectError> {
        let mut facts = probe::probe(client).await?;
        facts.pooled = self.options_refused.load(Ordering::Relaxed)
            || self.statements_vanished.load(Ordering::Relaxed)
            || !probe::startup_options_in_force(client).await?;
        Ok(facts)
    }

    /// A connection attempt has been waiting for the server longer than a query may (the
    /// server accepts connections but does not answer: stopped, swapping, out of memory). The
    /// link is reported down once per backoff period; the attempt itself goes on until the
    /// connect timeout.
    fn attempt_hangs(&self) -> (Result<Lease, NoConnection>, Option<LinkEvent>) {
        let reported = self
            .lock()
            .backoff
            .next_attempt
            .is_some_and(|t| Instant::now() < t);
        if reported {
            return (Err(NoConnection::Waiting), None);
        }
        let message = if self.draining.load(Ordering::Relaxed) > 0 {
            // the attempt in progress is a wait for one of our own connections to come back
            "no answer from the server: both monitoring connections are waiting on it \
             (no new connection is opened meanwhile)"
                .to_string()
        } else {
            format!(
                "the server has not answered a connection attempt within {:?}",
                self.query_deadline()
            )
        };
        self.failed(CollectError::new(ErrorKind::ClientTimeout, message))
    }

    fn failed(&self, error: CollectError) -> (Result<Lease, NoConnection>, Option<LinkEvent>) {
        let mut st = self.lock();
        let delay = Backoff::delay(st.backoff.failures);
        st.backoff.failures = st.backoff.failures.saturating_add(1);
        st.backoff.next_attempt = Some(Instant::now() + delay);
        st.up = false;
        let next_attempt = SystemTime::now() + delay;
        let event = LinkEvent::Down {
            error: error.clone(),
            next_attempt,
        };
        (
            Err(NoConnection::Failed {
                error,
                next_attempt,
            }),
            Some(event),
        )
    }

    /// A query on `client` outlived the client-side deadline: keep the connection aside,
    /// still counted against [`MAX_CONNECTIONS`] (the pool cannot replace it meanwhile), send
    /// the server a cancel request, and wait for it to answer a trivial query queued behind
    /// the slow one. Then it goes back to the pool in a known state. Dropped (the pool may
    /// then make a new one) only when the connection breaks or after [`DRAIN_MAX`]. So a
    /// server that hangs sees no new connections from us however long it hangs, and when it
    /// wakes up it finds the same two connections, not a pile of dead ones plus new ones.
    pub fn drain(&self, client: deadpool_postgres::Client) {
        let tls = self.tls.clone();
        let draining = self.draining.clone();
        draining.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let cancel = client.cancel_token();
            let answered = tokio::time::timeout(DRAIN_MAX, async {
                // A cancel that arrives after the slow query ended cancels the empty query
                // below, which is harmless.
                let _ = cancel.cancel_query(tls).await;
                client.simple_query("").await.is_ok()
            })
            .await
            .unwrap_or(false);
            if !answered || client.is_closed() {
                let _ = deadpool_postgres::Object::take(client);
            } else {
                // back to the pool
                drop(client);
            }
            draining.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// A query on `lease` broke the connection (the server went away, or the protocol state
    /// is unknown): drop it so the pool makes a new one.
    pub fn discard(&self, lease: Lease) {
        let _ = deadpool_postgres::Object::take(lease.client);
        let mut st = self.lock();
        st.up = false;
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> CollectError {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(pg) => CollectError::from_pg(&pg, ""),
        PoolError::Timeout(deadpool_postgres::TimeoutType::Create) => {
            CollectError::new(ErrorKind::Unreachable, "connection attempt timed out")
        }
        PoolError::Timeout(_) => CollectError::new(
            ErrorKind::ClientTimeout,
            "no answer from the server: both monitoring connections are waiting on it \
             (no new connection is opened meanwhile)",
        ),
        other => CollectError::new(ErrorKind::Unreachable, crate::sample::error_chain(&other)),
    }
}
