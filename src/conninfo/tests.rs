#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use proptest::prelude::*;
use tokio_postgres::config::Host;

use super::*;

/// Parses with a fixed environment and no home directory.
fn parse_env(arg: Option<&str>, vars: &[(&str, &str)]) -> Result<ConnSpec, ConnInfoError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ConnSpec::parse_with(arg, &|k| map.get(k).cloned(), None)
}

fn p(arg: &str) -> ConnSpec {
    parse_env(Some(arg), &[]).unwrap()
}

#[test]
fn defaults_without_anything() {
    let spec = parse_env(None, &[]).unwrap();
    assert_eq!(spec.hosts, vec![default_socket_dir().to_owned()]);
    assert_eq!(spec.port, 5432);
    assert_eq!(spec.ports, vec![5432]);
    let os_user = os_user_name().unwrap();
    assert_eq!(spec.user, os_user);
    assert_eq!(spec.dbname, os_user);
    assert_eq!(spec.password_for(0), None);
    assert_eq!(spec.sslmode, SslMode::Prefer);
    assert_eq!(spec.sslrootcert, None);
    assert_eq!(spec.application_name, None);
    assert_eq!(spec.connect_timeout, None);
    assert_eq!(spec.options, None);
    assert!(spec.warnings.is_empty());
    // The empty string and whitespace are "no argument" too.
    assert_eq!(parse_env(Some(""), &[]).unwrap(), spec);
    assert_eq!(parse_env(Some("  "), &[]).unwrap(), spec);
}

#[test]
fn default_socket_dir_follows_the_filesystem() {
    let dir = default_socket_dir();
    if Path::new("/var/run/postgresql").is_dir() {
        assert_eq!(dir, "/var/run/postgresql");
    } else {
        assert_eq!(dir, "/tmp");
    }
}

#[test]
fn environment_fills_what_the_argument_leaves_out() {
    let env = [
        ("PGHOST", "envhost"),
        ("PGPORT", "6000"),
        ("PGUSER", "envuser"),
        ("PGDATABASE", "envdb"),
        ("PGPASSWORD", "envpw"),
        ("PGSSLMODE", "require"),
        ("PGSSLROOTCERT", "/etc/root.crt"),
        ("PGSSLCERT", "/etc/c.crt"),
        ("PGSSLKEY", "/etc/c.key"),
        ("PGAPPNAME", "envapp"),
        ("PGCONNECT_TIMEOUT", "7"),
        ("PGOPTIONS", "-c statement_timeout=5s"),
    ];
    let spec = parse_env(None, &env).unwrap();
    assert_eq!(spec.hosts, vec!["envhost"]);
    assert_eq!(spec.port, 6000);
    assert_eq!(spec.user, "envuser");
    assert_eq!(spec.dbname, "envdb");
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("envpw"));
    assert_eq!(spec.sslmode, SslMode::Require);
    assert_eq!(spec.sslrootcert, Some(PathBuf::from("/etc/root.crt")));
    assert_eq!(spec.sslcert, Some(PathBuf::from("/etc/c.crt")));
    assert_eq!(spec.sslkey, Some(PathBuf::from("/etc/c.key")));
    assert_eq!(spec.application_name.as_deref(), Some("envapp"));
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(7)));
    assert_eq!(spec.options.as_deref(), Some("-c statement_timeout=5s"));
    // The root file does not exist and sslmode=require: a warning says so.
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(spec.warnings[0].contains("/etc/root.crt"));

    // The argument wins over every variable.
    let spec = parse_env(
        Some(
            "host=arghost port=7000 user=arguser dbname=argdb password=argpw sslmode=disable \
             application_name=argapp connect_timeout=3 options=-cx=y",
        ),
        &env,
    )
    .unwrap();
    assert_eq!(spec.hosts, vec!["arghost"]);
    assert_eq!(spec.port, 7000);
    assert_eq!(spec.user, "arguser");
    assert_eq!(spec.dbname, "argdb");
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("argpw"));
    assert_eq!(spec.sslmode, SslMode::Disable);
    assert_eq!(spec.application_name.as_deref(), Some("argapp"));
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(3)));
    assert_eq!(spec.options.as_deref(), Some("-cx=y"));

    // Empty values count as not given.
    let spec = parse_env(Some("host='' user=''"), &[("PGHOST", "h"), ("PGUSER", "")]).unwrap();
    assert_eq!(spec.hosts, vec!["h"]);
    assert_eq!(spec.user, os_user_name().unwrap());
}

#[test]
fn dbname_defaults_to_the_user() {
    assert_eq!(p("user=alice").dbname, "alice");
    assert_eq!(parse_env(None, &[("PGUSER", "bob")]).unwrap().dbname, "bob");
}

#[test]
fn bare_word_is_the_database() {
    let spec = p("mydb");
    assert_eq!(spec.dbname, "mydb");
    assert_eq!(spec.hosts, vec![default_socket_dir()]);
}

