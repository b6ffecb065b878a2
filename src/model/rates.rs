//! Counters become per-second rates between two consecutive samples.
//!
//! * The elapsed time is the **measured** one: the difference of the samples' server clocks
//!   (`collected_at`), never the nominal poll interval.
//! * A counter that goes backwards (pg_stat_statements_reset, pg_stat_reset, a restart, an
//!   evicted and re-created pg_stat_statements entry), a changed `stats_reset` or `stats_since`,
//!   or a new row starts a fresh baseline: the derived fields stay `None` ("no rate yet"),
//!   never a negative or absurd number, and never the lifetime counter shown as a rate.

use std::collections::HashMap;

use crate::sample::Sample;
use crate::sample::*;

/// Fill the derived fields of `cur` from `prev` (the previous sample of the same area).
/// Without a usable previous sample the derived fields stay `None`.
pub fn derive(cur: &mut Sample, prev: Option<&Sample>) {
    match cur {
        Sample::Server(c) => {
            if let Some(Sample::Server(p)) = prev {
                server(c, p);
            }
        }
        Sample::Statements(c) => {
            if let Some(Sample::Statements(p)) = prev {
                statements(c, p);
            }
        }
        Sample::Cache(c) => {
            if let Some(Sample::Cache(p)) = prev {
                cache(c, p);
            }
        }
        // no counters: nothing is derived
        Sample::Activity(_)
        | Sample::Replication(_)
        | Sample::UnusedIndexes(_)
        | Sample::Vacuum(_) => {}
    }
}

/// Seconds between two server-clock readings, if positive.
fn elapsed(cur: EpochSeconds, prev: EpochSeconds) -> Option<f64> {
    let dt = cur - prev;
    (dt.is_finite() && dt > 0.0).then_some(dt)
}

/// Delta of a counter; `None` when it went backwards (a reset).
fn delta(cur: i64, prev: i64) -> Option<i64> {
    (cur >= prev).then(|| cur - prev)
}

fn rate(cur: i64, prev: i64, dt: f64) -> Option<f64> {
    delta(cur, prev).map(|d| d as f64 / dt)
}

fn ratio(hit: f64, read: f64) -> Option<f64> {
    let total = hit + read;
    (total > 0.0).then(|| hit / total)
}

