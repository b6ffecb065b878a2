//! Live tests of the wait profile (the waits area's sampler and the model's window): a
//! hot-row UPDATE workload makes its statement's profile show Lock as the dominant wait, a
//! CPU-bound query shows CPU, and the JSON carries both; on 12/13 (no `query_id`) the
//! server-wide profile still sees the lock and the per-statement profile says what is
//! missing.

use std::time::Duration;

use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::Store;
use pgvitals::sample::{Area, WaitClass};

use crate::common::{connect, primary, pump};
use crate::unused_indexes::TempDatabase;

fn spec(db: &str) -> ConnSpec {
    ConnSpec::parse(&primary().conninfo(db)).expect("spec")
}

fn major(store: &Store) -> u32 {
    store.servers[0]
        .facts
        .as_ref()
        .map(|f| f.major())
        .expect("facts")
}

/// The `query_id` of the first backend whose query starts with `prefix` and that waits on
/// `wait_event_type` (or runs, when `None`), once it shows (14+).
async fn query_id_of(
    watcher: &tokio_postgres::Client,
    prefix: &str,
    wait_event_type: Option<&str>,
) -> i64 {
    for _ in 0..100 {
        let rows = watcher
            .query(
                "SELECT query_id FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE $1 || '%' AND wait_event_type IS NOT DISTINCT FROM $2 \
                 AND query_id IS NOT NULL LIMIT 1",
                &[&prefix, &wait_event_type],
            )
            .await
            .expect("pg_stat_activity");
        if let Some(r) = rows.first() {
            return r.get(0);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no active backend running {prefix:?} waiting on {wait_event_type:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_row_update_waits_on_lock_in_its_profile() {
    let db = TempDatabase::create("waits_lock");
    let setup = connect(primary(), &db.0).await;
    setup
        .batch_execute(
            "CREATE TABLE hot (id int PRIMARY KEY, n int); INSERT INTO hot VALUES (1, 0)",
        )
        .await
        .expect("setup");
    // one transaction holds the row; three sessions queue behind it on its transaction id
    let holder = connect(primary(), &db.0).await;
    holder
        .batch_execute("BEGIN; UPDATE hot SET n = n + 1 WHERE id = 1")
        .await
        .expect("hold the row");
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let c = connect(primary(), &db.0).await;
        waiters.push(tokio::spawn(async move {
            let r = c
                .batch_execute("UPDATE hot SET n = n + 1 WHERE id = 1")
                .await;
            drop(c);
            r
        }));
    }
    let config = Config {
        interval: Duration::from_millis(500),
        ..Config::default()
    };
    let mut running = pgvitals::app::start_workers(&[spec(&db.0)], &config).expect("workers");
    let watcher = connect(primary(), &db.0).await;
    let major = {
        assert!(
            pump(&mut running, Duration::from_secs(15), |_, s| s.servers[0]
                .facts
                .is_some())
            .await
        );
        major(&running.store)
    };
    if major >= 14 {
        let query_id = query_id_of(&watcher, "UPDATE hot SET n = n + 1", Some("Lock")).await;
        // 3 samples of the 3 waiters: 1.5 s at 2 samples a second, longer when a
        // loaded machine slows the sample down (the sampler is paced by its own duration)
        let seen = pump(&mut running, Duration::from_secs(40), |_, s| {
            s.servers[0]
                .waits
                .of_query(query_id)
                .is_some_and(|c| c.total() >= 9)
        })
        .await;
        let server = &running.store.servers[0];
        let profile = server.waits.of_query(query_id).copied();
        assert!(seen, "{profile:?} after {} samples", server.waits.samples());
        let profile = profile.expect("profile");
        let (dominant, share) = profile.dominant().expect("counted");
        assert_eq!(dominant, WaitClass::Lock, "{profile:?}");
        assert!(share >= 0.9, "{profile:?}");
        assert_eq!(server.waits.missing(server.facts.as_ref()), None);
        // the JSON: the waits area names the event
        let json = pgvitals::model::snapshot::server_json(server);
        let top = json["waits"]["top_waits"].as_array().expect("top_waits");
        assert!(
            top.iter().any(|w| w["wait_event_type"] == "Lock"
                && w["wait_event"] == "transactionid"
                && w["class"] == "lock"),
            "{}",
            json["waits"]
        );
        assert!(json["waits"]["samples"].as_u64().unwrap_or(0) >= 3);
    } else {
        // no query_id: the server-wide profile sees the lock, the per-statement one says why
        let seen = pump(&mut running, Duration::from_secs(40), |_, s| {
            s.servers[0].waits.server().get(WaitClass::Lock) >= 9
        })
        .await;
        let server = &running.store.servers[0];
        assert!(seen, "{:?}", server.waits.server());
        assert!(
            server
                .waits
                .top_events(5)
                .iter()
                .any(|(c, e, _)| *c == WaitClass::Lock && &**e == "Lock:transactionid"),
            "{:?}",
            server.waits.top_events(5)
        );
        let missing = server
            .waits
            .missing(server.facts.as_ref())
            .expect("missing");
        assert!(missing.contains("PostgreSQL 14+"), "{missing}");
        assert!(server.area(Area::Waits).error.is_none());
    }
    holder.batch_execute("ROLLBACK").await.expect("release");
    for w in waiters {
        w.await.expect("waiter").expect("update");
    }
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_bound_query_runs_on_cpu_in_its_profile() {
    let db = TempDatabase::create("waits_cpu");
    let config = Config {
        interval: Duration::from_millis(500),
        ..Config::default()
    };
    let mut running = pgvitals::app::start_workers(&[spec(&db.0)], &config).expect("workers");
    assert!(
        pump(&mut running, Duration::from_secs(15), |_, s| s.servers[0]
            .facts
            .is_some())
        .await
    );
    let major = major(&running.store);
    // a nested loop over in-memory function scans: CPU only, no I/O, no lock; serial
    let busy = connect(primary(), &db.0).await;
    let cancel = busy.cancel_token();
    let task = tokio::spawn(async move {
        busy.batch_execute(
            "SET max_parallel_workers_per_gather = 0; SET statement_timeout = '60s'",
        )
        .await
        .expect("settings");
        let _ = busy
            .batch_execute(
                "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b, \
                 generate_series(1, 3000) c",
            )
            .await;
    });
    let watcher = connect(primary(), &db.0).await;
    if major >= 14 {
        let query_id = query_id_of(&watcher, "SELECT count(*) FROM generate_series", None).await;
        let seen = pump(&mut running, Duration::from_secs(40), |_, s| {
            s.servers[0]
                .waits
                .of_query(query_id)
                .is_some_and(|c| c.total() >= 5)
        })
        .await;
        let server = &running.store.servers[0];
        let profile = server.waits.of_query(query_id).copied();
        assert!(seen, "{profile:?}");
        let profile = profile.expect("profile");
        let (dominant, share) = profile.dominant().expect("counted");
        assert_eq!(dominant, WaitClass::Cpu, "{profile:?}");
        assert!(share >= 0.5, "{profile:?}");
    } else {
        let seen = pump(&mut running, Duration::from_secs(40), |_, s| {
            s.servers[0].waits.server().get(WaitClass::Cpu) >= 5
        })
        .await;
        assert!(seen, "{:?}", running.store.servers[0].waits.server());
    }
    cancel
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("cancel");
    let _ = task.await;
    drop(running);
}