#[test]
fn later_keyword_wins() {
    assert_eq!(p("dbname=a dbname=b").dbname, "b");
    assert_eq!(p("postgresql:///a?dbname=b").dbname, "b");
}

#[test]
fn uri_forms() {
    let spec = p(
        "postgresql://alice:s3cr%40t@db.example:6543/app?sslmode=verify-full&sslrootcert=system&application_name=x",
    );
    assert_eq!(spec.user, "alice");
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("s3cr@t"));
    assert_eq!(spec.hosts, vec!["db.example"]);
    assert_eq!(spec.port, 6543);
    assert_eq!(spec.dbname, "app");
    assert_eq!(spec.sslmode, SslMode::VerifyFull);
    assert_eq!(spec.application_name.as_deref(), Some("x"));

    let spec = p("postgres://h1:5432,h2:5433,[::1]/db?user=u");
    assert_eq!(spec.hosts, vec!["h1", "h2", "::1"]);
    assert_eq!(spec.ports, vec![5432, 5433, 5432]);
    assert_eq!(spec.label(), "h1:5432,h2:5433,[::1]:5432/db");

    let spec = p("postgresql:///db?host=/var/run/postgresql&port=5499&user=u");
    assert_eq!(spec.hosts, vec!["/var/run/postgresql"]);
    assert_eq!(spec.label(), "/var/run/postgresql:5499/db");

    let spec = p("postgresql://%2Ftmp%2Fsock/db?user=u");
    assert_eq!(spec.hosts, vec!["/tmp/sock"]);

    let spec = p(
        "postgresql://h/db?user=u&connect_timeout=1&options=-c%20work_mem%3D64MB\
         &sslrootcert=/r.crt&sslcert=/c.crt&sslkey=/c.key&port=5555&password=pw&dbname=other",
    );
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(2)));
    assert_eq!(spec.options.as_deref(), Some("-c work_mem=64MB"));
    assert_eq!(spec.sslrootcert, Some(PathBuf::from("/r.crt")));
    assert_eq!(spec.sslcert, Some(PathBuf::from("/c.crt")));
    assert_eq!(spec.sslkey, Some(PathBuf::from("/c.key")));
    assert_eq!(spec.port, 5555);
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("pw"));
    assert_eq!(spec.dbname, "other");
}

#[test]
fn keyword_value_multiple_hosts_and_ports() {
    let spec = p("host=a,b,c port=1,2,3 user=u");
    assert_eq!(spec.ports, vec![1, 2, 3]);
    assert_eq!(spec.port, 1);
    let spec = p("host=a,b port=7 user=u");
    assert_eq!(spec.ports, vec![7, 7]);
    let spec = p("host=a,b port=,6 user=u");
    assert_eq!(spec.ports, vec![5432, 6]);
    assert!(matches!(
        parse_env(Some("host=a,b,c port=1,2"), &[]),
        Err(ConnInfoError::PortCount { hosts: 3, ports: 2 })
    ));
}

#[test]
fn connect_timeout_rules() {
    assert_eq!(p("connect_timeout=0").connect_timeout, None);
    assert_eq!(p("connect_timeout=-5").connect_timeout, None);
    assert_eq!(
        p("connect_timeout=1").connect_timeout,
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        p("connect_timeout=' 30 '").connect_timeout,
        Some(Duration::from_secs(30))
    );
    assert!(matches!(
        parse_env(Some("connect_timeout=2.5"), &[]),
        Err(ConnInfoError::BadConnectTimeout { .. })
    ));
    assert!(matches!(
        parse_env(None, &[("PGCONNECT_TIMEOUT", "soon")]),
        Err(ConnInfoError::BadConnectTimeout { .. })
    ));
}

