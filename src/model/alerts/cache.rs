//! Cache rule: the buffer cache hit ratio of each database over the last interval.

use super::{Evaluator, Subject};
use crate::model::format_count;
use crate::sample::{DatabaseCache, Rule};

pub(super) fn evaluate(ev: &mut Evaluator<'_>) {
    let Some(c) = ev.server.cache() else {
        return;
    };
    let floor = ev.thresholds.get(Rule::CacheHitRatio).min;
    for d in &c.databases {
        hit_ratio(ev, d, floor);
    }
}

/// [`Rule::CacheHitRatio`] of one database, judged only with at least `floor` blocks
/// accessed per second.
fn hit_ratio(ev: &mut Evaluator<'_>, d: &DatabaseCache, floor: f64) {
    // template databases only see autovacuum and CREATE DATABASE: a burst of catalog
    // misses there is noise, not a cache problem of any workload
    if matches!(d.datname.as_str(), "template0" | "template1") {
        return;
    }
    let (Some(ratio), Some(hit), Some(read)) =
        (d.interval_hit_ratio, d.blks_hit_per_s, d.blks_read_per_s)
    else {
        return;
    };
    if hit + read < floor {
        return;
    }
    let name = &d.datname;
    ev.check(
        Rule::CacheHitRatio,
        || Subject::Database(name.clone()),
        ratio,
        |th| {
            format!(
                "database {name}: cache hit ratio {:.1}% over the last interval (< {th}), {} blocks read/s",
                ratio * 100.0,
                format_count(read)
            )
        },
    );
}
