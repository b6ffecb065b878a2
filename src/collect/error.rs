//! Database and connection errors classified into [`CollectError`]s the user can act on:
//! by SQLSTATE for server errors, by what tokio-postgres reports for the rest. Messages never
//! contain a password: they are built from the server's error text and our own words, never
//! from a connection string.

use crate::sample::{CollectError, ErrorKind, error_chain, quote_ident};

/// Classification of a tokio-postgres error.
pub trait FromPg {
    /// Classify `err`; `user` names the role in GRANT fixes.
    fn from_pg(err: &tokio_postgres::Error, user: &str) -> Self;
}

impl FromPg for CollectError {
    fn from_pg(err: &tokio_postgres::Error, user: &str) -> Self {
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
                retry_in_s: None,
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
            } else if lower.contains("parameters but got") {
                // a query and its bind parameters disagree (a bug of ours, not the network):
                // reconnecting would not help
                ErrorKind::Query
            } else if lower.contains("timed out") || lower.contains("timeout") {
                ErrorKind::ClientTimeout
            } else {
                ErrorKind::Unreachable
            };
        CollectError::new(kind, text)
    }
}