#[test]
fn errors_are_clear() {
    let cases: &[(&str, &str)] = &[
        (
            "port=abc",
            "invalid port number in the connection string: not a number",
        ),
        ("port=0", "must be between 1 and 65535"),
        ("port=65536", "must be between 1 and 65535"),
        ("port=-1", "not a number"),
        ("postgresql://h:99999/db", "must be between 1 and 65535"),
        ("host=a,,b", "empty host name"),
        ("postgresql://a,,b/db", "empty host name"),
        (
            "dbname='abc",
            "unterminated quoted string in the value of \"dbname\"",
        ),
        (
            "postgresql://h/%zz",
            "invalid percent-encoding in the URI database name",
        ),
        ("sslmode=sometimes", "invalid sslmode value \"sometimes\""),
        ("bogus=1", "invalid connection option \"bogus\""),
        (
            "postgresql://h/db?bogus=1",
            "invalid connection option \"bogus\"",
        ),
        (
            "hostaddr=localhost",
            "invalid hostaddr value: \"localhost\"",
        ),
        (
            "host=a,b hostaddr=127.0.0.1",
            "could not match 2 host names to 1 hostaddr values",
        ),
        (
            "host=/tmp hostaddr=127.0.0.1",
            "a unix-socket directory in host cannot be combined with hostaddr",
        ),
        (
            "hostaddr=127.0.0.1,",
            "empty host name in the host list of hostaddr",
        ),
        ("host=a dbname", "missing \"=\" after \"dbname\""),
        (
            "sslrootcert=system sslmode=require",
            "weak sslmode \"require\" may not be used with sslrootcert=system",
        ),
        ("postgresql://u:SEC@RETPW@h/db", "percent-encode \"@\""),
        ("postgresql://u:12/34@h/db", "\"@\" in the database name"),
        (
            "password=se cret=x",
            "not shown: it may be part of the password",
        ),
        (
            "max_protocol_version=3.2",
            "\"max_protocol_version\" is not supported",
        ),
        ("requiressl=1 sslmode=prefer", "requiressl=1 asks for TLS"),
        ("requiressl=yes", "invalid requiressl value: \"yes\""),
        ("gssencmode=require", "GSSAPI support is not compiled in"),
        ("gssencmode=sometimes", "invalid gssencmode value"),
        (
            "channel_binding=maybe",
            "invalid channel_binding value: \"maybe\"",
        ),
        (
            "require_auth=scram-sha-256",
            "\"require_auth\" is not supported",
        ),
        ("sslpassword=x", "\"sslpassword\" is not supported"),
        (
            "sslcertmode=require",
            "sslcertmode=require is not supported",
        ),
        (
            "sslnegotiation=direct",
            "weak sslmode \"prefer\" may not be used with sslnegotiation=direct",
        ),
        (
            "target_session_attrs=bogus",
            "invalid target_session_attrs value",
        ),
        (
            "client_encoding=LATIN1",
            "client_encoding=LATIN1 is not supported",
        ),
        (
            "load_balance_hosts=sometimes",
            "invalid load_balance_hosts value",
        ),
        (
            "replication=database",
            "replication=database is not supported",
        ),
        ("sslsni=2", "invalid sslsni value"),
        ("keepalives_idle=x", "invalid keepalives_idle value"),
    ];
    for (arg, expected) in cases {
        let err = parse_env(Some(arg), &[("PGUSER", "u")]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains(expected),
            "{arg}: got {msg:?}, expected {expected:?}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    let err = parse_env(None, &[("PGPORT", "x")]).err().unwrap();
    assert_eq!(
        err.to_string(),
        "invalid port number in PGPORT: not a number"
    );
    let err = parse_env(None, &[("PGSSLMODE", "on")]).err().unwrap();
    assert!(matches!(err, ConnInfoError::BadSslMode { .. }));
}

#[test]
fn every_libpq_option_is_honoured_or_refused() {
    // Honoured, with their effect on the spec.
    let spec = p("host=h requiressl=1");
    assert_eq!(spec.sslmode, SslMode::Require);
    let spec = parse_env(Some("host=h"), &[("PGREQUIRESSL", "1")]).unwrap();
    assert_eq!(spec.sslmode, SslMode::Require);
    assert_eq!(
        p("host=h requiressl=1 sslmode=verify-full sslrootcert=system").sslmode,
        SslMode::VerifyFull
    );
    assert_eq!(
        p("host=h channel_binding=require").channel_binding,
        ChannelBinding::Require
    );
    let spec = parse_env(Some("host=h"), &[("PGCHANNELBINDING", "disable")]).unwrap();
    assert_eq!(spec.channel_binding, ChannelBinding::Disable);
    assert!(!p("host=h sslsni=0").sslsni);
    assert!(p("host=h").sslsni);
    assert_eq!(
        p("host=h sslcertmode=disable").sslcertmode,
        SslCertMode::Disable
    );
    assert_eq!(
        p("host=h sslmode=require sslnegotiation=direct").sslnegotiation,
        SslNegotiation::Direct
    );
    assert!(p("host=h load_balance_hosts=random").load_balance_random);
    assert_eq!(
        p("host=/tmp requirepeer=postgres").requirepeer.as_deref(),
        Some("postgres")
    );
    let spec = p(
        "host=h keepalives=0 keepalives_interval=3 keepalives_count=9 sslcrl=/c.crl sslcrldir=/d",
    );
    assert!(!spec.keepalives);
    assert_eq!(spec.keepalives_interval, Some(Duration::from_secs(3)));
    assert_eq!(spec.keepalives_count, Some(9));
    assert_eq!(spec.sslcrl, Some(PathBuf::from("/c.crl")));
    assert_eq!(spec.sslcrldir, Some(PathBuf::from("/d")));
    // Accepted: what they configure is never used, or they ask for what we do anyway.
    for ok in [
        "gssencmode=disable",
        "gssencmode=prefer",
        "krbsrvname=postgres",
        "gsslib=gssapi",
        "gssdelegation=1",
        "sslcompression=1",
        "client_encoding=UTF8",
        "client_encoding=auto",
        "target_session_attrs=any",
        "replication=false",
        "sslpassword=",
        "requiressl=0",
    ] {
        let spec = p(&format!("host=h {ok}"));
        assert!(spec.warnings.is_empty(), "{ok}: {:?}", spec.warnings);
    }
    // The environment is held to the same rules as the string.
    for (name, value, expected) in [
        (
            "PGGSSENCMODE",
            "require",
            "GSSAPI support is not compiled in",
        ),
        (
            "PGREQUIREAUTH",
            "password",
            "\"PGREQUIREAUTH\" is not supported",
        ),
        ("PGHOSTADDR", "::1x", "invalid hostaddr value"),
        (
            "PGTARGETSESSIONATTRS",
            "primary-ish",
            "invalid target_session_attrs value",
        ),
        ("PGSSLCERTMODE", "require", "sslcertmode=require"),
        ("PGCLIENTENCODING", "SJIS", "client_encoding=SJIS"),
    ] {
        let err = parse_env(Some("host=h"), &[(name, value)]).unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    // Every keyword of the table is known: none is "invalid connection option".
    for (keyword, _, support) in OPTIONS {
        let result = parse_env(Some(&format!("host=h {keyword}=")), &[("PGUSER", "u")]);
        assert!(result.is_ok(), "{keyword} ({support:?}): {result:?}");
    }
}

#[test]
fn sslmode_words_round_trip() {
    for mode in [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ] {
        assert_eq!(mode.to_string().parse::<SslMode>().unwrap(), mode);
        assert_eq!(p(&format!("sslmode={mode}")).sslmode, mode);
    }
    assert_eq!(SslMode::VerifyCa.to_string(), "verify-ca");
    assert_eq!(p("sslrootcert=system").sslmode, SslMode::VerifyFull);
}

#[test]
fn targets_map_everything_one_host_each() {
    let spec = p(
        "host=/run/pg,db.example,::1 port=5,6,7 user=u dbname=d password=pw options=-cx=1 \
         sslmode=require channel_binding=require keepalives_idle=7 tcp_user_timeout=1500",
    );
    let targets = spec.targets();
    assert_eq!(targets.len(), 3);
    let hosts: Vec<&[Host]> = targets.iter().map(|t| t.config.get_hosts()).collect();
    assert_eq!(
        hosts,
        vec![
            &[Host::Unix(PathBuf::from("/run/pg"))][..],
            &[Host::Tcp("db.example".to_owned())][..],
            &[Host::Tcp("::1".to_owned())][..],
        ]
    );
    for (t, port) in targets.iter().zip([5, 6, 7]) {
        let c = &t.config;
        assert_eq!(c.get_ports(), &[port]);
        assert_eq!(c.get_user(), Some("u"));
        assert_eq!(c.get_dbname(), Some("d"));
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
        assert_eq!(c.get_options(), Some("-cx=1"));
        assert_eq!(c.get_application_name(), Some("pgvitals"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(10)));
        assert_eq!(c.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(7));
        assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_millis(1500)));
    }
    // libpq never uses TLS on a unix socket, even in a list with TCP hosts.
    assert_eq!(
        targets[0].config.get_ssl_mode(),
        tokio_postgres::config::SslMode::Disable
    );
    assert_eq!(
        targets[1].config.get_ssl_mode(),
        tokio_postgres::config::SslMode::Require
    );

    let one = |arg: &str| p(arg).targets().remove(0).config;
    let c = one("host=h application_name=mine connect_timeout=3 sslmode=allow");
    assert_eq!(c.get_application_name(), Some("mine"));
    assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
    assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Prefer);
    assert_eq!(c.get_password(), None);
    assert_eq!(c.get_channel_binding(), ChannelBinding::Prefer);
    assert_eq!(c.get_keepalives_idle(), DEFAULT_KEEPALIVES_IDLE);
    assert_eq!(c.get_tcp_user_timeout(), Some(&DEFAULT_TCP_USER_TIMEOUT));
    let c = one("host=/tmp,/run sslmode=require");
    assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    let c = one("host=h sslmode=disable");
    assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    let c = one("host=h fallback_application_name=fb");
    assert_eq!(c.get_application_name(), Some("fb"));
}

