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
/// harness' per-run password: nobody else on the host gets in), a clear-text password for
/// `pwplain` over TLS or plain TCP (what channel_binding=require must refuse), and every other
/// TCP connection (including every non-TLS one) rejected. The `local` line keeps the harness'
/// psql (unix socket, trust) working.
const PG_HBA: &str = "local all all trust\n\
                      hostssl all pgvitals all cert\n\
                      hostssl all pwuser all scram-sha-256\n\
                      hostssl all postgres all scram-sha-256\n\
                      host all pwplain all password\n\
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

/// A fresh cluster with TLS on (the test certificates of `src/conninfo/testdata`), TLS-only
/// pg_hba and the roles `pgvitals` (certificate) and `pwuser` (password [`PASSWORD`]).
/// Panics with the harness' error (e.g. no server binaries, naming the package to install)
/// when it cannot be started.
fn start_tls_cluster() -> Cluster {
    let read = |name: &str| {
        fs::read(testdata(name))
            .unwrap_or_else(|e| panic!("read {}: {e}", testdata(name).display()))
    };
    start_tls_cluster_with(&read("server.crt"), &read("server.key"), &read("ca.crt"))
}

/// [`start_tls_cluster`] with the given server certificate, key and client CA (PEM).
fn start_tls_cluster_with(cert: &[u8], key: &[u8], ca: &[u8]) -> Cluster {
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
    write_owned(node, "server.crt", cert);
    write_owned(node, "server.key", key);
    write_owned(node, "ca.crt", ca);
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
        &format!(
            "CREATE ROLE pgvitals LOGIN; CREATE ROLE pwuser LOGIN PASSWORD '{PASSWORD}'; \
             CREATE ROLE pwplain LOGIN PASSWORD '{PASSWORD}'"
        ),
    )
    .unwrap_or_else(|e| panic!("create roles: {e}"));
    cluster
}

