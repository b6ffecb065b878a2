//! Live test of the forecasts (vacuum: xid consumption per database and the time to the
//! wraparound stop; replication: a slot's WAL growth and the time until its safe_wal_size
//! runs out), through the whole pipeline: workers, model, alerts, snapshot JSON.
//!
//! On a cluster of its own: the shared one consumes xids and WAL at the pace of the other
//! tests, which would make the true rates unknowable. Autovacuum is off there, so
//! `datfrozenxid` stays put and the age grows exactly with the xids consumed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pgvitals::cluster::{Cluster, ClusterOptions, Node};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::areas::vacuum::{MIN_WINDOW_S, xid_stop_age};
use pgvitals::model::{Severity, Store, snapshot};
use pgvitals::sample::{DatabaseAge, Rule, Slot};

use crate::common::{connect, pump};

const SLOT: &str = "forecast_slot";

async fn own_cluster() -> Cluster {
    let options = ClusterOptions {
        extra_conf: vec!["autovacuum = off".to_string()],
        ..ClusterOptions::default()
    };
    tokio::task::spawn_blocking(move || Cluster::start(options))
        .await
        .expect("cluster task")
        .unwrap_or_else(|e| panic!("cannot start a cluster: {e}"))
}

/// The current xid (consuming one) and the server clock, epoch seconds.
async fn xid_now(client: &tokio_postgres::Client, xid_fn: &str) -> (i64, f64) {
    let row = client
        .query_one(
            &format!("SELECT {xid_fn}, extract(epoch FROM clock_timestamp())::float8"),
            &[],
        )
        .await
        .expect("current xid");
    (row.get(0), row.get(1))
}

/// The current WAL position in bytes and the server clock.
async fn wal_now(client: &tokio_postgres::Client) -> (i64, f64) {
    let row = client
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8, \
                    extract(epoch FROM clock_timestamp())::float8",
            &[],
        )
        .await
        .expect("current WAL position");
    (row.get(0), row.get(1))
}

fn database<'a>(store: &'a Store, datname: &str) -> Option<&'a DatabaseAge> {
    store.servers[0]
        .vacuum()?
        .databases
        .iter()
        .find(|d| d.datname == datname)
}

fn slot(store: &Store) -> Option<&Slot> {
    store.servers[0]
        .replication()?
        .slots
        .iter()
        .find(|s| s.slot_name == SLOT)
}

fn within(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance * want.abs()
}

/// Consumes xids and writes WAL at a steady pace until `stop`: every 100 ms, 20
/// transactions of one statement each (`BEGIN; ...; COMMIT`: the statements of one simple
/// query would otherwise share one implicit transaction, and one xid), 5 of them inserting
/// 10 kB.
async fn spawn_load(
    node: &Node,
    xid_fn: &str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let batch: String = (0..20)
        .map(|i| {
            if i % 4 == 0 {
                "BEGIN; INSERT INTO forecast_wal SELECT repeat('x', 1000) FROM generate_series(1, 10); COMMIT;"
                    .to_string()
            } else {
                format!("BEGIN; SELECT {xid_fn}; COMMIT;")
            }
        })
        .collect();
    let client = connect(node, "postgres").await;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            client
                .batch_execute(&batch)
                .await
                .expect("the load's batch");
        }
    })
}

