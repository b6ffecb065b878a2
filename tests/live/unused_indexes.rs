//! Live tests of the unused-indexes collector, each in its own database of the shared primary.

use std::time::{Duration, Instant};

use pgvitals::collect::areas::unused_indexes::UnusedIndexesCollector;
use pgvitals::sample::UnusedIndexesSample;

use crate::common::{connect, primary, unique};
use crate::replication::{Monitor, poll_until};

/// A database of the shared primary, dropped (with its sessions) when this is dropped.
pub struct TempDatabase(pub String);

impl TempDatabase {
    pub fn create(prefix: &str) -> TempDatabase {
        let name = unique(prefix);
        primary()
            .psql("postgres", &format!("CREATE DATABASE {name}"))
            .expect("create database");
        TempDatabase(name)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let _ = primary().psql(
            "postgres",
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'; \
                 DROP DATABASE IF EXISTS {0}",
                self.0
            ),
        );
    }
}

async fn poll(monitor: &Monitor) -> UnusedIndexesSample {
    UnusedIndexesCollector::new()
        .collect(&monitor.ctx())
        .await
        .expect("unused_indexes poll")
}

fn names(sample: &UnusedIndexesSample) -> Vec<&str> {
    sample
        .indexes
        .iter()
        .map(|i| i.indexrelname.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_unused_index_is_listed_constraint_indexes_are_not() {
    let db = TempDatabase::create("unused_idx");
    let p = primary();
    p.psql(
        &db.0,
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int, c int, d int, r int4range, \
                         EXCLUDE USING gist (r WITH &&)); \
         INSERT INTO t SELECT g, g, g, g, g, int4range(g, g + 1) FROM generate_series(1, 2000) g; \
         CREATE INDEX t_a_plain ON t (a); \
         CREATE UNIQUE INDEX t_b_unique ON t (b); \
         CREATE INDEX t_c_used ON t (c); \
         ALTER TABLE t ADD CONSTRAINT t_d_uq UNIQUE (d)",
    )
    .expect("schema");
    // Scan t_c_used once; the statistics reach the shared view when this psql session ends.
    p.psql(
        &db.0,
        "SET enable_seqscan = off; SET enable_bitmapscan = off; \
         SELECT count(*) FROM t WHERE c = 7",
    )
    .expect("use t_c_used");

    let mon = Monitor::new(p, &db.0).await;
    let (settled, sample) = poll_until(
        Duration::from_secs(10),
        || poll(&mon),
        |sample| !names(sample).contains(&"t_c_used"),
    )
    .await;
    assert!(settled, "the scanned index is still listed: {sample:?}");
    let listed = names(&sample);
    assert!(listed.contains(&"t_a_plain"), "{sample:?}");
    for backing in ["t_pkey", "t_b_unique", "t_r_excl", "t_d_uq"] {
        assert!(!listed.contains(&backing), "{backing} listed: {sample:?}");
    }
    let plain = sample
        .indexes
        .iter()
        .find(|i| i.indexrelname == "t_a_plain")
        .expect("t_a_plain");
    assert_eq!(plain.relname, "t");
    assert_eq!(plain.schemaname, "public");
    assert_eq!(plain.idx_scan, 0);
    assert!(plain.is_valid);
    assert!(plain.index_size_bytes >= 8192, "{plain:?}");
    assert!(plain.table_size_bytes > plain.index_size_bytes, "{plain:?}");
    assert!(plain.indexrelid > 0);
    assert_eq!(sample.skipped_locked, 0);
    assert!(sample.collected_at > 1.0e9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_of_a_table_locked_access_exclusive_is_skipped_without_waiting() {
    let db = TempDatabase::create("unused_lock");
    let p = primary();
    p.psql(
        &db.0,
        "CREATE TABLE locked_t (id int, x int); CREATE INDEX locked_t_x ON locked_t (x); \
         CREATE TABLE free_t (id int, y int); CREATE INDEX free_t_y ON free_t (y)",
    )
    .expect("schema");
    let mon = Monitor::new(p, &db.0).await;
    let before = poll(&mon).await;
    assert!(names(&before).contains(&"locked_t_x"), "{before:?}");
    assert_eq!(before.skipped_locked, 0);

    let locker = connect(p, &db.0).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = Instant::now();
    let sample = poll(&mon).await;
    let elapsed = started.elapsed();
    locker.batch_execute("ROLLBACK").await.expect("rollback");

    // The monitor's lock_timeout is 3 s: a poll that waited would take that long and fail.
    assert!(elapsed < Duration::from_secs(2), "poll took {elapsed:?}");
    assert!(sample.skipped_locked >= 1, "{sample:?}");
    let listed = names(&sample);
    assert!(!listed.contains(&"locked_t_x"), "{sample:?}");
    assert!(listed.contains(&"free_t_y"), "{sample:?}");

    let after = poll(&mon).await;
    assert!(names(&after).contains(&"locked_t_x"), "{after:?}");
    assert_eq!(after.skipped_locked, 0);
}

/// The list is bounded by `top_n` (largest first, by the relpages estimate) while the totals
/// count every unused index; an exact size is measured only for the rows listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_is_bounded_to_top_n_and_totals_count_every_unused_index() {
    let db = TempDatabase::create("unused_topn");
    let p = primary();
    // 30 tables with one unused index each; table k gets 1,000 * k rows, so its index has
    // about k times the pages of the first: a known order by size.
    p.psql(
        &db.0,
        "DO $$ BEGIN FOR k IN 1..30 LOOP \
           EXECUTE format('CREATE TABLE big_%s (id int, v int)', k); \
           EXECUTE format('INSERT INTO big_%s SELECT g, g FROM generate_series(1, 1000 * %s) g', k, k); \
           EXECUTE format('CREATE INDEX big_%s_v ON big_%s (v)', k, k); \
         END LOOP; END $$; \
         VACUUM ANALYZE",
    )
    .expect("schema");
    let mon = Monitor::new(p, &db.0).await;
    let sample = UnusedIndexesCollector::with_top_n(5)
        .collect(&mon.ctx())
        .await
        .expect("unused_indexes poll");
    assert_eq!(sample.indexes_total, 30, "{sample:?}");
    assert_eq!(
        names(&sample),
        ["big_30_v", "big_29_v", "big_28_v", "big_27_v", "big_26_v"],
        "the five largest, largest first"
    );
    // the estimate of all 30 against the exact sizes, measured here
    let exact: i64 = p
        .psql(
            &db.0,
            "SELECT sum(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes",
        )
        .expect("exact sizes")
        .trim()
        .parse()
        .expect("a number");
    assert_eq!(
        sample.index_size_bytes_total, exact,
        "after VACUUM ANALYZE relpages is exact"
    );
    let listed: i64 = sample.indexes.iter().map(|i| i.index_size_bytes).sum();
    assert!(listed < sample.index_size_bytes_total, "{sample:?}");

    // the whole list when top_n is larger than the count
    let all = UnusedIndexesCollector::with_top_n(100)
        .collect(&mon.ctx())
        .await
        .expect("unused_indexes poll");
    assert_eq!(all.indexes.len(), 30);
    assert_eq!(all.indexes_total, 30);

    // a database without any unused index still reports its totals (0, 0)
    p.psql(
        &db.0,
        "DO $$ BEGIN FOR k IN 1..30 LOOP EXECUTE format('DROP TABLE big_%s', k); END LOOP; END $$",
    )
    .expect("drop");
    let none = poll(&mon).await;
    assert_eq!((none.indexes_total, none.index_size_bytes_total), (0, 0));
    assert!(none.indexes.is_empty());
}
