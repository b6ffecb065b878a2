//! Alert rules: a pure function of (server state, thresholds, now) to the alerts that hold.
//!
//! Each rule compares one value to its warning and critical thresholds (see
//! [`crate::sample::Rule`] for units and defaults). **Hysteresis**: an alert already active at
//! some severity stays at it until the value is back past the threshold by a margin (5 % of
//! the threshold, or 0.005 for ratios), so a value sitting on a threshold does not flap.
//! [`AlertBook`] keeps the active alerts with the time each became active, and the recently
//! resolved ones.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Link, ServerState};
use crate::config::Thresholds;
use crate::sample::{Rule, Unit};

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

/// One alert: a rule broken by a subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub rule: Rule,
    pub severity: Severity,
    /// What the alert is about: `server`, `database app`, `pid 1234`, `standby walreceiver`,
    /// `slot s1`, `table public.orders`.
    pub subject: String,
    /// The measured value, in the rule's unit.
    pub value: f64,
    /// The threshold crossed (of `severity`), in the rule's unit.
    pub threshold: f64,
    /// One line for a human.
    pub message: String,
}

/// An alert with the time it became active (at any severity).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveAlert {
    #[serde(flatten)]
    pub alert: Alert,
    #[serde(skip)]
    pub since: SystemTime,
}

/// An alert that no longer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAlert {
    pub alert: Alert,
    pub since: SystemTime,
    pub resolved_at: SystemTime,
}

/// How many resolved alerts are kept.
pub const RESOLVED_KEPT: usize = 50;

/// Active alerts by (rule, subject), and recently resolved ones, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertBook {
    pub active: BTreeMap<(Rule, String), ActiveAlert>,
    pub resolved: VecDeque<ResolvedAlert>,
}

impl AlertBook {
    /// Replace the active set with `current`, keeping `since` of alerts that stay active and
    /// moving the others to `resolved`.
    pub fn update(&mut self, current: Vec<Alert>, now: SystemTime) {
        let mut next = BTreeMap::new();
        for alert in current {
            let key = (alert.rule, alert.subject.clone());
            let since = self.active.get(&key).map_or(now, |a| a.since);
            next.insert(key, ActiveAlert { alert, since });
        }
        for (key, old) in std::mem::take(&mut self.active) {
            if !next.contains_key(&key) {
                self.resolved.push_front(ResolvedAlert {
                    alert: old.alert,
                    since: old.since,
                    resolved_at: now,
                });
            }
        }
        self.resolved.truncate(RESOLVED_KEPT);
        self.active = next;
    }

    /// Active alerts, critical first, then oldest first.
    pub fn sorted(&self) -> Vec<&ActiveAlert> {
        let mut v: Vec<&ActiveAlert> = self.active.values().collect();
        v.sort_by(|a, b| {
            b.alert
                .severity
                .cmp(&a.alert.severity)
                .then(a.since.cmp(&b.since))
        });
        v
    }

    /// (warning, critical) counts.
    pub fn counts(&self) -> (usize, usize) {
        self.active
            .values()
            .fold((0, 0), |(w, c), a| match a.alert.severity {
                Severity::Warning => (w + 1, c),
                Severity::Critical => (w, c + 1),
            })
    }

    /// The worst severity of a rule's alerts on a subject, for colouring rows.
    pub fn severity_of(&self, rule: Rule, subject: &str) -> Option<Severity> {
        self.active
            .get(&(rule, subject.to_string()))
            .map(|a| a.alert.severity)
    }

    /// The worst severity over all active alerts whose subject equals `subject`.
    pub fn worst_for_subject(&self, subject: &str) -> Option<Severity> {
        self.active
            .values()
            .filter(|a| a.alert.subject == subject)
            .map(|a| a.alert.severity)
            .max()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.active.values().map(|a| a.alert.severity).max()
    }
}

/// Subject strings, shared with the screen so it can colour the rows an alert is about.
pub mod subject {
    pub fn pid(pid: i32) -> String {
        format!("pid {pid}")
    }
    pub fn database(datname: &str) -> String {
        format!("database {datname}")
    }
    pub fn standby(name: &str) -> String {
        format!("standby {name}")
    }
    pub fn slot(name: &str) -> String {
        format!("slot {name}")
    }
    pub fn table(schema: &str, rel: &str) -> String {
        format!("table {schema}.{rel}")
    }
    pub const SERVER: &str = "server";
}

