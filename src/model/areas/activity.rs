//! Activity rules: connections in use, and per client backend long queries, sessions idle in
//! transaction and lock waits.

use crate::model::alerts::{Evaluator, Subject};
use crate::model::format_duration_s;
use crate::sample::{ActivitySample, Rule, Sample, Session};
use serde_json::{Value, json};

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(a) = ev.server.activity() else {
        return;
    };
    connections(ev, a);
    for s in &a.sessions {
        if s.backend_type != "client backend" {
            continue;
        }
        match s.state.as_deref() {
            Some("active") => {
                blocked(ev, s);
                long_query(ev, s);
            }
            Some("idle in transaction") | Some("idle in transaction (aborted)") => {
                idle_in_transaction(ev, s);
            }
            _ => {}
        }
    }
}

/// [`Rule::Connections`]: client backends as % of the usable connections.
fn connections(ev: &mut Evaluator<'_>, a: &ActivitySample) {
    if a.usable_connections <= 0 {
        return;
    }
    let pct = f64::from(a.client_backends) * 100.0 / f64::from(a.usable_connections);
    let (used, usable) = (a.client_backends, a.usable_connections);
    ev.check(
        Rule::Connections,
        || Subject::Server,
        pct,
        |th| format!("{used} of {usable} usable connections in use ({pct:.0}% > {th})"),
    );
}

/// [`Rule::Blocked`]: an active session waiting on a heavyweight lock, for as long as its
/// query has run.
fn blocked(ev: &mut Evaluator<'_>, s: &Session) {
    if s.wait_event_type.as_deref() != Some("Lock") {
        return;
    }
    let Some(age) = s.query_age_s.get() else {
        return;
    };
    let pid = s.pid;
    ev.check(
        Rule::Blocked,
        || Subject::Backend(pid),
        age,
        |th| {
            let blockers = if s.blocked_by.is_empty() {
                "?".into()
            } else {
                s.blocked_by
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!(
                "pid {pid} ({}) waiting on a lock for {} (> {th}), blocked by {blockers}",
                who(s),
                format_duration_s(age),
            )
        },
    );
}

/// [`Rule::LongQuery`]: an active session's query age.
fn long_query(ev: &mut Evaluator<'_>, s: &Session) {
    let Some(age) = s.query_age_s.get() else {
        return;
    };
    let pid = s.pid;
    ev.check(
        Rule::LongQuery,
        || Subject::Backend(pid),
        age,
        |th| {
            format!(
                "pid {pid} ({}) query running for {} (> {th})",
                who(s),
                format_duration_s(age)
            )
        },
    );
}

/// [`Rule::IdleInTransaction`]: how long the session has been in its idle state.
fn idle_in_transaction(ev: &mut Evaluator<'_>, s: &Session) {
    let Some(age) = s.state_age_s.get() else {
        return;
    };
    let pid = s.pid;
    ev.check(
        Rule::IdleInTransaction,
        || Subject::Backend(pid),
        age,
        |th| {
            format!(
                "pid {pid} ({}) idle in transaction for {} (> {th})",
                who(s),
                format_duration_s(age)
            )
        },
    );
}

/// `user@database` of a session, for messages (formatted only when an alert holds).
fn who(s: &Session) -> String {
    format!(
        "{}@{}",
        s.usename.as_deref().unwrap_or("?"),
        s.datname.as_deref().unwrap_or("?")
    )
}

/// The most sessions the JSON lists.
pub const JSON_SESSIONS: usize = 500;

/// The JSON of an activity sample: every session that is not `idle` (active, idle in
/// transaction, waiting, background processes) and every session another listed one waits
/// for (an idle session can hold an advisory lock), oldest transaction first, at most
/// [`JSON_SESSIONS`]; `sessions_total` counts all. Idle sessions are counted in `states`.
pub(super) fn json(a: &ActivitySample) -> Value {
    let blockers: std::collections::HashSet<i32> = a
        .sessions
        .iter()
        .flat_map(|s| s.blocked_by.iter().copied())
        .collect();
    let mut listed: Vec<&Session> = a
        .sessions
        .iter()
        .filter(|s| s.state.as_deref() != Some("idle") || blockers.contains(&s.pid))
        .collect();
    let age = |s: &Session| s.xact_age_s.get().or(s.query_age_s.get()).unwrap_or(-1.0);
    listed.sort_by(|x, y| age(y).total_cmp(&age(x)).then(x.pid.cmp(&y.pid)));
    listed.truncate(JSON_SESSIONS);
    let sessions: Vec<Value> = listed
        .into_iter()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect();
    let mut v = serde_json::to_value(Sample::Activity(ActivitySample {
        collected_at: a.collected_at,
        max_connections: a.max_connections,
        usable_connections: a.usable_connections,
        client_backends: a.client_backends,
        states: a.states.clone(),
        waiting_on_lock: a.waiting_on_lock,
        sessions: Vec::new(),
    }))
    .unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("sessions".into(), Value::Array(sessions));
        m.insert("sessions_total".into(), json!(a.sessions.len()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pid: i32, state: &str, xact_age_s: Option<f64>, blocked_by: Vec<i32>) -> Session {
        Session {
            pid,
            state: Some(state.into()),
            xact_age_s: xact_age_s.into(),
            blocked_by,
            ..Default::default()
        }
    }

    #[test]
    fn json_lists_what_is_not_idle_and_the_idle_blockers_oldest_first() {
        let mut sessions: Vec<Session> = (1..=1000)
            .map(|pid| session(pid, "idle", None, vec![]))
            .collect();
        sessions.push(session(2001, "active", Some(5.0), vec![]));
        sessions.push(session(2002, "idle in transaction", Some(60.0), vec![]));
        // waits for pid 7, an idle session holding an advisory lock
        sessions.push(session(2003, "active", Some(1.0), vec![7]));
        let a = ActivitySample {
            sessions,
            ..Default::default()
        };
        let v = json(&a);
        let pids: Vec<i64> = v["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|s| s["pid"].as_i64().expect("pid"))
            .collect();
        assert_eq!(pids, [2002, 2001, 2003, 7]);
        assert_eq!(v["sessions_total"], 1003);

        let busy = ActivitySample {
            sessions: (1..=2000)
                .map(|pid| session(pid, "active", Some(f64::from(pid)), vec![]))
                .collect(),
            ..Default::default()
        };
        let v = json(&busy);
        let listed = v["sessions"].as_array().expect("sessions");
        assert_eq!(listed.len(), JSON_SESSIONS);
        assert_eq!(listed[0]["pid"], 2000, "oldest transaction first");
    }
}
