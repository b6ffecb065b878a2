//! The Prometheus text exposition (format 0.0.4, through the `prometheus-client` crate) of
//! the latest samples of every server in a [`Store`].
//!
//! Names: `pgvitals_<area>_<field>`, the sample's field (= SQL alias = JSON key) with
//! Prometheus' unit conventions: `_ms` fields in `_seconds`, ratios 0..1, counters with
//! `_total`. Every series has a `server` label (the server's label or configured name);
//! server-sent label values (names, `application_name`) are sanitized like the screen's
//! text (no control character, one line). Cardinality is bounded: per statement only the
//! top `top_n` entries by `total_exec_time`; per table and per index only the top-N lists
//! the collectors already bound (`top_n` of the config); sessions only as aggregates.
//!
//! Health series, as postgres_exporter has them: `pgvitals_up` (the connection),
//! `pgvitals_area_up` (the area's latest poll succeeded and is fresh),
//! `pgvitals_area_poll_seconds` (how long that poll took), `pgvitals_area_sample_age_seconds`;
//! and the alerts the dashboard colours: `pgvitals_alert{rule,severity,subject}` = 1 while
//! active (the same rules and thresholds, evaluated by [`crate::model`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::model::alerts::Severity;
use crate::model::{Freshness, Link, ServerState, Store};
use crate::sample::{Area, ServerRole};
use crate::text::fold;

/// The text format of an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0`), what Prometheus asks
    /// for first.
    OpenMetrics,
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), for every other client
    /// (`curl`, `promtool check metrics`).
    Prometheus,
}

