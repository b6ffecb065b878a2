//! Connections the way psql users expect: one CONNINFO argument plus the libpq environment
//! into a [`ConnSpec`], then a [`tokio_postgres::Config`] ([`ConnSpec::targets`]) and a
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
//! * Precedence: the argument, then the service (`service=` / `PGSERVICE`, read from the
//!   connection service file: the `service` module), then the `PG*` environment variables,
//!   then the defaults. An empty value counts as not given, in the argument and in the
//!   environment.
//! * `hostaddr`: the address connected to, `host` the name TLS verifies and the password
//!   file matches. `target_session_attrs`: each host checked after login, the next tried
//!   when it does not qualify ([`TargetSessionAttrs`], [`Connector::connect`]).
//! * Password: the argument, else `PGPASSWORD`, else the first matching line of the password
//!   file (`passfile=`, `PGPASSFILE` or `~/.pgpass`) for that host and port.
//! * Every libpq keyword (and its environment variable) is either honoured or refused with
//!   an error naming it: nothing is silently ignored, nothing is downgraded. Refused: the
//!   ones that pgvitals cannot enforce (`require_auth`, `sslpassword`, `gssencmode=require`,
//!   `sslcertmode=require`, `client_encoding` other than UTF8, TLS versions below 1.2). `krbsrvname`, `gsslib` and `gssdelegation` are accepted and have no effect
//!   (no GSSAPI here, so never used); `sslcompression` is accepted and TLS compression is
//!   never used. See [`OPTIONS`].
//! * Environment variables that are not valid UTF-8 are an error, not skipped.
//! * Passwords: the password file is searched for each host and port of a multi-host
//!   string separately ([`ConnSpec::password_for`]): host B never gets host A's entry.
//! * An empty element in a host list (`host=a,,b`) is an error (libpq would substitute the
//!   default host there); a wholly empty `host=` means the default.
//!
//! Passwords are held in [`Secret`] and never appear in `Debug`, `Display`, labels, warnings
//! or errors.

mod connect;
mod parse;
mod pgpass;
pub mod pooler;
mod service;
mod tls;

pub use connect::{Connector, HostTarget};
pub use service::default_sysconfdir;
pub use tokio_postgres::config::{ChannelBinding, SslNegotiation};

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pgpass::PgpassKey;

/// libpq's `sslmode`. `Display` and `FromStr` use the libpq words (`verify-ca`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
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
    /// An unknown keyword right after `password=...`: not echoed (it may be the rest of a
    /// password with a space in it).
    #[error(
        "invalid connection option after password=... (not shown: it may be part of the password); quote a password that contains spaces: password='...'"
    )]
    UnknownAfterPassword,
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
    /// `sslrootcert=system` with a mode weaker than verify-full (libpq 16 rule and message).
    #[error(
        "weak sslmode \"{sslmode}\" may not be used with sslrootcert=system (use \"verify-full\")"
    )]
    SystemRootsNeedVerifyFull { sslmode: SslMode },
    /// verify-ca / verify-full and no root certificate file (libpq's message, on one line).
    #[error(
        "root certificate file \"{path}\" does not exist; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification"
    )]
    RootCertMissing { path: String },
    /// verify-ca / verify-full, no `sslrootcert` and no home directory to look in.
    #[error(
        "could not get home directory to locate root certificate file; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification"
    )]
    NoHomeForRootCert,
    /// A value outside the option's words (libpq: `invalid channel_binding value: "x"`).
    #[error("invalid {keyword} value: \"{value}\"")]
    InvalidValue {
        keyword: &'static str,
        value: String,
    },
    /// A valid libpq value that pgvitals cannot honour; never silently downgraded.
    #[error("{keyword}={value} is not supported by pgvitals: {hint}")]
    UnsupportedValue {
        keyword: &'static str,
        value: String,
        hint: &'static str,
    },
    /// Two options that contradict each other (e.g. `requiressl=1 sslmode=prefer`).
    #[error("{reason}")]
    Conflict { reason: String },
    /// A libpq environment variable that is set but not valid UTF-8.
    #[error("environment variable {name} is not valid UTF-8")]
    EnvNotUtf8 { name: String },
    /// `connect_timeout` / `PGCONNECT_TIMEOUT` not an integer number of seconds.
    #[error("invalid connect_timeout \"{value}\" (whole seconds expected)")]
    BadConnectTimeout { value: String },
    /// No user given and the OS user name cannot be found.
    #[error("cannot determine the user name: give user= or set PGUSER")]
    NoUser,
    /// `service=NAME` / `PGSERVICE` defined in no service file (libpq's message).
    #[error("definition of service \"{service}\" not found")]
    ServiceNotFound { service: String },
    /// The service file named by `servicefile=` / `PGSERVICEFILE` does not exist.
    #[error("service file \"{path}\" not found")]
    ServiceFileNotFound { path: String },
    /// A service file that exists but cannot be read (not a regular file, over 1 MiB, not
    /// UTF-8, no permission).
    #[error("service file {reason}")]
    ServiceFileUnreadable { reason: String },
    /// A syntax error or a nested `service=` in the wanted section (libpq's messages).
    #[error("{what} in service file \"{path}\", line {line}")]
    ServiceFileLine {
        what: &'static str,
        path: String,
        line: usize,
    },
    /// Building the TLS connector failed (certificate files, keys).
    #[error("TLS setup: {reason}")]
    Tls { reason: String },
}

