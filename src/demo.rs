//! `pgvitals demo`: a throwaway primary and streaming standby ([`crate::cluster`]) with a
//! bounded synthetic workload that gives every panel something to show, removed on exit.
//!
//! The workload (all against the primary, on its own connections, at bounded rates):
//! * a report query running for five and a half minutes (long_query);
//! * fast statements (point reads and updates, about 100/s) and slow ones (a 0.4 s sleep and a
//!   sequential scan of a table larger than shared_buffers, which also drags the interval
//!   cache hit ratio down now and then);
//! * a lock chain every minute: one session holds a row lock for 25 s, two more queue behind;
//! * a session idle in transaction for 90 s of every 2 minutes (crosses the 60 s warning);
//! * an index that is never used (beside a unique one that is also never scanned but is not
//!   listed, since it backs a constraint);
//! * a table with autovacuum disabled collecting dead tuples;
//! * a forgotten physical replication slot retaining WAL;
//! * the standby's replay paused for 20 s every 90 s while a WAL burst runs, so replay lag
//!   rises past the 10 MB warning and recovers.
//!
//! Only the OS user who started the demo can reach its servers: the dashboard and the
//! workload connect over unix sockets in a 0700 directory, and TCP on 127.0.0.1 asks for a
//! random per-run password (see [`crate::cluster`]).
//!
//! Every loop stops after `workload_for`, or when the demo is stopped. The cluster harness
//! removes the servers and their directory on stop and, through its reaper, even when the
//! process is killed.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

use crate::cluster::{Cluster, ClusterError, ClusterOptions};

/// A running demo.
pub struct Demo {
    cluster: Option<Cluster>,
    conninfos: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Cluster(#[from] ClusterError),
    #[error("demo setup failed: {0}")]
    Setup(String),
}

const SETUP_SQL: &str = r#"
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL DEFAULT 0, ref uuid);
INSERT INTO accounts SELECT i, 'owner ' || i, 1000, md5(i::text)::uuid FROM generate_series(1, 50000) i;
CREATE UNIQUE INDEX accounts_ref_key ON accounts (ref);
CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int NOT NULL, amount numeric NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (account_id, amount, note) SELECT (random()*49999)::int + 1, round((random()*100)::numeric, 2), 'order note ' || i FROM generate_series(1, 100000) i;
CREATE INDEX orders_note_idx ON orders (note);
CREATE INDEX orders_account_id_idx ON orders (account_id);
CREATE TABLE events (id bigint, payload text);
INSERT INTO events SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 200000) i;
CREATE TABLE sessions_log (id int PRIMARY KEY, hits int NOT NULL DEFAULT 0) WITH (autovacuum_enabled = false);
INSERT INTO sessions_log SELECT i, 0 FROM generate_series(1, 20000) i;
CREATE TABLE wal_burst (id bigint, filler text);
ANALYZE;
SELECT pg_create_physical_replication_slot('forgotten_slot', true);
"#;

