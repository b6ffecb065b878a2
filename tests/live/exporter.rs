//! `pgvitals serve` scraped by a real Prometheus server (Debian's `prometheus` package;
//! `PGVITALS_PROMETHEUS` / `PGVITALS_PROMTOOL` override the paths; a missing binary fails the
//! test with the install hint): a primary and a standby of their own with a staged replay lag
//! and a lock chain, read back through Prometheus' HTTP API; `promtool check metrics` on the
//! exposition and `promtool check rules` on `pgvitals rules`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgvitals::sample::Area;

use crate::common::connect;

/// A Prometheus tool: `$env`, else `/usr/bin/<name>` (Debian), else the first on PATH.
/// Panics with the install hint when there is none.
fn tool(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{env}={} is not a file: install prometheus (Debian/Ubuntu: `apt-get install -y \
             prometheus`) or point the variable at its binary",
            p.display()
        );
        return p;
    }
    let debian = Path::new("/usr/bin").join(name);
    if debian.is_file() {
        return debian;
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "{name} not found (looked at ${env}, /usr/bin/{name} and PATH): install it, e.g. \
                 `apt-get install -y prometheus` on Debian/Ubuntu"
            )
        })
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on 127.0.0.1:`port` with optional extra headers: (status, headers, body).
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, head.to_owned(), body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The result vector of an instant query: (labels, value) per series.
fn query(port: u16, promql: &str) -> Vec<(serde_json::Value, f64)> {
    let Ok((200, _, body)) = get(
        port,
        &format!("/api/v1/query?query={}", percent_encode(promql)),
        &[],
    ) else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    json["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let v = s["value"][1]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN);
                    (s["metric"].clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Poll `promql` until `ok` holds for its result, up to `timeout`; the last result.
fn query_until(
    port: u16,
    promql: &str,
    timeout: Duration,
    ok: impl Fn(&[(serde_json::Value, f64)]) -> bool,
) -> (bool, Vec<(serde_json::Value, f64)>) {
    let deadline = Instant::now() + timeout;
    loop {
        let r = query(port, promql);
        if ok(&r) {
            return (true, r);
        }
        if Instant::now() > deadline {
            return (false, r);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn free_port() -> u16 {
    pgvitals::cluster::free_port().expect("a free port")
}

/// Start `pgvitals serve` on an ephemeral port; returns it with the port it printed.
fn start_serve(conninfos: &[String], config: &Path) -> (Running, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgvitals"))
        .arg("serve")
        .args(conninfos)
        .args(["--listen", "127.0.0.1:0", "--interval", "500ms", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pgvitals serve");
    let stderr = child.stderr.take().expect("stderr");
    let child = Running(child);
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("pgvitals serve ended before it listened")
            .expect("read stderr");
        if let Some(rest) = line.split("://127.0.0.1:").nth(1) {
            break rest
                .split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
        }
    };
    // keep draining stderr so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// A Prometheus server scraping every second with `scrape_configs` (YAML list items, each
/// starting `- job_name:` at column 0), its data under `dir`; returns it with its port.
fn start_prometheus(dir: &Path, scrape_configs: &str) -> (Running, u16) {
    let port = free_port();
    let config = dir.join("prometheus.yml");
    let jobs: String = scrape_configs.lines().map(|l| format!("  {l}\n")).collect();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}"
        ),
    )
    .expect("prometheus.yml");
    let child = Command::new(tool("prometheus", "PGVITALS_PROMETHEUS"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    (Running(child), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_lag_alerts_and_area_health_of_a_primary_and_standby() {
    let cluster = crate::common::own_primary_and_standby().await;
    let p = &cluster.primary;
    let s = cluster.standby.as_ref().expect("a standby");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    // the servers by name, from the config: `serve` without CONNINFO watches them all
    let (primary_label, standby_label) = ("orders-primary", "orders-standby");
    std::fs::write(
        &config,
        format!(
            "[thresholds.blocked]\nwarning = \"1s\"\ncritical = \"1h\"\n\
             [thresholds.replication_lag_bytes]\nwarning = \"1MB\"\ncritical = \"100GB\"\n\
             [[servers]]\nname = \"{primary_label}\"\nconninfo = \"{}\"\ngroup = \"orders\"\n\
             [[servers]]\nname = \"{standby_label}\"\nconninfo = \"{}\"\ngroup = \"orders\"\n",
            p.conninfo("postgres"),
            s.conninfo("postgres")
        ),
    )
    .expect("config");

    // the staged incident: a paused standby behind the primary's WAL, and a lock chain
    let admin = connect(p, "postgres").await;
    admin
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)")
        .await
        .expect("setup");
    let standby = connect(s, "postgres").await;
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    admin
        .batch_execute(
            "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 30000) g",
        )
        .await
        .expect("write WAL");
    let holder = connect(p, "postgres").await;
    holder
        .batch_execute("BEGIN; UPDATE t SET v = v + 1 WHERE id = 1")
        .await
        .expect("hold the row");
    let waiter = connect(p, "postgres").await;
    let waiter_pid: i32 = waiter
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let wait = tokio::spawn(async move {
        let _ = waiter
            .execute("UPDATE t SET v = v + 1 WHERE id = 1", &[])
            .await;
        waiter
    });

    let (serve, port) = start_serve(&[], &config);
    let (_prometheus, prom) = start_prometheus(
        dir.path(),
        &format!("- job_name: pgvitals\n  static_configs:\n    - targets: ['127.0.0.1:{port}']"),
    );

    let checks = tokio::task::spawn_blocking(move || {
        let minute = Duration::from_secs(60);
        // the scrape works at all
        let (up, r) = query_until(prom, "up{job=\"pgvitals\"}", minute, |r| {
            r.first().is_some_and(|(_, v)| *v == 1.0)
        });
        assert!(up, "Prometheus never scraped pgvitals serve: {r:?}");

        // every area of both servers is up
        let areas = Area::ALL.len();
        let (all_up, r) = query_until(prom, "pgvitals_area_up == 1", minute, |r| {
            r.len() == 2 * areas
        });
        assert!(
            all_up,
            "pgvitals_area_up == 1 for {} of {} areas: {r:?}",
            r.len(),
            2 * areas
        );

        // the lag, from both sides
        let (lagging, r) = query_until(
            prom,
            "pgvitals_replication_standby_replay_lag_bytes",
            minute,
            |r| r.iter().any(|(_, v)| *v > 1_000_000.0),
        );
        assert!(lagging, "the primary's view of the lag: {r:?}");
        assert_eq!(r[0].0["server"], primary_label, "{r:?}");
        let (own, r) = query_until(prom, "pgvitals_replication_replay_lag_bytes", minute, |r| {
            r.iter().any(|(_, v)| *v > 1_000_000.0)
        });
        assert!(own, "the standby's own lag: {r:?}");
        assert_eq!(r[0].0["server"], standby_label, "{r:?}");
        let (paused, r) = query_until(
            prom,
            "pgvitals_replication_replay_paused == 1",
            minute,
            |r| !r.is_empty(),
        );
        assert!(paused, "{r:?}");

        // the blocked session as an active alert, and the lag alert
        let subject = format!("pid {waiter_pid}");
        let (blocked, r) =
            query_until(prom, "pgvitals_alert{rule=\"blocked\"} == 1", minute, |r| {
                r.iter().any(|(m, _)| m["subject"] == subject.as_str())
            });
        assert!(blocked, "no blocked alert for {subject}: {r:?}");
        assert_eq!(r[0].0["severity"], "warning", "{r:?}");
        let (lag_alert, r) = query_until(
            prom,
            "pgvitals_alert{rule=\"replication_lag_bytes\"} == 1",
            minute,
            |r| !r.is_empty(),
        );
        assert!(lag_alert, "{r:?}");

        // one server of the config by its name, in the snapshot JSON too
        let snap = Command::new(env!("CARGO_BIN_EXE_pgvitals"))
            .args(["snapshot", standby_label, "--config"])
            .arg(&config)
            .output()
            .expect("pgvitals snapshot NAME");
        let doc: serde_json::Value = serde_json::from_slice(&snap.stdout).unwrap_or_else(|e| {
            panic!(
                "snapshot {standby_label}: {e}: {}",
                String::from_utf8_lossy(&snap.stderr)
            )
        });
        assert_eq!(doc["server"]["target"], standby_label, "{doc}");
        let group = Command::new(env!("CARGO_BIN_EXE_pgvitals"))
            .args(["snapshot", "--group", "nope", "--config"])
            .arg(&config)
            .output()
            .expect("pgvitals snapshot --group nope");
        assert_eq!(group.status.code(), Some(3));
        assert!(
            String::from_utf8_lossy(&group.stderr).contains("no [[servers]] entry has group"),
            "{}",
            String::from_utf8_lossy(&group.stderr)
        );

        // the exposition passes promtool's lint; Prometheus itself was offered OpenMetrics
        let (status, head, body) = get(port, "/metrics", &[]).expect("GET /metrics");
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("text/plain; version=0.0.4"), "{head}");
        let promtool = tool("promtool", "PGVITALS_PROMTOOL");
        let mut lint = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool");
        lint.stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("feed promtool");
        let out = lint.wait_with_output().expect("promtool ends");
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (_, head, open) = get(
            port,
            "/metrics",
            &[("Accept", "application/openmetrics-text; version=1.0.0")],
        )
        .expect("GET /metrics as OpenMetrics");
        assert!(head.contains("application/openmetrics-text"), "{head}");
        assert!(
            open.trim_end().ends_with("# EOF"),
            "OpenMetrics ends with # EOF"
        );
        assert_eq!(get(port, "/healthz", &[]).expect("healthz").0, 200);
        assert_eq!(get(port, "/nothing", &[]).expect("404").0, 404);

        // the rules of the same config pass promtool, with the configured thresholds
        let rules = Command::new(env!("CARGO_BIN_EXE_pgvitals"))
            .arg("rules")
            .arg("--config")
            .arg(&config)
            .output()
            .expect("pgvitals rules");
        assert!(rules.status.success());
        let text = String::from_utf8(rules.stdout).expect("utf-8");
        assert!(
            text.contains("pgvitals_activity_longest_lock_wait_seconds > 1\""),
            "{text}"
        );
        let file = dir.path().join("rules.yml");
        std::fs::write(&file, &text).expect("rules.yml");
        let out = Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("promtool check rules");
        assert!(
            out.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .await;
    holder.batch_execute("ROLLBACK").await.expect("release");
    let _ = wait.await;
    let _ = standby.batch_execute("SELECT pg_wal_replay_resume()").await;
    drop(serve);
    if let Err(e) = checks {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The listener guarded by the config's `[serve]`: HTTPS only, basic auth against a bcrypt
/// hash. Prometheus scrapes it with the CA and the password (up = 1) and with a wrong
/// password (up = 0: 401); a plain HTTP request gets no metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_basic_auth_guard_the_listener() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("a self-signed certificate");
    let (cert, key, ca) = (
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
        dir.path().join("ca.crt"),
    );
    std::fs::write(&cert, certified.cert.pem()).expect("cert");
    std::fs::write(&ca, certified.cert.pem()).expect("ca");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n\
             [serve.basic_auth_users]\nprometheus = \"{hash}\"\n",
            cert.display(),
            key.display()
        ),
    )
    .expect("config");
    let (_serve, port) = start_serve(&[crate::common::primary().conninfo("postgres")], &config);

    // plain HTTP to the TLS port: no metrics
    let plain = get(port, "/metrics", &[]);
    assert!(
        plain
            .as_ref()
            .map_or(true, |(status, _, body)| *status != 200
                && !body.contains("pgvitals_up")),
        "{plain:?}"
    );

    let job = |name: &str, password: &str| {
        format!(
            "- job_name: {name}\n  scheme: https\n  tls_config:\n    ca_file: {}\n  \
             basic_auth:\n    username: prometheus\n    password: {password}\n  \
             static_configs:\n    - targets: ['127.0.0.1:{port}']\n",
            ca.display()
        )
    };
    let (_prometheus, prom_port) = start_prometheus(
        dir.path(),
        &format!("{}{}", job("good", "s3cret"), job("wrong", "guess")),
    );
    let checks = tokio::task::spawn_blocking(move || {
        let minute = Duration::from_secs(60);
        let (good, r) = query_until(prom_port, "up{job=\"good\"} == 1", minute, |r| {
            !r.is_empty()
        });
        assert!(good, "the scrape with the password over TLS: {r:?}");
        let (series, r) = query_until(prom_port, "pgvitals_up{job=\"good\"}", minute, |r| {
            r.iter().any(|(_, v)| *v == 1.0)
        });
        assert!(series, "{r:?}");
        let (wrong, r) = query_until(prom_port, "up{job=\"wrong\"} == 0", minute, |r| {
            !r.is_empty()
        });
        assert!(wrong, "a wrong password is refused: {r:?}");
        let (none, r) = query_until(
            prom_port,
            "pgvitals_up{job=\"wrong\"}",
            Duration::from_secs(3),
            |r| !r.is_empty(),
        );
        assert!(!none, "no series through a wrong password: {r:?}");
    })
    .await;
    if let Err(e) = checks {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// An area that keeps failing is logged once when it starts failing, not on every poll:
/// `serve` on a database without pg_stat_statements logs the statements area's error one
/// time over several of its polls (stderr, server text sanitized).
#[test]
fn a_failing_area_is_logged_once() {
    let db = crate::probe::create_db("serve_nopgss");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("stderr.log");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_pgvitals"))
            .arg("serve")
            .arg(crate::common::primary().conninfo(&db.name))
            .args(["--listen", "127.0.0.1:0", "--interval", "500ms"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start pgvitals serve"),
    );
    let failing = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("statements failing: pg_stat_statements is not installed")
            .count()
    };
    assert!(
        crate::common::wait_until(Duration::from_secs(20), || failing() >= 1),
        "no failure logged: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // statements polls every 15 s at the least: one more failing poll at least
    std::thread::sleep(pgvitals::sample::STATEMENTS_MIN_PERIOD + Duration::from_secs(1));
    let _ = child.0.kill();
    let _ = child.0.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(failing(), 1, "logged more than once:\n{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}
