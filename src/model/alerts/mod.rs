//! Alert rules: a pure function of (server state, thresholds, now) to the alerts that hold.
//!
//! Each rule compares one value to its warning and critical thresholds (see
//! [`crate::sample::Rule`] for units and defaults). **Hysteresis**: an alert already active at
//! some severity stays at it until the value is back past the threshold by a margin (5 % of
//! the threshold, or 0.005 for ratios), so a value sitting on a threshold does not flap.
//! [`AlertBook`] keeps the active alerts with the time each became active, and the recently
//! resolved ones.
//!
//! [`crate::model::areas::evaluate`] asks each area for its rules' alerts (one module per
//! area in [`crate::model::areas`], one function per rule) through the `Evaluator` here.
//! An alert is about a typed [`Subject`]; its rule tells the area it belongs to.

mod subject;

pub use subject::Subject;

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::ServerState;
use crate::config::Thresholds;
use crate::sample::{Area, Rule, Unit};

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
    /// What the alert is about; JSON and `Display`: `server`, `database app`, `pid 1234`,
    /// `standby walreceiver`, `slot s1`, `table public.orders`.
    pub subject: Subject,
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
    pub active: BTreeMap<(Rule, Subject), ActiveAlert>,
    /// Resolved since this book began, newest first, at most [`RESOLVED_KEPT`].
    pub resolved: VecDeque<ResolvedAlert>,
    /// Resolved before this book began, newest first, all of them: a recording's alert
    /// history ([`AlertBook::recorded`]), shown after `resolved`.
    pub earlier: Vec<ResolvedAlert>,
}

impl AlertBook {
    /// Take a recording's history: `earlier` are the alerts that fired and resolved before
    /// this book's first update (any order); `since` gives, for an alert that was already
    /// active then (rule, subject text), the time it first fired, so an alert active
    /// across the book's start keeps its age.
    pub fn recorded(
        &mut self,
        mut earlier: Vec<ResolvedAlert>,
        since: impl Fn(Rule, &str) -> Option<SystemTime>,
    ) {
        earlier.sort_by_key(|a| std::cmp::Reverse(a.resolved_at));
        self.earlier = earlier;
        for ((rule, subject), a) in &mut self.active {
            if let Some(t) = since(*rule, &subject.to_string()) {
                a.since = a.since.min(t);
            }
        }
        for r in &mut self.resolved {
            if let Some(t) = since(r.alert.rule, &r.alert.subject.to_string()) {
                r.since = r.since.min(t);
            }
        }
    }

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

    /// The severity of a rule's alert on a subject, for colouring rows.
    pub fn severity_of(&self, rule: Rule, subject: &Subject) -> Option<Severity> {
        self.active
            .get(&(rule, subject.clone()))
            .map(|a| a.alert.severity)
    }

    /// The worst severity of the alerts of `area`'s rules on `subject` (a table row of the
    /// cache panel asks for cache alerts, not for the vacuum alerts of the same table).
    pub fn worst_in(&self, area: Area, subject: &Subject) -> Option<Severity> {
        self.active
            .values()
            .filter(|a| a.alert.rule.area() == area && a.alert.subject == *subject)
            .map(|a| a.alert.severity)
            .max()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.active.values().map(|a| a.alert.severity).max()
    }
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

/// The alerts found so far while evaluating one server.
pub(crate) struct Evaluator<'a> {
    pub(crate) server: &'a ServerState,
    pub(crate) thresholds: &'a Thresholds,
    pub(crate) now: SystemTime,
    pub(crate) out: Vec<Alert>,
}

impl Evaluator<'_> {
    /// Judge `value` under `rule` and keep the alert if one holds. `subject` is built only
    /// when the value is near or past a threshold: this runs for every session, table and
    /// database on every sample. `describe` gets the crossed threshold, formatted.
    pub(crate) fn check(
        &mut self,
        rule: Rule,
        subject: impl FnOnce() -> Subject,
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

    /// Keep an alert whose severity is decided by its rule, not by thresholds.
    pub(crate) fn push(&mut self, alert: Alert) {
        self.out.push(alert);
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
        Unit::Factor => format!("{v:.1}×"),
    }
}

#[cfg(test)]
mod tests;