impl Demo {
    /// Start the cluster (primary + standby), create the demo schema, start the workload.
    ///
    /// Errors: no PostgreSQL server binaries (the message names the package to install), a
    /// server that fails to start, or a failed setup statement.
    /// Without server binaries on the machine PostgreSQL is fetched
    /// ([`crate::cluster::find_or_fetch_bin_dir`]) unless `no_fetch`.
    pub async fn start(workload_for: Duration, no_fetch: bool) -> Result<Demo, DemoError> {
        let cluster = tokio::task::spawn_blocking(move || {
            Cluster::start(ClusterOptions {
                fetch: !no_fetch,
                standby: true,
                shared_buffers: "16MB".into(),
                extra_conf: vec![
                    "max_prepared_transactions = 5".into(),
                    "autovacuum_naptime = 10s".into(),
                ],
                ..ClusterOptions::default()
            })
        })
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))??;
        cluster
            .primary
            .psql("postgres", "CREATE DATABASE shop")
            .map_err(DemoError::Cluster)?;
        cluster
            .primary
            .psql(
                "shop",
                &format!("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;{SETUP_SQL}"),
            )
            .map_err(DemoError::Cluster)?;
        // the workload and the dashboard use the unix sockets: in a 0700 directory, they are
        // reachable by our OS user only, with no password to protect (TCP needs the
        // superuser's random password); the header shows the socket path
        let primary = cluster.primary.conninfo("shop");
        let standby = cluster.standby.as_ref().map(|s| s.conninfo("shop"));
        let mut conninfos = vec![primary.clone()];
        conninfos.extend(standby.clone());
        let tasks = workload(primary, standby, workload_for);
        Ok(Demo {
            cluster: Some(cluster),
            conninfos,
            tasks,
        })
    }

    /// Connection strings of the primary and the standby (database `shop`, user `postgres`),
    /// over their unix sockets: `host=<socket dir> port=<port> user=postgres dbname=shop`.
    pub fn conninfos(&self) -> &[String] {
        &self.conninfos
    }

    /// Stop the workload, then the servers; removes their directory.
    pub async fn stop(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(mut cluster) = self.cluster.take() {
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn connect(conninfo: &str, app: &str) -> Option<Client> {
    let mut config: tokio_postgres::Config = conninfo.parse().ok()?;
    config.application_name(app);
    let (client, connection) = config.connect(NoTls).await.ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(client)
}

/// Run `body` in a loop with a fresh connection whenever the old one broke, until `deadline`.
fn looped<F, Fut>(
    conninfo: String,
    app: &'static str,
    deadline: tokio::time::Instant,
    body: F,
) -> JoinHandle<()>
where
    F: Fn(Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        while tokio::time::Instant::now() < deadline {
            match connect(&conninfo, app).await {
                Some(client) => {
                    let run = body(client);
                    let _ = tokio::time::timeout_at(deadline, run).await;
                }
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    })
}

fn workload(primary: String, standby: Option<String>, run_for: Duration) -> Vec<JoinHandle<()>> {
    let deadline = tokio::time::Instant::now() + run_for;
    let mut tasks = Vec::new();

    // fast statements: about 100 per second
    for worker in 0..2u32 {
        tasks.push(looped(
            primary.clone(),
            "shop-web",
            deadline,
            move |c| async move {
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                let mut i: i32 = worker as i32;
                loop {
                    tick.tick().await;
                    i = (i * 7919 + 13) % 50000;
                    let id = i.abs() + 1;
                    let r = c
                        .query("SELECT owner, balance FROM accounts WHERE id = $1", &[&id])
                        .await;
                    let r2 = c
                        .execute(
                            "UPDATE accounts SET balance = balance + 1 WHERE id = $1",
                            &[&id],
                        )
                        .await;
                    let r3 = c
                        .execute(
                            "UPDATE sessions_log SET hits = hits + 1 WHERE id = $1",
                            &[&(id % 20000 + 1)],
                        )
                        .await;
                    let r4 = c
                    .execute(
                        "INSERT INTO orders (account_id, amount, note) VALUES ($1, 9.99, 'web')",
                        &[&id],
                    )
                    .await;
                    let failed = r.is_err() || r2.is_err() || r3.is_err() || r4.is_err();
                    if failed && c.is_closed() {
                        return;
                    }
                }
            },
        ));
    }

    // slow statements
    tasks.push(looped(primary.clone(), "shop-reports", deadline, |c| async move {
        let mut round = 0u64;
        loop {
            round += 1;
            let _ = c.simple_query("SELECT pg_sleep(0.4)").await;
            let _ = c
                .query("SELECT account_id, sum(amount) FROM orders GROUP BY account_id ORDER BY 2 DESC LIMIT 10", &[])
                .await;
            if round % 5 == 0 {
                let _ = c.query("SELECT count(*), max(length(payload)) FROM events", &[]).await;
            }
            if c.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }));

    // a long-running report: crosses the 5 minute long_query warning
    tasks.push(looped(
        primary.clone(),
        "shop-nightly",
        deadline,
        |c| async move {
            loop {
                let _ = c
                    .simple_query("SELECT pg_sleep(330) /* nightly report */")
                    .await;
                if c.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(120)).await;
            }
        },
    ));

    // a lock chain every minute: one session holds a row lock for 25 s, a second queues
    // behind it, a third behind the second
    let chain_conninfo = primary.clone();
    tasks.push(tokio::spawn(async move {
        while tokio::time::Instant::now() < deadline {
            let (Some(holder), Some(w1), Some(w2)) = (
                connect(&chain_conninfo, "shop-batch").await,
                connect(&chain_conninfo, "shop-checkout").await,
                connect(&chain_conninfo, "shop-refunds").await,
            ) else {
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            };
            let update = "UPDATE accounts SET balance = balance + 1 WHERE id = 42";
            let _ = holder
                .batch_execute("BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = 42;")
                .await;
            let first = async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = w1.execute(update, &[]).await;
            };
            let second = async {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let _ = w2.execute(update, &[]).await;
            };
            let release = async {
                tokio::time::sleep(Duration::from_secs(25)).await;
                let _ = holder.batch_execute("COMMIT").await;
            };
            tokio::join!(first, second, release);
            tokio::time::sleep(Duration::from_secs(35)).await;
        }
    }));

    // idle in transaction for 90 s of every 2 minutes
    tasks.push(looped(
        primary.clone(),
        "shop-admin",
        deadline,
        |c| async move {
            loop {
                let _ = c
                    .batch_execute("BEGIN; SELECT count(*) FROM accounts WHERE balance > 1000;")
                    .await;
                tokio::time::sleep(Duration::from_secs(90)).await;
                let _ = c.batch_execute("ROLLBACK").await;
                if c.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        },
    ));

    // replay paused on the standby now and then, with a WAL burst on the primary
    if let Some(standby) = standby {
        let primary = primary.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(20)).await;
            while tokio::time::Instant::now() < deadline {
                let (Some(s), Some(p)) = (
                    connect(&standby, "demo-lag").await,
                    connect(&primary, "shop-etl").await,
                ) else {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                };
                let _ = s.simple_query("SELECT pg_wal_replay_pause()").await;
                let _ = p
                    .batch_execute(
                        "INSERT INTO wal_burst SELECT i, repeat('x', 200) FROM generate_series(1, 80000) i",
                    )
                    .await;
                tokio::time::sleep(Duration::from_secs(20)).await;
                let _ = s.simple_query("SELECT pg_wal_replay_resume()").await;
                let _ = p.batch_execute("TRUNCATE wal_burst").await;
                tokio::time::sleep(Duration::from_secs(70)).await;
            }
            // never leave the standby paused
            if let Some(s) = connect(&standby, "demo-lag").await {
                let _ = s.simple_query("SELECT pg_wal_replay_resume()").await;
            }
        }));
    }
    tasks
}
