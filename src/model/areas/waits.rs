//! The wait profile: a sliding window ([`WINDOW_S`]) of the sampler's [`WaitsSample`]s,
//! counted per `query_id` and per server in [`WaitClass`]es (CPU, Lock, LWLock, IO, IPC,
//! Client, Timeout, Extension, Other). A count is a *backend-sample*: one active backend seen
//! in one sample, so a statement running on three backends at once weighs three. A share is
//! a class's count over all of the row's counts in the window. Kept in
//! [`crate::model::ServerState::waits`], fed by every sample the store ingests (live, or
//! replayed from a recording: the same window either way).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::sample::{ServerFacts, WaitClass, WaitsSample};

/// The window the profile covers, seconds of server clock.
pub const WINDOW_S: f64 = 600.0;

/// "Now" in the activity panel: the samples of the last this many seconds.
pub const NOW_S: f64 = 10.0;

/// Most queries kept in the window's per-query counts; beyond, a new query is counted in
/// the server's profile only (memory stays bounded whatever the workload).
pub const MAX_QUERIES: usize = 20_000;

/// Backend-samples per [`WaitClass`] (indexed by [`WaitClass::index`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitCounts(pub [u64; 9]);

impl WaitCounts {
    /// Every backend-sample counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn get(&self, class: WaitClass) -> u64 {
        self.0[class.index()]
    }

    /// The share of `class`, 0–1; `None` when nothing is counted.
    pub fn share(&self, class: WaitClass) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| self.get(class) as f64 / total as f64)
    }

    /// The class with the most backend-samples and its share (ties: the first in
    /// [`WaitClass::ALL`]); `None` when nothing is counted.
    pub fn dominant(&self) -> Option<(WaitClass, f64)> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let mut best = WaitClass::Cpu;
        for class in WaitClass::ALL {
            if self.get(class) > self.get(best) {
                best = class;
            }
        }
        Some((best, self.get(best) as f64 / total as f64))
    }

    /// The classes counted, most first, with their shares.
    pub fn shares(&self) -> Vec<(WaitClass, f64)> {
        let total = self.total();
        if total == 0 {
            return Vec::new();
        }
        let mut v: Vec<(WaitClass, f64)> = WaitClass::ALL
            .into_iter()
            .filter(|c| self.get(*c) > 0)
            .map(|c| (c, self.get(c) as f64 / total as f64))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    pub fn add(&mut self, class: WaitClass, n: u64) {
        self.0[class.index()] += n;
    }

    fn sub(&mut self, class: WaitClass, n: u64) {
        let c = &mut self.0[class.index()];
        *c = c.saturating_sub(n);
    }

    /// `{"cpu": 0.2, "lock": 0.71, ...}`: every class, shares 0–1 (all 0 when empty).
    pub fn json(&self) -> Value {
        let total = self.total().max(1) as f64;
        let mut m = Map::new();
        for class in WaitClass::ALL {
            m.insert(class.key().into(), json!(self.get(class) as f64 / total));
        }
        Value::Object(m)
    }
}

/// One kept row of a sample: a query (or none), what it waited on, how many backends.
#[derive(Debug, Clone)]
struct Row {
    query_id: Option<i64>,
    class: WaitClass,
    /// `wait_event_type:wait_event` ("" for CPU), interned.
    event: Arc<str>,
    backends: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    at: f64,
    rows: Vec<Row>,
}

/// The sliding window of wait samples of one server (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct WaitWindow {
    entries: VecDeque<Entry>,
    per_query: HashMap<i64, WaitCounts>,
    per_event: HashMap<(WaitClass, Arc<str>), u64>,
    server: WaitCounts,
    events: HashMap<String, Arc<str>>,
    compute_query_id: Option<String>,
    /// Samples whose rows had a `query_id`; with none in a busy window, the per-query
    /// profile is missing (see [`WaitWindow::missing`]).
    with_query_id: u64,
}

