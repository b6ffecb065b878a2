//! The JSON document of `pgvitals snapshot`: one object per server, read from the same
//! [`Store`] the screen reads.
//!
//! Shape (documented in the README, a public interface):
//! ```text
//! { "server": {...ServerSample, "target", "role"}, "activity": {...}, "statements": {...},
//!   "cache": {...}, "replication": {...}, "unused_indexes": {...}, "vacuum": {...},
//!   "alerts": [{"rule", "severity", "subject", "value", "threshold", "message"}],
//!   "pooled": bool, "privilege_gaps": [{"area", "hidden", "fix"}],
//!   "connection_warnings": ["..."] }
//! ```
//! An area that could not be collected is `{"error": {"kind", "sqlstate", "message", "fix",
//! "retry_in_s"}}` (`retry_in_s`: seconds to the next try of an area backing off after a
//! timeout, else `null`).
//! `pooled` and `privilege_gaps` come from the facts probed at the latest connect
//! ([`ServerFacts`]); both are `null` when the server was never reached.
//! `connection_warnings` are the connection settings' warnings (e.g. an ignored password
//! file with group or world access), one line each, `[]` for none.
//!
//! [`ServerFacts`]: crate::sample::ServerFacts

use serde_json::{Map, Value, json};

use super::{Link, ServerState, Severity, Store};
use crate::sample::privilege_gaps;
use crate::sample::{Area, ServerFacts};

pub use super::areas::statements::TOP_STATEMENTS;

