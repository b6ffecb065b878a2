//! The throwaway clusters and the demo are reachable only by the OS user who started them:
//! private directories, SCRAM on TCP with a per-run password, and an `initdb` template cache
//! that a planted symlink or a foreign directory cannot redirect.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::unistd::{Uid, User};
use pgvitals::cluster::{Cluster, ClusterOptions, Node};

use crate::common::{cluster, primary, standby};

/// The uid the harness runs servers as: `postgres` (else `nobody`) when we are root, else us.
fn server_uid() -> Uid {
    let me = nix::unistd::geteuid();
    if !me.is_root() {
        return me;
    }
    ["postgres", "nobody"]
        .iter()
        .find_map(|n| User::from_name(n).ok().flatten())
        .map(|u| u.uid)
        .expect("running as root needs a `postgres` or `nobody` OS user")
}

fn assert_private_dir(path: &Path, owner: Uid) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(meta.is_dir(), "{} is not a real directory", path.display());
    assert_eq!(
        meta.mode() & 0o777,
        0o700,
        "{} has mode {:o}",
        path.display(),
        meta.mode() & 0o7777
    );
    assert_eq!(
        meta.uid(),
        owner.as_raw(),
        "{} is owned by uid {}",
        path.display(),
        meta.uid()
    );
}

#[test]
fn cluster_data_and_socket_directories_are_mode_0700_and_owned_by_the_server_user() {
    let owner = server_uid();
    assert_private_dir(cluster().dir(), owner);
    for node in [primary(), standby()] {
        assert_private_dir(&node.socket_dir, owner);
        assert_private_dir(&node.data_dir, owner);
    }
}

/// Connects over TCP with `conninfo`; the session's server address, or the error text.
async fn tcp_connect(conninfo: &str) -> Result<String, String> {
    let config: tokio_postgres::Config = conninfo.parse().map_err(|e| format!("{e}"))?;
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let row = client
        .query_one("SELECT inet_server_addr()::text", &[])
        .await
        .map_err(|e| e.to_string())?;
    row.try_get::<_, String>(0).map_err(|e| e.to_string())
}

#[tokio::test]
async fn tcp_connections_need_the_per_run_password() {
    for node in [primary(), standby()] {
        let bare = format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
            node.port
        );
        let err = tcp_connect(&bare)
            .await
            .expect_err("TCP without a password must be refused");
        assert!(err.contains("password"), "{}: {err}", node.name);

        let wrong = format!("{bare} password=not-the-password");
        let err = tcp_connect(&wrong)
            .await
            .expect_err("TCP with a wrong password must be refused");
        assert!(
            err.contains("password authentication failed"),
            "{}: {err}",
            node.name
        );

        assert_eq!(node.password().len(), 32);
        let addr = tcp_connect(&node.tcp_conninfo("postgres"))
            .await
            .unwrap_or_else(|e| panic!("{} with the password: {e}", node.name));
        assert_eq!(addr, "127.0.0.1/32", "{}", node.name);
    }
    assert_eq!(primary().password(), standby().password());
    // Debug output (panics, logs) never shows it.
    let debug = format!("{:?}", cluster());
    assert!(!debug.contains(primary().password()), "{debug}");
}

#[test]
fn the_standby_replicates_over_the_primary_socket_without_a_password() {
    let conninfo = standby()
        .psql("postgres", "SELECT conninfo FROM pg_stat_wal_receiver")
        .expect("pg_stat_wal_receiver");
    let socket = primary().socket_dir.display().to_string();
    assert!(
        conninfo.contains(&format!("host={socket}")),
        "the standby's primary_conninfo is not the primary's socket {socket}: {conninfo}"
    );
    assert!(!conninfo.contains("127.0.0.1"), "{conninfo}");
}