#[test]
fn each_host_gets_its_own_password_file_entry() {
    let home = tempfile::tempdir().unwrap();
    write_pgpass(
        home.path(),
        ".pgpass",
        "a:5432:*:*:pw-a\nc:5433:*:*:pw-c\n",
        0o600,
    );
    let none = |_: &str| None;
    let spec = ConnSpec::parse_with(
        Some("host=a,b,c port=5432,5432,5433 user=u"),
        &none,
        Some(home.path()),
    )
    .unwrap();
    let targets = spec.targets();
    let passwords: Vec<Option<&[u8]>> = targets.iter().map(|t| t.config.get_password()).collect();
    assert_eq!(
        passwords,
        vec![Some(&b"pw-a"[..]), None, Some(&b"pw-c"[..])]
    );
    // A password given in the string (or PGPASSWORD) goes to every host, as in libpq.
    let spec = ConnSpec::parse_with(
        Some("host=a,b user=u password=given"),
        &none,
        Some(home.path()),
    )
    .unwrap();
    assert!(
        spec.targets()
            .iter()
            .all(|t| t.config.get_password() == Some(&b"given"[..]))
    );
}

#[test]
fn label_forms() {
    assert_eq!(p("host=db port=5433 dbname=x user=u").label(), "db:5433/x");
    assert_eq!(p("host=/tmp dbname=x user=u").to_string(), "/tmp:5432/x");
    assert_eq!(p("host=::1 dbname=x user=u").label(), "[::1]:5432/x");
    // ports out of step with hosts: `port` for all.
    let mut spec = p("host=a,b dbname=x user=u");
    spec.ports.clear();
    spec.port = 9;
    assert_eq!(spec.label(), "a:9,b:9/x");
    let targets = spec.targets();
    let ports: Vec<&[u16]> = targets.iter().map(|t| t.config.get_ports()).collect();
    assert_eq!(ports, vec![&[9][..], &[9][..]]);
}

