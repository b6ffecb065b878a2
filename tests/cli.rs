//! The binary's handling of the files it is pointed at (no server needed): the config file
//! is read only when it is a small regular file, and the `--log` file is private and never
//! reached through a symbolic link.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An address where nothing listens: the snapshot fails at once (exit 3).
const NOWHERE: &str = "host=127.0.0.1 port=1 user=postgres connect_timeout=2 sslmode=disable";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pgvitals-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs pgvitals with `args` (at most 20 s), returning exit code, stderr and how long it took.
fn run(args: &[&str]) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let out = assert_cmd::Command::cargo_bin("pgvitals")
        .unwrap()
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn assert_refused(args: &[&str], path: &Path, needle: &str) {
    let (code, stderr, took) = run(args);
    assert_eq!(code, Some(3), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    assert!(
        stderr.contains(&path.display().to_string()) && stderr.contains(needle),
        "{args:?}: {stderr}"
    );
    assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
}

#[test]
fn a_config_that_is_not_a_small_regular_file_is_refused_at_once() {
    let dev_zero = Path::new("/dev/zero");
    for args in [
        vec!["snapshot", "--config", "/dev/zero", NOWHERE],
        vec!["--config", "/dev/zero", "snapshot", NOWHERE],
    ] {
        assert_refused(&args, dev_zero, "not a regular file");
    }
    let dir = scratch("config");
    let fifo = dir.join("config.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo_s = fifo.to_str().unwrap();
    assert_refused(&["snapshot", "--config", fifo_s, NOWHERE], &fifo, "a FIFO");
    let big = dir.join("big.toml");
    std::fs::write(&big, "#".repeat(2 * 1024 * 1024)).unwrap();
    let big_s = big.to_str().unwrap();
    assert_refused(
        &["snapshot", "--config", big_s, NOWHERE],
        &big,
        "larger than",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_log_file_is_created_0600_and_never_through_a_symlink() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let dir = scratch("log");
    let log = dir.join("pgvitals.log");
    let log_s = log.to_str().unwrap();
    let (code, stderr, _) = run(&["snapshot", "--log", log_s, NOWHERE]);
    assert_eq!(code, Some(3), "{stderr}");
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "log created with mode {mode:o}");

    let target = dir.join("precious");
    std::fs::write(&target, "keep me\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let link_s = link.to_str().unwrap();
    assert_refused(
        &["snapshot", "--log", link_s, NOWHERE],
        &link,
        "symbolic link",
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the symlink's target was touched");

    // not a regular file: refused, never blocks
    let fifo = dir.join("log.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo_s = fifo.to_str().unwrap();
    assert_refused(
        &["snapshot", "--log", fifo_s, NOWHERE],
        &fifo,
        "not a regular file",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Stdout of pgvitals with `args`, which must succeed.
fn stdout_of(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("pgvitals")
        .unwrap()
        .args(args)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_bash_completion_completes_subcommands_and_their_options() {
    let dir = scratch("completions");
    let script = dir.join("pgvitals.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();
    // Ask the completion function what bash would offer after `pgvitals snapshot --f`, and
    // after `pgvitals re`.
    let complete = |words: &str, cword: usize| {
        let cmd = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; \
             COMP_POINT=${{#COMP_LINE}}; _pgvitals pgvitals \"${{COMP_WORDS[$COMP_CWORD]}}\" \
             \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &cmd])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut got: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        got.sort();
        got
    };
    assert_eq!(complete("pgvitals snapshot --f", 2), ["--from"]);
    assert_eq!(complete("pgvitals re", 1), ["record", "replay", "report"]);
    for shell in ["zsh", "fish"] {
        let text = stdout_of(&["completions", shell]);
        assert!(
            text.contains("replay") && text.contains("max-size"),
            "{shell}"
        );
    }
    let (code, stderr, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("possible values"), "{stderr}");
}

#[test]
fn the_man_page_documents_every_subcommand_and_option() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH pgvitals 1"), "{page}");
    for word in [
        "snapshot",
        "demo",
        "record",
        "report",
        "replay",
        "completions",
        "\\-\\-interval",
        "\\-\\-record",
        "\\-\\-max\\-size",
        "Exit status",
        "CONNINFO",
    ] {
        assert!(page.contains(word), "{word} missing from the man page");
    }
    // --dir: the page and one per subcommand, each naming its own options; every page the
    // main one refers to exists
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(dir.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let snapshot = read("pgvitals-snapshot.1");
    assert!(
        snapshot.contains(".TH pgvitals\\-snapshot 1")
            || snapshot.contains(".TH pgvitals-snapshot 1"),
        "{snapshot}"
    );
    assert!(
        snapshot.contains("\\-\\-from"),
        "snapshot's own --from: {snapshot}"
    );
    assert!(read("pgvitals-record.1").contains("\\-\\-max\\-size"));
    for referenced in [
        "snapshot",
        "demo",
        "record",
        "replay",
        "report",
        "completions",
        "man",
    ] {
        let name = format!("pgvitals-{referenced}.1");
        assert!(
            page.contains(&format!("pgvitals\\-{referenced}(1)")),
            "{name} not referenced"
        );
        read(&name);
    }
}

#[test]
fn help_offers_each_option_once_and_only_where_it_does_something() {
    for sub in [
        vec!["--help"],
        vec!["snapshot", "--help"],
        vec!["demo", "--help"],
        vec!["record", "--help"],
        vec!["replay", "--help"],
        vec!["report", "--help"],
    ] {
        let help = stdout_of(&sub);
        for line in help.lines() {
            assert!(line.matches("[default:").count() <= 1, "{sub:?}: {line}");
        }
        let acts = help.contains("--enable-actions");
        let dashboard = sub.len() == 1 || sub[0] == "demo";
        assert_eq!(acts, dashboard, "{sub:?} and --enable-actions");
    }
    let (code, stderr, _) = run(&["snapshot", "--enable-actions", NOWHERE]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("--enable-actions"), "{stderr}");
}
