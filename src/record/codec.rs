//! How a sample becomes a frame and back.
//!
//! A frame is the JSON of a collector's sample (derived fields are `None` there, so nothing
//! the model computes is stored), made to repeat itself from one poll to the next so that
//! zstd, compressing a block of them as one stream ([`BlockWriter`]), stores only what
//! changed:
//!
//! * `null` members are left out (they deserialize as `None` again);
//! * ages on the server clock (`*_age_s`, `uptime_s`, `running_s`: seconds before
//!   `collected_at`) are stored as the epoch second they point at, rounded to the
//!   millisecond, so an idle session's row is the same bytes at every poll; reading turns
//!   them back into ages (within half a millisecond);
//! * statement texts leave the frame for the `statement_texts` table, written once per
//!   entry (see [`split_statement_texts`]).
//!
//! Frames are decoded by the area the row names, never by guessing (the sample enum is
//! untagged).

use serde_json::{Map, Value};

use crate::sample::{
    ActivitySample, Area, CacheSample, ReplicationSample, Sample, ServerSample, StatementsSample,
    UnusedIndexesSample, VacuumSample, WaitsSample, WalSample,
};

/// zstd level of a block while it is written: level 3 (zstd's default) compresses a
/// 400 KB statements frame against its predecessor in about 2 ms.
pub const LEVEL: i32 = 3;

/// zstd level a block is compressed again at when it is sealed, as one stream without the
/// commit flushes: on the demo's recording, 34 % smaller than the flushed level-3 stream
/// (level 3 unflushed: 24 %; 12: 35 %; 19: 41 %) for 0.1 s of CPU per 5 minutes of two
/// servers (level 12: 1.3 s, 19: 3.2 s, next to the client's 13 s).
pub const SEAL_LEVEL: i32 = 9;

/// A block of more lines than this (bytes) is sealed at [`LEVEL`] instead (still as one
/// stream): level 9 over the 5 MB blocks of 2,000 statements costs more CPU than the rest
/// of the recorder.
pub const SEAL_LEVEL_UP_TO: usize = 1 << 20;

/// Whether a member holds seconds before `collected_at` (stored as the instant instead).
fn is_age(key: &str) -> bool {
    key.ends_with("_age_s") || key == "uptime_s" || key == "running_s"
}

/// Walk `v`, dropping `null` members and turning ages into instants (`to_instant`) or back.
fn normalize(v: &mut Value, collected_at: f64, to_instant: bool) {
    match v {
        Value::Object(map) => {
            map.retain(|_, m| !m.is_null());
            for (k, m) in map.iter_mut() {
                if is_age(k) {
                    if let Some(x) = m.as_f64() {
                        let y = if to_instant {
                            ((collected_at - x) * 1000.0).round() / 1000.0
                        } else {
                            collected_at - x
                        };
                        if let Some(n) = serde_json::Number::from_f64(y) {
                            *m = Value::Number(n);
                        }
                        continue;
                    }
                }
                normalize(m, collected_at, to_instant);
            }
        }
        Value::Array(items) => {
            for item in items {
                normalize(item, collected_at, to_instant);
            }
        }
        _ => {}
    }
}

/// The key of a pg_stat_statements entry and its text, as kept in `statement_texts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementKey {
    pub userid: u32,
    pub dbid: u32,
    pub queryid: i64,
    pub toplevel: bool,
}

fn statement_key(m: &Map<String, Value>) -> Option<StatementKey> {
    Some(StatementKey {
        userid: u32::try_from(m.get("userid")?.as_u64()?).ok()?,
        dbid: u32::try_from(m.get("dbid")?.as_u64()?).ok()?,
        queryid: m.get("queryid")?.as_i64()?,
        toplevel: m.get("toplevel")?.as_bool()?,
    })
}

/// Take the `query` member out of every statement of a statements frame; returns each
/// entry's key and text.
pub fn split_statement_texts(frame: &mut Value) -> Vec<(StatementKey, String)> {
    let mut texts = Vec::new();
    if let Some(Value::Array(list)) = frame.get_mut("statements") {
        for item in list {
            if let Value::Object(m) = item {
                if let (Some(key), Some(Value::String(q))) = (statement_key(m), m.remove("query")) {
                    texts.push((key, q));
                }
            }
        }
    }
    texts
}

