//! Connections the way psql users expect: one CONNINFO argument plus the libpq environment
//! into a [`ConnSpec`], then a [`tokio_postgres::Config`] ([`ConnSpec::to_pg_config`]) and a
//! rustls connector ([`ConnSpec::make_tls`]).
//!
//! Rules follow libpq (<https://www.postgresql.org/docs/current/libpq-connect.html>,
//! `libpq-envars`, `libpq-pgpass`):
//!
//! * Forms: a URI (`postgresql://` or `postgres://`: `user:password@`, `h1:5432,h2:5433`,
//!   `[::1]`, percent-decoding everywhere, path = dbname, `?key=value&...`), keyword/value
//!   pairs (`host=a dbname='my db'`, single quotes, `\'` and `\\` escapes, and as an extension
//!   `''` for a quote inside quotes), or a bare word without `=`, taken as the database name
//!   (like `psql mydb`).
//! * Precedence: the argument, then the `PG*` environment variables, then the defaults. An
//!   empty value counts as not given, in the argument and in the environment.
//! * Password: the argument, else `PGPASSWORD`, else the first matching line of the password
//!   file (`passfile=`, `PGPASSFILE` or `~/.pgpass`), searched for each host in order.
//! * Unknown keywords are an error naming the keyword; libpq keywords pgvitals does not
//!   implement are ignored with a line in [`ConnSpec::warnings`], except `hostaddr` and
//!   `service`, which would change the server connected to, and are errors.
//! * An empty element in a host list (`host=a,,b`) is an error (libpq would substitute the
//!   default host there); a wholly empty `host=` means the default.
//!
//! Passwords are held in [`Secret`] and never appear in `Debug`, `Display`, labels, warnings
//! or errors.

mod parse;
mod pgpass;
pub mod pooler;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pgpass::PgpassKey;

/// libpq's `sslmode`. `Display` and `FromStr` use the libpq words (`verify-ca`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// libpq: plain first, then TLS. tokio-postgres cannot do that: treated like `prefer`.
    Allow,
    /// TLS when the server offers it (the default); certificate verified only if a root
    /// certificate file exists.
    #[default]
    Prefer,
    /// TLS or fail; certificate verified only if a root certificate file exists.
    Require,
    /// TLS, certificate chain verified, host name not checked.
    VerifyCa,
    /// TLS, certificate chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// The libpq word.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SslMode {
    type Err = ConnInfoError;

    /// Parses a libpq word; anything else is [`ConnInfoError::BadSslMode`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(ConnInfoError::BadSslMode {
                    value: s.chars().take(40).collect(),
                });
            }
        })
    }
}

/// A password. `Debug` and `Display` print `********`; [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The password itself: pass it on, never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Why a CONNINFO argument or the environment cannot give a connection. Each message is one
/// line and never contains a password (port and host values are not echoed either, since a
/// malformed URI can put a password there).
#[derive(Debug, thiserror::Error)]
pub enum ConnInfoError {
    /// A keyword libpq does not know.
    #[error("invalid connection option \"{keyword}\"")]
    UnknownKeyword { keyword: String },
    /// A libpq keyword pgvitals refuses because ignoring it would connect elsewhere.
    #[error("connection option \"{keyword}\" is not supported by pgvitals: {hint}")]
    UnsupportedKeyword { keyword: String, hint: &'static str },
    /// keyword/value form: a word not followed by `=`.
    #[error("missing \"=\" after \"{keyword}\" in connection info string")]
    MissingEquals { keyword: String },
    /// keyword/value form: a word after `password=value`, probably the rest of a password
    /// with a space; the word is not echoed.
    #[error(
        "missing \"=\" after the word that follows password=...; quote a password that contains spaces: password='...'"
    )]
    MissingEqualsAfterPassword,
    /// keyword/value form: `'` without its closing quote.
    #[error("unterminated quoted string in the value of \"{keyword}\" in connection info string")]
    UnterminatedQuote { keyword: String },
    /// URI form: `%` not followed by two hex digits, `%00`, or not UTF-8 once decoded.
    #[error("invalid percent-encoding in {part}")]
    BadPercentEncoding { part: String },
    /// URI form: malformed structure.
    #[error("invalid URI: {reason}")]
    BadUri { reason: &'static str },
    /// A port that is not a number in 1-65535 (the value is not echoed).
    #[error("invalid port number in {source_name}: {reason}")]
    BadPort {
        /// `"the connection string"` or `"PGPORT"`.
        source_name: &'static str,
        reason: &'static str,
    },
    /// More than one port, and not as many as hosts.
    #[error("{ports} port numbers given for {hosts} hosts")]
    PortCount { hosts: usize, ports: usize },
    /// An empty element in a host list (`host=a,,b`, `postgresql://a,,b`).
    #[error("empty host name in the host list of {source_name}")]
    EmptyHost { source_name: &'static str },
    /// `sslmode` not one of the libpq words.
    #[error(
        "invalid sslmode value \"{value}\" (expected disable, allow, prefer, require, verify-ca or verify-full)"
    )]
    BadSslMode { value: String },
    /// `sslrootcert=system` with a mode weaker than verify-full (libpq 16 rule).
    #[error("sslrootcert=system requires sslmode=verify-full, not {sslmode}")]
    SystemRootsNeedVerifyFull { sslmode: SslMode },
    /// `connect_timeout` / `PGCONNECT_TIMEOUT` not an integer number of seconds.
    #[error("invalid connect_timeout \"{value}\" (whole seconds expected)")]
    BadConnectTimeout { value: String },
    /// No user given and the OS user name cannot be found.
    #[error("cannot determine the user name: give user= or set PGUSER")]
    NoUser,
    /// Building the TLS connector failed (certificate files, keys).
    #[error("TLS setup: {reason}")]
    Tls { reason: String },
}

