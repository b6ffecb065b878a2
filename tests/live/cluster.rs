//! Tests of the harness itself: `pgvitals::cluster` and `common`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgvitals::cluster::{Cluster, ClusterError, ClusterOptions, STANDBY_SLOT};

use crate::common::{self, cluster, primary, standby, unique, wait_until, wait_until_async};

/// Set in the environment of the child processes the reaper tests start.
const CHILD_ENV: &str = "PGVITALS_CLUSTER_TEST_CHILD";

fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// The postmaster removes `postmaster.pid` just before it exits, and `pg_ctl stop` returns
/// then: give the process a moment to be gone.
fn pid_gone_soon(pid: i32) -> bool {
    wait_until(Duration::from_secs(5), || !pid_alive(pid))
}

/// The text after `marker` on the line of `text` holding it (the test harness prints its own
/// `test name ... ` before the child's output on the same line).
fn after_marker<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.find(marker).map(|i| &l[i + marker.len()..]))
}

#[test]
fn primary_accepts_queries_with_the_requested_settings() {
    let p = primary();
    assert_eq!(p.psql("postgres", "SELECT 40 + 2").expect("psql"), "42");
    let settings = p
        .psql(
            "postgres",
            "SELECT current_setting('fsync'), current_setting('listen_addresses'), \
             current_setting('shared_buffers'), current_setting('wal_level'), \
             current_setting('port'), current_setting('cluster_name')",
        )
        .expect("settings");
    assert_eq!(
        settings,
        format!("off|127.0.0.1|16MB|replica|{}|pgvitals_primary", p.port)
    );
    assert!(p.major() >= 12, "major {}", p.major());
    let server_major = p
        .psql(
            "postgres",
            "SELECT current_setting('server_version_num')::int / 10000",
        )
        .expect("version");
    assert_eq!(server_major, p.major().to_string());
    let pid = p.postmaster_pid().expect("postmaster.pid");
    assert!(pid_alive(pid), "postmaster {pid} is not running");
    assert!(cluster().dir().starts_with(std::env::temp_dir()));
}