/// Put the texts back: `text(key)` answers from the `statement_texts` table.
pub fn join_statement_texts(
    frame: &mut Value,
    mut text: impl FnMut(&StatementKey) -> Option<String>,
) {
    if let Some(Value::Array(list)) = frame.get_mut("statements") {
        for item in list {
            if let Value::Object(m) = item {
                if let Some(key) = statement_key(m) {
                    if let Some(q) = text(&key) {
                        m.insert("query".into(), Value::String(q));
                    }
                }
            }
        }
    }
}

/// The stored form of a sample (see the module doc), before texts are split off.
pub fn to_frame(sample: &Sample) -> Result<Value, String> {
    let mut v = serde_json::to_value(sample).map_err(|e| e.to_string())?;
    let at = sample_collected_at(sample);
    normalize(&mut v, at, true);
    Ok(v)
}

/// The sample of `area` a stored frame holds (texts already joined).
pub fn from_frame(area: Area, mut v: Value) -> Result<Sample, String> {
    let at = v.get("collected_at").and_then(Value::as_f64).unwrap_or(0.0);
    normalize(&mut v, at, false);
    let e = |e: serde_json::Error| format!("a {} frame does not decode: {e}", area.key());
    Ok(match area {
        Area::Server => Sample::Server(serde_json::from_value::<ServerSample>(v).map_err(e)?),
        Area::Activity => Sample::Activity(serde_json::from_value::<ActivitySample>(v).map_err(e)?),
        Area::Statements => {
            Sample::Statements(serde_json::from_value::<StatementsSample>(v).map_err(e)?)
        }
        Area::Cache => Sample::Cache(serde_json::from_value::<CacheSample>(v).map_err(e)?),
        Area::Replication => {
            Sample::Replication(serde_json::from_value::<ReplicationSample>(v).map_err(e)?)
        }
        Area::UnusedIndexes => {
            Sample::UnusedIndexes(serde_json::from_value::<UnusedIndexesSample>(v).map_err(e)?)
        }
        Area::Vacuum => Sample::Vacuum(serde_json::from_value::<VacuumSample>(v).map_err(e)?),
        Area::Wal => Sample::Wal(serde_json::from_value::<WalSample>(v).map_err(e)?),
        Area::Waits => Sample::Waits(serde_json::from_value::<WaitsSample>(v).map_err(e)?),
    })
}

/// `collected_at` of any sample (server clock, epoch seconds).
pub fn sample_collected_at(sample: &Sample) -> f64 {
    match sample {
        Sample::Server(s) => s.collected_at,
        Sample::Activity(s) => s.collected_at,
        Sample::Statements(s) => s.collected_at,
        Sample::Cache(s) => s.collected_at,
        Sample::Replication(s) => s.collected_at,
        Sample::UnusedIndexes(s) => s.collected_at,
        Sample::Vacuum(s) => s.collected_at,
        Sample::Wal(s) => s.collected_at,
        Sample::Waits(s) => s.collected_at,
    }
}

/// A block being written: the samples of one server and area over up to [`BLOCK_S`], as
/// one zstd stream of lines `[received_at,frame]\n` (`received_at` on the recorder's
/// clock, the frame's JSON as [`to_frame`] makes it). A *continuation* block's stream has
/// the last line of the block before it as dictionary, so its first sample costs only what
/// changed; a *key* block stands alone.
///
/// The stream is flushed at every commit ([`BlockWriter::flush`]): the bytes so far then
/// decode to every line pushed so far, so an unfinished block (the recorder was killed)
/// reads back up to its last commit.
pub struct BlockWriter {
    enc: zstd::stream::write::Encoder<'static, Vec<u8>>,
    /// Bytes of lines pushed (what the stream decompresses to).
    pub raw_len: usize,
    /// Bytes of lines up to the last flush (what the stored body decodes to).
    pub flushed_raw_len: usize,
    /// The last line pushed, without its newline: the next block's dictionary (what
    /// [`decode_block`] gives back as the block's last line).
    pub last_line: Vec<u8>,
    pub meta: BlockMeta,
    /// This block's dictionary (empty for a key block).
    dict: Vec<u8>,
}