/// Everything needed to connect to one server, resolved from one CONNINFO argument, the
/// environment and the defaults. `Display` is [`ConnSpec::label`]; `Debug` shows the password
/// as `********`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnSpec {
    /// Host names, IP addresses (IPv6 without brackets) or unix socket directories (starting
    /// with `/`), tried in order. From `host=a,b` / the URI / `PGHOST`; default: libpq's
    /// default socket directory (see [`default_socket_dir`]).
    pub hosts: Vec<String>,
    /// The port of the first host (the port for all hosts when only one was given).
    /// Default `PGPORT`, else 5432.
    pub port: u16,
    /// One port per host, same length as `hosts` (an empty entry in a port list is 5432).
    /// [`ConnSpec::to_pg_config`] uses these when the lengths agree, else `port` for all.
    pub ports: Vec<u16>,
    /// Default `PGUSER`, else the OS user name of the effective uid.
    pub user: String,
    /// Default `PGDATABASE`, else the user name.
    pub dbname: String,
    /// The argument's password, else `PGPASSWORD`, else a password-file match.
    pub password: Option<Secret>,
    /// Default `PGSSLMODE`, else `prefer` (`verify-full` with `sslrootcert=system`).
    pub sslmode: SslMode,
    /// PEM file of trusted roots (or the word `system`). Default `PGSSLROOTCERT`, else
    /// `~/.postgresql/root.crt` when that file exists.
    pub sslrootcert: Option<PathBuf>,
    /// PEM client certificate. Default `PGSSLCERT`, else `~/.postgresql/postgresql.crt` when it
    /// and the key file exist.
    pub sslcert: Option<PathBuf>,
    /// PEM client key. Default `PGSSLKEY`, else `~/.postgresql/postgresql.key` when it exists
    /// and a client certificate is used.
    pub sslkey: Option<PathBuf>,
    /// `application_name`, else `PGAPPNAME`, else `fallback_application_name`.
    pub application_name: Option<String>,
    /// `connect_timeout` / `PGCONNECT_TIMEOUT` in whole seconds; 0 or negative = not set;
    /// 1 becomes 2 (libpq's minimum).
    pub connect_timeout: Option<Duration>,
    /// Server options (`-c name=value ...`), from `options=` / `PGOPTIONS`.
    pub options: Option<String>,
    /// Things the user should know but that do not stop the connection, one line each
    /// (ignored options, an unsafe password file, a missing root certificate file).
    pub warnings: Vec<String>,
}

/// The libpq keywords pgvitals implements.
const IMPLEMENTED: &[&str] = &[
    "host",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "connect_timeout",
    "options",
    "application_name",
    "fallback_application_name",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
];

/// libpq keywords that would change which server is reached: refused.
const REFUSED: &[(&str, &str)] = &[
    ("hostaddr", "give the address in host= instead"),
    (
        "service",
        "pg_service.conf is not read; give the connection parameters directly",
    ),
];