impl WaitWindow {
    /// Count a new sample and drop what fell out of the window. A sample older than the
    /// last one by more than a second (a replay that went back) starts the window again.
    pub fn push(&mut self, sample: &WaitsSample) {
        let at = sample.collected_at;
        if self.entries.back().is_some_and(|e| at + 1.0 < e.at) {
            *self = WaitWindow::default();
        }
        self.compute_query_id = sample.compute_query_id.clone();
        let mut rows = Vec::with_capacity(sample.waits.len());
        let mut any_query_id = false;
        for w in &sample.waits {
            let class = WaitClass::of(w.wait_event_type.as_deref());
            let name = match (&w.wait_event_type, &w.wait_event) {
                (Some(t), Some(e)) => format!("{t}:{e}"),
                (Some(t), None) => t.clone(),
                (None, _) => String::new(),
            };
            let event = match self.events.get(&name) {
                Some(e) => e.clone(),
                None => {
                    let e: Arc<str> = Arc::from(name.as_str());
                    if self.events.len() < 4_096 {
                        self.events.insert(name, e.clone());
                    }
                    e
                }
            };
            let backends = u64::try_from(w.backends).unwrap_or(0);
            if let Some(q) = w.query_id {
                any_query_id = true;
                let known = self.per_query.len() < MAX_QUERIES || self.per_query.contains_key(&q);
                if known {
                    self.per_query.entry(q).or_default().add(class, backends);
                }
            }
            *self.per_event.entry((class, event.clone())).or_default() += backends;
            self.server.add(class, backends);
            rows.push(Row {
                query_id: w.query_id,
                class,
                event,
                backends,
            });
        }
        if any_query_id {
            self.with_query_id += 1;
        }
        self.entries.push_back(Entry { at, rows });
        while self.entries.front().is_some_and(|e| e.at < at - WINDOW_S) {
            let old = self.entries.pop_front().expect("front");
            self.forget(old);
        }
    }

    fn forget(&mut self, old: Entry) {
        let mut had_query_id = false;
        for r in old.rows {
            if let Some(q) = r.query_id {
                had_query_id = true;
                if let Some(c) = self.per_query.get_mut(&q) {
                    c.sub(r.class, r.backends);
                    if c.total() == 0 {
                        self.per_query.remove(&q);
                    }
                }
            }
            let key = (r.class, r.event);
            if let Some(n) = self.per_event.get_mut(&key) {
                *n = n.saturating_sub(r.backends);
                if *n == 0 {
                    self.per_event.remove(&key);
                }
            }
            self.server.sub(r.class, r.backends);
        }
        if had_query_id {
            self.with_query_id = self.with_query_id.saturating_sub(1);
        }
    }

    /// Samples in the window.
    pub fn samples(&self) -> usize {
        self.entries.len()
    }

    /// Seconds from the first to the last sample in the window.
    pub fn span_s(&self) -> f64 {
        match (self.entries.front(), self.entries.back()) {
            (Some(a), Some(b)) => b.at - a.at,
            _ => 0.0,
        }
    }

    /// The profile of one statement (its `queryid`) over the window.
    pub fn of_query(&self, query_id: i64) -> Option<&WaitCounts> {
        self.per_query.get(&query_id)
    }

    /// The profile of the whole server over the window.
    pub fn server(&self) -> &WaitCounts {
        &self.server
    }

    /// Average active backends over the window's samples.
    pub fn active_backends_avg(&self) -> f64 {
        if self.entries.is_empty() {
            return 0.0;
        }
        self.server.total() as f64 / self.entries.len() as f64
    }

    /// The `n` wait events with the most backend-samples in the window, with their share of
    /// all: (class, `type:event` or "" for CPU, share).
    pub fn top_events(&self, n: usize) -> Vec<(WaitClass, Arc<str>, f64)> {
        let total = self.server.total().max(1) as f64;
        let mut v: Vec<_> = self
            .per_event
            .iter()
            .map(|((c, e), k)| (*c, e.clone(), *k as f64 / total))
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        v.truncate(n);
        v
    }