/// A TLS protocol version as libpq names it in `ssl_min_protocol_version` /
/// `ssl_max_protocol_version` (`TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls1_0,
    Tls1_1,
    Tls1_2,
    Tls1_3,
}

impl TlsVersion {
    fn parse(keyword: &'static str, s: &str) -> Result<TlsVersion, ConnInfoError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "tlsv1" => TlsVersion::Tls1_0,
            "tlsv1.1" => TlsVersion::Tls1_1,
            "tlsv1.2" => TlsVersion::Tls1_2,
            "tlsv1.3" => TlsVersion::Tls1_3,
            _ => return Err(invalid(keyword, s)),
        })
    }

    /// The libpq word.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls1_0 => "TLSv1",
            TlsVersion::Tls1_1 => "TLSv1.1",
            TlsVersion::Tls1_2 => "TLSv1.2",
            TlsVersion::Tls1_3 => "TLSv1.3",
        }
    }
}

/// libpq's `sslcertmode` (PostgreSQL 16): whether a client certificate is sent. `require`
/// (fail unless the server asked for one) is refused: rustls cannot stop the handshake before
/// authentication when the server did not ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslCertMode {
    /// Never send a client certificate, even when one is configured.
    Disable,
    /// Send the configured client certificate when there is one (the default).
    #[default]
    Allow,
}

/// libpq's `target_session_attrs`: what a host must be for the connection to stay. Checked
/// after authentication with `pg_is_in_recovery()` (one query); a host that fails is closed
/// and the next one tried. A pgvitals session is read-only by design, so read-write /
/// read-only are judged by recovery too (a primary made read-only by its configuration counts
/// as writable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// Any server (the default, no check).
    #[default]
    Any,
    /// A session that accepts writes (`transaction_read_only` off).
    ReadWrite,
    /// A read-only session (`transaction_read_only` on: a standby or
    /// `default_transaction_read_only`).
    ReadOnly,
    /// A server not in recovery.
    Primary,
    /// A server in recovery (a hot standby).
    Standby,
    /// A standby if any host is one, else any server (two passes over the hosts).
    PreferStandby,
}

impl TargetSessionAttrs {
    /// The libpq word.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }

    /// Whether a session with these properties qualifies; `Err` is libpq's reason when not.
    /// `PreferStandby` asks for a standby (its second pass uses `Any`).
    pub fn check(self, in_recovery: bool, read_only: bool) -> Result<(), &'static str> {
        match self {
            TargetSessionAttrs::Any => Ok(()),
            TargetSessionAttrs::ReadWrite if read_only => Err("session is read-only"),
            TargetSessionAttrs::ReadOnly if !read_only => Err("session is not read-only"),
            TargetSessionAttrs::Primary if in_recovery => Err("server is in hot standby mode"),
            TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby if !in_recovery => {
                Err("server is not in hot standby mode")
            }
            _ => Ok(()),
        }
    }
}