/// What a block's row says about its samples (server clock, epoch seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockMeta {
    pub first_at: f64,
    pub last_at: f64,
    pub samples: usize,
    /// When each sample was collected: milliseconds after `first_at`, rounded up, space
    /// separated (the `times` column; what finding the next sample reads without
    /// decoding).
    pub times: String,
}

/// The longest a block spans (seconds between its first and last sample).
pub const BLOCK_S: f64 = 60.0;

/// zstd's window for blocks: 2 MiB (level 3's own), so a sample can repeat any of the
/// last few of a 400 KB statements frame.
const WINDOW_LOG: u32 = 21;

fn zstd_err(e: std::io::Error) -> String {
    format!("zstd: {e}")
}

impl BlockWriter {
    /// A block whose first sample is at `first_at`; `dict` is the previous block's last
    /// line (a continuation) or `None` (a key block).
    pub fn new(first_at: f64, dict: Option<&[u8]>) -> Result<BlockWriter, String> {
        let mut enc =
            zstd::stream::write::Encoder::with_dictionary(Vec::new(), LEVEL, dict.unwrap_or(&[]))
                .map_err(zstd_err)?;
        enc.include_checksum(false).map_err(zstd_err)?;
        enc.window_log(WINDOW_LOG).map_err(zstd_err)?;
        Ok(BlockWriter {
            enc,
            raw_len: 0,
            flushed_raw_len: 0,
            last_line: Vec::new(),
            dict: dict.unwrap_or(&[]).to_vec(),
            meta: BlockMeta {
                first_at,
                last_at: first_at,
                samples: 0,
                times: String::new(),
            },
        })
    }

    /// Whether a sample at `collected_at` belongs in this block (within [`BLOCK_S`] of its
    /// first; a clock that went back starts a new block too).
    pub fn takes(&self, collected_at: f64) -> bool {
        (0.0..BLOCK_S).contains(&(collected_at - self.meta.first_at))
    }

    /// Append one sample: its frame's JSON, collected at `collected_at` (server clock),
    /// received at `received_at` (recorder clock).
    pub fn push(
        &mut self,
        collected_at: f64,
        received_at: f64,
        frame: &[u8],
    ) -> Result<(), String> {
        use std::io::Write;
        let mut line = Vec::with_capacity(frame.len() + 24);
        line.push(b'[');
        line.extend_from_slice(number(received_at).as_bytes());
        line.push(b',');
        line.extend_from_slice(frame);
        line.extend_from_slice(b"]\n");
        self.enc.write_all(&line).map_err(zstd_err)?;
        self.raw_len += line.len();
        line.pop();
        self.last_line = line;
        let m = &mut self.meta;
        if !m.times.is_empty() {
            m.times.push(' ');
        }
        let ms = ((collected_at - m.first_at) * 1000.0).ceil().max(0.0);
        m.times.push_str(&format!("{ms:.0}"));
        m.samples += 1;
        m.last_at = collected_at;
        Ok(())
    }

    /// Whether lines were pushed since the last flush.
    pub fn dirty(&self) -> bool {
        self.raw_len != self.flushed_raw_len
    }

    /// Flush the stream: then [`BlockWriter::body`] decodes to every line pushed.
    pub fn flush(&mut self) -> Result<(), String> {
        use std::io::Write;
        self.enc.flush().map_err(zstd_err)?;
        self.flushed_raw_len = self.raw_len;
        Ok(())
    }

    /// The stream so far (up to the last flush, what decodes to `flushed_raw_len` bytes).
    pub fn body(&self) -> &[u8] {
        self.enc.get_ref()
    }

