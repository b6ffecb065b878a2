//! The libpq password file (`~/.pgpass` or `PGPASSFILE` / `passfile=`), following
//! <https://www.postgresql.org/docs/current/libpq-pgpass.html> and libpq's `passwordFromFile`.
//!
//! Lines are `hostname:port:database:username:password`. A field that is exactly `*` matches
//! anything; `\:` and `\\` escape a colon and a backslash (also in the password); lines starting
//! with `#` are comments; lines with fewer than five fields are skipped; the first matching line
//! wins; a backslash at the end of a line is kept (a password may end in one). The file is
//! ignored (with a warning) when it is not a plain file, when its mode has any group or other
//! bits (`mode & 0o077 != 0`), or when it is larger than 4 MiB.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Secret;

/// What the password file is searched for: one host of the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PgpassKey<'a> {
    /// Host name, or unix socket directory (starting with `/`).
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
    /// The default unix socket directory: a connection through it matches `localhost`.
    pub default_socket_dir: &'a str,
}

/// The largest password file read (libpq has no cap; a password file this large is a
/// mistake or an attack).
const MAX_PGPASS_BYTES: u64 = 4 << 20;

/// Looks each key up (one per host of the connection) and returns, for each, the password of
/// the first matching line, so a multi-host connection sends each host only its own entry.
/// A missing file is silently no password; an unreadable, oversized or unsafe file adds a
/// line to `warnings` and gives no password.
pub(crate) fn lookup_each(
    path: &Path,
    keys: &[PgpassKey<'_>],
    warnings: &mut Vec<String>,
) -> Vec<Option<Secret>> {
    let none = || vec![None; keys.len()];
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return none(),
        Err(e) => {
            warnings.push(format!(
                "password file \"{}\" cannot be read: {e}: ignored",
                path.display()
            ));
            return none();
        }
    };
    if !meta.is_file() {
        warnings.push(format!(
            "password file \"{}\" is not a plain file: ignored",
            path.display()
        ));
        return none();
    }
    if meta.permissions().mode() & 0o077 != 0 {
        warnings.push(format!(
            "password file \"{}\" has group or world access: ignored; permissions should be u=rw (0600) or less",
            path.display()
        ));
        return none();
    }
    let bytes = match crate::files::read_regular(path, MAX_PGPASS_BYTES) {
        Ok(bytes) => bytes,
        Err(e) => {
            warnings.push(format!("password file {e}: ignored"));
            return none();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    keys.iter()
        .map(|key| {
            find_password(&text, key)
                .filter(|pw| !pw.is_empty())
                .map(Secret::new)
        })
        .collect()
}

/// The first password of [`lookup_each`] (tests).
#[cfg(test)]
pub(crate) fn lookup(
    path: &Path,
    keys: &[PgpassKey<'_>],
    warnings: &mut Vec<String>,
) -> Option<Secret> {
    lookup_each(path, keys, warnings)
        .into_iter()
        .flatten()
        .next()
}

/// The password of the first line of `text` matching `key`.
pub(crate) fn find_password(text: &str, key: &PgpassKey<'_>) -> Option<String> {
    // libpq: an empty host or the default socket directory is "localhost".
    let host = if key.host.is_empty() || key.host == key.default_socket_dir {
        "localhost"
    } else {
        key.host
    };
    let port = key.port.to_string();
    let wanted = [host, port.as_str(), key.dbname, key.user];
    text.lines().find_map(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut rest = line;
        for want in wanted {
            let (field, wildcard, after) = split_field(rest)?;
            if !wildcard && field != want {
                return None;
            }
            rest = after?;
        }
        let (password, _, _) = split_field(rest)?;
        Some(password)
    })
}

/// Splits off one field: (unescaped text, the raw field was exactly `*`, the rest after the
/// terminating unescaped `:` or `None` at the end of the line).
fn split_field(s: &str) -> Option<(String, bool, Option<&str>)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            // libpq keeps a backslash that ends the line (nothing to escape)
            '\\' => out.push(chars.next().map_or('\\', |(_, next)| next)),
            ':' => return Some((out, &s[..i] == "*", Some(&s[i + 1..]))),
            c => out.push(c),
        }
    }
    Some((out, s == "*", None))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key<'a>(host: &'a str, port: u16, dbname: &'a str, user: &'a str) -> PgpassKey<'a> {
        PgpassKey {
            host,
            port,
            dbname,
            user,
            default_socket_dir: "/var/run/postgresql",
        }
    }

    const FILE: &str = "\
# comment line:*:*:*:nope
db1.example:5432:app:alice:pw-exact
db1.example:*:*:alice:pw-wild-port-db
*:5433:*:*:pw-any-5433
localhost:5432:*:bob:pw-local-bob
/tmp:5432:*:bob:pw-tmp-socket
esc\\:host:5432:a\\\\b:carol:pa\\:ss\\\\word:ignored-extra
short:line
\\*:5432:*:dave:pw-literal-star
*:*:*:dave:pw-dave-any\r
";

    #[test]
    fn exact_match_first_wins() {
        assert_eq!(
            find_password(FILE, &key("db1.example", 5432, "app", "alice")).as_deref(),
            Some("pw-exact")
        );
        assert_eq!(
            find_password(FILE, &key("db1.example", 6000, "other", "alice")).as_deref(),
            Some("pw-wild-port-db")
        );
        assert_eq!(
            find_password(FILE, &key("anything", 5433, "x", "y")).as_deref(),
            Some("pw-any-5433")
        );
        assert_eq!(find_password(FILE, &key("nomatch", 5432, "x", "y")), None);
    }

    #[test]
    fn default_socket_dir_matches_localhost() {
        assert_eq!(
            find_password(FILE, &key("/var/run/postgresql", 5432, "d", "bob")).as_deref(),
            Some("pw-local-bob")
        );
        assert_eq!(
            find_password(FILE, &key("localhost", 5432, "d", "bob")).as_deref(),
            Some("pw-local-bob")
        );
        // Another socket directory matches only by its path.
        assert_eq!(
            find_password(FILE, &key("/tmp", 5432, "d", "bob")).as_deref(),
            Some("pw-tmp-socket")
        );
    }

    #[test]
    fn escapes_in_fields_and_password() {
        assert_eq!(
            find_password(FILE, &key("esc:host", 5432, r"a\b", "carol")).as_deref(),
            Some(r"pa:ss\word")
        );
    }

    #[test]
    fn escaped_star_is_literal_and_crlf_is_stripped() {
        assert_eq!(
            find_password(FILE, &key("*", 5432, "d", "dave")).as_deref(),
            Some("pw-literal-star")
        );
        assert_eq!(
            find_password(FILE, &key("h", 1, "d", "dave")).as_deref(),
            Some("pw-dave-any")
        );
    }

    #[test]
    fn comment_and_short_lines_never_match() {
        assert_eq!(
            find_password("#x:*:*:*:pw\n", &key("#x", 1, "a", "b")),
            None
        );
        assert_eq!(
            find_password("short:line\n", &key("short", 1, "a", "b")),
            None
        );
        assert_eq!(find_password("a:1:d:u\n", &key("a", 1, "d", "u")), None);
    }

    #[test]
    fn permissions_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        fs::write(&path, "*:*:*:*:from-file\n").unwrap();
        let k = [key("h", 5432, "d", "u")];

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut warnings = Vec::new();
        assert!(lookup(&path, &k, &mut warnings).is_none());
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("group or world access"),
            "{warnings:?}"
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let mut warnings = Vec::new();
        let pw = lookup(&path, &k, &mut warnings).unwrap();
        assert_eq!(pw.expose(), "from-file");
        assert!(warnings.is_empty());

        // Missing file: no password, no warning. A directory: a warning.
        let mut warnings = Vec::new();
        assert!(lookup(&dir.path().join("absent"), &k, &mut warnings).is_none());
        assert!(warnings.is_empty());
        assert!(lookup(dir.path(), &k, &mut warnings).is_none());
        assert!(warnings[0].contains("not a plain file"));
    }

    #[test]
    fn trailing_backslash_is_kept() {
        // libpq: `\\` followed by the end of the line is a literal backslash.
        assert_eq!(
            find_password("h:1:d:u:ends-with\\\n", &key("h", 1, "d", "u")).as_deref(),
            Some("ends-with\\")
        );
        assert_eq!(
            find_password("h:1:d:u:a\\:b\\\\\n", &key("h", 1, "d", "u")).as_deref(),
            Some("a:b\\")
        );
    }

    #[test]
    fn each_host_gets_only_its_own_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        fs::write(&path, "a:5432:*:*:pw-a\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let keys = [key("a", 5432, "d", "u"), key("b", 5432, "d", "u")];
        let mut warnings = Vec::new();
        let found = lookup_each(&path, &keys, &mut warnings);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].as_ref().map(Secret::expose), Some("pw-a"));
        assert_eq!(found[1], None, "host b must not get host a's password");
    }

    #[test]
    fn hosts_are_tried_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        fs::write(&path, "b:5432:*:*:pw-b\na:5432:*:*:pw-a\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let keys = [key("a", 5432, "d", "u"), key("b", 5432, "d", "u")];
        let mut warnings = Vec::new();
        assert_eq!(
            lookup(&path, &keys, &mut warnings).unwrap().expose(),
            "pw-a"
        );
        let keys = [key("zz", 5432, "d", "u"), key("b", 5432, "d", "u")];
        assert_eq!(
            lookup(&path, &keys, &mut warnings).unwrap().expose(),
            "pw-b"
        );
    }
}