/// The JSON object of one server.
pub fn server_json(server: &ServerState) -> Value {
    let mut doc = Map::new();
    for area in Area::ALL {
        let state = server.area(area);
        let value = match (&state.sample, &state.error) {
            (_, Some((error, _))) => json!({ "error": error }),
            (Some(sample), None) => super::areas::sample_json(server, sample),
            (None, None) => match &server.link {
                Link::Down { error, .. } => json!({ "error": error }),
                _ => json!({ "error": { "kind": "unreachable", "sqlstate": null,
                    "message": "no sample collected", "fix": null, "retry_in_s": null } }),
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
    let facts = server.facts.as_ref();
    doc.insert(
        "pooled".into(),
        facts.map_or(Value::Null, |f| json!(f.pooled)),
    );
    doc.insert(
        "privilege_gaps".into(),
        facts.map_or(Value::Null, privilege_gaps_json),
    );
    doc.insert(
        "connection_warnings".into(),
        json!(server.connection_warnings),
    );
    Value::Object(doc)
}

/// The hops through server `index` whose other end is watched too
/// ([`super::chain::hops`]): `[{"upstream": "orders-primary", "downstream":
/// "orders-standby", "replay_lag_bytes": 8000000, "replay_lag_s": 3.2, "replay_paused":
/// true, "disagreement": null}]`; lags in bytes and seconds, `null` when neither side knows.
pub fn chain_json(store: &Store, hops: &[super::chain::Hop], index: usize) -> Value {
    let name = |i: usize| store.servers.get(i).map(|s| s.label.clone());
    Value::Array(
        hops.iter()
            .filter(|h| h.upstream == index || h.downstream == index)
            .map(|h| {
                json!({
                    "upstream": name(h.upstream),
                    "downstream": name(h.downstream),
                    "replay_lag_bytes": h.replay_lag_bytes,
                    "replay_lag_s": h.replay_lag_s,
                    "replay_paused": h.replay_paused,
                    "disagreement": h.disagreement,
                })
            })
            .collect(),
    )
}

/// What the monitoring role cannot see, per area, and the GRANT that fixes it
/// ([`privilege_gaps`]): `[{"area": "activity", "hidden": "...", "fix": "GRANT
/// pg_read_all_stats TO <role>"}, ...]`, in the order of [`Area::ALL`]; `[]` for a superuser
/// or a member of pg_monitor / pg_read_all_stats. Texts are raw (the role name may hold any
/// character; JSON escapes it).
pub fn privilege_gaps_json(facts: &ServerFacts) -> Value {
    Value::Array(
        privilege_gaps(facts)
            .into_iter()
            .map(|g| json!({ "area": g.area, "hidden": g.hidden, "fix": g.fix }))
            .collect(),
    )
}

/// A JSON formatter (pretty, like `serde_json::to_string_pretty`) that also escapes DEL and
/// the C1 control characters (U+007F–U+009F) as `\u007f` .. `\u009f`: serde_json escapes
/// only those below U+0020, and a raw U+009B is a CSI to many terminals (`jq -r`, `cat`).
pub struct EscapingFormatter(serde_json::ser::PrettyFormatter<'static>);

impl Default for EscapingFormatter {
    fn default() -> Self {
        EscapingFormatter(serde_json::ser::PrettyFormatter::new())
    }
}

impl serde_json::ser::Formatter for EscapingFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if ('\u{7F}'..='\u{9F}').contains(&c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `doc` as pretty JSON with [`EscapingFormatter`]: pure ASCII-safe for a terminal (no raw
/// byte below 0x20, DEL or C1 control; other text stays UTF-8). Errors: none in practice
/// (a `Value` always serializes); the message of serde_json's error otherwise.
pub fn to_json_pretty(doc: &Value) -> Result<String, String> {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, EscapingFormatter::default());
    doc.serialize(&mut ser).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// The whole document: one object for one server, an array for several.
pub fn document(store: &Store) -> Value {
    let hops = super::chain::hops(store);
    let mut servers: Vec<Value> = store
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut doc = server_json(s);
            if let Value::Object(map) = &mut doc {
                map.insert("replication_chain".into(), chain_json(store, &hops, i));
            }
            doc
        })
        .collect();
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::{Value, json};

    use super::{document, server_json};
    use crate::model::Store;
    use crate::sample::privilege_gaps;
    use crate::sample::{LinkEvent, ServerFacts, Update};

    #[test]
    fn json_escapes_del_and_c1_controls_and_reads_back_the_same() {
        let raw = "a\u{1b}[31mred\u{9b}31m\u{7f}\u{85}\u{9f}é日\u{a0}";
        let doc = json!({ "query": raw, raw: [raw] });
        let text = super::to_json_pretty(&doc).expect("serializes");
        assert!(
            !text
                .chars()
                .any(|c| ('\u{7f}'..='\u{9f}').contains(&c) || (c < ' ' && c != '\n')),
            "{text:?}"
        );
        assert!(
            text.contains("a\\u001b[31mred\\u009b31m\\u007f\\u0085\\u009fé日\u{a0}"),
            "{text}"
        );
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, doc);
        // the layout is serde_json's pretty one
        assert_eq!(
            text.replace("\\u007f", "\u{7f}")
                .replace("\\u0085", "\u{85}")
                .replace("\\u009b", "\u{9b}")
                .replace("\\u009f", "\u{9f}"),
            serde_json::to_string_pretty(&doc).expect("plain")
        );
    }

    fn facts(user: &str, monitor: bool, pooled: bool) -> ServerFacts {
        ServerFacts {
            pooled,
            ..ServerFacts::example(user, monitor)
        }
    }

    fn store(facts: Option<ServerFacts>) -> Store {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let mut store = Store::new(
            vec!["db:6432/shop".into()],
            Default::default(),
            Duration::from_secs(1),
            Duration::from_secs(60),
            now,
        );
        if let Some(f) = facts {
            let update = Update::Link {
                server: 0,
                event: LinkEvent::Connected(Box::new(f)),
                at: now,
            };
            store.apply(update, now);
        }
        store
    }

    /// `pooled` and `privilege_gaps` follow the probed facts: null before any connect, the
    /// four areas with the GRANT for a plain role through a pooler, nothing for pg_monitor.
    #[test]
    fn pooled_and_privilege_gaps_follow_the_facts() {
        let never = server_json(&store(None).servers[0]);
        assert_eq!(never["pooled"], Value::Null);
        assert_eq!(never["privilege_gaps"], Value::Null);

        let plain = document(&store(Some(facts("Alice", false, true))));
        assert_eq!(plain["pooled"], json!(true));
        let gaps = plain["privilege_gaps"].as_array().expect("an array");
        let areas: Vec<&str> = gaps.iter().filter_map(|g| g["area"].as_str()).collect();
        assert_eq!(
            areas,
            ["activity", "statements", "replication", "vacuum", "waits"]
        );
        let expected = privilege_gaps(&facts("Alice", false, true));
        for (g, e) in gaps.iter().zip(&expected) {
            assert_eq!(g["hidden"], json!(e.hidden), "{g}");
            assert_eq!(g["fix"], json!("GRANT pg_read_all_stats TO \"Alice\""));
            assert_eq!(g.as_object().map(|o| o.len()), Some(3), "{g}");
        }
        assert!(
            gaps[2]["hidden"]
                .as_str()
                .is_some_and(|h| h.starts_with("standbys' state")),
            "{}",
            gaps[2]
        );
        // the rest of the document is still there
        for key in ["server", "activity", "vacuum", "alerts"] {
            assert!(plain.get(key).is_some(), "{key} missing: {plain}");
        }

        let monitor = server_json(&store(Some(facts("monitor", true, false))).servers[0]);
        assert_eq!(monitor["pooled"], json!(false));
        assert_eq!(monitor["privilege_gaps"], json!([]));
    }
}
