//! The probe: what pgvitals must know about a server right after (re)connecting, before it
//! chooses query variants.
//!
//! One query, `queries/probe.pg12.sql` (PostgreSQL 12+; reads `pg_settings`, `pg_roles`,
//! `pg_extension`, `pg_available_extensions`; needs no privilege beyond LOGIN). It tells the
//! server version, recovery state, the role's privileges (superuser, pg_monitor,
//! pg_read_all_stats, pg_signal_backend) and where pg_stat_statements stands in the current
//! database (schema, installed version, the version this server would install, preloaded).

use super::{CollectError, ErrorKind, PgssInfo, ServerFacts, get, get_text};

/// Parse an extension version such as `1.10` into `(1, 10)`; `1` reads as `(1, 0)`.
/// `None` for anything else (`1.10beta`, empty).
pub fn parse_extension_version(text: &str) -> Option<(u32, u32)> {
    let text = text.trim();
    match text.split_once('.') {
        Some((major, minor)) => Some((major.parse().ok()?, minor.parse().ok()?)),
        None => Some((text.parse().ok()?, 0)),
    }
}

/// Probe a server on `client` (any connection: a pooled client derefs to one).
///
/// Errors: a [`CollectError`] classified by SQLSTATE ([`CollectError::from_pg`]);
/// [`ErrorKind::Decode`] when the probe row has an unexpected shape or the installed
/// pg_stat_statements version does not parse.
pub async fn probe(client: &tokio_postgres::Client) -> Result<ServerFacts, CollectError> {
    let sql = crate::queries::for_server("probe", crate::queries::MIN_MAJOR)?;
    // The role is not known before the probe answers: the GRANT fix names it generically.
    // An unnamed statement in one round trip: correct through a transaction-pooling pooler
    // too (a named statement could be missing on the next transaction's server connection).
    let row = client.query_typed_one(sql, &[]).await.map_err(|e| {
        let mut err = CollectError::from_pg(&e, "");
        if err.kind == ErrorKind::PermissionDenied {
            err.fix = Some("GRANT pg_monitor TO <the monitoring role>".to_string());
        }
        err
    })?;
    let pgss = match (
        get_text(&row, "pgss_schema")?,
        get_text(&row, "pgss_version")?,
    ) {
        (Some(schema), Some(version_text)) => {
            let version = parse_extension_version(&version_text).ok_or_else(|| {
                CollectError::new(
                    ErrorKind::Decode,
                    format!("pg_stat_statements version {version_text:?} does not parse"),
                )
            })?;
            let default_version = get_text(&row, "pgss_default_version")?
                .as_deref()
                .and_then(parse_extension_version)
                .filter(|d| *d > version);
            Some(PgssInfo {
                schema,
                version,
                default_version,
            })
        }
        _ => None,
    };
    Ok(ServerFacts {
        server_version_num: get(&row, "server_version_num")?,
        in_recovery: get(&row, "in_recovery")?,
        current_user: get_text(&row, "current_user")?.unwrap_or_default(),
        datname: get_text(&row, "datname")?.unwrap_or_default(),
        backend_pid: get(&row, "backend_pid")?,
        is_superuser: get::<Option<bool>>(&row, "is_superuser")?.unwrap_or(false),
        pg_monitor: get::<Option<bool>>(&row, "pg_monitor")?.unwrap_or(false),
        pg_read_all_stats: get::<Option<bool>>(&row, "pg_read_all_stats")?.unwrap_or(false),
        pg_signal_backend: get::<Option<bool>>(&row, "pg_signal_backend")?.unwrap_or(false),
        pgss,
        pgss_preloaded: get::<Option<bool>>(&row, "pgss_preloaded")?.unwrap_or(false),
        block_size: get(&row, "block_size")?,
        pooled: false,
    })
}

/// Whether the settings pgvitals sends in the `options` startup parameter are in force on
/// this connection: `pg_settings.source` of `default_transaction_read_only` is `client` (set
/// from the startup packet). `false` when a pooler accepted the parameter but dropped it
/// (PgBouncer with `ignore_startup_parameters = options`), or when none were sent. One
/// unnamed statement (`pg_settings`, PostgreSQL 12+, no privilege needed).
/// Errors: a [`CollectError`] classified by SQLSTATE.
pub async fn startup_options_in_force(
    client: &tokio_postgres::Client,
) -> Result<bool, CollectError> {
    let row = client
        .query_typed_one(
            "/* pgvitals */ SELECT coalesce((SELECT source = 'client' FROM pg_settings \
             WHERE name = 'default_transaction_read_only'), false) AS in_force",
            &[],
        )
        .await
        .map_err(|e| CollectError::from_pg(&e, ""))?;
    get(&row, "in_force")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_versions_parse() {
        assert_eq!(parse_extension_version("1.10"), Some((1, 10)));
        assert_eq!(parse_extension_version("1.4"), Some((1, 4)));
        assert_eq!(parse_extension_version("2"), Some((2, 0)));
        assert_eq!(parse_extension_version("1.10beta"), None);
        assert_eq!(parse_extension_version(""), None);
        assert!(parse_extension_version("1.10") > parse_extension_version("1.9"));
    }
}
