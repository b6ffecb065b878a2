//! Typed samples: what one poll of one area returns.
//!
//! One struct per area, owned and plain, decoded from the rows of the area's query in
//! `queries/`. Field names equal the SQL column aliases and the JSON keys of
//! `pgvitals snapshot`, in PostgreSQL's own terms with the unit as a suffix (`_bytes`, `_ms`,
//! `_s`, `_per_s`, `_ratio`, `_pct`). Ages are seconds (`_age_s`) measured on the server clock
//! (`now() - <timestamp>`), so client clock skew never matters.
//!
//! Fields marked *derived* are `None` in what a collector sends; [`crate::model`] fills them
//! from the previous sample (rates over the measured interval). A derived field that stays
//! `None` means "no baseline yet" (first sample, new row, or a reset), never zero.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{OptF32, OptF64, OptI64};

/// Seconds since the Unix epoch on the **server** clock (`extract(epoch from now())`).
pub type EpochSeconds = f64;

/// The role a server plays in replication, from `pg_is_in_recovery()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    Primary,
    Standby,
}

/// Server-wide facts and counters: `version()`, `pg_postmaster_start_time()`,
/// `pg_settings`, and `pg_stat_database` summed over all databases. PostgreSQL 12+.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Server clock at the time of the poll (epoch seconds).
    pub collected_at: EpochSeconds,
    /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub server_version: String,
    /// `server_version_num`, e.g. `150018`.
    pub server_version_num: i32,
    pub in_recovery: bool,
    /// Seconds since `pg_postmaster_start_time()`.
    pub uptime_s: f64,
    /// `current_database()` of the monitoring session.
    pub datname: String,
    pub max_connections: i32,
    pub superuser_reserved_connections: i32,
    /// `reserved_connections` (PostgreSQL 16+; 0 before).
    pub reserved_connections: i32,
    /// Size of all databases, bytes (`pg_database_size`, refreshed on the slow timer).
    pub database_size_bytes: Option<i64>,
    /// Counter: `sum(xact_commit)` over `pg_stat_database`.
    pub xact_commit: i64,
    /// Counter: `sum(xact_rollback)` over `pg_stat_database`.
    pub xact_rollback: i64,
    /// Derived: commits per second over the interval.
    pub xact_commit_per_s: Option<f64>,
    /// Derived: rollbacks per second over the interval.
    pub xact_rollback_per_s: Option<f64>,
    /// Derived: commits + rollbacks per second over the interval.
    pub xact_per_s: Option<f64>,
    /// `track_io_timing` as the monitoring session sees it (the server's setting unless a
    /// role or database setting overrides it): while it is off, pg_stat_statements' I/O times
    /// (`shared_blk_read_time_ms`, ...) do not grow. Read with the other settings of each
    /// server poll (`current_setting`, no extra query); `None` in a sample recorded before
    /// pgvitals read it.
    pub track_io_timing: Option<bool>,
}

/// Sessions from `pg_stat_activity` (PostgreSQL 12+), excluding pgvitals' own backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivitySample {
    pub collected_at: EpochSeconds,
    pub max_connections: i32,
    /// `max_connections - superuser_reserved_connections - reserved_connections`: the slots an
    /// ordinary role can take.
    pub usable_connections: i32,
    /// Client backends (what counts against `max_connections`), including pgvitals' own.
    pub client_backends: i32,
    /// Client backends per `state` (active, idle, idle in transaction, ...).
    pub states: Vec<StateCount>,
    /// Client backends waiting on a heavyweight lock (`wait_event_type = 'Lock'`).
    pub waiting_on_lock: i32,
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: String,
    pub count: i32,
}

/// One row of `pg_stat_activity`. Optional numbers are [`OptF64`] / [`OptI64`] (8 bytes
/// each: a sample of 2,000 sessions is held by the screen and by the collector's baseline);
/// in JSON `null` or the number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    pub pid: i32,
    pub usename: Option<String>,
    pub datname: Option<String>,
    pub application_name: String,
    /// `client_addr` as text; `None` for unix-socket and background processes.
    pub client_addr: Option<String>,
    pub backend_type: String,
    /// `state`; `None` for background processes.
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    /// `backend_start`, epoch seconds on the server clock (microseconds exact as an `f64`).
    /// With `pid` it names the backend: a pid is reused by a later backend, the pair is not, so
    /// cancel/terminate act only on the backend with both ([`crate::sample::Command`]).
    /// `None` for another role's backend when the monitoring role lacks pg_read_all_stats.
    #[serde(default)]
    pub backend_start: OptF64,
    /// Seconds since `backend_start`.
    pub backend_age_s: OptF64,
    /// Seconds since `xact_start`.
    pub xact_age_s: OptF64,
    /// Seconds since `query_start`.
    pub query_age_s: OptF64,
    /// Seconds since `state_change`.
    pub state_age_s: OptF64,
    /// `age(backend_xid)`, transactions.
    pub backend_xid_age: OptI64,
    /// `age(backend_xmin)`, transactions.
    pub backend_xmin_age: OptI64,
    /// Query text, decoded leniently (bytes that are not UTF-8 become U+FFFD). Raw: it may hold
    /// control characters; the screen sanitizes it.
    pub query: String,
    /// `pg_blocking_pids(pid)`, asked only for sessions waiting on a lock.
    pub blocked_by: Vec<i32>,
    /// `query_id` (PostgreSQL 14+): the identifier of the current query (of the last one
    /// when not active), the `queryid` of its pg_stat_statements entry. `None` before 14,
    /// when `compute_query_id` is off (or `auto` without pg_stat_statements loaded), for a
    /// statement without one, and for another role's backend without pg_read_all_stats.
    #[serde(default)]
    pub query_id: OptI64,
}

