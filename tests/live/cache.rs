//! Live tests of the cache collector: a table larger than shared_buffers read with a seq scan.

use std::time::Duration;

use pgvitals::collect::areas::cache::CacheCollector;
use pgvitals::sample::CacheSample;

use crate::common::{connect, primary};
use crate::probe::{create_db, monitor};

fn db_blks_read(sample: &CacheSample, datname: &str) -> i64 {
    sample
        .databases
        .iter()
        .find(|d| d.datname == datname)
        .map(|d| d.blks_read)
        .expect("database listed")
}

#[tokio::test]
async fn reading_a_table_larger_than_shared_buffers_shows_misses() {
    let db = create_db("cache");
    let w = connect(primary(), &db.name).await;
    // About 40 MB (the test cluster has shared_buffers = 16MB).
    w.batch_execute(
        "CREATE TABLE big AS SELECT g AS id, repeat('x', 500) AS pad \
           FROM generate_series(1, 75000) AS g; \
         CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small VALUES (1)",
    )
    .await
    .expect("big table");
    let bytes: i64 = w
        .query_one("SELECT pg_relation_size('big')", &[])
        .await
        .expect("size")
        .get(0);
    assert!(bytes > 35 * 1024 * 1024, "big is {bytes} bytes");
    // Let the creating backend report its counters first.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let m = monitor(primary(), &db.name).await;
    let mut collector = CacheCollector::new();
    let before = collector.collect(&m.ctx()).await.expect("first sample");
    assert!(before.databases.iter().all(|d| !d.datname.is_empty()));
    assert!(
        before
            .databases
            .iter()
            .all(|d| d.hit_ratio.is_none_or(|r| (0.0..=1.0).contains(&r)))
    );
    let heap_before = before
        .tables
        .iter()
        .find(|t| t.relname == "big")
        .map(|t| t.heap_blks_read)
        .unwrap_or(0);

    w.batch_execute("SELECT count(*) FROM big")
        .await
        .expect("seq scan");
    let blocks = bytes / i64::from(m.facts.block_size);
    let mut after = collector.collect(&m.ctx()).await.expect("sample");
    // tables are read again at most every TABLES_INTERVAL (10 s): wait for that too
    let big_read = |s: &pgvitals::sample::CacheSample| {
        s.tables
            .iter()
            .find(|t| t.relname == "big")
            .map_or(0, |t| t.heap_blks_read)
    };
    for _ in 0..100 {
        if db_blks_read(&after, &db.name) - db_blks_read(&before, &db.name) > blocks / 2
            && big_read(&after) - heap_before > blocks / 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = collector.collect(&m.ctx()).await.expect("sample");
    }
    let delta = db_blks_read(&after, &db.name) - db_blks_read(&before, &db.name);
    assert!(
        delta > blocks / 2,
        "a seq scan of {blocks} blocks read {delta} from outside shared_buffers"
    );
    let big = after
        .tables
        .iter()
        .find(|t| t.relname == "big")
        .expect("big listed among the tables");
    assert_eq!(big.schemaname, "public");
    assert!(big.heap_blks_read - heap_before > blocks / 2);
    assert!(big.hit_ratio.is_some_and(|r| r < 0.5), "{big:?}");
    assert_eq!(big.idx_blks_read, 0, "no index");
    // Ordered by reads: big (thousands) comes before small.
    let pos = |name: &str| after.tables.iter().position(|t| t.relname == name);
    if let (Some(b), Some(s)) = (pos("big"), pos("small")) {
        assert!(b < s);
    }
    assert!(after.tables.len() <= 200);
    assert!(after.collected_at >= before.collected_at);
    assert!(after.tables_collected_at > before.tables_collected_at);
}

/// The tables followed are bounded by `top_n`; `tables_total` counts every user table.
#[tokio::test]
async fn tables_are_bounded_to_top_n_with_the_total() {
    let db = create_db("cache_topn");
    let w = connect(primary(), &db.name).await;
    w.batch_execute(
        "DO $$ BEGIN FOR k IN 1..60 LOOP \
           EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, v int)', k); \
           EXECUTE format('INSERT INTO t_%s SELECT g, g FROM generate_series(1, 10 * %s) g', k, k); \
         END LOOP; END $$; \
         CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one",
    )
    .await
    .expect("tables");
    let m = monitor(primary(), &db.name).await;
    let sample = CacheCollector::with_top_n(10)
        .collect(&m.ctx())
        .await
        .expect("sample");
    // 60 tables and one materialized view, as pg_statio_user_tables lists them (less TOAST)
    let in_view: i64 = w
        .query_one(
            "SELECT count(*) FROM pg_statio_user_tables t JOIN pg_class c ON c.oid = t.relid \
              WHERE c.relkind <> 't'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(in_view, 61);
    assert_eq!(sample.tables_total, 61, "{sample:?}");
    assert_eq!(sample.tables.len(), 10, "{sample:?}");
    let reads: Vec<i64> = sample
        .tables
        .iter()
        .map(|t| t.heap_blks_read + t.idx_blks_read + t.toast_blks_read)
        .collect();
    assert!(
        reads.windows(2).all(|w| w[0] >= w[1]),
        "most reads first: {reads:?}"
    );
    // the same counters as the view, for a table followed
    let t = &sample.tables[0];
    let row = w
        .query_one(
            "SELECT heap_blks_hit, coalesce(idx_blks_hit, 0) FROM pg_statio_user_tables WHERE relid = $1",
            &[&t.relid],
        )
        .await
        .expect("view row");
    let (heap_hit, idx_hit): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        heap_hit >= t.heap_blks_hit && idx_hit >= t.idx_blks_hit,
        "{t:?}"
    );
}
