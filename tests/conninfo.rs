//! Real TLS handshakes against a throwaway PostgreSQL started with the project's cluster
//! harness ([`pgvitals::cluster::Cluster`]), then switched to `ssl = on` with the test
//! certificates of `src/conninfo/testdata` (a CA, a server certificate for `localhost` and
//! 127.0.0.1 signed by it, a client certificate for the role `pgvitals`, and an unrelated
//! self-signed certificate). pg_hba rejects every non-TLS TCP connection, so a successful TCP
//! connection proves TLS was used; `pg_stat_ssl` confirms it.
//!
//! Needs PostgreSQL server binaries: without them the test fails with the harness' message
//! naming what to install. Works as root (the harness runs the server as the `postgres` OS
//! user) and as a normal user.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::conninfo::ConnSpec;

const PASSWORD: &str = "Tls-Pw-9cZ";

/// TLS-only TCP: `cert` for `pgvitals`, SCRAM for `pwuser` and for `postgres` (the
/// harness' per-run password: nobody else on the host gets in), and every other TCP
/// connection (including every non-TLS one) rejected. The `local` line keeps the harness'
/// psql (unix socket, trust) working.
const PG_HBA: &str = "local all all trust\n\
                      hostssl all pgvitals all cert\n\
                      hostssl all pwuser all scram-sha-256\n\
                      hostssl all postgres all scram-sha-256\n\
                      host all all all reject\n";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/conninfo/testdata")
        .join(name)
}