/// The severity `value` deserves under `rule`, given the severity it had (hysteresis).
pub fn judge(
    rule: Rule,
    value: f64,
    t: &crate::config::Threshold,
    was: Option<Severity>,
) -> Option<Severity> {
    let margin = |threshold: f64| {
        if rule.unit() == Unit::Ratio {
            0.005
        } else {
            threshold.abs() * 0.05
        }
    };
    // `beyond(th, held)`: value is past the threshold; when the alert already holds at this
    // level, it must come back past the threshold by the margin to clear.
    let beyond = |th: f64, held: bool| {
        let m = if held { margin(th) } else { 0.0 };
        if rule.lower_is_worse() {
            value < th + m
        } else {
            value > th - m
        }
    };
    if beyond(t.critical, was == Some(Severity::Critical)) {
        Some(Severity::Critical)
    } else if beyond(t.warning, was.is_some()) {
        Some(Severity::Warning)
    } else {
        None
    }
}

struct Evaluator<'a> {
    server: &'a ServerState,
    thresholds: &'a Thresholds,
    out: Vec<Alert>,
}

impl Evaluator<'_> {
    /// `subject` is built only when the value is near or past a threshold: this runs for
    /// every session, table and database on every sample.
    fn check(
        &mut self,
        rule: Rule,
        subject: impl FnOnce() -> String,
        value: f64,
        describe: impl FnOnce(&str) -> String,
    ) {
        let t = self.thresholds.get(rule);
        // the most lenient verdict (as if critical held already): None means None for sure
        if judge(rule, value, &t, Some(Severity::Critical)).is_none() {
            return;
        }
        let subject = subject();
        let was = self.server.alerts.severity_of(rule, &subject);
        if let Some(severity) = judge(rule, value, &t, was) {
            let threshold = match severity {
                Severity::Warning => t.warning,
                Severity::Critical => t.critical,
            };
            let message = describe(&format_value(rule, threshold));
            self.out.push(Alert {
                rule,
                severity,
                subject,
                value,
                threshold,
                message,
            });
        }
    }
}

/// Format a value in a rule's unit, for messages.
pub fn format_value(rule: Rule, v: f64) -> String {
    match rule.unit() {
        Unit::Percent => format!("{v:.0}%"),
        Unit::Seconds => crate::model::format_duration_s(v),
        Unit::Ratio => format!("{:.1}%", v * 100.0),
        Unit::Bytes => crate::model::format_bytes(v),
        Unit::Transactions => crate::model::format_count(v),
    }
}

