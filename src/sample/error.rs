//! Errors are data: a failed poll becomes a [`CollectError`] the user can act on (the
//! classification of database errors is in `collect::error`).

use serde::{Deserialize, Serialize};

/// What went wrong, in terms a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Cannot reach the server (refused, unknown host, network down, server shut down).
    Unreachable,
    /// 28P01 / 28000: wrong password or no pg_hba.conf entry.
    AuthFailed,
    /// 3D000: the database does not exist.
    NoSuchDatabase,
    /// 53300: max_connections reached.
    TooManyConnections,
    /// 42501: the role lacks a privilege (usually pg_monitor).
    PermissionDenied,
    /// pg_stat_statements is not installed in this database.
    ExtensionMissing,
    /// pg_stat_statements is installed but not in shared_preload_libraries (55000).
    NotPreloaded,
    /// 57014: statement_timeout ended the query.
    StatementTimeout,
    /// 55P03: lock_timeout ended the query.
    LockTimeout,
    /// The client-side deadline passed (the server did not answer at all).
    ClientTimeout,
    /// No query variant for this server version.
    Unsupported,
    /// The area does not exist on this server's major ([`crate::sample::Area::first_major`]):
    /// not a failure; the area reads "needs PostgreSQL N" and is not polled.
    NeedsNewerServer,
    /// A TLS problem (handshake, certificate, sslmode=require on a server without TLS).
    Tls,
    /// Any other server error.
    Query,
    /// A row did not decode into the expected type.
    Decode,
}

/// A failed poll of one area, or a failed connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct CollectError {
    pub kind: ErrorKind,
    /// The server's SQLSTATE, when the server answered with an error.
    pub sqlstate: Option<String>,
    /// One line, what happened.
    pub message: String,
    /// One line, what fixes it (a GRANT, a CREATE EXTENSION, a setting), when known.
    pub fix: Option<String>,
    /// Seconds from this failure to the area's next try, when the area is backing off: its
    /// query ran past the query timeout (or the client-side deadline), so the next try waits
    /// longer than the area's period (`collect::worker::backoff_wait`); the message says so
    /// too. `None` for every other error (the next try is at the area's period, or the
    /// connection's reconnect backoff decides).
    #[serde(default)]
    pub retry_in_s: Option<f64>,
}

impl ErrorKind {
    /// False for what is a fact about the server rather than a failure (an area below its
    /// first major): shown without a problem mark or colour.
    pub fn is_failure(self) -> bool {
        self != ErrorKind::NeedsNewerServer
    }
}

impl CollectError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CollectError {
            kind,
            sqlstate: None,
            message: message.into(),
            fix: None,
            retry_in_s: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// True when the connection this error came from should be thrown away (the server went
    /// away, or a client-side timeout left the protocol state unknown).
    pub fn breaks_connection(&self) -> bool {
        matches!(self.kind, ErrorKind::Unreachable | ErrorKind::ClientTimeout)
    }
}

/// The error and its sources, joined with ": ", as one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}

/// Quote an SQL identifier the way PostgreSQL's quote_ident does: plain lower-case names stay
/// bare, everything else is double-quoted with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_quotes_only_when_needed() {
        assert_eq!(quote_ident("monitor"), "monitor");
        assert_eq!(quote_ident("Monitor"), "\"Monitor\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1x"), "\"1x\"");
        assert_eq!(quote_ident(""), "\"\"");
    }
}