fn write_pgpass(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn pgpass_from_home_and_precedence() {
    let home = tempfile::tempdir().unwrap();
    write_pgpass(
        home.path(),
        ".pgpass",
        "db.example:5432:app:alice:from-pgpass\nlocalhost:*:*:bob:local-bob\n",
        0o600,
    );
    let none = |_: &str| None;
    let parse = |arg: &str, env: &dyn Fn(&str) -> Option<String>| {
        ConnSpec::parse_with(Some(arg), env, Some(home.path())).unwrap()
    };
    let spec = parse("postgresql://alice@db.example/app", &none);
    assert_eq!(
        spec.password_for(0).map(Secret::expose),
        Some("from-pgpass")
    );
    // The argument's password wins, then PGPASSWORD.
    let spec = parse("postgresql://alice:given@db.example/app", &none);
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("given"));
    let env_pw = |k: &str| (k == "PGPASSWORD").then(|| "env-pw".to_owned());
    let spec = parse("postgresql://alice@db.example/app", &env_pw);
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("env-pw"));
    // No match: no password.
    let spec = parse("postgresql://alice@db.example/other", &none);
    assert_eq!(spec.password_for(0), None);
    // The default socket directory matches "localhost".
    let spec = parse("user=bob", &none);
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("local-bob"));
}

#[test]
fn pgpass_permissions_and_passfile() {
    let home = tempfile::tempdir().unwrap();
    let path = write_pgpass(home.path(), ".pgpass", "*:*:*:*:secret-x\n", 0o644);
    let none = |_: &str| None;
    let spec = ConnSpec::parse_with(Some("host=h user=u"), &none, Some(home.path())).unwrap();
    assert_eq!(spec.password_for(0), None);
    assert_eq!(spec.warnings.len(), 1);
    assert!(spec.warnings[0].contains("group or world access"));
    assert!(!spec.warnings[0].contains("secret-x"));

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let spec = ConnSpec::parse_with(Some("host=h user=u"), &none, Some(home.path())).unwrap();
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("secret-x"));
    assert!(spec.warnings.is_empty());

    // PGPASSFILE and passfile= point elsewhere (passfile= wins).
    let other = write_pgpass(home.path(), "other", "*:*:*:*:other-pw\n", 0o600);
    let third = write_pgpass(home.path(), "third", "*:*:*:*:third-pw\n", 0o400);
    let other_s = other.display().to_string();
    let env = |k: &str| (k == "PGPASSFILE").then(|| other_s.clone());
    let spec = ConnSpec::parse_with(Some("host=h user=u"), &env, Some(home.path())).unwrap();
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("other-pw"));
    let arg = format!("host=h user=u passfile={}", third.display());
    let spec = ConnSpec::parse_with(Some(&arg), &env, Some(home.path())).unwrap();
    assert_eq!(spec.password_for(0).map(Secret::expose), Some("third-pw"));
}

#[test]
fn default_client_files_from_home() {
    let home = tempfile::tempdir().unwrap();
    let pgdir = home.path().join(".postgresql");
    fs::create_dir(&pgdir).unwrap();
    let none = |_: &str| None;
    let spec = ConnSpec::parse_with(Some("host=h user=u"), &none, Some(home.path())).unwrap();
    assert_eq!(
        (spec.sslrootcert, spec.sslcert, spec.sslkey),
        (None, None, None)
    );
    fs::write(pgdir.join("root.crt"), "x").unwrap();
    fs::write(pgdir.join("postgresql.crt"), "x").unwrap();
    let spec = ConnSpec::parse_with(Some("host=h user=u"), &none, Some(home.path())).unwrap();
    assert_eq!(spec.sslrootcert, Some(pgdir.join("root.crt")));
    // A certificate without its key is not picked up.
    assert_eq!(spec.sslcert, None);
    fs::write(pgdir.join("postgresql.key"), "x").unwrap();
    let spec = ConnSpec::parse_with(Some("host=h user=u"), &none, Some(home.path())).unwrap();
    assert_eq!(spec.sslcert, Some(pgdir.join("postgresql.crt")));
    assert_eq!(spec.sslkey, Some(pgdir.join("postgresql.key")));
}

