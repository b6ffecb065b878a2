//! The flight recorder: every sample, link event and alert of every server, kept in one
//! SQLite file ([`Recorder`]), and read back ([`read::Recording`]) to replay, to print the
//! snapshot JSON of a past moment, and to write an incident report ([`report`]).
//!
//! What is stored is what the workers send (the [`Update`] stream, before the model derives
//! anything), so a replay runs the same model as the dashboard did and shows the same rates,
//! alerts and lock trees. The schema ([`SCHEMA`], version [`SCHEMA_VERSION`]) is documented
//! in the README; every time column is epoch seconds on the **server** clock (`at`,
//! `collected_at`, `fired_at`, ...), except `received_at` (the recorder's clock, used only to
//! replay in the original order and pace).
//!
//! * `blocks`: up to a minute ([`codec::BLOCK_S`]) of the samples of one server and area,
//!   one zstd stream of their frames ([`codec::BlockWriter`]): a sample repeats nothing an
//!   earlier one of its block said, so counters that did not move cost almost nothing. A
//!   *continuation* block has the last frame of the block before it (`prev_id`) as
//!   dictionary; a *key* block (`prev_id` NULL) starts a group (`group_id`,
//!   `block_groups`), which decodes without any other and which retention deletes whole.
//!   A key at least every hour, and whenever the continuations of a group outweigh its key.
//! * `open_blocks`: the block being written for each server and area, its stream flushed
//!   and rewritten at every commit (so a reader, or a recorder after `kill -9`, has it up
//!   to the last commit); sealed into `blocks` when the next sample falls outside it. A
//!   row is only written once it is whole, so the pages of `blocks` fill up.
//! * `statement_texts`: each pg_stat_statements text once per (server, userid, dbid,
//!   queryid, toplevel).
//! * `points`: the values the sparklines draw, plain rows for SQL (`series` names them:
//!   `xact_per_s`, `client_backends`, `interval_hit_ratio`, `replay_lag_bytes`, the WAL
//!   series), keyed by time; the `timeline` view joins the names.
//! * `alerts`: one row per alert, fired to resolved, its worst severity.
//! * `events`: connections, lost connections and failed polls (a failure repeated with
//!   the same message extends its row: `last_at`, `count`).
//!
//! Safety: the file is created mode 0600 (it holds query texts), never through a symbolic
//! link; one recorder per file (an advisory `flock` on the file, so a second recorder is an
//! error, while `sqlite3` can read it meanwhile); WAL journal, committed every
//! [`COMMIT_EVERY`], so `kill -9` loses at most that much and the file still opens. A write
//! that fails (a full disk) stops the recorder with one line ([`RecordError`]); the
//! dashboard goes on.

pub mod codec;
pub mod read;
pub mod report;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Config;
use crate::model::{Store, areas};
use crate::sample::{Area, LinkEvent, Rule, Update};
use codec::StatementKey;

/// `PRAGMA user_version` of the files this build writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id`: `pgvt`, so `file(1)`-like tools and pgvitals know the file.
pub const APPLICATION_ID: i64 = 0x7067_7674;

/// SQLite's page size for a new recording: 16 KiB, so the blocks of a minute (a few KB
/// each) fill their pages (at 4 KiB, a 3 KB block leaves a quarter of its page empty).
pub const PAGE_SIZE: u32 = 16_384;

/// How often the recorder commits (what `kill -9` may lose).
pub const COMMIT_EVERY: Duration = Duration::from_secs(2);

/// How often the size and age caps are checked.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// What is kept around an alert when pruning by size: from this long before it fired to
/// this long after it resolved.
pub const ALERT_MARGIN_S: f64 = 300.0;

/// The default `--max-size`: 1 GB (2^30 bytes).
pub const DEFAULT_MAX_SIZE: u64 = crate::config::DEFAULT_RECORD_MAX_SIZE;

/// The default `--max-age`: 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// A key block at least this often (bounds what a random read decodes); otherwise a new key
/// only once the continuations since the last one outweigh it.
const KEY_AT_LEAST_EVERY_S: f64 = 3600.0;

