//! Rendering tests of the dashboard on ratatui's `TestBackend`: samples built here are fed
//! through `Store::apply` (so the real rates and alerts run), drawn at 80x24 and 160x48, and
//! checked for content, cell styles (alert colours), in-place explanations of missing data,
//! hostile server text, tiny sizes and key handling.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgvitals::config::Thresholds;
use pgvitals::model::Store;
use pgvitals::sample::*;
use pgvitals::sample::{
    Area, CollectError, Command, ErrorKind, LinkEvent, PgssInfo, Sample, ServerFacts, Update,
};
use pgvitals::tui::draw;
use pgvitals::tui::state::{Action, Tab, UiState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

fn t0() -> SystemTime {
    // 22:13:20 UTC
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}

fn facts() -> ServerFacts {
    ServerFacts {
        backend_pid: 4242,
        pgss: Some(PgssInfo {
            schema: "public".into(),
            version: (1, 10),
            default_version: None,
        }),
        ..ServerFacts::example("monitor", true)
    }
}

fn apply(store: &mut Store, server: usize, sample: Sample, when: SystemTime) {
    store.apply(
        Update::Sample {
            server,
            sample: Box::new(sample),
            at: when,
            took: std::time::Duration::ZERO,
        },
        when,
    );
}

fn session(pid: i32, user: &str, state: &str, age: f64, query: &str) -> Session {
    Session {
        pid,
        usename: Some(user.into()),
        datname: Some("shop".into()),
        application_name: "app".into(),
        client_addr: Some("10.0.0.7".into()),
        backend_type: "client backend".into(),
        state: Some(state.into()),
        query_age_s: Some(age).into(),
        state_age_s: Some(age).into(),
        xact_age_s: Some(age).into(),
        backend_age_s: Some(age + 100.0).into(),
        query: query.into(),
        ..Default::default()
    }
}

fn activity(sessions: Vec<Session>) -> Sample {
    Sample::Activity(ActivitySample {
        collected_at: 1002.0,
        max_connections: 100,
        usable_connections: 97,
        client_backends: 90,
        states: vec![
            StateCount {
                state: "active".into(),
                count: 4,
            },
            StateCount {
                state: "idle in transaction".into(),
                count: 1,
            },
        ],
        waiting_on_lock: 2,
        sessions,
    })
}

fn default_sessions() -> Vec<Session> {
    let mut blocked = session(
        102,
        "bob",
        "active",
        45.0,
        "UPDATE stock SET n = n - 1 WHERE id = 7",
    );
    blocked.wait_event_type = Some("Lock".into());
    blocked.wait_event = Some("transactionid".into());
    blocked.blocked_by = vec![101];
    let mut behind = session(
        103,
        "carol",
        "active",
        20.0,
        "DELETE FROM stock WHERE id = 7",
    );
    behind.wait_event_type = Some("Lock".into());
    behind.wait_event = Some("tuple".into());
    behind.blocked_by = vec![102];
    let mut av = session(
        105,
        "postgres",
        "active",
        30.0,
        "autovacuum: VACUUM public.orders",
    );
    av.backend_type = "autovacuum worker".into();
    av.application_name = String::new();
    av.client_addr = None;
    // which application holds the lock: the first question in an incident
    let mut holder = session(
        101,
        "alice",
        "idle in transaction",
        700.0,
        "UPDATE stock SET n = 0 WHERE id = 7",
    );
    holder.application_name = "billing-nightly-batch".into();
    holder.client_addr = Some("2001:db8:85a3::8a2e:370:7334".into());
    holder.query_id = Some(-4_242_424_242).into();
    blocked.query_id = Some(2).into();
    let mut dave = session(104, "dave", "active", 2.0, "SELECT now()");
    dave.application_name = "psql".into();
    dave.client_addr = None;
    vec![
        holder,
        blocked,
        behind,
        dave,
        av,
        // a background process: not listed
        Session {
            pid: 50,
            backend_type: "checkpointer".into(),
            ..Default::default()
        },
    ]
}

fn statement(queryid: i64, query: Option<&str>, calls: i64, total_ms: f64, read: i64) -> Statement {
    Statement {
        userid: 10,
        dbid: 5,
        queryid,
        toplevel: true,
        usename: Some("app".into()),
        datname: Some("shop".into()),
        calls,
        total_exec_time_ms: total_ms,
        mean_exec_time_ms: total_ms / calls as f64,
        rows: calls * 2,
        shared_blks_hit: calls * 10,
        shared_blks_read: read,
        query: query.map(Arc::from),
        ..Default::default()
    }
}

/// The I/O, WAL, JIT and planning counters of a statement (pg_stat_statements 1.10 has
/// them all): shared block read / write time, temp block read / write time, WAL bytes,
/// records and full-page images, JIT time, planning time (milliseconds, bytes, counts).
#[allow(clippy::too_many_arguments)]
fn with_io(
    s: Statement,
    read_ms: f64,
    write_ms: f64,
    temp_read_ms: f64,
    temp_write_ms: f64,
    wal_bytes: i64,
    wal_records: i64,
    wal_fpi: i64,
    jit_ms: f64,
    plan_ms: f64,
) -> Statement {
    Statement {
        shared_blk_read_time_ms: read_ms.into(),
        shared_blk_write_time_ms: write_ms.into(),
        temp_blk_read_time_ms: temp_read_ms.into(),
        temp_blk_write_time_ms: temp_write_ms.into(),
        wal_bytes: wal_bytes.into(),
        wal_records: wal_records.into(),
        wal_fpi: wal_fpi.into(),
        jit_time_ms: jit_ms.into(),
        total_plan_time_ms: plan_ms.into(),
        ..s
    }
}

fn statements(collected_at: f64, list: Vec<Statement>) -> Sample {
    Sample::Statements(StatementsSample {
        collected_at,
        extension_version: "1.10".into(),
        extension_schema: "public".into(),
        stats_reset: Some(0.0),
        dealloc: Some(0),
        notice: None,
        statements: list,
    })
}

fn cache(collected_at: f64, hit: i64, read: i64) -> Sample {
    Sample::Cache(CacheSample {
        collected_at,
        databases: vec![DatabaseCache {
            datname: "shop".into(),
            blks_hit: hit,
            blks_read: read,
            hit_ratio: Some(hit as f64 / (hit + read) as f64),
            stats_reset: None,
            ..Default::default()
        }],
        tables_collected_at: Some(collected_at),
        tables_total: 1200,
        tables: vec![
            TableCache {
                relid: 1,
                schemaname: "public".into(),
                relname: "orders".into(),
                heap_blks_read: read / 2,
                heap_blks_hit: hit / 2,
                ..Default::default()
            },
            TableCache {
                relid: 2,
                schemaname: "public".into(),
                relname: "stock".into(),
                heap_blks_read: read / 4,
                heap_blks_hit: hit / 4,
                ..Default::default()
            },
        ],
    })
}

/// The replication sample at `collected_at`: a standby, and an inactive slot retaining
/// 64 MiB less `behind` bytes, its safe_wal_size 1 GiB plus `behind`.
fn replication(collected_at: f64, behind: i64) -> Sample {
    Sample::Replication(ReplicationSample {
        collected_at,
        role: ServerRole::Primary,
        current_wal_lsn: Some("0/3000148".into()),
        standbys: vec![Standby {
            pid: 77,
            application_name: "replica1".into(),
            client_addr: Some("10.0.0.9".into()),
            state: Some("streaming".into()),
            sync_state: Some("async".into()),
            replay_lag_bytes: Some(20 * 1024 * 1024),
            sent_lag_bytes: Some(0),
            flush_lag_bytes: Some(1024),
            replay_lag_s: Some(3.5),
            lag_state: LagState::Streaming,
            reply_age_s: Some(0.4),
            ..Default::default()
        }],
        slots: vec![Slot {
            slot_name: "old_slot".into(),
            slot_type: "physical".into(),
            active: false,
            retained_wal_bytes: Some(64 * 1024 * 1024 - behind),
            wal_status: Some("extended".into()),
            safe_wal_size_bytes: Some(1024 * 1024 * 1024 + behind),
            ..Default::default()
        }],
        standby_status: None,
    })
}

/// The vacuum sample at `collected_at`, with the xid age of shop and of postgres.
fn vacuum(collected_at: f64, shop_xid_age: i64, postgres_xid_age: i64) -> Sample {
    Sample::Vacuum(VacuumSample {
        collected_at,
        autovacuum_freeze_max_age: 200_000_000,
        autovacuum_multixact_freeze_max_age: 400_000_000,
        autovacuum_max_workers: 3,
        server_version_num: 150018,
        databases: vec![
            DatabaseAge {
                datname: "shop".into(),
                xid_age: shop_xid_age,
                mxid_age: 1000,
                xid_freeze_max_age_pct: 750.0,
                xid_wraparound_pct: 69.8,
                mxid_freeze_max_age_pct: 0.0,
                mxid_wraparound_pct: 0.0,
                ..Default::default()
            },
            DatabaseAge {
                datname: "postgres".into(),
                xid_age: postgres_xid_age,
                ..Default::default()
            },
        ],
        oldest_tables: vec![TableAge {
            schemaname: "public".into(),
            relname: "orders".into(),
            xid_age: 1_400_000_000,
            mxid_age: 10,
            table_size_bytes: 100 * 1024 * 1024,
        }],
        dead_tuples: vec![TableDeadTuples {
            schemaname: "public".into(),
            relname: "big".into(),
            n_live_tup: 40_000,
            n_dead_tup: 60_000,
            dead_tup_ratio: Some(0.6),
            last_autovacuum_age_s: Some(7200.0),
            ..Default::default()
        }],
        workers: vec![VacuumProgress {
            pid: 105,
            datname: Some("shop".into()),
            relname: Some("public.orders".into()),
            phase: "scanning heap".into(),
            is_autovacuum: true,
            running_s: Some(30.0),
            heap_blks_total: 100,
            heap_blks_scanned: 45,
            scanned_ratio: Some(0.45),
            ..Default::default()
        }],
        xmin_horizon: vec![XminHolder {
            kind: "backend_xmin".into(),
            name: "101".into(),
            xmin_age: 12_345,
            detail: "alice@shop idle in transaction for 11m40s".into(),
        }],
    })
}

/// A primary with something in every area: alerts of both severities included.
fn populated(servers: usize) -> Store {
    let labels = (0..servers)
        .map(|i| format!("db{i}.example:5432/shop"))
        .collect();
    let mut store = Store::new(
        labels,
        Thresholds::default(),
        Duration::from_secs(2),
        Duration::from_secs(60),
        t0(),
    );
    store.apply(
        Update::Link {
            server: 0,
            event: LinkEvent::Connected(Box::new(facts())),
            at: t0(),
        },
        t0(),
    );
    for (i, (collected, commit)) in [(1000.0, 10_000), (1002.0, 10_400)].into_iter().enumerate() {
        apply(
            &mut store,
            0,
            Sample::Server(ServerSample {
                collected_at: collected,
                server_version: "15.18 (Debian 15.18-0+deb12u1)".into(),
                server_version_num: 150018,
                uptime_s: 3.0 * 86400.0 + 4.0 * 3600.0,
                datname: "shop".into(),
                max_connections: 100,
                superuser_reserved_connections: 3,
                xact_commit: commit,
                track_io_timing: Some(true),
                ..Default::default()
            }),
            at(i as u64 * 2),
        );
    }
    apply(&mut store, 0, activity(default_sessions()), at(2));
    apply(
        &mut store,
        0,
        statements(
            1000.0,
            vec![
                with_io(
                    statement(
                        1,
                        Some("SELECT * FROM orders WHERE id = $1"),
                        1000,
                        500.0,
                        10,
                    ),
                    1.0,
                    0.0,
                    0.0,
                    0.0,
                    0,
                    0,
                    0,
                    0.0,
                    20.0,
                ),
                with_io(
                    statement(2, Some("UPDATE stock SET n = n - $1"), 10, 10_000.0, 100),
                    5.0,
                    2.0,
                    0.0,
                    0.0,
                    100_000,
                    100,
                    1,
                    0.0,
                    10.0,
                ),
            ],
        ),
        at(0),
    );
    apply(
        &mut store,
        0,
        statements(
            1002.0,
            vec![
                // 2 s later: 0.3 ms/s of reads, 3 ms/s of temp reads, 2 ms/s of planning,
                // no WAL; an interval mean of 500 µs
                with_io(
                    statement(
                        1,
                        Some("SELECT * FROM orders WHERE id = $1"),
                        1200,
                        600.0,
                        30,
                    ),
                    1.6,
                    0.0,
                    6.0,
                    0.0,
                    0,
                    0,
                    0,
                    0.0,
                    24.0,
                ),
                // 40 µs/s of reads, 4 ms/s of writes, 25,000 B/s of WAL (25 records/s, one
                // full-page image/s), 15 ms/s of JIT, 1 ms/s of planning
                with_io(
                    statement(2, Some("UPDATE stock SET n = n - $1"), 12, 14_000.0, 100),
                    5.08,
                    10.0,
                    0.0,
                    0.0,
                    150_000,
                    150,
                    3,
                    30.0,
                    12.0,
                ),
                statement(
                    3,
                    Some("DELETE FROM logs WHERE at < now() - interval '1 day'"),
                    5,
                    99_999.0,
                    7,
                ),
            ],
        ),
        at(2),
    );
    apply(&mut store, 0, cache(1000.0, 1000, 100), at(0));
    apply(&mut store, 0, cache(1002.0, 3000, 500), at(2));
    // ten minutes earlier (delivered together): the window of the slot's forecasts; without
    // the standby, so that the replay lag history keeps one point
    let mut earlier = replication(402.0, 600 * 16 * 1024);
    if let Sample::Replication(r) = &mut earlier {
        r.standbys.clear();
    }
    apply(&mut store, 0, earlier, at(2));
    apply(&mut store, 0, replication(1002.0, 0), at(2));
    apply(
        &mut store,
        0,
        Sample::UnusedIndexes(UnusedIndexesSample {
            collected_at: 1002.0,
            stats_reset_age_s: Some(3.0 * 86400.0),
            indexes: vec![
                UnusedIndex {
                    indexrelid: 1,
                    schemaname: "public".into(),
                    relname: "orders".into(),
                    indexrelname: "orders_note_idx".into(),
                    index_size_bytes: 8 * 1024 * 1024,
                    table_size_bytes: 100 * 1024 * 1024,
                    is_valid: true,
                    ..Default::default()
                },
                UnusedIndex {
                    indexrelid: 2,
                    schemaname: "public".into(),
                    relname: "stock".into(),
                    indexrelname: "stock_broken_idx".into(),
                    index_size_bytes: 16 * 1024,
                    table_size_bytes: 1024 * 1024,
                    is_valid: false,
                    ..Default::default()
                },
            ],
            indexes_total: 3,
            index_size_bytes_total: 9 * 1024 * 1024,
            skipped_locked: 0,
        }),
        at(2),
    );
    // ten minutes earlier (delivered together): the window of the forecasts; shop
    // consumed 120 xid/s and no multixact, postgres was frozen since (estimating again)
    apply(
        &mut store,
        0,
        vacuum(402.0, 1_500_000_000 - 600 * 120, 900_000),
        at(2),
    );
    apply(&mut store, 0, vacuum(1002.0, 1_500_000_000, 1000), at(2));
    // WAL: two samples 2 s apart, 8 MiB written in between; the archiver fails since a
    // success 10 minutes ago; 9 of 12 checkpoints in the window were requested
    for (i, at_s) in [1000.0, 1002.0].into_iter().enumerate() {
        apply(
            &mut store,
            0,
            Sample::Wal(WalSample {
                collected_at: at_s,
                wal_lsn: Some(format!("0/{:X}", 0x1000000 + i * 0x800000)),
                wal_lsn_bytes: Some(0x1000000 + i as i64 * 0x800000),
                wal_records: Some(1000 + i as i64 * 20_000),
                wal_fpi: Some(10 + i as i64 * 400),
                wal_bytes: Some(0x1000000 + i as i64 * 0x800000),
                wal_buffers_full: Some(0),
                wal_stats_reset: Some(100.0),
                num_timed: 3,
                num_requested: 9,
                write_time_ms: 1500.0,
                sync_time_ms: 20.0,
                buffers_written: 4321,
                checkpointer_stats_reset: Some(100.0),
                archived_count: 41,
                last_archived_wal: Some("000000010000000000000041".into()),
                last_archived_time: Some(at_s - 600.0),
                failed_count: 7,
                last_failed_wal: Some("000000010000000000000042".into()),
                last_failed_time: Some(at_s - 5.0),
                archiver_stats_reset: Some(100.0),
                archive_mode: "on".into(),
                archive_command_set: Some(true),
                ..Default::default()
            }),
            at(1 + i as u64),
        );
    }
    // the wait profile: seven samples a second apart; the UPDATE waits on a lock in 5 of
    // its 7 backend-samples (Lock 71%), the SELECT runs on CPU in 3 of 4 (CPU 75%)
    for i in 0..7 {
        let mut waits = Vec::new();
        if i < 5 {
            waits.push(wait(2, Some(("Lock", "transactionid"))));
        } else {
            waits.push(wait(2, None));
        }
        if i == 0 {
            waits.push(wait(1, Some(("IO", "DataFileRead"))));
        } else if i >= 4 {
            waits.push(wait(1, None));
        }
        apply(
            &mut store,
            0,
            Sample::Waits(WaitsSample {
                collected_at: 996.0 + f64::from(i),
                compute_query_id: Some("auto".into()),
                waits,
            }),
            at(2),
        );
    }
    store
}

/// One active backend of statement `queryid`, waiting on (type, event) or on CPU.
fn wait(queryid: i64, on: Option<(&str, &str)>) -> ActiveWait {
    ActiveWait {
        query_id: Some(queryid),
        wait_event_type: on.map(|(t, _)| t.to_string()),
        wait_event: on.map(|(_, e)| e.to_string()),
        backends: 1,
    }
}

fn now() -> SystemTime {
    at(3)
}

fn render(store: &Store, ui: &UiState, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| draw(f, store, ui, now())).expect("draw");
    terminal.backend().buffer().clone()
}

