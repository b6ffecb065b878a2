//! Live tests of least-privilege monitoring roles and of pg_stat_statements set-ups other
//! than the default, through the whole collection pipeline (`app::take_snapshot`: session
//! settings, probe, every area's collector), on the primary and on the standby.
//!
//! * A role that is only a member of pg_monitor sees every condition the area tests create as
//!   a superuser, with no area in error.
//! * A plain LOGIN role sees its own sessions and statements, every area still polls without
//!   error, other roles' texts read `<insufficient privilege>`, and each area that misses
//!   something says what with the GRANT (`privilege_gaps`), which is then run and shown to
//!   fix it.
//! * pg_stat_statements in another schema, at an older version than the server ships, and
//!   missing altogether.
//!
//! Every condition lives in a database (and roles) of its own: tests run in parallel.

use std::time::{Duration, Instant};

use pgvitals::app::take_snapshot;
use pgvitals::cluster::{Node, STANDBY_SLOT};
use pgvitals::collect::probe::parse_extension_version;
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::ServerState;
use pgvitals::model::alerts::Subject;
use pgvitals::sample::Rule;
use pgvitals::sample::privilege_gaps;
use pgvitals::sample::{Area, CollectError, ErrorKind};
use pgvitals::sample::{LagState, ReplayState, ServerRole, Session, Statement};

use crate::common::{assert_all_areas_work, connect, primary, standby, unique, wait_until_async};
use crate::probe::{DropDb, DropRole, create_db, create_role};

/// The standby's `application_name` in the primary's `pg_stat_replication`.
const STANDBY_APP: &str = "pgvitals_standby";

/// A LOGIN role that is a member of pg_monitor and nothing else.
fn create_monitor_role(prefix: &str) -> DropRole {
    let role = create_role(prefix);
    primary()
        .psql("postgres", &format!("GRANT pg_monitor TO {}", role.name))
        .expect("grant pg_monitor");
    role
}

/// One pgvitals snapshot (the areas with rates sampled twice, 200 ms apart) of `db` on `node`
/// as `role`.
async fn snapshot_as(node: &Node, role: &str, db: &str) -> ServerState {
    let spec = ConnSpec::parse(&node.conninfo_as(role, db)).expect("conninfo parses");
    let mut config = Config::parse("").expect("empty config");
    config.interval = Duration::from_millis(200);
    let mut store = take_snapshot(&[spec], &config)
        .await
        .expect("snapshot runs");
    assert_eq!(store.servers.len(), 1);
    store.servers.remove(0)
}

