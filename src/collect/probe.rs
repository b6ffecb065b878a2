//! The probe: what pgvitals must know about a server right after (re)connecting, before it
//! chooses query variants.
//!
//! One query, `queries/probe.pg12.sql` (PostgreSQL 12+; reads `pg_settings`, `pg_roles`,
//! `pg_extension`, `pg_available_extensions`; needs no privilege beyond LOGIN). It tells the
//! server version, recovery state, the role's privileges (superuser, pg_monitor,
//! pg_read_all_stats, pg_signal_backend) and where pg_stat_statements stands in the current
//! database (schema, installed version, the version this server would install, preloaded).

use super::{get, get_text};
use crate::collect::error::FromPg;
use crate::queries::ServerQuery;
use crate::sample::{CollectError, ErrorKind, PgssInfo, ServerFacts};

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
    let sql = crate::queries::for_server(ServerQuery::Probe, crate::queries::MIN_MAJOR)?;
    // The role is not known before the probe answers: the GRANT fix names it generically.
    // An unnamed statement in one round trip: correct through a transaction-pooling pooler
    // too (a named statement could be missing on the next transaction's server connection).
    let row = pinned_query_one(client, sql).await.map_err(|e| {
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
    // the replication family: one more round trip, at connect only, where it is allowed
    let system_identifier = if get::<Option<bool>>(&row, "control_readable")?.unwrap_or(false) {
        match pinned_query_one(
            client,
            "SELECT /* pgvitals */ system_identifier::text AS system_identifier \
             FROM pg_catalog.pg_control_system()",
        )
        .await
        {
            Ok(r) => get_text(&r, "system_identifier")?,
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(ServerFacts {
        system_identifier,
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

/// The search_path of every monitoring query: the catalogs first and nothing a user can
/// create objects in, so no function, operator or view of a user schema (placed before
/// pg_catalog by `ALTER ROLE ... SET search_path`) can stand in for the ones the queries use.
/// pg_stat_statements is reached by its schema, quoted (`@extschema@`).
pub const SEARCH_PATH: &str = "pg_catalog, pg_temp";

/// Run `sql` (one unnamed statement, no parameters) with [`SEARCH_PATH`] in force whatever
/// the connection's own settings: `BEGIN READ ONLY; SET LOCAL search_path ...`, the query,
/// `COMMIT`, pipelined in one round trip. For what runs before the session settings are known
/// to be in force (the probe, right after connecting; through a pooler they may be dropped).
/// Errors: the first error of the three.
pub async fn pinned_query_one(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
    let begin = format!(
        "BEGIN /* pgvitals */ READ ONLY; SET /* pgvitals */ LOCAL search_path = {SEARCH_PATH}"
    );
    let (begun, row, committed) = tokio::join!(
        client.batch_execute(&begin),
        client.query_typed_one(sql, &[]),
        client.batch_execute("COMMIT /* pgvitals */"),
    );
    begun?;
    let row = row?;
    committed?;
    Ok(row)
}

/// Whether the settings pgvitals sends in the `options` startup parameter are in force on
/// this connection: `pg_settings.source` of `default_transaction_read_only` is `client` (set
/// from the startup packet), and `search_path` is [`SEARCH_PATH`] from the startup packet too.
/// `false` when a pooler accepted the parameter but dropped it (PgBouncer with
/// `ignore_startup_parameters = options`), or when none were sent: then every query pins
/// its settings with `SET LOCAL` ([`super::Ctx::pooled_begin`]). One unnamed statement
/// (`pg_settings`, PostgreSQL 12+, no privilege needed), every name and operator qualified
/// with pg_catalog (it runs under whatever search_path the connection has).
/// Errors: a [`CollectError`] classified by SQLSTATE.
pub async fn startup_options_in_force(
    client: &tokio_postgres::Client,
) -> Result<bool, CollectError> {
    let row = client
        .query_typed_one(
            "SELECT /* pgvitals */ coalesce((SELECT s.source OPERATOR(pg_catalog.=) 'client' \
               FROM pg_catalog.pg_settings AS s \
              WHERE s.name OPERATOR(pg_catalog.=) 'default_transaction_read_only'), false) \
             AND coalesce((SELECT s.source OPERATOR(pg_catalog.=) 'client' \
                  AND pg_catalog.replace(s.setting, ' ', '') OPERATOR(pg_catalog.=) 'pg_catalog,pg_temp' \
               FROM pg_catalog.pg_settings AS s \
              WHERE s.name OPERATOR(pg_catalog.=) 'search_path'), false) AS in_force",
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