/// Where pg_stat_statements stands on this server and database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementsSample {
    pub collected_at: EpochSeconds,
    /// Installed extension version (`pg_extension.extversion`), e.g. `1.10`.
    pub extension_version: String,
    /// Schema the extension is installed in.
    pub extension_schema: String,
    /// `pg_stat_statements_info.stats_reset` (1.9+), epoch seconds.
    pub stats_reset: Option<EpochSeconds>,
    /// `pg_stat_statements_info.dealloc` (1.9+): entries evicted since the reset; counter.
    pub dealloc: Option<i64>,
    /// A note when the extension is older than what this server ships (after pg_upgrade), with
    /// the fix.
    pub notice: Option<String>,
    /// Every entry, pgvitals' own statements excluded, in key order (`userid`, `dbid`,
    /// `queryid`, `toplevel`; a recording made before pgvitals sorted them may hold another).
    pub statements: Vec<Statement>,
}

/// What names a pg_stat_statements entry: (userid, dbid, queryid, toplevel), the view's own
/// key from pg_stat_statements 1.9 ([`Statement::key`]); a [`StatementsSample`] lists its
/// entries in this order.
pub type StatementKey = (u32, u32, i64, bool);

impl Statement {
    /// The entry's [`StatementKey`].
    pub fn key(&self) -> StatementKey {
        (self.userid, self.dbid, self.queryid, self.toplevel)
    }
}

impl StatementsSample {
    /// The entry with `key`: by binary search (entries are in key order), else by a scan
    /// (a recording made before pgvitals sorted them).
    pub fn find(&self, key: &StatementKey) -> Option<&Statement> {
        match self.statements.binary_search_by_key(key, Statement::key) {
            Ok(i) => Some(&self.statements[i]),
            Err(_) => self.statements.iter().find(|s| s.key() == *key),
        }
    }
}

/// One pg_stat_statements entry, keyed by (userid, dbid, queryid, toplevel). The optional
/// numbers are [`OptF64`] / [`OptI64`] (8 bytes, not 16) and the derived rates [`OptF32`]
/// (4 bytes: 7 significant digits): the struct is 296 bytes (584 with `Option`s), and a
/// server may have 10,000 entries. In JSON they are `null` or the number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Statement {
    pub userid: u32,
    pub dbid: u32,
    pub queryid: i64,
    /// Always `true` before pg_stat_statements 1.9 (PostgreSQL 14).
    pub toplevel: bool,
    /// Role and database names, shared with the collector's name cache (no copy per poll).
    pub usename: Option<Arc<str>>,
    pub datname: Option<Arc<str>>,
    /// Counter.
    pub calls: i64,
    /// Counter, milliseconds (`total_time` before 1.8).
    pub total_exec_time_ms: f64,
    /// Lifetime mean, milliseconds.
    pub mean_exec_time_ms: f64,
    /// Counter, milliseconds; `None` before 1.8 (PostgreSQL 13).
    pub total_plan_time_ms: OptF64,
    /// Counter.
    pub rows: i64,
    /// Counters, blocks.
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    /// Counter, milliseconds spent reading shared blocks: `shared_blk_read_time` (1.11,
    /// PostgreSQL 17+), `blk_read_time` before (which counts the local blocks of temporary
    /// tables too). Grows only while `track_io_timing` is on
    /// ([`ServerSample::track_io_timing`]). `None` only in a sample recorded before pgvitals
    /// read it.
    pub shared_blk_read_time_ms: OptF64,
    /// Counter, milliseconds spent writing shared blocks: `shared_blk_write_time` (1.11+),
    /// `blk_write_time` before; like `shared_blk_read_time_ms`.
    pub shared_blk_write_time_ms: OptF64,
    /// Counters, milliseconds spent reading / writing temporary-file blocks
    /// (`temp_blk_read_time`, `temp_blk_write_time`); with `track_io_timing` only; `None`
    /// before pg_stat_statements 1.10 (PostgreSQL 15).
    pub temp_blk_read_time_ms: OptF64,
    pub temp_blk_write_time_ms: OptF64,
    /// Counters of the WAL the statement generated: records, full-page images, bytes
    /// (`wal_records`, `wal_fpi`, `wal_bytes`); `None` before pg_stat_statements 1.8
    /// (PostgreSQL 13).
    pub wal_records: OptI64,
    pub wal_fpi: OptI64,
    pub wal_bytes: OptI64,
    /// Counter, milliseconds of JIT compilation: `jit_generation_time + jit_inlining_time +
    /// jit_optimization_time + jit_emission_time` (EXPLAIN's JIT "Total"; `jit_deform_time`,
    /// 1.11+, is part of `jit_generation_time`); `None` before pg_stat_statements 1.10
    /// (PostgreSQL 15).
    pub jit_time_ms: OptF64,
    /// `stats_since` (1.11, PostgreSQL 17+), epoch seconds: a change means the entry was
    /// evicted and re-created.
    pub stats_since: OptF64,
    /// Normalized query text; fetched once per key, `None` until known. Shared with the
    /// collector's text cache and every later sample of the entry (one copy per entry, not
    /// one per poll).
    pub query: Option<Arc<str>>,
    /// Derived, per second over the interval.
    pub calls_per_s: OptF32,
    /// Derived: milliseconds of execution per second of wall time over the interval.
    pub exec_time_ms_per_s: OptF32,
    /// Derived: mean execution time of the calls made during the interval, milliseconds.
    pub interval_mean_exec_time_ms: OptF64,
    /// Derived: the baseline of `statement_regression`: the mean execution time per call of
    /// every call before the interval (since the entry began or the last reset, up to the
    /// previous poll), milliseconds; `None` for a new or re-created entry.
    pub baseline_mean_exec_time_ms: OptF64,
    /// Derived: how many calls [`Statement::baseline_mean_exec_time_ms`] averages.
    pub baseline_calls: OptI64,
    pub rows_per_s: OptF32,
    pub shared_blks_hit_per_s: OptF32,
    pub shared_blks_read_per_s: OptF32,
    pub temp_blks_written_per_s: OptF32,
    /// Derived: milliseconds of planning per second of wall time over the interval (from
    /// `total_plan_time_ms`, 1.8+).
    pub plan_time_ms_per_s: OptF32,
    /// Derived: milliseconds of shared block reads / writes per second of wall time over the
    /// interval (from `shared_blk_read_time_ms` / `shared_blk_write_time_ms`).
    pub shared_blk_read_time_ms_per_s: OptF32,
    pub shared_blk_write_time_ms_per_s: OptF32,
    /// Derived: milliseconds of temporary-file reads / writes per second over the interval
    /// (1.10+).
    pub temp_blk_read_time_ms_per_s: OptF32,
    pub temp_blk_write_time_ms_per_s: OptF32,
    /// Derived: WAL bytes, records and full-page images per second over the interval (1.8+).
    pub wal_bytes_per_s: OptF32,
    pub wal_records_per_s: OptF32,
    pub wal_fpi_per_s: OptF32,
    /// Derived: milliseconds of JIT compilation per second over the interval (1.10+).
    pub jit_time_ms_per_s: OptF32,
}

