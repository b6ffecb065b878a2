//! The derived fields of the vacuum area, and its rules.
//!
//! * Forecasts: per database, the rate at which `xid_age` and `mxid_age` grow (transactions
//!   and multixacts consumed per second), over a window of up to 15 minutes of samples
//!   ([`crate::model::rates::carry_marks`]: readings at least 30 s apart, `None` until the
//!   window spans [`MIN_WINDOW_S`], restarted when the age drops because `datfrozenxid` or
//!   `datminmxid` advanced), and the seconds until each age reaches the freeze max age
//!   (autovacuum forces a vacuum) and the wraparound stop ([`xid_stop_age`],
//!   [`mxid_stop_age`]: PostgreSQL refuses to assign new IDs).
//! * Rules: [`Rule::XidAge`] and [`Rule::MxidAge`] (the ages), [`Rule::XidWraparoundEta`]
//!   (the time left to the xid wraparound stop, lower is worse, only with a rate), and
//!   [`Rule::DeadTuples`] (the dead tuple ratio of each table).

use crate::model::alerts::{Evaluator, Subject};
use crate::model::rates::{Direction, carry_marks, eta_s, window_rate};
use crate::model::{format_count, format_duration_s};
use crate::sample::{DatabaseAge, Rule, TableDeadTuples, VacuumSample};

pub use crate::model::rates::MIN_WINDOW_S;

/// `MaxTransactionId >> 1` = `MaxMultiXactId >> 1`: the ages at which transaction and
/// multixact IDs wrap around (PostgreSQL's `xidWrapLimit` and `multiWrapLimit` are the oldest
/// `datfrozenxid` / `datminmxid` plus this).
pub const WRAP_AGE: i64 = 2_147_483_647;

/// The age of `datfrozenxid` at which PostgreSQL stops assigning transaction IDs (`ERROR:
/// database is not accepting commands that assign new transaction IDs to avoid wraparound
/// data loss`), given `server_version_num`: `xidStopLimit = xidWrapLimit - 3000000` in
/// `SetTransactionIdLimit()` (src/backend/access/transam/varsup.c) since PostgreSQL 14
/// (commit cd5e8225, "Change XID and mxact limits to warn at 40M and stop at 3M"), so
/// 2^31 - 1 - 3,000,000 = 2,144,483,647 on 14–18; `xidWrapLimit - 1000000` before, so
/// 2,146,483,647 on 12 and 13. An unknown version (0) gets the earlier stop of 14+.
pub fn xid_stop_age(server_version_num: i32) -> i64 {
    if (1..140_000).contains(&server_version_num) {
        WRAP_AGE - 1_000_000
    } else {
        WRAP_AGE - 3_000_000
    }
}

/// The age of `datminmxid` at which PostgreSQL stops assigning multixact IDs, given
/// `server_version_num`: `multiStopLimit = multiWrapLimit - 3000000` in
/// `SetMultiXactIdLimit()` (src/backend/access/transam/multixact.c) since PostgreSQL 14 (the
/// same commit), so 2,144,483,647 on 14–18; `multiWrapLimit - 100` before, so 2,147,483,547
/// on 12 and 13. An unknown version (0) gets the earlier stop of 14+.
pub fn mxid_stop_age(server_version_num: i32) -> i64 {
    if (1..140_000).contains(&server_version_num) {
        WRAP_AGE - 100
    } else {
        WRAP_AGE - 3_000_000
    }
}