#[test]
fn psql_errors_name_the_command_and_the_server_message() {
    let err = primary()
        .psql("postgres", "SELECT * FROM no_such_table_here")
        .expect_err("query of a missing table must fail");
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Command { .. }), "{err:?}");
    assert!(text.contains("psql"), "{text}");
    assert!(text.contains("no_such_table_here"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
}

#[test]
fn psql_runs_several_statements_and_returns_rows_unaligned() {
    let table = unique("harness_multi");
    let out = primary()
        .psql(
            "postgres",
            &format!(
                "CREATE TABLE {table} (id int, name text);\n\
                 INSERT INTO {table} VALUES (1, 'a'), (2, 'b');\n\
                 SELECT id, name FROM {table} ORDER BY id;\n\
                 DROP TABLE {table};"
            ),
        )
        .expect("psql");
    assert_eq!(out, "1|a\n2|b");
}

#[test]
fn standby_is_in_recovery_and_streams_from_the_primary() {
    let s = standby();
    assert_eq!(
        s.psql("postgres", "SELECT pg_is_in_recovery()")
            .expect("psql"),
        "t"
    );
    assert_ne!(s.port, primary().port);
    assert_ne!(s.socket_dir, primary().socket_dir);
    let rows = primary()
        .psql(
            "postgres",
            "SELECT application_name, state FROM pg_stat_replication",
        )
        .expect("pg_stat_replication");
    assert!(
        rows.lines().any(|l| l == "pgvitals_standby|streaming"),
        "pg_stat_replication: {rows:?}"
    );
    let slot = primary()
        .psql(
            "postgres",
            &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{STANDBY_SLOT}'"),
        )
        .expect("pg_replication_slots");
    assert_eq!(slot, "t");

    // A write on the primary shows up on the standby.
    let table = unique("harness_replicated");
    primary()
        .psql(
            "postgres",
            &format!("CREATE TABLE {table} AS SELECT 7 AS v"),
        )
        .expect("create");
    let replicated = wait_until(Duration::from_secs(10), || {
        s.psql("postgres", &format!("SELECT v FROM {table}"))
            .map(|v| v == "7")
            .unwrap_or(false)
    });
    primary()
        .psql("postgres", &format!("DROP TABLE {table}"))
        .expect("drop");
    assert!(replicated, "{table} never reached the standby");
}

#[tokio::test]
async fn pg_stat_statements_is_preloaded_and_created() {
    let client = common::connect(primary(), "postgres").await;
    let row = client
        .query_one("SELECT current_setting('shared_preload_libraries')", &[])
        .await
        .expect("setting");
    let libs: String = row.try_get(0).expect("text");
    assert!(libs.contains("pg_stat_statements"), "{libs}");
    // pg_stat_statements ignores aliases and constants when it groups statements, so the
    // marker is a table of our own: no other test's statement can share its entry.
    let marker = unique("harness_pgss");
    client
        .batch_execute(&format!(
            "CREATE TABLE {marker} (x int); SELECT x FROM {marker}; DROP TABLE {marker}"
        ))
        .await
        .expect("marked query");
    let seen = wait_until_async(Duration::from_secs(5), || {
        let client = &client;
        let marker = marker.clone();
        async move {
            let pattern = format!("%{marker}%");
            client
                .query_one(
                    "SELECT count(*) FROM pg_stat_statements WHERE query LIKE $1 \
                     AND query LIKE 'SELECT x FROM %'",
                    &[&pattern],
                )
                .await
                .and_then(|row| row.try_get::<_, i64>(0))
                .map(|n| n > 0)
                .unwrap_or(false)
        }
    })
    .await;
    let info = primary()
        .psql(
            "postgres",
            "SELECT count(*), (SELECT dealloc FROM pg_stat_statements_info), \
             current_setting('pg_stat_statements.max') FROM pg_stat_statements",
        )
        .unwrap_or_else(|e| e.to_string());
    assert!(
        seen,
        "query {marker} not in pg_stat_statements (entries|dealloc|max: {info})"
    );
}

#[tokio::test]
async fn connect_reaches_the_standby_over_its_socket() {
    let client = common::connect(standby(), "postgres").await;
    let row = client
        .query_one("SELECT pg_is_in_recovery(), current_user::text", &[])
        .await
        .expect("query");
    assert!(row.try_get::<_, bool>(0).expect("bool"));
    assert_eq!(row.try_get::<_, String>(1).expect("text"), "postgres");
}

#[test]
fn unique_names_differ() {
    let a = unique("Thing");
    let b = unique("Thing");
    assert_ne!(a, b);
    assert!(a.starts_with("thing_"), "{a}");
}

#[test]
fn own_cluster_stops_starts_and_is_removed_on_drop() {
    let started = Instant::now();
    let mut c = Cluster::start(ClusterOptions {
        extra_conf: vec!["work_mem = '7MB'".to_string()],
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("primary-only cluster started in {:?}", started.elapsed());
    assert!(c.standby.is_none());
    let dir: PathBuf = c.dir().to_path_buf();
    assert!(dir.is_dir());
    let p = &c.primary;
    assert_eq!(p.psql("postgres", "SHOW work_mem").expect("psql"), "7MB");
    let first_pid = p.postmaster_pid().expect("running");

    p.stop("fast").expect("stop fast");
    assert_eq!(p.postmaster_pid(), None);
    assert!(
        pid_gone_soon(first_pid),
        "postmaster {first_pid} survived stop"
    );
    assert!(p.psql("postgres", "SELECT 1").is_err());

    p.start().expect("start after fast stop");
    assert_eq!(p.psql("postgres", "SELECT 1").expect("psql"), "1");
    p.stop("immediate").expect("stop immediate");
    p.start().expect("start after crash");
    let pid = p.postmaster_pid().expect("running again");
    assert_ne!(pid, first_pid);
    assert_eq!(
        p.psql(
            "postgres",
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        .expect("psql"),
        "1"
    );

    c.stop();
    c.stop(); // idempotent
    assert!(!dir.exists(), "{} still exists after stop", dir.display());
    assert!(
        pid_gone_soon(pid),
        "postmaster {pid} survived Cluster::stop"
    );
    drop(c);

    let c2 = Cluster::start(ClusterOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir2 = c2.dir().to_path_buf();
    let pid2 = c2.primary.postmaster_pid().expect("running");
    drop(c2);
    assert!(!dir2.exists(), "{} still exists after drop", dir2.display());
    assert!(pid_gone_soon(pid2), "postmaster {pid2} survived drop");
}

#[test]
fn own_standby_can_be_promoted() {
    let started = Instant::now();
    let c = Cluster::start(ClusterOptions {
        standby: true,
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "primary + standby cluster started in {:?}",
        started.elapsed()
    );
    let s = c.standby.as_ref().expect("standby");
    assert_eq!(
        s.psql("postgres", "SELECT pg_is_in_recovery()")
            .expect("psql"),
        "t"
    );
    s.promote().expect("promote");
    assert_eq!(
        s.psql("postgres", "SELECT pg_is_in_recovery()")
            .expect("psql"),
        "f"
    );
    s.psql("postgres", "CREATE TABLE after_promotion (x int)")
        .expect("writable after promotion");
}

/// Starts this test binary again, running only the ignored test `name`, with `env` set.
fn run_child(name: &str, env: &[(&str, &str)]) -> std::process::Output {
    // /proc/self/exe is this very binary even when cargo has rebuilt the file meanwhile.
    let exe = match PathBuf::from("/proc/self/exe") {
        p if p.exists() => p,
        _ => std::env::current_exe().expect("current_exe"),
    };
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1")
    .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run child test process")
}

/// Child of `reaper_cleans_up_after_a_killed_process`: starts a cluster, prints where it is,
/// and dies by SIGKILL without any chance to run Drop.
#[test]
#[ignore = "helper: run by reaper_cleans_up_after_a_killed_process"]
fn reaper_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let c = Cluster::start(ClusterOptions {
        standby: true,
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let standby_pid = c
        .standby
        .as_ref()
        .and_then(|s| s.postmaster_pid())
        .unwrap_or(0);
    println!(
        "CLUSTER {} {} {}",
        c.dir().display(),
        c.primary.postmaster_pid().unwrap_or(0),
        standby_pid
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
}

#[test]
fn reaper_cleans_up_after_a_killed_process() {
    let out = run_child("cluster::reaper_child", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = after_marker(&stdout, "CLUSTER ").unwrap_or_else(|| {
        panic!(
            "child printed no cluster: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut parts = line.split(' ');
    let dir = PathBuf::from(parts.next().expect("dir"));
    let pids: Vec<i32> = parts.map(|p| p.parse().expect("pid")).collect();
    assert!(pids.iter().all(|&p| p > 0), "{line}");
    let cleaned = wait_until(Duration::from_secs(20), || {
        !dir.exists() && pids.iter().all(|&p| !pid_alive(p))
    });
    assert!(
        cleaned,
        "after the owner was killed: dir exists = {}, postmasters alive = {:?}",
        dir.exists(),
        pids.iter().map(|&p| pid_alive(p)).collect::<Vec<_>>()
    );
}

/// Child of `missing_binaries_fail_with_what_to_install`.
#[test]
#[ignore = "helper: run by missing_binaries_fail_with_what_to_install"]
fn no_binaries_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    match Cluster::start(ClusterOptions::default()) {
        Ok(_) => panic!("started a cluster from a bin dir without initdb"),
        Err(e) => println!("ERROR {e}"),
    }
}

#[test]
fn missing_binaries_fail_with_what_to_install() {
    let out = run_child(
        "cluster::no_binaries_child",
        &[("PGVITALS_PG_BIN", "/nonexistent/pgvitals/bin")],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line =
        after_marker(&stdout, "ERROR ").unwrap_or_else(|| panic!("no error printed: {stdout}"));
    assert!(line.contains("/nonexistent/pgvitals/bin"), "{line}");
    assert!(line.contains("apt-get install postgresql"), "{line}");
}