/// Buffer cache hits per database (`pg_stat_database`) and per table
/// (`pg_statio_user_tables`, current database only). PostgreSQL 12+.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSample {
    pub collected_at: EpochSeconds,
    pub databases: Vec<DatabaseCache>,
    /// Server clock when `tables` were read (epoch seconds). Tables are read at most every
    /// 5 s; in between they are carried forward.
    pub tables_collected_at: Option<EpochSeconds>,
    /// The tables followed: the `top_n` (default 50) user tables with the most lifetime block
    /// reads (heap + indexes), ranked once a minute; their counters (heap, indexes, TOAST)
    /// as of `tables_collected_at`, most reads first.
    pub tables: Vec<TableCache>,
    /// How many user tables the database has (the rows of `pg_statio_user_tables` less TOAST
    /// tables), as of the last ranking; `tables` lists at most `top_n` of them.
    #[serde(default)]
    pub tables_total: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseCache {
    pub datname: String,
    /// Counters, blocks.
    pub blks_hit: i64,
    pub blks_read: i64,
    /// Lifetime `blks_hit / (blks_hit + blks_read)`, 0..1; `None` without any block access.
    pub hit_ratio: Option<f64>,
    /// `stats_reset`, epoch seconds.
    pub stats_reset: Option<EpochSeconds>,
    /// Derived, blocks per second.
    pub blks_hit_per_s: Option<f64>,
    pub blks_read_per_s: Option<f64>,
    /// Derived: hit ratio over the interval, 0..1; `None` when no blocks were accessed.
    pub interval_hit_ratio: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableCache {
    pub relid: u32,
    pub schemaname: String,
    pub relname: String,
    /// Counters, blocks.
    pub heap_blks_read: i64,
    pub heap_blks_hit: i64,
    pub idx_blks_read: i64,
    pub idx_blks_hit: i64,
    pub toast_blks_read: i64,
    pub toast_blks_hit: i64,
    /// Lifetime hit ratio over heap + index + toast, 0..1.
    pub hit_ratio: Option<f64>,
    /// Derived: heap + index + toast blocks read (misses) per second.
    pub blks_read_per_s: Option<f64>,
    /// Derived: heap + index + toast blocks hit per second.
    pub blks_hit_per_s: Option<f64>,
    /// Derived: hit ratio over the interval, 0..1.
    pub interval_hit_ratio: Option<f64>,
}

/// Replication, from whichever side this server is on. PostgreSQL 12+.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationSample {
    pub collected_at: EpochSeconds,
    pub role: ServerRole,
    /// `pg_current_wal_lsn()` on a primary; `None` on a standby (it fails during recovery).
    pub current_wal_lsn: Option<String>,
    /// `pg_stat_replication` (on a primary, or a cascading standby).
    pub standbys: Vec<Standby>,
    /// `pg_replication_slots`.
    pub slots: Vec<Slot>,
    /// Receive/replay state when this server is a standby.
    pub standby_status: Option<StandbyStatus>,
}

/// One walsender's view of a standby (`pg_stat_replication`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Standby {
    pub pid: i32,
    pub usename: Option<String>,
    pub application_name: String,
    pub client_addr: Option<String>,
    pub state: Option<String>,
    pub sync_state: Option<String>,
    pub sent_lsn: Option<String>,
    pub write_lsn: Option<String>,
    pub flush_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// Bytes from the current WAL position to each stage.
    pub sent_lag_bytes: Option<i64>,
    pub write_lag_bytes: Option<i64>,
    pub flush_lag_bytes: Option<i64>,
    pub replay_lag_bytes: Option<i64>,
    /// `write_lag`, `flush_lag`, `replay_lag`, seconds. PostgreSQL sets these NULL when the
    /// standby is fully caught up and nothing is happening: see `lag_state`.
    pub write_lag_s: Option<f64>,
    pub flush_lag_s: Option<f64>,
    pub replay_lag_s: Option<f64>,
    /// `idle`, `streaming`, `catching_up` or `unknown`: see [`LagState`].
    pub lag_state: LagState,
    /// `age(backend_xmin)` from hot_standby_feedback, transactions.
    pub backend_xmin_age: Option<i64>,
    /// Seconds since `reply_time`.
    pub reply_age_s: Option<f64>,
}

impl Standby {
    /// How the standby is named on screen and in alerts: its `application_name`, else its
    /// address (`client_addr`), else the walsender pid.
    pub fn display_name(&self) -> String {
        if self.application_name.is_empty() {
            self.client_addr
                .clone()
                .unwrap_or_else(|| self.pid.to_string())
        } else {
            self.application_name.clone()
        }
    }
}

/// How far a standby is behind, as its walsender sees it ([`Standby::lag_state`]); JSON
/// `"idle"`, `"streaming"`, `"catching_up"`, `"unknown"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagState {
    /// Caught up, nothing to replay: the time lag is meaningless (PostgreSQL NULLs it), not 0.
    Idle,
    /// Streaming, and the time lag is measured.
    Streaming,
    /// The walsender's `state` is not `streaming` (startup, catchup, backup, stopping).
    CatchingUp,
    /// The walsender's `state` is hidden from a role without pg_read_all_stats, and so are
    /// its LSNs and lags.
    #[default]
    Unknown,
}