impl Format {
    /// The format a scrape's `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, else the Prometheus text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// What the exposition includes.
#[derive(Debug, Clone, Copy)]
pub struct MetricsOptions {
    /// Statements exported per server (the top by `total_exec_time`).
    pub top_n: usize,
}

type Labels = Vec<(&'static str, String)>;
type GaugeF = Gauge<f64, AtomicU64>;
type CounterF = Counter<f64, AtomicU64>;

/// One scrape's registry, filled series by series.
struct Exposition {
    registry: Registry,
    gauges: HashMap<&'static str, Family<Labels, GaugeF>>,
    counters: HashMap<&'static str, Family<Labels, CounterF>>,
}

impl Exposition {
    fn new() -> Self {
        Exposition {
            registry: Registry::default(),
            gauges: HashMap::new(),
            counters: HashMap::new(),
        }
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, labels: Labels, value: f64) {
        let family = self.gauges.entry(name).or_insert_with(|| {
            let f = Family::<Labels, GaugeF>::default();
            self.registry.register(name, help, f.clone());
            f
        });
        family.get_or_create(&labels).set(value);
    }

    fn counter(&mut self, name: &'static str, help: &'static str, labels: Labels, value: f64) {
        if !(value.is_finite() && value >= 0.0) {
            return;
        }
        let family = self.counters.entry(name).or_insert_with(|| {
            let f = Family::<Labels, CounterF>::default();
            self.registry.register(name, help, f.clone());
            f
        });
        family.get_or_create(&labels).inc_by(value);
    }

    fn text(&self, format: Format) -> String {
        let mut out = String::new();
        // writing into a String cannot fail
        let _ = encode(&mut out, &self.registry);
        match format {
            Format::OpenMetrics => out,
            Format::Prometheus => self.as_prometheus_text(&out),
        }
    }

    /// The OpenMetrics text as the Prometheus text format 0.0.4 has it: a counter's `HELP`
    /// and `TYPE` lines name its `_total` series (OpenMetrics names the family without the
    /// suffix), and there is no `# EOF`.
    fn as_prometheus_text(&self, openmetrics: &str) -> String {
        let mut out = String::with_capacity(openmetrics.len() + 16 * self.counters.len());
        for line in openmetrics.lines() {
            if line == "# EOF" {
                continue;
            }
            let meta = line
                .strip_prefix("# HELP ")
                .map(|rest| ("# HELP ", rest))
                .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("# TYPE ", rest)));
            if let Some((kind, rest)) = meta {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if self.counters.contains_key(name) {
                    out.push_str(kind);
                    out.push_str(name);
                    out.push_str("_total ");
                    out.push_str(tail);
                    out.push('\n');
                    continue;
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// A server label set extended with more labels (values sanitized).
fn with(server: &str, more: &[(&'static str, &str)]) -> Labels {
    let mut l = vec![("server", server.to_owned())];
    l.extend(more.iter().map(|(k, v)| (*k, fold(v))));
    l
}

fn b(v: bool) -> f64 {
    if v { 1.0 } else { 0.0 }
}

/// The exposition of every server's latest samples and alerts at `now`, in `format`.
pub fn render(store: &Store, now: SystemTime, options: MetricsOptions, format: Format) -> String {
    let mut x = Exposition::new();
    for server in &store.servers {
        let name = fold(&server.label);
        health(&mut x, store, server, &name, now);
        server_area(&mut x, server, &name);
        activity(&mut x, server, &name);
        statements(&mut x, server, &name, options.top_n);
        cache(&mut x, server, &name);
        replication(&mut x, server, &name);
        unused_indexes(&mut x, server, &name);
        vacuum(&mut x, server, &name);
        wal(&mut x, server, &name);
        waits(&mut x, server, &name);
        alerts(&mut x, server, &name);
    }
    x.text(format)
}

fn health(x: &mut Exposition, store: &Store, s: &ServerState, name: &str, now: SystemTime) {
    x.gauge(
        "pgvitals_up",
        "1 while the monitoring connection to the server is up",
        with(name, &[]),
        b(matches!(s.link, Link::Up { .. })),
    );
    for area in Area::ALL {
        let state = s.area(area);
        let labels = with(name, &[("area", area.key())]);
        let fresh = matches!(
            state.freshness(now, store.max_age(area)),
            Freshness::Fresh { .. }
        );
        x.gauge(
            "pgvitals_area_up",
            "1 when the area's latest poll succeeded and its sample is fresh",
            labels.clone(),
            b(fresh),
        );
        if let Some(took) = state.took {
            x.gauge(
                "pgvitals_area_poll_seconds",
                "How long the area's latest successful poll took, seconds",
                labels.clone(),
                took.as_secs_f64(),
            );
        }
        if let Some(at) = state.sample_at {
            x.gauge(
                "pgvitals_area_sample_age_seconds",
                "Age of the area's latest sample, seconds",
                labels,
                now.duration_since(at).unwrap_or_default().as_secs_f64(),
            );
        }
    }
}

fn server_area(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(v) = s.server() else { return };
    let role = match s.role() {
        Some(ServerRole::Primary) => "primary",
        Some(ServerRole::Standby) => "standby",
        None => "unknown",
    };
    x.gauge(
        "pgvitals_server_info",
        "1, with the server's version and role as labels",
        with(
            name,
            &[("server_version", &v.server_version), ("role", role)],
        ),
        1.0,
    );
    x.gauge(
        "pgvitals_server_in_recovery",
        "1 on a standby (pg_is_in_recovery())",
        with(name, &[]),
        b(v.in_recovery),
    );
    x.gauge(
        "pgvitals_server_uptime_seconds",
        "Seconds since the postmaster started",
        with(name, &[]),
        v.uptime_s,
    );
    if let Some(size) = v.database_size_bytes {
        x.gauge(
            "pgvitals_server_database_size_bytes",
            "Size of the connected database, bytes (slow timer)",
            with(name, &[("datname", &v.datname)]),
            size as f64,
        );
    }
    let db = with(name, &[("datname", &v.datname)]);
    x.counter(
        "pgvitals_server_xact_commit",
        "Transactions committed in the connected database (pg_stat_database)",
        db.clone(),
        v.xact_commit as f64,
    );
    x.counter(
        "pgvitals_server_xact_rollback",
        "Transactions rolled back in the connected database (pg_stat_database)",
        db,
        v.xact_rollback as f64,
    );
}

fn max_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
}

fn activity(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(a) = s.activity() else { return };
    x.gauge(
        "pgvitals_activity_client_backends",
        "Client backends connected",
        with(name, &[]),
        f64::from(a.client_backends),
    );
    x.gauge(
        "pgvitals_activity_usable_connections",
        "max_connections minus the reserved slots",
        with(name, &[]),
        f64::from(a.usable_connections),
    );
    x.gauge(
        "pgvitals_activity_max_connections",
        "max_connections",
        with(name, &[]),
        f64::from(a.max_connections),
    );
    for st in &a.states {
        x.gauge(
            "pgvitals_activity_sessions",
            "Client backends by state (pg_stat_activity.state)",
            with(name, &[("state", &st.state)]),
            f64::from(st.count),
        );
    }
    x.gauge(
        "pgvitals_activity_waiting_on_lock",
        "Sessions waiting on a heavyweight lock",
        with(name, &[]),
        f64::from(a.waiting_on_lock),
    );
    let clients = || {
        a.sessions
            .iter()
            .filter(|s| s.backend_type == "client backend")
    };
    let in_state = |states: &'static [&'static str]| {
        clients().filter(move |s| s.state.as_deref().is_some_and(|st| states.contains(&st)))
    };
    let aggregates = [
        (
            "pgvitals_activity_longest_query_age_seconds",
            "Longest running query of an active client backend, seconds (the long_query rule's value)",
            max_of(in_state(&["active"]).filter_map(|s| s.query_age_s.get())),
        ),
        (
            "pgvitals_activity_longest_lock_wait_seconds",
            "Longest lock wait of an active client backend (its query's age), seconds (the blocked rule's value)",
            max_of(
                in_state(&["active"])
                    .filter(|s| s.wait_event_type.as_deref() == Some("Lock"))
                    .filter_map(|s| s.query_age_s.get()),
            ),
        ),
        (
            "pgvitals_activity_longest_idle_in_transaction_seconds",
            "Longest time a client backend has been idle in transaction, seconds (the idle_in_transaction rule's value)",
            max_of(
                in_state(&["idle in transaction", "idle in transaction (aborted)"])
                    .filter_map(|s| s.state_age_s.get()),
            ),
        ),
        (
            "pgvitals_activity_oldest_xact_age_seconds",
            "Age of the oldest open transaction of a client backend, seconds",
            max_of(clients().filter_map(|s| s.xact_age_s.get())),
        ),
    ];
    for (metric, help, value) in aggregates {
        x.gauge(metric, help, with(name, &[]), value.unwrap_or(0.0));
    }
}

fn statements(x: &mut Exposition, s: &ServerState, name: &str, top_n: usize) {
    let Some(st) = s.statements() else { return };
    x.gauge(
        "pgvitals_statements_entries",
        "pg_stat_statements entries (all of them; the per-statement series are the top N)",
        with(name, &[]),
        st.statements.len() as f64,
    );
    if let Some(d) = st.dealloc {
        x.counter(
            "pgvitals_statements_dealloc",
            "Times pg_stat_statements evicted entries (pg_stat_statements_info, 1.9+)",
            with(name, &[]),
            d as f64,
        );
    }
    let mut top: Vec<_> = st.statements.iter().collect();
    top.sort_by(|a, b| b.total_exec_time_ms.total_cmp(&a.total_exec_time_ms));
    top.truncate(top_n);
    for e in top {
        let queryid = e.queryid.to_string();
        let labels = with(
            name,
            &[
                ("queryid", &queryid),
                ("datname", e.datname.as_deref().unwrap_or("")),
                ("usename", e.usename.as_deref().unwrap_or("")),
                ("toplevel", if e.toplevel { "true" } else { "false" }),
            ],
        );
        let ms = 1000.0;
        let series: [(&'static str, &'static str, Option<f64>); 9] = [
            (
                "pgvitals_statements_calls",
                "Calls of the statement",
                Some(e.calls as f64),
            ),
            (
                "pgvitals_statements_exec_time_seconds",
                "Execution time of the statement, seconds (total_exec_time)",
                Some(e.total_exec_time_ms / ms),
            ),
            (
                "pgvitals_statements_plan_time_seconds",
                "Planning time of the statement, seconds (total_plan_time, 1.8+)",
                e.total_plan_time_ms.get().map(|v| v / ms),
            ),
            (
                "pgvitals_statements_rows",
                "Rows returned or affected",
                Some(e.rows as f64),
            ),
            (
                "pgvitals_statements_shared_blks_hit",
                "Shared buffer hits",
                Some(e.shared_blks_hit as f64),
            ),
            (
                "pgvitals_statements_shared_blks_read",
                "Shared blocks read",
                Some(e.shared_blks_read as f64),
            ),
            (
                "pgvitals_statements_temp_blks_written",
                "Temporary blocks written",
                Some(e.temp_blks_written as f64),
            ),
            (
                "pgvitals_statements_shared_blk_read_time_seconds",
                "Time reading blocks, seconds (track_io_timing)",
                e.shared_blk_read_time_ms.get().map(|v| v / ms),
            ),
            (
                "pgvitals_statements_wal_bytes",
                "WAL generated, bytes (1.8+)",
                e.wal_bytes.get().map(|v| v as f64),
            ),
        ];
        for (metric, help, value) in series {
            if let Some(v) = value {
                x.counter(metric, help, labels.clone(), v);
            }
        }
    }
}

fn cache(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(c) = s.cache() else { return };
    for d in &c.databases {
        let labels = with(name, &[("datname", &d.datname)]);
        x.counter(
            "pgvitals_cache_blks_hit",
            "Buffer hits of the database (pg_stat_database.blks_hit)",
            labels.clone(),
            d.blks_hit as f64,
        );
        x.counter(
            "pgvitals_cache_blks_read",
            "Blocks read of the database (pg_stat_database.blks_read)",
            labels,
            d.blks_read as f64,
        );
    }
    for t in &c.tables {
        let labels = with(
            name,
            &[("schemaname", &t.schemaname), ("relname", &t.relname)],
        );
        x.counter(
            "pgvitals_cache_table_heap_blks_read",
            "Heap blocks read of the table (top N tables, pg_statio_user_tables)",
            labels.clone(),
            t.heap_blks_read as f64,
        );
        x.counter(
            "pgvitals_cache_table_heap_blks_hit",
            "Heap buffer hits of the table (top N tables)",
            labels.clone(),
            t.heap_blks_hit as f64,
        );
        x.counter(
            "pgvitals_cache_table_idx_blks_read",
            "Index blocks read of the table (top N tables)",
            labels.clone(),
            t.idx_blks_read as f64,
        );
        x.counter(
            "pgvitals_cache_table_idx_blks_hit",
            "Index buffer hits of the table (top N tables)",
            labels,
            t.idx_blks_hit as f64,
        );
    }
}

fn replication(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(r) = s.replication() else { return };
    for sb in &r.standbys {
        let pid = sb.pid.to_string();
        let labels = with(
            name,
            &[
                ("application_name", &sb.application_name),
                ("client_addr", sb.client_addr.as_deref().unwrap_or("")),
                ("pid", &pid),
            ],
        );
        let lags: [(&'static str, &'static str, Option<f64>); 7] = [
            (
                "pgvitals_replication_standby_sent_lag_bytes",
                "WAL not yet sent to the standby, bytes (pg_stat_replication)",
                sb.sent_lag_bytes.map(|v| v as f64),
            ),
            (
                "pgvitals_replication_standby_write_lag_bytes",
                "WAL not yet written by the standby, bytes",
                sb.write_lag_bytes.map(|v| v as f64),
            ),
            (
                "pgvitals_replication_standby_flush_lag_bytes",
                "WAL not yet flushed by the standby, bytes",
                sb.flush_lag_bytes.map(|v| v as f64),
            ),
            (
                "pgvitals_replication_standby_replay_lag_bytes",
                "WAL not yet replayed by the standby, bytes (the replication_lag_bytes rule's value)",
                sb.replay_lag_bytes.map(|v| v as f64),
            ),
            (
                "pgvitals_replication_standby_write_lag_seconds",
                "write_lag of pg_stat_replication, seconds",
                sb.write_lag_s,
            ),
            (
                "pgvitals_replication_standby_flush_lag_seconds",
                "flush_lag of pg_stat_replication, seconds",
                sb.flush_lag_s,
            ),
            (
                "pgvitals_replication_standby_replay_lag_seconds",
                "replay_lag of pg_stat_replication, seconds (the replication_lag_time rule's value)",
                sb.replay_lag_s,
            ),
        ];
        for (metric, help, value) in lags {
            if let Some(v) = value {
                x.gauge(metric, help, labels.clone(), v);
            }
        }
        x.gauge(
            "pgvitals_replication_standby_streaming",
            "1 while the walsender's state is streaming",
            labels,
            b(sb.state.as_deref() == Some("streaming")),
        );
    }
    for slot in &r.slots {
        let labels = with(
            name,
            &[
                ("slot_name", &slot.slot_name),
                ("slot_type", &slot.slot_type),
            ],
        );
        x.gauge(
            "pgvitals_replication_slot_active",
            "1 while a process uses the replication slot",
            labels.clone(),
            b(slot.active),
        );
        if let Some(v) = slot.retained_wal_bytes {
            x.gauge(
                "pgvitals_replication_slot_retained_wal_bytes",
                "WAL the slot retains, bytes (the slot_retained_wal rule's value)",
                labels.clone(),
                v as f64,
            );
        }
        if let Some(v) = slot.safe_wal_size_bytes {
            x.gauge(
                "pgvitals_replication_slot_safe_wal_size_bytes",
                "WAL that can still be written before the slot is invalidated, bytes (13+)",
                labels.clone(),
                v as f64,
            );
        }
        if let Some(v) = slot.xmin_age {
            x.gauge(
                "pgvitals_replication_slot_xmin_age",
                "Age of the slot's xmin, transactions",
                labels,
                v as f64,
            );
        }
    }
    if let Some(own) = &r.standby_status {
        let l = || with(name, &[]);
        if let Some(v) = own.replay_lag_bytes {
            x.gauge(
                "pgvitals_replication_replay_lag_bytes",
                "On a standby: WAL received but not yet replayed, bytes",
                l(),
                v as f64,
            );
        }
        if let Some(v) = own.replay_lag_s {
            x.gauge(
                "pgvitals_replication_replay_lag_seconds",
                "On a standby: seconds since the last replayed transaction's commit while WAL waits",
                l(),
                v,
            );
        }
        x.gauge(
            "pgvitals_replication_replay_paused",
            "On a standby: 1 while replay is paused",
            l(),
            b(own.replay_paused),
        );
        x.gauge(
            "pgvitals_replication_wal_receiver_streaming",
            "On a standby: 1 while the WAL receiver is streaming",
            l(),
            b(own.wal_receiver_status.as_deref() == Some("streaming")),
        );
        if let Some(v) = own.last_msg_receipt_age_s {
            x.gauge(
                "pgvitals_replication_last_msg_receipt_age_seconds",
                "On a standby: seconds since the last message from the upstream",
                l(),
                v,
            );
        }
    }
}

fn unused_indexes(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(u) = s.unused_indexes() else { return };
    x.gauge(
        "pgvitals_unused_indexes",
        "Unused indexes (never scanned since the statistics reset; all of them)",
        with(name, &[]),
        u.indexes_total as f64,
    );
    x.gauge(
        "pgvitals_unused_indexes_size_bytes",
        "Size of all unused indexes, bytes",
        with(name, &[]),
        u.index_size_bytes_total as f64,
    );
    for i in &u.indexes {
        x.gauge(
            "pgvitals_unused_indexes_index_size_bytes",
            "Size of an unused index, bytes (top N by size)",
            with(
                name,
                &[
                    ("schemaname", &i.schemaname),
                    ("relname", &i.relname),
                    ("indexrelname", &i.indexrelname),
                ],
            ),
            i.index_size_bytes as f64,
        );
    }
}

fn vacuum(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(v) = s.vacuum() else { return };
    for d in &v.databases {
        let labels = with(name, &[("datname", &d.datname)]);
        x.gauge(
            "pgvitals_vacuum_xid_age",
            "age(datfrozenxid), transactions (the xid_age rule's value)",
            labels.clone(),
            d.xid_age as f64,
        );
        x.gauge(
            "pgvitals_vacuum_mxid_age",
            "mxid_age(datminmxid), multixacts (the mxid_age rule's value)",
            labels.clone(),
            d.mxid_age as f64,
        );
        x.gauge(
            "pgvitals_vacuum_xid_wraparound_ratio",
            "xid age as a share of the way to the wraparound stop (0..1)",
            labels.clone(),
            d.xid_wraparound_pct / 100.0,
        );
        if let Some(eta) = d.xid_wraparound_eta_s {
            x.gauge(
                "pgvitals_vacuum_xid_wraparound_eta_seconds",
                "Seconds until the wraparound stop at the measured xid rate",
                labels,
                eta,
            );
        }
    }
    for t in &v.dead_tuples {
        let labels = with(
            name,
            &[("schemaname", &t.schemaname), ("relname", &t.relname)],
        );
        x.gauge(
            "pgvitals_vacuum_n_dead_tup",
            "Dead tuples of the table (top N tables)",
            labels.clone(),
            t.n_dead_tup as f64,
        );
        if let Some(r) = t.dead_tup_ratio {
            x.gauge(
                "pgvitals_vacuum_dead_tup_ratio",
                "Dead tuples as a share of all tuples (0..1; the dead_tuples rule's value)",
                labels,
                r,
            );
        }
    }
    x.gauge(
        "pgvitals_vacuum_workers",
        "VACUUM processes running (pg_stat_progress_vacuum)",
        with(name, &[]),
        v.workers.len() as f64,
    );
    if let Some(h) = v.xmin_horizon.iter().max_by_key(|h| h.xmin_age) {
        x.gauge(
            "pgvitals_vacuum_xmin_horizon_age",
            "Age of the oldest xmin holding back vacuum, transactions; kind: backend, replication slot, prepared transaction, standby",
            with(name, &[("kind", &h.kind)]),
            h.xmin_age as f64,
        );
    }
}

/// The wait profile: average active backends per wait class over the last 10 s (the
/// average active sessions of a wait-event dashboard).
fn waits(x: &mut Exposition, s: &ServerState, name: &str) {
    if s.waits.samples() == 0 {
        return;
    }
    let now = s.waits.now_by_class();
    for class in crate::sample::WaitClass::ALL {
        x.gauge(
            "pgvitals_waits_active_backends",
            "Active backends by wait class (cpu: no wait event), averaged over the samples of the last 10 s",
            with(name, &[("class", class.key())]),
            now[class.index()],
        );
    }
}

fn wal(x: &mut Exposition, s: &ServerState, name: &str) {
    let Some(w) = crate::model::areas::wal::sample(s) else {
        return;
    };
    let l = || with(name, &[]);
    if let Some(v) = w.wal_lsn_bytes {
        x.gauge(
            "pgvitals_wal_lsn_bytes",
            "The current WAL LSN as a byte position (the replay LSN on a standby)",
            l(),
            v as f64,
        );
    }
    let counters: [(&'static str, &'static str, Option<f64>); 10] = [
        (
            "pgvitals_wal_bytes",
            "WAL generated, bytes (pg_stat_wal, 14+)",
            w.wal_bytes.map(|v| v as f64),
        ),
        (
            "pgvitals_wal_records",
            "WAL records generated (14+)",
            w.wal_records.map(|v| v as f64),
        ),
        (
            "pgvitals_wal_fpi",
            "WAL full-page images (14+)",
            w.wal_fpi.map(|v| v as f64),
        ),
        (
            "pgvitals_wal_buffers_full",
            "Times WAL buffers were full (14+)",
            w.wal_buffers_full.map(|v| v as f64),
        ),
        (
            "pgvitals_wal_num_timed",
            "Checkpoints started by checkpoint_timeout",
            Some(w.num_timed as f64),
        ),
        (
            "pgvitals_wal_num_requested",
            "Checkpoints requested (WAL reached max_wal_size, or asked for)",
            Some(w.num_requested as f64),
        ),
        (
            "pgvitals_wal_write_time_seconds",
            "Time checkpoints spent writing, seconds",
            Some(w.write_time_ms / 1000.0),
        ),
        (
            "pgvitals_wal_sync_time_seconds",
            "Time checkpoints spent syncing, seconds",
            Some(w.sync_time_ms / 1000.0),
        ),
        (
            "pgvitals_wal_archived_count",
            "WAL files archived (pg_stat_archiver)",
            Some(w.archived_count as f64),
        ),
        (
            "pgvitals_wal_failed_count",
            "Failed attempts to archive a WAL file",
            Some(w.failed_count as f64),
        ),
    ];
    for (metric, help, value) in counters {
        if let Some(v) = value {
            x.counter(metric, help, l(), v);
        }
    }
    if let Some(t) = w.last_archived_time {
        x.gauge(
            "pgvitals_wal_last_archived_time_seconds",
            "When the last WAL file was archived, Unix time",
            l(),
            t,
        );
    }
}

fn alerts(x: &mut Exposition, s: &ServerState, name: &str) {
    for a in s.alerts.active.values() {
        let subject = a.alert.subject.to_string();
        let severity = match a.alert.severity {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        };
        x.gauge(
            "pgvitals_alert",
            "1 while an alert is active: the dashboard's rules and thresholds",
            with(
                name,
                &[
                    ("rule", a.alert.rule.name()),
                    ("severity", severity),
                    ("subject", &subject),
                ],
            ),
            1.0,
        );
    }
}