/// Connects and returns whether the session uses TLS (pg_stat_ssl.ssl), or the error text.
async fn connect(spec: &ConnSpec) -> Result<bool, String> {
    let connector = spec.connector(&|_| {}).map_err(|e| e.to_string())?;
    let (client, task) = connector
        .connect()
        .await
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
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

    // Client certificate authentication (the key copied 0600: libpq refuses a key file
    // that group or others can read, and so do we).
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("client.key");
    fs::copy(testdata("client.key"), &key).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let client = format!(
        "host=localhost user=pgvitals sslmode=verify-full sslrootcert={ca} sslcert={} sslkey={}",
        testdata("client.crt").display(),
        key.display()
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
    assert!(pw_spec.password_for(0).is_some());
    assert_eq!(connect(&pw_spec).await, Ok(true));
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o644)).unwrap();
    let pw_spec = spec(
        node,
        "host=localhost user=pwuser sslmode=require",
        Some(home.path()),
    );
    assert!(pw_spec.password_for(0).is_none());
    assert_eq!(pw_spec.warnings.len(), 1);
    let err = connect(&pw_spec).await.unwrap_err();
    eprintln!("no password from a 0644 .pgpass: {err}");
    // The server asked for the SCRAM password and the client had none to give.
    assert!(err.contains("password missing"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

/// A certificate authority made by the test, writing PEM files into `dir`.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate and key (PEM): `sans` as DNS/IP SANs (none: CN only), `cn` as
    /// the subject's Common Name, `serial` for CRLs.
    fn server(&self, sans: &[&str], cn: &str, serial: u64) -> (String, String) {
        use rcgen::{CertificateParams, DnType, KeyPair, SanType, SerialNumber};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for san in sans {
            params
                .subject_alt_names
                .push(match san.parse::<std::net::IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName((*san).try_into().unwrap()),
                });
        }
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A CRL revoking `serials`, valid until 2090.
    fn crl(&self, serials: &[u64]) -> String {
        use rcgen::{
            CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber,
        };
        CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2090, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: rcgen::date_time_ymd(2024, 6, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .unwrap()
        .pem()
        .unwrap()
    }
}

/// Swaps the server certificate and reloads; returns once a verify-full connection to
/// `host` with `root` (a PEM file) succeeds, i.e. the new certificate is served.
async fn serve_certificate(node: &Node, cert: &str, key: &str, root: &Path, host: &str) {
    write_owned(node, "server.crt", cert.as_bytes());
    write_owned(node, "server.key", key.as_bytes());
    node.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    let extra = format!(
        "host={host} user=postgres sslmode=verify-full sslrootcert={}",
        root.display()
    );
    let started = Instant::now();
    loop {
        match connect(&spec(node, &extra, None)).await {
            Ok(true) => return,
            other => assert!(
                started.elapsed() < Duration::from_secs(30),
                "the new certificate is still not served 30 s after the reload: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `pgvitals snapshot` on `conninfo` with a clean environment (`HOME` = `home`) plus `env`;
/// returns the exit status and stderr.
fn snapshot(conninfo: &str, home: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pgvitals"));
    cmd.args(["snapshot", "--interval", "100ms", conninfo])
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 8, items 1, 3 and 4 (TLS): a man in the middle with a certificate from a public CA
/// (one in the "system store", `SSL_CERT_FILE`) is not trusted by verify-ca without a root
/// certificate file; the system store is used only with `sslrootcert=system` and
/// verify-full; a CN-only certificate matches on its CN; a revoked certificate is refused;
/// `channel_binding=require` refuses what does not bind the channel.
#[tokio::test]
async fn tls_roots_names_revocation_and_channel_binding() {
    let private_ca = TestCa::new("pgvitals private CA");
    let public_ca = TestCa::new("a public CA in the system store");
    // The man in the middle: a certificate for localhost from the public CA.
    let (mitm_cert, mitm_key) = public_ca.server(&["localhost", "127.0.0.1"], "localhost", 9);
    let cluster = start_tls_cluster_with(
        mitm_cert.as_bytes(),
        mitm_key.as_bytes(),
        private_ca.pem.as_bytes(),
    );
    let node = &cluster.primary;
    let files = tempfile::tempdir().unwrap();
    let public_bundle = files.path().join("system-store.pem");
    fs::write(&public_bundle, &public_ca.pem).unwrap();
    let private_root = files.path().join("private-root.crt");
    fs::write(&private_root, &private_ca.pem).unwrap();
    let home = tempfile::tempdir().unwrap(); // no ~/.postgresql/root.crt
    let system_store = [("SSL_CERT_FILE", public_bundle.to_str().unwrap())];
    let port = node.port;
    let pw = node.password();

    // verify-ca without a root certificate file: libpq's error, not the system store (which
    // would trust the public CA's certificate). Before the fix this connected.
    for mode in ["verify-ca", "verify-full"] {
        let (code, err) = snapshot(
            &format!(
                "host=localhost port={port} user=postgres password={pw} dbname=postgres sslmode={mode}"
            ),
            home.path(),
            &system_store,
        );
        let want = format!(
            "root certificate file \"{}\" does not exist",
            home.path().join(".postgresql/root.crt").display()
        );
        assert_eq!(code, 3, "{mode}: {err}");
        assert!(err.contains(&want), "{mode}: {err}");
    }
    // sslrootcert=system is the one way to the system store, and only with verify-full.
    let (code, err) = snapshot(
        &format!(
            "host=localhost port={port} user=postgres password={pw} dbname=postgres sslmode=verify-ca sslrootcert=system"
        ),
        home.path(),
        &system_store,
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("weak sslmode \"verify-ca\""), "{err}");
    let (code, err) = snapshot(
        &format!(
            "host=localhost port={port} user=postgres password={pw} dbname=postgres sslrootcert=system"
        ),
        home.path(),
        &system_store,
    );
    assert_ne!(code, 3, "sslrootcert=system trusts the system store: {err}");
    // The private root does not vouch for the public CA's certificate.
    let err = connect(&spec(
        node,
        &format!(
            "host=localhost user=postgres sslmode=verify-ca sslrootcert={}",
            private_root.display()
        ),
        None,
    ))
    .await
    .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");

    // A certificate with only a CN (no SAN): matched on the CN, as libpq does (rustls alone
    // rejects it). An IP host is not the CN.
    let (cn_cert, cn_key) = private_ca.server(&[], "localhost", 42);
    serve_certificate(node, &cn_cert, &cn_key, &private_root, "localhost").await;
    let err = connect(&spec(
        node,
        &format!(
            "host=127.0.0.1 user=postgres sslmode=verify-full sslrootcert={}",
            private_root.display()
        ),
        None,
    ))
    .await
    .unwrap_err();
    assert!(err.contains("NotValidForName"), "{err}");

    // Revocation: the same certificate (serial 42) listed in sslcrl is refused.
    let crl = files.path().join("root.crl");
    fs::write(&crl, private_ca.crl(&[42])).unwrap();
    let with_crl = format!(
        "host=localhost user=postgres sslmode=verify-full sslrootcert={} sslcrl={}",
        private_root.display(),
        crl.display()
    );
    let err = connect(&spec(node, &with_crl, None)).await.unwrap_err();
    assert!(err.contains("Revoked"), "{err}");
    fs::write(&crl, private_ca.crl(&[7])).unwrap();
    assert_eq!(connect(&spec(node, &with_crl, None)).await, Ok(true));

    // channel_binding=require: SCRAM over TLS binds the channel; a clear-text password
    // request, over TLS or plain TCP, is refused before the password is sent (before the fix
    // the option was ignored and the password went out).
    let bound = format!("host=localhost user=pwuser password={PASSWORD} channel_binding=require");
    assert_eq!(connect(&spec(node, &bound, None)).await, Ok(true));
    let clear_over_tls =
        format!("host=localhost user=pwplain password={PASSWORD} channel_binding=require");
    let err = connect(&spec(node, &clear_over_tls, None))
        .await
        .unwrap_err();
    assert!(err.contains("channel binding"), "{err}");
    let plain = format!(
        "host=localhost user=pwplain password={PASSWORD} sslmode=disable channel_binding=require"
    );
    let err = connect(&spec(node, &plain, None)).await.unwrap_err();
    assert!(err.contains("channel binding"), "{err}");
    // Without the requirement the same role logs in in clear text (so the refusal above is
    // channel_binding's doing).
    let plain = format!("host=localhost user=pwplain password={PASSWORD} sslmode=disable");
    assert_eq!(connect(&spec(node, &plain, None)).await, Ok(false));
    // TLS 1.3 only, and no SNI: still TLS.
    let v13 =
        "host=localhost user=postgres sslmode=require ssl_min_protocol_version=TLSv1.3 sslsni=0";
    assert_eq!(connect(&spec(node, v13, None)).await, Ok(true));
}

/// A plain (no TLS) cluster whose TCP connections need a SCRAM password, with the role
/// `leaky` (password `pw`).
fn start_scram_cluster(pw: &str) -> Cluster {
    let cluster = Cluster::start(ClusterOptions::default()).unwrap_or_else(|e| {
        panic!("the password test needs a throwaway PostgreSQL server, which failed: {e}")
    });
    let node = &cluster.primary;
    fs::write(
        node.data_dir.join("pg_hba.conf"),
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    node.psql(
        "postgres",
        &format!(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE leaky LOGIN PASSWORD '{pw}'; \
             SELECT pg_reload_conf()"
        ),
    )
    .unwrap();
    cluster
}

/// Issue 8, item 5: with `host=A,B`, the password file entry of host A never reaches host B
/// (before the fix B got A's password: a login to B with a password meant only for A).
/// Also `requiressl=1` (item 4) against a server without TLS, and `requirepeer` on a socket.
#[tokio::test]
async fn each_host_gets_only_its_own_password() {
    const PW_A: &str = "pw-meant-for-A-only";
    // B accepts A's password: a leak shows as a successful login.
    let b = start_scram_cluster(PW_A);
    let node_b = &b.primary;
    let a = start_scram_cluster(PW_A);
    let port_a = a.primary.port;
    // Host A is down when we connect, so the connection moves on to B.
    drop(a);
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    fs::write(&pgpass, format!("127.0.0.1:{port_a}:*:leaky:{PW_A}\n")).unwrap();
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o600)).unwrap();
    let arg = format!(
        "host=127.0.0.1,127.0.0.1 port={port_a},{} user=leaky dbname=postgres sslmode=disable",
        node_b.port
    );
    let spec = ConnSpec::parse_with(Some(&arg), &|_| None, Some(home.path())).unwrap();
    assert_eq!(spec.password_for(0).map(|p| p.expose()), Some(PW_A));
    assert_eq!(spec.password_for(1), None);
    let err = connect(&spec).await.unwrap_err();
    assert!(
        err.contains("password missing"),
        "B must get no password: {err}"
    );
    let logins = node_b
        .psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'leaky'",
        )
        .unwrap();
    assert_eq!(logins, "0");
    // With an entry of its own, B gets that one.
    fs::write(
        &pgpass,
        format!(
            "127.0.0.1:{port_a}:*:leaky:{PW_A}\n127.0.0.1:{}:*:leaky:{PW_A}\n",
            node_b.port
        ),
    )
    .unwrap();
    let spec = ConnSpec::parse_with(Some(&arg), &|_| None, Some(home.path())).unwrap();
    assert_eq!(connect(&spec).await, Ok(false));

    // requiressl=1 (libpq's old spelling of sslmode=require) against a server without TLS.
    let arg = format!(
        "host=127.0.0.1 port={} user=leaky password={PW_A} dbname=postgres requiressl=1",
        node_b.port
    );
    let spec = ConnSpec::parse_with(Some(&arg), &|_| None, None).unwrap();
    assert_eq!(spec.sslmode, pgvitals::conninfo::SslMode::Require);
    let err = connect(&spec).await.unwrap_err();
    assert!(
        err.to_lowercase().contains("tls") || err.contains("SSL"),
        "{err}"
    );

    // requirepeer on the unix socket: the server's OS user passes, another name fails before
    // anything is sent.
    let owner = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(
        fs::metadata(&node_b.data_dir).unwrap().uid(),
    ))
    .unwrap()
    .unwrap()
    .name;
    let socket = format!(
        "host={} port={} user=postgres dbname=postgres",
        node_b.socket_dir.display(),
        node_b.port
    );
    let spec = ConnSpec::parse_with(
        Some(&format!("{socket} requirepeer={owner}")),
        &|_| None,
        None,
    )
    .unwrap();
    assert_eq!(connect(&spec).await, Ok(false));
    let spec = ConnSpec::parse_with(
        Some(&format!("{socket} requirepeer=not-{owner}")),
        &|_| None,
        None,
    )
    .unwrap();
    let err = connect(&spec).await.unwrap_err();
    // The warning of an ignored password file reaches the snapshot JSON (and the screen's
    // header: tests/render.rs), not only stderr.
    let loose = tempfile::tempdir().unwrap();
    let loose_pgpass = loose.path().join(".pgpass");
    fs::write(&loose_pgpass, "*:*:*:*:whatever\n").unwrap();
    fs::set_permissions(&loose_pgpass, fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .args(["snapshot", "--interval", "100ms", &socket])
        .env_clear()
        .env("HOME", loose.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(3), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = doc["connection_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{doc:#}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("has group or world access: ignored"),
        "{warnings:?}"
    );
    assert!(!warnings[0].as_str().unwrap().contains("whatever"));
    // (the source error, Debug-quoted by `connect`)
    assert!(
        err.contains("requirepeer specifies") && err.contains("but actual peer user name is"),
        "{err}"
    );
}

/// Issue 8, item 7: a PG* variable that is not valid UTF-8 is an error, not skipped (a bad
/// PGHOST used to connect to the default socket instead).
#[test]
fn environment_that_is_not_utf8_is_an_error() {
    use std::os::unix::ffi::OsStrExt;
    let home = tempfile::tempdir().unwrap();
    for name in ["PGHOST", "PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgvitals"))
            .args(["snapshot", "--interval", "100ms"])
            .env_clear()
            .env("HOME", home.path())
            .env(name, std::ffi::OsStr::from_bytes(b"db\xff\xfe"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(&format!("environment variable {name} is not valid UTF-8")),
            "{name}: {err}"
        );
    }
}

/// Issue 8, items 6 and 14: an unencoded `@` in a URI password shows no part of it; a root
/// certificate file that is a device is refused at once.
#[test]
fn userinfo_never_shown_and_devices_refused() {
    let home = tempfile::tempdir().unwrap();
    let (code, err) = snapshot("postgresql://u:SEC@RETPW@db.example/app", home.path(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("percent-encode"), "{err}");
    for part in ["SEC", "RETPW"] {
        assert!(!err.contains(part), "{part} leaked: {err}");
    }
    let started = Instant::now();
    let (code, err) = snapshot(
        "host=127.0.0.1 port=1 user=u sslmode=verify-ca sslrootcert=/dev/zero",
        home.path(),
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Issue 13: a service file with two services, one over verified TLS to one server and one
/// over plain TCP to another, each reaching its own server with its own options, the
/// argument's keywords winning over the service's and the service's over the environment.
/// And `hostaddr`: TCP to the address, TLS verifying the host name.
#[tokio::test]
async fn a_service_file_reaches_each_service_with_its_options() {
    let tls = start_tls_cluster();
    let secure = &tls.primary;
    let plain_cluster = start_scram_cluster("unused-pw");
    let plain = &plain_cluster.primary;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.conf");
    let ca = testdata("ca.crt");
    fs::write(
        &file,
        format!(
            "# two servers\n\
             [secure]\n\
             host=localhost\n\
             port={}\n\
             dbname=postgres\n\
             user=pwuser\n\
             password={PASSWORD}\n\
             sslmode=verify-full\n\
             sslrootcert={}\n\
             application_name=svc-secure\n\
             \n\
             [plain]\n\
             host=127.0.0.1\n\
             port={}\n\
             dbname=postgres\n\
             user=postgres\n\
             password={}\n\
             sslmode=disable\n\
             application_name=svc-plain\n",
            secure.port,
            ca.display(),
            plain.port,
            plain.password()
        ),
    )
    .unwrap();
    let file_s = file.display().to_string();
    // PGPORT and PGAPPNAME would send both elsewhere: the service's values win over them.
    let env = |k: &str| match k {
        "PGSERVICEFILE" => Some(file_s.clone()),
        "PGPORT" => Some("1".to_owned()),
        "PGAPPNAME" => Some("from-env".to_owned()),
        "PGSYSCONFDIR" => Some(dir.path().join("nothing-here").display().to_string()),
        _ => None,
    };
    // (tls?, port, application_name) as the server sees the session
    async fn session(spec: &ConnSpec) -> Result<(bool, String, String), String> {
        let connector = spec.connector(&|_| {}).map_err(|e| e.to_string())?;
        let (client, _task) = connector.connect().await.map_err(|e| format!("{e:?}"))?;
        let row = client
            .query_one(
                "SELECT s.ssl, current_setting('port'), current_setting('application_name') \
                 FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }
    let parse = |arg: &str| ConnSpec::parse_with(Some(arg), &env, None).unwrap();
    assert_eq!(
        session(&parse("service=secure")).await,
        Ok((true, secure.port.to_string(), "svc-secure".to_owned()))
    );
    assert_eq!(
        session(&parse("service=plain")).await,
        Ok((false, plain.port.to_string(), "svc-plain".to_owned()))
    );
    // the argument wins over the service
    assert_eq!(
        session(&parse("service=plain application_name=from-arg")).await,
        Ok((false, plain.port.to_string(), "from-arg".to_owned()))
    );
    // the service's TLS options hold: the secure service to a host outside the certificate
    // (verify-full from the service) is refused
    let err = session(&parse("service=secure host=127.0.0.2"))
        .await
        .unwrap_err();
    assert!(
        err.contains("NotValidForName") || err.contains("certificate"),
        "{err}"
    );

    // hostaddr: connect to the address, verify the name. `db.invalid` cannot resolve, so a
    // connection proves the address was used; the certificate is for localhost.
    let ca_s = ca.display();
    let by_addr = |name: &str| {
        ConnSpec::parse_with(
            Some(&format!(
                "host={name} hostaddr=127.0.0.1 port={} dbname=postgres user=pwuser password={PASSWORD} sslmode=verify-full sslrootcert={ca_s}",
                secure.port
            )),
            &|_| None,
            None,
        )
        .unwrap()
    };
    assert_eq!(session(&by_addr("localhost")).await.map(|s| s.0), Ok(true));
    let err = session(&by_addr("db.invalid")).await.unwrap_err();
    assert!(
        err.contains("NotValidForName"),
        "the name is what TLS checks: {err}"
    );
}
