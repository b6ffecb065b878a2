//! Reading a recording: the updates of a time window in their original order, and the
//! [`Store`] as it stood at a moment (what `snapshot --from --at` prints, what replay
//! shows).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags, params};

use super::codec::{self, StatementKey};
use super::{APPLICATION_ID, RecordError, SCHEMA_VERSION};
use crate::config::Config;
use crate::model::Store;
use crate::sample::{Area, CollectError, LinkEvent, ServerFacts, Update, from_epoch_s};

/// How much history before a moment is replayed to rebuild the model there: rates need the
/// previous sample, alerts their hysteresis, forecasts their window (the sparklines' day is
/// read from the points instead, [`Recording::load_history`]).
pub const WARM_UP_S: f64 = 600.0;

/// Check that `conn` holds a recording of this schema version (`app` is its
/// `application_id`).
pub(crate) fn check_version(conn: &Connection, path: &Path, app: i64) -> Result<(), RecordError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| RecordError::sql(path, "read the schema version", e))?;
    if app != APPLICATION_ID {
        return Err(RecordError(format!(
            "{} is not a pgvitals recording (an SQLite file with other contents)",
            path.display()
        )));
    }
    if version != SCHEMA_VERSION {
        return Err(RecordError(format!(
            "{} is a recording of schema version {version}; this pgvitals reads version {SCHEMA_VERSION}",
            path.display()
        )));
    }
    Ok(())
}

/// One alert as recorded (times on the server clock, epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAlert {
    pub server: usize,
    pub rule: String,
    pub area: String,
    pub subject: String,
    /// The worst severity it reached: `warning` or `critical`.
    pub severity: String,
    pub fired_at: f64,
    /// `None` while it was still active when the recording ends.
    pub resolved_at: Option<f64>,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
}

impl RecordedAlert {
    /// The alert as the alerts panel keeps a resolved one; `None` while it was still active,
    /// or for a rule or subject this version does not know.
    pub fn resolved(&self) -> Option<crate::model::alerts::ResolvedAlert> {
        use crate::model::alerts::{Alert, ResolvedAlert, Severity, Subject};
        Some(ResolvedAlert {
            alert: Alert {
                rule: crate::sample::Rule::from_name(&self.rule)?,
                severity: match self.severity.as_str() {
                    "critical" => Severity::Critical,
                    "warning" => Severity::Warning,
                    _ => return None,
                },
                subject: Subject::parse(&self.subject)?,
                value: self.value,
                threshold: self.threshold,
                message: self.message.clone(),
            },
            since: from_epoch_s(self.fired_at),
            resolved_at: from_epoch_s(self.resolved_at?),
        })
    }
}

/// A recording opened for reading (read-only: the recorder may go on writing).
pub struct Recording {
    path: PathBuf,
    conn: Connection,
    /// Labels in server order (index = position in the store).
    labels: Vec<String>,
    server_ids: Vec<i64>,
    interval: Duration,
    slow_interval: Duration,
    /// The minutes [`Recording::minutes`] read last, by `server_id`.
    minute_cache: std::cell::RefCell<std::collections::HashMap<i64, MinuteCache>>,
}

/// Points of one server per series and minute over `(from, to]` (see
/// [`Recording::minutes`]).
struct MinuteCache {
    from: f64,
    to: f64,
    rows: Vec<(i64, f64, f64, f64)>,
}

/// The `block_id` a reader gives the open block of a server and area (after every sealed
/// block of its group).
const OPEN_BLOCK_ID: i64 = i64::MAX;

/// A block's row, before it is decoded.
struct BlockRow {
    block_id: i64,
    server: usize,
    server_id: i64,
    area: Area,
    group_id: i64,
    prev_id: Option<i64>,
    raw_len: i64,
    body: Vec<u8>,
}

/// The samples of one server and area in a window: its blocks, decoded one at a time.
struct Stream {
    blocks: std::collections::VecDeque<BlockRow>,
    /// The lines of the block being read: (collected_at, line), in order.
    lines: std::collections::VecDeque<(f64, f64, serde_json::Value)>,
    /// The last decoded block: its id and last line (the next one's dictionary).
    last: Option<(i64, Vec<u8>)>,
}