/// The other libpq keywords (PostgreSQL 17): accepted and ignored with a warning.
const IGNORED: &[&str] = &[
    "require_auth",
    "channel_binding",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslnegotiation",
    "sslcompression",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "target_session_attrs",
    "load_balance_hosts",
    "requiressl",
];

/// Environment variables whose keyword pgvitals does not implement: a warning when set.
const IGNORED_ENV: &[&str] = &[
    "PGHOSTADDR",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGREQUIRESSL",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLSNI",
    "PGREQUIREPEER",
    "PGGSSENCMODE",
    "PGTARGETSESSIONATTRS",
    "PGLOADBALANCEHOSTS",
    "PGCHANNELBINDING",
    "PGREQUIREAUTH",
    "PGCLIENTENCODING",
];

/// The default port (libpq's `DEF_PGPORT`).
pub const DEFAULT_PORT: u16 = 5432;

/// libpq's default unix socket directory: `/var/run/postgresql` when that directory exists
/// (Debian and Ubuntu builds), else `/tmp` (the upstream default).
pub fn default_socket_dir() -> &'static str {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql"
    } else {
        "/tmp"
    }
}

/// The OS user name of the effective uid, as libpq finds it.
fn os_user_name() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// The home directory: `HOME`, else the password database entry (libpq's
/// `pqGetHomeDirectory`).
fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
}

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
enum Origin {
    Arg,
    Env(&'static str),
}

impl Origin {
    fn name(self) -> &'static str {
        match self {
            Origin::Arg => "the connection string",
            Origin::Env(name) => name,
        }
    }
}

fn parse_port(s: &str, origin: Origin) -> Result<u16, ConnInfoError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    let bad = |reason| ConnInfoError::BadPort {
        source_name: origin.name(),
        reason,
    };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => u16::try_from(p).map_err(|_| bad("out of range")),
        _ => Err(bad("must be between 1 and 65535")),
    }
}

impl ConnSpec {
    /// Parses one CONNINFO argument with the real process environment and home directory.
    /// Errors: see [`ConnInfoError`].
    pub fn parse(arg: &str) -> Result<ConnSpec, ConnInfoError> {
        let home = home_dir();
        ConnSpec::parse_with(Some(arg), &|k| std::env::var(k).ok(), home.as_deref())
    }

    /// No argument: the environment and libpq's defaults (`pgvitals` with no CONNINFO).
    pub fn from_env() -> Result<ConnSpec, ConnInfoError> {
        let home = home_dir();
        ConnSpec::parse_with(None, &|k| std::env::var(k).ok(), home.as_deref())
    }