fn lines(buf: &Buffer) -> Vec<String> {
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            // a double-width character covers the next cell: skip it
            let mut line = String::new();
            let mut x = 0;
            while x < area.width {
                let sym = buf[(x, y)].symbol();
                line.push_str(sym);
                x += unicode_width::UnicodeWidthStr::width(sym).max(1) as u16;
            }
            line
        })
        .collect()
}

fn screen(buf: &Buffer) -> String {
    lines(buf)
        .iter()
        .map(|l| l.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// (x, y) of the first cell where `needle` starts, on a line that also contains `with`.
fn find(buf: &Buffer, needle: &str, with: &str) -> Option<(u16, u16)> {
    for (y, line) in lines(buf).iter().enumerate() {
        if !line.contains(with) {
            continue;
        }
        // cells hold one grapheme each (wide ones followed by a blank cell): match on cells
        let cells: Vec<String> = (0..buf.area.width)
            .map(|x| buf[(x, y as u16)].symbol().to_string())
            .collect();
        for x in 0..cells.len() {
            let mut s = String::new();
            for c in &cells[x..] {
                s.push_str(c);
                if s.len() >= needle.len() {
                    break;
                }
            }
            if s.starts_with(needle) {
                return Some((x as u16, y as u16));
            }
        }
    }
    None
}

fn ui(color: bool) -> UiState {
    UiState::new(false, color, Duration::from_secs(2))
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(ui: &mut UiState, store: &Store, code: KeyCode) -> Action {
    ui.handle_key(key(code), store)
}

const TABS: [(Tab, &str); 10] = [
    (Tab::Overview, "overview"),
    (Tab::Area(Area::Activity), "activity"),
    (Tab::Area(Area::Statements), "statements"),
    (Tab::Area(Area::Cache), "cache"),
    (Tab::Area(Area::Replication), "replication"),
    (Tab::Area(Area::UnusedIndexes), "unused_indexes"),
    (Tab::Area(Area::Vacuum), "vacuum"),
    (Tab::Area(Area::Wal), "wal"),
    (Tab::Alerts, "alerts"),
    (Tab::Fleet, "fleet"),
];

#[test]
fn every_panel_at_80x24_and_160x48() {
    let store = populated(1);
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        for (tab, name) in TABS {
            let mut u = ui(true);
            u.tab = tab;
            let buf = render(&store, &u, w, h);
            let text = screen(&buf);
            // the header names the server and its state everywhere
            assert!(
                text.contains("db0.example:5432/shop"),
                "{name} {w}x{h}:\n{text}"
            );
            assert!(text.contains("primary 15.18"), "{name} {w}x{h}:\n{text}");
            let expect: &[&str] = match tab {
                Tab::Area(Area::Activity) => &[
                    "Lock tree",
                    "101",
                    "102",
                    "103",
                    "idle in xact",
                    "UPDATE stock",
                ],
                Tab::Area(Area::Statements) => &["UPDATE stock SET n = n - $1", "2.0s/s", "100/s"],
                Tab::Area(Area::Cache) => &["shop", "83.3%", "public.orders"],
                // the slot's growth and time to invalidation, over the window of samples
                Tab::Area(Area::Replication) => &[
                    "replica1",
                    "20 MiB",
                    "old_slot",
                    "64 MiB",
                    "+16 KiB/s",
                    "lost in",
                    "18h12m",
                ],
                Tab::Area(Area::UnusedIndexes) => {
                    &["orders_note_idx", "8 MiB", "INVALID", "reset 3d00h ago"]
                }
                // shop's consumption and time left; postgres was frozen since the first
                // sample: estimating again
                Tab::Area(Area::Vacuum) => &[
                    "shop xid 1.50G 69.8%",
                    "+120 xid/s",
                    "stop in 62d03h",
                    "+0 mxid/s",
                    "xid/s estimating…",
                    "public.big",
                    "scanning heap",
                    "backend_xmin",
                ],
                Tab::Area(Area::Wal) => &[
                    "WAL written 4 MiB/s",
                    "records 10.0k/s",
                    "FAILING: nothing archived for",
                    "000000010000000000000042",
                ],
                Tab::Alerts => &["CRITICAL", "idle in transaction"],
                Tab::Overview => &["1 Activity", "7 WAL", "8 Alerts"],
                Tab::Fleet => &["Fleet: 1 server,", "critical", "primary"],
                Tab::Area(Area::Server | Area::Waits) => unreachable!("no tab"),
            };
            for e in expect {
                assert!(text.contains(e), "{name} {w}x{h} lacks {e:?}:\n{text}");
            }
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
        }
    }
}

#[test]
fn rows_of_an_alert_are_coloured_and_not_without_colour() {
    let store = populated(1);
    // pid 101 is idle in transaction for 700 s: critical
    let buf = render(&store, &ui(true), 80, 24);
    let (x, y) = find(&buf, "idle in xact", "101").expect("row of pid 101");
    assert_eq!(buf[(x, y)].fg, Color::Red, "critical row is red");
    // pid 102 waits on a lock for 45 s: warning
    let (x, y) = find(&buf, "bob@shop", "102").expect("row of pid 102");
    assert_eq!(buf[(x, y)].fg, Color::Yellow, "warning row is yellow");
    // pid 104 is fine
    let (x, y) = find(&buf, "dave@shop", "104").expect("row of pid 104");
    assert_eq!(buf[(x, y)].fg, Color::Reset);

    let buf = render(&store, &ui(false), 80, 24);
    let (x, y) = find(&buf, "idle in xact", "101").expect("row of pid 101");
    assert_ne!(buf[(x, y)].fg, Color::Red);
    assert_eq!(
        buf[(x, y)].fg,
        Color::Reset,
        "no colour at all with NO_COLOR"
    );
    assert!(
        buf[(x, y)].modifier.contains(Modifier::BOLD),
        "but still marked"
    );
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            assert_eq!(buf[(x, y)].fg, Color::Reset, "colour at {x},{y}");
            assert_eq!(buf[(x, y)].bg, Color::Reset, "colour at {x},{y}");
        }
    }
}

