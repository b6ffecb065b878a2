//! Live tests of the activity collector: a lock chain, an idle transaction, our own backend
//! left out, and query texts that are not UTF-8.

use std::time::{Duration, Instant};

use pgvitals::collect::areas::activity::ActivityCollector;
use pgvitals::sample::{ActivitySample, Session};

use crate::common::{connect, primary, unique, wait_until_async};
use crate::probe::{Monitor, create_db, monitor};

/// Poll until `done` holds for a sample (→ that sample) or 15 s pass (→ panic with the last).
async fn poll_until(
    m: &Monitor,
    collector: &mut ActivityCollector,
    what: &str,
    done: impl Fn(&ActivitySample) -> bool,
) -> ActivitySample {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sample = collector.collect(&m.ctx()).await.expect("activity sample");
        if done(&sample) {
            return sample;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; last sample: {sample:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn session(sample: &ActivitySample, pid: i32) -> Option<&Session> {
    sample.sessions.iter().find(|s| s.pid == pid)
}

async fn pid_of(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_chain_shows_who_blocks_whom() {
    let table = unique("act_lock");
    let setup = connect(primary(), "postgres").await;
    setup
        .batch_execute(&format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, v int); INSERT INTO {table} VALUES (1, 0)"
        ))
        .await
        .expect("table");

    let a = connect(primary(), "postgres").await;
    let b = connect(primary(), "postgres").await;
    let c = connect(primary(), "postgres").await;
    let (pid_a, pid_b, pid_c) = (pid_of(&a).await, pid_of(&b).await, pid_of(&c).await);
    a.batch_execute(&format!("BEGIN; UPDATE {table} SET v = 1 WHERE id = 1"))
        .await
        .expect("A holds the row lock");
    let update = format!("UPDATE {table} SET v = v + 1 WHERE id = 1");
    let ub = update.clone();
    let task_b = tokio::spawn(async move { b.execute(ub.as_str(), &[]).await.map(|_| b) });
    // C queues only once B waits, so B (not C) is first in line behind A
    let watcher = connect(primary(), "postgres").await;
    let b_waits = wait_until_async(Duration::from_secs(10), || async {
        watcher
            .query_one(
                "SELECT wait_event_type IS NOT DISTINCT FROM 'Lock' FROM pg_stat_activity WHERE pid = $1",
                &[&pid_b],
            )
            .await
            .is_ok_and(|r| r.get::<_, bool>(0))
    })
    .await;
    assert!(b_waits, "B never waited on A's lock");
    let uc = update.clone();
    let task_c = tokio::spawn(async move { c.execute(uc.as_str(), &[]).await.map(|_| c) });

    let m = monitor(primary(), "postgres").await;
    let mut collector = ActivityCollector::new();
    let sample = poll_until(&m, &mut collector, "B and C waiting on locks", |s| {
        let waiting = |pid| {
            session(s, pid).is_some_and(|x| {
                x.wait_event_type.as_deref() == Some("Lock") && !x.blocked_by.is_empty()
            })
        };
        waiting(pid_b) && waiting(pid_c)
    })
    .await;

    let sb = session(&sample, pid_b).expect("B listed");
    assert!(
        sb.blocked_by.contains(&pid_a),
        "B is blocked by A ({pid_a}): {sb:?}"
    );
    let sc = session(&sample, pid_c).expect("C listed");
    assert!(!sc.blocked_by.is_empty());
    assert!(
        sc.blocked_by.contains(&pid_b) || sc.blocked_by.contains(&pid_a),
        "C waits behind B or A: {sc:?}"
    );
    let sa = session(&sample, pid_a).expect("A listed");
    assert_eq!(sa.state.as_deref(), Some("idle in transaction"));
    assert!(sa.blocked_by.is_empty(), "A waits on nothing");
    assert!(sample.waiting_on_lock >= 2);
    assert_eq!(sb.state.as_deref(), Some("active"));
    assert!(sb.query.contains(&table));

    a.batch_execute("ROLLBACK").await.expect("A lets go");
    let b = task_b.await.expect("B task").expect("B's update");
    let c = task_c.await.expect("C task").expect("C's update");
    drop((b, c));
    setup
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop");
}

#[tokio::test]
async fn idle_in_transaction_has_a_transaction_age_and_we_are_not_listed() {
    let d = connect(primary(), "postgres").await;
    let pid_d = pid_of(&d).await;
    d.batch_execute("BEGIN; SELECT 1")
        .await
        .expect("open transaction");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let m = monitor(primary(), "postgres").await;
    let mut collector = ActivityCollector::new();
    let sample = collector.collect(&m.ctx()).await.expect("sample");
    let s = session(&sample, pid_d).expect("the idle transaction is listed");
    assert_eq!(s.state.as_deref(), Some("idle in transaction"));
    assert!(s.xact_age_s.get().is_some_and(|age| age >= 0.25), "{s:?}");
    assert!(s.state_age_s.get().is_some_and(|age| age >= 0.0));
    assert_eq!(s.backend_type, "client backend");
    assert_eq!(s.datname.as_deref(), Some("postgres"));
    assert_eq!(s.usename.as_deref(), Some("postgres"));
    assert_eq!(s.query, "BEGIN; SELECT 1");
    assert!(
        sample
            .states
            .iter()
            .any(|c| c.state == "idle in transaction" && c.count >= 1)
    );

    // Our own backend is counted but not listed.
    assert!(session(&sample, m.facts.backend_pid).is_none());
    assert!(sample.client_backends >= 2);
    let counted: i32 = sample.states.iter().map(|c| c.count).sum();
    assert_eq!(counted, sample.client_backends);
    let listed_clients = sample
        .sessions
        .iter()
        .filter(|s| s.backend_type == "client backend")
        .count() as i32;
    assert!(
        listed_clients < sample.client_backends,
        "ours is not listed"
    );
    // Background processes are listed with their type and no state.
    let checkpointer = sample
        .sessions
        .iter()
        .find(|s| s.backend_type == "checkpointer")
        .expect("the checkpointer is listed");
    assert_eq!(checkpointer.state, None);
    // Connection slots: 15 has no reserved_connections.
    let settings = primary()
        .psql(
            "postgres",
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int",
        )
        .expect("settings");
    if primary().major() < 16 {
        assert_eq!(sample.usable_connections.to_string(), settings);
    }
    assert!(sample.usable_connections < sample.max_connections);

    d.batch_execute("ROLLBACK").await.expect("rollback");
}

#[tokio::test]
async fn other_connections_of_our_pool_are_left_out() {
    // A second connection with the monitoring application_name and user: "our pool".
    let m = monitor(primary(), "postgres").await;
    let sibling = crate::probe::monitor(primary(), "postgres").await;
    let mut collector = ActivityCollector::new();
    let sample = collector.collect(&m.ctx()).await.expect("sample");
    assert!(session(&sample, sibling.facts.backend_pid).is_none());
    assert!(session(&sample, m.facts.backend_pid).is_none());
    // A workload connection with another application_name is listed.
    let w = connect(primary(), "postgres").await;
    let pid_w = pid_of(&w).await;
    let sample = collector.collect(&m.ctx()).await.expect("sample");
    assert!(session(&sample, pid_w).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_texts_that_are_not_utf8_do_not_fail_the_sample() {
    // A LATIN1 database: the server converts our UTF-8 query to LATIN1 ('é' = 0xE9) and
    // pg_stat_activity hands those raw bytes to a UTF-8 session unconverted.
    let db = crate::probe::DropDb {
        name: unique("act_latin1"),
    };
    primary()
        .psql(
            "postgres",
            &format!(
                "CREATE DATABASE {} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
                db.name
            ),
        )
        .expect("latin1 database");
    let w = connect(primary(), &db.name).await;
    let pid_w = pid_of(&w).await;
    let sleeper = tokio::spawn(async move {
        w.batch_execute("SELECT pg_sleep(3) /* café \u{1} bell\u{7} */")
            .await
            .map(|_| w)
    });

    let m = monitor(primary(), "postgres").await;
    let mut collector = ActivityCollector::new();
    let sample = poll_until(&m, &mut collector, "the LATIN1 sleeper", |s| {
        session(s, pid_w).is_some_and(|x| x.query.contains("pg_sleep"))
    })
    .await;
    let s = session(&sample, pid_w).expect("listed");
    assert!(
        s.query.contains("caf\u{FFFD} \u{1} bell\u{7}"),
        "0xE9 became U+FFFD, control bytes are kept raw: {:?}",
        s.query
    );
    assert_eq!(s.datname.as_deref(), Some(db.name.as_str()));
    sleeper.await.expect("task").expect("sleep");
}

#[tokio::test]
async fn an_unprivileged_role_sees_insufficient_privilege() {
    let role = crate::probe::create_role("act_plain");
    let busy = connect(primary(), "postgres").await;
    let pid_busy = pid_of(&busy).await;
    let db = create_db("act_priv");
    let plain = crate::common::connect_as(primary(), &role.name, &db.name).await;
    let facts = pgvitals::collect::probe::probe(&plain)
        .await
        .expect("probe as a plain role");
    // Ctx needs a pooled client: build the plain role's monitor through deadpool.
    let mut cfg: tokio_postgres::Config = primary()
        .conninfo_as(&role.name, &db.name)
        .parse()
        .expect("conninfo");
    cfg.application_name("pgvitals");
    let pool = deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(
        cfg,
        tokio_postgres::NoTls,
    ))
    .max_size(1)
    .build()
    .expect("pool");
    let client = pool.get().await.expect("client");
    let m = Monitor {
        facts: pgvitals::collect::probe::probe(&client)
            .await
            .expect("probe"),
        client,
    };
    assert_eq!(m.facts.current_user, facts.current_user);
    let sample = ActivityCollector::new()
        .collect(&m.ctx())
        .await
        .expect("a plain role still gets a sample");
    let s = session(&sample, pid_busy).expect("other role's session is listed");
    assert_eq!(s.query, "<insufficient privilege>");
    assert_eq!(s.state, None);
    assert_eq!(s.backend_type, "unknown");
    assert!(sample.states.iter().any(|c| c.state == "unknown"));
    let counted: i32 = sample.states.iter().map(|c| c.count).sum();
    assert_eq!(counted, sample.client_backends);
    // Backends connected to a database count as client backends (ours is counted but not
    // listed); the checkpointer and the other processes without a database do not.
    let with_db = sample
        .sessions
        .iter()
        .filter(|s| s.datname.is_some())
        .count() as i32;
    assert_eq!(sample.client_backends, with_db + 1);
    assert!(sample.sessions.iter().any(|s| s.datname.is_none()));
}

/// `query_id` (PostgreSQL 14+, computed because pg_stat_statements is loaded and
/// compute_query_id is `auto`): an application's session and client address as sent, and its
/// last query's id, which is the queryid of that statement's pg_stat_statements entry, in a
/// full read and in a delta. None before 14.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_carry_application_client_and_query_id() {
    use pgvitals::collect::areas::statements::StatementsCollector;
    let db = create_db("act_qid");
    let mut config: tokio_postgres::Config = primary()
        .tcp_conninfo(&db.name)
        .parse()
        .expect("tcp conninfo");
    config.application_name("billing\u{1b}[31m-batch");
    let (app, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect over TCP");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let pid = pid_of(&app).await;
    app.batch_execute("SELECT 41 + 1 AS act_qid_probe")
        .await
        .expect("the probe query");
    // (pg_stat_statements is created in `postgres`; activity is server-wide)
    let m = monitor(primary(), "postgres").await;
    let mut collector = ActivityCollector::new();
    let major = primary().major();
    let full = poll_until(&m, &mut collector, "the idle session", |s| {
        session(s, pid).is_some_and(|x| x.state.as_deref() == Some("idle"))
    })
    .await;
    let s = session(&full, pid).expect("listed");
    // as the server sent it: PostgreSQL replaces what is not printable ASCII ('?' up to 15,
    // a `\x1b` escape from 16); the screen sanitizes anyway (a pooler may not clean it)
    let escaped = if major >= 16 {
        "billing\\x1b[31m-batch"
    } else {
        "billing?[31m-batch"
    };
    assert_eq!(s.application_name, escaped);
    assert_eq!(s.client_addr.as_deref(), Some("127.0.0.1"));
    let statements = StatementsCollector::new()
        .collect(&m.ctx())
        .await
        .expect("statements");
    let entry = statements.statements.iter().find(|x| {
        x.query
            .as_deref()
            .is_some_and(|q| q.contains("act_qid_probe"))
    });
    if major >= 14 {
        let entry = entry.expect("the probe's entry");
        assert_eq!(s.query_id, Some(entry.queryid), "{s:?}");
    } else {
        assert_eq!(s.query_id, None, "no query_id before 14: {s:?}");
    }
    // the next polls may carry the quiet session forward (a delta): the same id
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let again = collector.collect(&m.ctx()).await.expect("sample");
        assert_eq!(session(&again, pid).map(|x| x.query_id), Some(s.query_id));
    }
    // a new query in that session: sent in full by the delta, with its own id
    app.batch_execute("SELECT 2 AS act_qid_other")
        .await
        .expect("other");
    let after = poll_until(&m, &mut collector, "the new query", |x| {
        session(x, pid).is_some_and(|x| x.query.contains("act_qid_other"))
    })
    .await;
    let other = session(&after, pid).expect("listed").query_id;
    assert_eq!(other.is_some(), major >= 14);
    if major >= 14 {
        assert_ne!(other, s.query_id, "another statement, another id");
    }
    drop(app);
}
