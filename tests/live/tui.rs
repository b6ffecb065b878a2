//! The real binary in a pseudo terminal against the shared primary and standby: it starts,
//! shows live data, switches panels, opens a detail, survives resizes, writes none of the
//! escape sequences a hostile server sends, quits on `q` and restores the terminal.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::common::{connect, primary, standby, unique};

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n.max(1)).expect("non-zero")
}

pub struct Term {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Term {
    pub fn start(args: &[String], rows: u16, cols: u16) -> Term {
        Term::start_env(args, &[], rows, cols)
    }

    /// [`Term::start`] with extra environment variables (e.g. `PGVITALS_FAULT`).
    pub fn start_env(args: &[String], env: &[(&str, &str)], rows: u16, cols: u16) -> Term {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_pgvitals"));
        for a in args {
            cmd.arg(a);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("PGVITALS_FAULT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn pgvitals");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        {
            let parser = parser.clone();
            let raw = raw.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    parser.lock().expect("parser").process(&buf[..n]);
                    raw.lock().expect("raw").extend_from_slice(&buf[..n]);
                }
            });
        }
        Term {
            parser,
            raw,
            writer,
            master: pair.master,
            child,
        }
    }

    pub fn screen(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    pub fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("{what:?} did not appear within {timeout:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write keys");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
    }

    fn resize(&self, rows: u16, cols: u16) {
        // the parser first: the dashboard redraws as soon as it gets SIGWINCH, and output
        // at the new size parsed at the old one leaves a garbled screen
        self.parser
            .lock()
            .expect("parser")
            .set_size(nz(rows), nz(cols));
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_dashboard_runs_in_a_terminal_and_never_passes_hostile_bytes_through() {
    // a hostile session: application_name and query text full of escape sequences
    let marker = unique("hostile");
    let hostile = connect(primary(), "postgres").await;
    hostile
        .batch_execute(&format!(
            "SET application_name = E'\\x1b]0;pwned-title\\x07evil-app'; \
             SELECT 1 AS \"{marker}\""
        ))
        .await
        .expect("set hostile application_name");
    let pid: i32 = hostile
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let hostile_query = format!(
        "SELECT E'\\x1b[31mHOSTILE-RED \\x1b[2J\\x1b]0;pwned\\x07 \\u202Ereversed \\r\\b tail' AS {marker}, pg_sleep(60)"
    );
    let running = tokio::spawn(async move {
        let _ = hostile.simple_query(&hostile_query).await;
        hostile
    });

    let args = vec![
        primary().conninfo("postgres"),
        standby().conninfo("postgres"),
        "--interval".into(),
        "500ms".into(),
    ];
    let mut term = tokio::task::spawn_blocking(move || {
        let mut term = Term::start(&args, 30, 120);
        term.wait_for(" primary ", Duration::from_secs(15));
        term.wait_for(" standby ", Duration::from_secs(15));
        // the hostile session is listed on the activity panel, sanitized
        term.wait_for(&pid.to_string(), Duration::from_secs(15));
        // switch panels with the number keys
        term.keys(b"2");
        term.wait_for("Statements", Duration::from_secs(5));
        term.keys(b"4");
        term.wait_for("Replication", Duration::from_secs(5));
        term.keys(b"6");
        term.wait_for("Vacuum", Duration::from_secs(5));
        // detail of a session: back to activity, Enter, then Esc
        term.keys(b"1");
        term.keys(b"\r");
        std::thread::sleep(Duration::from_millis(300));
        term.keys(b"\x1b");
        // resizes never break it
        term.resize(12, 40);
        term.resize(60, 200);
        term.wait_for(" primary ", Duration::from_secs(5));
        term.keys(b"?");
        std::thread::sleep(Duration::from_millis(300));
        term.keys(b"\x1b");
        term
    })
    .await
    .expect("drive the terminal");

    // quit: the process exits 0 and the terminal is restored
    term.keys(b"q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = term.child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = term.child.kill();
            panic!("pgvitals did not exit on q; screen:\n{}", term.screen());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let raw = term.raw.lock().expect("raw").clone();
    let text = String::from_utf8_lossy(&raw);
    for needle in [
        "\x1b]0;pwned",
        "\x1b[31mHOSTILE",
        "pwned\x07",
        "\u{202E}",
        "pwned-title\x07",
    ] {
        assert!(!text.contains(needle), "the terminal received {needle:?}");
    }
    assert!(
        text.contains("HOSTILE-RED") || text.contains("evil-app"),
        "hostile session never shown"
    );
    // leaves the alternate screen and shows the cursor again
    let mut cut = text.len().saturating_sub(400);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    let tail = &text[cut..];
    assert!(
        tail.contains("\x1b[?1049l"),
        "alternate screen not left: {tail:?}"
    );
    assert!(
        tail.contains("\x1b[?25h"),
        "cursor not shown again: {tail:?}"
    );

    running.abort();
    let cancel = connect(primary(), "postgres").await;
    let _ = cancel.query("SELECT pg_cancel_backend($1)", &[&pid]).await;
}

impl Term {
    /// The raw bytes written so far, lossily decoded.
    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().expect("raw")).into_owned()
    }

    /// Waits for the process to exit; kills it and panics after `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // let the reader thread drain what the process wrote last
                std::thread::sleep(Duration::from_millis(300));
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "pgvitals did not exit within {timeout:?}; screen:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Rows whose first column is a vertical border must end with one in the last column:
    /// a character measured with the wrong width (double-width, zero-width) would shift it.
    fn assert_borders_intact(&self) {
        let parser = self.parser.lock().expect("parser");
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        let (rows, cols) = (rows.get(), cols.get());
        let cell = |r: u16, c: u16| {
            screen
                .cell(r, c)
                .map(|c| c.contents().to_string())
                .unwrap_or_default()
        };
        let mut checked = 0;
        for r in 0..rows {
            if cell(r, 0) == "│" {
                checked += 1;
                assert_eq!(
                    cell(r, cols - 1),
                    "│",
                    "row {r} lost its right border:\n{}",
                    screen.contents()
                );
            }
        }
        assert!(
            checked > 0,
            "no bordered panel on screen:\n{}",
            screen.contents()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_collector_leaves_the_screen_up_and_says_so_in_its_area() {
    // a session the activity area must show (a name that fits the application column of
    // a 120-column screen, and the query text column's start)
    let app = unique("cw");
    let session = connect(primary(), "postgres").await;
    session
        .batch_execute(&format!("SET application_name = '{app}'"))
        .await
        .expect("set application_name");
    tokio::task::spawn_blocking(move || crashing_collector(&app))
        .await
        .expect("drive the terminal");
    drop(session);
}

fn crashing_collector(app: &str) {
    let args = vec![
        primary().conninfo("postgres"),
        "--interval".into(),
        "500ms".into(),
    ];
    let mut term = Term::start_env(&args, &[("PGVITALS_FAULT", "collect:vacuum")], 30, 120);
    // the other areas show data
    term.wait_for(" primary ", Duration::from_secs(15));
    term.wait_for(app, Duration::from_secs(15));
    // the vacuum area shows the crash, and keeps showing it as the collector is restarted
    term.keys(b"6");
    let screen = term.wait_for("collector crashed", Duration::from_secs(10));
    assert!(
        screen.contains("injected fault at collect:vacuum"),
        "{screen}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(term.still_running(), "pgvitals exited:\n{}", term.screen());
    term.keys(b"1");
    term.wait_for(app, Duration::from_secs(5));
    // the collector's panic never reached the terminal as a panic report
    let raw = term.raw_text();
    assert!(!raw.contains("panicked at"), "panic report on the screen");
    term.keys(b"q");
    let status = term.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_crashing_screen_restores_the_terminal_and_exits_non_zero() {
    let args = vec![
        primary().conninfo("postgres"),
        "--interval".into(),
        "500ms".into(),
    ];
    let mut term = Term::start_env(
        &args,
        &[("PGVITALS_FAULT", "tui:draw"), ("RUST_BACKTRACE", "0")],
        30,
        120,
    );
    let status = term.wait_exit(Duration::from_secs(15));
    assert!(!status.success(), "exit status {status:?}");
    let raw = term.raw_text();
    let entered = raw.find("\x1b[?1049h");
    let left = raw.rfind("\x1b[?1049l");
    assert!(
        entered.is_some() && left > entered,
        "alternate screen not entered and left: {raw:?}"
    );
    let after = &raw[left.unwrap_or_default()..];
    assert!(
        after.contains("\x1b[?25h"),
        "cursor not shown again: {after:?}"
    );
    // a short panic report, after the terminal was restored (readable on the normal screen)
    assert!(
        after.contains("injected fault at tui:draw"),
        "no panic report after the restore: {after:?}"
    );
    assert!(after.len() < 2000, "a long report: {after:?}");
}

/// A quoted SQL identifier (any character but NUL; inner quotes doubled).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Names and texts that try to take over the terminal, each starting with a visible marker
/// the screen must show (the hostile rest is removed or replaced by U+FFFD).
const HOSTILE_DB: &str = "qdb1\x1b]2;DBTITLE\x1b\\\u{202e}\x1b[2Jok";
const HOSTILE_ROLE: &str = "qro1\x1b[31m\u{9b}1;1H\x07\u{202e}\x08x";
const HOSTILE_SCHEMA: &str = "qsc1\x1b[31mRED\x1b[0m\u{9b}2J\u{200b}漢字";
const HOSTILE_TABLE: &str = "qtb1\x1b]0;OSCTITLE\x07\x08\r\u{85}\u{200d}x";
const HOSTILE_INDEX: &str = "qix1\u{9d}0;C1TITLE\u{9c}\u{200d}🚀\x07end";
/// Repeated to about 1 MB in a comment of a query (pg_stat_statements keeps comments).
const HOSTILE_CHUNK: &str =
    "\x1b]0;QTITLE\x07\x1b[31mQRED\u{9b}2J\u{202e}\r\x08\u{85}\u{9d}8;;QLINK\u{9c} 漢🚀\u{200b} ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_a_huge_query_text_never_reach_the_terminal() {
    let cluster = tokio::task::spawn_blocking(|| {
        pgvitals::cluster::Cluster::start(pgvitals::cluster::ClusterOptions::default())
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"));
    let node = &cluster.primary;
    let admin = connect(node, "postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {}", ident(HOSTILE_DB)))
        .await
        .expect("create the hostile database");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; \
             CREATE SCHEMA {schema}; \
             CREATE TABLE {schema}.{table} (id int, x int); \
             CREATE INDEX {index} ON {schema}.{table} (x); \
             INSERT INTO {schema}.{table} SELECT g, g FROM generate_series(1, 1000) g; \
             GRANT USAGE ON SCHEMA {schema} TO {role}; \
             GRANT SELECT ON {schema}.{table} TO {role}",
            role = ident(HOSTILE_ROLE),
            schema = ident(HOSTILE_SCHEMA),
            table = ident(HOSTILE_TABLE),
            index = ident(HOSTILE_INDEX),
        ))
        .await
        .expect("create hostile objects");
    // the hostile role runs a ~1 MB statement (into pg_stat_statements) and keeps one running
    // (into pg_stat_activity, cut at track_activity_query_size)
    // The comment after SELECT: from PostgreSQL 18 pg_stat_statements drops leading comments.
    let mut huge = String::from("SELECT /* qqt1 ");
    while huge.len() < 1_000_000 {
        huge.push_str(HOSTILE_CHUNK);
    }
    huge.push_str(" */ pg_sleep(");
    let hostile = crate::common::connect_as(node, HOSTILE_ROLE, "postgres").await;
    for _ in 0..3 {
        hostile
            .simple_query(&format!("{huge}0.05)"))
            .await
            .expect("the huge statement");
    }
    let sleeper = tokio::spawn(async move {
        let _ = hostile.simple_query(&format!("{huge}60)")).await;
    });

    let args = vec![
        node.conninfo("postgres"),
        "--interval".into(),
        "500ms".into(),
    ];
    let mut term = tokio::task::spawn_blocking(move || {
        let mut term = Term::start(&args, 40, 120);
        // activity: the hostile role and its query
        term.wait_for("qro1", Duration::from_secs(15));
        term.wait_for("qqt1", Duration::from_secs(5));
        term.assert_borders_intact();
        // statements: the huge text, and its detail (folding 1 MB must not hang the screen)
        term.keys(b"2");
        term.wait_for("qqt1", Duration::from_secs(15));
        term.assert_borders_intact();
        term.keys(b"\r");
        std::thread::sleep(Duration::from_millis(500));
        term.keys(b"\x1b");
        // cache: the hostile database
        term.keys(b"3");
        term.wait_for("qdb1", Duration::from_secs(10));
        term.assert_borders_intact();
        // unused indexes: schema, table, index
        term.keys(b"5");
        let s = term.wait_for("qix1", Duration::from_secs(10));
        assert!(s.contains("qsc1") && s.contains("qtb1"), "{s}");
        eprintln!("unused indexes with hostile names:\n{s}");
        term.assert_borders_intact();
        term.keys(b"\r");
        std::thread::sleep(Duration::from_millis(300));
        term.keys(b"\x1b");
        // vacuum: the database and the table
        term.keys(b"6");
        term.wait_for("qdb1", Duration::from_secs(10));
        // keys are still answered: help opens
        term.keys(b"?");
        term.wait_for("Keys", Duration::from_secs(3));
        term.keys(b"\x1b");
        assert!(term.still_running(), "pgvitals exited:\n{}", term.screen());
        term
    })
    .await
    .expect("drive the terminal");

    term.keys(b"q");
    let status = term.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    let raw = term.raw_text();
    // the texts inside OSC strings never show, and no injected control reaches the terminal
    for needle in [
        "DBTITLE",
        "OSCTITLE",
        "C1TITLE",
        "QTITLE",
        "QLINK",
        "\x1b[31mRED",
        "\x1b[31mQRED",
        "\x1b]0;",
        "\x1b]2;",
        "\x07",
        "\x08",
        "\u{202e}",
        "\u{200b}",
        "\u{200d}",
    ] {
        assert!(!raw.contains(needle), "the terminal received {needle:?}");
    }
    if let Some(c) = raw.chars().find(|c| ('\u{80}'..='\u{9f}').contains(c)) {
        panic!("the terminal received the C1 control U+{:04X}", c as u32);
    }
    sleeper.abort();
    let _ = admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
            HOSTILE_ROLE.replace('\'', "''")
        ))
        .await;
    drop(cluster);
}

/// How long the screen may take to answer a key while the server is frozen: a screen that
/// waited on the server would take the query timeout (seconds); 250 ms leaves room for a
/// CI machine running two majors' suites, six tests each, on two cores (100 ms was missed
/// by 0.7 ms there once).
const KEY_ANSWER: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_answered_while_the_server_is_frozen() {
    let cluster = tokio::task::spawn_blocking(|| {
        pgvitals::cluster::Cluster::start(pgvitals::cluster::ClusterOptions::default())
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"));
    let node = &cluster.primary;
    let args = vec![
        node.conninfo("postgres"),
        "--interval".into(),
        "300ms".into(),
    ];
    let postmaster = node.postmaster_pid().expect("running");
    let mut term = tokio::task::spawn_blocking(move || {
        let mut term = Term::start(&args, 30, 120);
        term.wait_for(" primary ", Duration::from_secs(15));
        term.wait_for("pgvitals", Duration::from_secs(15));
        // freeze the postmaster and every child
        let children = std::process::Command::new("pgrep")
            .args(["-P", &postmaster.to_string()])
            .output()
            .expect("pgrep");
        let mut pids = vec![postmaster];
        pids.extend(
            String::from_utf8_lossy(&children.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
        let signal = |s| {
            for pid in &pids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), s);
            }
        };
        signal(nix::sys::signal::Signal::SIGSTOP);
        // while the polls hang (and after their deadline), '?' toggles the help at once
        let mut slowest = Duration::ZERO;
        for round in 0..6 {
            std::thread::sleep(Duration::from_millis(700));
            let open = round % 2 == 0;
            let sent = Instant::now();
            term.writer.write_all(b"?").expect("key");
            term.writer.flush().expect("flush");
            loop {
                if term.screen().contains("Keys") == open {
                    break;
                }
                if sent.elapsed() > Duration::from_secs(3) {
                    signal(nix::sys::signal::Signal::SIGCONT);
                    panic!("no answer to '?' within 3 s:\n{}", term.screen());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            slowest = slowest.max(sent.elapsed());
        }
        signal(nix::sys::signal::Signal::SIGCONT);
        assert!(
            slowest <= KEY_ANSWER,
            "a key took {slowest:?} while the server was frozen"
        );
        eprintln!("slowest key answer while frozen: {slowest:?}");
        assert!(term.still_running(), "pgvitals exited:\n{}", term.screen());
        term
    })
    .await
    .expect("drive the terminal");
    term.keys(b"q");
    let status = term.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    drop(cluster);
}

/// Finds `needle` on the screen: (column, row), 0-based.
fn locate(screen: &str, needle: &str) -> Option<(u16, u16)> {
    screen.lines().enumerate().find_map(|(y, line)| {
        line.find(needle)
            .map(|byte| (line[..byte].chars().count() as u16, y as u16))
    })
}

/// A left click at (column, row), 0-based, as an xterm sends it in SGR mouse mode.
fn sgr_click(term: &mut Term, (x, y): (u16, u16)) {
    let press = format!("\x1b[<0;{};{}M\x1b[<0;{};{}m", x + 1, y + 1, x + 1, y + 1);
    term.keys(press.as_bytes());
}

/// The mouse in a real terminal: the dashboard turns mouse reporting on (and off on quit),
/// a click on a tab opens it, a click on a session's row selects it, and `y` puts its query
/// on the clipboard with OSC 52 — without the escape sequence a hostile query carries in its
/// text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_select_a_tab_and_a_row_and_y_copies_the_query_sanitized() {
    let marker = unique("clip");
    let session = connect(primary(), "postgres").await;
    let pid: i32 = session
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    // raw ESC and BEL bytes in a comment: the query text itself carries an OSC 52 of its own
    let query =
        format!("SELECT /* \u{1b}]52;c;ZXZpbA==\u{7} */ '{marker}' AS copied, pg_sleep(60)");
    let running = tokio::spawn(async move {
        let _ = session.simple_query(&query).await;
        session
    });
    let args = vec![
        primary().conninfo("postgres"),
        "--interval".into(),
        "500ms".into(),
    ];
    let copied_marker = marker.clone();
    let (raw, status) = tokio::task::spawn_blocking(move || {
        let mut term = Term::start(&args, 30, 120);
        let screen = term.wait_for(&marker, Duration::from_secs(15));
        // a click on the Statements tab opens it (its table heading), one on the Activity
        // tab comes back
        let tab = locate(&screen, "2 Statements").expect("the tab bar");
        sgr_click(&mut term, tab);
        term.wait_for("calls/s", Duration::from_secs(5));
        let screen = term.screen();
        let tab = locate(&screen, "1 Activity").expect("the tab bar");
        sgr_click(&mut term, tab);
        term.wait_for(&marker, Duration::from_secs(5));
        // other tests' sessions come and go on the shared server and move the rows between
        // two frames: filter the table down to ours, then click it
        term.keys(format!("/{marker}\r").as_bytes());
        let screen = term.wait_for(&format!("filter /{marker}"), Duration::from_secs(5));
        // a click on the session's row selects it; y copies its query
        let (_, y) = locate(&screen, &marker).expect("the session's row");
        let (x, _) = locate(&screen, &pid.to_string()).expect("the pid column");
        sgr_click(&mut term, (x, y));
        term.keys(b"y");
        term.wait_for("copied", Duration::from_secs(5));
        term.keys(b"q");
        let status = term.wait_exit(Duration::from_secs(10));
        (term.raw_text(), status)
    })
    .await
    .expect("drive the terminal");
    running.abort();
    assert!(status.success(), "exit status {status:?}");
    // mouse reporting on (SGR) while running, off on the way out
    assert!(raw.contains("\x1b[?1006h"), "mouse capture never enabled");
    let mut cut = raw.len().saturating_sub(600);
    while !raw.is_char_boundary(cut) {
        cut += 1;
    }
    let tail = &raw[cut..];
    assert!(
        tail.contains("\x1b[?1006l"),
        "mouse capture left on: {tail:?}"
    );
    // the hostile query's own OSC 52 never reached the terminal
    assert!(
        !raw.contains("ZXZpbA=="),
        "the query's escape sequence got through"
    );
    // ours: one OSC 52 with the query text, its control characters gone
    let start = raw.find("\x1b]52;c;").expect("an OSC 52 sequence") + "\x1b]52;c;".len();
    let end = start + raw[start..].find('\x07').expect("BEL ends it");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&raw[start..end])
        .expect("base64");
    let text = String::from_utf8(bytes).expect("UTF-8");
    assert!(
        text.contains(&copied_marker),
        "copied the wrong query: {text:?}"
    );
    assert!(text.contains("pg_sleep(60)"), "{text:?}");
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "control characters in the clipboard: {text:?}"
    );
}
