//! How a sample becomes a frame and back.
//!
//! A frame is the JSON of a collector's sample (derived fields are `None` there, so nothing
//! the model computes is stored), made to repeat itself from one poll to the next so that
//! zstd, given the previous frame of the same server and area as its dictionary, stores
//! only what changed:
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
    UnusedIndexesSample, VacuumSample, WalSample,
};

/// zstd level of every frame: level 3 (zstd's default) compresses a 400 KB statements
/// frame against its predecessor in about 2 ms.
pub const LEVEL: i32 = 3;

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
    }
}

/// Compress `raw` with the previous frame's bytes as zstd's dictionary (a delta), or alone
/// (a key frame) when `prev` is `None`.
pub fn compress(raw: &[u8], prev: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut c = match prev {
        Some(dict) => zstd::bulk::Compressor::with_dictionary(LEVEL, dict),
        None => zstd::bulk::Compressor::new(LEVEL),
    }
    .map_err(|e| format!("zstd: {e}"))?;
    c.compress(raw).map_err(|e| format!("zstd: {e}"))
}

/// The inverse of [`compress`]; `raw_len` is the stored uncompressed length (the only
/// capacity allocated, so a corrupt frame cannot ask for more).
pub fn decompress(body: &[u8], raw_len: usize, prev: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut d = match prev {
        Some(dict) => zstd::bulk::Decompressor::with_dictionary(dict),
        None => zstd::bulk::Decompressor::new(),
    }
    .map_err(|e| format!("zstd: {e}"))?;
    d.decompress(body, raw_len)
        .map_err(|e| format!("a frame does not decompress: {e}"))
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
                backend_start: Some(1_700_000_000.25),
                backend_age_s: Some(at - 1_700_000_000.25),
                state_age_s: Some(at - idle_since),
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
        let age = s.sessions[0].state_age_s.unwrap();
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
    fn a_delta_against_the_previous_frame_is_small_and_exact() {
        let a = serde_json::to_vec(&to_frame(&activity(10.0, 1.0)).unwrap()).unwrap();
        let b = serde_json::to_vec(&to_frame(&activity(12.0, 1.0)).unwrap()).unwrap();
        let key = compress(&b, None).unwrap();
        let delta = compress(&b, Some(&a)).unwrap();
        assert!(delta.len() < key.len(), "{} vs {}", delta.len(), key.len());
        assert_eq!(decompress(&delta, b.len(), Some(&a)).unwrap(), b);
        assert!(
            decompress(&delta, b.len(), None).is_err()
                || decompress(&delta, b.len(), None).unwrap() != b
        );
    }
}