/// Every rendering a user or a log could see.
fn renderings(spec: &ConnSpec) -> Vec<String> {
    vec![
        format!("{spec:?}"),
        format!("{spec:#?}"),
        format!("{spec}"),
        spec.label(),
        spec.warnings.join("\n"),
        format!("{:?}", spec.password),
    ]
}

#[test]
fn passwords_never_shown() {
    let pw = "Sup3r-S3cret";
    let home = tempfile::tempdir().unwrap();
    write_pgpass(home.path(), ".pgpass", &format!("*:*:*:*:{pw}\n"), 0o600);
    let none = |_: &str| None;
    let env_pw = |k: &str| (k == "PGPASSWORD").then(|| pw.to_owned());
    let args = [
        format!("postgresql://u:{pw}@h/db"),
        format!("host=h user=u password={pw}"),
        format!("host=h user=u password='{pw}'"),
        "host=h user=u".to_owned(),
    ];
    for arg in &args {
        for env in [&none as &dyn Fn(&str) -> Option<String>, &env_pw] {
            let spec = ConnSpec::parse_with(Some(arg), env, Some(home.path())).unwrap();
            assert_eq!(spec.password_for(0).map(Secret::expose), Some(pw), "{arg}");
            for text in renderings(&spec) {
                assert!(!text.contains(pw), "{arg}: {text}");
            }
            assert!(format!("{spec:?}").contains("********"));
        }
    }
    // Errors from strings that carry a password.
    let bad = [
        format!("postgresql://u:{pw}@h:x/db"),
        format!("postgresql://u:{pw}@h/%zz"),
        format!("postgresql://u:{pw}%@h/db"),
        format!("postgresql://u:{pw}/db"),
        format!("postgresql://u:{pw}@h/db?bogus=1"),
        format!("password={pw} bogus=1"),
        format!("password={pw} port=0"),
        format!("password='{pw}"),
        format!("password=Sup3r {pw}"),
        format!("password={pw} sslmode=no"),
    ];
    for arg in &bad {
        let err = ConnSpec::parse_with(Some(arg), &none, None).err();
        let err = err.unwrap_or_else(|| panic!("{arg} should fail"));
        assert!(!err.to_string().contains(pw), "{arg}: {err}");
        assert!(!format!("{err:?}").contains(pw), "{arg}: {err:?}");
    }
}

/// Percent-encodes everything but unreserved characters.
fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Quotes for the keyword/value form.
fn kv_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

proptest! {
    #[test]
    fn never_panics(arg in "\\PC{0,80}") {
        let _ = parse_env(Some(&arg), &[("PGUSER", "u")]);
    }

    #[test]
    fn never_panics_on_uri_like_input(rest in "[a-z0-9:/?&=%@\\[\\],.'\\\\ ]{0,60}") {
        let _ = parse_env(Some(&format!("postgresql://{rest}")), &[("PGUSER", "u")]);
        let _ = parse_env(Some(&format!("host={rest}")), &[("PGUSER", "u")]);
    }

    #[test]
    fn password_round_trips_and_stays_hidden(
        pw in "Zq9[ -~]{1,24}",
        host in "[a-z]{1,10}",
        db in "[a-z]{1,10}",
        port in 1u16..,
        user in "[a-z]{1,8}",
    ) {
        let uri = format!("postgresql://{user}:{}@{host}:{port}/{db}", uri_encode(&pw));
        let kv = format!(
            "host={host} port={port} dbname={db} user={user} password={}",
            kv_quote(&pw)
        );
        for arg in [uri, kv] {
            let spec = parse_env(Some(&arg), &[]).unwrap();
            prop_assert_eq!(spec.password_for(0).map(Secret::expose), Some(pw.as_str()));
            prop_assert_eq!(&spec.hosts, &vec![host.clone()]);
            prop_assert_eq!(spec.port, port);
            prop_assert_eq!(&spec.dbname, &db);
            prop_assert_eq!(spec.label(), format!("{host}:{port}/{db}"));
            for text in renderings(&spec) {
                prop_assert!(!text.contains(&pw), "{}", text);
            }
        }
    }
}

#[test]
fn fuzz_seeds_parse_as_named() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus/conninfo");
    let mut seen = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let result = parse_env(Some(&text), &[("PGUSER", "u")]);
        assert_eq!(
            result.is_err(),
            name.contains("error"),
            "{name}: {result:?}"
        );
        seen += 1;
    }
    assert!(seen >= 5);
}

