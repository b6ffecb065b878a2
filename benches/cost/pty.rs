//! A program in a 160x48 pseudo terminal: its output is kept as a screen (vt100) and
//! counted; an expected prompt (pg_top -W's password) is answered once.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ROWS: u16 = 48;
pub const COLS: u16 = 160;

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN)
}

pub struct Pty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    // kept open for the child's life: closing the master hangs the terminal up
    _master: Box<dyn portable_pty::MasterPty + Send>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    screen: Arc<Mutex<vt100::Parser>>,
    bytes: Arc<AtomicU64>,
    pub pid: i32,
}

impl Pty {
    /// Spawns `program args` with `TERM=xterm-256color`; when `prompt` is given, the first
    /// time its text appears on the screen the reply is typed.
    pub fn spawn(program: &str, args: &[String], prompt: Option<(&str, &str)>) -> Pty {
        let pty = portable_pty::native_pty_system();
        let pair = pty
            .openpty(portable_pty::PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("pty");
        let mut cmd = portable_pty::CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("pty writer")));
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            nonzero(ROWS),
            nonzero(COLS),
            0,
        )));
        let bytes = Arc::new(AtomicU64::new(0));
        let (screen2, bytes2, writer2) = (screen.clone(), bytes.clone(), writer.clone());
        let prompt = prompt.map(|(p, r)| (p.to_string(), r.to_string()));
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let mut pending = prompt;
            // the last bytes seen, for a prompt split over two reads
            let mut tail: Vec<u8> = Vec::new();
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes2.fetch_add(n as u64, Ordering::Relaxed);
                if let Ok(mut s) = screen2.lock() {
                    s.process(&buf[..n]);
                }
                if let Some((text, reply)) = &pending {
                    tail.extend_from_slice(&buf[..n]);
                    if String::from_utf8_lossy(&tail).contains(text.as_str()) {
                        if let Ok(mut w) = writer2.lock() {
                            let _ = w.write_all(reply.as_bytes());
                            let _ = w.flush();
                        }
                        pending = None;
                    } else if tail.len() > 4096 {
                        tail.drain(..tail.len() - 256);
                    }
                }
            }
        });
        let pid = child.process_id().expect("pid") as i32;
        Pty {
            child,
            _master: pair.master,
            writer,
            screen,
            bytes,
            pid,
        }
    }

    /// The screen's text, rows joined with newlines.
    pub fn contents(&self) -> String {
        self.screen
            .lock()
            .map(|s| s.screen().contents())
            .unwrap_or_default()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// `Some(status)` when the program has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{status:?}")),
            _ => None,
        }
    }

    /// Types `keys` (e.g. `q` to quit), waits up to `grace` for the program to end, then
    /// kills it. Returns how it ended.
    pub fn quit(mut self, keys: &str, grace: Duration) -> String {
        if let Ok(mut w) = self.writer.lock() {
            let _ = w.write_all(keys.as_bytes());
            let _ = w.flush();
        }
        let t0 = Instant::now();
        while t0.elapsed() < grace {
            if let Some(status) = self.exited() {
                return format!("quit ({status})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        "killed (did not quit)".to_string()
    }
}