impl LagState {
    /// The JSON value: `idle`, `streaming`, `catching_up`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            LagState::Idle => "idle",
            LagState::Streaming => "streaming",
            LagState::CatchingUp => "catching_up",
            LagState::Unknown => "unknown",
        }
    }
}

/// Where a standby's own replay stands ([`StandbyStatus::lag_state`]); JSON `"idle"`,
/// `"replaying"`, `"paused"`, `"disconnected"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayState {
    /// Everything received is replayed.
    #[default]
    Idle,
    /// Received WAL is being replayed.
    Replaying,
    /// Replay is paused (or a pause is requested).
    Paused,
    /// No WAL receiver is streaming: the standby is not receiving from its upstream.
    Disconnected,
}

impl ReplayState {
    /// The JSON value: `idle`, `replaying`, `paused`, `disconnected`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayState::Idle => "idle",
            ReplayState::Replaying => "replaying",
            ReplayState::Paused => "paused",
            ReplayState::Disconnected => "disconnected",
        }
    }
}

/// One row of `pg_replication_slots`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub slot_name: String,
    /// `physical` or `logical`.
    pub slot_type: String,
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub temporary: bool,
    pub active: bool,
    pub active_pid: Option<i32>,
    /// WAL kept for this slot: current (or, on a standby, last replayed) LSN minus
    /// `restart_lsn`, bytes.
    pub retained_wal_bytes: Option<i64>,
    /// `wal_status` (13+): reserved, extended, unreserved, lost.
    pub wal_status: Option<String>,
    /// `safe_wal_size` (13+), bytes; `None` when max_slot_wal_keep_size is -1.
    pub safe_wal_size_bytes: Option<i64>,
    pub xmin_age: Option<i64>,
    pub catalog_xmin_age: Option<i64>,
    /// Seconds since `inactive_since` (17+).
    pub inactive_since_age_s: Option<f64>,
    /// Derived: bytes per second by which `retained_wal_bytes` grows, measured over a window
    /// of up to 15 minutes of samples (see [`GaugeMark`]); `None` while the window is shorter
    /// than a minute (after the first sample, a reconnect, or whenever `retained_wal_bytes`
    /// drops: the slot's consumer advanced `restart_lsn`).
    pub retained_wal_per_s: Option<f64>,
    /// Derived: bytes per second by which `safe_wal_size_bytes` shrinks, over the same kind of
    /// window (restarted whenever it grows); `None` without `max_slot_wal_keep_size` (no
    /// `safe_wal_size`) or while estimating.
    pub safe_wal_size_per_s: Option<f64>,
    /// Derived: seconds until `safe_wal_size_bytes` reaches 0 at `safe_wal_size_per_s` (then
    /// the slot is in danger of being invalidated, `wal_status` `lost`); 0 when already at or
    /// below 0; `None` without `max_slot_wal_keep_size`, while estimating, or when it does not
    /// shrink.
    pub invalidation_eta_s: Option<f64>,
    /// Derived, not in the JSON: readings of `retained_wal_bytes` kept at least 30 s apart
    /// over the last 15 minutes, the start of the `retained_wal_per_s` window.
    #[serde(skip)]
    pub retained_wal_marks: Vec<GaugeMark>,
    /// Derived, not in the JSON: the same for `safe_wal_size_bytes`.
    #[serde(skip)]
    pub safe_wal_size_marks: Vec<GaugeMark>,
}

/// A reading of a gauge (an age, a size) at one time on the server clock: the start of a
/// window longer than one poll over which its rate is measured ([`DatabaseAge::xid_marks`],
/// [`Slot::retained_wal_marks`], ...; the arithmetic is in `model::rates`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GaugeMark {
    /// `collected_at` of the sample, epoch seconds (server clock).
    pub at: EpochSeconds,
    /// The gauge's value then, in its own unit (transactions, multixacts, bytes).
    pub value: i64,
}

/// A standby's own view (`pg_last_wal_receive_lsn()`, `pg_last_wal_replay_lsn()`,
/// `pg_last_xact_replay_timestamp()`, `pg_stat_wal_receiver`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StandbyStatus {
    pub receive_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// `receive_lsn - replay_lsn`, bytes received but not yet replayed.
    pub replay_lag_bytes: Option<i64>,
    /// Seconds since the last replayed transaction committed on the primary. Grows while the
    /// primary is idle: read it together with `lag_state`.
    pub last_replay_age_s: Option<f64>,
    /// Replay delay in seconds when there is something to replay; `None` when `idle`.
    pub replay_lag_s: Option<f64>,
    /// `idle`, `replaying`, `paused` or `disconnected`: see [`ReplayState`].
    pub lag_state: ReplayState,
    pub replay_paused: bool,
    /// `pg_stat_wal_receiver.status` (streaming, ...); `None` when no WAL receiver runs.
    pub wal_receiver_status: Option<String>,
    pub sender_host: Option<String>,
    pub sender_port: Option<i32>,
    /// Seconds since the last message from the upstream (`last_msg_receipt_time`).
    pub last_msg_receipt_age_s: Option<f64>,
}

