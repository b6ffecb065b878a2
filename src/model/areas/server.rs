//! Server rules: the server cannot be reached.

use crate::model::alerts::{Alert, Evaluator, Severity, Subject};
use crate::model::rates::elapsed;
use crate::model::rates::rate;
use crate::model::{Link, format_duration_s};
use crate::sample::{Rule, ServerSample};

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    unreachable(ev);
}

/// [`Rule::ServerUnreachable`]: always critical, the value is the seconds since the link
/// went down.
fn unreachable(ev: &mut Evaluator<'_>) {
    let server = ev.server;
    let Link::Down { since, error, .. } = &server.link else {
        return;
    };
    let secs = ev
        .now
        .duration_since(*since)
        .unwrap_or_default()
        .as_secs_f64();
    ev.push(Alert {
        rule: Rule::ServerUnreachable,
        severity: Severity::Critical,
        subject: Subject::Server,
        value: secs,
        threshold: 0.0,
        message: format!(
            "{} unreachable for {}: {}",
            server.label,
            format_duration_s(secs),
            error.message
        ),
    });
}

/// Rates of the server counters (transactions per second) over the interval.
pub(super) fn derive(c: &mut ServerSample, p: &ServerSample) {
    let Some(dt) = elapsed(c.collected_at, p.collected_at) else {
        return;
    };
    // A restart resets every counter: only trust both when neither went backwards.
    let (Some(commit), Some(rollback)) = (
        rate(c.xact_commit, p.xact_commit, dt),
        rate(c.xact_rollback, p.xact_rollback, dt),
    ) else {
        return;
    };
    if c.uptime_s + 1.0 < p.uptime_s {
        return;
    }
    c.xact_commit_per_s = Some(commit);
    c.xact_rollback_per_s = Some(rollback);
    c.xact_per_s = Some(commit + rollback);
}