/// Everything needed to connect to one server, resolved from one CONNINFO argument, the
/// environment and the defaults. `Display` is [`ConnSpec::label`]; `Debug` shows passwords
/// as `********`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnSpec {
    /// The name a `[[servers]]` entry of the config gives it ([`ConnSpec::named`]): what
    /// [`ConnSpec::label`] returns instead of `host:port/dbname`.
    pub name: Option<String>,
    /// Host names, IP addresses (IPv6 without brackets) or unix socket directories (starting
    /// with `/`), tried in order. From `host=a,b` / the URI / `PGHOST`; default: libpq's
    /// default socket directory (see [`default_socket_dir`]).
    pub hosts: Vec<String>,
    /// `hostaddr`: the IP address to connect to for each host (same length as `hosts`, or
    /// empty when not given); `None` where the host's name is looked up. The host name is
    /// still what TLS verifies and the password file matches (an address given without a name
    /// is both).
    pub hostaddrs: Vec<Option<IpAddr>>,
    /// The port of the first host (the port for all hosts when only one was given).
    /// Default `PGPORT`, else 5432.
    pub port: u16,
    /// One port per host, same length as `hosts` (an empty entry in a port list is 5432).
    /// [`ConnSpec::targets`] uses these when the lengths agree, else `port` for all.
    pub ports: Vec<u16>,
    /// Default `PGUSER`, else the OS user name of the effective uid.
    pub user: String,
    /// Default `PGDATABASE`, else the user name.
    pub dbname: String,
    /// The password given for every host: the argument's, else `PGPASSWORD`.
    pub password: Option<Secret>,
    /// Password-file matches, one per host of `hosts` (same length), each looked up with that
    /// host and port (libpq's rule); used for a host only when `password` is `None`.
    pub passfile_passwords: Vec<Option<Secret>>,
    /// Default `PGSSLMODE`, else `prefer` (`verify-full` with `sslrootcert=system`;
    /// `require` with `requiressl=1` / `PGREQUIRESSL=1`).
    pub sslmode: SslMode,
    /// PEM file of trusted roots (or the word `system`). Default `PGSSLROOTCERT`, else
    /// `~/.postgresql/root.crt` when that file exists.
    pub sslrootcert: Option<PathBuf>,
    /// PEM client certificate. Default `PGSSLCERT`, else `~/.postgresql/postgresql.crt` when it
    /// and the key file exist.
    pub sslcert: Option<PathBuf>,
    /// PEM client key. Default `PGSSLKEY`, else `~/.postgresql/postgresql.key` when it exists
    /// and a client certificate is used. Refused when group or world can read it (libpq's
    /// rule: 0600 or less, 0640 or less when owned by root).
    pub sslkey: Option<PathBuf>,
    /// Certificate revocation list file (PEM or DER), `sslcrl` / `PGSSLCRL`, else
    /// `~/.postgresql/root.crl` when `sslcrldir` is not set either. Checked only where the
    /// chain is verified against a root certificate file; a missing file is no list (libpq).
    pub sslcrl: Option<PathBuf>,
    /// Directory of CRL files, `sslcrldir` / `PGSSLCRLDIR`; every regular file in it is read.
    pub sslcrldir: Option<PathBuf>,
    /// `ssl_min_protocol_version`, default TLSv1.2 (pgvitals never speaks below 1.2).
    pub ssl_min_protocol_version: TlsVersion,
    /// `ssl_max_protocol_version`; `None` = the newest (TLSv1.3).
    pub ssl_max_protocol_version: Option<TlsVersion>,
    /// `sslsni` (default on): send the host name in the TLS handshake (never for an IP).
    pub sslsni: bool,
    /// `sslcertmode`.
    pub sslcertmode: SslCertMode,
    /// `sslnegotiation`: `postgres` (SSLRequest first, the default) or `direct` (PostgreSQL
    /// 17+, TLS at once; requires sslmode=require or stronger).
    pub sslnegotiation: SslNegotiation,
    /// `channel_binding` (disable, prefer, require). `require` fails a connection that did not
    /// authenticate with SCRAM-SHA-256-PLUS over TLS before any password is sent.
    pub channel_binding: ChannelBinding,
    /// `requirepeer`: the OS user the server must run as, checked on unix sockets
    /// (`SO_PEERCRED`) before anything is sent.
    pub requirepeer: Option<String>,
    /// `target_session_attrs`: which kind of server a connection must reach; hosts that are
    /// not are skipped (libpq's rules, [`TargetSessionAttrs`]).
    pub target_session_attrs: TargetSessionAttrs,
    /// `load_balance_hosts=random`: try the hosts in a random order on each connection.
    pub load_balance_random: bool,
    /// `keepalives` (default on), `keepalives_idle`, `keepalives_interval`,
    /// `keepalives_count`, `tcp_user_timeout`: the user's TCP settings; pgvitals' defaults
    /// (10 s idle, 5 s interval, 3 probes, 30 s user timeout) where none is given.
    pub keepalives: bool,
    pub keepalives_idle: Option<Duration>,
    pub keepalives_interval: Option<Duration>,
    pub keepalives_count: Option<u32>,
    pub tcp_user_timeout: Option<Duration>,
    /// `application_name`, else `PGAPPNAME`, else `fallback_application_name`.
    pub application_name: Option<String>,
    /// `connect_timeout` / `PGCONNECT_TIMEOUT` in whole seconds; 0 or negative = not set;
    /// 1 becomes 2 (libpq's minimum).
    pub connect_timeout: Option<Duration>,
    /// Server options (`-c name=value ...`), from `options=` / `PGOPTIONS`.
    pub options: Option<String>,
    /// Things the user should know but that do not stop the connection, one line each (an
    /// unsafe password file, a missing root certificate file under prefer/require). Shown on
    /// stderr and in the dashboard.
    pub warnings: Vec<String>,
}

/// How pgvitals treats a libpq keyword and its environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Honoured (its value is validated and used).
    Honoured,
    /// Accepted; it has no effect because what it configures is never used (GSSAPI options:
    /// pgvitals has no GSSAPI; `sslcompression`: TLS compression is never used).
    NoEffect,
    /// Refused with an error naming it and why.
    Refused(&'static str),
}

