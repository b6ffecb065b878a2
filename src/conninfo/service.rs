//! The connection service file (`service=NAME` / `PGSERVICE`), following
//! <https://www.postgresql.org/docs/current/libpq-pgservice.html> and libpq's
//! `parseServiceInfo` / `parseServiceFile`.
//!
//! Where a service is looked for, in order, stopping at the first file that defines it:
//! 1. the user's file: `servicefile=` (PostgreSQL 18), else `PGSERVICEFILE`, else
//!    `~/.pg_service.conf` when it exists (a named file that cannot be opened is an error;
//!    a missing `~/.pg_service.conf` is skipped);
//! 2. the system file `pg_service.conf` in `PGSYSCONFDIR`, else in libpq's compiled-in
//!    directory ([`default_sysconfdir`]), when it exists.
//!
//! A service defined in the user's file is taken from there alone: the system file's
//! definition of the same name is not merged in. Not defined in either: `definition of
//! service "NAME" not found`.
//!
//! The file format, as libpq reads it: each line is trimmed of leading and trailing
//! whitespace; empty lines and lines starting with `#` are skipped; `[NAME]` starts a
//! section (libpq compares the name as a prefix followed by `]`); inside the wanted section
//! every line is `keyword=value`, split at the first `=`, with no spaces around it (`host =
//! a` is the keyword `host `, a syntax error) and the value taken as is (no quotes, no
//! escapes). A line without `=`, or a keyword libpq does not know, is `syntax error in
//! service file "PATH", line N`; `service=` inside a service is `nested service
//! specifications not supported in service file "PATH", line N`. Lines outside the wanted
//! section are not checked. When a keyword appears twice, the first one wins (libpq fills a
//! value only while it is unset).

use std::path::{Path, PathBuf};

use super::ConnInfoError;

/// A service's keyword/value pairs, in file order.
pub(crate) type Pairs = Vec<(String, String)>;

/// The largest service file read (libpq has no cap; a service file this large is a mistake).
const MAX_SERVICE_FILE_BYTES: u64 = 1 << 20;

/// Where one service is looked for.
#[derive(Debug, Clone)]
pub(crate) struct ServiceSearch {
    /// The service name (`service=` or `PGSERVICE`).
    pub name: String,
    /// The user's file, and whether it was named (`servicefile=` / `PGSERVICEFILE`: it must
    /// open) or is the default `~/.pg_service.conf` (skipped when missing).
    pub user_file: Option<(PathBuf, bool)>,
    /// The directory of the system-wide `pg_service.conf`.
    pub sysconfdir: PathBuf,
}

/// The directory libpq builds take their `pg_service.conf` from when `PGSYSCONFDIR` is not
/// set (`pg_config --sysconfdir`): `/etc/postgresql-common` where it exists (Debian and
/// Ubuntu's libpq), else `/etc/sysconfig/pgsql` where it exists (the PGDG RPMs), else
/// `/usr/local/pgsql/etc` (a source build's default).
pub fn default_sysconfdir() -> PathBuf {
    ["/etc/postgresql-common", "/etc/sysconfig/pgsql"]
        .iter()
        .map(PathBuf::from)
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| PathBuf::from("/usr/local/pgsql/etc"))
}

/// The service's keyword/value pairs in file order, the first of a repeated keyword only,
/// from the first file that defines it. `known` tells a libpq keyword from an unknown one.
/// Errors: [`ConnInfoError::ServiceNotFound`], [`ConnInfoError::ServiceFileNotFound`] (a
/// named user file that does not exist), [`ConnInfoError::ServiceFileUnreadable`] (not a
/// regular file, oversized, not UTF-8), [`ConnInfoError::ServiceFileLine`] (a syntax error or
/// a nested service in the wanted section).
pub(crate) fn lookup(
    search: &ServiceSearch,
    known: &dyn Fn(&str) -> bool,
) -> Result<Pairs, ConnInfoError> {
    if let Some((path, named)) = &search.user_file {
        if *named || path.exists() {
            if let Some(pairs) = read_service(path, &search.name, known)? {
                return Ok(pairs);
            }
        }
    }
    let system = search.sysconfdir.join("pg_service.conf");
    if system.exists() {
        if let Some(pairs) = read_service(&system, &search.name, known)? {
            return Ok(pairs);
        }
    }
    Err(ConnInfoError::ServiceNotFound {
        service: search.name.chars().take(64).collect(),
    })
}