#[test]
fn header_shouts_when_anything_is_critical() {
    let store = populated(1);
    let buf = render(&store, &ui(true), 80, 24);
    let (x, y) = find(&buf, "CRITICAL", "CRITICAL").expect("summary");
    assert!(y < 4, "in the header");
    assert_eq!(buf[(x, y)].bg, Color::Red);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    let buf = render(&store, &ui(false), 80, 24);
    let (x, y) = find(&buf, "CRITICAL", "CRITICAL").expect("summary");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn coloured_cells_elsewhere() {
    let store = populated(1);
    let mut u = ui(true);
    u.tab = Tab::Area(Area::Cache);
    let buf = render(&store, &u, 80, 24);
    let (x, y) = find(&buf, "83.3%", "│shop").expect("database row");
    assert_eq!(buf[(x, y)].fg, Color::Red, "hit ratio 83 % is critical");
    u.tab = Tab::Area(Area::Replication);
    let buf = render(&store, &u, 80, 24);
    let (x, y) = find(&buf, "replica1", "replica1").expect("standby row");
    assert_eq!(buf[(x, y)].fg, Color::Yellow, "20 MiB behind is a warning");
    u.tab = Tab::Area(Area::Vacuum);
    let buf = render(&store, &u, 80, 24);
    let (x, y) = find(&buf, "public.big", "public.big").expect("dead tuples row");
    assert_eq!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn waiting_and_error_states_explain_themselves() {
    let mut store = Store::new(
        vec![
            "db.example:5432/shop".into(),
            "down.example:5432/shop".into(),
        ],
        Thresholds::default(),
        Duration::from_secs(2),
        Duration::from_secs(60),
        t0(),
    );
    // nothing yet
    let buf = render(&store, &ui(true), 80, 24);
    assert!(
        screen(&buf).contains("connecting to db.example:5432/shop"),
        "{}",
        screen(&buf)
    );

    store.apply(
        Update::Link {
            server: 0,
            event: LinkEvent::Connected(Box::new(facts())),
            at: t0(),
        },
        t0(),
    );
    let buf = render(&store, &ui(true), 80, 24);
    assert!(
        screen(&buf).contains("waiting for the first sample"),
        "{}",
        screen(&buf)
    );

    store.apply(
        Update::Failed {
            server: 0,
            area: Area::Statements,
            error: CollectError::new(
                ErrorKind::ExtensionMissing,
                "pg_stat_statements is not installed in database shop",
            )
            .with_fix("CREATE EXTENSION pg_stat_statements;"),
            at: at(1),
        },
        at(1),
    );
    let mut u = ui(true);
    u.tab = Tab::Area(Area::Statements);
    let text = screen(&render(&store, &u, 80, 24));
    assert!(
        text.contains("pg_stat_statements is not installed in database shop"),
        "{text}"
    );
    assert!(
        text.contains("fix: CREATE EXTENSION pg_stat_statements;"),
        "{text}"
    );
    assert!(
        text.contains("2Stmts!"),
        "the tab shows the area has a problem:\n{text}"
    );

    // a stale area keeps its data and says why
    apply(&mut store, 0, activity(default_sessions()), at(1));
    store.apply(
        Update::Failed {
            server: 0,
            area: Area::Activity,
            error: CollectError::new(ErrorKind::PermissionDenied, "permission denied for view x")
                .with_fix("GRANT pg_monitor TO monitor"),
            at: at(2),
        },
        at(2),
    );
    let text = screen(&render(&store, &ui(true), 80, 24));
    assert!(text.contains("stale for"), "{text}");
    assert!(text.contains("fix: GRANT pg_monitor TO monitor"), "{text}");
    assert!(
        text.contains("dave@shop"),
        "the last data is still shown:\n{text}"
    );

    // the second server is down
    store.apply(
        Update::Link {
            server: 1,
            event: LinkEvent::Down {
                error: CollectError::new(ErrorKind::Unreachable, "connection refused"),
                next_attempt: at(10),
            },
            at: at(1),
        },
        at(1),
    );
    let mut u = ui(true);
    u.server = 1;
    let text = screen(&render(&store, &u, 80, 24));
    assert!(
        text.contains(
            "server unreachable since 22:13:20 UTC (retrying at 22:13:30 UTC): connection"
        ),
        "{text}"
    );
    assert!(
        text.contains("UNREACHABLE since 22:13:20 UTC"),
        "overview line:\n{text}"
    );
}

/// The header says what is wrong with a down server by the error's kind, how soon the
/// workers reconnect, and the fix where the width allows.
#[test]
fn header_names_the_cause_of_a_down_link() {
    let mut store = populated(2);
    let down = |store: &mut Store, error: CollectError| {
        store.apply(
            Update::Link {
                server: 1,
                event: LinkEvent::Down {
                    error,
                    next_attempt: at(10),
                },
                at: at(1),
            },
            at(1),
        );
    };
    let too_many = CollectError {
        kind: ErrorKind::TooManyConnections,
        sqlstate: Some("53300".into()),
        message: "sorry, too many clients already".into(),
        fix: Some(
            "free a connection, or give the monitoring role a reserved slot (PostgreSQL 16+: GRANT pg_use_reserved_connections)"
                .into(),
        ),
        retry_in_s: None,
    };
    down(&mut store, too_many);
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let buf = render(&store, &ui(true), w, h);
        let header: Vec<String> = lines(&buf)
            .iter()
            .take(2)
            .map(|l| l.trim_end().to_string())
            .collect();
        let line = &header[1];
        let expect = if w >= 160 {
            " 2 db1.example:5432/shop TOO MANY CONNECTIONS since 22:13:20 UTC, reconnecting in 7s"
        } else {
            " 2 db1.example:5432/shop TOO MANY CONNECTIONS, reconnecting in 7s"
        };
        assert!(line.contains(expect), "{w}x{h}: {line}");
        assert!(!line.contains("UNREACHABLE"), "{line}");
        assert!(
            !line.contains("sorry, too many clients"),
            "the fix wins: {line}"
        );
        if w >= 160 {
            assert!(line.contains(": free a connection, or give"), "{line}");
        }
        // critical colour on the cause
        let (x, y) = find(&buf, "TOO MANY", "db1.example").expect("label");
        assert_eq!(buf[(x, y)].fg, Color::Red, "{w}x{h}");
        insta::assert_snapshot!(format!("link_down_header_{w}x{h}"), header.join("\n"));
    }

    for (error, label) in [
        (
            CollectError::new(ErrorKind::AuthFailed, "password authentication failed")
                .with_fix("check the user and password (PGPASSWORD, ~/.pgpass) and pg_hba.conf"),
            "AUTH FAILED since 22:13:20 UTC, reconnecting in 7s: check the user and password",
        ),
        (
            CollectError::new(ErrorKind::ClientTimeout, "timed out"),
            "NO ANSWER since 22:13:20 UTC, reconnecting in 7s: timed out",
        ),
        (
            CollectError::new(ErrorKind::Unreachable, "connection refused"),
            "UNREACHABLE since 22:13:20 UTC, reconnecting in 7s: connection refused",
        ),
    ] {
        down(&mut store, error);
        let text = screen(&render(&store, &ui(true), 160, 48));
        assert!(text.contains(label), "{label}:\n{text}");
    }
}

/// Through a pooler, the confirmation of a cancel/terminate warns that the pid is a pooler's
/// server connection that may serve another client by now; a direct connection has no such
/// line. The dialog keeps its last line (how to confirm) at 80x24.
#[test]
fn confirmation_warns_when_the_server_is_reached_through_a_pooler() {
    const WARNING: &str = "through a pooler: this backend may be serving another client by now";
    for pooled in [false, true] {
        let mut store = populated(1);
        store.apply(
            Update::Link {
                server: 0,
                event: LinkEvent::Connected(Box::new(ServerFacts { pooled, ..facts() })),
                at: at(2),
            },
            at(2),
        );
        for (key, w, h) in [('k', 80u16, 24u16), ('c', 160, 48)] {
            let mut u = UiState::new(true, true, Duration::from_secs(2));
            press(&mut u, &store, KeyCode::Char(key));
            let c = u.confirm.clone().expect("confirmation");
            assert_eq!(c.pooled, pooled);
            let buf = render(&store, &u, w, h);
            let text = screen(&buf);
            let name = if pooled { "pooled" } else { "direct" };
            // the dialog's inner lines, cut out of the screen by its border
            let (x0, y0) = find(&buf, "┌ Confirm", "Confirm").expect("dialog");
            let x1 = (x0 + 1..w)
                .find(|&x| buf[(x, y0)].symbol() == "┐")
                .expect("right border");
            let dialog: Vec<String> = (y0 + 1..h)
                .take_while(|&y| buf[(x0, y)].symbol() == "│")
                .map(|y| {
                    (x0 + 1..x1)
                        .map(|x| buf[(x, y)].symbol())
                        .collect::<String>()
                        .trim_end()
                        .to_string()
                })
                .collect();
            assert!(
                dialog.len() >= 7 && buf[(x0, y0 + 1 + dialog.len() as u16)].symbol() == "└",
                "{name} {w}x{h}: the whole dialog is on screen:\n{text}"
            );
            // the dialog may wrap the warning: compare with lines joined
            let flat = dialog.join(" ");
            assert_eq!(flat.contains(WARNING), pooled, "{name} {w}x{h}:\n{text}");
            assert!(
                flat.contains("pid 101 (user alice)"),
                "{name} {w}x{h}:\n{text}"
            );
            assert_eq!(
                dialog
                    .iter()
                    .rev()
                    .find(|l| !l.is_empty())
                    .map(String::as_str),
                Some("y to confirm · any other key: do nothing"),
                "{name} {w}x{h}:\n{text}"
            );
            if pooled {
                let (x, y) = find(&buf, "through a pooler", "through a pooler").expect("warning");
                assert_eq!(buf[(x, y)].bg, Color::Yellow, "{w}x{h}");
            }
            insta::assert_snapshot!(format!("confirm_{name}_{w}x{h}"), dialog.join("\n"));
        }
    }
}

const HOSTILE: &str = "SELECT '\u{1b}]0;pwned title\u{07}' \u{1b}[2J\u{1b}[H, 'a\rb\u{08}c', \u{202E}fdp.exe\u{202C}, \u{9b}31mred, \u{FFFD}\u{FFFD}, 日本語のテキスト FROM t\u{200B}\u{2066}x\u{0}\u{7f}";

fn assert_clean(buf: &Buffer, what: &str) {
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            for c in sym.chars() {
                assert!(
                    !c.is_control()
                        && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}'),
                    "{what}: control or bidi character {c:?} in cell {x},{y}"
                );
            }
        }
    }
}