    /// The wait events of the last [`NOW_S`] seconds of samples, as average backends, most
    /// first: (class, `type:event` or "", backends on average).
    pub fn now(&self, n: usize) -> Vec<(WaitClass, Arc<str>, f64)> {
        let Some(last) = self.entries.back() else {
            return Vec::new();
        };
        let recent: Vec<&Entry> = self
            .entries
            .iter()
            .rev()
            .take_while(|e| e.at >= last.at - NOW_S)
            .collect();
        let mut sums: HashMap<(WaitClass, Arc<str>), u64> = HashMap::new();
        for e in &recent {
            for r in &e.rows {
                *sums.entry((r.class, r.event.clone())).or_default() += r.backends;
            }
        }
        let k = recent.len().max(1) as f64;
        let mut v: Vec<_> = sums
            .into_iter()
            .map(|((c, e), s)| (c, e, s as f64 / k))
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        v.truncate(n);
        v
    }

    /// Average active backends per class over the last [`NOW_S`] seconds of samples
    /// (indexed by [`WaitClass::index`]): the average active sessions by wait class.
    pub fn now_by_class(&self) -> [f64; 9] {
        let mut out = [0.0; 9];
        for (class, _, backends) in self.now(usize::MAX) {
            out[class.index()] += backends;
        }
        out
    }

    /// Why the profile cannot be split by statement on this server, with the fix; `None` when
    /// it can. Before PostgreSQL 14 there is no `query_id`; on 14+ it needs
    /// `compute_query_id` on (or `auto` with pg_stat_statements loaded).
    pub fn missing(&self, facts: Option<&ServerFacts>) -> Option<String> {
        let facts = facts?;
        if facts.major() < 14 {
            return Some(format!(
                "waits per statement need PostgreSQL 14+ (pg_stat_activity.query_id); this \
                 server is {}: the server-wide profile only",
                facts.major()
            ));
        }
        let off = match self.compute_query_id.as_deref() {
            Some("off") => true,
            Some("auto") => !facts.pgss_preloaded,
            _ => false,
        };
        off.then(|| {
            "waits per statement need query ids: compute_query_id is off \
             (ALTER SYSTEM SET compute_query_id = on; SELECT pg_reload_conf())"
                .to_string()
        })
    }

    /// The waits area's JSON (`pgvitals snapshot`): the last sample, and the window.
    pub fn json(&self, last: &WaitsSample, facts: Option<&ServerFacts>) -> Value {
        let events = |v: Vec<(WaitClass, Arc<str>, f64)>, key: &str| -> Vec<Value> {
            v.into_iter()
                .map(|(c, e, x)| {
                    let (t, ev) = match e.split_once(':') {
                        Some((t, ev)) => (Some(t.to_string()), Some(ev.to_string())),
                        None if e.is_empty() => (None, None),
                        None => (Some(e.to_string()), None),
                    };
                    json!({ "class": c.key(), "wait_event_type": t, "wait_event": ev, key: x })
                })
                .collect()
        };
        json!({
            "collected_at": last.collected_at,
            "compute_query_id": last.compute_query_id,
            "waits": last.waits,
            "window_s": WINDOW_S,
            "samples": self.samples(),
            "span_s": self.span_s(),
            "active_backends_avg": self.active_backends_avg(),
            "profile": self.server.json(),
            "top_waits": events(self.top_events(10), "share"),
            "now": events(self.now(10), "backends_avg"),
            "per_statement_missing": self.missing(facts),
        })
    }
}

