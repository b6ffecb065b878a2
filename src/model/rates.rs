//! Counters become per-second rates between two consecutive samples: the arithmetic every
//! area's derivation uses (each area's own is in [`super::areas`]).
//!
//! * The elapsed time is the **measured** one: the difference of the samples' server clocks
//!   (`collected_at`), never the nominal poll interval.
//! * A counter that goes backwards (pg_stat_statements_reset, pg_stat_reset, a restart, an
//!   evicted and re-created pg_stat_statements entry), a changed `stats_reset` or `stats_since`,
//!   or a new row starts a fresh baseline: the derived fields stay `None` ("no rate yet"),
//!   never a negative or absurd number, and never the lifetime counter shown as a rate.

use crate::sample::EpochSeconds;

/// Seconds between two server-clock readings, if positive.
pub(crate) fn elapsed(cur: EpochSeconds, prev: EpochSeconds) -> Option<f64> {
    let dt = cur - prev;
    (dt.is_finite() && dt > 0.0).then_some(dt)
}

/// Delta of a counter; `None` when it went backwards (a reset).
pub(crate) fn delta(cur: i64, prev: i64) -> Option<i64> {
    (cur >= prev).then(|| cur - prev)
}

pub(crate) fn rate(cur: i64, prev: i64, dt: f64) -> Option<f64> {
    delta(cur, prev).map(|d| d as f64 / dt)
}

pub(crate) fn ratio(hit: f64, read: f64) -> Option<f64> {
    let total = hit + read;
    (total > 0.0).then(|| hit / total)
}

#[cfg(test)]
mod tests {
    use crate::model::areas::derive;
    use crate::sample::*;

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
            tables_total: 0,
        });
        let mut cur = Sample::Cache(CacheSample {
            collected_at: 2.0,
            databases: vec![db("app", 991_000, 11_000)],
            tables: vec![],
            tables_collected_at: None,
            tables_total: 0,
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
            tables_total: 0,
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
            tables_total: 0,
        });
        let mut cur = Sample::Cache(CacheSample {
            collected_at: 2.0,
            databases: vec![db("app", 50, 5)],
            tables: vec![],
            tables_collected_at: None,
            tables_total: 0,
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