/// The tables, indexes and views of schema version 2 (see the README's "Recordings").
pub const SCHEMA: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE servers (server_id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
CREATE TABLE block_groups (
  group_id INTEGER PRIMARY KEY,
  server_id INTEGER NOT NULL REFERENCES servers,
  area TEXT NOT NULL,
  first_at REAL NOT NULL,
  last_at REAL NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE INDEX block_groups_first ON block_groups (first_at);
CREATE TABLE blocks (
  block_id INTEGER PRIMARY KEY,
  server_id INTEGER NOT NULL REFERENCES servers,
  area TEXT NOT NULL,
  first_at REAL NOT NULL,
  last_at REAL NOT NULL,
  samples INTEGER NOT NULL,
  times TEXT NOT NULL,
  group_id INTEGER NOT NULL REFERENCES block_groups,
  prev_id INTEGER,
  raw_len INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX blocks_at ON blocks (first_at);
CREATE INDEX blocks_group ON blocks (group_id);
CREATE TABLE open_blocks (
  server_id INTEGER NOT NULL,
  area TEXT NOT NULL,
  first_at REAL NOT NULL,
  last_at REAL NOT NULL,
  samples INTEGER NOT NULL,
  times TEXT NOT NULL,
  group_id INTEGER NOT NULL,
  prev_id INTEGER,
  raw_len INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (server_id, area)
);
CREATE TABLE statement_texts (
  server_id INTEGER NOT NULL,
  userid INTEGER NOT NULL,
  dbid INTEGER NOT NULL,
  queryid INTEGER NOT NULL,
  toplevel INTEGER NOT NULL,
  query TEXT NOT NULL,
  PRIMARY KEY (server_id, userid, dbid, queryid, toplevel)
) WITHOUT ROWID;
CREATE TABLE series (series_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE points (
  at REAL NOT NULL,
  server_id INTEGER NOT NULL REFERENCES servers,
  series_id INTEGER NOT NULL REFERENCES series,
  value REAL NOT NULL,
  PRIMARY KEY (at, server_id, series_id)
) WITHOUT ROWID;
CREATE TABLE alerts (
  alert_id INTEGER PRIMARY KEY,
  server_id INTEGER NOT NULL,
  rule TEXT NOT NULL,
  area TEXT NOT NULL,
  subject TEXT NOT NULL,
  severity TEXT NOT NULL,
  fired_at REAL NOT NULL,
  resolved_at REAL,
  value REAL NOT NULL,
  threshold REAL NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX alerts_fired ON alerts (fired_at);
CREATE TABLE events (
  event_id INTEGER PRIMARY KEY,
  server_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  area TEXT,
  at REAL NOT NULL,
  last_at REAL NOT NULL,
  received_at REAL NOT NULL,
  last_received_at REAL NOT NULL,
  count INTEGER NOT NULL,
  message TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX events_at ON events (at);
CREATE VIEW timeline AS
  SELECT s.label AS server, datetime(p.at, 'unixepoch') AS utc, p.at, n.name AS series, p.value
    FROM points AS p JOIN servers AS s USING (server_id) JOIN series AS n USING (series_id);
"#;

/// Why recording failed or stopped: one line, naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(pub String);

impl RecordError {
    fn sql(path: &Path, what: &str, e: rusqlite::Error) -> RecordError {
        let full = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
        );
        if full {
            RecordError(format!(
                "recording to {} stopped: the disk is full ({what})",
                path.display()
            ))
        } else {
            RecordError(format!("recording to {}: {what}: {e}", path.display()))
        }
    }
}

/// How much a recording keeps: `max_size` bytes of file (ordinary samples are pruned first,
/// alert windows last) and `max_age` of history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    pub max_size: u64,
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_size: DEFAULT_MAX_SIZE,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// A group of blocks: a key block and the continuations after it (what retention drops
/// as one).
#[derive(Debug, Clone, Copy)]
struct Group {
    group_id: i64,
    /// When the key block began (server clock).
    key_at: f64,
    /// The key block's size once sealed.
    key_bytes: usize,
    /// The sealed blocks of the group, bytes (key included).
    sealed_bytes: usize,
}

/// The block being written for one server and area (its row is in `open_blocks` until it
/// is sealed into `blocks`).
struct Chain {
    /// The block before it in its group (`None`: a key block).
    prev_id: Option<i64>,
    group: Group,
    writer: codec::BlockWriter,
}

/// A block just sealed: its id, its last line (the next block's dictionary), its group.
type Sealed = (i64, Vec<u8>, Group);
/// The open failure event of an area (or the link): its row and message.
struct OpenFailure {
    event_id: i64,
    message: String,
}

/// What the recorder counted, for the header and the bench.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecorderStats {
    pub frames: u64,
    pub key_frames: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub pruned_groups: u64,
}

/// Writes a recording. Feed it every [`Update`] ([`Recorder::record`]), call
/// [`Recorder::tick`] now and then (commits, time-based alerts, retention); dropping it
/// commits what is pending.
pub struct Recorder {
    path: PathBuf,
    conn: Connection,
    /// Holds the advisory lock: one recorder per file.
    _lock: std::fs::File,
    store: Store,
    server_ids: Vec<i64>,
    chains: HashMap<(usize, Area), Chain>,
    texts: HashSet<(usize, StatementKey)>,
    series_ids: HashMap<&'static str, i64>,
    open_alerts: BTreeMap<(usize, Rule, String), (i64, crate::model::Severity)>,
    failures: HashMap<(usize, Option<Area>), OpenFailure>,
    /// Server clock minus recorder clock, seconds, per server (from the latest sample).
    offsets: Vec<f64>,
    in_txn: bool,
    last_commit: Instant,
    last_prune: Instant,
    retention: Retention,
    pub stats: RecorderStats,
}

/// Seconds since the epoch of a `SystemTime` ([`crate::sample::epoch_s`]).
pub use crate::sample::epoch_s as epoch;

/// Create (mode 0600, no symbolic link, a regular file) or open the file and take its
/// advisory lock; errors name the file.
fn open_locked(path: &Path) -> Result<std::fs::File, RecordError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => RecordError(format!(
                "recording {shown} is a symbolic link: refused (give the real path)"
            )),
            Some(nix::libc::ENXIO) => {
                RecordError(format!("recording {shown} is not a regular file: refused"))
            }
            _ => RecordError(format!("cannot open recording {shown}: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| RecordError(format!("cannot open recording {shown}: {e}")))?;
    if !meta.file_type().is_file() {
        return Err(RecordError(format!(
            "recording {shown} is not a regular file: refused"
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| RecordError(format!("cannot make {shown} private (mode 0600): {e}")))?;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: flock on a descriptor this function owns (open for the call's whole length);
    // SQLite's own locks are fcntl locks, which flock does not touch on Linux.
    let rc = unsafe { nix::libc::flock(fd, nix::libc::LOCK_EX | nix::libc::LOCK_NB) };
    if rc != 0 {
        return Err(RecordError(format!(
            "{shown} is being recorded by another pgvitals (one recorder per file)"
        )));
    }
    Ok(file)
}

impl Recorder {
    /// Open `path` for recording the servers `labels` (a new file, or one this version
    /// wrote: its servers are matched by label). The recorder evaluates alerts with
    /// `config`'s thresholds and intervals, as the dashboard does.
    ///
    /// Errors: the file cannot be created or locked, is not a pgvitals recording, or has
    /// another schema version.
    pub fn create(
        path: &Path,
        labels: &[String],
        config: &Config,
        retention: Retention,
    ) -> Result<Recorder, RecordError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| RecordError(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let lock = open_locked(path)?;
        let err = |what: &str| {
            let what = what.to_string();
            move |e| RecordError::sql(path, &what, e)
        };
        let conn = Connection::open(path).map_err(err("open"))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(err("busy timeout"))?;
        let app: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| {
                RecordError(format!(
                    "{} is not a pgvitals recording ({e})",
                    path.display()
                ))
            })?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(err("read the schema"))?;
        if tables == 0 {
            // auto_vacuum must be chosen before the first table exists
            conn.execute_batch(&format!(
                "PRAGMA page_size = {PAGE_SIZE}; PRAGMA auto_vacuum = INCREMENTAL;
                 PRAGMA journal_mode = WAL;
                 BEGIN; {SCHEMA}
                 PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};
                 COMMIT;"
            ))
            .map_err(err("create the schema"))?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('created_by', ?1), ('created_at', ?2)",
                params![
                    format!("pgvitals {}", env!("CARGO_PKG_VERSION")),
                    epoch(SystemTime::now()).to_string()
                ],
            )
            .map_err(err("write meta"))?;
        } else {
            read::check_version(&conn, path, app)?;
            conn.execute_batch("PRAGMA journal_mode = WAL;")
                .map_err(err("set the journal mode"))?;
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(err("set synchronous"))?;
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('interval_s', ?1), ('slow_interval_s', ?2)",
            params![
                config.interval.as_secs_f64().to_string(),
                config.slow_interval.as_secs_f64().to_string()
            ],
        )
        .map_err(err("write meta"))?;
        let mut server_ids = Vec::new();
        for label in labels {
            conn.execute(
                "INSERT OR IGNORE INTO servers (label) VALUES (?1)",
                params![label],
            )
            .map_err(err("write servers"))?;
            let id: i64 = conn
                .query_row(
                    "SELECT server_id FROM servers WHERE label = ?1",
                    params![label],
                    |r| r.get(0),
                )
                .map_err(err("read servers"))?;
            server_ids.push(id);
        }
        let mut texts = HashSet::new();
        {
            let mut q = conn
                .prepare("SELECT server_id, userid, dbid, queryid, toplevel FROM statement_texts")
                .map_err(err("read statement texts"))?;
            let rows = q
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        StatementKey {
                            userid: r.get(1)?,
                            dbid: r.get(2)?,
                            queryid: r.get(3)?,
                            toplevel: r.get(4)?,
                        },
                    ))
                })
                .map_err(err("read statement texts"))?;
            for row in rows {
                let (sid, key) = row.map_err(err("read statement texts"))?;
                if let Some(i) = server_ids.iter().position(|s| *s == sid) {
                    texts.insert((i, key));
                }
            }
        }
        // blocks a killed recorder left open are kept as they are (they decode up to its
        // last commit); its chains are not continued
        conn.execute_batch(
            "INSERT INTO blocks (server_id, area, first_at, last_at, samples, times, group_id, prev_id, raw_len, body)
               SELECT server_id, area, first_at, last_at, samples, times, group_id, prev_id, raw_len, body
                 FROM open_blocks WHERE samples > 0 ORDER BY group_id;
             DELETE FROM open_blocks;",
        )
        .map_err(err("keep the blocks left open"))?;
        // alerts a previous recorder left open ended when it stopped (its last write)
        conn.execute(
            "UPDATE alerts SET resolved_at = (SELECT max(last_at) FROM block_groups)
              WHERE resolved_at IS NULL",
            [],
        )
        .map_err(err("close old alerts"))?;
        let mut store = Store::new(
            labels.to_vec(),
            config.thresholds.clone(),
            config.interval,
            config.slow_interval,
            SystemTime::now(),
        );
        // a continued recording: its forecast alerts go on from the windows recorded
        if let Ok(before) = read::Recording::open(path) {
            let now = crate::sample::epoch_s(SystemTime::now());
            if let Err(e) = before.seed_windows(&mut store, now, crate::model::rates::WINDOW_S) {
                tracing::warn!("{}", crate::text::fold(&e.to_string()));
            }
        }
        Ok(Recorder {
            path: path.to_path_buf(),
            conn,
            _lock: lock,
            store,
            offsets: vec![0.0; labels.len()],
            server_ids,
            chains: HashMap::new(),
            texts,
            series_ids: HashMap::new(),
            open_alerts: BTreeMap::new(),
            failures: HashMap::new(),
            in_txn: false,
            last_commit: Instant::now(),
            last_prune: Instant::now(),
            retention,
            stats: RecorderStats::default(),
        })
    }

    /// The path recorded to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store the recorder evaluates alerts in (what a headless recorder "sees").
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn err(&self, what: &str) -> impl Fn(rusqlite::Error) -> RecordError + '_ {
        let what = what.to_string();
        move |e| RecordError::sql(&self.path, &what, e)
    }

    fn begin(&mut self) -> Result<(), RecordError> {
        if !self.in_txn {
            self.conn
                .execute_batch("BEGIN")
                .map_err(|e| RecordError::sql(&self.path, "begin", e))?;
            self.in_txn = true;
        }
        Ok(())
    }

    /// Commit what is pending (the open blocks' streams flushed into their rows first).
    pub fn flush(&mut self) -> Result<(), RecordError> {
        if self.chains.values().any(|c| c.writer.dirty()) {
            self.begin()?;
            self.store_open_blocks()?;
        }
        if self.in_txn {
            self.in_txn = false;
            self.conn
                .execute_batch("COMMIT")
                .map_err(|e| RecordError::sql(&self.path, "commit", e))?;
        }
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Record one update and apply it to the recorder's store (alerts, points).
    ///
    /// Errors: a write failed (the recording should stop; what was committed stays).
    pub fn record(&mut self, update: Update) -> Result<(), RecordError> {
        self.begin()?;
        let now = match &update {
            Update::Sample { at, .. }
            | Update::Failed { at, .. }
            | Update::Link { at, .. }
            | Update::Acted { at, .. } => *at,
        };
        let points_of = match &update {
            Update::Sample {
                server, sample, at, ..
            } => {
                let collected = codec::sample_collected_at(sample);
                if let Some(o) = self.offsets.get_mut(*server) {
                    *o = collected - epoch(*at);
                }
                self.write_frame(*server, sample, epoch(*at))?;
                self.end_failure(*server, Some(sample.area()));
                Some((*server, sample.area(), collected))
            }
            Update::Failed {
                server,
                area,
                error,
                at,
            } => {
                let body = serde_json::to_string(error).unwrap_or_default();
                self.write_event(*server, "failed", Some(*area), &error.message, &body, *at)?;
                None
            }
            Update::Link { server, event, at } => {
                match event {
                    LinkEvent::Connected(facts) => {
                        self.end_failure(*server, None);
                        let body = serde_json::to_string(facts).unwrap_or_default();
                        self.write_event(*server, "connected", None, "connected", &body, *at)?;
                    }
                    LinkEvent::Down {
                        error,
                        next_attempt,
                    } => {
                        let body = serde_json::json!({
                            "error": error,
                            "next_attempt": epoch(*next_attempt),
                        })
                        .to_string();
                        self.write_event(*server, "down", None, &error.message, &body, *at)?;
                    }
                }
                None
            }
            Update::Acted {
                server,
                command,
                outcome,
                at,
            } => {
                let message = outcome.message(command);
                self.write_event(*server, "acted", None, &message, "{}", *at)?;
                None
            }
        };
        // the recorder's store serves its alerts and points: the areas with neither
        // (statements, unused indexes) are not derived a second time beside the screen's
        let kept = match &update {
            Update::Sample { sample, .. } => areas::feeds_alerts_or_history(sample.area()),
            _ => true,
        };
        if kept {
            self.store.apply(update, now);
        }
        if let Some((server, area, collected)) = points_of {
            let points = match self.store.servers.get(server) {
                Some(state) => areas::history_points(state, area),
                None => Vec::new(),
            };
            let sid = self.server_ids[server];
            for (series, value) in points {
                if value.is_finite() {
                    let series_id = self.series_id(series.key)?;
                    self.conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO points (at, server_id, series_id, value)
                             VALUES (?2, ?3, ?1, ?4)",
                        )
                        .and_then(|mut q| q.execute(params![series_id, collected, sid, value]))
                        .map_err(self.err("write points"))?;
                }
            }
        }
        self.write_alerts(now)?;
        self.maybe_commit()
    }

    /// Commit when due, re-evaluate time-based alerts, and apply the caps when due.
    pub fn tick(&mut self, now: SystemTime) -> Result<(), RecordError> {
        self.store.tick(now);
        self.begin()?;
        self.write_alerts(now)?;
        self.maybe_commit()?;
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.prune()?;
        }
        Ok(())
    }

    fn maybe_commit(&mut self) -> Result<(), RecordError> {
        if self.last_commit.elapsed() >= COMMIT_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    fn write_frame(
        &mut self,
        server: usize,
        sample: &crate::sample::Sample,
        received_at: f64,
    ) -> Result<(), RecordError> {
        let area = sample.area();
        let collected = codec::sample_collected_at(sample);
        let sid = self.server_ids[server];
        let mut frame = codec::to_frame(sample).map_err(RecordError)?;
        if area == Area::Statements {
            for (key, text) in codec::split_statement_texts(&mut frame) {
                if self.texts.insert((server, key.clone())) {
                    self.conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO statement_texts
                               (server_id, userid, dbid, queryid, toplevel, query)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )
                        .and_then(|mut q| {
                            q.execute(params![
                                sid,
                                key.userid,
                                key.dbid,
                                key.queryid,
                                key.toplevel,
                                text
                            ])
                        })
                        .map_err(self.err("write statement texts"))?;
                }
            }
        }
        let raw = serde_json::to_vec(&frame).map_err(|e| RecordError(e.to_string()))?;
        let sealed = match self.chains.get(&(server, area)) {
            Some(c) if !c.writer.takes(collected) => self.seal(server, area)?,
            _ => None,
        };
        if !self.chains.contains_key(&(server, area)) {
            self.open_block(server, area, collected, sealed)?;
        }
        let chain = self.chains.get_mut(&(server, area)).expect("an open block");
        let before = chain.writer.raw_len;
        chain
            .writer
            .push(collected, received_at, &raw)
            .map_err(RecordError)?;
        self.stats.frames += 1;
        self.stats.raw_bytes += (chain.writer.raw_len - before) as u64;
        Ok(())
    }

    /// Start a block for `server` and `area` at `first_at`: a continuation of `sealed`
    /// (the block just sealed) while its group is younger than an hour and its
    /// continuations weigh less than its key, or else a new key block (and group).
    fn open_block(
        &mut self,
        server: usize,
        area: Area,
        first_at: f64,
        sealed: Option<Sealed>,
    ) -> Result<(), RecordError> {
        let cont = sealed.filter(|(_, _, g)| {
            (0.0..KEY_AT_LEAST_EVERY_S).contains(&(first_at - g.key_at))
                && g.sealed_bytes - g.key_bytes < g.key_bytes
        });
        let dict = cont.as_ref().map(|(_, line, _)| &line[..]);
        let writer = codec::BlockWriter::new(first_at, dict).map_err(RecordError)?;
        let (prev_id, group) = match cont {
            Some((id, _, g)) => (Some(id), g),
            None => {
                let sid = self.server_ids[server];
                self.conn
                    .prepare_cached(
                        "INSERT INTO block_groups (server_id, area, first_at, last_at, bytes)
                         VALUES (?1, ?2, ?3, ?3, 0)",
                    )
                    .and_then(|mut q| q.execute(params![sid, area.key(), first_at]))
                    .map_err(self.err("write a block group"))?;
                self.stats.key_frames += 1;
                let group = Group {
                    group_id: self.conn.last_insert_rowid(),
                    key_at: first_at,
                    key_bytes: 0,
                    sealed_bytes: 0,
                };
                (None, group)
            }
        };
        self.chains.insert(
            (server, area),
            Chain {
                prev_id,
                group,
                writer,
            },
        );
        Ok(())
    }

    /// Store a block of `server` and `area` in `group` after `prev_id`: `body` (its
    /// stream), which decodes to `raw_len` bytes of the lines `meta` lists, as the open
    /// block of its server and area (`sealed` false), or in `blocks` (returning its id);
    /// and its group's size and end.
    #[allow(clippy::too_many_arguments)]
    fn store_block(
        &self,
        server: usize,
        area: Area,
        group: &Group,
        prev_id: Option<i64>,
        meta: &codec::BlockMeta,
        raw_len: usize,
        body: &[u8],
        sealed: bool,
    ) -> Result<Option<i64>, RecordError> {
        let sid = self.server_ids[server];
        let sql = if sealed {
            "INSERT INTO blocks (server_id, area, first_at, last_at, samples, times, group_id, prev_id, raw_len, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        } else {
            "INSERT OR REPLACE INTO open_blocks (server_id, area, first_at, last_at, samples, times, group_id, prev_id, raw_len, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut q| {
                q.execute(params![
                    sid,
                    area.key(),
                    meta.first_at,
                    meta.last_at,
                    meta.samples as i64,
                    meta.times,
                    group.group_id,
                    prev_id,
                    raw_len as i64,
                    body
                ])
            })
            .map_err(self.err("write a block"))?;
        let id = sealed.then(|| self.conn.last_insert_rowid());
        if sealed {
            self.conn
                .prepare_cached("DELETE FROM open_blocks WHERE server_id = ?1 AND area = ?2")
                .and_then(|mut q| q.execute(params![sid, area.key()]))
                .map_err(self.err("write a block"))?;
        }
        self.conn
            .prepare_cached("UPDATE block_groups SET last_at = ?2, bytes = ?3 WHERE group_id = ?1")
            .and_then(|mut q| {
                q.execute(params![
                    group.group_id,
                    meta.last_at,
                    (group.sealed_bytes + body.len()) as i64
                ])
            })
            .map_err(self.err("write a block group"))?;
        Ok(id)
    }

    /// Store what every open block gained since the last call (flushing its stream, so the
    /// stored body decodes to every sample pushed).
    fn store_open_blocks(&mut self) -> Result<(), RecordError> {
        let keys: Vec<(usize, Area)> = self
            .chains
            .iter()
            .filter(|(_, c)| c.writer.dirty())
            .map(|(k, _)| *k)
            .collect();
        for (server, area) in keys {
            let c = self.chains.get_mut(&(server, area)).expect("a chain");
            c.writer.flush().map_err(RecordError)?;
            let c = &self.chains[&(server, area)];
            let w = &c.writer;
            self.store_block(
                server,
                area,
                &c.group,
                c.prev_id,
                &w.meta,
                w.flushed_raw_len,
                w.body(),
                false,
            )?;
        }
        Ok(())
    }

    /// End the block being written for `server` and `area`: its stream finished and
    /// stored in `blocks`. Returns what the next block continues from.
    fn seal(&mut self, server: usize, area: Area) -> Result<Option<Sealed>, RecordError> {
        let Some(Chain {
            prev_id,
            mut group,
            writer,
        }) = self.chains.remove(&(server, area))
        else {
            return Ok(None);
        };
        let raw_len = writer.raw_len;
        let (body, meta, last_line) = writer.finish().map_err(RecordError)?;
        let id = self
            .store_block(server, area, &group, prev_id, &meta, raw_len, &body, true)?
            .expect("a sealed block's id");
        self.stats.stored_bytes += body.len() as u64;
        if prev_id.is_none() {
            group.key_bytes = body.len();
        }
        group.sealed_bytes += body.len();
        Ok(Some((id, last_line, group)))
    }

    /// Seal every open block (the recorder stops).
    fn seal_all(&mut self) -> Result<(), RecordError> {
        let keys: Vec<(usize, Area)> = self.chains.keys().copied().collect();
        for (server, area) in keys {
            self.seal(server, area)?;
        }
        Ok(())
    }

    /// The `series_id` of a series name (written the first time it is seen).
    fn series_id(&mut self, name: &'static str) -> Result<i64, RecordError> {
        if let Some(id) = self.series_ids.get(name) {
            return Ok(*id);
        }
        self.conn
            .execute(
                "INSERT OR IGNORE INTO series (name) VALUES (?1)",
                params![name],
            )
            .map_err(self.err("write series"))?;
        let id: i64 = self
            .conn
            .query_row(
                "SELECT series_id FROM series WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .map_err(self.err("read series"))?;
        self.series_ids.insert(name, id);
        Ok(id)
    }

    /// The server clock at recorder time `at` (the latest sample's offset).
    fn server_time(&self, server: usize, at: SystemTime) -> f64 {
        epoch(at) + self.offsets.get(server).copied().unwrap_or(0.0)
    }

    fn end_failure(&mut self, server: usize, area: Option<Area>) {
        self.failures.remove(&(server, area));
    }

    fn write_event(
        &mut self,
        server: usize,
        kind: &str,
        area: Option<Area>,
        message: &str,
        body: &str,
        at: SystemTime,
    ) -> Result<(), RecordError> {
        let sid = self.server_ids[server];
        let t = self.server_time(server, at);
        let received = epoch(at);
        let repeat = matches!(kind, "failed" | "down");
        if repeat {
            if let Some(open) = self.failures.get(&(server, area)) {
                if open.message == message {
                    self.conn
                        .prepare_cached(
                            "UPDATE events SET last_at = ?2, last_received_at = ?3, count = count + 1,
                                    body = ?4
                              WHERE event_id = ?1",
                        )
                        .and_then(|mut q| q.execute(params![open.event_id, t, received, body]))
                        .map_err(self.err("write an event"))?;
                    return Ok(());
                }
            }
        }
        self.conn
            .prepare_cached(
                "INSERT INTO events (server_id, kind, area, at, last_at, received_at, last_received_at, count, message, body)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?5, 1, ?6, ?7)",
            )
            .and_then(|mut q| {
                q.execute(params![sid, kind, area.map(Area::key), t, received, message, body])
            })
            .map_err(self.err("write an event"))?;
        if repeat {
            let event_id = self.conn.last_insert_rowid();
            self.failures.insert(
                (server, area),
                OpenFailure {
                    event_id,
                    message: message.to_string(),
                },
            );
        }
        Ok(())
    }

    /// Write alerts that fired, worsened or resolved since the last call.
    fn write_alerts(&mut self, now: SystemTime) -> Result<(), RecordError> {
        let mut seen = HashSet::new();
        for (i, server) in self.store.servers.iter().enumerate() {
            let sid = self.server_ids[i];
            let offset = self.offsets[i];
            for ((rule, subject), active) in &server.alerts.active {
                let key = (i, *rule, subject.to_string());
                seen.insert(key.clone());
                let a = &active.alert;
                match self.open_alerts.get(&key) {
                    Some((id, severity)) if a.severity > *severity => {
                        self.conn
                            .execute(
                                "UPDATE alerts SET severity = ?2, value = ?3, threshold = ?4, message = ?5
                                  WHERE alert_id = ?1",
                                params![id, severity_key(a.severity), a.value, a.threshold, a.message],
                            )
                            .map_err(|e| RecordError::sql(&self.path, "write an alert", e))?;
                        let id = *id;
                        self.open_alerts.insert(key, (id, a.severity));
                    }
                    Some(_) => {}
                    None => {
                        self.conn
                            .execute(
                                "INSERT INTO alerts (server_id, rule, area, subject, severity, fired_at, value, threshold, message)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                                params![
                                    sid,
                                    rule.name(),
                                    rule.area().key(),
                                    key.2,
                                    severity_key(a.severity),
                                    epoch(active.since) + offset,
                                    a.value,
                                    a.threshold,
                                    a.message
                                ],
                            )
                            .map_err(|e| RecordError::sql(&self.path, "write an alert", e))?;
                        let id = self.conn.last_insert_rowid();
                        self.open_alerts.insert(key, (id, a.severity));
                    }
                }
            }
        }
        let gone: Vec<_> = self
            .open_alerts
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some((id, _)) = self.open_alerts.remove(&key) {
                let t = self.server_time(key.0, now);
                self.conn
                    .execute(
                        "UPDATE alerts SET resolved_at = ?2 WHERE alert_id = ?1",
                        params![id, t],
                    )
                    .map_err(self.err("write an alert"))?;
            }
        }
        Ok(())
    }

    /// The bytes the file's pages hold (free pages not counted).
    pub fn used_bytes(&self) -> Result<u64, RecordError> {
        let (pages, free, size): (i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT page_count FROM pragma_page_count()),
                        (SELECT freelist_count FROM pragma_freelist_count()),
                        (SELECT page_size FROM pragma_page_size())",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(self.err("read the size"))?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    /// Apply the caps now: drop what is older than `max_age`; then, while the file is over
    /// `max_size`, the oldest groups of blocks outside every alert's window (5 minutes
    /// before it fired to 5 minutes after it resolved), and only then the oldest of the
    /// rest. The groups being written are never dropped. Returns the groups dropped.
    pub fn prune(&mut self) -> Result<u64, RecordError> {
        self.flush()?;
        self.last_prune = Instant::now();
        let live: Vec<i64> = self.chains.values().map(|c| c.group.group_id).collect();
        let live_list = live
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let newest: Option<f64> = self
            .conn
            .query_row("SELECT max(last_at) FROM block_groups", [], |r| r.get(0))
            .map_err(self.err("prune"))?;
        let Some(newest) = newest else { return Ok(0) };
        let cutoff = newest - self.retention.max_age.as_secs_f64();
        let mut dropped = 0u64;
        self.begin()?;
        dropped += self.drop_groups(&format!(
            "SELECT group_id FROM block_groups WHERE last_at < {cutoff} AND group_id NOT IN ({live_list})"
        ))?;
        self.conn
            .execute_batch(&format!(
                "DELETE FROM points WHERE at < {cutoff};
                 DELETE FROM events WHERE last_at < {cutoff};
                 DELETE FROM alerts WHERE coalesce(resolved_at, fired_at) < {cutoff};"
            ))
            .map_err(self.err("prune"))?;
        self.flush()?;
        // by size: ordinary groups first, oldest first, then alert windows
        let protected = format!(
            "EXISTS (SELECT 1 FROM alerts AS a
                      WHERE a.server_id = g.server_id
                        AND g.last_at >= a.fired_at - {ALERT_MARGIN_S}
                        AND g.first_at <= coalesce(a.resolved_at, 1e18) + {ALERT_MARGIN_S})"
        );
        for pass in 0..2 {
            while self.used_bytes()? > self.retention.max_size * 9 / 10 {
                let over = self.used_bytes()? - self.retention.max_size * 9 / 10;
                let filter = if pass == 0 {
                    format!("NOT {protected}")
                } else {
                    "1".to_string()
                };
                let n = self.drop_oldest(&filter, &live_list, over)?;
                if n == 0 {
                    break;
                }
                dropped += n;
            }
        }
        if dropped > 0 {
            // points and events older than every kept frame of their server go too
            self.conn
                .execute_batch(
                    "DELETE FROM events WHERE last_at < (SELECT min(first_at) FROM block_groups AS g
                                                         WHERE g.server_id = events.server_id);
                     PRAGMA incremental_vacuum;",
                )
                .map_err(self.err("prune"))?;
            for sid in self.server_ids.clone() {
                self.conn
                    .execute(
                        "DELETE FROM points
                          WHERE at < (SELECT min(first_at) FROM block_groups WHERE server_id = ?1)
                            AND server_id = ?1",
                        params![sid],
                    )
                    .map_err(self.err("prune"))?;
            }
            self.stats.pruned_groups += dropped;
        }
        Ok(dropped)
    }

    /// Drop the oldest groups matching `filter` whose bytes add up to about `over`.
    fn drop_oldest(&mut self, filter: &str, live: &str, over: u64) -> Result<u64, RecordError> {
        let sql = format!(
            "SELECT group_id, bytes FROM block_groups AS g
              WHERE {filter} AND group_id NOT IN ({live})
              ORDER BY first_at LIMIT 2000"
        );
        let candidates: Vec<(i64, i64)> = {
            let mut q = self.conn.prepare(&sql).map_err(self.err("prune"))?;
            q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(self.err("prune"))?
        };
        let mut picked = Vec::new();
        let mut sum = 0u64;
        for (id, bytes) in candidates {
            picked.push(id);
            // a row costs its body and about 100 bytes of row, index and group
            sum += bytes.max(0) as u64 + 100;
            if sum >= over {
                break;
            }
        }
        if picked.is_empty() {
            return Ok(0);
        }
        let list = picked
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.begin()?;
        let n = self.drop_groups(&list)?;
        self.flush()?;
        self.conn
            .execute_batch("PRAGMA incremental_vacuum;")
            .map_err(self.err("prune"))?;
        Ok(n)
    }

    /// Delete the groups whose group_id is in `ids` (a list or a subquery).
    fn drop_groups(&mut self, ids: &str) -> Result<u64, RecordError> {
        self.conn
            .execute(&format!("DELETE FROM blocks WHERE group_id IN ({ids})"), [])
            .map_err(self.err("prune"))?;
        let n = self
            .conn
            .execute(
                &format!("DELETE FROM block_groups WHERE group_id IN ({ids})"),
                [],
            )
            .map_err(self.err("prune"))?;
        Ok(n as u64)
    }

    /// The time of the oldest sample kept (server clock), if any.
    pub fn oldest(&self) -> Result<Option<f64>, RecordError> {
        self.conn
            .query_row("SELECT min(first_at) FROM block_groups", [], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(self.err("read"))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.begin().and_then(|()| self.seal_all());
        let _ = self.flush();
    }
}

