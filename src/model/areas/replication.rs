//! The derived fields of the replication area, and its rules.
//!
//! * Forecasts: per slot (by `slot_name`), the rate at which `retained_wal_bytes` grows and
//!   `safe_wal_size_bytes` shrinks, over a window of up to 15 minutes of samples
//!   ([`crate::model::rates::carry_marks`]: readings at least 30 s apart, `None` until the
//!   window spans a minute, restarted when the retained WAL drops or the safe size grows:
//!   the consumer advanced `restart_lsn`), and the seconds until `safe_wal_size` reaches 0
//!   (the slot is then in danger of invalidation, `wal_status` `lost`).
//! * Rules: each standby's lag seen from its walsender, this server's own lag and link when
//!   it is a standby, the WAL each slot retains, inactive slots, and
//!   [`Rule::SlotInvalidationEta`] (the time left until a slot's `safe_wal_size` runs out,
//!   lower is worse, only with a rate).

use crate::model::alerts::{Alert, Evaluator, Severity, Subject};
use crate::model::rates::{Direction, carry_marks, eta_s, window_rate};
use crate::model::{format_bytes, format_duration_s};
use crate::sample::{ReplayState, ReplicationSample, Rule, Slot, Standby, StandbyStatus};

/// Fill the forecasts of every slot of `c` from the same slot of the previous sample `p`
/// (`None`: the first sample, or a fresh baseline after a reconnect).
pub(super) fn derive(c: &mut ReplicationSample, p: Option<&ReplicationSample>) {
    let at = c.collected_at;
    for slot in &mut c.slots {
        let before = p.and_then(|p| {
            p.slots
                .iter()
                .find(|b| b.slot_name == slot.slot_name)
                .map(|b| (p.collected_at, b))
        });
        let (retained, retained_marks) = gauge(
            slot.retained_wal_bytes,
            before.map(|(t, b)| (t, b.retained_wal_bytes, b.retained_wal_marks.as_slice())),
            at,
            Direction::Grows,
        );
        slot.retained_wal_per_s = retained;
        slot.retained_wal_marks = retained_marks;
        let (shrink, safe_marks) = gauge(
            slot.safe_wal_size_bytes,
            before.map(|(t, b)| (t, b.safe_wal_size_bytes, b.safe_wal_size_marks.as_slice())),
            at,
            Direction::Shrinks,
        );
        slot.safe_wal_size_per_s = shrink;
        slot.safe_wal_size_marks = safe_marks;
        slot.invalidation_eta_s = slot
            .safe_wal_size_bytes
            .and_then(|safe| eta_s(safe, shrink));
    }
}

/// The rate and marks of one optional gauge at `at`, given (previous `collected_at`,
/// previous value, previous marks); no value: no marks, no rate.
fn gauge(
    value: Option<i64>,
    before: Option<(f64, Option<i64>, &[crate::sample::GaugeMark])>,
    at: f64,
    dir: Direction,
) -> (Option<f64>, Vec<crate::sample::GaugeMark>) {
    let Some(value) = value else {
        return (None, Vec::new());
    };
    let (prev_marks, prev) = match before {
        Some((t, Some(v), marks)) => (marks, Some((t, v))),
        _ => (&[][..], None),
    };
    let marks = carry_marks(prev_marks, prev, at, value, dir);
    (window_rate(&marks, at, value, dir), marks)
}

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
    for slot in &r.slots {
        slot_invalidation_eta(ev, slot);
    }
}

