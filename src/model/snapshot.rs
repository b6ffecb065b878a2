//! The JSON document of `pgvitals snapshot`: one object per server, read from the same
//! [`Store`] the screen reads.
//!
//! Shape (documented in the README, a public interface):
//! ```text
//! { "server": {...ServerSample, "target", "role"}, "activity": {...}, "statements": {...},
//!   "cache": {...}, "replication": {...}, "unused_indexes": {...}, "vacuum": {...},
//!   "alerts": [{"rule", "severity", "subject", "value", "threshold", "message"}] }
//! ```
//! An area that could not be collected is `{"error": {"kind", "sqlstate", "message", "fix"}}`.

use serde_json::{Map, Value, json};

use super::{Link, ServerState, Severity, Store};
use crate::collect::{Area, Sample};

/// How many statements the JSON lists (the top ones by execution time over the interval).
pub const TOP_STATEMENTS: usize = 50;

/// The JSON object of one server.
pub fn server_json(server: &ServerState) -> Value {
    let mut doc = Map::new();
    for area in Area::ALL {
        let state = server.area(area);
        let value = match (&state.sample, &state.error) {
            (_, Some((error, _))) => json!({ "error": error }),
            (Some(sample), None) => sample_json(sample),
            (None, None) => match &server.link {
                Link::Down { error, .. } => json!({ "error": error }),
                _ => json!({ "error": { "kind": "unreachable", "sqlstate": null,
                    "message": "no sample collected", "fix": null } }),
            },
        };
        doc.insert(area.key().to_string(), value);
    }
    if let Some(Value::Object(server_obj)) = doc.get_mut("server") {
        server_obj.insert("target".into(), Value::String(server.label.clone()));
        if let Some(role) = server.role() {
            server_obj.insert(
                "role".into(),
                serde_json::to_value(role).unwrap_or(Value::Null),
            );
        }
    }
    let alerts: Vec<Value> = server
        .alerts
        .sorted()
        .into_iter()
        .map(|a| serde_json::to_value(&a.alert).unwrap_or(Value::Null))
        .collect();
    doc.insert("alerts".into(), Value::Array(alerts));
    Value::Object(doc)
}

fn sample_json(sample: &Sample) -> Value {
    match sample {
        Sample::Statements(s) => {
            let mut s = s.clone();
            let total = s.statements.len();
            s.statements.sort_by(|a, b| {
                let key = |x: &crate::sample::Statement| {
                    (x.exec_time_ms_per_s.unwrap_or(-1.0), x.total_exec_time_ms)
                };
                key(b)
                    .partial_cmp(&key(a))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            s.statements.truncate(TOP_STATEMENTS);
            let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("statements_total".into(), json!(total));
            }
            v
        }
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

/// The whole document: one object for one server, an array for several.
pub fn document(store: &Store) -> Value {
    let mut servers: Vec<Value> = store.servers.iter().map(server_json).collect();
    if servers.len() == 1 {
        servers.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(servers)
    }
}

/// Exit status, the Nagios way: 3 when a server could not be collected at all (unreachable,
/// or its server and activity areas both failed), else 2 for any critical alert, 1 for any
/// warning, 0 when all is well.
pub fn exit_code(store: &Store) -> i32 {
    let unknown = store.servers.iter().any(|s| {
        matches!(s.link, Link::Down { .. } | Link::Connecting { .. })
            || (s.server().is_none() && s.activity().is_none())
    });
    if unknown {
        return 3;
    }
    match store.servers.iter().filter_map(|s| s.alerts.worst()).max() {
        Some(Severity::Critical) => 2,
        Some(Severity::Warning) => 1,
        None => 0,
    }
}