    /// The testable core: `arg` (None = no argument), `env` looks up an environment variable,
    /// `home` is where `.pgpass` and `.postgresql/` are found (None = no home: no default
    /// password file or certificates). The OS user name and the default socket directory are
    /// still read from the system.
    pub fn parse_with(
        arg: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<ConnSpec, ConnInfoError> {
        let pairs = match arg {
            Some(a) => parse::lex(a)?,
            None => Vec::new(),
        };
        let mut warnings = Vec::new();
        let mut given: HashMap<&'static str, String> = HashMap::new();
        for (keyword, value) in pairs {
            if let Some(k) = IMPLEMENTED.iter().find(|k| **k == keyword) {
                given.insert(k, value);
            } else if let Some((k, hint)) = REFUSED.iter().find(|(k, _)| *k == keyword) {
                return Err(ConnInfoError::UnsupportedKeyword {
                    keyword: (*k).to_owned(),
                    hint,
                });
            } else if IGNORED.contains(&keyword.as_str()) {
                warnings.push(format!(
                    "connection option \"{keyword}\" is not supported by pgvitals: ignored"
                ));
            } else {
                return Err(ConnInfoError::UnknownKeyword {
                    keyword: keyword.chars().take(64).collect(),
                });
            }
        }
        for name in IGNORED_ENV {
            if env(name).is_some_and(|v| !v.is_empty()) {
                warnings.push(format!(
                    "environment variable {name} is not supported by pgvitals: ignored"
                ));
            }
        }
        let env_nonempty = |name: &'static str| env(name).filter(|v| !v.is_empty());
        let value = |keyword: &str, env_name: &'static str| -> Option<(String, Origin)> {
            given
                .get(keyword)
                .filter(|v| !v.is_empty())
                .map(|v| (v.clone(), Origin::Arg))
                .or_else(|| env_nonempty(env_name).map(|v| (v, Origin::Env(env_name))))
        };

        let socket_dir = default_socket_dir();
        let hosts: Vec<String> = match value("host", "PGHOST") {
            Some((list, origin)) => {
                let hosts: Vec<String> = list.split(',').map(str::to_owned).collect();
                if hosts.iter().any(|h| h.is_empty()) {
                    return Err(ConnInfoError::EmptyHost {
                        source_name: origin.name(),
                    });
                }
                hosts
            }
            None => vec![socket_dir.to_owned()],
        };
        let ports: Vec<u16> = match value("port", "PGPORT") {
            Some((list, origin)) => {
                let ports = list
                    .split(',')
                    .map(|p| parse_port(p, origin))
                    .collect::<Result<Vec<u16>, _>>()?;
                if ports.len() == 1 {
                    vec![ports[0]; hosts.len()]
                } else if ports.len() == hosts.len() {
                    ports
                } else {
                    return Err(ConnInfoError::PortCount {
                        hosts: hosts.len(),
                        ports: ports.len(),
                    });
                }
            }
            None => vec![DEFAULT_PORT; hosts.len()],
        };
        let port = ports.first().copied().unwrap_or(DEFAULT_PORT);

        let user = match value("user", "PGUSER") {
            Some((u, _)) => u,
            None => os_user_name().ok_or(ConnInfoError::NoUser)?,
        };
        let dbname = value("dbname", "PGDATABASE").map_or_else(|| user.clone(), |(d, _)| d);

        let mut password = value("password", "PGPASSWORD").map(|(p, _)| Secret::new(p));
        if password.is_none() {
            let passfile = value("passfile", "PGPASSFILE")
                .map(|(p, _)| PathBuf::from(p))
                .or_else(|| home.map(|h| h.join(".pgpass")));
            if let Some(passfile) = passfile {
                let keys: Vec<PgpassKey<'_>> = hosts
                    .iter()
                    .zip(&ports)
                    .map(|(host, port)| PgpassKey {
                        host,
                        port: *port,
                        dbname: &dbname,
                        user: &user,
                        default_socket_dir: socket_dir,
                    })
                    .collect();
                password = pgpass::lookup(&passfile, &keys, &mut warnings);
            }
        }

        let sslrootcert = value("sslrootcert", "PGSSLROOTCERT")
            .map(|(p, _)| PathBuf::from(p))
            .or_else(|| {
                home.map(|h| h.join(".postgresql/root.crt"))
                    .filter(|p| p.is_file())
            });
        let system_roots = sslrootcert
            .as_ref()
            .is_some_and(|p| p.as_os_str() == tls::SYSTEM_ROOTS);
        let sslmode = match value("sslmode", "PGSSLMODE") {
            Some((m, _)) => {
                let mode: SslMode = m.parse()?;
                if system_roots && mode != SslMode::VerifyFull && mode != SslMode::Disable {
                    return Err(ConnInfoError::SystemRootsNeedVerifyFull { sslmode: mode });
                }
                mode
            }
            None if system_roots => SslMode::VerifyFull,
            None => SslMode::default(),
        };
        let missing_root = sslrootcert
            .as_ref()
            .filter(|root| !system_roots && !root.is_file());
        if let Some(root) = missing_root
            .filter(|_| matches!(sslmode, SslMode::Allow | SslMode::Prefer | SslMode::Require))
        {
            warnings.push(format!(
                "root certificate file \"{}\" does not exist: the server certificate will not be verified (sslmode={sslmode})",
                root.display()
            ));
        }
        let default_cert = home.map(|h| h.join(".postgresql/postgresql.crt"));
        let default_key = home.map(|h| h.join(".postgresql/postgresql.key"));
        let sslcert = value("sslcert", "PGSSLCERT")
            .map(|(p, _)| PathBuf::from(p))
            .or_else(|| {
                default_cert
                    .filter(|c| c.is_file() && default_key.as_ref().is_some_and(|k| k.is_file()))
            });
        let sslkey = value("sslkey", "PGSSLKEY")
            .map(|(p, _)| PathBuf::from(p))
            .or_else(|| default_key.filter(|k| sslcert.is_some() && k.is_file()));

        let application_name = value("application_name", "PGAPPNAME")
            .map(|(a, _)| a)
            .or_else(|| {
                given
                    .get("fallback_application_name")
                    .filter(|v| !v.is_empty())
                    .cloned()
            });
        let connect_timeout = match value("connect_timeout", "PGCONNECT_TIMEOUT") {
            Some((t, _)) => {
                let secs: i64 = t
                    .trim()
                    .parse()
                    .map_err(|_| ConnInfoError::BadConnectTimeout {
                        value: t.chars().take(40).collect(),
                    })?;
                match secs {
                    ..=0 => None,
                    1 => Some(Duration::from_secs(2)),
                    s => Some(Duration::from_secs(s.unsigned_abs())),
                }
            }
            None => None,
        };
        let options = value("options", "PGOPTIONS").map(|(o, _)| o);

        Ok(ConnSpec {
            hosts,
            port,
            ports,
            user,
            dbname,
            password,
            sslmode,
            sslrootcert,
            sslcert,
            sslkey,
            application_name,
            connect_timeout,
            options,
            warnings,
        })
    }

