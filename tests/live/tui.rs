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

struct Term {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Term {
    fn start(args: &[String], rows: u16, cols: u16) -> Term {
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

    fn screen(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    fn wait_for(&self, what: &str, timeout: Duration) -> String {
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

    fn keys(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write keys");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
    }

    fn resize(&self, rows: u16, cols: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
        self.parser
            .lock()
            .expect("parser")
            .set_size(nz(rows), nz(cols));
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
    let tail = &text[text.len().saturating_sub(400)..];
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
