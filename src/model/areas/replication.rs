//! Replication rules: each standby's lag seen from its walsender, this server's own lag and
//! link when it is a standby, and the WAL each slot retains.

use crate::model::alerts::{Alert, Evaluator, Severity, Subject};
use crate::model::{format_bytes, format_duration_s};
use crate::sample::{ReplayState, Rule, Slot, Standby, StandbyStatus};

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(r) = ev.server.replication() else {
        return;
    };
    for s in &r.standbys {
        let name = s.display_name();
        standby_lag_bytes(ev, s, &name);
        standby_lag_time(ev, s, &name);
    }
    if let Some(st) = &r.standby_status {
        own_lag_bytes(ev, st);
        own_lag_time(ev, st);
        own_link(ev, st);
    }
    let inactive_min = ev.thresholds.get(Rule::InactiveSlot).min;
    for slot in &r.slots {
        let Some(bytes) = slot.retained_wal_bytes else {
            continue;
        };
        slot_retained_wal(ev, slot, bytes);
        inactive_slot(ev, slot, bytes, inactive_min);
    }
}

/// [`Rule::ReplicationLagBytes`] of a standby (`name`: its display name), from its walsender.
fn standby_lag_bytes(ev: &mut Evaluator<'_>, s: &Standby, name: &str) {
    let Some(bytes) = s.replay_lag_bytes else {
        return;
    };
    ev.check(
        Rule::ReplicationLagBytes,
        || Subject::Standby(name.to_string()),
        bytes as f64,
        |th| {
            format!(
                "standby {name} replay is {} behind (> {th})",
                format_bytes(bytes as f64)
            )
        },
    );
}

/// [`Rule::ReplicationLagTime`] of a standby, from its walsender.
fn standby_lag_time(ev: &mut Evaluator<'_>, s: &Standby, name: &str) {
    let Some(secs) = s.replay_lag_s else {
        return;
    };
    ev.check(
        Rule::ReplicationLagTime,
        || Subject::Standby(name.to_string()),
        secs,
        |th| {
            format!(
                "standby {name} replay lag {} (> {th})",
                format_duration_s(secs)
            )
        },
    );
}

/// [`Rule::ReplicationLagBytes`] of this standby: received but not replayed.
fn own_lag_bytes(ev: &mut Evaluator<'_>, st: &StandbyStatus) {
    let Some(bytes) = st.replay_lag_bytes else {
        return;
    };
    let state = st.lag_state.as_str();
    ev.check(
        Rule::ReplicationLagBytes,
        || Subject::Server,
        bytes as f64,
        |th| {
            format!(
                "this standby has {} received but not replayed (> {th}, replay {state})",
                format_bytes(bytes as f64)
            )
        },
    );
}

/// [`Rule::ReplicationLagTime`] of this standby.
fn own_lag_time(ev: &mut Evaluator<'_>, st: &StandbyStatus) {
    let Some(secs) = st.replay_lag_s else {
        return;
    };
    ev.check(
        Rule::ReplicationLagTime,
        || Subject::Server,
        secs,
        |th| {
            format!(
                "this standby replays {} behind the primary (> {th})",
                format_duration_s(secs)
            )
        },
    );
}

/// [`Rule::ReplicationLagTime`], critical, when this standby has no streaming WAL receiver:
/// a broken link must not read as zero lag.
fn own_link(ev: &mut Evaluator<'_>, st: &StandbyStatus) {
    if st.lag_state != ReplayState::Disconnected {
        return;
    }
    ev.push(Alert {
        rule: Rule::ReplicationLagTime,
        severity: Severity::Critical,
        subject: Subject::Server,
        value: st.last_replay_age_s.unwrap_or(0.0),
        threshold: 0.0,
        message: "this standby has no streaming WAL receiver: it is not receiving from the primary"
            .into(),
    });
}

/// [`Rule::SlotRetainedWal`]: the `bytes` of WAL a slot retains.
fn slot_retained_wal(ev: &mut Evaluator<'_>, slot: &Slot, bytes: i64) {
    let name = &slot.slot_name;
    let active = if slot.active { "active" } else { "inactive" };
    ev.check(
        Rule::SlotRetainedWal,
        || Subject::Slot(name.clone()),
        bytes as f64,
        |th| {
            format!(
                "{active} slot {name} retains {} of WAL (> {th})",
                format_bytes(bytes as f64)
            )
        },
    );
}

/// [`Rule::InactiveSlot`]: an inactive, non-temporary slot retaining at least `min` bytes;
/// critical when its WAL is `unreserved` or `lost`.
fn inactive_slot(ev: &mut Evaluator<'_>, slot: &Slot, bytes: i64, min: f64) {
    let big_enough = bytes as f64 >= min;
    if slot.active || slot.temporary || !big_enough {
        return;
    }
    let lost = match slot.wal_status.as_deref() {
        Some(s @ ("unreserved" | "lost")) => Some(s),
        _ => None,
    };
    ev.push(Alert {
        rule: Rule::InactiveSlot,
        severity: if lost.is_some() {
            Severity::Critical
        } else {
            Severity::Warning
        },
        subject: Subject::Slot(slot.slot_name.clone()),
        value: bytes as f64,
        threshold: min,
        message: format!(
            "slot {} is inactive and retains {} of WAL{}",
            slot.slot_name,
            format_bytes(bytes as f64),
            lost.map(|s| format!(" (wal_status {s})"))
                .unwrap_or_default()
        ),
    });
}