/// xid consumed at a steady, measured rate: the vacuum area estimates until its window spans
/// a minute, then its `xid_per_s` is within 20 % of the true rate and `xid_wraparound_eta_s`
/// is the distance to this major's stop age over that rate; a slot held inactive while WAL
/// is written grows at the WAL rate and (13+, with max_slot_wal_keep_size) its safe_wal_size
/// runs out at `invalidation_eta_s`, within the hour: a critical `slot_invalidation_eta`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xid_consumption_and_slot_growth_forecast_the_time_left() {
    let cluster = own_cluster().await;
    let node = &cluster.primary;
    let major = node.major();
    let xid_fn = if major >= 13 {
        "pg_current_xact_id()::text::int8"
    } else {
        "txid_current()"
    };
    let admin = connect(node, "postgres").await;
    admin
        .batch_execute(&format!(
            "CREATE TABLE forecast_wal (v text); \
             SELECT pg_create_physical_replication_slot('{SLOT}', true)"
        ))
        .await
        .expect("table and slot");
    if major >= 13 {
        for sql in [
            "ALTER SYSTEM SET max_slot_wal_keep_size = '1GB'",
            "SELECT pg_reload_conf()",
        ] {
            admin.batch_execute(sql).await.expect(sql);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (xid_start, xid_t0) = xid_now(&admin, xid_fn).await;
    let (wal_start, wal_t0) = wal_now(&admin).await;
    let load = spawn_load(node, xid_fn, Arc::clone(&stop)).await;

    let config = Config {
        interval: Duration::from_millis(500),
        ..Config::default()
    };
    let spec = ConnSpec::parse(&node.conninfo("postgres")).expect("spec");
    let mut running = pgvitals::app::start_workers(&[spec], &config).expect("workers");
    // every vacuum sample of database postgres until its rate (and the slot's, 13+) exists:
    // (collected_at, xid_per_s) in order
    let mut seen: Vec<(f64, Option<f64>)> = Vec::new();
    let done = pump(&mut running, Duration::from_secs(150), |_, store| {
        let Some(d) = database(store, "postgres") else {
            return false;
        };
        let at = store.servers[0].vacuum().map_or(0.0, |v| v.collected_at);
        if seen.last().is_none_or(|(t, _)| *t != at) {
            seen.push((at, d.xid_per_s));
        }
        let slot_ready = slot(store).is_some_and(|s| {
            s.retained_wal_per_s.is_some() && (major < 13 || s.invalidation_eta_s.is_some())
        });
        d.xid_per_s.is_some() && slot_ready
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    load.await.expect("the load task");
    let (xid_end, xid_t1) = xid_now(&admin, xid_fn).await;
    let (wal_end, wal_t1) = wal_now(&admin).await;
    assert!(done, "no forecast within 150 s: {seen:?}");

    // estimating until the window spans a minute of the server's clock
    let (first_at, _) = seen[0];
    for (at, rate) in &seen {
        if *at - first_at < MIN_WINDOW_S {
            assert_eq!(*rate, None, "a rate after {}s: {seen:?}", at - first_at);
        }
    }
    let store = &running.store;
    let vac = store.servers[0].vacuum().expect("a vacuum sample");
    let d = database(store, "postgres").expect("database postgres");
    let true_rate = (xid_end - xid_start) as f64 / (xid_t1 - xid_t0);
    let rate = d.xid_per_s.expect("xid_per_s");
    assert!(
        true_rate > 100.0,
        "the load consumed {true_rate:.0} xid/s only"
    );
    assert!(
        within(rate, true_rate, 0.2),
        "xid_per_s {rate:.1} against the true {true_rate:.1} ({} xids in {:.1}s)",
        xid_end - xid_start,
        xid_t1 - xid_t0
    );
    eprintln!(
        "forecast (PostgreSQL {major}): xid_per_s {rate:.1}, true {true_rate:.1}; window from {:.1}s after the first sample",
        seen.iter()
            .find(|(_, r)| r.is_some())
            .map_or(0.0, |(at, _)| at - first_at)
    );
    let stop_age = xid_stop_age(vac.server_version_num);
    assert_eq!(
        stop_age,
        if major >= 14 {
            2_144_483_647
        } else {
            2_146_483_647
        },
        "server_version_num {}",
        vac.server_version_num
    );
    let eta = d.xid_wraparound_eta_s.expect("xid_wraparound_eta_s");
    let want = (stop_age - d.xid_age) as f64 / true_rate;
    assert!(
        within(eta, want, 0.2),
        "xid_wraparound_eta_s {eta:.0} against {want:.0}"
    );
    assert!(within(eta, (stop_age - d.xid_age) as f64 / rate, 1e-9));
    let freeze = d
        .xid_freeze_max_age_eta_s
        .expect("xid_freeze_max_age_eta_s");
    let want = (vac.autovacuum_freeze_max_age - d.xid_age) as f64 / rate;
    assert!(within(freeze, want, 1e-9), "{freeze} against {want}");
    // no multixact is consumed: a rate of 0 and no ETA, never an infinite one
    assert_eq!(d.mxid_per_s, Some(0.0), "{d:?}");
    assert_eq!(d.mxid_wraparound_eta_s, None);
    // months away: no wraparound alert
    let alerts = &store.servers[0].alerts;
    assert!(
        !alerts
            .active
            .values()
            .any(|a| a.alert.rule == Rule::XidWraparoundEta),
        "{:?}",
        alerts.active
    );

    // the slot: inactive, its restart_lsn fixed, it retains every byte written since
    let s = slot(store).expect("the slot");
    let wal_rate = (wal_end - wal_start) as f64 / (wal_t1 - wal_t0);
    let growth = s.retained_wal_per_s.expect("retained_wal_per_s");
    eprintln!(
        "forecast: retained_wal_per_s {growth:.0}, WAL written {wal_rate:.0} B/s; invalidation_eta_s {:?}",
        s.invalidation_eta_s
    );
    assert!(
        within(growth, wal_rate, 0.2),
        "retained_wal_per_s {growth:.0} against the WAL written {wal_rate:.0} B/s"
    );
    if major >= 13 {
        let shrink = s.safe_wal_size_per_s.expect("safe_wal_size_per_s");
        assert!(
            within(shrink, wal_rate, 0.2),
            "safe_wal_size_per_s {shrink:.0} against {wal_rate:.0} B/s"
        );
        let safe = s.safe_wal_size_bytes.expect("safe_wal_size_bytes");
        let lost_in = s.invalidation_eta_s.expect("invalidation_eta_s");
        assert!(within(lost_in, safe as f64 / shrink, 1e-9), "{s:?}");
        // 1 GB at a few hundred kB/s: well within the hour
        assert!(lost_in < 3600.0, "{lost_in}");
        let sev = alerts
            .active
            .values()
            .find(|a| a.alert.rule == Rule::SlotInvalidationEta)
            .map(|a| a.alert.severity);
        assert_eq!(sev, Some(Severity::Critical), "{:?}", alerts.active);
    } else {
        assert_eq!(s.invalidation_eta_s, None, "12: no safe_wal_size");
    }

    // the JSON of `pgvitals snapshot` carries the forecasts under the same names
    let json = snapshot::server_json(&store.servers[0]);
    let dbs = json["vacuum"]["databases"]
        .as_array()
        .expect("vacuum.databases");
    let pg = dbs
        .iter()
        .find(|d| d["datname"] == "postgres")
        .expect("postgres in the JSON");
    assert_eq!(pg["xid_per_s"].as_f64(), Some(rate));
    assert_eq!(pg["xid_wraparound_eta_s"].as_f64(), Some(eta));
    assert!(pg.get("xid_marks").is_none(), "{pg}");
    let slots = json["replication"]["slots"].as_array().expect("slots");
    assert_eq!(slots[0]["retained_wal_per_s"].as_f64(), Some(growth));
}