/// Snapshots until `done` holds (→ that snapshot) or 30 s pass (→ panic naming `what`, with
/// the areas' errors).
async fn snapshot_until(
    node: &Node,
    role: &str,
    db: &str,
    what: &str,
    done: impl Fn(&ServerState) -> bool,
) -> ServerState {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let server = snapshot_as(node, role, db).await;
        if done(&server) {
            return server;
        }
        if Instant::now() > deadline {
            panic!(
                "{} as {role}: timed out waiting for {what}; errors: {:?}; {}",
                node.name,
                errors(&server),
                summary(&server)
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// What a failed wait saw: client sessions, statement texts and dead tuples.
fn summary(server: &ServerState) -> String {
    let sessions: Vec<String> = server
        .activity()
        .map(|a| {
            a.sessions
                .iter()
                .filter(|s| s.datname.is_some())
                .map(|s| {
                    format!(
                        "{} {:?} {:?}/{:?} by {:?}: {}",
                        s.pid, s.state, s.wait_event_type, s.wait_event, s.blocked_by, s.query
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let statements: Vec<String> = server
        .statements()
        .map(|st| {
            st.statements
                .iter()
                .map(|s| format!("{}x {:?}", s.calls, s.query))
                .collect()
        })
        .unwrap_or_default();
    let dead: Vec<String> = server
        .vacuum()
        .map(|v| {
            v.dead_tuples
                .iter()
                .map(|t| format!("{} {}", t.relname, t.n_dead_tup))
                .collect()
        })
        .unwrap_or_default();
    format!("sessions: {sessions:#?}\nstatements: {statements:?}\ndead tuples: {dead:?}")
}

/// The areas in error, with their error.
fn errors(server: &ServerState) -> Vec<(Area, CollectError)> {
    Area::ALL
        .into_iter()
        .filter_map(|a| server.area(a).error.clone().map(|(e, _)| (a, e)))
        .collect()
}

async fn pid_of(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

fn session(server: &ServerState, pid: i32) -> Option<&Session> {
    server
        .activity()
        .and_then(|a| a.sessions.iter().find(|s| s.pid == pid))
}

/// The statements entry whose text contains `needle`.
fn statement<'a>(server: &'a ServerState, needle: &str) -> Option<&'a Statement> {
    server.statements().and_then(|s| {
        s.statements
            .iter()
            .find(|x| x.query.as_deref().is_some_and(|q| q.contains(needle)))
    })
}

/// A client that runs `sql` in the background on a new connection as `role` to `db` (a sleep
/// or a statement that waits on a lock) and reports its pid once it is sent.
async fn background(node: &Node, role: &str, db: &str, sql: String) -> i32 {
    let c = crate::common::connect_as(node, role, db).await;
    let pid = pid_of(&c).await;
    tokio::spawn(async move {
        // Ended by pg_terminate_backend (or the database's DROP ... FORCE) at the end of the
        // test: the error is expected.
        let _ = c.batch_execute(&sql).await;
    });
    pid
}

/// Ends backends when dropped (pass or fail), so no sleeper outlives its test.
struct Terminate(&'static Node, Vec<i32>);

impl Drop for Terminate {
    fn drop(&mut self) {
        for pid in &self.1 {
            let _ = self
                .0
                .psql("postgres", &format!("SELECT pg_terminate_backend({pid})"));
        }
    }
}

/// Waits until `sql` (one boolean) is true on the standby: replay reached what the primary
/// just did.
async fn standby_has(db: &str, sql: &str) {
    let ok = wait_until_async(Duration::from_secs(30), || async {
        standby().psql(db, sql).is_ok_and(|out| out == "t")
    })
    .await;
    assert!(ok, "the standby never replayed: {sql}");
}

/// The conditions every area test creates, in database `db` of the primary, as superuser:
/// a statement with 7 calls, an unused plain index, dead tuples, a sleeping session and a
/// lock chain (A with an xid holds an ACCESS EXCLUSIVE lock, B waits on it).
struct Conditions {
    /// The table of the counted statement (`SELECT count(*) FROM <stmt_table>`).
    stmt_table: String,
    /// Marker in the sleeper's query text.
    sleep_marker: String,
    sleeper_pid: i32,
    holder_pid: i32,
    waiter_pid: i32,
    _terminate: Terminate,
}

impl Conditions {
    /// The counted statement's text.
    fn stmt_query(&self) -> String {
        format!("SELECT count(*) FROM {}", self.stmt_table)
    }
}

async fn create_conditions(db: &str) -> Conditions {
    let p = primary();
    let stmt_table = unique("priv_stmt");
    p.psql(
        db,
        &format!(
            "CREATE EXTENSION pg_stat_statements; \
             CREATE TABLE {stmt_table} (id int); INSERT INTO {stmt_table} VALUES (1); \
             CREATE TABLE idx_t (id int PRIMARY KEY, a int); \
             INSERT INTO idx_t SELECT g, g FROM generate_series(1, 2000) g; \
             CREATE INDEX idx_t_a_unused ON idx_t (a); \
             CREATE TABLE churn (id int, v int) WITH (autovacuum_enabled = false); \
             INSERT INTO churn SELECT g, 0 FROM generate_series(1, 5000) g; \
             UPDATE churn SET v = 1; \
             CREATE TABLE locked_t (id int)"
        ),
    )
    .expect("schema");
    let w = connect(p, db).await;
    for _ in 0..7 {
        w.batch_execute(&format!("SELECT count(*) FROM {stmt_table}"))
            .await
            .expect("counted statement");
    }
    drop(w);

    let sleep_marker = unique("priv_sleeper");
    let sleeper_pid = background(
        p,
        "postgres",
        db,
        format!("SELECT pg_sleep(120) /* {sleep_marker} */"),
    )
    .await;
    let holder = connect(p, db).await;
    let holder_pid = pid_of(&holder).await;
    holder
        .batch_execute("BEGIN; SELECT txid_current(); LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("A holds the lock");
    // The holder's connection must outlive this function: park it in a task until it is
    // terminated.
    tokio::spawn(async move {
        let _holder = holder;
        std::future::pending::<()>().await;
    });
    let waiter_pid = background(p, "postgres", db, "SELECT count(*) FROM locked_t".into()).await;
    Conditions {
        stmt_table,
        sleep_marker,
        sleeper_pid,
        holder_pid,
        waiter_pid,
        _terminate: Terminate(p, vec![sleeper_pid, holder_pid, waiter_pid]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_monitor_role_sees_every_area_on_the_primary() {
    let role = create_monitor_role("priv_mon");
    let db = create_db("priv_mon");
    let c = create_conditions(&db.name).await;

    let server = snapshot_until(
        primary(),
        &role.name,
        &db.name,
        "the statement, the sleeper, the lock wait and the dead tuples",
        |s| {
            statement(s, &c.stmt_query()).is_some_and(|x| x.calls == 7)
                && session(s, c.sleeper_pid).is_some_and(|x| x.query.contains(&c.sleep_marker))
                && session(s, c.waiter_pid).is_some_and(|x| x.blocked_by.contains(&c.holder_pid))
                && s.vacuum().is_some_and(|v| {
                    v.dead_tuples
                        .iter()
                        .any(|t| t.relname == "churn" && t.n_dead_tup >= 5000)
                })
        },
    )
    .await;
    assert_all_areas_work(&server, &[]);
    let facts = server.facts.as_ref().expect("probed");
    assert_eq!(facts.current_user, role.name);
    assert!(!facts.is_superuser);
    assert!(facts.pg_monitor && facts.pg_read_all_stats && facts.can_read_all_stats());
    assert!(privilege_gaps(facts).is_empty());

    // Server.
    let srv = server.server().expect("server sample");
    assert_eq!(srv.datname, db.name);
    assert!(!srv.in_recovery);
    assert_eq!(srv.server_version_num, facts.server_version_num);
    assert!(srv.database_size_bytes.is_some_and(|b| b > 1_000_000));

    // Statements: another role's statement, with its text.
    let stmts = server.statements().expect("statements sample");
    assert_eq!(stmts.notice, None, "nothing hidden from pg_monitor");
    let st = statement(&server, &c.stmt_query()).expect("the counted statement");
    assert_eq!(st.calls, 7);
    assert_eq!(st.usename.as_deref(), Some("postgres"));
    assert_eq!(st.datname.as_deref(), Some(db.name.as_str()));
    assert_eq!(
        st.query.as_deref(),
        Some(format!("SELECT count(*) FROM {}", c.stmt_table).as_str())
    );

    // Activity: another role's session with its text and wait event; the lock chain.
    let sleeper = session(&server, c.sleeper_pid).expect("the sleeper");
    assert_eq!(sleeper.usename.as_deref(), Some("postgres"));
    assert_eq!(sleeper.state.as_deref(), Some("active"));
    assert_eq!(sleeper.wait_event_type.as_deref(), Some("Timeout"));
    assert_eq!(sleeper.wait_event.as_deref(), Some("PgSleep"));
    assert_eq!(sleeper.backend_type, "client backend");
    let waiter = session(&server, c.waiter_pid).expect("the waiter");
    assert_eq!(waiter.wait_event_type.as_deref(), Some("Lock"));
    assert_eq!(waiter.wait_event.as_deref(), Some("relation"));
    assert_eq!(waiter.blocked_by, vec![c.holder_pid]);
    let holder = session(&server, c.holder_pid).expect("the holder");
    assert_eq!(holder.state.as_deref(), Some("idle in transaction"));
    assert!(holder.backend_xid_age.is_some(), "{holder:?}");
    let activity = server.activity().expect("activity sample");
    assert!(activity.waiting_on_lock >= 1);
    assert!(activity.states.iter().all(|s| s.state != "unknown"));

    // Cache: this database and its tables.
    let cache = server.cache().expect("cache sample");
    assert!(cache.databases.iter().any(|d| d.datname == db.name));
    assert!(cache.tables.iter().any(|t| t.relname == "churn"));

    // Replication: the standby with its LSNs and lag, and its slot.
    let repl = server.replication().expect("replication sample");
    assert_eq!(repl.role, ServerRole::Primary);
    let sb = repl
        .standbys
        .iter()
        .find(|s| s.application_name == STANDBY_APP)
        .unwrap_or_else(|| panic!("no {STANDBY_APP}: {repl:?}"));
    assert_eq!(sb.state.as_deref(), Some("streaming"), "{sb:?}");
    assert!(
        sb.sent_lsn.is_some() && sb.flush_lsn.is_some() && sb.replay_lsn.is_some(),
        "{sb:?}"
    );
    assert!(
        sb.sent_lag_bytes.is_some() && sb.replay_lag_bytes.is_some(),
        "{sb:?}"
    );
    assert!(sb.reply_age_s.is_some(), "{sb:?}");
    assert!(
        ["idle", "streaming"].contains(&sb.lag_state.as_str()),
        "{sb:?}"
    );
    let slot = repl
        .slots
        .iter()
        .find(|s| s.slot_name == STANDBY_SLOT)
        .unwrap_or_else(|| panic!("no slot {STANDBY_SLOT}: {repl:?}"));
    assert!(slot.active);
    assert_eq!(slot.slot_type, "physical");
    assert!(slot.retained_wal_bytes.is_some(), "{slot:?}");

    // Unused indexes: the plain index with its size, not the primary key.
    let unused = server.unused_indexes().expect("unused indexes sample");
    let idx = unused
        .indexes
        .iter()
        .find(|i| i.indexrelname == "idx_t_a_unused")
        .unwrap_or_else(|| panic!("idx_t_a_unused not listed: {unused:?}"));
    assert_eq!(idx.relname, "idx_t");
    assert_eq!(idx.idx_scan, 0);
    assert!(idx.index_size_bytes >= 8192, "{idx:?}");
    assert!(
        unused
            .indexes
            .iter()
            .all(|i| i.indexrelname != "idx_t_pkey")
    );

    // Vacuum: dead tuples, xid ages, and another role's transaction holding the horizon.
    let vac = server.vacuum().expect("vacuum sample");
    let churn = vac
        .dead_tuples
        .iter()
        .find(|t| t.relname == "churn")
        .expect("churn");
    assert!(churn.n_dead_tup >= 5000 && churn.dead_tup_ratio.is_some_and(|r| r > 0.3));
    let age = vac
        .databases
        .iter()
        .find(|d| d.datname == db.name)
        .expect("this database's xid age");
    assert!(age.xid_age > 0);
    assert!(!vac.oldest_tables.is_empty());
    let held = vac
        .xmin_horizon
        .iter()
        .find(|h| h.name == c.holder_pid.to_string())
        .unwrap_or_else(|| panic!("the holder's xid is not listed: {:?}", vac.xmin_horizon));
    assert_eq!(held.kind, "backend_xid");
    assert!(
        held.detail
            .starts_with(&format!("postgres@{} idle in transaction", db.name)),
        "{held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_monitor_role_sees_the_standby_and_its_wal_receiver() {
    let role = create_monitor_role("priv_mon_sb");
    let db = create_db("priv_mon_sb");
    primary()
        .psql(
            &db.name,
            "CREATE EXTENSION pg_stat_statements; \
             CREATE TABLE idx_t (id int PRIMARY KEY, a int); \
             INSERT INTO idx_t SELECT g, g FROM generate_series(1, 2000) g; \
             CREATE INDEX idx_t_a_unused ON idx_t (a)",
        )
        .expect("schema");
    standby_has(
        &db.name,
        &format!(
            "SELECT to_regclass('idx_t_a_unused') IS NOT NULL \
               AND EXISTS (SELECT FROM pg_roles WHERE rolname = '{}')",
            role.name
        ),
    )
    .await;
    let s = standby();
    // On the standby, as superuser: a statement with 5 calls and a sleeping session.
    let stmt_marker = unique("priv_sb_stmt");
    let w = connect(s, &db.name).await;
    for _ in 0..5 {
        w.batch_execute(&format!("SELECT count(*) AS {stmt_marker} FROM idx_t"))
            .await
            .expect("statement on the standby");
    }
    let sleep_marker = unique("priv_sb_sleeper");
    let sleeper_pid = background(
        s,
        "postgres",
        &db.name,
        format!("SELECT pg_sleep(120) /* {sleep_marker} */"),
    )
    .await;
    let _terminate = Terminate(s, vec![sleeper_pid]);

    let server = snapshot_until(
        s,
        &role.name,
        &db.name,
        "the statement and the sleeper",
        |x| {
            statement(x, &stmt_marker).is_some_and(|st| st.calls == 5)
                && session(x, sleeper_pid).is_some_and(|x| x.wait_event.is_some())
        },
    )
    .await;
    assert_all_areas_work(&server, &[]);
    let facts = server.facts.as_ref().expect("probed");
    assert!(facts.in_recovery && facts.pg_monitor && !facts.is_superuser);
    assert!(server.server().is_some_and(|x| x.in_recovery));

    // The WAL receiver view, which needs pg_read_all_stats.
    let repl = server.replication().expect("replication sample");
    assert_eq!(repl.role, ServerRole::Standby);
    let st = repl.standby_status.as_ref().expect("standby status");
    assert_eq!(
        st.wal_receiver_status.as_deref(),
        Some("streaming"),
        "{st:?}"
    );
    assert_eq!(st.sender_port, Some(i32::from(primary().port)), "{st:?}");
    assert!(st.sender_host.is_some(), "{st:?}");
    assert!(st.last_msg_receipt_age_s.is_some(), "{st:?}");
    assert!(
        st.receive_lsn.is_some() && st.replay_lsn.is_some(),
        "{st:?}"
    );
    assert!(
        ["idle", "replaying"].contains(&st.lag_state.as_str()),
        "{st:?}"
    );

    let stmt = statement(&server, &stmt_marker).expect("the standby's statement");
    assert_eq!(stmt.usename.as_deref(), Some("postgres"));
    let sleeper = session(&server, sleeper_pid).expect("the sleeper");
    assert!(sleeper.query.contains(&sleep_marker));
    assert_eq!(sleeper.wait_event.as_deref(), Some("PgSleep"));
    let activity = server.activity().expect("activity");
    assert!(
        activity
            .sessions
            .iter()
            .any(|x| x.backend_type == "walreceiver"),
        "the WAL receiver process is listed"
    );
    let unused = server.unused_indexes().expect("unused indexes");
    assert!(
        unused
            .indexes
            .iter()
            .any(|i| i.indexrelname == "idx_t_a_unused" && i.index_size_bytes >= 8192),
        "{unused:?}"
    );
    let cache = server.cache().expect("cache");
    assert!(cache.databases.iter().any(|d| d.datname == db.name));
    let vac = server.vacuum().expect("vacuum");
    assert!(vac.databases.iter().any(|d| d.datname == db.name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_pg_monitor_is_told_what_it_misses_and_the_grant_fixes_it() {
    let role = create_role("priv_plain");
    let db = create_db("priv_plain");
    let c = create_conditions(&db.name).await;
    let p = primary();
    // The plain role's own work: a table it may read, a statement with 3 calls and a sleep.
    p.psql(
        &db.name,
        &format!(
            "CREATE TABLE own_t (id int); GRANT SELECT ON own_t TO {}",
            role.name
        ),
    )
    .expect("own table");
    let own = crate::common::connect_as(p, &role.name, &db.name).await;
    for _ in 0..3 {
        own.batch_execute("SELECT count(*) FROM own_t")
            .await
            .expect("own statement");
    }
    let own_marker = unique("priv_own_sleeper");
    let own_pid = background(
        p,
        &role.name,
        &db.name,
        format!("SELECT pg_sleep(120) /* {own_marker} */"),
    )
    .await;
    let _terminate = Terminate(p, vec![own_pid]);

    let server = snapshot_until(
        p,
        &role.name,
        &db.name,
        "the own statement, the own sleeper and the dead tuples",
        |s| {
            statement(s, "SELECT count(*) FROM own_t").is_some_and(|x| x.calls == 3)
                && session(s, own_pid).is_some_and(|x| x.wait_event.is_some())
                && s.vacuum().is_some_and(|v| {
                    v.dead_tuples
                        .iter()
                        .any(|t| t.relname == "churn" && t.n_dead_tup >= 5000)
                })
        },
    )
    .await;
    // Every area polls: hidden columns are not errors.
    assert_all_areas_work(&server, &[]);
    let facts = server.facts.as_ref().expect("probed");
    assert!(!facts.is_superuser && !facts.pg_monitor && !facts.can_read_all_stats());
    assert!(facts.pgss_preloaded, "known without pg_read_all_settings");

    // What each area misses, and the GRANT.
    let gaps = privilege_gaps(facts);
    let fix = format!("GRANT pg_read_all_stats TO {}", role.name);
    let areas: Vec<Area> = gaps.iter().map(|g| g.area).collect();
    assert_eq!(
        areas,
        [
            Area::Activity,
            Area::Statements,
            Area::Replication,
            Area::Vacuum,
            Area::Waits
        ]
    );
    assert!(gaps.iter().all(|g| g.fix == fix), "{gaps:?}");
    assert!(gaps[2].hidden.contains("standbys"), "{gaps:?}");

    // Activity: other roles' sessions are listed without text, state or wait; ours in full.
    let sleeper = session(&server, c.sleeper_pid).expect("other role's sleeper listed");
    assert_eq!(sleeper.query, "<insufficient privilege>");
    assert_eq!(sleeper.state, None);
    assert_eq!(sleeper.wait_event, None);
    assert_eq!(sleeper.query_age_s, None, "no age: no long-query alert");
    let waiter = session(&server, c.waiter_pid).expect("other role's waiter listed");
    assert!(waiter.blocked_by.is_empty(), "blocking pids hidden");
    let mine = session(&server, own_pid).expect("own sleeper");
    assert!(mine.query.contains(&own_marker));
    assert_eq!(mine.state.as_deref(), Some("active"));
    assert_eq!(mine.wait_event.as_deref(), Some("PgSleep"));
    let activity = server.activity().expect("activity");
    assert!(activity.states.iter().any(|s| s.state == "unknown"));
    assert_eq!(
        server
            .alerts
            .severity_of(Rule::LongQuery, &Subject::Backend(c.sleeper_pid)),
        None
    );
    // The hidden text is never taken for a statement text either.
    let stmts = server.statements().expect("statements");
    assert!(
        stmts
            .statements
            .iter()
            .all(|s| s.query.as_deref() != Some("<insufficient privilege>"))
    );

    // Statements: only the role's own entries, and the notice with the GRANT.
    assert_eq!(
        stmts.notice.as_deref(),
        Some(
            format!("other roles' statements are left out without pg_read_all_stats: {fix}")
                .as_str()
        )
    );
    assert!(!stmts.statements.is_empty());
    assert!(
        stmts
            .statements
            .iter()
            .all(|s| s.usename.as_deref() == Some(role.name.as_str())),
        "only own entries: {:?}",
        stmts.statements
    );
    assert!(statement(&server, &c.stmt_query()).is_none());
    assert_eq!(
        statement(&server, "SELECT count(*) FROM own_t").and_then(|s| s.query.as_deref()),
        Some("SELECT count(*) FROM own_t")
    );

    // Replication: the standby row is there, its state and lag hidden, not "catching up";
    // the slot needs no privilege.
    let repl = server.replication().expect("replication");
    let sb = repl
        .standbys
        .iter()
        .find(|s| s.application_name == STANDBY_APP)
        .unwrap_or_else(|| panic!("no {STANDBY_APP}: {repl:?}"));
    assert_eq!(sb.state, None);
    assert_eq!(sb.replay_lag_bytes, None);
    assert_eq!(sb.lag_state, LagState::Unknown);
    assert!(
        repl.slots
            .iter()
            .any(|s| s.slot_name == STANDBY_SLOT && s.active)
    );
    assert_eq!(
        server.alerts.severity_of(
            Rule::ReplicationLagTime,
            &Subject::Standby(STANDBY_APP.into())
        ),
        None
    );

    // Vacuum: ages and dead tuples need nothing; backend_xid / backend_xmin are visible to
    // every role, so the other role's transaction holds the horizon in the list too, only
    // its state and transaction age are hidden.
    let vac = server.vacuum().expect("vacuum");
    assert!(vac.databases.iter().any(|d| d.datname == db.name));
    let held = vac
        .xmin_horizon
        .iter()
        .find(|h| h.name == c.holder_pid.to_string())
        .unwrap_or_else(|| panic!("the holder's xid is listed: {:?}", vac.xmin_horizon));
    assert_eq!(held.kind, "backend_xid");
    assert!(
        held.detail.starts_with(&format!("postgres@{}", db.name)),
        "{held:?}"
    );
    assert!(!held.detail.contains("idle in transaction"), "{held:?}");
    assert!(!held.detail.contains("xact"), "{held:?}");
    let holder = session(&server, c.holder_pid).expect("the holder");
    assert!(holder.backend_xid_age.is_some(), "{holder:?}");
    assert_eq!(holder.xact_age_s, None);
    // Cache and unused indexes need nothing.
    assert!(
        server
            .unused_indexes()
            .is_some_and(|u| u.indexes.iter().any(|i| i.indexrelname == "idx_t_a_unused"))
    );
    assert!(
        server
            .cache()
            .is_some_and(|x| x.tables.iter().any(|t| t.relname == "churn"))
    );

    // The standby as the same role: the WAL receiver's status is hidden, but the standby is
    // not reported as disconnected.
    standby_has(
        "postgres",
        &format!(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = '{}')",
            role.name
        ),
    )
    .await;
    let on_standby = snapshot_as(standby(), &role.name, "postgres").await;
    assert_all_areas_work(&on_standby, &[]);
    let sf = on_standby.facts.as_ref().expect("probed");
    let sgaps = privilege_gaps(sf);
    assert!(
        sgaps
            .iter()
            .any(|g| g.area == Area::Replication && g.hidden.contains("WAL receiver")),
        "{sgaps:?}"
    );
    let st = on_standby
        .replication()
        .and_then(|r| r.standby_status.clone())
        .expect("standby status");
    assert_eq!(st.wal_receiver_status, None);
    assert_eq!(st.sender_port, None);
    assert!(st.receive_lsn.is_some(), "{st:?}");
    assert_ne!(st.lag_state, ReplayState::Disconnected, "{st:?}");
    assert_eq!(
        on_standby
            .alerts
            .severity_of(Rule::ReplicationLagTime, &Subject::Server),
        None
    );

    // Run the fix as given: everything shows.
    p.psql("postgres", &gaps[0].fix).expect("the GRANT runs");
    let fixed = snapshot_until(p, &role.name, &db.name, "the texts after the GRANT", |s| {
        statement(s, &c.stmt_query()).is_some()
    })
    .await;
    assert_all_areas_work(&fixed, &[]);
    let ff = fixed.facts.as_ref().expect("probed");
    assert!(ff.pg_read_all_stats && !ff.pg_monitor);
    assert!(privilege_gaps(ff).is_empty());
    assert_eq!(fixed.statements().and_then(|s| s.notice.clone()), None);
    assert!(session(&fixed, c.sleeper_pid).is_some_and(|x| x.query.contains(&c.sleep_marker)));
    assert!(session(&fixed, c.waiter_pid).is_some_and(|x| x.blocked_by.contains(&c.holder_pid)));
    let sb = fixed
        .replication()
        .and_then(|r| {
            r.standbys
                .iter()
                .find(|s| s.application_name == STANDBY_APP)
        })
        .expect("standby row");
    assert_eq!(sb.state.as_deref(), Some("streaming"));
}

/// A fresh database with pg_stat_statements created by `sql`, a statement with `calls` calls
/// run in it as superuser, and a pg_monitor role. Returns (role, db, statement marker).
async fn pgss_database(prefix: &str, create: &str, calls: usize) -> (DropRole, DropDb, String) {
    let role = create_monitor_role(prefix);
    let db = create_db(prefix);
    primary().psql(&db.name, create).expect(create);
    let marker = unique("priv_pgss");
    let w = connect(primary(), &db.name).await;
    for _ in 0..calls {
        w.batch_execute(&format!("SELECT 1 AS {marker}"))
            .await
            .expect("statement");
    }
    (role, db, marker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_stat_statements_in_another_schema() {
    let (role, db, marker) = pgss_database(
        "priv_schema",
        "CREATE SCHEMA x; CREATE EXTENSION pg_stat_statements SCHEMA x",
        4,
    )
    .await;

    // The monitoring role lacks USAGE on schema x: the fix says so (pg_monitor would not help).
    let server = snapshot_as(primary(), &role.name, &db.name).await;
    assert_all_areas_work(&server, &[Area::Statements]);
    let (err, _) = server
        .area(Area::Statements)
        .error
        .clone()
        .expect("schema x is not usable by the role");
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err:?}");
    assert_eq!(err.sqlstate.as_deref(), Some("42501"));
    assert_eq!(err.message, "permission denied for schema x");
    let fix = format!("GRANT USAGE ON SCHEMA x TO {}", role.name);
    assert_eq!(err.fix.as_deref(), Some(fix.as_str()));

    // Run the fix as given.
    primary().psql(&db.name, &fix).expect("the GRANT runs");
    let server = snapshot_until(primary(), &role.name, &db.name, "the statement", |s| {
        statement(s, &marker).is_some()
    })
    .await;
    assert_all_areas_work(&server, &[]);
    let pgss = server
        .facts
        .as_ref()
        .and_then(|f| f.pgss.clone())
        .expect("found");
    assert_eq!(pgss.schema, "x");
    let stmts = server.statements().expect("statements");
    assert_eq!(stmts.extension_schema, "x");
    assert_eq!(stmts.notice, None);
    let st = statement(&server, &marker).expect("the statement");
    assert_eq!(st.calls, 4);
    assert_eq!(
        st.query.as_deref(),
        Some(format!("SELECT $1 AS {marker}").as_str())
    );
    assert_eq!(st.datname.as_deref(), Some(db.name.as_str()));
    if primary().major() >= 14 {
        assert!(stmts.stats_reset.is_some(), "pg_stat_statements_info in x");
    }
}

/// The version to install that is older than the server's default: 1.8 where the server
/// ships something newer (14+), else the newest older one it can install (1.6 on 12, 1.7 on
/// 13). pgvitals supports 1.4 and later.
async fn older_pgss_version() -> ((u32, u32), (u32, u32)) {
    let c = connect(primary(), "postgres").await;
    let default: String = c
        .query_one(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_stat_statements'",
            &[],
        )
        .await
        .expect("default version")
        .get(0);
    let default = parse_extension_version(&default).expect("parses");
    let versions: Vec<(u32, u32)> = c
        .query(
            "SELECT version FROM pg_available_extension_versions WHERE name = 'pg_stat_statements'",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .filter_map(|r| parse_extension_version(r.get::<_, &str>(0)))
        .filter(|v| *v >= (1, 4) && *v < default)
        .collect();
    let chosen = if versions.contains(&(1, 8)) {
        (1, 8)
    } else {
        *versions.iter().max().expect("an older installable version")
    };
    match primary().major() {
        12 => assert_eq!((default, chosen), ((1, 7), (1, 6))),
        13 => assert_eq!((default, chosen), ((1, 8), (1, 7))),
        _ => assert_eq!(chosen, (1, 8)),
    }
    (chosen, default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_pg_stat_statements_than_the_server_ships() {
    let (old, default) = older_pgss_version().await;
    let old_text = format!("{}.{}", old.0, old.1);
    let default_text = format!("{}.{}", default.0, default.1);
    let (role, db, marker) = pgss_database(
        "priv_old",
        &format!("CREATE EXTENSION pg_stat_statements VERSION '{old_text}'"),
        6,
    )
    .await;
    let server = snapshot_until(primary(), &role.name, &db.name, "the statement", |s| {
        statement(s, &marker).is_some()
    })
    .await;
    assert_all_areas_work(&server, &[]);
    let stmts = server.statements().expect("statements");
    assert_eq!(stmts.extension_version, old_text);
    assert_eq!(
        stmts.notice.as_deref(),
        Some(
            format!(
                "pg_stat_statements {old_text} is older than this server's {default_text}: \
                 ALTER EXTENSION pg_stat_statements UPDATE"
            )
            .as_str()
        )
    );
    // The variant: 1.4-1.7 have no planning time, 1.8 has; neither has toplevel nor
    // pg_stat_statements_info.
    let st = statement(&server, &marker).expect("the statement");
    assert_eq!(st.calls, 6);
    assert_eq!(
        st.query.as_deref(),
        Some(format!("SELECT $1 AS {marker}").as_str())
    );
    assert!(st.toplevel);
    assert_eq!(st.total_plan_time_ms.is_some(), old >= (1, 8), "{st:?}");
    assert_eq!(st.stats_since, None);
    assert_eq!(stmts.stats_reset, None);
    assert_eq!(stmts.dealloc, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pg_stat_statements_only_statements_explains_for_either_role() {
    let monitor_role = create_monitor_role("priv_nopgss_mon");
    let plain_role = create_role("priv_nopgss_plain");
    let db = create_db("priv_nopgss");
    for role in [&monitor_role.name, &plain_role.name] {
        let server = snapshot_as(primary(), role, &db.name).await;
        assert_all_areas_work(&server, &[Area::Statements]);
        let (err, _) = server
            .area(Area::Statements)
            .error
            .clone()
            .expect("statements explains");
        assert_eq!(err.kind, ErrorKind::ExtensionMissing, "{role}: {err:?}");
        assert_eq!(
            err.message,
            format!(
                "pg_stat_statements is not installed in database {}",
                db.name
            )
        );
        assert_eq!(
            err.fix.as_deref(),
            Some("CREATE EXTENSION pg_stat_statements;"),
            "{role}: preloaded already, so only the CREATE EXTENSION"
        );
        assert!(server.statements().is_none());
    }
}