impl Recording {
    /// Open `path` read-only.
    ///
    /// Errors: no such file, not a pgvitals recording, another schema version.
    pub fn open(path: &Path) -> Result<Recording, RecordError> {
        if !path.exists() {
            return Err(RecordError(format!("no recording at {}", path.display())));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| RecordError::sql(path, "open", e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| RecordError::sql(path, "open", e))?;
        let app: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|_| RecordError(format!("{} is not a pgvitals recording", path.display())))?;
        check_version(&conn, path, app)?;
        let mut labels = Vec::new();
        let mut server_ids = Vec::new();
        {
            let mut q = conn
                .prepare("SELECT server_id, label FROM servers ORDER BY server_id")
                .map_err(|e| RecordError::sql(path, "read servers", e))?;
            let rows = q
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map_err(|e| RecordError::sql(path, "read servers", e))?;
            for row in rows {
                let (id, label) = row.map_err(|e| RecordError::sql(path, "read servers", e))?;
                server_ids.push(id);
                labels.push(label);
            }
        }
        let meta = |key: &str, default: f64| -> f64 {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get::<_, String>(0)
            })
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(default)
        };
        let interval = Duration::from_secs_f64(meta("interval_s", 2.0).min(3600.0));
        let slow_interval = Duration::from_secs_f64(meta("slow_interval_s", 60.0).min(86_400.0));
        Ok(Recording {
            path: path.to_path_buf(),
            conn,
            labels,
            server_ids,
            interval,
            slow_interval,
            minute_cache: Default::default(),
        })
    }

    fn err(&self, what: &'static str) -> impl Fn(rusqlite::Error) -> RecordError + '_ {
        move |e| RecordError::sql(&self.path, what, e)
    }

    /// The servers recorded, in order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The poll interval the recording was made at.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// First and last sample time (server clock), `None` for an empty recording.
    pub fn span(&self) -> Result<Option<(f64, f64)>, RecordError> {
        let (a, b): (Option<f64>, Option<f64>) = self
            .conn
            .query_row(
                "SELECT min(first_at), max(last_at) FROM block_groups",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("read the span"))?;
        Ok(a.zip(b))
    }

    fn index_of(&self, server_id: i64) -> Option<usize> {
        self.server_ids.iter().position(|s| *s == server_id)
    }

    /// Alerts active at any time in `[from, to]` (server clock), oldest first.
    pub fn alerts(&self, from: f64, to: f64) -> Result<Vec<RecordedAlert>, RecordError> {
        let mut q = self
            .conn
            .prepare(
                "SELECT server_id, rule, area, subject, severity, fired_at, resolved_at, value,
                        threshold, message
                   FROM alerts
                  WHERE fired_at <= ?2 AND coalesce(resolved_at, 1e18) >= ?1
                  ORDER BY fired_at, alert_id",
            )
            .map_err(self.err("read alerts"))?;
        let rows = q
            .query_map(params![from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    RecordedAlert {
                        server: 0,
                        rule: r.get(1)?,
                        area: r.get(2)?,
                        subject: r.get(3)?,
                        severity: r.get(4)?,
                        fired_at: r.get(5)?,
                        resolved_at: r.get(6)?,
                        value: r.get(7)?,
                        threshold: r.get(8)?,
                        message: r.get(9)?,
                    },
                ))
            })
            .map_err(self.err("read alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (sid, mut alert) = row.map_err(self.err("read alerts"))?;
            alert.server = self.index_of(sid).unwrap_or(0);
            out.push(alert);
        }
        Ok(out)
    }

    /// The first time (server clock) an alert of `severity` (`critical`, or `None`: any)
    /// fired after `after`.
    pub fn next_alert(
        &self,
        after: f64,
        severity: Option<&str>,
    ) -> Result<Option<f64>, RecordError> {
        self.conn
            .query_row(
                "SELECT min(fired_at) FROM alerts WHERE fired_at > ?1 AND (?2 IS NULL OR severity = ?2)",
                params![after, severity],
                |r| r.get(0),
            )
            .map_err(self.err("read alerts"))
    }

    /// The nearest sample time (any server, any area) after `at` (`forward`) or before it.
    pub fn next_sample(&self, at: f64, forward: bool) -> Result<Option<f64>, RecordError> {
        let (a, b) = if forward {
            (at + 0.001, at + 0.001 + codec::BLOCK_S)
        } else {
            (at - 0.001 - codec::BLOCK_S, at - 0.001)
        };
        // the blocks that can hold the nearest: starting within a block's span of it
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT first_at, times FROM blocks WHERE first_at BETWEEN ?1 - ?3 AND ?2
                 UNION ALL SELECT first_at, times FROM open_blocks WHERE first_at <= ?2 AND last_at >= ?1",
            )
            .map_err(self.err("read blocks"))?;
        let rows = q
            .query_map(params![a, b, codec::BLOCK_S], |r| {
                Ok((r.get::<_, f64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.err("read blocks"))?;
        let mut best: Option<f64> = None;
        for row in rows {
            let (first_at, times) = row.map_err(self.err("read blocks"))?;
            for t in codec::parse_times(first_at, &times) {
                let better = if forward {
                    t > at + 0.001 && best.is_none_or(|x| t < x)
                } else {
                    t < at - 0.001 && best.is_none_or(|x| t > x)
                };
                if better {
                    best = Some(t);
                }
            }
        }
        if best.is_some() {
            return Ok(best);
        }
        // nothing near: the first block after (or the last before) the gap
        let sql = if forward {
            "SELECT min(first_at) FROM (SELECT first_at FROM blocks WHERE first_at > ?1
                                      UNION ALL SELECT first_at FROM open_blocks WHERE first_at > ?1)"
        } else {
            "SELECT max(last_at) FROM (SELECT last_at FROM blocks WHERE first_at < ?1 AND last_at < ?1
                                     UNION ALL SELECT last_at FROM open_blocks WHERE last_at < ?1)"
        };
        self.conn
            .query_row(
                sql,
                params![if forward { at + 0.001 } else { at - 0.001 }],
                |r| r.get(0),
            )
            .map_err(self.err("read blocks"))
    }

    /// The last time (server clock) an alert fired before `before`.
    pub fn previous_alert(&self, before: f64) -> Result<Option<f64>, RecordError> {
        self.conn
            .query_row(
                "SELECT max(fired_at) FROM alerts WHERE fired_at < ?1",
                params![before],
                |r| r.get(0),
            )
            .map_err(self.err("read alerts"))
    }

    fn statement_text(&self, server_id: i64, key: &StatementKey) -> Option<String> {
        self.conn
            .prepare_cached(
                "SELECT query FROM statement_texts
                  WHERE server_id = ?1 AND userid = ?2 AND dbid = ?3 AND queryid = ?4 AND toplevel = ?5",
            )
            .ok()?
            .query_row(
                params![server_id, key.userid, key.dbid, key.queryid, key.toplevel],
                |r| r.get(0),
            )
            .ok()
    }

    /// The last line of the blocks of group `group_id` before block `before` (the
    /// dictionary of `before`), decoding them in order.
    fn chain_dictionary(&self, group_id: i64, before: i64) -> Result<Option<Vec<u8>>, RecordError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT block_id, prev_id, raw_len, body FROM blocks
                  WHERE group_id = ?1 AND block_id < ?2 ORDER BY block_id",
            )
            .map_err(self.err("read blocks"))?;
        let mut rows = q
            .query(params![group_id, before])
            .map_err(self.err("read blocks"))?;
        let mut last: Option<Vec<u8>> = None;
        while let Some(row) = rows.next().map_err(self.err("read blocks"))? {
            let g = |e| RecordError::sql(&self.path, "read blocks", e);
            let id: i64 = row.get(0).map_err(g)?;
            let prev: Option<i64> = row.get(1).map_err(g)?;
            let len: i64 = row.get(2).map_err(g)?;
            let body: Vec<u8> = row.get(3).map_err(g)?;
            let dict = if prev.is_some() {
                last.as_deref()
            } else {
                None
            };
            let lines = codec::decode_block(&body, len.max(0) as usize, dict)
                .map_err(|e| self.bad_block(id, &e))?;
            if let Some(l) = lines.into_iter().next_back() {
                last = Some(l);
            }
        }
        Ok(last)
    }

    fn bad_block(&self, id: i64, e: &str) -> RecordError {
        RecordError(format!("{}: block {id}: {e}", self.path.display()))
    }

    /// Decode the next block of `stream` into its lines (those collected in
    /// `[from, to]`); false when it has no more blocks.
    fn next_block(&self, stream: &mut Stream, from: f64, to: f64) -> Result<bool, RecordError> {
        let Some(block) = stream.blocks.pop_front() else {
            return Ok(false);
        };
        let dict = match (block.prev_id, stream.last.take()) {
            (None, _) => None,
            (Some(p), Some((id, line))) if id == p => Some(line),
            (Some(_), _) => self.chain_dictionary(block.group_id, block.block_id)?,
        };
        if block.prev_id.is_some() && dict.is_none() {
            return Err(
                self.bad_block(block.block_id, "a continuation without the block before it")
            );
        }
        let lines =
            codec::decode_block(&block.body, block.raw_len.max(0) as usize, dict.as_deref())
                .map_err(|e| self.bad_block(block.block_id, &e))?;
        if let Some(l) = lines.last() {
            stream.last = Some((block.block_id, l.clone()));
        }
        for line in lines {
            let (received, mut value) =
                codec::parse_line(&line).map_err(|e| self.bad_block(block.block_id, &e))?;
            let t = value
                .get("collected_at")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(f64::NAN);
            if !(from..=to).contains(&t) {
                continue;
            }
            if block.area == Area::Statements {
                codec::join_statement_texts(&mut value, |k| {
                    self.statement_text(block.server_id, k)
                });
            }
            stream.lines.push_back((t, received, value));
        }
        Ok(true)
    }

    /// Every update with a time in `[from, to]` (server clock), in the order they were
    /// received, to `f(server_time, update)`; events before `from` that still hold (the
    /// last connection of each server) come first. Stops early when `f` returns false.
    ///
    /// Errors: the file cannot be read, or a frame does not decode.
    pub fn for_each_update(
        &self,
        from: f64,
        to: f64,
        f: impl FnMut(f64, Update) -> bool,
    ) -> Result<(), RecordError> {
        self.updates(from, to, true, f)
    }

    /// [`Recording::for_each_update`] without the connections before `from`: what to apply
    /// to a store that already stands at `from`.
    pub fn for_each_update_after(
        &self,
        from: f64,
        to: f64,
        f: impl FnMut(f64, Update) -> bool,
    ) -> Result<(), RecordError> {
        self.updates(from, to, false, f)
    }

    fn updates(
        &self,
        from: f64,
        to: f64,
        prelude: bool,
        mut f: impl FnMut(f64, Update) -> bool,
    ) -> Result<(), RecordError> {
        // the facts each server was connected with, as of `from`
        for (index, sid) in self.server_ids.iter().enumerate() {
            if !prelude {
                break;
            }
            let last: Option<(f64, f64, String)> = self
                .conn
                .query_row(
                    "SELECT at, received_at, body FROM events
                      WHERE server_id = ?1 AND kind = 'connected' AND at < ?2
                      ORDER BY at DESC LIMIT 1",
                    params![sid, from],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .ok();
            if let Some((at, received, body)) = last {
                if let Ok(facts) = serde_json::from_str::<ServerFacts>(&body) {
                    let update = Update::Link {
                        server: index,
                        event: LinkEvent::Connected(Box::new(facts)),
                        at: from_epoch_s(received),
                    };
                    if !f(at, update) {
                        return Ok(());
                    }
                }
            }
        }
        // events of the window, each repeat of a failure at its own time
        let mut events: Vec<(f64, f64, Update)> = Vec::new();
        {
            let mut q = self
                .conn
                .prepare(
                    "SELECT server_id, area, at, received_at, kind, body, last_received_at, count
                       FROM events WHERE last_at >= ?1 AND at <= ?2 ORDER BY received_at, event_id",
                )
                .map_err(self.err("read events"))?;
            let mut rows = q
                .query(params![from, to])
                .map_err(self.err("read events"))?;
            while let Some(row) = rows.next().map_err(self.err("read events"))? {
                let g = |e| RecordError::sql(&self.path, "read events", e);
                let sid: i64 = row.get(0).map_err(g)?;
                let area_key: Option<String> = row.get(1).map_err(g)?;
                let at: f64 = row.get(2).map_err(g)?;
                let received: f64 = row.get(3).map_err(g)?;
                let kind: String = row.get(4).map_err(g)?;
                let body: String = row.get(5).map_err(g)?;
                let last_received: f64 = row.get(6).map_err(g)?;
                let count: i64 = row.get(7).map_err(g)?;
                let Some(server) = self.index_of(sid) else {
                    continue;
                };
                let area = area_key.as_deref().and_then(Area::from_key);
                for (i, t) in [received, last_received].into_iter().enumerate() {
                    if i == 1 && count < 2 {
                        break;
                    }
                    if let Some(update) = event_update(server, &kind, area, &body, t) {
                        events.push((t, at, update));
                    }
                }
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut events = events.into_iter().peekable();
        // the blocks of the window, one stream per server and area
        let mut streams: Vec<Stream> = Vec::new();
        {
            let mut q = self
                .conn
                .prepare(
                    "SELECT block_id, server_id, area, group_id, prev_id, raw_len, body
                       FROM blocks
                      WHERE first_at BETWEEN ?1 - ?3 AND ?2 AND last_at >= ?1 AND samples > 0
                     UNION ALL
                     SELECT ?4, server_id, area, group_id, prev_id, raw_len, body
                       FROM open_blocks
                      WHERE first_at <= ?2 AND last_at >= ?1 AND samples > 0
                      ORDER BY 2, 3, 1",
                )
                .map_err(self.err("read blocks"))?;
            let mut rows = q
                .query(params![from, to, codec::BLOCK_S, OPEN_BLOCK_ID])
                .map_err(self.err("read blocks"))?;
            let mut slot: Option<(i64, Area)> = None;
            while let Some(row) = rows.next().map_err(self.err("read blocks"))? {
                let g = |e| RecordError::sql(&self.path, "read blocks", e);
                let sid: i64 = row.get(1).map_err(g)?;
                let area_key: String = row.get(2).map_err(g)?;
                let (Some(server), Some(area)) = (self.index_of(sid), Area::from_key(&area_key))
                else {
                    continue;
                };
                let block = BlockRow {
                    block_id: row.get(0).map_err(g)?,
                    server,
                    server_id: sid,
                    area,
                    group_id: row.get(3).map_err(g)?,
                    prev_id: row.get(4).map_err(g)?,
                    raw_len: row.get(5).map_err(g)?,
                    body: row.get(6).map_err(g)?,
                };
                if slot != Some((sid, area)) {
                    slot = Some((sid, area));
                    streams.push(Stream {
                        blocks: Default::default(),
                        lines: Default::default(),
                        last: None,
                    });
                }
                streams
                    .last_mut()
                    .expect("a stream")
                    .blocks
                    .push_back(block);
            }
        }
        let servers: Vec<(usize, Area)> = streams
            .iter()
            .map(|s| {
                s.blocks
                    .front()
                    .map(|b| (b.server, b.area))
                    .expect("a block")
            })
            .collect();
        // merged by received_at: the stream with the earliest next sample, or an event
        loop {
            for stream in &mut streams {
                while stream.lines.is_empty() && self.next_block(stream, from, to)? {}
            }
            let next = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.lines.front().map(|l| (i, l.1)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let event_first = match (next, events.peek()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some((_, received)), Some(e)) => e.0 < received,
            };
            if event_first {
                let (_, at, update) = events.next().expect("an event");
                if !f(at, update) {
                    return Ok(());
                }
                continue;
            }
            let Some((i, _)) = next else { break };
            let (at, received, value) = streams[i].lines.pop_front().expect("a line");
            let (server, area) = servers[i];
            let sample = codec::from_frame(area, value)
                .map_err(|e| RecordError(format!("{}: {e}", self.path.display())))?;
            let update = Update::Sample {
                server,
                sample: Box::new(sample),
                at: from_epoch_s(received),
                took: std::time::Duration::ZERO,
            };
            if !f(at, update) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Give each server of `store` that this recording holds (matched by label) what the
    /// recording knows before `at` (server clock), beyond what the store's own updates
    /// (from `own_from` on) brought:
    ///
    /// * its history, replaced by the recorded points of the day before `at` (the last
    ///   hour point by point, the rest as the worst of each minute: [`History`]'s tiers);
    /// * its alerts: those resolved before `own_from` as [`AlertBook::earlier`] (the whole
    ///   history, newest first), and the time alerts active across `own_from` first fired.
    ///
    /// Errors: the file cannot be read.
    ///
    /// [`History`]: crate::model::History
    /// [`AlertBook::earlier`]: crate::model::alerts::AlertBook::earlier
    pub fn load_history(
        &self,
        store: &mut Store,
        at: f64,
        own_from: f64,
    ) -> Result<(), RecordError> {
        use crate::model::history::{DAY_S, RAW_S};
        let names: std::collections::HashMap<i64, String> = {
            let mut q = self
                .conn
                .prepare("SELECT series_id, name FROM series")
                .map_err(self.err("read series"))?;
            q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.err("read series"))?
                .collect::<Result<_, _>>()
                .map_err(self.err("read series"))?
        };
        let alerts = self.alerts(f64::MIN, own_from)?;
        for server in &mut store.servers {
            let Some(index) = self.labels.iter().position(|l| *l == server.label) else {
                continue;
            };
            let sid = self.server_ids[index];
            // series key -> (at, value), oldest first: minutes, then the last hour's points
            let mut points: std::collections::BTreeMap<String, Vec<(f64, f64)>> =
                Default::default();
            {
                // minutes wholly before the last hour, then every point after them
                let split = ((at - RAW_S) / 60.0).floor() * 60.0;
                let rows = self.minutes(sid, at - DAY_S, split)?;
                for (id, minute, low, high) in rows {
                    let Some(series) = names
                        .get(&id)
                        .and_then(|n| crate::model::areas::series_named(n))
                    else {
                        continue;
                    };
                    let v = series.unit.worse(low, high);
                    points
                        .entry(series.key.to_string())
                        .or_default()
                        .push((minute, v));
                }
                let mut q = self
                    .conn
                    .prepare_cached(
                        "SELECT series_id, at, value FROM points
                          WHERE at > ?2 AND at <= ?3 AND server_id = ?1 ORDER BY at",
                    )
                    .map_err(self.err("read points"))?;
                let rows = q
                    .query_map(params![sid, split, at], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, f64>(1)?,
                            r.get::<_, f64>(2)?,
                        ))
                    })
                    .map_err(self.err("read points"))?;
                for row in rows {
                    let (id, t, v) = row.map_err(self.err("read points"))?;
                    if let Some(name) = names.get(&id) {
                        points.entry(name.clone()).or_default().push((t, v));
                    }
                }
            }
            for (name, list) in points {
                if let Some(series) = crate::model::areas::series_named(&name) {
                    server.history.load(series, list);
                }
            }
            let mine = alerts.iter().filter(|a| a.server == index);
            let earlier: Vec<_> = mine
                .clone()
                .filter(|a| a.resolved_at.is_some_and(|r| r < own_from))
                .filter_map(RecordedAlert::resolved)
                .collect();
            let across: Vec<&RecordedAlert> = mine
                .filter(|a| a.fired_at < own_from && a.resolved_at.is_none_or(|r| r >= own_from))
                .collect();
            server.alerts.recorded(earlier, |rule, subject| {
                across
                    .iter()
                    .filter(|a| a.rule == rule.name() && a.subject == subject)
                    .map(|a| from_epoch_s(a.fired_at))
                    .min()
            });
        }
        Ok(())
    }

    /// Seed the forecast windows of each server of `store` this recording holds (by label)
    /// with its vacuum and replication samples of the `max_age_s` before `now`
    /// ([`crate::model::ServerState::seed_windows`]).
    ///
    /// Errors: the file cannot be read, or a block does not decode.
    pub fn seed_windows(
        &self,
        store: &mut Store,
        now: f64,
        max_age_s: f64,
    ) -> Result<(), RecordError> {
        for server in &mut store.servers {
            let Some(index) = self.labels.iter().position(|l| *l == server.label) else {
                continue;
            };
            for area in [Area::Vacuum, Area::Replication] {
                for sample in self.samples(index, area, now - max_age_s, now)? {
                    server.seed_windows(sample);
                }
            }
        }
        Ok(())
    }

    /// The points of server `sid` collected in `(from, to]`, per series and minute: (series
    /// id, start of the minute, lowest, highest), by minute. Read an hour wider than asked
    /// on both sides and kept, so that moving about a replay does not scan a day of points
    /// at every step.
    fn minutes(
        &self,
        sid: i64,
        from: f64,
        to: f64,
    ) -> Result<Vec<(i64, f64, f64, f64)>, RecordError> {
        let hit = |c: &MinuteCache| c.from <= from && to <= c.to;
        let cached = self.minute_cache.borrow().get(&sid).is_some_and(hit);
        if !cached {
            let (a, b) = (from - 3600.0, to + 3600.0);
            let mut q = self
                .conn
                .prepare_cached(
                    "SELECT series_id, CAST(at / 60 AS INTEGER) * 60 AS minute, min(value),
                            max(value)
                       FROM points
                      WHERE at > ?2 AND at <= ?3 AND server_id = ?1
                      GROUP BY series_id, minute ORDER BY minute",
                )
                .map_err(self.err("read points"))?;
            let rows = q
                .query_map(params![sid, a, b], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(self.err("read points"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err("read points"))?;
            self.minute_cache.borrow_mut().insert(
                sid,
                MinuteCache {
                    from: a,
                    to: b,
                    rows,
                },
            );
        }
        let cache = self.minute_cache.borrow();
        Ok(cache
            .get(&sid)
            .into_iter()
            .flat_map(|c| &c.rows)
            .filter(|(_, m, _, _)| *m + 60.0 > from && *m + 60.0 <= to)
            .copied()
            .collect())
    }

    /// The recorded samples of `area` of server `index` collected in `[since, before]`
    /// (server clock), oldest first: what a new screen's forecast windows start from
    /// ([`crate::model::ServerState::seed_windows`]).
    ///
    /// Errors: the file cannot be read, or a block does not decode.
    pub fn samples(
        &self,
        index: usize,
        area: Area,
        since: f64,
        before: f64,
    ) -> Result<Vec<crate::sample::Sample>, RecordError> {
        let Some(&sid) = self.server_ids.get(index) else {
            return Ok(Vec::new());
        };
        let mut q = self
            .conn
            .prepare(
                "SELECT block_id, group_id, prev_id, raw_len, body FROM blocks
                  WHERE first_at BETWEEN ?3 - ?5 AND ?4 AND last_at >= ?3 AND server_id = ?1
                    AND area = ?2 AND samples > 0
                 UNION ALL
                 SELECT ?6, group_id, prev_id, raw_len, body FROM open_blocks
                  WHERE server_id = ?1 AND area = ?2 AND first_at <= ?4 AND last_at >= ?3
                    AND samples > 0
                  ORDER BY 1",
            )
            .map_err(self.err("read blocks"))?;
        let blocks = q
            .query_map(
                params![
                    sid,
                    area.key(),
                    since,
                    before,
                    codec::BLOCK_S,
                    OPEN_BLOCK_ID
                ],
                |r| {
                    Ok(BlockRow {
                        block_id: r.get(0)?,
                        server: index,
                        server_id: sid,
                        area,
                        group_id: r.get(1)?,
                        prev_id: r.get(2)?,
                        raw_len: r.get(3)?,
                        body: r.get(4)?,
                    })
                },
            )
            .map_err(self.err("read blocks"))?
            .collect::<Result<_, _>>()
            .map_err(self.err("read blocks"))?;
        let mut stream = Stream {
            blocks,
            lines: Default::default(),
            last: None,
        };
        while self.next_block(&mut stream, since, before)? {}
        stream
            .lines
            .into_iter()
            .map(|(_, _, value)| {
                codec::from_frame(area, value)
                    .map_err(|e| RecordError(format!("{}: {e}", self.path.display())))
            })
            .collect()
    }

    /// A store as the dashboard's was at `at` (server clock): every update of the
    /// [`WARM_UP_S`] before it replayed into a fresh store with `config`'s thresholds and
    /// the recording's intervals, then evaluated at the last update's time. Also returns
    /// that time (server clock), `None` when nothing was recorded before `at`.
    pub fn store_at(&self, at: f64, config: &Config) -> Result<(Store, Option<f64>), RecordError> {
        let mut store = Store::new(
            self.labels.clone(),
            config.thresholds.clone(),
            self.interval,
            self.slow_interval,
            SystemTime::UNIX_EPOCH,
        );
        let mut last: Option<(f64, SystemTime)> = None;
        self.for_each_update(at - WARM_UP_S, at, |t, update| {
            let received = update_at(&update);
            store.apply(update, received);
            last = Some((t, received));
            true
        })?;
        if let Some((_, received)) = last {
            store.tick(received);
        }
        Ok((store, last.map(|(t, _)| t)))
    }
}

/// The recorder-clock time of an update.
pub fn update_at(update: &Update) -> SystemTime {
    match update {
        Update::Sample { at, .. }
        | Update::Failed { at, .. }
        | Update::Link { at, .. }
        | Update::Acted { at, .. } => *at,
    }
}

/// The update an event row stands for (`None` for `acted`, which the model ignores).
fn event_update(
    server: usize,
    kind: &str,
    area: Option<Area>,
    body: &str,
    received: f64,
) -> Option<Update> {
    let at = from_epoch_s(received);
    match kind {
        "connected" => {
            let facts: ServerFacts = serde_json::from_str(body).ok()?;
            Some(Update::Link {
                server,
                event: LinkEvent::Connected(Box::new(facts)),
                at,
            })
        }
        "down" => {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            let error: CollectError = serde_json::from_value(v.get("error")?.clone()).ok()?;
            let next = v.get("next_attempt").and_then(serde_json::Value::as_f64)?;
            Some(Update::Link {
                server,
                event: LinkEvent::Down {
                    error,
                    next_attempt: from_epoch_s(next),
                },
                at,
            })
        }
        "failed" => {
            let error: CollectError = serde_json::from_str(body).ok()?;
            Some(Update::Failed {
                server,
                area: area?,
                error,
                at,
            })
        }
        _ => None,
    }
}

/// A time given on the command line, as epoch seconds: RFC 3339 (`2026-12-02T03:12:00Z`,
/// `2026-12-02T03:12:00+01:00`), a local date and time (`2026-12-02 03:12`, seconds
/// optional), or a local time of day (`03:12`, `03:12:30`), which means the last such
/// moment at or before the end of the recording (`end`, or now without one).
///
/// Errors: one line naming what was given and the forms accepted.
pub fn parse_time(s: &str, end: Option<f64>) -> Result<f64, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "time {s:?} is not a time: write 2026-12-02T03:12:00Z, 2026-12-02 03:12 or 03:12 (local time)"
        )
    };
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_microsecond() as f64 / 1e6);
    }
    let tz = jiff::tz::TimeZone::system();
    let to_epoch = |dt: jiff::civil::DateTime| -> Result<f64, String> {
        let zoned = tz
            .to_ambiguous_zoned_datetime(dt)
            .later()
            .map_err(|_| bad())?;
        Ok(zoned.timestamp().as_microsecond() as f64 / 1e6)
    };
    if let Ok(dt) = s.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        return to_epoch(dt);
    }
    let time: jiff::civil::Time = s.parse().map_err(|_| bad())?;
    let end = end.unwrap_or_else(|| super::epoch(SystemTime::now()));
    let end_ts = jiff::Timestamp::from_microsecond((end * 1e6) as i64).map_err(|_| bad())?;
    let day = end_ts.to_zoned_datetime(tz.clone()).date();
    let mut t = to_epoch(day.to_datetime(time))?;
    if t > end + 0.5 {
        let yesterday = day.yesterday().map_err(|_| bad())?;
        t = to_epoch(yesterday.to_datetime(time))?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        assert_eq!(
            parse_time("2026-12-02T03:12:00Z", None).unwrap(),
            1_796_181_120.0
        );
        assert_eq!(
            parse_time("2026-12-02T04:12:00+01:00", None).unwrap(),
            1_796_181_120.0
        );
        // a time of day is the last such moment at or before the end
        let end = parse_time("2026-12-02T10:00:00Z", None).unwrap();
        let t = parse_time("03:12", Some(end)).unwrap();
        assert!(t <= end && end - t < 86_400.0, "{t} {end}");
        assert_eq!((end - t) % 60.0, 0.0);
        for bad in ["yesterday", "25:00", "", "2026-13-01 00:00"] {
            let e = parse_time(bad, Some(end)).unwrap_err();
            assert!(e.contains("is not a time"), "{e}");
        }
    }
}