#[test]
fn hostaddr_connects_to_the_address_and_keeps_the_name() {
    let spec = p("host=db.example,other hostaddr=192.0.2.7, port=5433");
    assert_eq!(spec.hosts, ["db.example", "other"]);
    assert_eq!(
        spec.hostaddrs,
        [Some("192.0.2.7".parse::<IpAddr>().unwrap()), None]
    );
    let targets = spec.targets();
    assert_eq!(
        targets[0].config.get_hosts(),
        [Host::Tcp("db.example".into())]
    );
    assert_eq!(
        targets[0].config.get_hostaddrs(),
        ["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    assert!(targets[1].config.get_hostaddrs().is_empty());
    // an address alone is also the name (TLS, the password file, the label)
    let spec = parse_env(None, &[("PGHOSTADDR", "::1"), ("PGUSER", "u")]).unwrap();
    assert_eq!(spec.hosts, ["::1"]);
    assert_eq!(spec.label(), "[::1]:5432/u");
    // a name and an empty host entry take the address
    assert_eq!(p("host=a, hostaddr=,10.0.0.2").hosts, ["a", "10.0.0.2"]);
}

#[test]
fn target_session_attrs_words_and_checks() {
    for (word, attrs) in [
        ("any", TargetSessionAttrs::Any),
        ("read-write", TargetSessionAttrs::ReadWrite),
        ("read-only", TargetSessionAttrs::ReadOnly),
        ("primary", TargetSessionAttrs::Primary),
        ("standby", TargetSessionAttrs::Standby),
        ("prefer-standby", TargetSessionAttrs::PreferStandby),
    ] {
        assert_eq!(
            p(&format!("host=h target_session_attrs={word}")).target_session_attrs,
            attrs
        );
        assert_eq!(attrs.as_str(), word);
    }
    let env = parse_env(Some("host=h"), &[("PGTARGETSESSIONATTRS", "standby")]).unwrap();
    assert_eq!(env.target_session_attrs, TargetSessionAttrs::Standby);
    // (in recovery, read-only): a primary, a primary with default_transaction_read_only, a
    // standby
    let primary = (false, false);
    let read_only_primary = (false, true);
    let standby = (true, true);
    let check = |a: TargetSessionAttrs, (r, ro): (bool, bool)| a.check(r, ro);
    assert_eq!(check(TargetSessionAttrs::ReadWrite, primary), Ok(()));
    assert_eq!(
        check(TargetSessionAttrs::ReadWrite, standby),
        Err("session is read-only")
    );
    assert_eq!(
        check(TargetSessionAttrs::ReadWrite, read_only_primary),
        Err("session is read-only")
    );
    assert_eq!(
        check(TargetSessionAttrs::ReadOnly, read_only_primary),
        Ok(())
    );
    assert_eq!(
        check(TargetSessionAttrs::ReadOnly, primary),
        Err("session is not read-only")
    );
    assert_eq!(
        check(TargetSessionAttrs::Primary, read_only_primary),
        Ok(())
    );
    assert_eq!(
        check(TargetSessionAttrs::Primary, standby),
        Err("server is in hot standby mode")
    );
    assert_eq!(check(TargetSessionAttrs::Standby, standby), Ok(()));
    assert_eq!(
        check(TargetSessionAttrs::Standby, read_only_primary),
        Err("server is not in hot standby mode")
    );
    assert_eq!(check(TargetSessionAttrs::Any, standby), Ok(()));
}

/// A temporary directory with a user service file, a system directory and a home.
struct ServiceDirs {
    dir: tempfile::TempDir,
}

impl ServiceDirs {
    fn new(user: Option<&str>, system: Option<&str>) -> ServiceDirs {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("home")).unwrap();
        fs::create_dir(dir.path().join("etc")).unwrap();
        if let Some(text) = user {
            fs::write(dir.path().join("home/.pg_service.conf"), text).unwrap();
        }
        if let Some(text) = system {
            fs::write(dir.path().join("etc/pg_service.conf"), text).unwrap();
        }
        ServiceDirs { dir }
    }

    fn parse(&self, arg: Option<&str>, vars: &[(&str, &str)]) -> Result<ConnSpec, ConnInfoError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.insert(
            "PGSYSCONFDIR".into(),
            self.dir.path().join("etc").display().to_string(),
        );
        map.entry("PGUSER".into()).or_insert_with(|| "u".into());
        let home = self.dir.path().join("home");
        ConnSpec::parse_with(arg, &|k| map.get(k).cloned(), Some(&home))
    }
}

const USER_SERVICES: &str = "\
# monitoring targets
[prod]
host=db1.example
port=6432
# a comment inside
  dbname=app  
sslmode=require
user=monitor
connect_timeout=3

[local]
host=/var/run/postgresql
";