    /// `host:port/dbname` for one host, `h1:5432,h2:5433/dbname` for several; IPv6 addresses in
    /// brackets; a unix socket shows its directory (`/var/run/postgresql:5432/postgres`).
    /// Never contains the password or the user.
    pub fn label(&self) -> String {
        let ports = self.effective_ports();
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .zip(ports)
            .map(|(h, p)| {
                if h.contains(':') && !h.starts_with('/') {
                    format!("[{h}]:{p}")
                } else {
                    format!("{h}:{p}")
                }
            })
            .collect();
        format!("{}/{}", hosts.join(","), self.dbname)
    }

    /// One port per host: `ports` when it matches `hosts`, else `port` for every host.
    fn effective_ports(&self) -> Vec<u16> {
        if self.ports.len() == self.hosts.len() {
            self.ports.clone()
        } else {
            vec![self.port; self.hosts.len()]
        }
    }

    /// The tokio-postgres config: hosts (unix socket directories via `host_path`), ports, user,
    /// dbname, password, application_name (`pgvitals` when none was set), connect_timeout
    /// (10 s when none was set), options, and ssl_mode (disable → Disable, allow/prefer →
    /// Prefer, require/verify-ca/verify-full → Require; the verification itself is in
    /// [`ConnSpec::make_tls`]). When every host is a unix socket, ssl_mode is Disable whatever
    /// sslmode says, as libpq never uses TLS on a unix socket (in a list mixing sockets and TCP
    /// hosts, require and stronger modes make the socket hosts fail).
    pub fn to_pg_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        for host in &self.hosts {
            if host.starts_with('/') {
                config.host_path(host);
            } else {
                config.host(host);
            }
        }
        for port in self.effective_ports() {
            config.port(port);
        }
        config.user(&self.user);
        config.dbname(&self.dbname);
        if let Some(password) = &self.password {
            config.password(password.expose());
        }
        config.application_name(self.application_name.as_deref().unwrap_or("pgvitals"));
        config.connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)));
        if let Some(options) = &self.options {
            config.options(options);
        }
        // libpq never asks for TLS on a unix socket; tokio-postgres would, and fail with
        // Require.
        let sockets_only = self.hosts.iter().all(|h| h.starts_with('/'));
        config.ssl_mode(match self.sslmode {
            _ if sockets_only => tokio_postgres::config::SslMode::Disable,
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        config
    }

    /// A rustls connector (ring provider, installed explicitly) honouring libpq's `sslmode`:
    /// prefer/require without an existing `sslrootcert`: encrypt without verifying the
    /// certificate (handshake signatures are still checked); prefer/require with one, and
    /// verify-ca: the chain against `sslrootcert` (else the system roots: rustls-native-certs,
    /// else webpki-roots), not the host name; verify-full: chain and host name. Client
    /// certificate from `sslcert`/`sslkey` when given. Errors: [`ConnInfoError::Tls`] for
    /// unreadable or empty certificate/key files, or only one of sslcert/sslkey.
    pub fn make_tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConnInfoError> {
        tls::make_tls(self)
    }
}

impl fmt::Display for ConnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests;