/// Indexes never scanned since the statistics were reset, excluding those backing a primary
/// key, unique or exclusion constraint (`pg_stat_user_indexes`, `pg_index`). Current database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnusedIndexesSample {
    pub collected_at: EpochSeconds,
    /// Seconds since `pg_stat_database.stats_reset` of this database (`None`: never reset,
    /// so the statistics are as old as the cluster, see `server.uptime_s`).
    pub stats_reset_age_s: Option<f64>,
    /// The largest unused indexes by estimated size (at most `top_n`, default 50), with exact
    /// sizes, largest first.
    pub indexes: Vec<UnusedIndex>,
    /// How many unused indexes the database has in all (listed or not, locked ones included).
    #[serde(default)]
    pub indexes_total: i64,
    /// Their size in all, bytes, estimated: the sum of `pg_class.relpages` × block_size (as
    /// of the last VACUUM, ANALYZE or CREATE INDEX; no lock, no file access).
    #[serde(default)]
    pub index_size_bytes_total: i64,
    /// Unused indexes not listed because someone holds or awaits an ACCESS EXCLUSIVE lock on
    /// the index or its table (measuring them would wait).
    pub skipped_locked: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnusedIndex {
    pub indexrelid: u32,
    pub schemaname: String,
    pub relname: String,
    pub indexrelname: String,
    pub idx_scan: i64,
    pub index_size_bytes: i64,
    pub table_size_bytes: i64,
    /// Seconds since `last_idx_scan` (16+); `None` when never scanned or before 16.
    pub last_idx_scan_age_s: Option<f64>,
    /// `pg_index.indisvalid`: an invalid index (failed CREATE INDEX CONCURRENTLY) is never
    /// scanned but still maintained.
    pub is_valid: bool,
}

/// Wraparound, dead tuples, running vacuums and the xmin horizon. PostgreSQL 12+.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VacuumSample {
    pub collected_at: EpochSeconds,
    pub autovacuum_freeze_max_age: i64,
    pub autovacuum_multixact_freeze_max_age: i64,
    pub autovacuum_max_workers: i32,
    /// `server_version_num`, e.g. `150018`: the wraparound stop limits depend on the major
    /// (see `model::areas::vacuum::xid_stop_age`). 0 in a sample recorded before this field
    /// existed (then the limits of 14+ apply: the earlier stop).
    #[serde(default)]
    pub server_version_num: i32,
    /// `pg_database`: every database's wraparound age.
    pub databases: Vec<DatabaseAge>,
    /// `pg_class`: the tables of this database with the oldest relfrozenxid (counting the
    /// TOAST table), top 20.
    pub oldest_tables: Vec<TableAge>,
    /// `pg_stat_user_tables`: the tables with the most dead tuples, top 20.
    pub dead_tuples: Vec<TableDeadTuples>,
    /// `pg_stat_progress_vacuum` joined to `pg_stat_activity`.
    pub workers: Vec<VacuumProgress>,
    /// What holds the xmin horizon back, oldest first.
    pub xmin_horizon: Vec<XminHolder>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseAge {
    pub datname: String,
    /// `age(datfrozenxid)`, transactions.
    pub xid_age: i64,
    /// `mxid_age(datminmxid)`, multixacts.
    pub mxid_age: i64,
    /// `xid_age` as a percentage of `autovacuum_freeze_max_age`.
    pub xid_freeze_max_age_pct: f64,
    /// `xid_age` as a percentage of the 2^31 transactions to wraparound.
    pub xid_wraparound_pct: f64,
    pub mxid_freeze_max_age_pct: f64,
    pub mxid_wraparound_pct: f64,
    /// Derived: transactions consumed per second (the growth of `xid_age`), measured over a
    /// window of up to 15 minutes of samples (see [`GaugeMark`]); `None` while the window is
    /// shorter than a minute ("estimating": after the first sample, a reconnect, or a drop
    /// of the age, i.e. `datfrozenxid` advanced).
    pub xid_per_s: Option<f64>,
    /// Derived: multixacts consumed per second (the growth of `mxid_age`), like `xid_per_s`.
    pub mxid_per_s: Option<f64>,
    /// Derived: seconds until `xid_age` reaches `autovacuum_freeze_max_age` at `xid_per_s`
    /// (when autovacuum forces an anti-wraparound vacuum); 0 when already past; `None`
    /// without a rate or with a rate of 0.
    pub xid_freeze_max_age_eta_s: Option<f64>,
    /// Derived: seconds until `xid_age` reaches the age at which PostgreSQL stops assigning
    /// transaction IDs (2^31 - 1 - 3,000,000 = 2,144,483,647 on 14+, 2^31 - 1 - 1,000,000 =
    /// 2,146,483,647 on 12 and 13: `xidStopLimit` in `SetTransactionIdLimit()`,
    /// src/backend/access/transam/varsup.c) at `xid_per_s`; 0 when already past; `None`
    /// without a rate or with a rate of 0.
    pub xid_wraparound_eta_s: Option<f64>,
    /// Derived: seconds until `mxid_age` reaches `autovacuum_multixact_freeze_max_age` at
    /// `mxid_per_s`; 0 when already past; `None` without a rate or with a rate of 0.
    pub mxid_freeze_max_age_eta_s: Option<f64>,
    /// Derived: seconds until `mxid_age` reaches the age at which PostgreSQL stops assigning
    /// multixact IDs (2^31 - 1 - 3,000,000 = 2,144,483,647 on 14+, 2^31 - 1 - 100 =
    /// 2,147,483,547 on 12 and 13: `multiStopLimit` in `SetMultiXactIdLimit()`,
    /// src/backend/access/transam/multixact.c) at `mxid_per_s`; 0 when already past; `None`
    /// without a rate or with a rate of 0.
    pub mxid_wraparound_eta_s: Option<f64>,
    /// Derived, not in the JSON: readings of `xid_age` kept at least 30 s apart over the last
    /// 15 minutes, the start of the `xid_per_s` window.
    #[serde(skip)]
    pub xid_marks: Vec<GaugeMark>,
    /// Derived, not in the JSON: the same for `mxid_age`.
    #[serde(skip)]
    pub mxid_marks: Vec<GaugeMark>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableAge {
    pub schemaname: String,
    pub relname: String,
    /// `greatest(age(relfrozenxid))` of the table and its TOAST table.
    pub xid_age: i64,
    pub mxid_age: i64,
    /// `pg_class.relpages * block_size`: an estimate that takes no lock.
    pub table_size_bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableDeadTuples {
    pub schemaname: String,
    pub relname: String,
    pub n_live_tup: i64,
    pub n_dead_tup: i64,
    /// `n_dead_tup / (n_live_tup + n_dead_tup)`, 0..1.
    pub dead_tup_ratio: Option<f64>,
    pub last_vacuum_age_s: Option<f64>,
    pub last_autovacuum_age_s: Option<f64>,
    pub last_analyze_age_s: Option<f64>,
    pub last_autoanalyze_age_s: Option<f64>,
}

/// A running VACUUM (manual or autovacuum) from `pg_stat_progress_vacuum`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VacuumProgress {
    pub pid: i32,
    pub datname: Option<String>,
    /// `relid::regclass` as text, when it resolves in this database.
    pub relname: Option<String>,
    pub phase: String,
    pub is_autovacuum: bool,
    /// Seconds since the vacuum's transaction started.
    pub running_s: Option<f64>,
    pub heap_blks_total: i64,
    pub heap_blks_scanned: i64,
    pub heap_blks_vacuumed: i64,
    pub index_vacuum_count: i64,
    /// Dead-tuple memory used / allowed, bytes (17+: `dead_tuple_bytes`,
    /// `max_dead_tuple_bytes`; before: tuples × 6 bytes).
    pub dead_tuple_bytes: Option<i64>,
    pub max_dead_tuple_bytes: Option<i64>,
    /// `heap_blks_scanned / heap_blks_total`, 0..1.
    pub scanned_ratio: Option<f64>,
}

/// One thing holding the xmin horizon back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct XminHolder {
    /// `backend_xmin`, `backend_xid`, `prepared_xact`, `replication_slot_xmin`,
    /// `replication_slot_catalog_xmin` or `standby_feedback`.
    pub kind: String,
    /// pid, gid, slot name or standby application_name.
    pub name: String,
    /// `age(xmin)`, transactions.
    pub xmin_age: i64,
    /// Free text: user, database, state, age of the transaction.
    pub detail: String,
}