/// Fill the forecasts of `c` from the previous sample `p` (`None`: the first sample, or a
/// fresh baseline after a reconnect: every window starts at `c`).
pub(super) fn derive(c: &mut VacuumSample, p: Option<&VacuumSample>) {
    let at = c.collected_at;
    let (xid_stop, mxid_stop) = (
        xid_stop_age(c.server_version_num),
        mxid_stop_age(c.server_version_num),
    );
    let (freeze_max, mfreeze_max) = (
        c.autovacuum_freeze_max_age,
        c.autovacuum_multixact_freeze_max_age,
    );
    for d in &mut c.databases {
        let before = p.and_then(|p| {
            p.databases
                .iter()
                .find(|b| b.datname == d.datname)
                .map(|b| (p.collected_at, b))
        });
        let grows = Direction::Grows;
        d.xid_marks = carry_marks(
            before.map_or(&[][..], |(_, b)| b.xid_marks.as_slice()),
            before.map(|(t, b)| (t, b.xid_age)),
            at,
            d.xid_age,
            grows,
        );
        d.mxid_marks = carry_marks(
            before.map_or(&[][..], |(_, b)| b.mxid_marks.as_slice()),
            before.map(|(t, b)| (t, b.mxid_age)),
            at,
            d.mxid_age,
            grows,
        );
        d.xid_per_s = window_rate(&d.xid_marks, at, d.xid_age, grows);
        d.mxid_per_s = window_rate(&d.mxid_marks, at, d.mxid_age, grows);
        d.xid_freeze_max_age_eta_s = eta_s(freeze_max - d.xid_age, d.xid_per_s);
        d.xid_wraparound_eta_s = eta_s(xid_stop - d.xid_age, d.xid_per_s);
        d.mxid_freeze_max_age_eta_s = eta_s(mfreeze_max - d.mxid_age, d.mxid_per_s);
        d.mxid_wraparound_eta_s = eta_s(mxid_stop - d.mxid_age, d.mxid_per_s);
    }
}

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(v) = ev.server.vacuum() else {
        return;
    };
    for d in &v.databases {
        xid_age(ev, d);
        mxid_age(ev, d);
        xid_wraparound_eta(ev, d);
    }
    let floor = ev.thresholds.get(Rule::DeadTuples).min;
    for t in &v.dead_tuples {
        dead_tuples(ev, t, floor);
    }
}

/// [`Rule::XidAge`]: `age(datfrozenxid)`.
fn xid_age(ev: &mut Evaluator<'_>, d: &DatabaseAge) {
    let (name, age, pct) = (&d.datname, d.xid_age, d.xid_wraparound_pct);
    ev.check(
        Rule::XidAge,
        || Subject::Database(name.clone()),
        age as f64,
        |th| {
            format!(
                "database {name}: xid age {} ({pct:.1}% of the way to wraparound, > {th})",
                format_count(age as f64)
            )
        },
    );
}

/// [`Rule::MxidAge`]: `mxid_age(datminmxid)`.
fn mxid_age(ev: &mut Evaluator<'_>, d: &DatabaseAge) {
    let (name, age, pct) = (&d.datname, d.mxid_age, d.mxid_wraparound_pct);
    ev.check(
        Rule::MxidAge,
        || Subject::Database(name.clone()),
        age as f64,
        |th| {
            format!(
                "database {name}: multixact age {} ({pct:.1}% of the way to wraparound, > {th})",
                format_count(age as f64)
            )
        },
    );
}

/// [`Rule::XidWraparoundEta`]: the seconds left until the wraparound stop at the measured
/// rate; nothing while estimating (no rate) or when no xid is consumed.
fn xid_wraparound_eta(ev: &mut Evaluator<'_>, d: &DatabaseAge) {
    let (Some(eta), Some(rate)) = (d.xid_wraparound_eta_s, d.xid_per_s) else {
        return;
    };
    let (name, age) = (&d.datname, d.xid_age);
    ev.check(
        Rule::XidWraparoundEta,
        || Subject::Database(name.clone()),
        eta,
        |th| {
            format!(
                "database {name}: at {} xid/s its xid age {} reaches the wraparound stop in {} (< {th}): PostgreSQL then refuses to assign transaction IDs; VACUUM (FREEZE) the oldest tables",
                format_count(rate),
                format_count(age as f64),
                format_duration_s(eta)
            )
        },
    );
}

