//! Real TLS handshakes against a throwaway PostgreSQL (15 here) started with `ssl=on` and the
//! test certificates of `src/conninfo/testdata` (a CA, a server certificate for `localhost` and
//! 127.0.0.1 signed by it, a client certificate for the role `pgvitals`, and an unrelated
//! self-signed certificate). pg_hba rejects every non-TLS TCP connection, so a successful TCP
//! connection proves TLS was used; `pg_stat_ssl` confirms it.
//!
//! Needs root (initdb runs as the `postgres` OS user) and PostgreSQL server binaries; without
//! them the test says so on stderr and passes.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgvitals::conninfo::ConnSpec;
use rand::Rng;

const PASSWORD: &str = "Tls-Pw-9cZ";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/conninfo/testdata")
        .join(name)
}

fn bin_dir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok();
    let from_pg_config = out
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    [
        from_pg_config,
        Some(PathBuf::from("/usr/lib/postgresql/15/bin")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

/// A server for this test only; stopped and removed on drop.
struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Server {
    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start() -> Option<Server> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to run initdb as the postgres user");
            return None;
        }
        let Some(bin) = bin_dir() else {
            eprintln!("skipped: no PostgreSQL server binaries");
            return None;
        };
        let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let port = rand::rng().random_range(20000..30000);
        let server = Server { dir, bin, port };
        nix::unistd::chown(server.dir.path(), Some(postgres.uid), Some(postgres.gid)).unwrap();
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
            ],
        );
        for name in ["server.crt", "server.key", "ca.crt"] {
            let to = data.join(name);
            fs::copy(testdata(name), &to).unwrap();
            nix::unistd::chown(to.as_path(), Some(postgres.uid), Some(postgres.gid)).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o600)).unwrap();
        }
        fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all pgvitals all cert\n\
             hostssl all pwuser all scram-sha-256\n\
             hostssl all postgres all trust\n\
             host all all all reject\n",
        )
        .unwrap();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = 'localhost,127.0.0.2'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'ca.crt'\nfsync = off\n",
            server.dir.path().display()
        );
        let mut text = fs::read_to_string(data.join("postgresql.conf")).unwrap();
        text.push_str(&conf);
        fs::write(data.join("postgresql.conf"), text).unwrap();
        let log = server.dir.path().join("log");
        server.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        let out = Command::new("psql")
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(server.dir.path())
            .args(["-p", &port.to_string(), "-U", "postgres", "-c"])
            .arg(format!(
                "create role pgvitals login; create role pwuser login password '{PASSWORD}'"
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"])
            .output();
    }
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

fn spec(server: &Server, extra: &str, home: Option<&Path>) -> ConnSpec {
    let arg = format!("port={} dbname=postgres {extra}", server.port);
    ConnSpec::parse_with(Some(&arg), &|_| None, home).unwrap()
}

#[tokio::test]
async fn tls_modes_against_a_real_server() {
    let Some(server) = Server::start() else {
        return;
    };
    let ca = testdata("ca.crt");
    let other = testdata("other.crt");
    let (ca, other) = (ca.display(), other.display());
    let ok: &[&str] = &[
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
        let result = connect(&spec(&server, extra, None)).await;
        assert_eq!(result, Ok(true), "{extra}");
    }
    let refused: &[&str] = &[
        // libpq: require with an existing root file verifies the chain.
        &format!("host=localhost user=postgres sslmode=require sslrootcert={other}"),
        &format!("host=localhost user=postgres sslmode=verify-ca sslrootcert={other}"),
        &format!("host=localhost user=postgres sslmode=verify-full sslrootcert={other}"),
        // verify-full checks the host name.
        &format!("host=127.0.0.2 user=postgres sslmode=verify-full sslrootcert={ca}"),
        // pg_hba rejects plain TCP: disable really disables TLS.
        "host=localhost user=postgres sslmode=disable",
        // The client certificate is required for the role pgvitals.
        &format!("host=localhost user=pgvitals sslmode=verify-full sslrootcert={ca}"),
    ];
    for extra in refused {
        let result = connect(&spec(&server, extra, None)).await;
        assert!(result.is_err(), "{extra}: {result:?}");
        eprintln!("refused as expected: {extra}: {result:?}");
    }

    // Client certificate authentication.
    let client = format!(
        "host=localhost user=pgvitals sslmode=verify-full sslrootcert={ca} sslcert={} sslkey={}",
        testdata("client.crt").display(),
        testdata("client.key").display()
    );
    assert_eq!(connect(&spec(&server, &client, None)).await, Ok(true));

    // The unix socket never uses TLS, whatever sslmode says (libpq's rule).
    let socket = format!(
        "host={} user=postgres sslmode=require",
        server.dir.path().display()
    );
    assert_eq!(connect(&spec(&server, &socket, None)).await, Ok(false));

    // The password from ~/.pgpass over TLS, and the permission rule.
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    fs::write(
        &pgpass,
        format!("localhost:{}:*:pwuser:{PASSWORD}\n", server.port),
    )
    .unwrap();
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o600)).unwrap();
    let pw_spec = spec(
        &server,
        "host=localhost user=pwuser sslmode=require",
        Some(home.path()),
    );
    assert!(pw_spec.password.is_some());
    assert_eq!(connect(&pw_spec).await, Ok(true));
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o644)).unwrap();
    let pw_spec = spec(
        &server,
        "host=localhost user=pwuser sslmode=require",
        Some(home.path()),
    );
    assert!(pw_spec.password.is_none());
    assert_eq!(pw_spec.warnings.len(), 1);
    let err = connect(&pw_spec).await.unwrap_err();
    assert!(!err.contains(PASSWORD), "{err}");
}
