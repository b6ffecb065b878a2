//! Errors are data: a failed poll becomes a [`CollectError`] the user can act on.
//!
//! Database errors are classified by SQLSTATE (see `classify`); connection errors by what
//! tokio-postgres reports. Messages never contain a password: they are built from the server's
//! error text and our own words, never from a connection string.

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
}

impl CollectError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CollectError {
            kind,
            sqlstate: None,
            message: message.into(),
            fix: None,
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

    /// Classify a tokio-postgres error. `user` names the role in GRANT fixes.
    pub fn from_pg(err: &tokio_postgres::Error, user: &str) -> Self {
        if let Some(db) = err.as_db_error() {
            let code = db.code().code().to_string();
            let (kind, fix) = match code.as_str() {
                "28P01" | "28000" => (
                    ErrorKind::AuthFailed,
                    Some("check the user and password (PGPASSWORD, ~/.pgpass) and pg_hba.conf".to_string()),
                ),
                "3D000" => (ErrorKind::NoSuchDatabase, None),
                "53300" | "53400" => (
                    ErrorKind::TooManyConnections,
                    Some(
                        "free a connection, or give the monitoring role a reserved slot (PostgreSQL 16+: GRANT pg_use_reserved_connections)"
                            .to_string(),
                    ),
                ),
                "42501" => (
                    ErrorKind::PermissionDenied,
                    Some(format!("GRANT pg_monitor TO {}", quote_ident(user))),
                ),
                "57014" => (
                    ErrorKind::StatementTimeout,
                    Some("the server is slow to answer; raise --query-timeout if this persists".to_string()),
                ),
                "55P03" => (
                    ErrorKind::LockTimeout,
                    Some("another session holds a lock on a relation this query reads; see the activity panel".to_string()),
                ),
                "57P01" | "57P02" | "57P03" | "08006" | "08003" | "08001" | "08004" => {
                    (ErrorKind::Unreachable, None)
                }
                _ => (ErrorKind::Query, None),
            };
            let mut message = db.message().to_string();
            if let Some(detail) = db.detail() {
                message.push_str(": ");
                message.push_str(detail);
            }
            return CollectError {
                kind,
                sqlstate: Some(code),
                message,
                fix,
            };
        }
        if err.is_closed() {
            return CollectError::new(ErrorKind::Unreachable, "connection closed");
        }
        let text = error_chain(err);
        let lower = text.to_ascii_lowercase();
        let kind =
            if lower.contains("tls") || lower.contains("certificate") || lower.contains("ssl") {
                ErrorKind::Tls
            } else if lower.contains("error deserializing") || lower.contains("error serializing") {
                ErrorKind::Decode
            } else if lower.contains("timed out") || lower.contains("timeout") {
                ErrorKind::ClientTimeout
            } else {
                ErrorKind::Unreachable
            };
        CollectError::new(kind, text)
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