/// `pgvitals snapshot` on `conninfo`, as `uid`/`gid` when given, from a copy of the binary
/// in `bin_dir`, with a clean environment.
fn snapshot_as(bin_dir: &Path, who: Option<&User>, conninfo: &str) -> Output {
    let mut cmd = Command::new(bin_dir.join("pgvitals"));
    cmd.args(["snapshot", "--interval", "100ms", conninfo])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", bin_dir)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .current_dir(bin_dir)
        .stdin(Stdio::null());
    if let Some(user) = who {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    cmd.output().expect("run pgvitals snapshot")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// As root: another OS user (`nobody`) is refused on the socket (permission denied on the
/// 0700 directory) and on TCP (no password), while we get in. Not root: we cannot switch
/// users, so this checks only our own side (socket in, TCP without password out); the
/// directory modes and TCP authentication are asserted by the two tests above.
#[test]
fn another_os_user_cannot_connect_to_the_cluster() {
    let node = primary();
    let bin_dir = tempfile::Builder::new()
        .prefix("pgvitals-probe-")
        .tempdir()
        .expect("temp dir");
    fs::set_permissions(bin_dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = bin_dir.path().join("pgvitals");
    // copied by `install`, not `fs::copy`: a file this process held open for writing would
    // be inherited by children other tests fork meanwhile, and exec'ing it would then fail
    // with ETXTBSY ("Text file busy") until they exec
    let copied = Command::new("install")
        .args(["-m", "0755", env!("CARGO_BIN_EXE_pgvitals")])
        .arg(&bin)
        .status()
        .expect("run install");
    assert!(copied.success(), "copy the pgvitals binary: {copied}");

    let socket = node.conninfo("postgres");
    let tcp = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
        node.port
    );

    let ours = snapshot_as(bin_dir.path(), None, &socket);
    assert!(
        matches!(ours.status.code(), Some(0..=2)),
        "we must get in over the socket: {}",
        describe(&ours)
    );
    let ours = snapshot_as(bin_dir.path(), None, &node.tcp_conninfo("postgres"));
    assert!(
        matches!(ours.status.code(), Some(0..=2)),
        "we must get in over TCP with the password: {}",
        describe(&ours)
    );
    let ours = snapshot_as(bin_dir.path(), None, &tcp);
    assert_eq!(ours.status.code(), Some(3), "{}", describe(&ours));
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("password"),
        "{}",
        describe(&ours)
    );

    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let nobody = User::from_name("nobody")
        .expect("look up the nobody OS user")
        .expect("running as root, this test needs a `nobody` OS user to probe as");
    assert_ne!(
        nobody.uid,
        server_uid(),
        "the servers run as nobody (no `postgres` OS user): add one, useradd --system postgres"
    );
    let theirs = snapshot_as(bin_dir.path(), Some(&nobody), &socket);
    assert_eq!(theirs.status.code(), Some(3), "{}", describe(&theirs));
    let stderr = String::from_utf8_lossy(&theirs.stderr).to_lowercase();
    assert!(
        stderr.contains("permission denied"),
        "{}",
        describe(&theirs)
    );
    eprintln!("nobody on the socket, refused: {}", describe(&theirs));

    let theirs = snapshot_as(bin_dir.path(), Some(&nobody), &tcp);
    assert_eq!(theirs.status.code(), Some(3), "{}", describe(&theirs));
    let stderr = String::from_utf8_lossy(&theirs.stderr).to_lowercase();
    assert!(stderr.contains("password"), "{}", describe(&theirs));
    eprintln!("nobody on TCP, refused: {}", describe(&theirs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_connects_over_unix_sockets_only() {
    let demo = pgvitals::demo::Demo::start(Duration::from_secs(2), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let conninfos = demo.conninfos().to_vec();
    assert_eq!(conninfos.len(), 2, "{conninfos:?}");
    let mut ports = Vec::new();
    for c in &conninfos {
        let config: tokio_postgres::Config = c.parse().expect("demo conninfo parses");
        for host in config.get_hosts() {
            assert!(
                matches!(host, tokio_postgres::config::Host::Unix(_)),
                "{c}: {host:?} is not a unix socket"
            );
        }
        assert!(!c.contains("127.0.0.1") && !c.contains("password"), "{c}");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{c}: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let row = client
            .query_one(
                "SELECT inet_server_addr() IS NULL, current_database()::text",
                &[],
            )
            .await
            .expect("query");
        assert!(row.get::<_, bool>(0), "{c} is not a unix-socket session");
        assert_eq!(row.get::<_, String>(1), "shop");
        ports.extend(config.get_ports().iter().copied());
    }
    for port in ports {
        let err = tcp_connect(&format!(
            "host=127.0.0.1 port={port} user=postgres dbname=shop sslmode=disable"
        ))
        .await
        .expect_err("the demo's TCP port must ask for a password");
        assert!(err.contains("password"), "{port}: {err}");
    }
    demo.stop().await;
}

// --- the initdb template cache (item: a planted template must not be used) ---

/// Marks the cached template so a cluster made from it can be recognised.
const MARKER: &str = "# pgvitals-test planted template";

fn has_marker(node: &Node) -> bool {
    fs::read_to_string(node.data_dir.join("postgresql.conf"))
        .map(|t| t.contains(MARKER))
        .unwrap_or(false)
}

fn try_start_with_cache(cache: &Path) -> Result<Cluster, pgvitals::cluster::ClusterError> {
    Cluster::start(ClusterOptions {
        template_cache: Some(cache.to_path_buf()),
        ..ClusterOptions::default()
    })
}

/// A cluster started with the template cache `cache`; it works, in a real data directory.
fn start_with_cache(cache: &Path) -> Cluster {
    let c = try_start_with_cache(cache)
        .unwrap_or_else(|e| panic!("start with template cache {}: {e}", cache.display()));
    assert_working(&c);
    c
}

fn assert_working(c: &Cluster) {
    assert_eq!(c.primary.psql("postgres", "SELECT 1").expect("psql"), "1");
    let meta = fs::symlink_metadata(&c.primary.data_dir).expect("data dir");
    assert!(
        meta.is_dir(),
        "{} is not a real directory",
        c.primary.data_dir.display()
    );
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

#[test]
fn a_planted_template_cache_is_never_used_nor_followed_to_another_cluster() {
    let victim = Cluster::start(ClusterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let victim_conf_path = victim.primary.data_dir.join("postgresql.conf");
    let victim_conf = fs::read_to_string(&victim_conf_path).expect("victim conf");
    let victim_pid = victim.primary.postmaster_pid().expect("victim running");
    let victim_intact = |when: &str| {
        let now = fs::read_to_string(&victim_conf_path).expect("victim conf");
        assert!(
            now == victim_conf,
            "{when}: the victim's postgresql.conf changed ({} bytes, now {}), last lines: {}",
            victim_conf.len(),
            now.len(),
            now.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
        );
        assert_eq!(victim.primary.postmaster_pid(), Some(victim_pid), "{when}");
        assert_eq!(
            victim.primary.psql("postgres", "SELECT 1").ok().as_deref(),
            Some("1"),
            "{when}: the victim server stopped"
        );
    };

    let scratch = tempfile::Builder::new()
        .prefix("pgvitals-cache-test-")
        .tempdir()
        .expect("temp dir");
    let cache = scratch.path().join("cache");
    drop(start_with_cache(&cache));
    assert_private_dir(&cache, nix::unistd::geteuid());
    let entries: Vec<PathBuf> = fs::read_dir(&cache)
        .expect("read cache")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .starts_with('.')
        })
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let template = entries[0].clone();
    assert_private_dir(&template, server_uid());
    let mut conf = fs::OpenOptions::new()
        .append(true)
        .open(template.join("postgresql.conf"))
        .expect("template conf");
    std::io::Write::write_all(&mut conf, format!("\n{MARKER}\n").as_bytes()).expect("mark");
    drop(conf);

    // A trusted cache is used (the check below means something).
    let c = start_with_cache(&cache);
    assert!(has_marker(&c.primary), "the trusted template was not used");
    drop(c);

    // The template is a symlink to another cluster's data directory.
    let real = scratch.path().join("real-template");
    fs::rename(&template, &real).expect("move the template away");
    std::os::unix::fs::symlink(&victim.primary.data_dir, &template).expect("symlink");
    // (A failed start has already stopped what it started: check the victim first.)
    let started = try_start_with_cache(&cache);
    victim_intact("after a start through a symlinked template");
    let c = started.unwrap_or_else(|e| panic!("start through a symlinked template: {e}"));
    assert_working(&c);
    drop(c);
    victim_intact("after stopping the cluster started through a symlinked template");
    fs::remove_file(&template).expect("remove symlink");
    fs::rename(&real, &template).expect("restore the template");

    // The cache directory itself is a symlink.
    let link = scratch.path().join("cache-link");
    std::os::unix::fs::symlink(&cache, &link).expect("symlink");
    let c = start_with_cache(&link);
    assert!(
        !has_marker(&c.primary),
        "used a template through a symlinked cache"
    );
    drop(c);

    // Writable by others: the template, then the cache directory.
    for (path, restore) in [(&template, 0o700), (&cache, 0o700)] {
        set_mode(path, 0o777);
        let c = start_with_cache(&cache);
        set_mode(path, restore);
        assert!(
            !has_marker(&c.primary),
            "used a template with {} writable by others",
            path.display()
        );
    }

    // Owned by another user (as root only: we cannot give files away otherwise).
    if nix::unistd::geteuid().is_root() {
        let nobody = User::from_name("nobody")
            .expect("look up nobody")
            .expect("running as root, this test needs a `nobody` OS user");
        let owners = [(&template, server_uid()), (&cache, nix::unistd::geteuid())];
        for (path, owner) in owners {
            nix::unistd::chown(path.as_path(), Some(nobody.uid), None).expect("chown");
            let c = start_with_cache(&cache);
            nix::unistd::chown(path.as_path(), Some(owner), None).expect("chown back");
            assert!(
                !has_marker(&c.primary),
                "used a template with {} owned by nobody",
                path.display()
            );
        }
    }
    victim_intact("at the end");
}
