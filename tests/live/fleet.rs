//! Many servers (issue 12): 20 watched servers, some down, through the real workers and the
//! real screen: the fleet lists them worst first, and a paused standby is shown paused from
//! its primary's side too (both ends of the hop are watched), in the panel and the JSON.

use std::time::{Duration, SystemTime};

use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::sample::ServerRole;
use pgvitals::tui::state::{Tab, UiState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::common::{connect, pump};

fn screen(store: &pgvitals::model::Store, ui: &UiState, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal
        .draw(|f| pgvitals::tui::draw(f, store, ui, SystemTime::now()))
        .expect("draw");
    let buf = terminal.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_servers_some_down_and_a_paused_standby_seen_from_its_primary() {
    let cluster = crate::common::own_primary_and_standby().await;
    let p = &cluster.primary;
    let s = cluster.standby.as_ref().expect("a standby");
    // 8 databases on the primary, the same 8 on the standby, and 4 servers nobody listens
    // for: 20
    for i in 1..=8 {
        p.psql("postgres", &format!("CREATE DATABASE fleet{i}"))
            .expect("database");
    }
    // the standby has every database before its replay is paused
    assert!(
        crate::common::wait_until(Duration::from_secs(30), || {
            s.psql(
                "postgres",
                "SELECT count(*) FROM pg_database WHERE datname LIKE 'fleet%'",
            )
            .is_ok_and(|n| n.trim() == "8")
        }),
        "the standby never replayed the databases"
    );
    let standby = connect(s, "postgres").await;
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    p.psql(
        "postgres",
        "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
    )
    .expect("WAL the paused standby does not replay");
    let mut specs: Vec<ConnSpec> = Vec::new();
    for i in 1..=8 {
        let name = format!("p{i}");
        specs.push(
            ConnSpec::parse(&p.conninfo(&format!("fleet{i}")))
                .expect("spec")
                .named(Some(name)),
        );
    }
    for i in 1..=8 {
        specs.push(
            ConnSpec::parse(&s.conninfo(&format!("fleet{i}")))
                .expect("spec")
                .named(Some(format!("s{i}"))),
        );
    }
    for i in 1..=4 {
        let port = pgvitals::cluster::free_port().expect("a free port");
        specs.push(
            ConnSpec::parse(&format!(
                "host=127.0.0.1 port={port} dbname=postgres user=postgres connect_timeout=2"
            ))
            .expect("spec")
            .named(Some(format!("gone{i}"))),
        );
    }
    let config = Config {
        interval: Duration::from_millis(500),
        ..Config::default()
    };
    let mut running = pgvitals::app::start_workers(&specs, &config).expect("workers");
    let ready = |store: &pgvitals::model::Store| {
        let down = store
            .servers
            .iter()
            .filter(|s| matches!(s.link, pgvitals::model::Link::Down { .. }))
            .count();
        let paused_seen = store.servers[..8].iter().enumerate().any(|(i, _)| {
            pgvitals::model::chain::hops_of(store, i)
                .iter()
                .any(|h| h.upstream == i && h.replay_paused && h.row.is_some())
        });
        let replicated = store.servers[..16]
            .iter()
            .all(|s| s.replication().is_some());
        down == 4 && paused_seen && replicated
    };
    let done = pump(&mut running, Duration::from_secs(60), |_, store| {
        ready(store)
    })
    .await;
    let store = &running.store;
    assert!(
        done,
        "not ready: {:?}",
        store
            .servers
            .iter()
            .map(|s| (s.label.clone(), s.link.clone(), s.role()))
            .collect::<Vec<_>>()
    );
    // every standby found its primary: the same system identifier, the sender's endpoint
    let hops = pgvitals::model::chain::hops(store);
    assert_eq!(hops.len(), 8, "{hops:?}");
    for h in &hops {
        assert_eq!(
            store.servers[h.downstream].role(),
            Some(ServerRole::Standby)
        );
        assert_eq!(store.servers[h.upstream].role(), Some(ServerRole::Primary));
        assert!(h.replay_paused, "{h:?}");
        assert!(h.replay_lag_bytes.is_some_and(|b| b > 1_000_000), "{h:?}");
        assert_eq!(h.disagreement, None, "{h:?}");
    }

    // the fleet, the first screen with 20 servers: the unreachable first
    let mut ui = UiState::new(false, false, Duration::from_millis(500));
    ui.first_tab(200, 60, store.servers.len());
    assert_eq!(ui.tab, Tab::Fleet);
    let text = screen(store, &ui, 200, 60);
    assert!(text.contains("Fleet: 20 servers, 4 unreachable"), "{text}");
    let first_row = text
        .lines()
        .skip_while(|l| !l.starts_with("│state"))
        .nth(1)
        .unwrap_or_default();
    assert!(first_row.contains("unreachable"), "worst first:\n{text}");
    for name in ["p1", "s8", "gone4"] {
        assert!(text.contains(name), "{name}:\n{text}");
    }

    // the primary's replication panel: its standby's row says PAUSED, the chain line too
    let mut ui = UiState::new(false, false, Duration::from_millis(500));
    ui.tab = Tab::Area(pgvitals::sample::Area::Replication);
    let primary_index = hops[0].upstream;
    ui.server = primary_index;
    let text = screen(store, &ui, 200, 60);
    assert!(text.contains("PAUSED"), "the primary's view:\n{text}");
    assert!(text.contains("chain: p"), "{text}");

    // and the JSON, from both ends
    let doc = pgvitals::model::snapshot::document(store);
    let chain = &doc[primary_index]["replication_chain"];
    assert!(
        chain
            .as_array()
            .is_some_and(|c| c.iter().any(|h| h["replay_paused"] == true)),
        "{chain}"
    );
    let _ = standby.batch_execute("SELECT pg_wal_replay_resume()").await;
}
