//! Server rules: the server cannot be reached.

use super::{Alert, Evaluator, Severity, Subject};
use crate::model::{Link, format_duration_s};
use crate::sample::Rule;

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
