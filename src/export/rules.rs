//! `pgvitals rules`: a Prometheus alerting-rules file (YAML) built from the thresholds of
//! the config, so Alertmanager pages on what the dashboard colours.
//!
//! Two alerts per rule, `Pgvitals<Rule>Warning` and `…Critical`, labelled `severity` and
//! `rule`. Where the exposition has the rule's measured value as a series (connections %,
//! query / idle-in-transaction / lock-wait ages, replay lag in bytes and seconds, slot WAL,
//! xid and mxid ages), the expression compares that series with the configured threshold;
//! the rules with volume floors, forecasts or baselines (cache hit ratio, inactive slot,
//! slot invalidation and wraparound ETAs, dead tuples, archiving, requested checkpoints,
//! statement regression) follow `pgvitals_alert`, which the exporter evaluates with the
//! same code and thresholds as the dashboard. Not reproduced: the dashboard's 5 % clearing
//! margin (an alert clears once back past the threshold by 5 %); Prometheus resolves as soon
//! as the expression stops holding.

use std::fmt::Write as _;

use crate::config::Thresholds;
use crate::sample::{Rule, Unit};

/// The expression of `rule` past `threshold` over the exported series, when the series is
/// the rule's measured value.
fn expression(rule: Rule, threshold: f64) -> Option<String> {
    let t = number(threshold);
    let e = match rule {
        Rule::Connections => format!(
            "100 * pgvitals_activity_client_backends / (pgvitals_activity_usable_connections > 0) > {t}"
        ),
        Rule::LongQuery => format!("pgvitals_activity_longest_query_age_seconds > {t}"),
        Rule::IdleInTransaction => {
            format!("pgvitals_activity_longest_idle_in_transaction_seconds > {t}")
        }
        Rule::Blocked => format!("pgvitals_activity_longest_lock_wait_seconds > {t}"),
        Rule::ReplicationLagBytes => format!(
            "pgvitals_replication_standby_replay_lag_bytes > {t} or pgvitals_replication_replay_lag_bytes > {t}"
        ),
        Rule::ReplicationLagTime => format!(
            "pgvitals_replication_standby_replay_lag_seconds > {t} or pgvitals_replication_replay_lag_seconds > {t}"
        ),
        Rule::SlotRetainedWal => format!("pgvitals_replication_slot_retained_wal_bytes > {t}"),
        Rule::XidAge => format!("pgvitals_vacuum_xid_age > {t}"),
        Rule::MxidAge => format!("pgvitals_vacuum_mxid_age > {t}"),
        Rule::ServerUnreachable => "pgvitals_up == 0".to_owned(),
        Rule::CacheHitRatio
        | Rule::InactiveSlot
        | Rule::SlotInvalidationEta
        | Rule::XidWraparoundEta
        | Rule::DeadTuples
        | Rule::ArchiveFailing
        | Rule::CheckpointsRequested
        | Rule::StatementRegression => return None,
    };
    Some(e)
}

/// A threshold as PromQL reads it: integers without a fraction, others in full precision.
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// `connections` → `Connections`, `replication_lag_bytes` → `ReplicationLagBytes`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A threshold for a human, in the rule's unit.
fn shown(rule: Rule, v: f64) -> String {
    match rule.unit() {
        Unit::Percent => format!("{}%", number(v)),
        Unit::Seconds => format!("{} s", number(v)),
        Unit::Bytes => format!("{} bytes", number(v)),
        Unit::Ratio => number(v),
        Unit::Transactions => format!("{} transactions", number(v)),
        Unit::Factor => format!("{}x", number(v)),
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The rules file of `thresholds`: one group `pgvitals`, two alerts per rule.
pub fn rules_file(thresholds: &Thresholds) -> String {
    let mut out = String::from(
        "# Prometheus alerting rules for the series of `pgvitals serve`, built by `pgvitals rules`\n\
         # from the thresholds of the config (the same the dashboard colours by).\n\
         groups:\n  - name: pgvitals\n    rules:\n",
    );
    for rule in Rule::ALL {
        let t = thresholds.get(rule);
        for (severity, threshold) in [("warning", t.warning), ("critical", t.critical)] {
            let (expr, what) = match expression(rule, threshold) {
                Some(e) => (e, format!("past {}", shown(rule, threshold))),
                None => (
                    format!(
                        "pgvitals_alert{{rule=\"{}\",severity=\"{severity}\"}} == 1",
                        rule.name()
                    ),
                    "as pgvitals evaluates it".to_owned(),
                ),
            };
            let _ = write!(
                out,
                "      - alert: Pgvitals{}{}\n        expr: {}\n        labels:\n          severity: {severity}\n          rule: {}\n        annotations:\n          summary: {}\n",
                camel(rule.name()),
                camel(severity),
                quoted(&expr),
                rule.name(),
                quoted(&format!(
                    "{} on {{{{ $labels.server }}}} ({what}): {{{{ $value }}}}",
                    rule.name()
                )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_two_alerts_with_the_configured_thresholds() {
        let mut th = Thresholds::default();
        th.0.insert(
            Rule::ReplicationLagBytes,
            crate::config::Threshold {
                warning: 1234.0,
                critical: 99999.0,
                min: 0.0,
            },
        );
        let text = rules_file(&th);
        assert_eq!(text.matches("- alert: ").count(), 2 * Rule::ALL.len());
        assert!(text.contains("pgvitals_replication_standby_replay_lag_bytes > 1234 or"));
        assert!(text.contains("pgvitals_replication_replay_lag_bytes > 99999\""));
        assert!(text.contains("PgvitalsReplicationLagBytesCritical"));
        assert!(text.contains(
            "expr: \"pgvitals_alert{rule=\\\"dead_tuples\\\",severity=\\\"warning\\\"} == 1\""
        ));
        assert_eq!(number(0.95), "0.95");
        assert_eq!(number(500_000_000.0), "500000000");
    }
}
