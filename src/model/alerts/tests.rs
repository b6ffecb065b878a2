//! The rules evaluated on hand-made samples, and the hysteresis.

use super::*;
use crate::config::Threshold;
use crate::model::areas::evaluate;
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
        query_age_s: Some(age).into(),
        state_age_s: Some(age).into(),
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
            .find(|a| a.rule == rule && a.subject.to_string() == subj)
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
    assert_eq!(alerts[0].subject.to_string(), "database shop");
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
            lag_state: LagState::Streaming,
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
    let subjects: Vec<String> = alerts.iter().map(|a| a.subject.to_string()).collect();
    let rules: Vec<(Rule, &str, Severity)> = alerts
        .iter()
        .zip(&subjects)
        .map(|(a, subject)| (a.rule, subject.as_str(), a.severity))
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

/// The time-left rules are lower-is-worse and need a rate: a slot running out within the
/// hour is critical, within six hours a warning; a database a few days from the wraparound
/// stop is a warning; nothing while estimating (no rate), however close the limit.
#[test]
fn time_left_rules_are_judged_lower_is_worse_and_only_with_a_rate() {
    let th = Thresholds::default();
    let slot = |name: &str, eta: Option<f64>, rate: Option<f64>| Slot {
        slot_name: name.into(),
        retained_wal_bytes: Some(1024),
        safe_wal_size_bytes: Some(1_000_000),
        safe_wal_size_per_s: rate,
        invalidation_eta_s: eta,
        active: true,
        ..Default::default()
    };
    let repl = ReplicationSample {
        collected_at: 0.0,
        role: ServerRole::Primary,
        current_wal_lsn: None,
        standbys: vec![],
        slots: vec![
            slot("soon", Some(1800.0), Some(555.0)),
            slot("today", Some(5.0 * 3600.0), Some(55.0)),
            slot("later", Some(7.0 * 3600.0), Some(40.0)),
            slot("estimating", None, None),
        ],
        standby_status: None,
    };
    let db = |name: &str, eta: Option<f64>, rate: Option<f64>| DatabaseAge {
        datname: name.into(),
        xid_age: 2_000_000_000,
        xid_per_s: rate,
        xid_wraparound_eta_s: eta,
        ..Default::default()
    };
    let vac = VacuumSample {
        databases: vec![
            db("days", Some(50.0 * 3600.0), Some(800.0)),
            db("hours", Some(3.0 * 3600.0), Some(13_000.0)),
            db("weeks", Some(21.0 * 86_400.0), Some(80.0)),
            db("estimating", None, None),
        ],
        ..Default::default()
    };
    let alerts = evaluate(
        &server_with(vec![Sample::Replication(repl), Sample::Vacuum(vac)]),
        &th,
        SystemTime::UNIX_EPOCH,
    );
    let of = |rule: Rule, subject: &str| {
        alerts
            .iter()
            .find(|a| a.rule == rule && a.subject.to_string() == subject)
            .map(|a| a.severity)
    };
    let slot_rule = Rule::SlotInvalidationEta;
    assert_eq!(of(slot_rule, "slot soon"), Some(Severity::Critical));
    assert_eq!(of(slot_rule, "slot today"), Some(Severity::Warning));
    assert_eq!(of(slot_rule, "slot later"), None);
    assert_eq!(of(slot_rule, "slot estimating"), None);
    let xid_rule = Rule::XidWraparoundEta;
    assert_eq!(of(xid_rule, "database days"), Some(Severity::Warning));
    assert_eq!(of(xid_rule, "database hours"), Some(Severity::Critical));
    assert_eq!(of(xid_rule, "database weeks"), None);
    assert_eq!(of(xid_rule, "database estimating"), None);
    // hysteresis works downwards too: a warning at 6 h holds until 5 % above it
    let t = th.get(slot_rule);
    assert_eq!(
        judge(slot_rule, 6.1 * 3600.0, &t, Some(Severity::Warning)),
        Some(Severity::Warning)
    );
    assert_eq!(
        judge(slot_rule, 6.4 * 3600.0, &t, Some(Severity::Warning)),
        None
    );
}

/// `statement_regression`: the interval's mean per call against the mean of all calls before
/// it, with its floors (calls in the interval, calls in the baseline, an interval mean of
/// 1 ms); a re-created entry (fewer calls than before) has no baseline.
#[test]
fn a_statement_slower_than_its_baseline_is_a_regression_and_a_reset_is_not() {
    use crate::model::areas::derive;
    let stmt = |calls: i64, total_ms: f64| Statement {
        userid: 10,
        dbid: 5,
        queryid: 77,
        toplevel: true,
        calls,
        total_exec_time_ms: total_ms,
        query: Some("SELECT v FROM t WHERE id = $1".into()),
        ..Default::default()
    };
    let sample = |at: f64, s: Statement| StatementsSample {
        collected_at: at,
        statements: vec![s],
        ..Default::default()
    };
    // (previous, current) -> the alert's severity
    let judge_pair = |prev: Statement, cur: Statement| {
        let p = Sample::Statements(sample(100.0, prev));
        let mut c = Sample::Statements(sample(110.0, cur));
        derive(&mut c, Some(&p));
        let server = server_with(vec![c]);
        evaluate(&server, &Thresholds::default(), SystemTime::UNIX_EPOCH)
            .into_iter()
            .find(|a| a.rule == Rule::StatementRegression)
    };
    // 1,000 calls at 0.1 ms, then 50 at 20 ms: 200×, critical
    let a = judge_pair(stmt(1000, 100.0), stmt(1050, 1100.0)).expect("fires");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.subject, Subject::Statement(77));
    assert!((a.value - 200.0).abs() < 1e-9, "{}", a.value);
    assert!(a.message.contains("100µs → 20ms per call"), "{}", a.message);
    assert!(
        a.message.contains("SELECT v FROM t WHERE id = $1"),
        "{}",
        a.message
    );
    // 4× a 1 ms baseline: a warning
    let a = judge_pair(stmt(1000, 1000.0), stmt(1100, 1400.0)).expect("fires");
    assert_eq!(a.severity, Severity::Warning);
    // the same speed: nothing
    assert!(judge_pair(stmt(1000, 1000.0), stmt(1100, 1100.0)).is_none());
    // a baseline of 50 calls is no baseline
    assert!(judge_pair(stmt(50, 5.0), stmt(100, 1005.0)).is_none());
    // 5 calls in the interval are too few (min = 10)
    assert!(judge_pair(stmt(1000, 100.0), stmt(1005, 200.0)).is_none());
    // under the 1 ms floor: 0.02 -> 0.5 ms is not judged
    assert!(judge_pair(stmt(1000, 20.0), stmt(1100, 70.0)).is_none());
    // reset or evicted: fewer calls than before, no baseline, nothing fires
    assert!(judge_pair(stmt(1000, 100.0), stmt(60, 1200.0)).is_none());
}