#[test]
fn hostile_query_text_never_reaches_a_cell_and_the_layout_holds() {
    let mut huge = String::from(HOSTILE);
    huge.push_str(&" OR x = 1".repeat(120_000)); // > 1 MB
    for query in [HOSTILE.to_string(), huge] {
        let mut hostile = session(666, "mallory\u{1b}[31m", "active", 5.0, &query);
        hostile.application_name = "evil\u{1b}]0;x\u{07}app\n".into();
        let mut sessions = default_sessions();
        sessions.push(hostile);
        let mut plain_sessions = default_sessions();
        plain_sessions.push(session(666, "mallory", "active", 5.0, "SELECT 1"));

        let mut store = populated(1);
        apply(&mut store, 0, activity(sessions), at(2));
        let mut baseline = populated(1);
        apply(&mut baseline, 0, activity(plain_sessions), at(2));
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let buf = render(&store, &ui(true), w, h);
            assert_clean(&buf, "activity");
            let got = lines(&buf);
            let want = lines(&render(&baseline, &ui(true), w, h));
            // every line but the hostile session's row is exactly as with a plain query
            for (i, (g, b)) in got.iter().zip(&want).enumerate() {
                if g.contains("666") {
                    assert!(g.contains("SELECT"), "{g}");
                    assert_eq!(
                        unicode_width::UnicodeWidthStr::width(g.as_str()),
                        w as usize,
                        "row keeps its width"
                    );
                    continue;
                }
                assert_eq!(g, b, "line {i} moved at {w}x{h}");
            }

            // the detail view wraps the full, sanitized text
            let mut u = ui(true);
            u.tab_state_mut(Tab::Area(Area::Activity)).selected = 0;
            u.filter = "666".into();
            assert_eq!(press(&mut u, &store, KeyCode::Enter), Action::Redraw);
            assert!(u.detail.is_some());
            let buf = render(&store, &u, w, h);
            assert_clean(&buf, "detail");
            let text = screen(&buf);
            assert!(
                text.contains("pid 666") || text.contains("Session 666"),
                "{text}"
            );
            assert!(text.contains("fdp.exe"), "{text}");
            assert!(text.contains("日本語"), "{text}");
        }
    }
}

#[test]
fn tiny_and_odd_sizes_never_panic() {
    let store = populated(2);
    let sizes = [
        (1u16, 1u16),
        (20, 5),
        (10, 3),
        (0, 0),
        (40, 10),
        (79, 23),
        (160, 20),
        (300, 100),
        (25, 12),
    ];
    for (w, h) in sizes {
        for (tab, _) in TABS {
            let mut u = ui(true);
            u.tab = tab;
            render(&store, &u, w, h);
            u.help = true;
            render(&store, &u, w, h);
            u.help = false;
            let mut u = UiState::new(true, true, Duration::from_secs(2));
            u.tab = Tab::Area(Area::Activity);
            press(&mut u, &store, KeyCode::Enter);
            render(&store, &u, w, h);
            press(&mut u, &store, KeyCode::Char('k'));
            assert!(u.confirm.is_some());
            render(&store, &u, w, h);
        }
    }
}

#[test]
fn several_servers_have_an_overview_line_each_and_switch_with_brackets() {
    let mut store = populated(2);
    apply(
        &mut store,
        1,
        activity(vec![session(900, "zed", "active", 1.0, "SELECT 42")]),
        at(2),
    );
    let mut u = ui(true);
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("▶1 db0.example:5432/shop"), "{text}");
    assert!(text.contains(" 2 db1.example:5432/shop"), "{text}");
    assert!(!text.contains("SELECT 42"));
    press(&mut u, &store, KeyCode::Char(']'));
    assert_eq!(u.server, 1);
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("▶2 db1.example:5432/shop"), "{text}");
    assert!(text.contains("SELECT 42"), "{text}");
    press(&mut u, &store, KeyCode::Char(']'));
    assert_eq!(u.server, 0, "wraps around");
    press(&mut u, &store, KeyCode::Char('['));
    assert_eq!(u.server, 1);
}

#[test]
fn tabs_switch_with_tab_backtab_and_digits() {
    let store = populated(1);
    let mut u = ui(true);
    assert_eq!(u.tab, Tab::Area(Area::Activity));
    press(&mut u, &store, KeyCode::Tab);
    assert_eq!(u.tab, Tab::Area(Area::Statements));
    press(&mut u, &store, KeyCode::BackTab);
    press(&mut u, &store, KeyCode::BackTab);
    assert_eq!(u.tab, Tab::Overview);
    press(&mut u, &store, KeyCode::BackTab);
    assert_eq!(u.tab, Tab::Fleet);
    press(&mut u, &store, KeyCode::BackTab);
    assert_eq!(u.tab, Tab::Alerts);
    press(&mut u, &store, KeyCode::Char('9'));
    assert_eq!(u.tab, Tab::Fleet);
    press(&mut u, &store, KeyCode::Char('6'));
    assert_eq!(u.tab, Tab::Area(Area::Vacuum));
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("Vacuum"), "{text}");
    press(&mut u, &store, KeyCode::Char('q'));
    assert_eq!(
        u.handle_key(
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            &store
        ),
        Action::Quit
    );
    assert_eq!(press(&mut u, &store, KeyCode::Char('q')), Action::Quit);
}

fn statement_order(store: &Store, u: &UiState) -> Vec<i64> {
    let st = store.servers[0].statements().expect("statements");
    pgvitals::tui::table::statements(
        st,
        &store.servers[0].waits,
        &u.query(Tab::Area(Area::Statements)),
    )
    .iter()
    .map(|s| s.queryid)
    .collect()
}

#[test]
fn sort_cycles_and_reverses_and_rows_without_rate_stay_last() {
    let store = populated(1);
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('2'));
    // default: execution time per second; the new entry 3 has no rate yet
    assert_eq!(statement_order(&store, &u), vec![2, 1, 3]);
    let text = screen(&render(&store, &u, 80, 24));
    let row3 = text
        .lines()
        .find(|l| l.contains("DELETE FROM logs"))
        .expect("row 3");
    assert!(
        row3.trim_start_matches(['│', ' ']).starts_with('-'),
        "no rate: '-', not the lifetime counter: {row3}"
    );
    press(&mut u, &store, KeyCode::Char('s')); // interval mean
    assert_eq!(statement_order(&store, &u), vec![2, 1, 3]);
    press(&mut u, &store, KeyCode::Char('s')); // lifetime mean
    assert_eq!(statement_order(&store, &u), vec![3, 2, 1]);
    press(&mut u, &store, KeyCode::Char('s')); // calls/s
    assert_eq!(statement_order(&store, &u), vec![1, 2, 3]);
    press(&mut u, &store, KeyCode::Char('r'));
    assert_eq!(
        statement_order(&store, &u),
        vec![2, 1, 3],
        "reversed, no-rate row still last"
    );
    for _ in 0..3 {
        press(&mut u, &store, KeyCode::Char('s'));
    }
    press(&mut u, &store, KeyCode::Char('r'));
    assert_eq!(u.message.as_deref(), None);
    // total time (lifetime)
    assert_eq!(statement_order(&store, &u), vec![3, 2, 1]);
    // the rates of I/O, WAL, JIT and planning (ties by total time); each sorted-by column
    // is on screen at 80 columns too, headed as in the table
    for (name, header, order) in [
        ("shared_blk_read_time/s", "read t/s", [1, 2, 3]),
        ("shared_blk_write_time/s", "write t/s", [2, 1, 3]),
        ("temp_blk_read_time/s", "tmp rd t/s", [1, 2, 3]),
        ("temp_blk_write_time/s", "tmp wr t/s", [2, 1, 3]),
        ("wal_bytes/s", "wal/s", [2, 1, 3]),
        ("jit time/s", "jit t/s", [2, 1, 3]),
        ("plan time/s", "plan t/s", [1, 2, 3]),
        // the most backend-samples spent waiting (not on CPU) first
        ("wait", "wait", [2, 1, 3]),
    ] {
        press(&mut u, &store, KeyCode::Char('s'));
        assert_eq!(statement_order(&store, &u), order, "sorted by {name}");
        // (the summary line names it where it is not cut: one panel, 140 columns)
        let text = screen(&render(&store, &u, 140, 40));
        assert!(text.contains(&format!("sort {name}")), "{name}:\n{text}");
        let text = screen(&render(&store, &u, 80, 24));
        assert!(text.contains(header), "{name} at 80x24:\n{text}");
    }
    press(&mut u, &store, KeyCode::Char('s'));
    assert_eq!(
        statement_order(&store, &u),
        vec![2, 1, 3],
        "wrapped to time/s"
    );

    // activity: query age by default, pid next
    press(&mut u, &store, KeyCode::Char('1'));
    let order = |u: &UiState| -> Vec<i32> {
        let a = store.servers[0].activity().expect("activity");
        pgvitals::tui::table::sessions(a, &u.query(Tab::Area(Area::Activity)))
            .iter()
            .map(|s| s.pid)
            .collect()
    };
    assert_eq!(order(&u), vec![101, 102, 105, 103, 104]);
    press(&mut u, &store, KeyCode::Char('s'));
    press(&mut u, &store, KeyCode::Char('s'));
    press(&mut u, &store, KeyCode::Char('s'));
    assert_eq!(order(&u), vec![101, 102, 103, 104, 105]);
}

#[test]
fn filter_keeps_matching_rows() {
    let store = populated(1);
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('/'));
    assert!(u.filter_editing);
    for c in "stock".chars() {
        press(&mut u, &store, KeyCode::Char(c));
    }
    // while typing, letters are text, not commands
    assert_eq!(u.tab, Tab::Area(Area::Activity));
    press(&mut u, &store, KeyCode::Enter);
    assert!(!u.filter_editing);
    assert_eq!(u.filter, "stock");
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("filter /stock"), "{text}");
    assert!(!text.contains("dave@shop"), "{text}");
    assert!(text.contains("carol@shop"), "{text}");
    press(&mut u, &store, KeyCode::Char('2'));
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("UPDATE stock"), "{text}");
    assert!(!text.contains("SELECT * FROM orders"), "{text}");
    press(&mut u, &store, KeyCode::Esc);
    assert!(u.filter.is_empty());
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("SELECT * FROM orders"), "{text}");
}

#[test]
fn pause_holds_the_screen_while_the_live_store_changes() {
    let mut store = populated(1);
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('p'));
    assert!(u.paused());
    apply(
        &mut store,
        0,
        activity(vec![session(777, "eve", "active", 1.0, "SELECT 'new'")]),
        at(3),
    );
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("PAUSED"), "{text}");
    assert!(
        text.contains("alice@shop"),
        "still the old sessions:\n{text}"
    );
    assert!(!text.contains("777"), "{text}");
    assert_eq!(
        store.servers[0].activity().map(|a| a.sessions.len()),
        Some(1),
        "live store moved on"
    );
    press(&mut u, &store, KeyCode::Char('p'));
    assert!(!u.paused());
    let text = screen(&render(&store, &u, 80, 24));
    assert!(text.contains("777"), "{text}");
}