/// WAL volume, checkpoints and the archiver: `pg_stat_wal` (14+; before, the WAL rate comes
/// from the WAL position's delta), `pg_stat_bgwriter` (12–16) / `pg_stat_checkpointer`
/// (17+, whose column names are used for all versions), `pg_stat_archiver`, and the
/// `archive_mode` / `archive_command` settings. PostgreSQL 12+, primary and standby (on a
/// standby the position is the replay position and the checkpoint counters count the
/// restartpoints' work before 17).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalSample {
    pub collected_at: EpochSeconds,
    pub in_recovery: bool,
    /// `pg_current_wal_lsn()` on a primary, `pg_last_wal_replay_lsn()` on a standby, as
    /// text (`0/16430E8`); `None` on a standby that has replayed nothing yet.
    pub wal_lsn: Option<String>,
    /// The same position in bytes since `0/0`.
    pub wal_lsn_bytes: Option<i64>,
    /// Counters of `pg_stat_wal` (PostgreSQL 14+; `None` before): WAL records, full-page
    /// images, bytes, and times WAL buffers were full.
    pub wal_records: Option<i64>,
    pub wal_fpi: Option<i64>,
    pub wal_bytes: Option<i64>,
    pub wal_buffers_full: Option<i64>,
    /// `pg_stat_wal.stats_reset` (14+).
    pub wal_stats_reset: Option<EpochSeconds>,
    /// Checkpoints done on schedule (`checkpoint_timeout`) and requested (WAL reached
    /// `max_wal_size`, or `CHECKPOINT`), counters.
    pub num_timed: i64,
    pub num_requested: i64,
    /// Counters, milliseconds: writing and syncing checkpoint buffers.
    pub write_time_ms: f64,
    pub sync_time_ms: f64,
    /// Counter: buffers written by checkpoints.
    pub buffers_written: i64,
    pub checkpointer_stats_reset: Option<EpochSeconds>,
    /// Counters of `pg_stat_archiver`.
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<EpochSeconds>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<EpochSeconds>,
    pub archiver_stats_reset: Option<EpochSeconds>,
    /// `archive_mode`: `off`, `on` or `always`.
    pub archive_mode: String,
    /// `archive_command` (or `archive_library`, 15+) is set; `None` when the setting is
    /// hidden from the role (no pg_read_all_settings).
    pub archive_command_set: Option<bool>,
    /// Derived: WAL bytes per second over the interval, from the position's delta (written
    /// on a primary, replayed on a standby; `pg_stat_wal.wal_bytes` only without a position).
    pub wal_bytes_per_s: Option<f64>,
    /// Derived: full-page images and WAL records per second (14+).
    pub wal_fpi_per_s: Option<f64>,
    pub wal_records_per_s: Option<f64>,
    /// Derived: the checkpoint window the requested share is measured over: its length
    /// (seconds, up to an hour of samples) and the checkpoints done in it.
    pub checkpoints_window_s: Option<f64>,
    pub checkpoints_timed_in_window: Option<i64>,
    pub checkpoints_requested_in_window: Option<i64>,
    /// Derived: `num_requested / (num_timed + num_requested)` over the window (0..1);
    /// `None` without a window or with no checkpoint in it.
    pub checkpoints_requested_ratio: Option<f64>,
    /// Derived: archiving is on but failing: the last failure is newer than the last
    /// success (or nothing was ever archived and something failed).
    pub archive_failing: bool,
    /// Derived, not in the JSON: counter readings kept at least 5 minutes apart over the
    /// last hour, the start of the checkpoint window.
    #[serde(skip)]
    pub checkpoint_marks: Vec<CheckpointMark>,
    /// Derived: seconds since the last successful archive (since the archiver's statistics
    /// reset when nothing was archived), on the server clock; WAL piles up meanwhile.
    pub last_archived_age_s: Option<f64>,
}

impl WalSample {
    /// Archiving is configured to run: `archive_mode` on/always (the command may still be
    /// empty: then WAL piles up, see [`WalSample::archive_command_set`]).
    pub fn archiving_on(&self) -> bool {
        self.archive_mode != "off"
    }
}

/// A reading of the checkpoint counters at one time (see [`WalSample::checkpoint_marks`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CheckpointMark {
    pub at: EpochSeconds,
    pub num_timed: i64,
    pub num_requested: i64,
}

