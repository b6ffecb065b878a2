//! Connecting the way libpq does with a multi-host string: each host tried in order (or
//! shuffled, `load_balance_hosts=random`) with its own config, so each host gets only its own
//! password-file entry; `requirepeer` checked on unix sockets before a byte is sent.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, Error, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{ConnInfoError, ConnSpec, TargetSessionAttrs};

/// One host of a connection string with the config that reaches only it.
#[derive(Debug, Clone)]
pub struct HostTarget {
    /// The host name, address or unix socket directory, as given.
    pub host: String,
    pub port: u16,
    /// A config with this one host and port, and this host's password.
    pub config: Config,
}

impl HostTarget {
    /// The unix socket file, for a socket directory host.
    fn socket_path(&self) -> Option<PathBuf> {
        self.host
            .starts_with('/')
            .then(|| PathBuf::from(&self.host).join(format!(".s.PGSQL.{}", self.port)))
    }
}

/// Connects to the first host of a [`ConnSpec`] that accepts the connection.
#[derive(Clone)]
pub struct Connector {
    targets: Vec<HostTarget>,
    tls: MakeRustlsConnect,
    requirepeer: Option<String>,
    target_session_attrs: TargetSessionAttrs,
    load_balance_random: bool,
    connect_timeout: Duration,
}

impl Connector {
    /// See [`ConnSpec::connector`].
    pub fn new(spec: &ConnSpec, adjust: &dyn Fn(&mut Config)) -> Result<Connector, ConnInfoError> {
        let mut targets = spec.targets();
        for t in &mut targets {
            adjust(&mut t.config);
        }
        Ok(Connector {
            targets,
            tls: spec.make_tls()?,
            requirepeer: spec.requirepeer.clone(),
            target_session_attrs: spec.target_session_attrs,
            load_balance_random: spec.load_balance_random,
            connect_timeout: spec
                .connect_timeout
                .unwrap_or(Duration::from_secs(10))
                .max(Duration::from_secs(2)),
        })
    }

    /// The TLS connector (also what cancel requests use).
    pub fn tls(&self) -> &MakeRustlsConnect {
        &self.tls
    }

    /// The per-host targets in their configured order.
    pub fn targets(&self) -> &[HostTarget] {
        &self.targets
    }

    /// Tries each host in turn (libpq moves to the next host on any failure) and returns the
    /// first connection made that is what `target_session_attrs` asks for, its connection
    /// task already spawned; else the last host's error. `prefer-standby` makes two passes:
    /// standbys only, then any host. `requirepeer`: on a unix socket whose server runs as
    /// another OS user the attempt fails before the startup packet (so before any password)
    /// with libpq's message.
    pub async fn connect(&self) -> Result<(Client, JoinHandle<()>), Error> {
        let mut order: Vec<&HostTarget> = self.targets.iter().collect();
        if self.load_balance_random {
            order.shuffle(&mut rand::rng());
        }
        let passes: &[TargetSessionAttrs] = match self.target_session_attrs {
            TargetSessionAttrs::PreferStandby => {
                &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any]
            }
            ref attrs => std::slice::from_ref(attrs),
        };
        let mut last = None;
        for &attrs in passes {
            for target in &order {
                // libpq bounds each host's whole attempt (TCP, TLS, startup, authentication,
                // the session check) by connect_timeout and moves on to the next host
                let attempt = tokio::time::timeout(self.connect_timeout, async {
                    let (client, task) = self.connect_one(target).await?;
                    match session_check(&client, attrs).await {
                        Ok(()) => Ok((client, task)),
                        Err(reason) => {
                            drop(client);
                            task.abort();
                            Err(fail_with(format!(
                                "connection to server at \"{}\", port {} failed: {reason}",
                                target.host, target.port
                            ))
                            .await)
                        }
                    }
                });
                let result = attempt
                    .await
                    .unwrap_or_else(|_| Err(Error::__private_api_timeout()));
                match result {
                    Ok(ok) => return Ok(ok),
                    Err(e) => {
                        tracing::debug!(host = %target.host, port = target.port, "connection attempt failed: {e}");
                        last = Some(e);
                    }
                }
            }
        }
        match last {
            Some(e) => Err(e),
            None => Err(fail_with("no host to connect to".to_owned()).await),
        }
    }

    async fn connect_one(&self, target: &HostTarget) -> Result<(Client, JoinHandle<()>), Error> {
        match (&self.requirepeer, target.socket_path()) {
            (Some(required), Some(path)) => {
                let stream = match tokio::time::timeout(
                    self.connect_timeout,
                    tokio::net::UnixStream::connect(&path),
                )
                .await
                {
                    Ok(Ok(s)) => s,
                    // Never a second, unchecked attempt: whoever made this one fail could be
                    // listening for the next.
                    Ok(Err(e)) => {
                        return Err(fail_with(format!(
                            "could not connect to server on socket \"{}\": {e}",
                            path.display()
                        ))
                        .await);
                    }
                    Err(_) => return Err(Error::__private_api_timeout()),
                };
                if let Err(message) = check_peer(&stream, required) {
                    return Err(fail_with(message).await);
                }
                let (client, connection) = tokio::time::timeout(
                    self.connect_timeout,
                    target.config.connect_raw(stream, NoTls),
                )
                .await
                .map_err(|_| Error::__private_api_timeout())??;
                Ok((client, spawn(connection)))
            }
            _ => connect_spawned(&target.config, self.tls.clone()).await,
        }
    }
}

