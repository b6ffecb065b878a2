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

/// The waits of an activity sample (what the dashboard's workers derive, one of the two
/// samples a second) are what the sampler's own query reads at the same moment: three
/// backends sleeping in one statement of their own show as one row of three on
/// `Timeout:PgSleep`, with the same `query_id` (14+); and the running workers still make
/// two samples a second at a 1 s interval although the sampler queries only on every other
/// tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waits_of_an_activity_sample_are_what_the_sampler_reads() {
    use pgvitals::collect::areas::activity::ActivityCollector;
    use pgvitals::collect::areas::waits::WaitsCollector;
    use pgvitals::sample::{ActiveWait, WaitsSample};

    let db = TempDatabase::create("waits_derived");
    let setup = connect(primary(), &db.0).await;
    // a function of this database: its own query_id, whatever other tests sleep on
    setup
        .batch_execute(
            "CREATE FUNCTION derived_probe() RETURNS void LANGUAGE sql \
             AS 'SELECT pg_sleep(120)'",
        )
        .await
        .expect("setup");
    let mut sleepers = Vec::new();
    let mut cancels = Vec::new();
    for _ in 0..3 {
        let c = connect(primary(), &db.0).await;
        cancels.push(c.cancel_token());
        sleepers.push(tokio::spawn(async move {
            let _ = c.batch_execute("SELECT derived_probe()").await;
            drop(c);
        }));
    }
    let m = crate::probe::monitor(primary(), &db.0).await;
    let major = m.facts.major();
    let watcher = connect(primary(), &db.0).await;
    let query_id = if major >= 14 {
        Some(query_id_of(&watcher, "SELECT derived_probe()", Some("Timeout")).await)
    } else {
        assert!(
            crate::common::wait_until_async(Duration::from_secs(20), || async {
                let n: i64 = watcher
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                         AND query = 'SELECT derived_probe()' AND wait_event = 'PgSleep'",
                        &[],
                    )
                    .await
                    .expect("count")
                    .get(0);
                n == 3
            })
            .await,
            "the three sleepers"
        );
        None
    };
    let ours = |w: &WaitsSample| -> Vec<ActiveWait> {
        w.waits
            .iter()
            .filter(|r| {
                r.wait_event.as_deref() == Some("PgSleep")
                    && (query_id.is_none() || r.query_id == query_id)
            })
            .cloned()
            .collect()
    };
    let mut activity = ActivityCollector::new();
    let mut waits = WaitsCollector::new();
    // twice: the activity collector's first poll reads in full, the second only what changed
    for poll in ["full read", "delta"] {
        let a = activity.collect(&m.ctx()).await.expect("activity");
        let w = waits.collect(&m.ctx()).await.expect("waits");
        let derived = WaitsSample::from_activity(&a, w.compute_query_id.clone());
        assert_eq!(derived.collected_at, a.collected_at);
        let sampled = ours(&w);
        assert_eq!(ours(&derived), sampled, "{poll}");
        assert_eq!(sampled.len(), 1, "{poll}: {sampled:?}");
        // (before 14 no query_id: other tests' sleepers count in the same row)
        if query_id.is_some() {
            assert_eq!(sampled[0].backends, 3, "{poll}: {sampled:?}");
        } else {
            assert!(sampled[0].backends >= 3, "{poll}: {sampled:?}");
        }
        assert_eq!(sampled[0].wait_event_type.as_deref(), Some("Timeout"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // the workers at 1 s: 2 samples a second, half of them from activity
    let config = Config {
        interval: Duration::from_secs(1),
        ..Config::default()
    };
    let mut running = pgvitals::app::start_workers(&[spec(&db.0)], &config).expect("workers");
    assert!(
        pump(&mut running, Duration::from_secs(20), |_, s| s.servers[0]
            .waits
            .samples()
            >= 2)
        .await,
        "first samples"
    );
    // the queries of the workers in this database (pg_stat_statements is preloaded)
    let stats = connect(primary(), "postgres").await;
    let calls = |pattern: &'static str| {
        let stats = &stats;
        let db = db.0.clone();
        async move {
            let n: i64 = stats
                .query_one(
                    "SELECT coalesce(sum(s.calls), 0)::int8 FROM pg_stat_statements s \
                     JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 \
                     AND s.query LIKE $2",
                    &[&db, &pattern],
                )
                .await
                .expect("pg_stat_statements")
                .get(0);
            n
        }
    };
    let first = running.store.servers[0].waits.samples();
    let (sampler_before, activity_before) =
        (calls("%took_s%").await, calls("%pg_blocking_pids%").await);
    let started = std::time::Instant::now();
    pump(&mut running, Duration::from_secs(6), |_, _| false).await;
    let made = running.store.servers[0].waits.samples() - first;
    let sampler = calls("%took_s%").await - sampler_before;
    let activity = calls("%pg_blocking_pids%").await - activity_before;
    let per_s = made as f64 / started.elapsed().as_secs_f64();
    // 2 a second; one fewer a second than that would be the sampler alone
    assert!(per_s >= 1.5, "{made} samples in {:?}", started.elapsed());
    // the sampler queried about once per activity poll, not twice
    assert!(activity >= 4, "{activity} activity polls");
    assert!(
        sampler <= activity + 2,
        "{sampler} sampler queries, {activity} activity polls, {made} samples"
    );
    let server = &running.store.servers[0];
    if let Some(q) = query_id {
        let profile = server
            .waits
            .of_query(q)
            .copied()
            .expect("the sleepers' profile");
        assert!(
            profile.total() >= 3 * made as u64 / 2,
            "{profile:?} in {made}"
        );
    }
    drop(running);
    for c in cancels {
        let _ = c.cancel_query(tokio_postgres::NoTls).await;
    }
    for s in sleepers {
        let _ = s.await;
    }
}