#[test]
fn detail_opens_on_the_selected_row_and_closes() {
    let store = populated(1);
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Down); // 101 -> 102
    press(&mut u, &store, KeyCode::Enter);
    match &u.detail {
        Some(pgvitals::tui::state::Detail::Session { session, .. }) => assert_eq!(session.pid, 102),
        other => panic!("{other:?}"),
    }
    let text = screen(&render(&store, &u, 160, 48));
    assert!(text.contains("Session 102"), "{text}");
    assert!(text.contains("blocked by"), "{text}");
    assert!(
        text.contains("pid 101 alice@shop"),
        "what blocks it:\n{text}"
    );
    assert!(
        text.contains("pid 103 carol@shop"),
        "what it blocks:\n{text}"
    );
    press(&mut u, &store, KeyCode::Esc);
    assert!(u.detail.is_none());

    press(&mut u, &store, KeyCode::Char('2'));
    press(&mut u, &store, KeyCode::End);
    press(&mut u, &store, KeyCode::Enter);
    match &u.detail {
        Some(pgvitals::tui::state::Detail::Statement { statement, .. }) => {
            assert_eq!(statement.queryid, 3)
        }
        other => panic!("{other:?}"),
    }
    let text = screen(&render(&store, &u, 160, 48));
    assert!(
        text.contains("DELETE FROM logs WHERE at < now() - interval '1 day'"),
        "{text}"
    );
    press(&mut u, &store, KeyCode::Enter);
    assert!(u.detail.is_none());
}

/// The open detail view's text, scrolled line by line from the top through `lines` lines
/// (what a user reads with ↓ at a small size), the lines that scrolled past first.
fn detail_text(store: &Store, u: &mut UiState, w: u16, h: u16, lines: u16) -> String {
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..=lines {
        let text = screen(&render(store, u, w, h));
        for l in text.lines() {
            if !seen.iter().any(|s| s == l) {
                seen.push(l.to_string());
            }
        }
        press(u, store, KeyCode::Down);
    }
    press(u, store, KeyCode::Home);
    seen.join("\n")
}

/// The statement detail view: every counter with its rate over the interval, I/O timing,
/// WAL, JIT and planning included, sub-millisecond times in µs.
#[test]
fn statement_detail_shows_io_wal_jit_and_plan_times() {
    let store = populated(1);
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut u = ui(true);
        press(&mut u, &store, KeyCode::Char('2'));
        // the UPDATE (first by time/s): writes, WAL and JIT
        press(&mut u, &store, KeyCode::Enter);
        match &u.detail {
            Some(pgvitals::tui::state::Detail::Statement { statement, .. }) => {
                assert_eq!(statement.queryid, 2)
            }
            other => panic!("{other:?}"),
        }
        insta::assert_snapshot!(
            format!("statement_detail_{w}x{h}"),
            screen(&render(&store, &u, w, h))
        );
        let text = detail_text(&store, &mut u, w, h, 30);
        for e in [
            "shared_blk_read_time: 5ms total, 40µs/s",
            "shared_blk_write_time: 10ms total, 4ms/s",
            "temp_blk_write_time: 0µs total, 0µs/s",
            "wal_bytes: 146.5 KiB (24KiB/s)",
            "wal_records: 150 (25/s)",
            "wal_fpi: 3 (1/s)",
            "jit time: 30ms total, 15ms/s",
            "plan time: 12ms total, 1ms/s",
        ] {
            assert!(text.contains(e), "{w}x{h} lacks {e:?}:\n{text}");
        }
        assert!(!text.contains("track_io_timing"), "it is on: {text}");
    }
    // an entry of an extension older than 1.8 / 1.10 says which version has the counter
    let mut old = populated(1);
    let mut entry = old.servers[0].statements().expect("statements").statements[0].clone();
    entry.wal_bytes = None.into();
    entry.jit_time_ms = None.into();
    entry.temp_blk_read_time_ms = None.into();
    apply(&mut old, 0, statements(1004.0, vec![entry]), at(3));
    let mut u = ui(true);
    press(&mut u, &old, KeyCode::Char('2'));
    press(&mut u, &old, KeyCode::Enter);
    let text = screen(&render(&old, &u, 160, 48));
    assert!(
        text.contains("wal_bytes: - (pg_stat_statements 1.8+)"),
        "{text}"
    );
    assert!(
        text.contains("jit time: - (pg_stat_statements 1.10+)"),
        "{text}"
    );
    assert!(
        text.contains("temp_blk_read_time: - (pg_stat_statements 1.10+)"),
        "{text}"
    );
}

/// With `track_io_timing` off the statements panel and the detail view say that the I/O
/// times stay 0, with the fix, at either size.
#[test]
fn track_io_timing_off_is_named_with_its_fix() {
    let mut store = populated(1);
    apply(
        &mut store,
        0,
        Sample::Server(ServerSample {
            collected_at: 1004.0,
            server_version: "15.18 (Debian 15.18-0+deb12u1)".into(),
            server_version_num: 150018,
            uptime_s: 3.0 * 86400.0 + 4.0 * 3600.0,
            datname: "shop".into(),
            max_connections: 100,
            superuser_reserved_connections: 3,
            xact_commit: 10_800,
            track_io_timing: Some(false),
            ..Default::default()
        }),
        at(3),
    );
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut u = ui(true);
        press(&mut u, &store, KeyCode::Char('2'));
        let text = screen(&render(&store, &u, w, h));
        let fix = if w == 80 {
            "track_io_timing off: ALTER SYSTEM SET track_io_timing = on, then reload"
        } else {
            "track_io_timing = off: ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"
        };
        assert!(text.contains(fix), "{w}x{h}:\n{text}");
        insta::assert_snapshot!(format!("statements_io_timing_off_{w}x{h}"), text);
        press(&mut u, &store, KeyCode::Enter);
        let text = detail_text(&store, &mut u, w, h, 30);
        // the note wraps beside the values: read it with the borders and indents removed
        let flat = text
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flat.contains("track_io_timing is off"), "{w}x{h}:\n{text}");
        assert!(
            flat.contains("ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();"),
            "{text}"
        );
    }
    // a wide panel gets the whole sentence
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('2'));
    let text = screen(&render(&store, &u, 140, 40));
    assert!(
        text.contains(
            "track_io_timing is off, so the I/O times stay 0: ALTER SYSTEM SET \
             track_io_timing = on; SELECT pg_reload_conf();"
        ),
        "{text}"
    );
}

/// The session detail view shows `query_id` (14+) with its pg_stat_statements entry's means
/// when the statements area has it, the bare id when not, and why there is none before 14.
#[test]
fn session_detail_shows_query_id_and_its_statement() {
    let store = populated(1);
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut u = ui(true);
        press(&mut u, &store, KeyCode::Down); // 101 -> 102
        press(&mut u, &store, KeyCode::Enter);
        let text = screen(&render(&store, &u, w, h));
        assert!(
            text.contains("query_id: 2 (pg_stat_statements: mean 2.0s"),
            "{text}"
        );
        insta::assert_snapshot!(format!("session_detail_{w}x{h}"), text);
        // at 80 columns the "more" line wraps in the values' column, never under the keys
        if w == 80 {
            let lines: Vec<&str> = text.lines().collect();
            let at = lines
                .iter()
                .position(|l| l.contains("more: "))
                .expect("more");
            let value_col = lines[at].find("more: ").expect("more") + "more: ".len();
            let next = lines[at + 1];
            let first = next
                .char_indices()
                .skip(1)
                .find(|(_, c)| *c != ' ')
                .map(|(i, _)| i)
                .expect("a continuation");
            assert_eq!(first, value_col, "{text}");
        }
    }
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Enter); // 101: an id without an entry
    let text = screen(&render(&store, &u, 160, 48));
    assert!(text.contains("query_id: -4242424242"), "{text}");
    assert!(
        text.contains(
            "application_name billing-nightly-batch · client 2001:db8:85a3::8a2e:370:7334"
        ),
        "{text}"
    );
    let mut old = populated(1);
    old.servers[0].facts = Some(ServerFacts {
        server_version_num: 130_020,
        ..facts()
    });
    let mut u = ui(true);
    press(&mut u, &old, KeyCode::Down);
    press(&mut u, &old, KeyCode::Down);
    press(&mut u, &old, KeyCode::Enter); // 103 has none
    let text = screen(&render(&old, &u, 160, 48));
    assert!(text.contains("query_id: - (PostgreSQL 14+)"), "{text}");
}

#[test]
fn cancel_and_terminate_need_actions_enabled_and_a_confirmation() {
    let store = populated(1);
    // read-only
    let mut u = ui(true);
    assert_eq!(press(&mut u, &store, KeyCode::Char('c')), Action::Redraw);
    assert!(u.confirm.is_none());
    let text = screen(&render(&store, &u, 120, 30));
    assert!(text.contains("read-only"), "{text}");

    // enabled: the dialog names pid, user and query; only y sends
    let mut u = UiState::new(true, true, Duration::from_secs(2));
    press(&mut u, &store, KeyCode::Char('k'));
    let c = u.confirm.clone().expect("confirmation");
    assert_eq!(c.pid, 101);
    let text = screen(&render(&store, &u, 80, 24));
    assert!(
        text.contains("Terminate backend pid 101 (user alice)"),
        "{text}"
    );
    assert!(
        text.contains("UPDATE stock SET n = 0 WHERE id = 7"),
        "{text}"
    );
    assert_eq!(press(&mut u, &store, KeyCode::Char('n')), Action::Redraw);
    assert!(u.confirm.is_none());

    press(&mut u, &store, KeyCode::Down);
    press(&mut u, &store, KeyCode::Char('c'));
    let sent = press(&mut u, &store, KeyCode::Char('y'));
    assert!(
        matches!(
            &sent,
            Action::Send(Command::CancelBackend { server: 0, pid: 102, query, .. }) if !query.is_empty()
        ),
        "{sent:?}"
    );
    press(&mut u, &store, KeyCode::Char('k'));
    let sent = press(&mut u, &store, KeyCode::Char('y'));
    assert!(
        matches!(
            &sent,
            Action::Send(Command::TerminateBackend { server: 0, pid: 102, query, .. }) if !query.is_empty()
        ),
        "{sent:?}"
    );
    // not on other tabs
    press(&mut u, &store, KeyCode::Char('3'));
    press(&mut u, &store, KeyCode::Char('c'));
    assert!(u.confirm.is_none());
}

#[test]
fn interval_steps_within_bounds() {
    let store = populated(1);
    let mut u = ui(true);
    assert_eq!(
        press(&mut u, &store, KeyCode::Char('+')),
        Action::SetInterval(Duration::from_secs(3))
    );
    assert_eq!(
        press(&mut u, &store, KeyCode::Char('-')),
        Action::SetInterval(Duration::from_secs(2))
    );
    for _ in 0..20 {
        press(&mut u, &store, KeyCode::Char('-'));
    }
    assert_eq!(u.interval, Duration::from_millis(250));
    assert_eq!(press(&mut u, &store, KeyCode::Char('-')), Action::Redraw);
    for _ in 0..20 {
        press(&mut u, &store, KeyCode::Char('+'));
    }
    assert_eq!(u.interval, Duration::from_secs(60));
}

#[test]
fn selection_stays_within_the_rows() {
    let store = populated(1);
    let mut u = ui(true);
    for _ in 0..50 {
        press(&mut u, &store, KeyCode::Down);
    }
    assert_eq!(u.selected_row(), 4, "5 sessions listed");
    press(&mut u, &store, KeyCode::PageUp);
    assert_eq!(u.selected_row(), 0);
    press(&mut u, &store, KeyCode::End);
    assert_eq!(u.selected_row(), 4);
    press(&mut u, &store, KeyCode::Home);
    assert_eq!(u.selected_row(), 0);
}

