//! What flows from the workers to the consumers (samples, failures, link events, outcomes),
//! and what flows back (confirmed commands).

use super::*;

/// What the workers send to the model, over one bounded channel.
#[derive(Debug, Clone)]
pub enum Update {
    /// A fresh sample of one area.
    Sample {
        server: usize,
        sample: Box<Sample>,
        /// Client clock when the sample arrived.
        at: std::time::SystemTime,
        /// How long the poll took (its queries, on the monitoring connection); zero when
        /// unknown (a sample read back from a recording).
        took: std::time::Duration,
    },
    /// A poll of one area failed; the area keeps its last good sample and turns stale.
    Failed {
        server: usize,
        area: Area,
        error: CollectError,
        at: std::time::SystemTime,
    },
    /// The server's connection state changed.
    Link {
        server: usize,
        event: LinkEvent,
        at: std::time::SystemTime,
    },
    /// A confirmed command was carried out, or not: the screen shows the outcome.
    Acted {
        server: usize,
        command: Command,
        outcome: ActionOutcome,
        at: std::time::SystemTime,
    },
}

/// Connection events of one server.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// Connected (or reconnected) and probed: the facts may differ from before (a promotion).
    Connected(Box<ServerFacts>),
    /// Cannot connect; the next attempt is at `next_attempt`.
    Down {
        error: CollectError,
        next_attempt: std::time::SystemTime,
    },
}

/// A request from the screen to the workers of one server, confirmed by the user. The
/// backend is named by `pid` **and** `backend_start` (epoch seconds, as in the row the user
/// confirmed on): the function is called only on the backend that has both, so a pid reused
/// by a later backend since is left alone ([`ActionOutcome::LeftAlone`]). The session's user
/// and query are carried for the log (what was cancelled, not just a pid).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `pg_cancel_backend(pid)`.
    CancelBackend {
        server: usize,
        pid: i32,
        backend_start: Option<crate::sample::EpochSeconds>,
        usename: Option<String>,
        query: String,
    },
    /// `pg_terminate_backend(pid)`.
    TerminateBackend {
        server: usize,
        pid: i32,
        backend_start: Option<crate::sample::EpochSeconds>,
        usename: Option<String>,
        query: String,
    },
    /// The plan of pg_stat_statements entry `queryid` (`collect::explain`: never ANALYZE,
    /// one statement, read-only, rolled back): changes nothing, so it needs no
    /// `--enable-actions`. The outcome is [`ActionOutcome::Plan`].
    Explain { server: usize, queryid: i64 },
}

impl Command {
    /// Index of the server the command is for.
    pub fn server(&self) -> usize {
        match self {
            Command::CancelBackend { server, .. }
            | Command::TerminateBackend { server, .. }
            | Command::Explain { server, .. } => *server,
        }
    }

    /// The backend's pid.
    /// The backend a cancel / terminate is for (0 for an EXPLAIN).
    pub fn pid(&self) -> i32 {
        match self {
            Command::CancelBackend { pid, .. } | Command::TerminateBackend { pid, .. } => *pid,
            Command::Explain { .. } => 0,
        }
    }

    /// The PostgreSQL function the command calls: `pg_cancel_backend` or
    /// `pg_terminate_backend`.
    pub fn function(&self) -> &'static str {
        match self {
            Command::CancelBackend { .. } => "pg_cancel_backend",
            Command::TerminateBackend { .. } => "pg_terminate_backend",
            Command::Explain { .. } => "EXPLAIN",
        }
    }
}

/// What became of a confirmed [`Command`]; [`ActionOutcome::message`] is the one line the
/// screen and the log show.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// The function ran on the backend with the confirmed pid and backend_start and returned
    /// true.
    Done,
    /// Nothing was sent: no backend has that pid any more, the pid now belongs to another
    /// backend (a different backend_start), or the identity could not be checked
    /// (backend_start hidden without pg_read_all_stats). The reason is one line.
    LeftAlone(String),
    /// The function ran and returned false or failed, or the server could not be asked.
    Failed(String),
    /// The plan of an [`Command::Explain`], as indented lines (raw server text: the screen
    /// sanitizes it).
    Plan(Vec<String>),
}

impl ActionOutcome {
    /// One line for the status bar and the log, e.g. `pg_cancel_backend(4242): done`, or
    /// `pid 4242 left alone: it now belongs to another backend (started ...)`.
    pub fn message(&self, command: &Command) -> String {
        if let Command::Explain { queryid, .. } = command {
            return match self {
                ActionOutcome::Failed(why) | ActionOutcome::LeftAlone(why) => {
                    format!("EXPLAIN of statement {queryid} failed: {why}")
                }
                _ => format!("EXPLAIN of statement {queryid}: planned, nothing executed"),
            };
        }
        let (function, pid) = (command.function(), command.pid());
        match self {
            ActionOutcome::Plan(_) => format!("{function}({pid}): done"),
            ActionOutcome::Done => format!("{function}({pid}): done"),
            ActionOutcome::LeftAlone(why) => format!("pid {pid} left alone: {why}"),
            ActionOutcome::Failed(why) => format!("{function}({pid}) failed: {why}"),
        }
    }
}

/// Seconds since the Unix epoch of a `SystemTime` (negative before it): a server timestamp
/// (`timestamptz` decodes as `SystemTime`) or a client time. The inverse of [`from_epoch_s`].
pub fn epoch_s(t: std::time::SystemTime) -> f64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The `SystemTime` of epoch seconds `s` (the inverse of [`epoch_s`]), rounded to the
/// microsecond: exact for a server timestamp that went through `collect::epoch_s` (an `f64` holds
/// today's epoch to a quarter of a microsecond).
pub fn from_epoch_s(s: f64) -> std::time::SystemTime {
    let micros = (s.abs() * 1e6).round();
    let d = std::time::Duration::from_micros(if micros.is_finite() {
        micros.min(u64::MAX as f64) as u64
    } else {
        0
    });
    if s >= 0.0 {
        std::time::UNIX_EPOCH + d
    } else {
        std::time::UNIX_EPOCH - d
    }
}