/// The waits of the active backends at one instant, for the wait profile (the model keeps a
/// sliding window of these, `model::areas::waits`): `pg_stat_get_activity(NULL)` (the
/// function behind `pg_stat_activity`, without its joins), client backends and parallel
/// workers in state `active`, pgvitals' own backend left out, grouped by `query_id`,
/// `wait_event_type` and `wait_event`. PostgreSQL 12+; `query_id` 14+. Without
/// pg_read_all_stats other roles' backends show no state and are not counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitsSample {
    pub collected_at: EpochSeconds,
    /// `compute_query_id` (PostgreSQL 14+: `on`, `off`, `auto`, `regress`); `None` before 14.
    pub compute_query_id: Option<String>,
    /// One row per (query_id, wait_event_type, wait_event), most backends first, at most
    /// [`WAITS_MAX_ROWS`].
    pub waits: Vec<ActiveWait>,
}

impl WaitsSample {
    /// The waits sample of the same instant as an activity sample, grouped as
    /// `queries/waits.pg14.sql` groups them: the sessions in state `active` whose
    /// `backend_type` is `client backend` or `parallel worker`, by (`query_id`,
    /// `wait_event_type`, `wait_event`), most backends first (then `query_id`, the type and
    /// the event, NULLs last), at most [`WAITS_MAX_ROWS`] rows; `collected_at` is the
    /// activity's. It is what the sampler's query would have returned at that instant: every
    /// backend that is not a quiet idle session is in the activity sample in full, also when
    /// the collector read only what changed (see `collect::areas::activity`). The one
    /// difference: the activity sample also leaves out the other connection of pgvitals' own
    /// pool (the sampler's query leaves out only its own backend). `compute_query_id` is not
    /// in an activity sample: the caller passes the one the sampler last read.
    pub fn from_activity(activity: &ActivitySample, compute_query_id: Option<String>) -> Self {
        // (query_id, wait_event_type, wait_event) -> backends
        type Key<'a> = (Option<i64>, Option<&'a str>, Option<&'a str>);
        let mut groups: std::collections::HashMap<Key<'_>, i32> = std::collections::HashMap::new();
        for s in &activity.sessions {
            let counted = s.state.as_deref() == Some("active")
                && matches!(
                    s.backend_type.as_str(),
                    "client backend" | "parallel worker"
                );
            if counted {
                *groups
                    .entry((
                        s.query_id.get(),
                        s.wait_event_type.as_deref(),
                        s.wait_event.as_deref(),
                    ))
                    .or_default() += 1;
            }
        }
        let mut waits: Vec<ActiveWait> = groups
            .into_iter()
            .map(
                |((query_id, wait_event_type, wait_event), backends)| ActiveWait {
                    query_id,
                    wait_event_type: wait_event_type.map(str::to_owned),
                    wait_event: wait_event.map(str::to_owned),
                    backends,
                },
            )
            .collect();
        // NULLs last, as PostgreSQL sorts them in ascending order
        waits.sort_by(|a, b| {
            b.backends
                .cmp(&a.backends)
                .then_with(|| {
                    (a.query_id.is_none(), a.query_id).cmp(&(b.query_id.is_none(), b.query_id))
                })
                .then_with(|| {
                    (a.wait_event_type.is_none(), &a.wait_event_type)
                        .cmp(&(b.wait_event_type.is_none(), &b.wait_event_type))
                })
                .then_with(|| {
                    (a.wait_event.is_none(), &a.wait_event)
                        .cmp(&(b.wait_event.is_none(), &b.wait_event))
                })
        });
        waits.truncate(WAITS_MAX_ROWS);
        WaitsSample {
            collected_at: activity.collected_at,
            compute_query_id,
            waits,
        }
    }
}

/// Rows of one [`WaitsSample`] at most (the distinct query and wait combinations of the
/// backends active at one instant; more is cut, fewest backends first).
pub const WAITS_MAX_ROWS: usize = 200;

/// Active backends running one query and waiting on one thing (or on none: CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveWait {
    /// `pg_stat_activity.query_id` (14+): the `queryid` of the statement's
    /// pg_stat_statements entry; `None` before 14, with `compute_query_id` off, and for
    /// utility statements pg_stat_statements does not track.
    pub query_id: Option<i64>,
    /// `wait_event_type`: `None` while the backend runs on CPU (or in a wait that is not
    /// instrumented).
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    /// How many backends (a parallel query counts its workers too).
    pub backends: i32,
}

/// What an active backend waits on, by `wait_event_type`, as the wait profile counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitClass {
    /// Active with no wait event: on CPU (or in an uninstrumented wait).
    Cpu,
    Lock,
    #[serde(rename = "lwlock")]
    LWLock,
    #[serde(rename = "io")]
    IO,
    #[serde(rename = "ipc")]
    IPC,
    Client,
    Timeout,
    Extension,
    /// `Activity`, `BufferPin`, `InjectionPoint` and whatever a later major adds.
    Other,
}

impl WaitClass {
    /// Every class, in the order the profile shows them.
    pub const ALL: [WaitClass; 9] = [
        WaitClass::Cpu,
        WaitClass::Lock,
        WaitClass::LWLock,
        WaitClass::IO,
        WaitClass::IPC,
        WaitClass::Client,
        WaitClass::Timeout,
        WaitClass::Extension,
        WaitClass::Other,
    ];

    /// The class of a backend's `wait_event_type` (`None`: CPU).
    pub fn of(wait_event_type: Option<&str>) -> WaitClass {
        match wait_event_type {
            None => WaitClass::Cpu,
            Some("Lock") => WaitClass::Lock,
            Some("LWLock") => WaitClass::LWLock,
            Some("IO") => WaitClass::IO,
            Some("IPC") => WaitClass::IPC,
            Some("Client") => WaitClass::Client,
            Some("Timeout") => WaitClass::Timeout,
            Some("Extension") => WaitClass::Extension,
            Some(_) => WaitClass::Other,
        }
    }