/// Writes `bytes` to `<data_dir>/<name>` with mode 0600 and the owner of the data directory
/// (the server refuses a key file readable by others, and must be able to read it).
fn write_owned(node: &Node, name: &str, bytes: &[u8]) {
    let meta = fs::metadata(&node.data_dir).unwrap();
    let path = node.data_dir.join(name);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    file.write_all(bytes).unwrap();
    drop(file);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(
            &path,
            Some(nix::unistd::Uid::from_raw(meta.uid())),
            Some(nix::unistd::Gid::from_raw(meta.gid())),
        )
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

/// A fresh cluster with TLS on, TLS-only pg_hba and the roles `pgvitals` (certificate) and
/// `pwuser` (password [`PASSWORD`]). Panics with the harness' error (e.g. no server binaries,
/// naming the package to install) when it cannot be started.
fn start_tls_cluster() -> Cluster {
    let cluster = Cluster::start(ClusterOptions {
        standby: false,
        shared_buffers: "16MB".to_string(),
        // 127.0.0.2 is outside the server certificate's names (for the verify-ca/verify-full
        // cases); `localhost` resolves to 127.0.0.1 only on this kind of host.
        extra_conf: vec!["listen_addresses = '127.0.0.1,127.0.0.2'".to_string()],
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| {
        panic!("the conninfo TLS test needs a throwaway PostgreSQL server, which failed: {e}")
    });
    let node = &cluster.primary;
    for name in ["server.crt", "server.key", "ca.crt"] {
        let bytes = fs::read(testdata(name))
            .unwrap_or_else(|e| panic!("read {}: {e}", testdata(name).display()));
        write_owned(node, name, &bytes);
    }
    // Overwriting keeps the existing file's owner and mode.
    fs::write(node.data_dir.join("pg_hba.conf"), PG_HBA).unwrap();
    node.psql(
        "postgres",
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt';\n\
         ALTER SYSTEM SET ssl_key_file = 'server.key';\n\
         ALTER SYSTEM SET ssl_ca_file = 'ca.crt';\n\
         ALTER SYSTEM SET ssl = on;\n\
         SELECT pg_reload_conf();\n",
    )
    .unwrap_or_else(|e| panic!("configure TLS: {e}"));
    let hba_errors = node
        .psql(
            "postgres",
            "SELECT string_agg(line_number || ': ' || error, '; ') FROM pg_hba_file_rules \
             WHERE error IS NOT NULL",
        )
        .unwrap();
    assert_eq!(hba_errors, "", "pg_hba.conf errors");
    // pg_reload_conf() only signals the postmaster. A new session shows `ssl = on` once the
    // postmaster has reloaded (and with it the TLS context and pg_hba.conf).
    let started = Instant::now();
    loop {
        let ssl = node.psql("postgres", "SHOW ssl").unwrap();
        if ssl == "on" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ssl still {ssl:?} 30 s after pg_reload_conf(); server log {}",
            node.log_file().display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node.psql(
        "postgres",
        &format!("CREATE ROLE pgvitals LOGIN; CREATE ROLE pwuser LOGIN PASSWORD '{PASSWORD}'"),
    )
    .unwrap_or_else(|e| panic!("create roles: {e}"));
    cluster
}

/// Connects and returns whether the session uses TLS (pg_stat_ssl.ssl), or the error text.
async fn connect(spec: &ConnSpec) -> Result<bool, String> {
    let tls = spec.make_tls().map_err(|e| e.to_string())?;
    let (client, connection) = spec
        .to_pg_config()
        .connect(tls)
        .await
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
    let task = tokio::spawn(connection);
    let row = client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    let ssl: bool = row.try_get(0).map_err(|e| e.to_string())?;
    drop(client);
    let _ = task.await;
    Ok(ssl)
}

/// `port=<node port> dbname=postgres <extra>`, plus the harness' password for `postgres`.
fn spec(node: &Node, extra: &str, home: Option<&Path>) -> ConnSpec {
    let mut arg = format!("port={} dbname=postgres {extra}", node.port);
    if extra.contains("user=postgres") {
        arg.push_str(&format!(" password={}", node.password()));
    }
    ConnSpec::parse_with(Some(&arg), &|_| None, home).unwrap()
}

#[tokio::test]
async fn tls_modes_against_a_real_server() {
    let cluster = start_tls_cluster();
    let node = &cluster.primary;
    let ca = testdata("ca.crt");
    let other = testdata("other.crt");
    let (ca, other) = (ca.display(), other.display());
    let ok: &[&str] = &[
        // allow: libpq tries without TLS first and, refused by pg_hba here, again with TLS;
        // tokio-postgres has no allow, so it is sent as prefer (TLS first): same outcome here
        "host=localhost user=postgres sslmode=allow",
        "host=localhost user=postgres sslmode=prefer",
        "host=localhost user=postgres sslmode=require",
        "host=127.0.0.1 user=postgres sslmode=require",
        &format!("host=127.0.0.1 user=postgres sslmode=verify-ca sslrootcert={ca}"),
        &format!("host=localhost user=postgres sslmode=verify-full sslrootcert={ca}"),
        &format!("host=127.0.0.1 user=postgres sslmode=verify-full sslrootcert={ca}"),
        &format!("host=localhost user=postgres sslmode=require sslrootcert={ca}"),
        // No host name check in verify-ca: 127.0.0.2 is not in the certificate.
        &format!("host=127.0.0.2 user=postgres sslmode=verify-ca sslrootcert={ca}"),
        &format!("host=127.0.0.2 user=postgres sslmode=require sslrootcert={ca}"),
    ];
    for extra in ok {
        let result = connect(&spec(node, extra, None)).await;
        assert_eq!(result, Ok(true), "{extra}");
    }
    // Each refused case with a piece of the error that says why (rustls' verifier or the
    // server's FATAL message), so a refusal for another reason (say, no server) fails.
    let refused: &[(&str, &str)] = &[
        // libpq: require with an existing root file verifies the chain.
        (
            &format!("host=localhost user=postgres sslmode=require sslrootcert={other}"),
            "UnknownIssuer",
        ),
        (
            &format!("host=localhost user=postgres sslmode=verify-ca sslrootcert={other}"),
            "UnknownIssuer",
        ),
        (
            &format!("host=localhost user=postgres sslmode=verify-full sslrootcert={other}"),
            "UnknownIssuer",
        ),
        // verify-full checks the host name.
        (
            &format!("host=127.0.0.2 user=postgres sslmode=verify-full sslrootcert={ca}"),
            "NotValidForName",
        ),
        // pg_hba rejects plain TCP: disable really disables TLS.
        (
            "host=localhost user=postgres sslmode=disable",
            "pg_hba.conf rejects connection",
        ),
        // The client certificate is required for the role pgvitals.
        (
            &format!("host=localhost user=pgvitals sslmode=verify-full sslrootcert={ca}"),
            "connection requires a valid client certificate",
        ),
    ];
    for (extra, reason) in refused {
        let result = connect(&spec(node, extra, None)).await;
        match &result {
            Err(e) if e.contains(reason) => {
                eprintln!("refused as expected: {extra}: {e}");
            }
            _ => panic!("{extra}: expected an error containing {reason:?}, got {result:?}"),
        }
    }

    // Client certificate authentication.
    let client = format!(
        "host=localhost user=pgvitals sslmode=verify-full sslrootcert={ca} sslcert={} sslkey={}",
        testdata("client.crt").display(),
        testdata("client.key").display()
    );
    assert_eq!(connect(&spec(node, &client, None)).await, Ok(true));

    // The unix socket never uses TLS, whatever sslmode says (libpq's rule).
    let socket = format!(
        "host={} user=postgres sslmode=require",
        node.socket_dir.display()
    );
    assert_eq!(connect(&spec(node, &socket, None)).await, Ok(false));

    // The password from ~/.pgpass over TLS, and the permission rule.
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    fs::write(
        &pgpass,
        format!("localhost:{}:*:pwuser:{PASSWORD}\n", node.port),
    )
    .unwrap();
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o600)).unwrap();
    let pw_spec = spec(
        node,
        "host=localhost user=pwuser sslmode=require",
        Some(home.path()),
    );
    assert!(pw_spec.password.is_some());
    assert_eq!(connect(&pw_spec).await, Ok(true));
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o644)).unwrap();
    let pw_spec = spec(
        node,
        "host=localhost user=pwuser sslmode=require",
        Some(home.path()),
    );
    assert!(pw_spec.password.is_none());
    assert_eq!(pw_spec.warnings.len(), 1);
    let err = connect(&pw_spec).await.unwrap_err();
    eprintln!("no password from a 0644 .pgpass: {err}");
    // The server asked for the SCRAM password and the client had none to give.
    assert!(err.contains("password missing"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}
