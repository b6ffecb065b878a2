//! The flight recorder against real servers: `pgvitals record` (the binary, headless) records
//! a staged incident on a primary and standby of its own, the servers go away, and the
//! recording answers: `snapshot --from --at` inside the lock chain, `report`, the alerts;
//! `kill -9` of a recorder leaves a file that opens and replays; one recorder per file.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use pgvitals::record::read::Recording;

use crate::common::{connect, primary, wait_until};

fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).expect("a time").to_string()
}

fn recorder(file: &Path, config: &Path, conninfos: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .arg("record")
        .args(conninfos)
        .args(["--interval", "300ms", "--to"])
        .arg(file)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pgvitals record")
}

/// Samples in the recording so far, sealed blocks and open ones (0 while it cannot be read
/// yet).
fn frames(file: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT (SELECT coalesce(sum(samples), 0) FROM blocks)
                      + (SELECT coalesce(sum(samples), 0) FROM open_blocks)",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .args(args)
        .output()
        .expect("run pgvitals")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_incident_is_there_after_the_servers_are_gone() {
    let mut cluster = crate::common::own_primary_and_standby().await;
    let p = &cluster.primary;
    let s = cluster.standby.as_ref().expect("a standby");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("incident.db");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        r#"
[thresholds.blocked]
warning = "1s"
critical = "1h"
[thresholds.slot_retained_wal]
warning = "1MB"
critical = "100GB"
[thresholds.replication_lag_bytes]
warning = "1MB"
critical = "100GB"
"#,
    )
    .expect("write config");

    let admin = connect(p, "postgres").await;
    admin
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0);
             SELECT pg_create_physical_replication_slot('forgotten', true);",
        )
        .await
        .expect("setup");
    let standby = connect(s, "postgres").await;
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");

    let mut child = recorder(
        &file,
        &config,
        &[p.conninfo("postgres"), s.conninfo("postgres")],
    );
    assert!(
        wait_until(Duration::from_secs(20), || frames(&file) > 10),
        "the recorder wrote no frames"
    );

    // the incident: WAL the paused standby does not replay and the slot retains, and a
    // lock chain (one holder, two waiters)
    admin
        .batch_execute("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 30000) g")
        .await
        .expect("write WAL");
    let holder = connect(p, "postgres").await;
    holder
        .batch_execute("BEGIN; UPDATE t SET v = v + 1 WHERE id = 1;")
        .await
        .expect("hold");
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let mut waiter_pids = Vec::new();
    let mut waits = Vec::new();
    for _ in 0..2 {
        let w = connect(p, "postgres").await;
        waiter_pids.push(
            w.query_one("SELECT pg_backend_pid()", &[])
                .await
                .expect("pid")
                .get::<_, i32>(0),
        );
        waits.push(tokio::spawn(async move {
            let _ = w.execute("UPDATE t SET v = v + 1 WHERE id = 1", &[]).await;
            w
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let inside_chain = SystemTime::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    holder.batch_execute("ROLLBACK").await.expect("release");
    for w in waits {
        let _ = w.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // stop the recorder (SIGTERM: a clean end), then the servers
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = child.wait().expect("recorder ends");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut stderr).ok();
    assert!(status.success(), "record ended with {status}: {stderr}");
    drop((admin, standby, holder));
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .expect("stop the servers");

    // the moment inside the chain, from the file alone
    let at = rfc3339(inside_chain);
    let config_arg = config.to_str().unwrap();
    let out = run(&[
        "snapshot",
        "--from",
        file.to_str().unwrap(),
        "--at",
        &at,
        "-c",
        config_arg,
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "snapshot --from printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let primary_doc = &json[0];
    let sessions = primary_doc["activity"]["sessions"]
        .as_array()
        .expect("sessions");
    for w in &waiter_pids {
        let row = sessions
            .iter()
            .find(|x| x["pid"] == *w)
            .unwrap_or_else(|| panic!("waiter {w} not in the recorded sessions"));
        let blocked_by = row["blocked_by"].as_array().expect("blocked_by");
        assert!(
            !blocked_by.is_empty(),
            "waiter {w} blocked by nobody: {row}"
        );
    }
    assert!(
        sessions.iter().any(|x| x["blocked_by"]
            .as_array()
            .is_some_and(|b| b.contains(&serde_json::json!(holder_pid)))),
        "nobody waits on the holder {holder_pid}"
    );
    let alerts = primary_doc["alerts"].to_string();
    assert!(alerts.contains("blocked"), "no blocked alert: {alerts}");
    let expected = if alerts.contains("\"critical\"") {
        2
    } else {
        1
    };
    assert_eq!(
        out.status.code(),
        Some(expected),
        "exit status of: {alerts}"
    );

    // the report names the root blocker and its waiters
    let out = run(&["report", file.to_str().unwrap(), "-c", config_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("## Lock chains"), "{report}");
    let chain_line = report
        .lines()
        .find(|l| l.contains(&format!("| pid {holder_pid} |")))
        .unwrap_or_else(|| panic!("the report names no root blocker {holder_pid}:\n{report}"));
    for w in &waiter_pids {
        assert!(chain_line.contains(&w.to_string()), "{chain_line}");
    }
    assert!(report.contains("| blocked |"), "{report}");
    // the waiters' seconds on the row lock are in the report's wait profile
    assert!(report.contains("## Wait profile"), "{report}");
    let event = report
        .lines()
        .find(|l| l.starts_with("| Lock:transactionid | Lock |"))
        .unwrap_or_else(|| panic!("no Lock:transactionid wait in the report:\n{report}"));
    let backend_samples: u64 = event
        .split('|')
        .nth(3)
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {event}"));
    assert!(
        backend_samples >= 2,
        "two waiters for 5 s, sampled at least every 2 s: {event}"
    );

    // replay in a terminal: the lock tree at that moment, then the previous alert
    let args: Vec<String> = [
        "replay",
        file.to_str().unwrap(),
        "--at",
        &at,
        "-c",
        config_arg,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut term = tokio::task::spawn_blocking(move || {
        let term = crate::tui::Term::start(&args, 50, 200);
        term.wait_for("REPLAY", Duration::from_secs(15));
        term
    })
    .await
    .expect("replay starts");
    let screen = term.wait_for("Lock tree: 1 root blocker", Duration::from_secs(10));
    assert!(screen.contains(&holder_pid.to_string()), "{screen}");
    let banner_before: String = screen.lines().take(3).collect();
    // the blocked alert fired before this moment: N goes back to it
    term.keys(b"N");
    let after = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(600));
        let s = term.screen();
        term.keys(b"q");
        s
    })
    .await
    .expect("step");
    let banner_after: String = after.lines().take(3).collect();
    assert!(banner_after != banner_before, "N moved nowhere:\n{after}");
    assert!(!after.contains("no alert fired before"), "{after}");

    // the alerts of the standby side and the slot are in the file, with their times
    let rec = Recording::open(&file).expect("open");
    let (start, end) = rec.span().expect("span").expect("not empty");
    let all = rec.alerts(start, end).expect("alerts");
    let rules: Vec<&str> = all.iter().map(|a| a.rule.as_str()).collect();
    for rule in ["blocked", "slot_retained_wal", "replication_lag_bytes"] {
        assert!(rules.contains(&rule), "no {rule} alert in {rules:?}");
    }
    let blocked = all.iter().find(|a| a.rule == "blocked").expect("blocked");
    assert!(
        blocked.resolved_at.is_some_and(|r| r > blocked.fired_at),
        "the blocked alert resolved after it fired: {blocked:?}"
    );
    let inside = pgvitals::record::epoch(inside_chain);
    assert!(
        blocked.fired_at <= inside && blocked.resolved_at.unwrap_or(0.0) >= inside,
        "{blocked:?} around {inside}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_killed_mid_write_leaves_a_file_that_opens_and_replays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("killed.db");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("config");
    let conninfo = primary().conninfo("postgres");
    let mut child = recorder(&file, &config, std::slice::from_ref(&conninfo));
    assert!(
        wait_until(Duration::from_secs(20), || frames(&file) > 20),
        "the recorder wrote no frames"
    );
    // a second recorder on the same file is refused, and changes nothing
    let out = run(&["record", &conninfo, "--to", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("being recorded by another pgvitals"), "{err}");

    child.kill().expect("kill -9");
    let _ = child.wait();
    let rec = Recording::open(&file).expect("the file opens after kill -9");
    let (start, end) = rec.span().expect("span").expect("frames survived");
    assert!(end > start);
    let (store, last) = rec
        .store_at(end, &pgvitals::config::Config::default())
        .expect("replays");
    assert!(last.is_some());
    let server = &store.servers[0];
    assert!(
        server.activity().is_some() && server.server().is_some(),
        "the replayed store has the areas"
    );
    // the file is its owner's only
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    // and a new recorder continues it
    let mut again = recorder(&file, &config, std::slice::from_ref(&conninfo));
    let before = frames(&file);
    assert!(
        wait_until(Duration::from_secs(20), || frames(&file) > before + 5),
        "the file was not continued"
    );
    let _ = again.kill();
    let _ = again.wait();
}
