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
//! The listener binds to 127.0.0.1 by default. With [`Guard::tls`] it speaks HTTPS only
//! (rustls; TLS 1.2 and 1.3), with [`Guard::users`] every request needs HTTP basic auth
//! against bcrypt hashes: the config's `[serve]`, after Prometheus' exporter-toolkit web
//! config. A failed login is answered 401 after the same bcrypt work as a good one.

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

/// How the listener is guarded.
#[derive(Clone, Default)]
pub struct Guard {
    /// HTTPS with this configuration; `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// user → bcrypt hash; empty: no authentication.
    pub users: std::collections::BTreeMap<String, String>,
}

impl Guard {
    /// The guard of the config's `[serve]`: the certificate chain and key read (PEM) into a
    /// rustls server configuration, the users as given.
    ///
    /// Errors: a file that cannot be read or parsed, a key that does not match (one line
    /// naming the file).
    pub fn from_config(serve: &crate::config::ServeConfig) -> Result<Guard, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let tls = match (&serve.tls_cert_file, &serve.tls_key_file) {
            (Some(cert), Some(key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("serve.tls_cert_file {}: {e}", cert.display()))?;
                if chain.is_empty() {
                    return Err(format!(
                        "serve.tls_cert_file {}: no certificate in it",
                        cert.display()
                    ));
                }
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("serve.tls_key_file {}: {e}", key.display()))?;
                let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(|e| format!("serve.tls_cert_file / tls_key_file: {e}"))?;
                Some(Arc::new(config))
            }
            _ => None,
        };
        Ok(Guard {
            tls,
            users: serve.basic_auth_users.clone(),
        })
    }
}

/// Basic auth state: the users and the credentials already verified (bcrypt costs tens of
/// milliseconds a check; Prometheus sends the same header every scrape).
#[derive(Clone)]
struct Auth {
    users: Arc<std::collections::BTreeMap<String, String>>,
    verified: Arc<Mutex<std::collections::HashSet<String>>>,
}

/// At most this many verified `Authorization` values are remembered.
const VERIFIED_KEPT: usize = 64;

impl Auth {
    fn allows(&self, header: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some(value) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        if self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(value)
        {
            return true;
        }
        use base64::Engine as _;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value.trim()) else {
            return false;
        };
        let Ok(pair) = String::from_utf8(decoded) else {
            return false;
        };
        let (user, password) = pair.split_once(':').unwrap_or((&pair, ""));
        // an unknown user costs the same bcrypt work as a known one
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            bcrypt::hash("pgvitals: no such user", bcrypt::DEFAULT_COST).unwrap_or_default()
        });
        let hash = self.users.get(user).unwrap_or(dummy);
        let ok = bcrypt::verify(password, hash).unwrap_or(false) && self.users.contains_key(user);
        if ok {
            let mut v = self
                .verified
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if v.len() >= VERIFIED_KEPT {
                v.clear();
            }
            v.insert(value.to_owned());
        }
        ok
    }
}

async fn require_auth(
    State(auth): State<Auth>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let check = auth.clone();
    let ok = tokio::task::spawn_blocking(move || check.allows(header.as_deref()))
        .await
        .unwrap_or(false);
    if ok {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"pgvitals\"")],
            "unauthorized\n",
        )
            .into_response()
    }
}

/// Serve `app` over TLS on `listener`: each connection's handshake within 10 s, then
/// HTTP/1.1 with a 10 s header read timeout. Runs until the task is dropped.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
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
    guard: Guard,
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
    let mut app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/", get(index))
        .with_state(Shared {
            store: Arc::clone(&store),
            options,
        });
    if !guard.users.is_empty() {
        let auth = Auth {
            users: Arc::new(guard.users.clone()),
            verified: Arc::default(),
        };
        app = app.layer(axum::middleware::from_fn_with_state(auth, require_auth));
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = match guard.tls.clone() {
        Some(tls) => tokio::spawn(async move {
            tokio::select! {
                r = serve_tls(listener, app, tls) => r,
                _ = stop_rx => Ok(()),
            }
        }),
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await
        }),
    };
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