    /// As shown and as the JSON key: `CPU`, `Lock`, `LWLock`, `IO`, ... (`key` is the JSON
    /// key: `cpu`, `lock`, `lwlock`, `io`, ...).
    pub fn label(self) -> &'static str {
        match self {
            WaitClass::Cpu => "CPU",
            WaitClass::Lock => "Lock",
            WaitClass::LWLock => "LWLock",
            WaitClass::IO => "IO",
            WaitClass::IPC => "IPC",
            WaitClass::Client => "Client",
            WaitClass::Timeout => "Timeout",
            WaitClass::Extension => "Extension",
            WaitClass::Other => "Other",
        }
    }

    /// The JSON key: `cpu`, `lock`, `lwlock`, `io`, `ipc`, `client`, `timeout`, `extension`,
    /// `other`.
    pub fn key(self) -> &'static str {
        match self {
            WaitClass::Cpu => "cpu",
            WaitClass::Lock => "lock",
            WaitClass::LWLock => "lwlock",
            WaitClass::IO => "io",
            WaitClass::IPC => "ipc",
            WaitClass::Client => "client",
            WaitClass::Timeout => "timeout",
            WaitClass::Extension => "extension",
            WaitClass::Other => "other",
        }
    }

    /// Position in [`WaitClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(
        pid: i32,
        backend_type: &str,
        state: Option<&str>,
        query_id: Option<i64>,
        wait: Option<(&str, &str)>,
    ) -> Session {
        Session {
            pid,
            backend_type: backend_type.into(),
            state: state.map(str::to_owned),
            query_id: query_id.into(),
            wait_event_type: wait.map(|w| w.0.to_owned()),
            wait_event: wait.map(|w| w.1.to_owned()),
            ..Session::default()
        }
    }

    fn wait(query_id: Option<i64>, w: Option<(&str, &str)>, backends: i32) -> ActiveWait {
        ActiveWait {
            query_id,
            wait_event_type: w.map(|w| w.0.to_owned()),
            wait_event: w.map(|w| w.1.to_owned()),
            backends,
        }
    }

    #[test]
    fn the_waits_of_an_activity_sample_group_the_active_client_backends_and_workers() {
        let lock = Some(("Lock", "transactionid"));
        let io = Some(("IO", "DataFileRead"));
        let activity = ActivitySample {
            collected_at: 1234.5,
            sessions: vec![
                session(1, "client backend", Some("active"), Some(7), lock),
                session(2, "client backend", Some("active"), Some(7), lock),
                session(3, "parallel worker", Some("active"), Some(7), io),
                session(4, "client backend", Some("active"), Some(7), None),
                session(5, "client backend", Some("active"), None, io),
                session(6, "client backend", Some("active"), Some(3), io),
                // not counted: idle, idle in transaction, another role's (no state), a
                // walsender and a background process
                session(
                    7,
                    "client backend",
                    Some("idle"),
                    Some(7),
                    Some(("Client", "ClientRead")),
                ),
                session(
                    8,
                    "client backend",
                    Some("idle in transaction"),
                    Some(7),
                    None,
                ),
                session(9, "client backend", None, None, lock),
                session(
                    10,
                    "walsender",
                    Some("active"),
                    None,
                    Some(("Client", "WalSenderWaitForWAL")),
                ),
                session(11, "autovacuum worker", None, None, io),
            ],
            ..ActivitySample::default()
        };
        let w = WaitsSample::from_activity(&activity, Some("auto".into()));
        assert_eq!(w.collected_at, 1234.5);
        assert_eq!(w.compute_query_id.as_deref(), Some("auto"));
        assert_eq!(
            w.waits,
            vec![
                wait(Some(7), lock, 2),
                // one backend each: by query_id (NULL last), then the type, NULL (CPU) last
                wait(Some(3), io, 1),
                wait(Some(7), io, 1),
                wait(Some(7), None, 1),
                wait(None, io, 1),
            ]
        );
        let idle = ActivitySample {
            sessions: activity.sessions[6..].to_vec(),
            ..ActivitySample::default()
        };
        assert!(WaitsSample::from_activity(&idle, None).waits.is_empty());
    }

    #[test]
    fn the_waits_of_an_activity_sample_are_cut_at_the_sampler_bound() {
        let sessions: Vec<Session> = (0..(WAITS_MAX_ROWS as i32 + 50))
            .map(|i| {
                session(
                    i,
                    "client backend",
                    Some("active"),
                    Some(i64::from(i)),
                    None,
                )
            })
            .chain([
                session(-1, "client backend", Some("active"), Some(999_999), None),
                session(-2, "client backend", Some("active"), Some(999_999), None),
            ])
            .collect();
        let activity = ActivitySample {
            sessions,
            ..ActivitySample::default()
        };
        let w = WaitsSample::from_activity(&activity, None);
        assert_eq!(w.waits.len(), WAITS_MAX_ROWS);
        assert_eq!(
            w.waits[0],
            wait(Some(999_999), None, 2),
            "most backends first"
        );
        assert_eq!(w.waits[1].query_id, Some(0));
    }

    #[test]
    fn an_entry_is_found_by_its_key_in_key_order_or_not() {
        let entry = |queryid: i64, toplevel: bool| Statement {
            userid: 10,
            dbid: 5,
            queryid,
            toplevel,
            calls: queryid,
            ..Statement::default()
        };
        let mut sorted = StatementsSample {
            statements: vec![
                entry(1, true),
                entry(2, false),
                entry(2, true),
                entry(9, true),
            ],
            ..StatementsSample::default()
        };
        let mut unsorted = sorted.clone();
        unsorted.statements.reverse();
        for sample in [&mut sorted, &mut unsorted] {
            for want in [
                entry(1, true),
                entry(2, false),
                entry(2, true),
                entry(9, true),
            ] {
                assert_eq!(sample.find(&want.key()), Some(&want));
            }
            assert_eq!(sample.find(&(10, 5, 3, true)), None);
            assert_eq!(sample.find(&(11, 5, 1, true)), None);
        }
    }
}
