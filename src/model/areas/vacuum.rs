//! Vacuum rules: wraparound ages of each database, dead tuples of each table.

use crate::model::alerts::{Evaluator, Subject};
use crate::model::format_count;
use crate::sample::{DatabaseAge, Rule, TableDeadTuples};

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(v) = ev.server.vacuum() else {
        return;
    };
    for d in &v.databases {
        xid_age(ev, d);
        mxid_age(ev, d);
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