    /// End the block: its lines compressed again as one stream at [`SEAL_LEVEL`] (at
    /// [`LEVEL`] over [`SEAL_LEVEL_UP_TO`]; same dictionary, no flushes); returns the block's final body, what its row says and its
    /// last line.
    pub fn finish(self) -> Result<(Vec<u8>, BlockMeta, Vec<u8>), String> {
        use std::io::Write;
        let flushed = self.enc.finish().map_err(zstd_err)?;
        let raw = decompress(&flushed, self.raw_len, Some(&self.dict))?;
        let level = if raw.len() <= SEAL_LEVEL_UP_TO {
            SEAL_LEVEL
        } else {
            LEVEL
        };
        let mut enc = zstd::stream::write::Encoder::with_dictionary(Vec::new(), level, &self.dict)
            .map_err(zstd_err)?;
        enc.include_checksum(false).map_err(zstd_err)?;
        enc.window_log(WINDOW_LOG).map_err(zstd_err)?;
        enc.write_all(&raw).map_err(zstd_err)?;
        let sealed = enc.finish().map_err(zstd_err)?;
        Ok((sealed, self.meta, self.last_line))
    }
}

/// `x` as the shortest decimal that reads back as the same `f64` (JSON and SQL both read
/// it).
fn number(x: f64) -> String {
    serde_json::Number::from_f64(x)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "0".into())
}

/// The `times` column of a block that begins at `first_at` back as epoch seconds (each at
/// most a millisecond after the sample's own `collected_at`).
pub fn parse_times(first_at: f64, times: &str) -> Vec<f64> {
    times
        .split(' ')
        .filter_map(|t| t.parse::<f64>().ok())
        .map(|ms| first_at + ms / 1000.0)
        .collect()
}

/// Decompress a block's `body` (with `dict`, the previous block's last line, for a
/// continuation) to its lines; `raw_len` is the stored length, the most it may decode to
/// (so a corrupt block cannot ask for more). A stream that was never finished (the
/// recorder was killed) decodes up to its last flush.
///
/// Errors: the body does not decode to `raw_len` bytes of lines.
pub fn decode_block(
    body: &[u8],
    raw_len: usize,
    dict: Option<&[u8]>,
) -> Result<Vec<Vec<u8>>, String> {
    let out = decompress(body, raw_len, dict)?;
    Ok(out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// A block's bytes of lines (see [`decode_block`]).
fn decompress(body: &[u8], raw_len: usize, dict: Option<&[u8]>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut dec = zstd::stream::read::Decoder::with_dictionary(body, dict.unwrap_or(&[]))
        .map_err(zstd_err)?;
    dec.window_log_max(WINDOW_LOG).map_err(zstd_err)?;
    let mut out = Vec::with_capacity(raw_len);
    let mut buf = [0u8; 65_536];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.len() + n > raw_len {
                    return Err("a block decompresses to more than it should".into());
                }
                out.extend_from_slice(&buf[..n]);
            }
            // an unfinished stream ends where its last flush did
            Err(_) if out.len() == raw_len => break,
            Err(e) => return Err(format!("a block does not decompress: {e}")),
        }
    }
    if out.len() != raw_len {
        return Err(format!(
            "a block decompresses to {} bytes, not {raw_len}",
            out.len()
        ));
    }
    Ok(out)
}

