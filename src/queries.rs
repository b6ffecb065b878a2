//! The monitoring SQL, embedded at build time from `queries/` (see `build.rs`), and the
//! choice of variant.
//!
//! File names are `<name>.<family><version>.sql`:
//! * `activity.pg12.sql`: for PostgreSQL 12 and later, until a file with a higher version
//!   (e.g. `activity.pg17.sql`) takes over;
//! * `statements.pgss1_8.sql`: keyed by the installed pg_stat_statements version (1.8+),
//!   not by the server version: after pg_upgrade the extension can lag the server.
//!
//! Names are typed ([`ServerQuery`], [`PgssQuery`], generated from the file names): a query
//! that does not exist does not compile.
//!
//! The variant chosen is the one with the largest version not above the server's (or the
//! extension's); when none fits, the area reports "unsupported", never runs an empty query.
//! Schema-qualified objects of an extension are written `@extschema@.name` and replaced with
//! the quoted schema name (an identifier, never a value: values are always bind parameters).

use crate::sample::{CollectError, ErrorKind};

include!(concat!(env!("OUT_DIR"), "/queries_table.rs"));

/// The lowest PostgreSQL major pgvitals supports.
pub const MIN_MAJOR: u32 = 12;
/// The highest PostgreSQL major pgvitals knows.
pub const MAX_MAJOR: u32 = 18;

/// A parsed query file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFile {
    pub name: &'static str,
    /// `pg` or `pgss`.
    pub family: &'static str,
    pub version: (u32, u32),
    pub file: &'static str,
    pub sql: &'static str,
}

/// Parse `activity.pg12.sql` / `statements.pgss1_8.sql`.
pub fn parse_file_name(file: &'static str) -> Option<(&'static str, &'static str, (u32, u32))> {
    let stem = file.strip_suffix(".sql")?;
    let (name, key) = stem.rsplit_once('.')?;
    let (family, ver) = if let Some(v) = key.strip_prefix("pgss") {
        ("pgss", v)
    } else if let Some(v) = key.strip_prefix("pg") {
        ("pg", v)
    } else {
        return None;
    };
    let version = match ver.split_once('_') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => (ver.parse().ok()?, 0),
    };
    Some((name, family, version))
}

/// Every query file, parsed once. Files with a name that does not parse are left out (the
/// catalog test fails on them).
pub fn all() -> &'static [QueryFile] {
    static ALL: std::sync::OnceLock<Vec<QueryFile>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|(file, sql)| {
                let (name, family, version) = parse_file_name(file)?;
                Some(QueryFile {
                    name,
                    family,
                    version,
                    file,
                    sql,
                })
            })
            .collect()
    })
}

fn choose(name: &str, family: &str, version: (u32, u32)) -> Option<&'static QueryFile> {
    all()
        .iter()
        .filter(|q| q.name == name && q.family == family && q.version <= version)
        .max_by_key(|q| q.version)
}

/// The variant of `query` for PostgreSQL `major`.
pub fn for_server(query: ServerQuery, major: u32) -> Result<&'static str, CollectError> {
    let name = query.name();
    choose(name, "pg", (major, 0)).map(|q| q.sql).ok_or_else(|| {
        CollectError::new(
            ErrorKind::Unsupported,
            format!("{name}: unsupported on PostgreSQL {major} (pgvitals supports {MIN_MAJOR} to {MAX_MAJOR})"),
        )
    })
}

/// The variant of `query` for pg_stat_statements `version`, with `@extschema@` replaced by
/// the quoted `schema`.
pub fn for_pgss(
    query: PgssQuery,
    version: (u32, u32),
    schema: &str,
) -> Result<String, CollectError> {
    let q = choose(query.name(), "pgss", version).ok_or_else(|| {
        CollectError::new(
            ErrorKind::Unsupported,
            format!(
                "pg_stat_statements {}.{} is too old for pgvitals",
                version.0, version.1
            ),
        )
        .with_fix("ALTER EXTENSION pg_stat_statements UPDATE")
    })?;
    Ok(q.sql
        .replace("@extschema@", &crate::sample::quote_ident(schema)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_names_are_exactly_the_files() {
        let typed: std::collections::BTreeSet<(&str, &str)> = ServerQuery::ALL
            .iter()
            .map(|q| ("pg", q.name()))
            .chain(PgssQuery::ALL.iter().map(|q| ("pgss", q.name())))
            .collect();
        let files: std::collections::BTreeSet<(&str, &str)> =
            all().iter().map(|q| (q.family, q.name)).collect();
        assert_eq!(typed, files);
        assert_eq!(ServerQuery::ActivitySettings.name(), "activity_settings");
    }

    #[test]
    fn file_names_parse() {
        assert_eq!(
            parse_file_name("activity.pg12.sql"),
            Some(("activity", "pg", (12, 0)))
        );
        assert_eq!(
            parse_file_name("statements.pgss1_11.sql"),
            Some(("statements", "pgss", (1, 11)))
        );
        assert_eq!(parse_file_name("activity.sql"), None);
        assert_eq!(parse_file_name("activity.pgx.sql"), None);
    }

    #[test]
    fn every_embedded_file_name_parses_and_opens_with_a_header() {
        assert!(!FILES.is_empty());
        for (file, sql) in FILES {
            assert!(
                parse_file_name(file).is_some(),
                "bad query file name {file}"
            );
            assert!(
                sql.trim_start().starts_with("--"),
                "{file} must open with a -- header"
            );
            assert!(
                crate::collect::areas::statements::is_own_text(sql),
                "{file} must carry the /* pgvitals */ marker right after its first keyword"
            );
        }
    }

    #[test]
    fn every_server_keyed_query_covers_every_supported_major() {
        for &name in ServerQuery::ALL {
            for major in MIN_MAJOR..=MAX_MAJOR {
                assert!(
                    for_server(name, major).is_ok(),
                    "{name:?} has no variant for {major}"
                );
            }
            assert!(for_server(name, MIN_MAJOR - 1).is_err());
        }
    }
}
