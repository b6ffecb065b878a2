//! The polling workers of one server: one task per area on its own period
//! (`MissedTickBehavior::Skip`: a poll still running is never queued twice, and a slow area
//! delays only itself), each under a supervisor that reports a panicking collector and
//! starts it again, plus the task that carries out confirmed commands ([`super::actions`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::Ctx;
use super::areas::AnyCollector;
use super::pool::{NoConnection, ServerPool};
use crate::sample::{Area, CollectError, Command, ErrorKind, Update};

/// Poll `area` once on `session`: lease a connection, run the collector, report. Returns the
/// updates to send (a link event first, when the link changed).
pub async fn poll_once(
    server: usize,
    area: Area,
    session: &ServerPool,
    collector: &mut AnyCollector,
) -> Vec<Update> {
    let mut out = Vec::new();
    let (lease, event) = session.lease().await;
    if let Some(event) = event {
        out.push(Update::Link {
            server,
            event,
            at: SystemTime::now(),
        });
    }
    let lease = match lease {
        Ok(l) => l,
        Err(NoConnection::Waiting) => return out,
        Err(NoConnection::Failed { error, .. }) => {
            if error.kind == ErrorKind::ClientTimeout {
                out.push(Update::Failed {
                    server,
                    area,
                    error,
                    at: SystemTime::now(),
                });
            }
            return out;
        }
    };
    if let Some(reason) = area.unavailable_on(lease.facts.major()) {
        // below the area's first major: said once per poll period, nothing is queried
        out.push(Update::Failed {
            server,
            area,
            error: CollectError::new(ErrorKind::NeedsNewerServer, reason),
            at: SystemTime::now(),
        });
        return out;
    }
    let ctx = Ctx {
        client: &lease.client,
        facts: &lease.facts,
        timeout: session.query_deadline(),
    };
    crate::fault::check_in("collect", area.key());
    let result = collector.collect(&ctx).await;
    let at = SystemTime::now();
    match result {
        Ok(sample) => out.push(Update::Sample {
            server,
            sample: Box::new(sample),
            at,
        }),
        Err(error) => {
            // a prepared statement vanished between two transactions: a transaction pooler
            // that passed `options` through; the next connection is probed as pooled
            let vanished = error.sqlstate.as_deref() == Some("26000") && !lease.facts.pooled;
            if vanished {
                session.mark_pooled_by_vanished_statement();
            }
            let closed = lease.client.is_closed();
            if error.kind == ErrorKind::ClientTimeout && !closed && !vanished {
                // the server did not answer in time: keep the connection (see `drain`)
                session.drain(lease.client);
            } else if error.breaks_connection() || closed || vanished {
                session.discard(lease);
            }
            out.push(Update::Failed {
                server,
                area,
                error,
                at,
            });
        }
    }
    out
}

/// The polling loop of one area: poll on its period (never twice at once), follow interval
/// changes, end when the model side hangs up.
async fn area_worker(
    server: usize,
    area: Area,
    session: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    mut interval: watch::Receiver<Duration>,
) {
    let mut collector = AnyCollector::with_top_n(area, session.top_n());
    loop {
        let every = area.period(*interval.borrow_and_update(), session.slow_interval());
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                changed = interval.changed() => {
                    if changed.is_err() { return; }
                    break; // new interval: rebuild the ticker
                }
                _ = updates.closed() => return,
            }
            for update in poll_once(server, area, &session, &mut collector).await {
                if updates.send(update).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Start the workers of one server: one supervised task per area on its period, and one that
/// runs confirmed commands (cancel / terminate, [`super::actions::spawn_executor`]). They end
/// when `updates` is closed.
pub fn spawn_server(
    server: usize,
    pool: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    interval: watch::Receiver<Duration>,
    commands: mpsc::Receiver<Command>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles: Vec<_> = Area::ALL
        .into_iter()
        .map(|area| {
            tokio::spawn(supervise(
                server,
                area,
                pool.clone(),
                updates.clone(),
                interval.clone(),
            ))
        })
        .collect();
    handles.push(super::actions::spawn_executor(
        server, pool, updates, commands,
    ));
    handles
}

/// A supervisor per area: a collector that panics is reported (the area's error says it
/// crashed) and started again with a fresh collector a second later; the other areas and
/// the screen carry on.
async fn supervise(
    server: usize,
    area: Area,
    pool: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    interval: watch::Receiver<Duration>,
) {
    loop {
        let worker = tokio::spawn(crate::fault::IN_WORKER.scope(
            true,
            area_worker(
                server,
                area,
                pool.clone(),
                updates.clone(),
                interval.clone(),
            ),
        ));
        match worker.await {
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                tracing::error!(server, area = area.key(), "collector panicked: {what}");
                let error = CollectError::new(
                    ErrorKind::Query,
                    format!(
                        "the {} collector crashed ({what}); restarting it",
                        area.key()
                    ),
                );
                let failed = Update::Failed {
                    server,
                    area,
                    error,
                    at: SystemTime::now(),
                };
                if updates.send(failed).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            _ => return,
        }
    }
}