#[test]
fn help_lists_the_keys() {
    let store = populated(1);
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('?'));
    let text = screen(&render(&store, &u, 100, 30));
    for k in ["Tab, Shift-Tab", "filter rows by text", "pause", "[ ]"] {
        assert!(text.contains(k), "{k}:\n{text}");
    }
    press(&mut u, &store, KeyCode::Esc);
    assert!(!u.help);
}

/// The store of [`populated`] after a reconnect as `alice`, a role without pg_monitor or
/// pg_read_all_stats (`in_recovery` as given).
fn unprivileged(in_recovery: bool) -> Store {
    let mut store = populated(1);
    let alice = ServerFacts {
        current_user: "alice".into(),
        pg_monitor: false,
        pg_read_all_stats: false,
        in_recovery,
        ..facts()
    };
    store.apply(
        Update::Link {
            server: 0,
            event: LinkEvent::Connected(Box::new(alice)),
            at: at(2),
        },
        at(2),
    );
    store
}

/// The activity, replication and vacuum panels say on one line, in the warning style, what a
/// role without pg_read_all_stats misses there and the GRANT that fixes it; the GRANT stays
/// whole at 80 columns. With pg_monitor (the [`populated`] store) the line is absent.
#[test]
fn privilege_gaps_show_in_their_panels() {
    const GRANT: &str = "GRANT pg_read_all_stats TO alice";
    let store = unprivileged(false);
    for (tab, name, hidden) in [
        (
            Tab::Area(Area::Activity),
            "activity",
            "other roles' sessions show",
        ),
        (
            Tab::Area(Area::Replication),
            "replication",
            "standbys' state, LSNs, lag",
        ),
        (
            Tab::Area(Area::Vacuum),
            "vacuum",
            "other roles' vacuums show no table",
        ),
    ] {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let mut u = ui(true);
            u.tab = tab;
            let buf = render(&store, &u, w, h);
            let text = screen(&buf);
            let gap_lines: Vec<&str> = text.lines().filter(|l| l.contains(GRANT)).collect();
            assert_eq!(gap_lines.len(), 1, "{name} {w}x{h}:\n{text}");
            assert!(gap_lines[0].contains(hidden), "{name} {w}x{h}:\n{text}");
            let (x, y) = find(&buf, GRANT, GRANT).expect("the GRANT");
            assert_eq!(buf[(x, y)].fg, Color::Yellow, "{name} {w}x{h}");
            // the panel's own data is still there
            let expect = match tab {
                Tab::Area(Area::Activity) => "Lock tree",
                Tab::Area(Area::Replication) => "old_slot",
                _ => "shop xid 1.50G 69.8%",
            };
            assert!(
                text.contains(expect),
                "{name} {w}x{h} lacks {expect}:\n{text}"
            );
            insta::assert_snapshot!(format!("privilege_gap_{name}_{w}x{h}"), text);
        }
        let mut u = ui(true);
        u.tab = tab;
        let text = screen(&render(&populated(1), &u, 160, 48));
        assert!(!text.contains("pg_read_all_stats"), "{name}:\n{text}");
    }
    // the statements and cache panels need nothing from the facts: no line of this kind
    for tab in [Tab::Area(Area::Cache), Tab::Area(Area::UnusedIndexes)] {
        let mut u = ui(true);
        u.tab = tab;
        let text = screen(&render(&store, &u, 160, 48));
        assert!(!text.contains(GRANT), "{tab:?}:\n{text}");
    }
}

/// On a standby the replication panel names what is hidden there: the WAL receiver.
#[test]
fn privilege_gap_of_a_standby_names_the_wal_receiver() {
    let mut store = unprivileged(true);
    apply(
        &mut store,
        0,
        Sample::Replication(ReplicationSample {
            collected_at: 1003.0,
            role: ServerRole::Standby,
            current_wal_lsn: None,
            standbys: Vec::new(),
            slots: Vec::new(),
            standby_status: Some(StandbyStatus {
                receive_lsn: Some("0/3000148".into()),
                replay_lsn: Some("0/3000148".into()),
                replay_lag_bytes: Some(0),
                last_replay_age_s: Some(4.0),
                replay_lag_s: None,
                lag_state: ReplayState::Idle,
                replay_paused: false,
                wal_receiver_status: None,
                sender_host: None,
                sender_port: None,
                last_msg_receipt_age_s: None,
            }),
        }),
        at(3),
    );
    let mut u = ui(true);
    u.tab = Tab::Area(Area::Replication);
    let text = screen(&render(&store, &u, 80, 24));
    // 78 columns: the hidden part is cut short, the GRANT stays whole
    assert!(
        text.contains(
            "│the WAL receiver's status, sender and last …: GRANT pg_read_all_stats TO alice│"
        ),
        "{text}"
    );
    let wide = screen(&render(&store, &u, 240, 48));
    assert!(
        wide.contains(
            "the WAL receiver's status, sender and last message time are hidden without \
             pg_read_all_stats: GRANT pg_read_all_stats TO alice"
        ),
        "{wide}"
    );
    assert!(text.contains("received 0/3000148"), "{text}");
    insta::assert_snapshot!("privilege_gap_standby_replication_80x24", text);
}

/// Issue 8, item 4: a connection warning that must stay (an ignored password file) is shown
/// in the dashboard, not only printed before the alternate screen hides it; sanitized.
#[test]
fn connection_warnings_stay_visible_in_the_header() {
    let mut store = populated(1);
    store.servers[0].connection_warnings = vec![
        "password file \"/home/u/.pgpass\" has group or world access: ignored; permissions should be u=rw (0600) or less\u{1b}[31m".to_string(),
    ];
    for (w, h) in [(80, 24), (160, 48)] {
        let buf = render(&store, &ui(true), w, h);
        let (x, y) = find(&buf, "⚠", "password file").expect("warning line");
        assert!(y < 8, "{w}x{h}: in the header, line {y}");
        assert_eq!(buf[(x, y)].bg, Color::Yellow, "{w}x{h}: caution colour");
        assert!(screen(&buf).contains("group or world access"), "{w}x{h}");
        assert_clean(&buf, "connection warning");
        // The panels keep their place below: the tab bar is still drawn.
        assert!(screen(&buf).contains("Activity"), "{w}x{h}");
    }
    // Without warnings there is no such line.
    store.servers[0].connection_warnings.clear();
    let buf = render(&store, &ui(true), 80, 24);
    assert!(find(&buf, "⚠", "password file").is_none());
}

/// The backend a confirmation names is the row shown: paused or in the detail view, that is
/// an older row than the live one, and a pid reused since by another backend (another
/// backend_start) must not take its place. The outcome of the command reaches the status bar.
#[test]
fn a_confirmation_carries_the_identity_of_the_row_shown() {
    let one = |backend_start: f64, query: &str| {
        activity(vec![Session {
            backend_start: Some(backend_start).into(),
            ..session(102, "bob", "active", 5.0, query)
        }])
    };
    let mut store = populated(1);
    apply(&mut store, 0, one(500.25, "SELECT 'first'"), at(3));
    let mut u = UiState::new(true, true, Duration::from_secs(2));
    // paused on the first backend; pid 102 then belongs to another one
    press(&mut u, &store, KeyCode::Char('p'));
    apply(&mut store, 0, one(900.5, "SELECT 'reused'"), at(4));
    press(&mut u, &store, KeyCode::Char('c'));
    assert_eq!(
        u.confirm.as_ref().map(|c| c.backend_start),
        Some(Some(500.25))
    );
    let sent = press(&mut u, &store, KeyCode::Char('y'));
    assert!(
        matches!(
            &sent,
            Action::Send(Command::CancelBackend { pid: 102, backend_start: Some(s), .. }) if *s == 500.25
        ),
        "{sent:?}"
    );
    press(&mut u, &store, KeyCode::Char('p'));

    // the detail view of the first backend keeps showing it, and acts on it
    apply(&mut store, 0, one(500.25, "SELECT 'first'"), at(5));
    press(&mut u, &store, KeyCode::Enter);
    apply(&mut store, 0, one(900.5, "SELECT 'reused'"), at(6));
    let text = screen(&render(&store, &u, 160, 48));
    assert!(text.contains("SELECT 'first'"), "{text}");
    assert!(!text.contains("SELECT 'reused'"), "{text}");
    press(&mut u, &store, KeyCode::Char('k'));
    let sent = press(&mut u, &store, KeyCode::Char('y'));
    let Action::Send(command) = sent else {
        panic!("{sent:?}")
    };
    assert!(
        matches!(
            &command,
            Command::TerminateBackend { pid: 102, backend_start: Some(s), .. } if *s == 500.25
        ),
        "{command:?}"
    );

    // the workers' answer is shown
    press(&mut u, &store, KeyCode::Esc);
    pgvitals::tui::take(
        &mut u,
        &mut store,
        Update::Acted {
            server: 0,
            command,
            outcome: pgvitals::sample::ActionOutcome::LeftAlone(
                "it now belongs to another backend".into(),
            ),
            at: at(7),
        },
    );
    let text = screen(&render(&store, &u, 160, 48));
    assert!(
        text.contains("pid 102 left alone: it now belongs to another backend"),
        "{text}"
    );
}

/// An area the server's version does not have reads "needs PostgreSQL N", dimmed, with no
/// problem mark on its tab: it is a fact about the server, not a failure.
#[test]
fn an_area_below_its_first_major_is_a_note_not_a_problem() {
    let mut store = populated(1);
    store.apply(
        Update::Failed {
            server: 0,
            area: Area::UnusedIndexes,
            error: CollectError::new(
                ErrorKind::NeedsNewerServer,
                "needs PostgreSQL 16 (this server is 14)",
            ),
            at: at(1),
        },
        at(1),
    );
    let mut u = ui(true);
    u.tab = Tab::Area(Area::UnusedIndexes);
    let buf = render(&store, &u, 80, 24);
    let text = screen(&buf);
    let (x, y) = find(&buf, "needs PostgreSQL 16", "needs").expect("the note");
    assert_eq!(
        buf[(x, y)].fg,
        Color::DarkGray,
        "dimmed, not a warning colour"
    );
    let tabs = text
        .lines()
        .find(|l| l.contains("Activity"))
        .unwrap_or_default();
    assert!(tabs.contains("Unused"), "{text}");
    assert!(!tabs.contains('!'), "no problem mark on the tab: {tabs}");
}

