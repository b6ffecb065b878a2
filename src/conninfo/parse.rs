//! Lexing of one CONNINFO argument into `(keyword, value)` pairs, in order (a later pair for the
//! same keyword wins, as in libpq). Keyword validation and defaults happen in the parent module.
//!
//! Three forms, told apart the way psql does it:
//! * a URI (`postgresql://` or `postgres://` prefix), libpq's `conninfo_uri_parse_options`;
//! * keyword/value pairs (the argument contains `=`), libpq's `conninfo_parse`;
//! * anything else is a bare database name (`pgvitals mydb`, like `psql mydb`).

use super::ConnInfoError;

/// The URI prefixes libpq accepts.
const URI_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// Lexes one argument. The empty string (or only whitespace) gives no pairs (all defaults).
pub(crate) fn lex(arg: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    if let Some(rest) = URI_PREFIXES.iter().find_map(|p| arg.strip_prefix(p)) {
        lex_uri(rest)
    } else if arg.contains('=') {
        lex_keyword_value(arg)
    } else if arg.trim().is_empty() {
        Ok(Vec::new())
    } else {
        Ok(vec![("dbname".to_owned(), arg.to_owned())])
    }
}

/// libpq's `isspace` in the C locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// `keyword = value ...`; values may be single-quoted; a backslash escapes the next character
/// (quoted or not). As an extension to libpq, `''` inside a quoted value is one quote (SQL
/// style); libpq rejects that input, so no valid libpq string changes meaning.
fn lex_keyword_value(s: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut pairs: Vec<(String, String)> = Vec::new();
    loop {
        while i < n && is_space(chars[i]) {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        while i < n && chars[i] != '=' && !is_space(chars[i]) {
            i += 1;
        }
        let keyword: String = chars[start..i].iter().collect();
        while i < n && is_space(chars[i]) {
            i += 1;
        }
        if i == n || chars[i] != '=' {
            // A word after an unquoted password is probably the rest of that password: never
            // echo it.
            let after_password = pairs.last().is_some_and(|(k, _)| k == "password");
            return Err(if after_password {
                ConnInfoError::MissingEqualsAfterPassword
            } else {
                ConnInfoError::MissingEquals { keyword }
            });
        }
        i += 1;
        while i < n && is_space(chars[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < n && chars[i] == '\'' {
            i += 1;
            loop {
                if i == n {
                    return Err(ConnInfoError::UnterminatedQuote { keyword });
                }
                match chars[i] {
                    '\\' => {
                        i += 1;
                        if i < n {
                            value.push(chars[i]);
                            i += 1;
                        }
                    }
                    '\'' if i + 1 < n && chars[i + 1] == '\'' => {
                        value.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < n && !is_space(chars[i]) {
                if chars[i] == '\\' {
                    i += 1;
                    if i < n {
                        value.push(chars[i]);
                        i += 1;
                    }
                } else {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        pairs.push((keyword, value));
    }
    Ok(pairs)
}

/// Decodes `%XX` escapes (libpq's `conninfo_uri_decode`: `+` is not a space, `%00` is an
/// error). `part` names the URI part for the error message; the value is never echoed.
fn percent_decode(s: &str, part: &str) -> Result<String, ConnInfoError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            let hi = bytes.get(i + 1).copied().and_then(hex);
            let lo = bytes.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(hi), Some(lo)) if hi != 0 || lo != 0 => {
                    // Both are < 16, so the byte fits.
                    out.push(((hi << 4) | lo) as u8);
                    i += 3;
                }
                _ => {
                    return Err(ConnInfoError::BadPercentEncoding {
                        part: part.to_owned(),
                    });
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ConnInfoError::BadPercentEncoding {
        part: part.to_owned(),
    })
}

/// `[user[:password]@][host[:port][,...]][/dbname][?param=value&...]` after the prefix.
fn lex_uri(rest: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut s = rest;

    // User info: libpq looks for '@' before the first '/'.
    let netloc_end = s.find('/').unwrap_or(s.len());
    if let Some(at) = s[..netloc_end].find('@') {
        let userinfo = &s[..at];
        let (user, password) = match userinfo.find(':') {
            Some(colon) => (&userinfo[..colon], Some(&userinfo[colon + 1..])),
            None => (userinfo, None),
        };
        let user = percent_decode(user, "the URI user name")?;
        if !user.is_empty() {
            pairs.push(("user".to_owned(), user));
        }
        if let Some(password) = password {
            let password = percent_decode(password, "the URI password")?;
            if !password.is_empty() {
                pairs.push(("password".to_owned(), password));
            }
        }
        s = &s[at + 1..];
    }
    // A second '@' before the path: most likely a password with an unencoded '@'
    // (`u:SEC@RET@host`). libpq would take `RET@host` as the host name and echo it in its
    // error; refuse without echoing any of it.
    let host_part_end = s.find(['/', '?']).unwrap_or(s.len());
    if s[..host_part_end].contains('@') {
        return Err(ConnInfoError::BadUri {
            reason: "\"@\" in the host part; percent-encode \"@\" in a user name or password as %40",
        });
    }

    // Hosts and ports: host[:port] or [ipv6][:port], comma-separated.
    let mut hosts: Vec<String> = Vec::new();
    let mut ports: Vec<String> = Vec::new();
    loop {
        let host;
        if let Some(after) = s.strip_prefix('[') {
            let close = after.find(']').ok_or(ConnInfoError::BadUri {
                reason: "missing \"]\" after an IPv6 host address",
            })?;
            if close == 0 {
                return Err(ConnInfoError::BadUri {
                    reason: "IPv6 host address may not be empty",
                });
            }
            host = &after[..close];
            s = &after[close + 1..];
            if !(s.is_empty() || s.starts_with([':', '/', '?', ','])) {
                return Err(ConnInfoError::BadUri {
                    reason: "unexpected character after an IPv6 host address",
                });
            }
        } else {
            let end = s.find([':', '/', '?', ',']).unwrap_or(s.len());
            host = &s[..end];
            s = &s[end..];
        }
        hosts.push(percent_decode(host, "the URI host")?);
        let mut port = "";
        if let Some(after) = s.strip_prefix(':') {
            let end = after.find(['/', '?', ',']).unwrap_or(after.len());
            port = &after[..end];
            s = &after[end..];
        }
        ports.push(percent_decode(port, "the URI port")?);
        match s.strip_prefix(',') {
            Some(after) => s = after,
            None => break,
        }
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        pairs.push(("host".to_owned(), hosts.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        pairs.push(("port".to_owned(), ports.join(",")));
    }

    // Path = database name.
    if let Some(after) = s.strip_prefix('/') {
        let end = after.find('?').unwrap_or(after.len());
        // `u:12/34@h/db`: a password with a '/' put its tail here (libpq takes `34@h/db` as
        // the database and shows it); refuse without echoing it
        if after[..end].contains('@') {
            return Err(ConnInfoError::BadUri {
                reason: "\"@\" in the database name; percent-encode \"@\" and \"/\" in a user name, password or database name (%40, %2F)",
            });
        }
        let dbname = percent_decode(&after[..end], "the URI database name")?;
        if !dbname.is_empty() {
            pairs.push(("dbname".to_owned(), dbname));
        }
        s = &after[end..];
    }

    // Query parameters.
    if let Some(query) = s.strip_prefix('?') {
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').ok_or(ConnInfoError::BadUri {
                reason: "missing key/value separator \"=\" in a URI query parameter",
            })?;
            let key = percent_decode(key, "a URI query parameter name")?;
            let value = percent_decode(value, &format!("URI query parameter \"{key}\""))?;
            // libpq's JDBC-compatible alias.
            if key == "ssl" && value == "true" {
                pairs.push(("sslmode".to_owned(), "require".to_owned()));
            } else {
                pairs.push((key, value));
            }
        }
    } else if !s.is_empty() {
        return Err(ConnInfoError::BadUri {
            reason: "unexpected text after the host list",
        });
    }
    Ok(pairs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn keyword_value_quotes_and_escapes() {
        let got = lex(
            r"host=localhost port = 5432 dbname='my db' password='it''s' user=a\ b x='c\'d\\e'",
        )
        .unwrap();
        assert_eq!(
            got,
            p(&[
                ("host", "localhost"),
                ("port", "5432"),
                ("dbname", "my db"),
                ("password", "it's"),
                ("user", "a b"),
                ("x", r"c'd\e"),
            ])
        );
    }

    #[test]
    fn keyword_value_empty_values() {
        assert_eq!(lex("host= port=''").unwrap(), p(&[("host", "port=''")]));
        assert_eq!(
            lex("host='' port=''").unwrap(),
            p(&[("host", ""), ("port", "")])
        );
    }

    #[test]
    fn keyword_value_errors() {
        assert!(matches!(
            lex("host=a dbname='x"),
            Err(ConnInfoError::UnterminatedQuote { keyword }) if keyword == "dbname"
        ));
        assert!(matches!(
            lex("host=a bogus"),
            Err(ConnInfoError::MissingEquals { keyword }) if keyword == "bogus"
        ));
        let err = lex("password=abc defsecret host=x").unwrap_err();
        assert!(matches!(err, ConnInfoError::MissingEqualsAfterPassword));
        assert!(!err.to_string().contains("defsecret"));
    }

    #[test]
    fn bare_word_is_a_database_name() {
        assert_eq!(lex("mydb").unwrap(), p(&[("dbname", "mydb")]));
        assert_eq!(lex("").unwrap(), p(&[]));
        assert_eq!(lex("   ").unwrap(), p(&[]));
    }

    #[test]
    fn uri_full() {
        let got =
            lex("postgresql://al%40ice:p%3Ass@h1:5432,h2:5433/my%20db?sslmode=require&application_name=x")
                .unwrap();
        assert_eq!(
            got,
            p(&[
                ("user", "al@ice"),
                ("password", "p:ss"),
                ("host", "h1,h2"),
                ("port", "5432,5433"),
                ("dbname", "my db"),
                ("sslmode", "require"),
                ("application_name", "x"),
            ])
        );
    }

    #[test]
    fn uri_short_forms() {
        assert_eq!(lex("postgres://").unwrap(), p(&[]));
        assert_eq!(
            lex("postgresql://localhost").unwrap(),
            p(&[("host", "localhost")])
        );
        assert_eq!(
            lex("postgresql:///db?host=/var/run/postgresql").unwrap(),
            p(&[("dbname", "db"), ("host", "/var/run/postgresql")])
        );
        assert_eq!(
            lex("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap(),
            p(&[("host", "/var/run/postgresql"), ("dbname", "db")])
        );
        assert_eq!(
            lex("postgresql://[::1]:5433,[fe80::1]/x").unwrap(),
            p(&[("host", "::1,fe80::1"), ("port", "5433,"), ("dbname", "x")])
        );
        assert_eq!(lex("postgresql://:5433").unwrap(), p(&[("port", "5433")]));
        assert_eq!(
            lex("postgresql://h?ssl=true").unwrap(),
            p(&[("host", "h"), ("sslmode", "require")])
        );
        assert_eq!(lex("postgresql://user@").unwrap(), p(&[("user", "user")]));
    }

    #[test]
    fn uri_errors() {
        for bad in [
            "postgresql://h/%zz",
            "postgresql://h/db%",
            "postgresql://h/db%0",
            "postgresql://h/%00",
            "postgresql://h/%ff",
            "postgresql://u:%g1@h/",
        ] {
            assert!(
                matches!(lex(bad), Err(ConnInfoError::BadPercentEncoding { .. })),
                "{bad}"
            );
        }
        for bad in [
            "postgresql://[::1/db",
            "postgresql://[]/db",
            "postgresql://[::1]x/db",
            "postgresql://h/db?sslmode",
        ] {
            assert!(
                matches!(lex(bad), Err(ConnInfoError::BadUri { .. })),
                "{bad}"
            );
        }
    }
}