/// The JSON name of a severity: `warning`, `critical`.
pub fn severity_key(s: crate::model::Severity) -> &'static str {
    match s {
        crate::model::Severity::Warning => "warning",
        crate::model::Severity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{ActivitySample, Sample, Session, from_epoch_s};

    /// An activity sample at `t` with `backends` of 100 usable connections and about 20 KB
    /// of text that does not compress (so the file grows by about that per frame).
    fn sample(t: f64, backends: i32, seed: &mut u64) -> Update {
        let mut text = String::with_capacity(20_000);
        while text.len() < 20_000 {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push_str(&format!("{:016x}", *seed));
        }
        Update::Sample {
            server: 0,
            sample: Box::new(Sample::Activity(ActivitySample {
                collected_at: t,
                max_connections: 103,
                usable_connections: 100,
                client_backends: backends,
                sessions: vec![Session {
                    pid: 7,
                    query: text,
                    ..Session::default()
                }],
                ..ActivitySample::default()
            })),
            at: from_epoch_s(t),
            took: std::time::Duration::ZERO,
        }
    }

    /// The samples a reader finds collected in `[a, b]`.
    fn frames_between(path: &Path, a: f64, b: f64) -> i64 {
        let read = read::Recording::open(path).expect("open");
        let mut n = 0;
        read.for_each_update_after(a, b, |_, u| {
            n += i64::from(matches!(u, Update::Sample { .. }));
            true
        })
        .expect("read");
        n
    }

    /// What a new screen gets from a recording: three hours of connections (a burst over
    /// the warning from +1800 s to +1900 s, so one alert that fired and resolved) and ten
    /// minutes of xid ages growing by 100 a second.
    #[test]
    fn a_recording_gives_a_new_screen_its_history_alerts_and_forecast_windows() {
        use crate::model::history::Series;
        use crate::sample::{DatabaseAge, VacuumSample};
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("r.db");
        let label = "db1:5432/app".to_string();
        let config = Config::parse("[thresholds.connections]\nwarning = 50\ncritical = 99\n")
            .expect("config");
        let mut rec = Recorder::create(
            &path,
            std::slice::from_ref(&label),
            &config,
            Retention::default(),
        )
        .expect("create");
        let t0 = 1_800_000_000.0;
        let end = t0 + 3.0 * 3600.0;
        let vacuum = |t: f64| Update::Sample {
            server: 0,
            sample: Box::new(Sample::Vacuum(VacuumSample {
                collected_at: t,
                server_version_num: 170_000,
                autovacuum_freeze_max_age: 200_000_000,
                autovacuum_multixact_freeze_max_age: 400_000_000,
                databases: vec![DatabaseAge {
                    datname: "app".into(),
                    xid_age: 1_000_000 + ((t - t0) * 100.0) as i64,
                    mxid_age: 5,
                    ..DatabaseAge::default()
                }],
                ..VacuumSample::default()
            })),
            at: from_epoch_s(t),
            took: std::time::Duration::ZERO,
        };
        let mut t = t0;
        while t <= end {
            let busy = (1800.0..1900.0).contains(&(t - t0));
            let activity = Sample::Activity(ActivitySample {
                collected_at: t,
                max_connections: 103,
                usable_connections: 100,
                client_backends: if busy { 60 } else { 10 },
                ..ActivitySample::default()
            });
            rec.record(Update::Sample {
                server: 0,
                sample: Box::new(activity),
                at: from_epoch_s(t),
                took: std::time::Duration::ZERO,
            })
            .expect("record");
            if end - t <= 600.0 {
                rec.record(vacuum(t)).expect("record");
            }
            t += 30.0;
        }
        rec.flush().expect("flush");
        drop(rec);

        let read = read::Recording::open(&path).expect("open");
        let mut store = Store::new(
            vec![label, "other:5432/x".into()],
            config.thresholds.clone(),
            config.interval,
            config.slow_interval,
            from_epoch_s(end),
        );
        read.load_history(&mut store, end, end).expect("history");
        let server = &store.servers[0];
        // 6 hours in 360 columns: nothing before t0, the burst where it was, 10 after
        let cols = server
            .history
            .columns(Series::CONNECTIONS, from_epoch_s(end), 21_600.0, 360);
        let first = cols.iter().position(Option::is_some).expect("points");
        assert!(
            (179..=181).contains(&first),
            "first column with a point: {first}"
        );
        assert_eq!(
            cols[first + 30..first + 33]
                .iter()
                .flatten()
                .copied()
                .fold(0.0, f64::max),
            60.0
        );
        assert_eq!(cols[359], Some(10.0));
        assert!(
            store.servers[1].history.is_empty(),
            "a server not recorded gets nothing"
        );
        // an hour earlier, from the minutes already read: as read afresh
        let earlier_at = end - 3600.0;
        let mut again = store.clone();
        read.load_history(&mut again, earlier_at, earlier_at)
            .expect("history");
        let mut afresh = store.clone();
        read::Recording::open(&path)
            .expect("open")
            .load_history(&mut afresh, earlier_at, earlier_at)
            .expect("history");
        assert_eq!(again.servers[0].history, afresh.servers[0].history);
        let cols = again.servers[0].history.columns(
            Series::CONNECTIONS,
            from_epoch_s(earlier_at),
            21_600.0,
            360,
        );
        assert_eq!(cols.iter().flatten().copied().fold(0.0, f64::max), 60.0);
        assert_eq!(cols[359], Some(10.0));
        // the alert: resolved before, with its times
        let earlier = &server.alerts.earlier;
        assert_eq!(earlier.len(), 1, "{earlier:?}");
        let a = &earlier[0];
        assert_eq!(a.alert.rule, crate::sample::Rule::Connections);
        assert_eq!(crate::sample::epoch_s(a.since), t0 + 1800.0);
        assert_eq!(crate::sample::epoch_s(a.resolved_at), t0 + 1920.0);

        // the first live sample 30 s after the recording knows the rate at once
        read.seed_windows(&mut store, end + 30.0, 900.0)
            .expect("seed");
        store.apply(vacuum(end + 30.0), from_epoch_s(end + 30.0));
        let rate = store.servers[0].vacuum().expect("vacuum").databases[0]
            .xid_per_s
            .expect("a rate, not estimating");
        assert!((rate - 100.0).abs() < 20.0, "{rate}");
        // without the recording: estimating
        let new_store = || {
            Store::new(
                vec!["db1:5432/app".into()],
                config.thresholds.clone(),
                config.interval,
                config.slow_interval,
                from_epoch_s(end),
            )
        };
        let mut fresh = new_store();
        fresh.apply(vacuum(end + 30.0), from_epoch_s(end + 30.0));
        assert_eq!(
            fresh.servers[0].vacuum().expect("vacuum").databases[0].xid_per_s,
            None
        );
        // a recording older than the window seeds nothing
        let mut late = new_store();
        read.seed_windows(&mut late, end + 2000.0, 900.0)
            .expect("seed");
        late.apply(vacuum(end + 2000.0), from_epoch_s(end + 2000.0));
        assert_eq!(
            late.servers[0].vacuum().expect("vacuum").databases[0].xid_per_s,
            None
        );
    }

    #[test]
    fn a_tiny_size_cap_prunes_ordinary_samples_and_keeps_the_alert_window() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("r.db");
        let config = Config::parse("[thresholds.connections]\nwarning = 50\ncritical = 99\n")
            .expect("config");
        let cap = 2 << 20;
        let mut rec = Recorder::create(
            &path,
            &["db1:5432/app".to_string()],
            &config,
            Retention {
                max_size: cap,
                max_age: DEFAULT_MAX_AGE,
            },
        )
        .expect("create");
        let t0 = 1_800_000_000.0;
        let mut seed = 1;
        // 400 polls 10 s apart; connections over the warning from t0+2000 to t0+2100
        for i in 0..400 {
            let t = t0 + f64::from(i) * 10.0;
            let busy = (2000.0..2100.0).contains(&(t - t0));
            rec.record(sample(t, if busy { 60 } else { 10 }, &mut seed))
                .expect("record");
        }
        rec.flush().expect("flush");
        let before = rec.used_bytes().expect("size");
        assert!(before > 2 * cap, "the test wrote only {before} bytes");
        let dropped = rec.prune().expect("prune");
        assert!(dropped > 0);
        let after = rec.used_bytes().expect("size");
        assert!(after <= cap, "{after} bytes left of a {cap} cap");
        let conn = Connection::open(&path).expect("open");
        let (fired, resolved): (f64, f64) = conn
            .query_row(
                "SELECT fired_at, resolved_at FROM alerts WHERE rule = 'connections'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the alert is recorded");
        assert!((fired - (t0 + 2000.0)).abs() < 1.0, "{fired}");
        assert!((resolved - (t0 + 2100.0)).abs() < 1.0, "{resolved}");
        // every poll of the window (5 min before to 5 min after) is still there
        let window = frames_between(&path, fired - ALERT_MARGIN_S, resolved + ALERT_MARGIN_S);
        assert_eq!(window, 71, "frames kept around the alert");
        // the oldest ordinary ones went first, and the newest are being written on
        assert_eq!(frames_between(&path, t0, t0 + 500.0), 0);
        assert!(frames_between(&path, t0 + 3900.0, t0 + 4000.0) > 0);
        drop(conn);
        drop(rec);
        // and what is kept still decodes
        let read = read::Recording::open(&path).expect("open");
        let (store, last) = read.store_at(t0 + 2050.0, &config).expect("replay");
        assert!(last.is_some());
        let a = store.servers[0].activity().expect("activity");
        assert_eq!(a.client_backends, 60);
    }

    #[test]
    fn a_second_recorder_on_a_file_is_refused_and_a_symlink_is_never_followed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("r.db");
        let config = Config::default();
        let labels = ["a".to_string()];
        let first = Recorder::create(&path, &labels, &config, Retention::default()).expect("first");
        let err = Recorder::create(&path, &labels, &config, Retention::default())
            .err()
            .expect("second refused");
        assert!(
            err.0.contains("being recorded by another pgvitals"),
            "{err}"
        );
        drop(first);
        assert!(Recorder::create(&path, &labels, &config, Retention::default()).is_ok());
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        let err = Recorder::create(&link, &labels, &config, Retention::default())
            .err()
            .expect("symlink refused");
        assert!(err.0.contains("symbolic link"), "{err}");
        let other = dir.path().join("other.db");
        let c = Connection::open(&other).expect("sqlite");
        c.execute_batch("CREATE TABLE x (y)").expect("table");
        drop(c);
        let err = Recorder::create(&other, &labels, &config, Retention::default())
            .err()
            .expect("not ours");
        assert!(err.0.contains("not a pgvitals recording"), "{err}");
    }
}