/// Every alert that holds for `server` at `now`.
pub fn evaluate(server: &ServerState, thresholds: &Thresholds, now: SystemTime) -> Vec<Alert> {
    let mut ev = Evaluator {
        server,
        thresholds,
        out: Vec::new(),
    };
    if let Link::Down { since, error, .. } = &server.link {
        let secs = now.duration_since(*since).unwrap_or_default().as_secs_f64();
        ev.out.push(Alert {
            rule: Rule::ServerUnreachable,
            severity: Severity::Critical,
            subject: subject::SERVER.to_string(),
            value: secs,
            threshold: 0.0,
            message: format!(
                "{} unreachable for {}: {}",
                server.label,
                crate::model::format_duration_s(secs),
                error.message
            ),
        });
    }

    if let Some(a) = server.activity() {
        if a.usable_connections > 0 {
            let pct = f64::from(a.client_backends) * 100.0 / f64::from(a.usable_connections);
            let (used, usable) = (a.client_backends, a.usable_connections);
            ev.check(
                Rule::Connections,
                || subject::SERVER.into(),
                pct,
                |th| format!("{used} of {usable} usable connections in use ({pct:.0}% > {th})"),
            );
        }
        for s in &a.sessions {
            if s.backend_type != "client backend" {
                continue;
            }
            // formatted only when an alert holds: this runs for every session on every sample
            let who = || {
                format!(
                    "{}@{}",
                    s.usename.as_deref().unwrap_or("?"),
                    s.datname.as_deref().unwrap_or("?")
                )
            };
            let pid = s.pid;
            match s.state.as_deref() {
                Some("active") => {
                    if s.wait_event_type.as_deref() == Some("Lock") {
                        if let Some(age) = s.query_age_s {
                            ev.check(Rule::Blocked, || subject::pid(pid), age, |th| {
                                format!(
                                    "pid {pid} ({}) waiting on a lock for {} (> {th}), blocked by {}",
                                    who(),
                                    crate::model::format_duration_s(age),
                                    if s.blocked_by.is_empty() {
                                        "?".into()
                                    } else {
                                        s.blocked_by
                                            .iter()
                                            .map(|p| p.to_string())
                                            .collect::<Vec<_>>()
                                            .join(",")
                                    }
                                )
                            });
                        }
                    }
                    if let Some(age) = s.query_age_s {
                        ev.check(
                            Rule::LongQuery,
                            || subject::pid(pid),
                            age,
                            |th| {
                                format!(
                                    "pid {pid} ({}) query running for {} (> {th})",
                                    who(),
                                    crate::model::format_duration_s(age)
                                )
                            },
                        );
                    }
                }
                Some("idle in transaction") | Some("idle in transaction (aborted)") => {
                    if let Some(age) = s.state_age_s {
                        ev.check(
                            Rule::IdleInTransaction,
                            || subject::pid(pid),
                            age,
                            |th| {
                                format!(
                                    "pid {pid} ({}) idle in transaction for {} (> {th})",
                                    who(),
                                    crate::model::format_duration_s(age)
                                )
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }

    if let Some(c) = server.cache() {
        let floor = thresholds.get(Rule::CacheHitRatio).min;
        for d in &c.databases {
            // template databases only see autovacuum and CREATE DATABASE: a burst of catalog
            // misses there is noise, not a cache problem of any workload
            if matches!(d.datname.as_str(), "template0" | "template1") {
                continue;
            }
            let (Some(ratio), Some(hit), Some(read)) =
                (d.interval_hit_ratio, d.blks_hit_per_s, d.blks_read_per_s)
            else {
                continue;
            };
            if hit + read < floor {
                continue;
            }
            let name = d.datname.clone();
            ev.check(Rule::CacheHitRatio, || subject::database(&d.datname), ratio, |th| {
                format!(
                    "database {name}: cache hit ratio {:.1}% over the last interval (< {th}), {} blocks read/s",
                    ratio * 100.0,
                    crate::model::format_count(read)
                )
            });
        }
    }

    if let Some(r) = server.replication() {
        for s in &r.standbys {
            let name = if s.application_name.is_empty() {
                s.client_addr.clone().unwrap_or_else(|| s.pid.to_string())
            } else {
                s.application_name.clone()
            };
            if let Some(bytes) = s.replay_lag_bytes {
                let n = name.clone();
                ev.check(
                    Rule::ReplicationLagBytes,
                    || subject::standby(&name),
                    bytes as f64,
                    |th| {
                        format!(
                            "standby {n} replay is {} behind (> {th})",
                            crate::model::format_bytes(bytes as f64)
                        )
                    },
                );
            }
            if let Some(secs) = s.replay_lag_s {
                let n = name.clone();
                ev.check(
                    Rule::ReplicationLagTime,
                    || subject::standby(&name),
                    secs,
                    |th| {
                        format!(
                            "standby {n} replay lag {} (> {th})",
                            crate::model::format_duration_s(secs)
                        )
                    },
                );
            }
        }
        if let Some(st) = &r.standby_status {
            if let Some(bytes) = st.replay_lag_bytes {
                let state = st.lag_state.clone();
                ev.check(Rule::ReplicationLagBytes, || subject::SERVER.into(), bytes as f64, |th| {
                    format!(
                        "this standby has {} received but not replayed (> {th}, replay {state})",
                        crate::model::format_bytes(bytes as f64)
                    )
                });
            }
            if let Some(secs) = st.replay_lag_s {
                ev.check(
                    Rule::ReplicationLagTime,
                    || subject::SERVER.into(),
                    secs,
                    |th| {
                        format!(
                            "this standby replays {} behind the primary (> {th})",
                            crate::model::format_duration_s(secs)
                        )
                    },
                );
            }
            if st.lag_state == "disconnected" {
                ev.out.push(Alert {
                    rule: Rule::ReplicationLagTime,
                    severity: Severity::Critical,
                    subject: subject::SERVER.into(),
                    value: st.last_replay_age_s.unwrap_or(0.0),
                    threshold: 0.0,
                    message: "this standby has no streaming WAL receiver: it is not receiving from the primary".into(),
                });
            }
        }
        let inactive_min = thresholds.get(Rule::InactiveSlot).min;
        for slot in &r.slots {
            let Some(bytes) = slot.retained_wal_bytes else {
                continue;
            };
            let name = slot.slot_name.clone();
            let active = if slot.active { "active" } else { "inactive" };
            ev.check(
                Rule::SlotRetainedWal,
                || subject::slot(&slot.slot_name),
                bytes as f64,
                |th| {
                    format!(
                        "{active} slot {name} retains {} of WAL (> {th})",
                        crate::model::format_bytes(bytes as f64)
                    )
                },
            );
            if !slot.active && !slot.temporary && bytes as f64 >= inactive_min {
                let lost = matches!(
                    slot.wal_status.as_deref(),
                    Some("unreserved") | Some("lost")
                );
                let severity = if lost {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                ev.out.push(Alert {
                    rule: Rule::InactiveSlot,
                    severity,
                    subject: subject::slot(&slot.slot_name),
                    value: bytes as f64,
                    threshold: inactive_min,
                    message: format!(
                        "slot {} is inactive and retains {} of WAL{}",
                        slot.slot_name,
                        crate::model::format_bytes(bytes as f64),
                        match slot.wal_status.as_deref() {
                            Some(s @ ("unreserved" | "lost")) => format!(" (wal_status {s})"),
                            _ => String::new(),
                        }
                    ),
                });
            }
        }
    }

    if let Some(v) = server.vacuum() {
        for d in &v.databases {
            let name = d.datname.clone();
            let (age, pct) = (d.xid_age, d.xid_wraparound_pct);
            ev.check(
                Rule::XidAge,
                || subject::database(&d.datname),
                age as f64,
                |th| {
                    format!(
                        "database {name}: xid age {} ({pct:.1}% of the way to wraparound, > {th})",
                        crate::model::format_count(age as f64)
                    )
                },
            );
            let name = d.datname.clone();
            let (age, pct) = (d.mxid_age, d.mxid_wraparound_pct);
            ev.check(Rule::MxidAge, || subject::database(&d.datname), age as f64, |th| {
                format!(
                    "database {name}: multixact age {} ({pct:.1}% of the way to wraparound, > {th})",
                    crate::model::format_count(age as f64)
                )
            });
        }
        let floor = thresholds.get(Rule::DeadTuples).min;
        for t in &v.dead_tuples {
            let Some(ratio) = t.dead_tup_ratio else {
                continue;
            };
            if (t.n_dead_tup as f64) < floor {
                continue;
            }
            let (schema, rel, dead) = (t.schemaname.clone(), t.relname.clone(), t.n_dead_tup);
            ev.check(
                Rule::DeadTuples,
                || subject::table(&t.schemaname, &t.relname),
                ratio,
                |th| {
                    format!(
                        "table {schema}.{rel}: {} dead tuples, {:.0}% of the table (> {th})",
                        crate::model::format_count(dead as f64),
                        ratio * 100.0
                    )
                },
            );
        }
    }
    ev.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Threshold;
    use crate::sample::*;
    use crate::sample::{Area, Sample};

    fn t(w: f64, c: f64) -> Threshold {
        Threshold {
            warning: w,
            critical: c,
            min: 0.0,
        }
    }

    #[test]
    fn judge_has_hysteresis_so_a_value_on_the_threshold_does_not_flap() {
        let th = t(100.0, 200.0);
        assert_eq!(judge(Rule::XidAge, 99.0, &th, None), None);
        assert_eq!(
            judge(Rule::XidAge, 101.0, &th, None),
            Some(Severity::Warning)
        );
        // active: dropping just under the threshold keeps it
        assert_eq!(
            judge(Rule::XidAge, 99.0, &th, Some(Severity::Warning)),
            Some(Severity::Warning)
        );
        // well under (more than 5 %) clears it
        assert_eq!(
            judge(Rule::XidAge, 94.0, &th, Some(Severity::Warning)),
            None
        );
        // critical holds just under critical, then falls back to warning
        assert_eq!(
            judge(Rule::XidAge, 201.0, &th, Some(Severity::Warning)),
            Some(Severity::Critical)
        );
        assert_eq!(
            judge(Rule::XidAge, 195.0, &th, Some(Severity::Critical)),
            Some(Severity::Critical)
        );
        assert_eq!(
            judge(Rule::XidAge, 150.0, &th, Some(Severity::Critical)),
            Some(Severity::Warning)
        );
    }

    #[test]
    fn judge_lower_is_worse_for_the_cache_hit_ratio() {
        let th = t(0.95, 0.90);
        assert_eq!(judge(Rule::CacheHitRatio, 0.99, &th, None), None);
        assert_eq!(
            judge(Rule::CacheHitRatio, 0.94, &th, None),
            Some(Severity::Warning)
        );
        assert_eq!(
            judge(Rule::CacheHitRatio, 0.80, &th, None),
            Some(Severity::Critical)
        );
        assert_eq!(
            judge(Rule::CacheHitRatio, 0.952, &th, Some(Severity::Warning)),
            Some(Severity::Warning)
        );
        assert_eq!(
            judge(Rule::CacheHitRatio, 0.96, &th, Some(Severity::Warning)),
            None
        );
    }

    fn server_with(samples: Vec<Sample>) -> ServerState {
        let now = SystemTime::UNIX_EPOCH;
        let mut s = ServerState::new("test:5432/db".into(), now);
        for sample in samples {
            let area: Area = sample.area();
            let st = s.areas.entry(area).or_default();
            st.sample = Some(sample);
            st.sample_at = Some(now);
        }
        s
    }

    fn session(pid: i32, state: &str, age: f64) -> Session {
        Session {
            pid,
            backend_type: "client backend".into(),
            state: Some(state.into()),
            query_age_s: Some(age),
            state_age_s: Some(age),
            usename: Some("app".into()),
            datname: Some("shop".into()),
            ..Default::default()
        }
    }

    #[test]
    fn activity_rules_fire_and_clear() {
        let thresholds = Thresholds::default();
        let now = SystemTime::UNIX_EPOCH;
        let mut blocked = session(3, "active", 45.0);
        blocked.wait_event_type = Some("Lock".into());
        blocked.blocked_by = vec![2];
        let activity = ActivitySample {
            usable_connections: 100,
            client_backends: 85,
            sessions: vec![
                session(1, "active", 400.0),
                session(2, "idle in transaction", 700.0),
                blocked,
                session(4, "active", 1.0),
            ],
            ..Default::default()
        };
        let mut server = server_with(vec![Sample::Activity(activity)]);
        let alerts = evaluate(&server, &thresholds, now);
        let find = |rule: Rule, subj: &str| {
            alerts
                .iter()
                .find(|a| a.rule == rule && a.subject == subj)
                .map(|a| a.severity)
        };
        assert_eq!(find(Rule::Connections, "server"), Some(Severity::Warning));
        assert_eq!(find(Rule::LongQuery, "pid 1"), Some(Severity::Warning));
        assert_eq!(
            find(Rule::IdleInTransaction, "pid 2"),
            Some(Severity::Critical)
        );
        assert_eq!(find(Rule::Blocked, "pid 3"), Some(Severity::Warning));
        assert_eq!(find(Rule::LongQuery, "pid 4"), None);
        let msg = &alerts
            .iter()
            .find(|a| a.rule == Rule::Blocked)
            .expect("blocked")
            .message;
        assert!(msg.contains("blocked by 2"), "{msg}");

        server.alerts.update(alerts, now);
        assert_eq!(server.alerts.counts(), (3, 1));
        // everything calms down: all clear, and they move to resolved
        let calm = ActivitySample {
            usable_connections: 100,
            client_backends: 5,
            sessions: vec![session(4, "active", 1.0)],
            ..Default::default()
        };
        let mut server2 = server_with(vec![Sample::Activity(calm)]);
        server2.alerts = server.alerts.clone();
        let later = now + std::time::Duration::from_secs(10);
        let alerts = evaluate(&server2, &thresholds, later);
        assert!(alerts.is_empty(), "{alerts:?}");
        server2.alerts.update(alerts, later);
        assert_eq!(server2.alerts.counts(), (0, 0));
        assert_eq!(server2.alerts.resolved.len(), 4);
    }

    #[test]
    fn cache_rule_needs_enough_traffic() {
        let thresholds = Thresholds::default();
        let mk = |hit: f64, read: f64| {
            Sample::Cache(CacheSample {
                databases: vec![DatabaseCache {
                    datname: "shop".into(),
                    blks_hit_per_s: Some(hit),
                    blks_read_per_s: Some(read),
                    interval_hit_ratio: Some(hit / (hit + read)),
                    ..Default::default()
                }],
                ..Default::default()
            })
        };
        let now = SystemTime::UNIX_EPOCH;
        // 50 % misses but only 10 blocks/s: noise, no alert
        assert!(evaluate(&server_with(vec![mk(5.0, 5.0)]), &thresholds, now).is_empty());
        let alerts = evaluate(&server_with(vec![mk(800.0, 200.0)]), &thresholds, now);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].severity, Severity::Critical);
        assert_eq!(alerts[0].subject, "database shop");
    }

    #[test]
    fn replication_and_wraparound_rules() {
        let thresholds = Thresholds::default();
        let repl = ReplicationSample {
            collected_at: 0.0,
            role: ServerRole::Primary,
            current_wal_lsn: None,
            standbys: vec![Standby {
                application_name: "replica1".into(),
                replay_lag_bytes: Some(20 * 1024 * 1024),
                replay_lag_s: None,
                lag_state: "streaming".into(),
                ..Default::default()
            }],
            slots: vec![Slot {
                slot_name: "old".into(),
                active: false,
                retained_wal_bytes: Some(64 * 1024 * 1024),
                wal_status: Some("extended".into()),
                ..Default::default()
            }],
            standby_status: None,
        };
        let vac = VacuumSample {
            databases: vec![DatabaseAge {
                datname: "shop".into(),
                xid_age: 1_500_000_000,
                mxid_age: 10,
                ..Default::default()
            }],
            dead_tuples: vec![
                TableDeadTuples {
                    schemaname: "public".into(),
                    relname: "big".into(),
                    n_dead_tup: 60_000,
                    n_live_tup: 40_000,
                    dead_tup_ratio: Some(0.6),
                    ..Default::default()
                },
                TableDeadTuples {
                    schemaname: "public".into(),
                    relname: "tiny".into(),
                    n_dead_tup: 50,
                    n_live_tup: 10,
                    dead_tup_ratio: Some(0.83),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let alerts = evaluate(
            &server_with(vec![Sample::Replication(repl), Sample::Vacuum(vac)]),
            &thresholds,
            SystemTime::UNIX_EPOCH,
        );
        let rules: Vec<(Rule, &str, Severity)> = alerts
            .iter()
            .map(|a| (a.rule, a.subject.as_str(), a.severity))
            .collect();
        assert!(rules.contains(&(
            Rule::ReplicationLagBytes,
            "standby replica1",
            Severity::Warning
        )));
        assert!(rules.contains(&(Rule::InactiveSlot, "slot old", Severity::Warning)));
        assert!(rules.contains(&(Rule::XidAge, "database shop", Severity::Critical)));
        assert!(rules.contains(&(Rule::DeadTuples, "table public.big", Severity::Critical)));
        // under the floor of dead tuples: no alert however high the ratio
        assert!(!rules.iter().any(|r| r.1 == "table public.tiny"));
        assert!(!rules.iter().any(|r| r.0 == Rule::ReplicationLagTime));
    }
}