/// One decoded line: `received_at` (recorder clock) and the frame.
pub fn parse_line(line: &[u8]) -> Result<(f64, Value), String> {
    serde_json::from_slice::<(f64, Value)>(line).map_err(|e| format!("a line is not a frame: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Session, Statement};
    use std::sync::Arc;

    fn activity(at: f64, idle_since: f64) -> Sample {
        Sample::Activity(ActivitySample {
            collected_at: at,
            max_connections: 100,
            usable_connections: 97,
            client_backends: 2,
            sessions: vec![Session {
                pid: 42,
                backend_type: "client backend".into(),
                state: Some("idle".into()),
                backend_start: Some(1_700_000_000.25).into(),
                backend_age_s: Some(at - 1_700_000_000.25).into(),
                state_age_s: Some(at - idle_since).into(),
                query: "select 1".into(),
                ..Session::default()
            }],
            ..ActivitySample::default()
        })
    }

    #[test]
    fn an_idle_session_is_the_same_bytes_at_every_poll_and_its_ages_come_back() {
        let a = to_frame(&activity(1_800_000_010.5, 1_800_000_000.0)).unwrap();
        let b = to_frame(&activity(1_800_000_012.5, 1_800_000_000.0)).unwrap();
        assert_eq!(a["sessions"], b["sessions"], "{a} vs {b}");
        assert!(
            a["sessions"][0].get("wait_event").is_none(),
            "nulls left out"
        );
        let back = from_frame(Area::Activity, b).unwrap();
        let Sample::Activity(s) = back else { panic!() };
        let age = s.sessions[0].state_age_s.get().unwrap();
        assert!((age - 12.5).abs() < 0.001, "{age}");
        assert_eq!(s.sessions[0].wait_event, None);
        assert_eq!(s.sessions[0].backend_start, Some(1_700_000_000.25));
    }

    #[test]
    fn statement_texts_leave_the_frame_and_come_back() {
        let sample = Sample::Statements(StatementsSample {
            collected_at: 1.0,
            extension_version: "1.10".into(),
            statements: vec![Statement {
                userid: 10,
                dbid: 5,
                queryid: -7,
                toplevel: true,
                calls: 3,
                query: Some(Arc::from("select $1")),
                ..Statement::default()
            }],
            ..StatementsSample::default()
        });
        let mut f = to_frame(&sample).unwrap();
        let texts = split_statement_texts(&mut f);
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[0].1, "select $1");
        assert!(f["statements"][0].get("query").is_none());
        join_statement_texts(&mut f, |k| (k == &texts[0].0).then(|| texts[0].1.clone()));
        assert_eq!(from_frame(Area::Statements, f).unwrap(), sample);
    }

    #[test]
    fn a_block_is_small_after_its_first_sample_and_reads_back_after_every_flush() {
        let line = |t: f64| serde_json::to_vec(&to_frame(&activity(t, 1.0)).unwrap()).unwrap();
        let mut key = BlockWriter::new(10.0, None).unwrap();
        key.push(10.0, 10.5, &line(10.0)).unwrap();
        key.flush().unwrap();
        let one = key.body().len();
        for t in [12.0, 14.0, 16.0] {
            key.push(t, t + 0.5, &line(t)).unwrap();
        }
        assert!(key.dirty());
        // flushed but unfinished: every line so far, as after a kill -9
        key.flush().unwrap();
        let open = key.body().to_vec();
        assert!(!key.dirty());
        assert!(
            open.len() < one * 2,
            "3 more idle polls cost {} after {one}",
            open.len() - one
        );
        let lines = decode_block(&open, key.raw_len, None).unwrap();
        assert_eq!(lines.len(), 4);
        let (received, frame) = parse_line(&lines[3]).unwrap();
        assert_eq!(received, 16.5);
        assert_eq!(frame, to_frame(&activity(16.0, 1.0)).unwrap());
        assert_eq!(key.meta.times, "0 2000 4000 6000");
        assert_eq!(
            parse_times(10.0, &key.meta.times),
            vec![10.0, 12.0, 14.0, 16.0]
        );
        assert!(key.takes(69.9) && !key.takes(70.0) && !key.takes(9.0));
        // a continuation needs its dictionary, and is smaller than a key block
        let raw_len = key.raw_len;
        let (finished, meta, dict) = key.finish().unwrap();
        assert_eq!((meta.samples, meta.first_at, meta.last_at), (4, 10.0, 16.0));
        assert_eq!(decode_block(&finished, raw_len, None).unwrap().len(), 4);
        let mut next = BlockWriter::new(70.0, Some(&dict)).unwrap();
        next.push(70.0, 70.5, &line(70.0)).unwrap();
        let (body, _, _) = next.finish().unwrap();
        assert!(body.len() < one, "{} vs {one}", body.len());
        let n = line(70.0).len() + "[70.5,]\n".len();
        assert_eq!(decode_block(&body, n, Some(&dict)).unwrap().len(), 1);
        assert!(decode_block(&body, n, None).is_err());
        // a stored length that does not match is an error, not a guess
        assert!(decode_block(&finished, raw_len - 1, None).is_err());
    }
}
