//! Cache rule: the buffer cache hit ratio of each database over the last interval.

use crate::model::alerts::{Evaluator, Subject};
use crate::model::format_count;
use std::collections::HashMap;

use crate::model::rates::{delta, elapsed, rate, ratio};
use crate::sample::{CacheSample, DatabaseCache, Rule, TableCache};

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

/// Rates of the cache counters over the interval (databases and tables).
pub(super) fn derive(c: &mut CacheSample, p: &CacheSample) {
    let Some(dt) = elapsed(c.collected_at, p.collected_at) else {
        return;
    };
    cache_databases(c, p, dt);
    cache_tables(c, p, dt);
}

/// Per-database block rates over `dt` seconds.
fn cache_databases(c: &mut CacheSample, p: &CacheSample, dt: f64) {
    let prev: HashMap<&str, &DatabaseCache> = p
        .databases
        .iter()
        .map(|d| (d.datname.as_str(), d))
        .collect();
    for d in &mut c.databases {
        let Some(pd) = prev.get(d.datname.as_str()) else {
            continue;
        };
        if d.stats_reset != pd.stats_reset {
            continue;
        }
        let (Some(hit), Some(read)) = (
            rate(d.blks_hit, pd.blks_hit, dt),
            rate(d.blks_read, pd.blks_read, dt),
        ) else {
            continue;
        };
        d.blks_hit_per_s = Some(hit);
        d.blks_read_per_s = Some(read);
        d.interval_hit_ratio = ratio(hit, read);
    }
}

/// Per-table block rates, over the time between the two reads of the tables (`dt`, the
/// samples' interval, when a read time is missing); tables carried forward keep the rates
/// of their last read.
fn cache_tables(c: &mut CacheSample, p: &CacheSample, dt: f64) {
    let prev: HashMap<u32, &TableCache> = p.tables.iter().map(|t| (t.relid, t)).collect();
    let tables_dt = match (c.tables_collected_at, p.tables_collected_at) {
        (Some(ct), Some(pt)) if ct == pt => {
            // carried forward, not read again: keep the rates of the last read
            for t in &mut c.tables {
                if let Some(pt) = prev.get(&t.relid) {
                    t.blks_read_per_s = pt.blks_read_per_s;
                    t.blks_hit_per_s = pt.blks_hit_per_s;
                    t.interval_hit_ratio = pt.interval_hit_ratio;
                }
            }
            return;
        }
        (Some(ct), Some(pt)) => elapsed(ct, pt),
        _ => Some(dt),
    };
    let Some(dt) = tables_dt else {
        return;
    };
    for t in &mut c.tables {
        let Some(pt) = prev.get(&t.relid) else {
            continue;
        };
        let read = [
            delta(t.heap_blks_read, pt.heap_blks_read),
            delta(t.idx_blks_read, pt.idx_blks_read),
            delta(t.toast_blks_read, pt.toast_blks_read),
        ];
        let hit = [
            delta(t.heap_blks_hit, pt.heap_blks_hit),
            delta(t.idx_blks_hit, pt.idx_blks_hit),
            delta(t.toast_blks_hit, pt.toast_blks_hit),
        ];
        let (Some(read), Some(hit)) = (sum(read), sum(hit)) else {
            continue;
        };
        t.blks_read_per_s = Some(read as f64 / dt);
        t.blks_hit_per_s = Some(hit as f64 / dt);
        t.interval_hit_ratio = ratio(hit as f64, read as f64);
    }
}

fn sum(parts: [Option<i64>; 3]) -> Option<i64> {
    parts.into_iter().sum()
}