/// [`Rule::DeadTuples`]: the dead tuple ratio of a table with at least `floor` dead tuples.
fn dead_tuples(ev: &mut Evaluator<'_>, t: &TableDeadTuples, floor: f64) {
    let Some(ratio) = t.dead_tup_ratio else {
        return;
    };
    if (t.n_dead_tup as f64) < floor {
        return;
    }
    let (schema, rel, dead) = (&t.schemaname, &t.relname, t.n_dead_tup);
    ev.check(
        Rule::DeadTuples,
        || Subject::table(schema, rel),
        ratio,
        |th| {
            format!(
                "table {schema}.{rel}: {} dead tuples, {:.0}% of the table (> {th})",
                format_count(dead as f64),
                ratio * 100.0
            )
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::areas::derive as derive_any;
    use crate::sample::Sample;

    fn vac(at: f64, version: i32, dbs: &[(&str, i64, i64)]) -> VacuumSample {
        VacuumSample {
            collected_at: at,
            autovacuum_freeze_max_age: 200_000_000,
            autovacuum_multixact_freeze_max_age: 400_000_000,
            server_version_num: version,
            databases: dbs
                .iter()
                .map(|(name, xid, mxid)| DatabaseAge {
                    datname: (*name).into(),
                    xid_age: *xid,
                    mxid_age: *mxid,
                    ..DatabaseAge::default()
                })
                .collect(),
            ..VacuumSample::default()
        }
    }

    /// Derives a sequence like the model does (each from the previous derived one, through
    /// the area registry's `derive`).
    fn chain(samples: Vec<VacuumSample>) -> Vec<VacuumSample> {
        let mut out: Vec<Sample> = Vec::new();
        for s in samples {
            let mut s = Sample::Vacuum(s);
            derive_any(&mut s, out.last());
            out.push(s);
        }
        out.into_iter()
            .filter_map(|s| match s {
                Sample::Vacuum(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_stop_ages_follow_the_major() {
        assert_eq!(xid_stop_age(180_001), 2_144_483_647);
        assert_eq!(xid_stop_age(140_000), 2_144_483_647);
        assert_eq!(xid_stop_age(130_023), 2_146_483_647);
        assert_eq!(xid_stop_age(120_022), 2_146_483_647);
        assert_eq!(xid_stop_age(0), 2_144_483_647, "unknown: the earlier stop");
        assert_eq!(mxid_stop_age(170_000), 2_144_483_647);
        assert_eq!(mxid_stop_age(130_000), 2_147_483_547);
        assert_eq!(mxid_stop_age(0), 2_144_483_647);
    }

    #[test]
    fn consumption_rates_and_the_time_left_per_database() {
        // every 10 s for 2 minutes: 120 xid/s and 2 multixacts/s in app; template0 ages
        // with the cluster's xids and has no multixact traffic
        let samples = (0..=12)
            .map(|i| {
                let t = 1000.0 + 10.0 * f64::from(i);
                let n = i64::from(i);
                vac(
                    t,
                    150_000,
                    &[
                        ("app", 100_000_000 + 1_200 * n, 1_000 + 20 * n),
                        ("template0", 150_000_000 + 1_200 * n, 5),
                    ],
                )
            })
            .collect();
        let d = chain(samples);
        for s in &d[..6] {
            assert_eq!(s.databases[0].xid_per_s, None, "estimating");
            assert_eq!(s.databases[0].xid_wraparound_eta_s, None);
        }
        let last = &d[12];
        let app = &last.databases[0];
        assert_eq!(app.xid_per_s, Some(120.0));
        assert_eq!(app.mxid_per_s, Some(2.0));
        let age = 100_000_000 + 1_200 * 12;
        assert_eq!(
            app.xid_freeze_max_age_eta_s,
            Some((200_000_000 - age) as f64 / 120.0)
        );
        assert_eq!(
            app.xid_wraparound_eta_s,
            Some((2_144_483_647 - age) as f64 / 120.0)
        );
        assert_eq!(
            app.mxid_wraparound_eta_s,
            Some((2_144_483_647 - (1_000 + 240)) as f64 / 2.0)
        );
        let t0 = &last.databases[1];
        assert_eq!(t0.xid_per_s, Some(120.0));
        assert_eq!(t0.mxid_per_s, Some(0.0));
        assert_eq!(t0.mxid_wraparound_eta_s, None, "a rate of 0: no ETA");
        assert_eq!(t0.mxid_freeze_max_age_eta_s, None);
        // the marks are not in the JSON, the forecasts are
        let json = serde_json::to_value(last).unwrap_or_default();
        let db = &json["databases"][0];
        assert_eq!(db["xid_per_s"], serde_json::json!(120.0));
        assert!(db.get("xid_marks").is_none(), "{db}");
    }

    #[test]
    fn a_vacuum_freeze_restarts_the_window_of_that_database_only() {
        let mut samples: Vec<VacuumSample> = (0..=8)
            .map(|i| {
                let n = i64::from(i);
                vac(
                    10.0 * f64::from(i),
                    130_000,
                    &[("app", 5_000_000 + 500 * n, 10), ("b", 900 + 500 * n, 10)],
                )
            })
            .collect();
        // VACUUM FREEZE in app: its datfrozenxid advances, the age drops
        samples.push(vac(
            90.0,
            130_000,
            &[("app", 200, 10), ("b", 900 + 500 * 9, 10)],
        ));
        let d = chain(samples);
        assert_eq!(d[8].databases[0].xid_per_s, Some(50.0));
        let after = &d[9];
        assert_eq!(after.databases[0].xid_per_s, None, "app: estimating again");
        assert_eq!(after.databases[0].xid_wraparound_eta_s, None);
        assert_eq!(after.databases[1].xid_per_s, Some(50.0), "b: unaffected");
        // PostgreSQL 13: the stop is 1,000,000 before wraparound
        assert_eq!(
            after.databases[1].xid_wraparound_eta_s,
            Some((2_146_483_647 - (900 + 4_500)) as f64 / 50.0)
        );
    }

    #[test]
    fn past_the_freeze_max_age_the_eta_is_zero_and_a_reconnect_starts_over() {
        let d = chain(vec![
            vac(0.0, 160_000, &[("app", 250_000_000, 1)]),
            vac(60.0, 160_000, &[("app", 250_006_000, 1)]),
        ]);
        let app = &d[1].databases[0];
        assert_eq!(app.xid_per_s, Some(100.0));
        assert_eq!(app.xid_freeze_max_age_eta_s, Some(0.0), "already past");
        // no previous sample (a reconnect's fresh baseline): estimating
        let mut alone = Sample::Vacuum(vac(120.0, 160_000, &[("app", 250_012_000, 1)]));
        derive_any(&mut alone, None);
        let Sample::Vacuum(v) = alone else {
            panic!("not vacuum")
        };
        assert_eq!(v.databases[0].xid_per_s, None);
        assert_eq!(v.databases[0].xid_marks.len(), 1);
    }

    /// The rule through the store: no alert while estimating, a critical one below 24 h.
    #[test]
    fn wraparound_eta_alerts_only_with_a_rate() {
        use std::time::{Duration, SystemTime};

        use crate::config::Thresholds;
        use crate::model::{Severity, Store};
        use crate::sample::{LinkEvent, ServerFacts, Update};

        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let mut store = Store::new(
            vec!["db:5432/app".into()],
            Thresholds::default(),
            Duration::from_secs(2),
            Duration::from_secs(60),
            t0,
        );
        store.apply(
            Update::Link {
                server: 0,
                event: LinkEvent::Connected(Box::new(ServerFacts::example("u", true))),
                at: t0,
            },
            t0,
        );
        // 20,000 xid/s, 1.0G from the stop: about 14 h left
        let stop = 2_144_483_647;
        let alert = |store: &Store| {
            store.servers[0]
                .alerts
                .active
                .values()
                .find(|a| a.alert.rule == Rule::XidWraparoundEta)
                .cloned()
        };
        for i in 0..=7u32 {
            let age = stop - 1_000_000_000 + 200_000 * i64::from(i);
            let when = t0 + Duration::from_secs(10 * u64::from(i));
            store.apply(
                Update::Sample {
                    server: 0,
                    sample: Box::new(Sample::Vacuum(vac(
                        10.0 * f64::from(i),
                        170_000,
                        &[("app", age, 1)],
                    ))),
                    at: when,
                    took: std::time::Duration::ZERO,
                },
                when,
            );
            if i < 6 {
                assert!(alert(&store).is_none(), "estimating: no alert at poll {i}");
            }
        }
        let a = alert(&store).expect("xid_wraparound_eta");
        assert_eq!(a.alert.severity, Severity::Critical);
        let left = a.alert.value;
        assert!((45_000.0..=51_000.0).contains(&left), "{left}");
        assert!(
            a.alert.message.contains("wraparound stop in 13h5"),
            "{}",
            a.alert.message
        );
    }
}