/// [`Rule::SlotInvalidationEta`]: the seconds until the slot's `safe_wal_size` runs out at
/// the rate it shrinks; nothing without max_slot_wal_keep_size, while estimating, or when it
/// does not shrink.
fn slot_invalidation_eta(ev: &mut Evaluator<'_>, slot: &Slot) {
    let (Some(eta), Some(rate), Some(safe)) = (
        slot.invalidation_eta_s,
        slot.safe_wal_size_per_s,
        slot.safe_wal_size_bytes,
    ) else {
        return;
    };
    let name = &slot.slot_name;
    ev.check(
        Rule::SlotInvalidationEta,
        || Subject::Slot(name.clone()),
        eta,
        |th| {
            format!(
                "slot {name}: its safe_wal_size {} shrinks by {}/s and runs out in {} (< {th}): then max_slot_wal_keep_size lets the WAL go and the slot is lost",
                format_bytes(safe as f64),
                format_bytes(rate),
                format_duration_s(eta)
            )
        },
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::areas::derive as derive_any;
    use crate::sample::{Sample, ServerRole};

    const MB: i64 = 1024 * 1024;

    fn slot(name: &str, retained: i64, safe: Option<i64>) -> Slot {
        Slot {
            slot_name: name.into(),
            slot_type: "physical".into(),
            retained_wal_bytes: Some(retained),
            safe_wal_size_bytes: safe,
            ..Slot::default()
        }
    }

    fn repl(at: f64, slots: Vec<Slot>) -> ReplicationSample {
        ReplicationSample {
            collected_at: at,
            role: ServerRole::Primary,
            current_wal_lsn: None,
            standbys: vec![],
            slots,
            standby_status: None,
        }
    }

    fn chain(samples: Vec<ReplicationSample>) -> Vec<ReplicationSample> {
        let mut out: Vec<Sample> = Vec::new();
        for s in samples {
            let mut s = Sample::Replication(s);
            derive_any(&mut s, out.last());
            out.push(s);
        }
        out.into_iter()
            .filter_map(|s| match s {
                Sample::Replication(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn slot_growth_shrink_and_the_time_to_invalidation_by_slot_name() {
        // every 2 s for 70 s: "stuck" retains 1 MB/s more, its safe size (1 GB of
        // max_slot_wal_keep_size) shrinks by as much; "nolimit" has no safe size; "busy"
        // is consumed every 10 s (its retained WAL drops); the order of the slots changes
        let d = chain(
            (0..=35)
                .map(|i| {
                    let n = i64::from(i);
                    let mut slots = vec![
                        slot("stuck", 16 * MB + n * 2 * MB, Some(1024 * MB - n * 2 * MB)),
                        slot("nolimit", 16 * MB + n * MB, None),
                        slot("busy", (n % 5) * MB, None),
                    ];
                    if i % 2 == 1 {
                        slots.reverse();
                    }
                    repl(100.0 + 2.0 * f64::from(i), slots)
                })
                .collect(),
        );
        let of = |r: &ReplicationSample, name: &str| {
            r.slots
                .iter()
                .find(|s| s.slot_name == name)
                .cloned()
                .unwrap_or_default()
        };
        let early = of(&d[29], "stuck");
        assert_eq!(early.retained_wal_per_s, None, "58 s: estimating");
        assert_eq!(early.invalidation_eta_s, None);
        let last = &d[35];
        let stuck = of(last, "stuck");
        assert_eq!(stuck.retained_wal_per_s, Some(MB as f64));
        assert_eq!(stuck.safe_wal_size_per_s, Some(MB as f64));
        let safe = 1024 * MB - 70 * MB;
        assert_eq!(stuck.invalidation_eta_s, Some(safe as f64 / MB as f64));
        let nolimit = of(last, "nolimit");
        assert_eq!(nolimit.retained_wal_per_s, Some(MB as f64 / 2.0));
        assert_eq!(
            nolimit.safe_wal_size_per_s, None,
            "no max_slot_wal_keep_size"
        );
        assert_eq!(nolimit.invalidation_eta_s, None);
        assert_eq!(
            of(last, "busy").retained_wal_per_s,
            None,
            "drops: no window"
        );
        // the consumer catches up: retained drops, safe size grows: both restart
        let caught = chain(vec![
            last.clone(),
            repl(172.0, vec![slot("stuck", 16 * MB, Some(1000 * MB))]),
        ]);
        let stuck = of(&caught[1], "stuck");
        assert_eq!(stuck.retained_wal_per_s, None);
        assert_eq!(stuck.invalidation_eta_s, None);
        assert_eq!(stuck.safe_wal_size_marks.len(), 1);
    }

    #[test]
    fn a_safe_size_that_does_not_shrink_gives_no_eta_and_one_at_zero_is_due() {
        let d = chain(
            (0..=4)
                .map(|i| repl(30.0 * f64::from(i), vec![slot("s", 16 * MB, Some(MB))]))
                .collect(),
        );
        let s = &d[4].slots[0];
        assert_eq!(s.safe_wal_size_per_s, Some(0.0));
        assert_eq!(
            s.invalidation_eta_s, None,
            "no shrink: no ETA, not infinity"
        );
        let d = chain(vec![
            repl(0.0, vec![slot("s", 16 * MB, Some(10 * MB))]),
            repl(100.0, vec![slot("s", 26 * MB, Some(0))]),
        ]);
        assert_eq!(d[1].slots[0].invalidation_eta_s, Some(0.0));
    }
}