/// An area backing off after a timeout says what ran past what, when it tried and when it
/// tries again, in its panel, with a problem mark on its tab; with no sample yet too.
#[test]
fn a_backing_off_area_says_when_it_tried_and_when_it_tries_again() {
    let timeout = CollectError {
        kind: ErrorKind::StatementTimeout,
        sqlstate: Some("57014".into()),
        message: "canceling statement due to statement timeout".into(),
        fix: Some("the server is slow to answer; raise --query-timeout if this persists".into()),
        retry_in_s: None,
    };
    let error = pgvitals::collect::worker::backing_off(
        timeout,
        Duration::from_secs(5),
        Duration::from_secs(240),
    );
    let mut u = ui(true);
    u.tab = Tab::Area(Area::UnusedIndexes);

    // the last good sample is kept, stale
    let mut store = populated(1);
    store.apply(
        Update::Failed {
            server: 0,
            area: Area::UnusedIndexes,
            error: error.clone(),
            at: at(2),
        },
        at(2),
    );
    let text = screen(&render(&store, &u, 160, 48));
    // (wrapped at the panel's width)
    assert!(
        text.contains("(last sample 22:13:22 UTC, last try 22:13:22 UTC): the query ran past"),
        "{text}"
    );
    assert!(
        text.contains("query timeout; next try in 4 min (backing off)"),
        "{text}"
    );
    assert!(text.contains("fix: the server is slow to answer"), "{text}");
    assert!(text.contains("Unused indexes!"), "problem mark:\n{text}");

    // never sampled
    let mut store = populated(1);
    store.servers[0]
        .areas
        .insert(Area::UnusedIndexes, Default::default());
    store.apply(
        Update::Failed {
            server: 0,
            area: Area::UnusedIndexes,
            error,
            at: at(2),
        },
        at(2),
    );
    let text = screen(&render(&store, &u, 160, 48));
    assert!(
        text.contains(
            "last try 22:13:22 UTC: the query ran past the 5 s query timeout; next try in 4 min"
        ),
        "{text}"
    );
    assert!(text.contains("fix: the server is slow to answer"), "{text}");
}

/// The history panel draws what a recording loaded (hours, not the screen's ten minutes),
/// each column the worst of its slice; `h` cycles 10 min, 1 h, 6 h, 24 h.
#[test]
fn the_history_panel_spans_the_hours_a_recording_holds_and_h_cycles_its_span() {
    use pgvitals::model::history::Series;
    let mut store = populated(1);
    let end = epoch_s(now());
    // three hours of connections every 10 s: 5, and 80 for 100 s two hours before the end
    store.servers[0].history.load(
        Series::CONNECTIONS,
        (0..=1080).map(|i| {
            let t = end - 10_800.0 + f64::from(i) * 10.0;
            let burst = (3600.0..3700.0).contains(&(t - end + 10_800.0));
            (t, if burst { 80.0 } else { 5.0 })
        }),
    );
    let mut u = ui(false);
    let spans = ["10 min", "1 h", "6 h", "24 h", "10 min"];
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            press(&mut u, &store, KeyCode::Char('h'));
        }
        let buf = render(&store, &u, 200, 60);
        let text = screen(&buf);
        assert!(
            text.contains(&format!("History, last {span} (h)")),
            "{span}:\n{text}"
        );
        let burst_shown = text.contains("connections 5  peak 80");
        assert_eq!(burst_shown, i == 2 || i == 3, "{span}:\n{text}");
        if i == 2 {
            // 6 h: the three hours without points are empty columns on the left
            let (x, _) = find(&buf, "connections 5", "peak").expect("the connections title");
            // the bottom row of its sparkline: above the next title
            let (_, next) = find(&buf, "cache hit", "cache hit").expect("the next title");
            let row = &lines(&buf)[next as usize - 1];
            let cells: Vec<char> = row.chars().skip(x as usize).take(78).collect();
            let first = cells.iter().position(|c| *c != ' ').expect("bars");
            assert!((37..=41).contains(&first), "first bar at {first}: {row}");
            assert!(cells[first..].iter().all(|c| *c != ' '), "{row}");
        }
    }
}

/// The alerts panel lists the alerts a recording holds from before the screen began, after
/// its own, with how long each lasted.
#[test]
fn the_alerts_panel_shows_the_recorded_history_after_its_own() {
    use pgvitals::model::alerts::{Alert, ResolvedAlert, Severity, Subject};
    let mut store = populated(1);
    let old = |h: u64, message: &str| ResolvedAlert {
        alert: Alert {
            rule: Rule::Connections,
            severity: Severity::Critical,
            subject: Subject::Server,
            value: 99.0,
            threshold: 95.0,
            message: message.into(),
        },
        since: now() - Duration::from_secs(h * 3600 + 300),
        resolved_at: now() - Duration::from_secs(h * 3600),
    };
    store.servers[0].alerts.recorded(
        vec![old(5, "five hours ago"), old(2, "two hours ago")],
        |_, _| None,
    );
    let mut u = ui(false);
    u.tab = Tab::Alerts;
    let text = screen(&render(&store, &u, 160, 48));
    let two = text.find("two hours ago (lasted 5m").expect(&text);
    let five = text.find("five hours ago (lasted 5m").expect(&text);
    assert!(two < five, "newest first:\n{text}");
    assert!(text.contains("resolved 2h00m"), "{text}");
}

/// The overview at 160x48 and 200x60: every area a tile with its worst items, the alerts
/// tile, each tile titled with its digit key and coloured by its worst alert.
#[test]
fn the_overview_shows_every_area_at_a_glance() {
    let store = populated(1);
    for (w, h) in [(160u16, 48u16), (200, 60)] {
        let mut u = ui(true);
        u.first_tab(w, h, 1);
        assert_eq!(u.tab, Tab::Overview, "{w}x{h} starts on the overview");
        let buf = render(&store, &u, w, h);
        let text = screen(&buf);
        for e in [
            // a tile per area, with its key
            "1 Activity",
            "2 Statements",
            "3 Cache",
            "4 Replication",
            "5 Unused indexes",
            "6 Vacuum",
            "7 WAL",
            "8 Alerts: ",
            // the worst items of each
            "root blocker pid 101",
            "UPDATE stock SET n = n - $1",
            "83.3%",
            "replica1",
            "fullest slot old_slot 64 MiB",
            "lost in 18h12m",
            "orders_note_idx",
            "oldest xid age shop 1.50G",
            "WAL written 4 MiB/s",
            "archiver FAILING",
            "CRITICAL",
        ] {
            assert!(text.contains(e), "overview {w}x{h} lacks {e:?}:\n{text}");
        }
        // coloured by the worst alert: the vacuum tile's title (xid age critical) and the
        // alerts tile's
        let (x, y) = find(&buf, "8 Alerts", "8 Alerts").expect("alerts tile");
        assert_eq!(buf[(x, y)].fg, ratatui::style::Color::Red, "{text}");
        insta::assert_snapshot!(format!("overview_tiles_{w}x{h}"), text);
    }
    // smaller terminals start on the activity, and 0 opens the overview there too
    let mut u = ui(true);
    u.first_tab(120, 40, 1);
    assert_eq!(u.tab, Tab::Area(Area::Activity));
    press(&mut u, &store, KeyCode::Char('0'));
    assert_eq!(u.tab, Tab::Overview);
    // each tile's digit opens its full panel
    press(&mut u, &store, KeyCode::Char('6'));
    assert_eq!(u.tab, Tab::Area(Area::Vacuum));
}

/// At 80x24 the help takes the body, every key on one line; narrower, long descriptions wrap
/// beside their key (a hanging indent), never under the keys.
#[test]
fn help_fits_80x24_with_descriptions_beside_their_keys() {
    let store = populated(1);
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('?'));
    let buf = render(&store, &u, 80, 24);
    let text = screen(&buf);
    for k in [
        "q, Ctrl-C",
        "0, 1-7, 8 or a",
        "c / k",
        "?, F1",
        "this help",
        "wheel: scroll",
        "read-only: cancel/terminate",
    ] {
        assert!(text.contains(k), "{k}:\n{text}");
    }
    insta::assert_snapshot!("help_80x24", text);
    let buf = render(&store, &u, 64, 30);
    let lines = lines(&buf);
    let (x, y) = find(&buf, "cancel query", "c / k").expect("the c / k line");
    // its description wraps: the next line continues in the same column, blank before it
    let next: Vec<char> = lines[usize::from(y) + 1].chars().collect();
    let first = next
        .iter()
        .skip(1)
        .position(|c| *c != ' ')
        .map(|p| p + 1)
        .expect("a continuation line");
    assert_eq!(first, usize::from(x), "hanging indent:\n{}", screen(&buf));
}

fn click(ui: &mut UiState, store: &Store, (x, y): (u16, u16), at: std::time::Instant) -> Action {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    ui.handle_mouse(
        MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        },
        store,
        at,
    )
}

/// Mouse: a click on a tab title opens it, on a table row selects that row, a second click
/// on it opens its details; on an overview tile opens its panel; on a server's header line
/// selects that server; the wheel moves the selection. `y` copies the selected query,
/// without control characters.
#[test]
fn clicks_select_tabs_rows_tiles_and_servers_and_y_copies_the_query() {
    let store = populated(1);
    let mut u = ui(true);
    let t0 = std::time::Instant::now();
    let buf = render(&store, &u, 160, 48);
    let tab = find(&buf, "2 Statements", "1 Activity").expect("the tab bar");
    assert_eq!(click(&mut u, &store, tab, t0), Action::Redraw);
    assert_eq!(u.tab, Tab::Area(Area::Statements));
    // the SELECT is the second row (sorted by time/s)
    let buf = render(&store, &u, 160, 48);
    let row = find(&buf, "SELECT * FROM orders", "SELECT * FROM orders").expect("a row");
    click(&mut u, &store, row, t0);
    assert_eq!(u.selected_row(), 1, "{}", screen(&buf));
    assert!(u.detail.is_none());
    // y copies its text
    match press(&mut u, &store, KeyCode::Char('y')) {
        Action::Copy(text) => assert_eq!(text, "SELECT * FROM orders WHERE id = $1"),
        other => panic!("y: {other:?}"),
    }
    assert!(
        u.message
            .as_deref()
            .unwrap_or("")
            .starts_with("copied 34 characters")
    );
    // a second click on the same row soon after: the details
    click(&mut u, &store, row, t0 + Duration::from_millis(200));
    assert!(u.detail.is_some(), "double-click opens the details");
    press(&mut u, &store, KeyCode::Esc);
    // a click long after is a new single click
    click(&mut u, &store, row, t0 + Duration::from_secs(5));
    click(&mut u, &store, row, t0 + Duration::from_secs(7));
    assert!(u.detail.is_none());
    // the wheel moves the selection
    use ratatui::crossterm::event::{MouseEvent, MouseEventKind};
    u.handle_mouse(
        MouseEvent {
            kind: MouseEventKind::ScrollUp,
            column: row.0,
            row: row.1,
            modifiers: KeyModifiers::NONE,
        },
        &store,
        t0,
    );
    assert_eq!(u.selected_row(), 0);
    // the overview's tiles open their panel
    press(&mut u, &store, KeyCode::Char('0'));
    let buf = render(&store, &u, 160, 48);
    let tile = find(&buf, "oldest xid age", "oldest xid age").expect("the vacuum tile");
    click(&mut u, &store, tile, t0);
    assert_eq!(u.tab, Tab::Area(Area::Vacuum));
    // with two servers, a click on the second's header line selects it
    let two = populated(2);
    let mut u = ui(true);
    let buf = render(&two, &u, 160, 48);
    let line = find(&buf, "db1.example", "db1.example").expect("the second server's line");
    click(&mut u, &two, line, t0);
    assert_eq!(u.server, 1);
}

/// What `y` puts on the clipboard has no control characters and no escape sequences: a
/// query text cannot type commands into the terminal it is pasted in.
#[test]
fn the_clipboard_text_is_sanitized() {
    use pgvitals::tui::state::clipboard_text;
    assert_eq!(
        clipboard_text("SELECT 1;\u{1b}]0;owned\u{7}\r\n\tDROP\u{1b}[31m x\u{9b}\u{202e}y\u{0}"),
        "SELECT 1;\n\tDROP xy"
    );
    let osc = pgvitals::tui::osc52("SELECT 1");
    assert_eq!(osc, "\u{1b}]52;c;U0VMRUNUIDE=\u{7}");
    let long = "x".repeat(200_000);
    assert_eq!(
        clipboard_text(&long).len(),
        pgvitals::tui::state::COPY_MAX_BYTES
    );
}