/// `target_session_attrs` on a new session, by `pg_is_in_recovery()` (one query). libpq
/// judges read-write / read-only by `transaction_read_only`, but a pgvitals session is
/// read-only by design (`default_transaction_read_only=on` in its startup options), so here
/// a session is read-only when the server is in recovery: a primary made read-only by its
/// configuration counts as writable. `Err` is the reason the host does not qualify, or the
/// query's error.
async fn session_check(client: &Client, attrs: TargetSessionAttrs) -> Result<(), String> {
    if attrs == TargetSessionAttrs::Any {
        return Ok(());
    }
    let row = client
        .query_one("SELECT /* pgvitals */ pg_catalog.pg_is_in_recovery()", &[])
        .await
        .map_err(|e| format!("could not check target_session_attrs: {e}"))?;
    let in_recovery: bool = row.get(0);
    attrs.check(in_recovery, in_recovery).map_err(str::to_owned)
}

async fn connect_spawned(
    config: &Config,
    tls: MakeRustlsConnect,
) -> Result<(Client, JoinHandle<()>), Error> {
    let (client, connection) = config.connect(tls).await?;
    Ok((client, spawn(connection)))
}

/// libpq's `requirepeer` check: the OS user owning the server process at the other end of
/// the unix socket (`SO_PEERCRED`). Errors: libpq's message.
fn check_peer(stream: &tokio::net::UnixStream, required: &str) -> Result<(), String> {
    let cred = stream
        .peer_cred()
        .map_err(|e| format!("could not get peer credentials: {e}"))?;
    let uid = nix::unistd::Uid::from_raw(cred.uid());
    let name = match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => return Err(format!("could not look up local user ID {uid}")),
    };
    if name != required {
        return Err(format!(
            "requirepeer specifies \"{required}\", but actual peer user name is \"{name}\""
        ));
    }
    Ok(())
}

/// A `tokio_postgres::Error` carrying `message` (tokio-postgres has no public constructor for
/// one): a connection attempt over a stream that fails at once with that message.
async fn fail_with(message: String) -> Error {
    match Config::new()
        .user("pgvitals")
        .connect_raw(FailStream(Some(message)), NoTls)
        .await
    {
        Err(e) => e,
        // Unreachable: the stream fails its first write.
        Ok(_) => Error::__private_api_timeout(),
    }
}

/// A stream whose first operation fails with its message.
struct FailStream(Option<String>);

impl FailStream {
    fn fail(&mut self) -> std::io::Error {
        std::io::Error::other(self.0.take().unwrap_or_else(|| "closed".to_owned()))
    }
}

impl AsyncRead for FailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(self.get_mut().fail()))
    }
}

impl AsyncWrite for FailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Err(self.get_mut().fail()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(self.get_mut().fail()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Spawns the connection task (it ends when the client is dropped or the link breaks).
pub(crate) fn spawn<S, U>(connection: tokio_postgres::Connection<S, U>) -> JoinHandle<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    U: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("connection error: {e}");
        }
    })
}
