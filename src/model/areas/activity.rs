//! Activity rules: connections in use, and per client backend long queries, sessions idle in
//! transaction and lock waits.

use crate::model::alerts::{Evaluator, Subject};
use crate::model::format_duration_s;
use crate::sample::{ActivitySample, Rule, Session};

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
    let Some(age) = s.query_age_s else {
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
    let Some(age) = s.query_age_s else {
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
    let Some(age) = s.state_age_s else {
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