#[test]
fn a_service_fills_what_the_argument_leaves_out_and_beats_the_environment() {
    let dirs = ServiceDirs::new(Some(USER_SERVICES), None);
    let spec = dirs.parse(Some("service=prod"), &[]).unwrap();
    assert_eq!(spec.hosts, ["db1.example"]);
    assert_eq!(spec.port, 6432);
    assert_eq!(spec.dbname, "app");
    assert_eq!(spec.user, "monitor");
    assert_eq!(spec.sslmode, SslMode::Require);
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(3)));
    // the argument wins over the service; the service over the environment
    let spec = dirs
        .parse(
            Some("service=prod dbname=other"),
            &[
                ("PGPORT", "7000"),
                ("PGHOST", "envhost"),
                ("PGAPPNAME", "env"),
            ],
        )
        .unwrap();
    assert_eq!(spec.dbname, "other");
    assert_eq!(spec.port, 6432);
    assert_eq!(spec.hosts, ["db1.example"]);
    assert_eq!(spec.application_name.as_deref(), Some("env"));
    // PGSERVICE names it too, and the URI form takes ?service=
    let spec = dirs.parse(None, &[("PGSERVICE", "local")]).unwrap();
    assert_eq!(spec.hosts, ["/var/run/postgresql"]);
    let spec = dirs
        .parse(Some("postgresql:///?service=prod"), &[])
        .unwrap();
    assert_eq!(spec.hosts, ["db1.example"]);
    // an argument's service beats PGSERVICE
    let spec = dirs
        .parse(Some("service=prod"), &[("PGSERVICE", "local")])
        .unwrap();
    assert_eq!(spec.hosts, ["db1.example"]);
}

#[test]
fn the_user_file_hides_the_system_files_definition() {
    let system =
        "[prod]\nhost=system.example\nsslmode=verify-full\n[shared]\nhost=shared.example\n";
    let dirs = ServiceDirs::new(Some(USER_SERVICES), Some(system));
    let spec = dirs.parse(Some("service=prod"), &[]).unwrap();
    // the user's definition alone: no sslmode=verify-full merged in from the system file
    assert_eq!(spec.hosts, ["db1.example"]);
    assert_eq!(spec.sslmode, SslMode::Require);
    // not in the user's file: the system file's
    let spec = dirs.parse(Some("service=shared"), &[]).unwrap();
    assert_eq!(spec.hosts, ["shared.example"]);
    // no user file at all: the system file
    let dirs = ServiceDirs::new(None, Some(system));
    assert_eq!(
        dirs.parse(Some("service=prod sslrootcert=/nonexistent"), &[])
            .unwrap_err()
            .to_string(),
        "root certificate file \"/nonexistent\" does not exist; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification"
    );
}

#[test]
fn a_named_service_file_replaces_the_home_one() {
    let dirs = ServiceDirs::new(Some(USER_SERVICES), None);
    let other = dirs.dir.path().join("other.conf");
    fs::write(&other, "[prod]\nhost=named.example\n").unwrap();
    let named = other.display().to_string();
    let spec = dirs
        .parse(Some("service=prod"), &[("PGSERVICEFILE", &named)])
        .unwrap();
    assert_eq!(spec.hosts, ["named.example"]);
    // the PostgreSQL 18 keyword beats the variable
    let spec = dirs
        .parse(
            Some(&format!("service=prod servicefile={named}")),
            &[("PGSERVICEFILE", "/nonexistent")],
        )
        .unwrap();
    assert_eq!(spec.hosts, ["named.example"]);
    // a named file that does not exist is an error; without a service it is not read
    let err = dirs
        .parse(
            Some("service=prod"),
            &[("PGSERVICEFILE", "/nonexistent/x.conf")],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "service file \"/nonexistent/x.conf\" not found"
    );
    assert!(
        dirs.parse(Some("host=h"), &[("PGSERVICEFILE", "/nonexistent/x.conf")])
            .is_ok()
    );
}

#[test]
fn service_file_errors_are_libpqs() {
    let dirs = ServiceDirs::new(Some(USER_SERVICES), None);
    assert_eq!(
        dirs.parse(Some("service=nowhere"), &[])
            .unwrap_err()
            .to_string(),
        "definition of service \"nowhere\" not found"
    );
    let user = dirs.dir.path().join("home/.pg_service.conf");
    let path = user.display().to_string();
    for (text, expected) in [
        (
            "[s]\nhost=a\nno equals here\n",
            format!("syntax error in service file \"{path}\", line 3"),
        ),
        (
            "[s]\nhost = a\n",
            format!("syntax error in service file \"{path}\", line 2"),
        ),
        (
            "[s]\nbogus=1\n",
            format!("syntax error in service file \"{path}\", line 2"),
        ),
        (
            "[s]\nservice=prod\n",
            format!(
                "nested service specifications not supported in service file \"{path}\", line 2"
            ),
        ),
    ] {
        fs::write(&user, text).unwrap();
        let err = dirs.parse(Some("service=s"), &[]).unwrap_err();
        assert_eq!(err.to_string(), expected, "{text:?}");
    }
    // a keyword pgvitals refuses is refused from a service as from the argument
    fs::write(&user, "[s]\nhost=h\nrequire_auth=password\n").unwrap();
    let err = dirs.parse(Some("service=s"), &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"require_auth\" is not supported"),
        "{err}"
    );
    // a password in a service is used and never shown
    fs::write(&user, "[s]\nhost=h\npassword=s3cret\n").unwrap();
    let spec = dirs.parse(Some("service=s"), &[]).unwrap();
    assert_eq!(spec.password.as_ref().map(Secret::expose), Some("s3cret"));
    assert!(!format!("{spec:?}").contains("s3cret"));
}