/// Every libpq connection keyword up to PostgreSQL 17 and 18's protocol version keywords,
/// its environment variable, and what pgvitals does with it. A keyword not in this table is an error (`invalid connection
/// option`), as in libpq.
pub const OPTIONS: &[(&str, Option<&str>, Support)] = &[
    ("host", Some("PGHOST"), Support::Honoured),
    ("port", Some("PGPORT"), Support::Honoured),
    ("dbname", Some("PGDATABASE"), Support::Honoured),
    ("user", Some("PGUSER"), Support::Honoured),
    ("password", Some("PGPASSWORD"), Support::Honoured),
    ("passfile", Some("PGPASSFILE"), Support::Honoured),
    (
        "connect_timeout",
        Some("PGCONNECT_TIMEOUT"),
        Support::Honoured,
    ),
    ("options", Some("PGOPTIONS"), Support::Honoured),
    ("application_name", Some("PGAPPNAME"), Support::Honoured),
    ("fallback_application_name", None, Support::Honoured),
    (
        "client_encoding",
        Some("PGCLIENTENCODING"),
        Support::Honoured,
    ),
    ("keepalives", None, Support::Honoured),
    ("keepalives_idle", None, Support::Honoured),
    ("keepalives_interval", None, Support::Honoured),
    ("keepalives_count", None, Support::Honoured),
    ("tcp_user_timeout", None, Support::Honoured),
    ("replication", None, Support::Honoured),
    ("sslmode", Some("PGSSLMODE"), Support::Honoured),
    ("requiressl", Some("PGREQUIRESSL"), Support::Honoured),
    (
        "sslnegotiation",
        Some("PGSSLNEGOTIATION"),
        Support::Honoured,
    ),
    (
        "sslcompression",
        Some("PGSSLCOMPRESSION"),
        Support::NoEffect,
    ),
    ("sslcert", Some("PGSSLCERT"), Support::Honoured),
    ("sslkey", Some("PGSSLKEY"), Support::Honoured),
    ("sslcertmode", Some("PGSSLCERTMODE"), Support::Honoured),
    ("sslrootcert", Some("PGSSLROOTCERT"), Support::Honoured),
    ("sslcrl", Some("PGSSLCRL"), Support::Honoured),
    ("sslcrldir", Some("PGSSLCRLDIR"), Support::Honoured),
    ("sslsni", Some("PGSSLSNI"), Support::Honoured),
    (
        "ssl_min_protocol_version",
        Some("PGSSLMINPROTOCOLVERSION"),
        Support::Honoured,
    ),
    (
        "ssl_max_protocol_version",
        Some("PGSSLMAXPROTOCOLVERSION"),
        Support::Honoured,
    ),
    (
        "channel_binding",
        Some("PGCHANNELBINDING"),
        Support::Honoured,
    ),
    ("requirepeer", Some("PGREQUIREPEER"), Support::Honoured),
    ("gssencmode", Some("PGGSSENCMODE"), Support::Honoured),
    ("krbsrvname", Some("PGKRBSRVNAME"), Support::NoEffect),
    ("gsslib", Some("PGGSSLIB"), Support::NoEffect),
    ("gssdelegation", Some("PGGSSDELEGATION"), Support::NoEffect),
    (
        "target_session_attrs",
        Some("PGTARGETSESSIONATTRS"),
        Support::Honoured,
    ),
    (
        "load_balance_hosts",
        Some("PGLOADBALANCEHOSTS"),
        Support::Honoured,
    ),
    ("hostaddr", Some("PGHOSTADDR"), Support::Honoured),
    ("service", Some("PGSERVICE"), Support::Honoured),
    ("servicefile", Some("PGSERVICEFILE"), Support::Honoured),
    (
        "require_auth",
        Some("PGREQUIREAUTH"),
        Support::Refused(
            "the authentication methods cannot be restricted; channel_binding=require insists on SCRAM with channel binding",
        ),
    ),
    (
        "min_protocol_version",
        Some("PGMINPROTOCOLVERSION"),
        Support::Refused("the protocol version is tokio-postgres' (3.0); it cannot be chosen"),
    ),
    (
        "max_protocol_version",
        Some("PGMAXPROTOCOLVERSION"),
        Support::Refused("the protocol version is tokio-postgres' (3.0); it cannot be chosen"),
    ),
    (
        "sslpassword",
        None,
        Support::Refused("encrypted client keys are not supported; give an unencrypted key file"),
    ),
];

/// Environment variables without a keyword that pgvitals reads: the directory of the
/// system-wide service file.
const EXTRA_ENV: &[&str] = &["PGSYSCONFDIR"];

/// A keyword pgvitals refuses, given a value (from the argument or a service file), is an
/// error naming it; an empty value is "not given" (libpq), so `sslpassword=` is harmless.
fn refuse(keyword: &str, support: Support, value: &str) -> Result<(), ConnInfoError> {
    match support {
        Support::Refused(hint) if !value.is_empty() => Err(ConnInfoError::UnsupportedKeyword {
            keyword: keyword.to_owned(),
            hint,
        }),
        _ => Ok(()),
    }
}

fn invalid(keyword: &'static str, value: &str) -> ConnInfoError {
    ConnInfoError::InvalidValue {
        keyword,
        value: value.chars().take(40).collect(),
    }
}

fn unsupported(keyword: &'static str, value: &str, hint: &'static str) -> ConnInfoError {
    ConnInfoError::UnsupportedValue {
        keyword,
        value: value.chars().take(40).collect(),
        hint,
    }
}

/// libpq's boolean words for `replication` and the like.
fn parse_bool(keyword: &'static str, s: &str) -> Result<bool, ConnInfoError> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Ok(true),
        "0" | "off" | "false" | "no" => Ok(false),
        _ => Err(invalid(keyword, s)),
    }
}

/// A non-negative integer option (`keepalives_idle=10`); negative counts as 0, like libpq.
fn parse_int(keyword: &'static str, s: &str) -> Result<u64, ConnInfoError> {
    let v: i64 = s.trim().parse().map_err(|_| invalid(keyword, s))?;
    Ok(v.max(0).unsigned_abs())
}

/// The pgvitals TCP defaults used where the user gives none: the first keepalive probe after
/// 10 s of silence, then every 5 s, 3 times (a dead peer is noticed in about 25 s; a stopped
/// server's kernel still answers them); data unacknowledged for 30 s breaks the connection.
pub const DEFAULT_KEEPALIVES_IDLE: Duration = Duration::from_secs(10);
pub const DEFAULT_KEEPALIVES_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_KEEPALIVES_COUNT: u32 = 3;
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The environment variables [`ConnSpec::parse`] reads, checked for UTF-8 before parsing.
fn env_names() -> impl Iterator<Item = &'static str> {
    OPTIONS
        .iter()
        .filter_map(|(_, env, _)| *env)
        .chain(EXTRA_ENV.iter().copied())
}