fn server(c: &mut ServerSample, p: &ServerSample) {
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

type StatementKey = (u32, u32, i64, bool);

fn statements(c: &mut StatementsSample, p: &StatementsSample) {
    let Some(dt) = elapsed(c.collected_at, p.collected_at) else {
        return;
    };
    if c.stats_reset != p.stats_reset {
        return;
    }
    let prev: HashMap<StatementKey, &Statement> = p
        .statements
        .iter()
        .map(|s| ((s.userid, s.dbid, s.queryid, s.toplevel), s))
        .collect();
    for s in &mut c.statements {
        let Some(ps) = prev.get(&(s.userid, s.dbid, s.queryid, s.toplevel)) else {
            continue;
        };
        if s.stats_since != ps.stats_since
            || s.calls < ps.calls
            || s.total_exec_time_ms < ps.total_exec_time_ms
        {
            continue;
        }
        let calls = s.calls - ps.calls;
        let exec_ms = s.total_exec_time_ms - ps.total_exec_time_ms;
        s.calls_per_s = Some(calls as f64 / dt);
        s.exec_time_ms_per_s = Some(exec_ms / dt);
        s.interval_mean_exec_time_ms = (calls > 0).then(|| exec_ms / calls as f64);
        s.rows_per_s = rate(s.rows, ps.rows, dt);
        s.shared_blks_hit_per_s = rate(s.shared_blks_hit, ps.shared_blks_hit, dt);
        s.shared_blks_read_per_s = rate(s.shared_blks_read, ps.shared_blks_read, dt);
        s.temp_blks_written_per_s = rate(s.temp_blks_written, ps.temp_blks_written, dt);
    }
}

fn cache(c: &mut CacheSample, p: &CacheSample) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(queryid: i64, calls: i64, total: f64) -> Statement {
        Statement {
            userid: 10,
            dbid: 5,
            queryid,
            toplevel: true,
            calls,
            total_exec_time_ms: total,
            mean_exec_time_ms: if calls > 0 { total / calls as f64 } else { 0.0 },
            rows: calls,
            ..Default::default()
        }
    }

    fn stmts(at: f64, list: Vec<Statement>) -> Sample {
        Sample::Statements(StatementsSample {
            collected_at: at,
            statements: list,
            ..Default::default()
        })
    }

    fn get(s: &Sample) -> &StatementsSample {
        match s {
            Sample::Statements(s) => s,
            _ => panic!("not statements"),
        }
    }

    #[test]
    fn statement_rates_use_the_measured_interval() {
        let prev = stmts(100.0, vec![stmt(1, 10, 100.0)]);
        // 2.5 s measured, although the nominal interval might be 2 s
        let mut cur = stmts(102.5, vec![stmt(1, 20, 350.0), stmt(2, 5, 5.0)]);
        derive(&mut cur, Some(&prev));
        let s = get(&cur);
        assert_eq!(s.statements[0].calls_per_s, Some(4.0));
        assert_eq!(s.statements[0].exec_time_ms_per_s, Some(100.0));
        assert_eq!(s.statements[0].interval_mean_exec_time_ms, Some(25.0));
        // a new entry has no baseline: no rate, not its lifetime counter
        assert_eq!(s.statements[1].calls_per_s, None);
    }

    #[test]
    fn a_reset_starts_a_fresh_baseline_instead_of_negative_rates() {
        let prev = stmts(100.0, vec![stmt(1, 1000, 5000.0)]);
        let mut cur = stmts(102.0, vec![stmt(1, 3, 2.0)]);
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);
        // and the next sample rates against the post-reset one
        let mut next = stmts(104.0, vec![stmt(1, 7, 4.0)]);
        derive(&mut next, Some(&cur));
        assert_eq!(get(&next).statements[0].calls_per_s, Some(2.0));
    }

    #[test]
    fn changed_stats_reset_or_stats_since_means_no_rates() {
        let prev = stmts(100.0, vec![stmt(1, 10, 10.0)]);
        let mut cur = stmts(102.0, vec![stmt(1, 20, 20.0)]);
        if let Sample::Statements(s) = &mut cur {
            s.stats_reset = Some(101.0);
        }
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);

        let mut evicted = stmt(1, 20, 20.0);
        evicted.stats_since = Some(101.0);
        let mut cur = stmts(102.0, vec![evicted]);
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);
    }

    #[test]
    fn a_clock_that_did_not_advance_gives_no_rates() {
        let prev = stmts(100.0, vec![stmt(1, 10, 10.0)]);
        let mut cur = stmts(100.0, vec![stmt(1, 20, 20.0)]);
        derive(&mut cur, Some(&prev));
        assert_eq!(get(&cur).statements[0].calls_per_s, None);
    }

    fn db(name: &str, hit: i64, read: i64) -> DatabaseCache {
        DatabaseCache {
            datname: name.into(),
            blks_hit: hit,
            blks_read: read,
            ..Default::default()
        }
    }

    #[test]
    fn interval_hit_ratio_reflects_only_the_interval() {
        // lifetime ratio 99 %, but the last interval read as much as it hit
        let prev = Sample::Cache(CacheSample {
            collected_at: 0.0,
            databases: vec![db("app", 990_000, 10_000)],
            tables: vec![],
            tables_collected_at: None,
        });
        let mut cur = Sample::Cache(CacheSample {
            collected_at: 2.0,
            databases: vec![db("app", 991_000, 11_000)],
            tables: vec![],
            tables_collected_at: None,
        });
        derive(&mut cur, Some(&prev));
        let Sample::Cache(c) = &cur else {
            panic!("not cache")
        };
        assert_eq!(c.databases[0].interval_hit_ratio, Some(0.5));
        assert_eq!(c.databases[0].blks_read_per_s, Some(500.0));
    }

    fn table(read: i64, hit: i64) -> TableCache {
        TableCache {
            relid: 7,
            heap_blks_read: read,
            heap_blks_hit: hit,
            ..Default::default()
        }
    }

    fn tables_sample(at: f64, tables_at: f64, t: TableCache) -> Sample {
        Sample::Cache(CacheSample {
            collected_at: at,
            databases: vec![],
            tables_collected_at: Some(tables_at),
            tables: vec![t],
        })
    }

    #[test]
    fn table_rates_use_their_own_read_times_and_survive_carried_forward_polls() {
        let first = tables_sample(0.0, 0.0, table(100, 100));
        // tables read again 5 s later, while the databases were polled every second
        let mut second = tables_sample(5.0, 5.0, table(600, 600));
        derive(&mut second, Some(&first));
        let Sample::Cache(c) = &second else {
            panic!("not cache")
        };
        assert_eq!(c.tables[0].blks_read_per_s, Some(100.0));
        // a poll that carried the tables forward keeps their rates, instead of showing 0
        let mut third = tables_sample(6.0, 5.0, table(600, 600));
        derive(&mut third, Some(&second));
        let Sample::Cache(c) = &third else {
            panic!("not cache")
        };
        assert_eq!(c.tables[0].blks_read_per_s, Some(100.0));
        assert_eq!(c.tables[0].interval_hit_ratio, Some(0.5));
    }

    #[test]
    fn pg_stat_reset_on_a_database_gives_no_rates() {
        let prev = Sample::Cache(CacheSample {
            collected_at: 0.0,
            databases: vec![db("app", 990_000, 10_000)],
            tables: vec![],
            tables_collected_at: None,
        });
        let mut cur = Sample::Cache(CacheSample {
            collected_at: 2.0,
            databases: vec![db("app", 50, 5)],
            tables: vec![],
            tables_collected_at: None,
        });
        derive(&mut cur, Some(&prev));
        let Sample::Cache(c) = &cur else {
            panic!("not cache")
        };
        assert_eq!(c.databases[0].interval_hit_ratio, None);
        assert_eq!(c.databases[0].blks_hit_per_s, None);
    }

    #[test]
    fn server_restart_gives_no_transaction_rate() {
        let p = ServerSample {
            collected_at: 0.0,
            uptime_s: 1000.0,
            xact_commit: 5000,
            ..Default::default()
        };
        let mut c = ServerSample {
            collected_at: 2.0,
            uptime_s: 1.0,
            xact_commit: 10,
            ..Default::default()
        };
        let mut s = Sample::Server(c.clone());
        derive(&mut s, Some(&Sample::Server(p.clone())));
        assert!(matches!(
            s,
            Sample::Server(ServerSample {
                xact_per_s: None,
                ..
            })
        ));
        c.uptime_s = 1002.0;
        c.xact_commit = 5100;
        let mut s = Sample::Server(c);
        derive(&mut s, Some(&Sample::Server(p)));
        assert!(matches!(
            s,
            Sample::Server(ServerSample {
                xact_per_s: Some(50.0),
                ..
            })
        ));
    }
}