/// One file: `Some(pairs)` when it defines the service, `None` when it does not.
fn read_service(
    path: &Path,
    name: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<Option<Pairs>, ConnInfoError> {
    let bytes = crate::files::read_regular(path, MAX_SERVICE_FILE_BYTES).map_err(|e| {
        if e.is_not_found() {
            ConnInfoError::ServiceFileNotFound {
                path: path.display().to_string(),
            }
        } else {
            ConnInfoError::ServiceFileUnreadable {
                reason: e.to_string(),
            }
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ConnInfoError::ServiceFileUnreadable {
        reason: format!("\"{}\" is not valid UTF-8", path.display()),
    })?;
    parse_service(&text, name, known).map_err(|(line, what)| ConnInfoError::ServiceFileLine {
        what,
        path: path.display().to_string(),
        line,
    })
}

/// The wanted section of a service file's text; `Err((line number, what))` for a syntax
/// error or a nested service inside it.
pub(crate) fn parse_service(
    text: &str,
    name: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<Option<Pairs>, (usize, &'static str)> {
    let mut found = false;
    let mut pairs: Pairs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            if found {
                break;
            }
            found = rest.strip_prefix(name).is_some_and(|r| r.starts_with(']'));
            continue;
        }
        if !found {
            continue;
        }
        let Some((keyword, value)) = line.split_once('=') else {
            return Err((i + 1, "syntax error"));
        };
        if keyword == "service" {
            return Err((i + 1, "nested service specifications not supported"));
        }
        if !known(keyword) {
            return Err((i + 1, "syntax error"));
        }
        if !pairs.iter().any(|(k, _)| k == keyword) {
            pairs.push((keyword.to_owned(), value.to_owned()));
        }
    }
    Ok(found.then_some(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(k: &str) -> bool {
        matches!(
            k,
            "host" | "port" | "dbname" | "user" | "sslmode" | "service"
        )
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sections_comments_and_whitespace() {
        let text = "# a comment\n\n[other]\nhost=elsewhere\n  [mydb]  \n\thost=db1 \n  # port=1\nport=5433\nhost=ignored\n[next]\nuser=x\n";
        assert_eq!(
            parse_service(text, "mydb", &known),
            Ok(Some(pairs(&[("host", "db1"), ("port", "5433")])))
        );
        assert_eq!(
            parse_service(text, "other", &known),
            Ok(Some(pairs(&[("host", "elsewhere")])))
        );
        assert_eq!(parse_service(text, "absent", &known), Ok(None));
        // a section with nothing in it is still a definition
        assert_eq!(
            parse_service("[empty]\n[b]\n", "empty", &known),
            Ok(Some(vec![]))
        );
    }

    #[test]
    fn values_are_taken_as_written() {
        let text = "[s]\ndbname=my db\nuser='quoted'\nhost=a=b\n";
        assert_eq!(
            parse_service(text, "s", &known),
            Ok(Some(pairs(&[
                ("dbname", "my db"),
                ("user", "'quoted'"),
                ("host", "a=b")
            ])))
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse_service("[s]\nhost=a\nnonsense\n", "s", &known),
            Err((3, "syntax error"))
        );
        // libpq takes no spaces around '=': "host " is not a keyword
        assert_eq!(
            parse_service("[s]\nhost = a\n", "s", &known),
            Err((2, "syntax error"))
        );
        assert_eq!(
            parse_service("[s]\nbogus=1\n", "s", &known),
            Err((2, "syntax error"))
        );
        assert_eq!(
            parse_service("\n[s]\nservice=t\n", "s", &known),
            Err((3, "nested service specifications not supported"))
        );
        // lines of other sections are not checked
        assert_eq!(
            parse_service("[t]\nnonsense\n[s]\nhost=a\n", "s", &known),
            Ok(Some(pairs(&[("host", "a")])))
        );
    }

    #[test]
    fn a_name_matches_as_libpq_compares_it() {
        // a prefix is not a match; what follows ']' is not looked at
        assert_eq!(parse_service("[mydb2]\nhost=a\n", "mydb", &known), Ok(None));
        assert_eq!(
            parse_service("[mydb] trailing\nhost=a\n", "mydb", &known),
            Ok(Some(pairs(&[("host", "a")])))
        );
    }
}