/// The process environment as [`ConnSpec::parse_with`] wants it, after checking that every
/// variable it may read is valid UTF-8 (libpq reads bytes; a name we cannot read exactly is
/// an error, never skipped).
fn process_env() -> Result<impl Fn(&str) -> Option<String>, ConnInfoError> {
    for name in env_names() {
        if let Some(v) = std::env::var_os(name) {
            if v.to_str().is_none() {
                return Err(ConnInfoError::EnvNotUtf8 {
                    name: name.to_owned(),
                });
            }
        }
    }
    Ok(|k: &str| std::env::var(k).ok())
}

impl ConnSpec {
    /// Parses one CONNINFO argument with the real process environment and home directory.
    /// Errors: see [`ConnInfoError`] (also [`ConnInfoError::EnvNotUtf8`]).
    pub fn parse(arg: &str) -> Result<ConnSpec, ConnInfoError> {
        let home = home_dir();
        let env = process_env()?;
        ConnSpec::parse_with(Some(arg), &env, home.as_deref())
    }

    /// No argument: the environment and libpq's defaults (`pgvitals` with no CONNINFO).
    pub fn from_env() -> Result<ConnSpec, ConnInfoError> {
        let home = home_dir();
        let env = process_env()?;
        ConnSpec::parse_with(None, &env, home.as_deref())
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
        let mut after_password = false;
        for (keyword, value) in pairs {
            let Some((k, _, support)) = OPTIONS.iter().find(|(k, _, _)| *k == keyword) else {
                if after_password {
                    // `password=se cret=x`: the "keyword" may be the rest of the password
                    return Err(ConnInfoError::UnknownAfterPassword);
                }
                return Err(ConnInfoError::UnknownKeyword {
                    keyword: keyword.chars().take(64).collect(),
                });
            };
            after_password = *k == "password";
            refuse(k, *support, &value)?;
            given.insert(k, value);
        }
        // The service file fills what the argument left out, before the environment does
        // (libpq: the argument, then the service, then PG* variables, then the defaults).
        let service_name = given
            .get("service")
            .filter(|v| !v.is_empty())
            .cloned()
            .or_else(|| env("PGSERVICE").filter(|v| !v.is_empty()));
        if let Some(name) = service_name {
            let user_file = given
                .get("servicefile")
                .filter(|v| !v.is_empty())
                .cloned()
                .or_else(|| env("PGSERVICEFILE").filter(|v| !v.is_empty()))
                .map(|f| (PathBuf::from(f), true))
                .or_else(|| home.map(|h| (h.join(".pg_service.conf"), false)));
            let sysconfdir = env("PGSYSCONFDIR")
                .filter(|v| !v.is_empty())
                .map_or_else(default_sysconfdir, PathBuf::from);
            let search = service::ServiceSearch {
                name,
                user_file,
                sysconfdir,
            };
            let known = |k: &str| OPTIONS.iter().any(|(o, _, _)| *o == k);
            for (keyword, value) in service::lookup(&search, &known)? {
                let Some((k, _, support)) = OPTIONS.iter().find(|(o, _, _)| *o == keyword) else {
                    continue; // `known` let it through: unreachable
                };
                if given.get(k).is_some_and(|v| !v.is_empty()) {
                    continue;
                }
                refuse(k, *support, &value)?;
                given.insert(k, value);
            }
        }
        for (keyword, env_name, support) in OPTIONS {
            if let (Support::Refused(hint), Some(name)) = (support, env_name) {
                if env(name).is_some_and(|v| !v.is_empty()) && !given.contains_key(keyword) {
                    return Err(ConnInfoError::UnsupportedKeyword {
                        keyword: (*name).to_owned(),
                        hint,
                    });
                }
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
        let arg_only = |keyword: &str| given.get(keyword).filter(|v| !v.is_empty()).cloned();

        let socket_dir = default_socket_dir();
        // hostaddr: the addresses connected to, one per host (an empty entry: that host's
        // name is looked up); the host names stay what TLS and the password file see.
        let hostaddrs: Vec<Option<IpAddr>> = match value("hostaddr", "PGHOSTADDR") {
            Some((list, _)) => list
                .split(',')
                .map(|a| {
                    let a = a.trim();
                    if a.is_empty() {
                        Ok(None)
                    } else {
                        a.parse::<IpAddr>()
                            .map(Some)
                            .map_err(|_| invalid("hostaddr", a))
                    }
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let hosts: Vec<String> = match value("host", "PGHOST") {
            Some((list, origin)) => {
                let mut hosts: Vec<String> = list.split(',').map(str::to_owned).collect();
                if !hostaddrs.is_empty() && hostaddrs.len() != hosts.len() {
                    return Err(ConnInfoError::Conflict {
                        reason: format!(
                            "could not match {} host names to {} hostaddr values",
                            hosts.len(),
                            hostaddrs.len()
                        ),
                    });
                }
                for (i, host) in hosts.iter_mut().enumerate() {
                    match hostaddrs.get(i).copied().flatten() {
                        // libpq: an address without a name is known by the address
                        Some(addr) if host.is_empty() => *host = addr.to_string(),
                        Some(_) if host.starts_with('/') => {
                            return Err(ConnInfoError::Conflict {
                                reason: "a unix-socket directory in host cannot be combined with hostaddr (give the server's host name or address)".to_owned(),
                            });
                        }
                        _ if host.is_empty() => {
                            return Err(ConnInfoError::EmptyHost {
                                source_name: origin.name(),
                            });
                        }
                        _ => {}
                    }
                }
                hosts
            }
            None if !hostaddrs.is_empty() => {
                if hostaddrs.iter().any(Option::is_none) {
                    return Err(ConnInfoError::EmptyHost {
                        source_name: "hostaddr",
                    });
                }
                hostaddrs.iter().flatten().map(IpAddr::to_string).collect()
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
        let tcp_hosts = hosts.iter().any(|h| !h.starts_with('/'));

        let user = match value("user", "PGUSER") {
            Some((u, _)) => u,
            None => os_user_name().ok_or(ConnInfoError::NoUser)?,
        };
        let dbname = value("dbname", "PGDATABASE").map_or_else(|| user.clone(), |(d, _)| d);

        let password = value("password", "PGPASSWORD").map(|(p, _)| Secret::new(p));
        let mut passfile_passwords = vec![None; hosts.len()];
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
                passfile_passwords = pgpass::lookup_each(&passfile, &keys, &mut warnings);
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
        let requiressl = match value("requiressl", "PGREQUIRESSL") {
            Some((v, _)) => match v.as_str() {
                "1" => true,
                "0" => false,
                _ => return Err(invalid("requiressl", &v)),
            },
            None => false,
        };
        let sslmode = match value("sslmode", "PGSSLMODE") {
            Some((m, _)) => {
                let mode: SslMode = m.parse()?;
                if requiressl && mode < SslMode::Require {
                    return Err(ConnInfoError::Conflict {
                        reason: format!(
                            "requiressl=1 asks for TLS but sslmode={mode} does not require it"
                        ),
                    });
                }
                mode
            }
            None if system_roots => SslMode::VerifyFull,
            None if requiressl => SslMode::Require,
            None => SslMode::default(),
        };
        if system_roots && sslmode != SslMode::VerifyFull {
            return Err(ConnInfoError::SystemRootsNeedVerifyFull { sslmode });
        }
        let missing_root = sslrootcert
            .as_ref()
            .filter(|root| !system_roots && !root.exists());
        if matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) && tcp_hosts {
            // libpq: verify-ca and verify-full need a root certificate file; the system's
            // roots only with sslrootcert=system (a public CA vouches for any name it sold).
            match (&sslrootcert, missing_root) {
                (None, _) => match home {
                    Some(h) => {
                        return Err(ConnInfoError::RootCertMissing {
                            path: h.join(".postgresql/root.crt").display().to_string(),
                        });
                    }
                    None => return Err(ConnInfoError::NoHomeForRootCert),
                },
                (Some(_), Some(root)) => {
                    return Err(ConnInfoError::RootCertMissing {
                        path: root.display().to_string(),
                    });
                }
                (Some(_), None) => {}
            }
        }
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
        let sslcrl_given = value("sslcrl", "PGSSLCRL").map(|(p, _)| PathBuf::from(p));
        let sslcrldir = value("sslcrldir", "PGSSLCRLDIR").map(|(p, _)| PathBuf::from(p));
        let sslcrl = sslcrl_given.or_else(|| {
            sslcrldir
                .is_none()
                .then(|| home.map(|h| h.join(".postgresql/root.crl")))
                .flatten()
        });
        let ssl_min_protocol_version =
            match value("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION") {
                Some((v, _)) => TlsVersion::parse("ssl_min_protocol_version", &v)?,
                None => TlsVersion::Tls1_2,
            };
        let ssl_max_protocol_version =
            match value("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION") {
                Some((v, _)) => Some(TlsVersion::parse("ssl_max_protocol_version", &v)?),
                None => None,
            };
        if let Some(max) = ssl_max_protocol_version {
            if max < ssl_min_protocol_version {
                return Err(ConnInfoError::Conflict {
                    reason: "invalid SSL protocol version range".to_owned(),
                });
            }
            if max < TlsVersion::Tls1_2 {
                return Err(unsupported(
                    "ssl_max_protocol_version",
                    max.as_str(),
                    "the oldest TLS version pgvitals speaks is TLSv1.2",
                ));
            }
        }
        let sslsni = match value("sslsni", "PGSSLSNI") {
            Some((v, _)) => match v.as_str() {
                "1" => true,
                "0" => false,
                _ => return Err(invalid("sslsni", &v)),
            },
            None => true,
        };
        let sslcertmode = match value("sslcertmode", "PGSSLCERTMODE") {
            Some((v, _)) => match v.as_str() {
                "disable" => SslCertMode::Disable,
                "allow" => SslCertMode::Allow,
                "require" => {
                    return Err(unsupported(
                        "sslcertmode",
                        &v,
                        "it cannot check that the server asked for a certificate; use allow",
                    ));
                }
                _ => return Err(invalid("sslcertmode", &v)),
            },
            None => SslCertMode::Allow,
        };
        let sslnegotiation = match value("sslnegotiation", "PGSSLNEGOTIATION") {
            Some((v, _)) => match v.as_str() {
                "postgres" => SslNegotiation::Postgres,
                "direct" => {
                    if sslmode < SslMode::Require {
                        return Err(ConnInfoError::Conflict {
                            reason: format!(
                                "weak sslmode \"{sslmode}\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")"
                            ),
                        });
                    }
                    SslNegotiation::Direct
                }
                _ => return Err(invalid("sslnegotiation", &v)),
            },
            None => SslNegotiation::Postgres,
        };
        let channel_binding = match value("channel_binding", "PGCHANNELBINDING") {
            Some((v, _)) => match v.as_str() {
                "disable" => ChannelBinding::Disable,
                "prefer" => ChannelBinding::Prefer,
                "require" => ChannelBinding::Require,
                _ => return Err(invalid("channel_binding", &v)),
            },
            None => ChannelBinding::Prefer,
        };
        if let Some((v, _)) = value("gssencmode", "PGGSSENCMODE") {
            match v.as_str() {
                // No GSSAPI here: prefer falls back to no GSS encryption, as in a libpq
                // built without GSSAPI.
                "disable" | "prefer" => {}
                "require" => {
                    return Err(ConnInfoError::Conflict {
                        reason: "gssencmode value \"require\" invalid when GSSAPI support is not compiled in".to_owned(),
                    });
                }
                _ => return Err(invalid("gssencmode", &v)),
            }
        }
        if let Some((v, _)) = value("client_encoding", "PGCLIENTENCODING") {
            let norm = v.to_ascii_lowercase().replace(['-', '_'], "");
            if !matches!(norm.as_str(), "utf8" | "unicode" | "auto") {
                return Err(unsupported(
                    "client_encoding",
                    &v,
                    "it always reads UTF8 (the server converts the texts)",
                ));
            }
        }
        let target_session_attrs = match value("target_session_attrs", "PGTARGETSESSIONATTRS") {
            Some((v, _)) => match v.as_str() {
                "any" => TargetSessionAttrs::Any,
                "read-write" => TargetSessionAttrs::ReadWrite,
                "read-only" => TargetSessionAttrs::ReadOnly,
                "primary" => TargetSessionAttrs::Primary,
                "standby" => TargetSessionAttrs::Standby,
                "prefer-standby" => TargetSessionAttrs::PreferStandby,
                _ => return Err(invalid("target_session_attrs", &v)),
            },
            None => TargetSessionAttrs::Any,
        };
        let load_balance_random = match value("load_balance_hosts", "PGLOADBALANCEHOSTS") {
            Some((v, _)) => match v.as_str() {
                "disable" => false,
                "random" => true,
                _ => return Err(invalid("load_balance_hosts", &v)),
            },
            None => false,
        };
        if let Some(v) = arg_only("replication") {
            if v == "database" || parse_bool("replication", &v)? {
                return Err(unsupported(
                    "replication",
                    &v,
                    "a monitoring session is not a replication connection",
                ));
            }
        }
        if let Some((v, _)) = value("sslcompression", "PGSSLCOMPRESSION") {
            if !matches!(v.as_str(), "0" | "1") {
                return Err(invalid("sslcompression", &v));
            }
        }
        let keepalives = match arg_only("keepalives") {
            Some(v) => parse_int("keepalives", &v)? != 0,
            None => true,
        };
        let secs = |keyword: &'static str| -> Result<Option<Duration>, ConnInfoError> {
            arg_only(keyword)
                .map(|v| parse_int(keyword, &v).map(Duration::from_secs))
                .transpose()
        };
        let keepalives_idle = secs("keepalives_idle")?;
        let keepalives_interval = secs("keepalives_interval")?;
        let keepalives_count = arg_only("keepalives_count")
            .map(|v| {
                parse_int("keepalives_count", &v)
                    .and_then(|n| u32::try_from(n).map_err(|_| invalid("keepalives_count", &v)))
            })
            .transpose()?;
        let tcp_user_timeout = arg_only("tcp_user_timeout")
            .map(|v| parse_int("tcp_user_timeout", &v).map(Duration::from_millis))
            .transpose()?;
        let requirepeer = value("requirepeer", "PGREQUIREPEER").map(|(v, _)| v);

        let application_name = value("application_name", "PGAPPNAME")
            .map(|(a, _)| a)
            .or_else(|| arg_only("fallback_application_name"));
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
            name: None,
            hosts,
            hostaddrs,
            port,
            ports,
            user,
            dbname,
            password,
            passfile_passwords,
            sslmode,
            sslrootcert,
            sslcert,
            sslkey,
            sslcrl,
            sslcrldir,
            ssl_min_protocol_version,
            ssl_max_protocol_version,
            sslsni,
            sslcertmode,
            sslnegotiation,
            channel_binding,
            requirepeer,
            target_session_attrs,
            load_balance_random,
            keepalives,
            keepalives_idle,
            keepalives_interval,
            keepalives_count,
            tcp_user_timeout,
            application_name,
            connect_timeout,
            options,
            warnings,
        })
    }

    /// The password sent to host `i` of `hosts`: the one given for all hosts, else the
    /// password-file entry for that host and port, else none.
    pub fn password_for(&self, i: usize) -> Option<&Secret> {
        self.password
            .as_ref()
            .or_else(|| self.passfile_passwords.get(i).and_then(Option::as_ref))
    }

    /// `host:port/dbname` for one host, `h1:5432,h2:5433/dbname` for several; IPv6 addresses in
    /// brackets; a unix socket shows its directory (`/var/run/postgresql:5432/postgres`).
    /// Never contains the password or the user. A named server ([`ConnSpec::named`]) is its
    /// name instead: the header, alerts, JSON and metrics show it.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        self.address()
    }

    /// The spec under the name of a `[[servers]]` entry.
    pub fn named(mut self, name: Option<String>) -> ConnSpec {
        self.name = name;
        self
    }

    /// `host:port/dbname` whatever the name ([`ConnSpec::label`] without it).
    pub fn address(&self) -> String {
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

    /// (host, port) of every host, in order: host names, addresses or socket directories as
    /// given (what a standby's `sender_host` / `sender_port` are matched against).
    pub fn endpoints(&self) -> Vec<(String, u16)> {
        self.hosts
            .iter()
            .cloned()
            .zip(self.effective_ports())
            .collect()
    }

    /// One port per host: `ports` when it matches `hosts`, else `port` for every host.
    fn effective_ports(&self) -> Vec<u16> {
        if self.ports.len() == self.hosts.len() {
            self.ports.clone()
        } else {
            vec![self.port; self.hosts.len()]
        }
    }

    /// One tokio-postgres config per host, in order, each with only that host, its port and
    /// its own password ([`ConnSpec::password_for`]); user, dbname, application_name
    /// (`pgvitals` when none was set), connect_timeout (10 s when none was set), options,
    /// channel_binding, sslnegotiation, the TCP keepalive settings, and ssl_mode (disable →
    /// Disable, allow/prefer → Prefer, require/verify-ca/verify-full → Require; the
    /// verification itself is in [`ConnSpec::make_tls`]). A unix-socket host never uses TLS
    /// (libpq's rule), whatever sslmode says.
    pub fn targets(&self) -> Vec<HostTarget> {
        self.hosts
            .iter()
            .zip(self.effective_ports())
            .enumerate()
            .map(|(i, (host, port))| {
                let mut config = tokio_postgres::Config::new();
                let hostaddr = self.hostaddrs.get(i).copied().flatten();
                let socket = host.starts_with('/') && hostaddr.is_none();
                if socket {
                    config.host_path(host);
                } else {
                    // with hostaddr: TCP to the address, TLS verifies the name
                    config.host(host);
                    if let Some(addr) = hostaddr {
                        config.hostaddr(addr);
                    }
                }
                config.port(port);
                config.user(&self.user);
                config.dbname(&self.dbname);
                if let Some(password) = self.password_for(i) {
                    config.password(password.expose());
                }
                config.application_name(self.application_name.as_deref().unwrap_or("pgvitals"));
                config.connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)));
                if let Some(options) = &self.options {
                    config.options(options);
                }
                config.channel_binding(self.channel_binding);
                config.ssl_negotiation(self.sslnegotiation);
                config
                    .keepalives(self.keepalives)
                    .keepalives_idle(self.keepalives_idle.unwrap_or(DEFAULT_KEEPALIVES_IDLE))
                    .keepalives_interval(
                        self.keepalives_interval
                            .unwrap_or(DEFAULT_KEEPALIVES_INTERVAL),
                    )
                    .keepalives_retries(self.keepalives_count.unwrap_or(DEFAULT_KEEPALIVES_COUNT))
                    .tcp_user_timeout(self.tcp_user_timeout.unwrap_or(DEFAULT_TCP_USER_TIMEOUT));
                config.ssl_mode(match self.sslmode {
                    _ if socket => tokio_postgres::config::SslMode::Disable,
                    SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                    SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                    SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                        tokio_postgres::config::SslMode::Require
                    }
                });
                HostTarget {
                    host: host.clone(),
                    port,
                    config,
                }
            })
            .collect()
    }

    /// A rustls connector (ring provider) honouring libpq's TLS rules: see the `tls` module
    /// table. prefer/require without an existing root certificate file: encrypt without
    /// verifying the certificate (handshake signatures are still checked); with one, and
    /// verify-ca: the chain against `sslrootcert` (the system's roots only for
    /// `sslrootcert=system`), not the host name; verify-full: chain and host name (DNS or IP
    /// SAN, else the CN, as libpq). CRLs, TLS versions, SNI and the client certificate as
    /// configured. Errors: [`ConnInfoError::Tls`] for unreadable, oversized or empty
    /// certificate/key/CRL files, a key file readable by group or world, or only one of
    /// sslcert/sslkey.
    pub fn make_tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConnInfoError> {
        tls::make_tls(self)
    }

    /// The connector pgvitals connects with: the hosts tried in order (shuffled with
    /// `load_balance_hosts=random`), each with its own password, `requirepeer` checked on
    /// unix sockets. `adjust` edits every host's config (session settings in `options`).
    /// Errors: as [`ConnSpec::make_tls`].
    pub fn connector(
        &self,
        adjust: &dyn Fn(&mut tokio_postgres::Config),
    ) -> Result<Connector, ConnInfoError> {
        Connector::new(self, adjust)
    }
}

impl fmt::Display for ConnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests;