/// A statement's `wait_profile` in the JSON: backend-samples, the dominant class and every
/// class's share; `null` when it was never seen active in the window.
pub fn statement_json(window: &WaitWindow, query_id: i64) -> Value {
    match window.of_query(query_id) {
        Some(c) if c.total() > 0 => {
            let (dominant, share) = c.dominant().expect("counted");
            json!({
                "samples": c.total(),
                "dominant": dominant.key(),
                "dominant_share": share,
                "shares": c.json(),
            })
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::ActiveWait;

    /// (query_id, wait_event_type, wait_event, backends)
    type Row<'a> = (Option<i64>, Option<&'a str>, Option<&'a str>, i32);

    fn sample(at: f64, waits: &[Row<'_>]) -> WaitsSample {
        WaitsSample {
            collected_at: at,
            compute_query_id: Some("on".into()),
            waits: waits
                .iter()
                .map(|(q, t, e, n)| ActiveWait {
                    query_id: *q,
                    wait_event_type: t.map(str::to_string),
                    wait_event: e.map(str::to_string),
                    backends: *n,
                })
                .collect(),
        }
    }

    #[test]
    fn shares_per_statement_and_server_over_a_sliding_window() {
        let mut w = WaitWindow::default();
        // statement 1: 3 of 4 backend-samples on a lock; statement 2: on CPU
        w.push(&sample(
            0.0,
            &[
                (Some(1), Some("Lock"), Some("transactionid"), 2),
                (Some(2), None, None, 1),
            ],
        ));
        w.push(&sample(
            1.0,
            &[
                (Some(1), Some("Lock"), Some("transactionid"), 1),
                (Some(1), None, None, 1),
            ],
        ));
        let one = w.of_query(1).unwrap();
        assert_eq!(one.total(), 4);
        assert_eq!(one.dominant(), Some((WaitClass::Lock, 0.75)));
        assert_eq!(
            w.of_query(2).unwrap().dominant(),
            Some((WaitClass::Cpu, 1.0))
        );
        assert_eq!(w.server().total(), 5);
        assert_eq!(w.samples(), 2);
        assert!((w.active_backends_avg() - 2.5).abs() < 1e-9);
        let top = w.top_events(3);
        assert_eq!(&*top[0].1, "Lock:transactionid");
        assert!((top[0].2 - 0.6).abs() < 1e-9);
        // the first sample falls out of the window: statement 2 is gone
        w.push(&sample(
            WINDOW_S + 0.5,
            &[(Some(1), Some("IO"), Some("DataFileRead"), 1)],
        ));
        assert!(w.of_query(2).is_none());
        let one = w.of_query(1).unwrap();
        assert_eq!(one.total(), 3);
        assert_eq!(one.get(WaitClass::Lock), 1);
        assert_eq!(w.server().total(), 3);
        assert_eq!(w.now_by_class()[WaitClass::IO.index()], 1.0);
        assert_eq!(w.now_by_class()[WaitClass::Lock.index()], 0.0);
        // "now": only the last NOW_S seconds
        let now = w.now(5);
        assert_eq!(now.len(), 1);
        assert_eq!(&*now[0].1, "IO:DataFileRead");
    }

    #[test]
    fn a_replay_that_goes_back_starts_again_and_an_idle_sample_counts_as_a_sample() {
        let mut w = WaitWindow::default();
        w.push(&sample(100.0, &[(Some(1), None, None, 1)]));
        w.push(&sample(10.0, &[]));
        assert_eq!(w.samples(), 1);
        assert!(w.of_query(1).is_none());
        assert_eq!(w.server().total(), 0);
        assert_eq!(w.server().dominant(), None);
    }

    #[test]
    fn the_missing_per_statement_profile_says_why() {
        let mut w = WaitWindow::default();
        let old = ServerFacts {
            server_version_num: 130_010,
            ..ServerFacts::example("u", true)
        };
        assert!(w.missing(Some(&old)).unwrap().contains("PostgreSQL 14+"));
        let facts = ServerFacts {
            pgss_preloaded: false,
            ..ServerFacts::example("u", true)
        };
        w.push(&WaitsSample {
            compute_query_id: Some("auto".into()),
            ..WaitsSample::default()
        });
        assert!(
            w.missing(Some(&facts))
                .unwrap()
                .contains("compute_query_id")
        );
        let loaded = ServerFacts::example("u", true);
        assert_eq!(w.missing(Some(&loaded)), None);
    }
}
