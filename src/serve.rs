//! `pgvitals serve`: the workers of the dashboard, headless, feeding a store that an HTTP
//! listener exposes to Prometheus.
//!
//! * `GET /metrics`: [`crate::export::render`] of the latest samples (OpenMetrics when the
//!   `Accept` header asks for it, as Prometheus does, else the text format 0.0.4). A
//!   scrape reads the store under a lock and never triggers a poll: the cost on the servers
//!   is the dashboard's, whatever the scrape rate.
//! * `GET /healthz`: `ok` while the process runs (the servers' health is in `/metrics`).
//! * `GET /`: a line naming the two.
//!
//! The listener speaks plain HTTP/1.1 without authentication; it binds to 127.0.0.1 by
//! default, and a non-loopback address is the operator's explicit choice (TLS and basic auth
//! belong to a reverse proxy in front of it for now; see the README).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::Running;
use crate::export::{Format, MetricsOptions, render};
use crate::model::Store;

#[derive(Clone)]
struct Shared {
    store: Arc<Mutex<Store>>,
    options: MetricsOptions,
}

async fn metrics(State(shared): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let text = {
        let store = match shared.store.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        render(&store, SystemTime::now(), shared.options, format)
    };
    ([(header::CONTENT_TYPE, format.content_type())], text)
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn index() -> impl IntoResponse {
    "pgvitals exporter: /metrics (Prometheus text format), /healthz\n"
}

/// Serve `running`'s store on `listener` until `shutdown` completes: the updates of the
/// workers are applied as they come (each shown to `observe` first: the command logs
/// connection events), the time-based alerts re-evaluated every second.
///
/// Errors: the listener failing (one line).
pub async fn serve(
    listener: tokio::net::TcpListener,
    running: Running,
    options: MetricsOptions,
    mut observe: impl FnMut(&crate::sample::Update),
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let Running {
        store,
        mut updates,
        commands: _commands,
        interval: _interval,
    } = running;
    let store = Arc::new(Mutex::new(store));
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/", get(index))
        .with_state(Shared {
            store: Arc::clone(&store),
            options,
        });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            update = updates.recv() => {
                let Some(update) = update else { break };
                observe(&update);
                let mut s = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                s.apply(update, SystemTime::now());
            }
            _ = tick.tick() => {
                let mut s = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                s.tick(SystemTime::now());
            }
            () = &mut shutdown => break,
            ended = &mut server => return Err(listener_ended(ended)),
        }
    }
    let _ = stop_tx.send(());
    match server.await {
        Ok(Ok(())) => Ok(()),
        ended => Err(listener_ended(ended)),
    }
}

fn listener_ended(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> String {
    match ended {
        Ok(Ok(())) => "the HTTP listener stopped".to_owned(),
        Ok(Err(e)) => format!("the HTTP listener failed: {e}"),
        Err(e) => format!("the HTTP listener stopped: {e}"),
    }
}