/// Issue 12: 20 servers, a mix of down, lagging, crowded and healthy ones. The fleet lists
/// them worst first (the unreachable, then critical, then warnings, then ok), and is the
/// first screen with that many servers; `s` sorts by name, `/` filters, Enter opens the
/// selected server's overview.
fn fleet_store() -> Store {
    let labels: Vec<String> = (1..=20).map(|i| format!("orders-{i:02}")).collect();
    let mut store = Store::new(
        labels,
        Thresholds::default(),
        Duration::from_secs(2),
        Duration::from_secs(60),
        t0(),
    );
    for i in 0..20usize {
        if i % 5 == 4 {
            store.apply(
                Update::Link {
                    server: i,
                    event: LinkEvent::Down {
                        error: CollectError::new(ErrorKind::Unreachable, "connection refused"),
                        next_attempt: at(10),
                    },
                    at: at(1),
                },
                at(1),
            );
            continue;
        }
        store.apply(
            Update::Link {
                server: i,
                event: LinkEvent::Connected(Box::new(facts())),
                at: t0(),
            },
            t0(),
        );
        let backends = if i % 5 == 1 { 93 } else { 10 + i as i32 };
        apply(
            &mut store,
            i,
            Sample::Activity(ActivitySample {
                collected_at: 1002.0,
                max_connections: 100,
                usable_connections: 97,
                client_backends: backends,
                states: vec![],
                waiting_on_lock: 0,
                sessions: vec![],
            }),
            at(2),
        );
        if i % 5 == 2 {
            // a standby 20 MiB behind: above the warning of 10 MiB
            apply(&mut store, i, replication(1002.0, 0), at(2));
        }
    }
    store
}

#[test]
fn the_fleet_lists_20_servers_worst_first_at_80x24_and_200x60() {
    let store = fleet_store();
    let mut u = ui(true);
    u.first_tab(200, 60, store.servers.len());
    assert_eq!(u.tab, Tab::Fleet, "more than four servers: the fleet first");
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let buf = render(&store, &u, w, h);
        let text = screen(&buf);
        assert!(
            text.contains("Fleet: 20 servers, 4 unreachable, 4 critical, 4 warning"),
            "{w}x{h}:\n{text}"
        );
        // the table's rows: inside the panel's border, naming a server
        let rows: Vec<String> = lines(&buf)
            .into_iter()
            .filter(|l| l.starts_with('│') && l.contains("orders-"))
            .collect();
        let states: Vec<String> = rows
            .iter()
            .filter_map(|l| {
                l.trim_start_matches('│')
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
            })
            .collect();
        // the rows on screen are in state order, worst first
        let rank = |s: &str| {
            ["unreachable", "critical", "warning", "ok"]
                .iter()
                .position(|x| *x == s)
                .unwrap_or_else(|| panic!("state {s:?}"))
        };
        assert!(
            states.windows(2).all(|p| rank(&p[0]) <= rank(&p[1])),
            "{w}x{h} not worst first: {states:?}\n{text}"
        );
        assert_eq!(states[0], "unreachable", "{w}x{h}:\n{text}");
        assert!(
            text.contains("96%"),
            "the crowded servers' connections:\n{text}"
        );
        assert!(text.contains("20 MiB"), "the lagging servers' lag:\n{text}");
        if w >= 200 {
            assert_eq!(states.len(), 20, "every server fits at {w}x{h}:\n{text}");
            assert!(text.contains("xact/s") && text.contains("sample"), "{text}");
        }
        insta::assert_snapshot!(format!("fleet_20_servers_{w}x{h}"), text);
    }
    // the unreachable rows are red, a warning row yellow
    let buf = render(&store, &u, 200, 60);
    let (x, y) = find(&buf, "unreachable", "orders-05").expect("an unreachable row");
    assert_eq!(buf[(x, y)].fg, Color::Red);

    // sort by name, then Enter opens the selected server's overview
    let mut u = ui(true);
    press(&mut u, &store, KeyCode::Char('f'));
    assert_eq!(u.tab, Tab::Fleet);
    press(&mut u, &store, KeyCode::Char('s'));
    press(&mut u, &store, KeyCode::Down);
    press(&mut u, &store, KeyCode::Down);
    press(&mut u, &store, KeyCode::Enter);
    assert_eq!(u.tab, Tab::Overview);
    assert_eq!(u.server, 2, "the third by name is orders-03");
    // the filter keeps the matching servers only
    let mut u = ui(true);
    u.tab = Tab::Fleet;
    u.filter = "orders-1".into();
    let text = screen(&render(&store, &u, 200, 60));
    assert!(
        text.contains("orders-10") && text.contains("orders-19"),
        "{text}"
    );
    assert!(!text.contains("orders-09 "), "{text}");
}

/// Issue 12: a primary and its standby both watched. The standby (replay paused, its
/// receiver streaming from the primary's endpoint) is matched to the primary's walsender
/// row: the primary's row says PAUSED and both panels show the hop; with the walsender gone
/// while the receiver still says streaming, the sides disagree and the panel says so.
#[test]
fn both_ends_of_a_hop_show_the_paused_standby_and_a_disagreement() {
    let mut store = Store::new(
        vec!["orders-primary".into(), "orders-standby".into()],
        Thresholds::default(),
        Duration::from_secs(2),
        Duration::from_secs(60),
        t0(),
    );
    store.servers[0].endpoints = vec![("db1.internal".into(), 5432)];
    store.servers[1].endpoints = vec![("db2.internal".into(), 5432)];
    for i in 0..2 {
        store.apply(
            Update::Link {
                server: i,
                event: LinkEvent::Connected(Box::new(ServerFacts {
                    in_recovery: i == 1,
                    ..facts()
                })),
                at: t0(),
            },
            t0(),
        );
    }
    apply(&mut store, 0, replication(1002.0, 0), at(2));
    let standby = |streaming: bool| {
        Sample::Replication(ReplicationSample {
            collected_at: 1002.0,
            role: ServerRole::Standby,
            current_wal_lsn: None,
            standbys: vec![],
            slots: vec![],
            standby_status: Some(StandbyStatus {
                receive_lsn: Some("0/3000148".into()),
                replay_lsn: Some("0/1000000".into()),
                replay_lag_bytes: Some(20 * 1024 * 1024),
                lag_state: ReplayState::Paused,
                replay_paused: true,
                wal_receiver_status: streaming.then(|| "streaming".to_string()),
                sender_host: Some("db1.internal".into()),
                sender_port: Some(5432),
                ..Default::default()
            }),
        })
    };
    apply(&mut store, 1, standby(true), at(2));
    let mut u = ui(false);
    u.tab = Tab::Area(Area::Replication);
    let primary = screen(&render(&store, &u, 160, 48));
    assert!(primary.contains("PAUSED/async"), "{primary}");
    assert!(
        primary.contains("chain: orders-primary → orders-standby: replay 20 MiB behind"),
        "{primary}"
    );
    assert!(primary.contains("standby replay PAUSED"), "{primary}");
    u.server = 1;
    let standby_view = screen(&render(&store, &u, 160, 48));
    assert!(
        standby_view.contains("chain: orders-primary → orders-standby"),
        "{standby_view}"
    );
    insta::assert_snapshot!("both_ends_primary_160x48", primary);

    // the primary no longer has a walsender, the standby's receiver still says streaming
    apply(
        &mut store,
        0,
        Sample::Replication(ReplicationSample {
            collected_at: 1004.0,
            role: ServerRole::Primary,
            current_wal_lsn: Some("0/3000148".into()),
            standbys: vec![],
            slots: vec![],
            standby_status: None,
        }),
        at(4),
    );
    let text = screen(&render(&store, &u, 160, 48));
    assert!(
        text.contains(
            "sides disagree: orders-standby's WAL receiver is streaming, but orders-primary has no"
        ),
        "{text}"
    );
    let doc = pgvitals::model::snapshot::document(&store);
    assert_eq!(doc[1]["replication_chain"][0]["upstream"], "orders-primary");
    assert!(doc[1]["replication_chain"][0]["disagreement"].is_string());
}

/// Issue 11: `e` in a statement's detail asks for its plan (an EXPLAIN command to the
/// worker, read-only, so also without --enable-actions); the plan that comes back is shown
/// under the statement, sanitized.
#[test]
fn e_in_a_statement_detail_asks_for_its_plan_and_shows_it() {
    use pgvitals::sample::{ActionOutcome, Command};
    let mut store = populated(1);
    let mut u = ui(false);
    press(&mut u, &store, KeyCode::Char('2'));
    press(&mut u, &store, KeyCode::Enter);
    let text = detail_text(&store, &mut u, 160, 48, 40);
    assert!(
        text.contains("e: its plan (EXPLAIN, never executed)"),
        "{text}"
    );
    let action = press(&mut u, &store, KeyCode::Char('e'));
    assert_eq!(
        action,
        Action::Send(Command::Explain {
            server: 0,
            queryid: 2
        })
    );
    let text = detail_text(&store, &mut u, 160, 48, 40);
    assert!(text.contains("planning statement 2…"), "{text}");
    let command = Command::Explain {
        server: 0,
        queryid: 2,
    };
    pgvitals::tui::take(
        &mut u,
        &mut store,
        Update::Acted {
            server: 0,
            command,
            outcome: ActionOutcome::Plan(vec![
                "Plan of statement 2 in database shop (EXPLAIN, never executed):".into(),
                "Update on stock  (cost=0.29..8.31 rows=0)".into(),
                "  -> Index Scan using stock_pkey on stock  (cost=0.29..8.31 rows=1)".into(),
                "       Index Cond: (id = $2)\u{1b}[2J".into(),
            ]),
            at: now(),
        },
    );
    assert!(
        u.message
            .as_deref()
            .is_some_and(|m| m.contains("planned, nothing executed")),
        "{:?}",
        u.message
    );
    let text = detail_text(&store, &mut u, 160, 48, 40);
    assert!(
        text.contains("-> Index Scan using stock_pkey on stock  (cost=0.29..8.31 rows=1)"),
        "{text}"
    );
    assert!(text.contains("Index Cond: (id = $2)"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn a_failing_wait_sampler_says_so_on_statements_and_activity() {
    let mut store = populated(1);
    let before = screen(&render(&store, &ui(true), 160, 48));
    assert!(before.contains("waits now"), "{before}");
    store.apply(
        Update::Failed {
            server: 0,
            area: Area::Waits,
            error: CollectError::new(
                ErrorKind::PermissionDenied,
                "permission denied for view pg_stat_activity",
            )
            .with_fix("GRANT pg_monitor TO monitor"),
            at: at(3),
        },
        at(3),
    );
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let activity = screen(&render(&store, &ui(true), w, h));
        assert!(
            activity.contains("wait profile failing: permission denied"),
            "{w}x{h}:\n{activity}"
        );
        assert!(
            !activity.contains("waits now"),
            "the failure takes the waits line's place at {w}x{h}:\n{activity}"
        );
        let mut u = ui(true);
        u.tab = Tab::Area(Area::Statements);
        let statements = screen(&render(&store, &u, w, h));
        assert!(
            statements.contains("wait profile failing: permission denied"),
            "{w}x{h}:\n{statements}"
        );
    }
    let mut u = ui(true);
    u.tab = Tab::Area(Area::Statements);
    let wide = screen(&render(&store, &u, 160, 48));
    assert!(wide.contains("(fix: GRANT pg_monitor"), "{wide}");
}
