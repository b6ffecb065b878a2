//! Config parsing under hostile input (proptest): arbitrary text, and TOML that is
//! well-formed but wrong (unknown keys, wrong types, huge or negative numbers, bad durations
//! and sizes, rules that do not exist). [`Config::parse`] must never panic, and every error
//! is one non-empty line; what it accepts must hold its invariants. A tiny seed corpus in
//! `tests/corpus/config/` goes through [`Config::load`] (the path is named in the error).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use pgvitals::config::Config;
use pgvitals::sample::Rule;
use proptest::prelude::*;

/// The contract of an error: one line, not empty.
fn check_error(input: &str, err: &str) {
    assert!(!err.is_empty(), "empty error for {input:?}");
    assert!(
        !err.contains('\n') && !err.contains('\r'),
        "not one line for {input:?}: {err:?}"
    );
}

/// The invariants of an accepted config.
fn check_config(input: &str, c: &Config) {
    for (name, d) in [
        ("interval", c.interval),
        ("slow_interval", c.slow_interval),
        ("query_timeout", c.query_timeout),
    ] {
        assert!(
            d >= pgvitals::config::MIN_DURATION,
            "{name} below 100ms from {input:?}"
        );
    }
    assert!(c.interval <= Duration::from_secs(3600), "{input:?}");
    assert!(c.query_timeout <= Duration::from_secs(3600), "{input:?}");
    assert!(c.slow_interval <= Duration::from_secs(86_400), "{input:?}");
    for rule in Rule::ALL {
        let t = c.thresholds.get(rule);
        for v in [t.warning, t.critical, t.min] {
            assert!(v.is_finite() && v >= 0.0, "{rule:?} {t:?} from {input:?}");
        }
        if rule.lower_is_worse() {
            assert!(t.warning >= t.critical, "{rule:?} {t:?} from {input:?}");
        } else {
            assert!(t.warning <= t.critical, "{rule:?} {t:?} from {input:?}");
        }
    }
}

fn parse_checked(input: &str) {
    match Config::parse(input) {
        Ok(c) => check_config(input, &c),
        Err(e) => check_error(input, &e),
    }
}

/// A TOML value of any type, often the wrong one.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("nan".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e400".to_string()),
        Just("-0.0".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        text().prop_map(|s| format!("{s:?}")),
    ]
}

/// Strings for duration and size fields: good, bad, huge, negative, empty, odd units.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u64>(), unit()).prop_map(|(n, u)| format!("{n}{u}")),
        (any::<f64>(), unit()).prop_map(|(n, u)| format!("{n}{u}")),
        (any::<i32>(), unit()).prop_map(|(n, u)| format!("{n} {u}")),
        Just(String::new()),
        Just("  ".to_string()),
        Just("9".repeat(400)),
        Just(format!("{}MB", "9".repeat(400))),
        Just("1.5.5GB".to_string()),
        "\\PC{0,20}",
    ]
}

fn unit() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "ms", "s", "m", "h", "d", "w", "y", "ns", "us", "parsecs", "B", "kB", "MB", "GB", "TB",
        "XB", "KiB", "%",
    ])
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "interval",
            "slow_interval",
            "query_timeout",
            "intervall",
            "thresholds",
            "\"quoted key\"",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,12}",
    ]
}

fn rule_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(Rule::ALL.iter().map(|r| r.name()).collect::<Vec<_>>())
            .prop_map(str::to_string),
        "[a-z_]{1,16}",
    ]
}

fn threshold_key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["warning", "critical", "min", "warnin", "max"])
}

/// A whole document: top-level keys, then threshold tables.
fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((key(), value()), 0..4),
        prop::collection::vec(
            (
                rule_name(),
                prop::collection::vec((threshold_key(), value()), 0..4),
            ),
            0..4,
        ),
    )
        .prop_map(|(top, tables)| {
            let mut doc = String::new();
            for (k, v) in top {
                doc.push_str(&format!("{k} = {v}\n"));
            }
            for (rule, fields) in tables {
                doc.push_str(&format!("[thresholds.{rule}]\n"));
                for (k, v) in fields {
                    doc.push_str(&format!("{k} = {v}\n"));
                }
            }
            doc
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        parse_checked(&input);
    }

    #[test]
    fn wrong_but_well_formed_toml_never_panics(doc in document()) {
        parse_checked(&doc);
    }

    #[test]
    fn every_duration_field_takes_any_text(field in prop::sample::select(vec!["interval", "slow_interval", "query_timeout"]), t in text()) {
        parse_checked(&format!("{field} = {t:?}\n"));
    }

    #[test]
    fn every_rule_takes_any_value(rule in prop::sample::select(Rule::ALL.to_vec()), k in threshold_key(), v in value()) {
        parse_checked(&format!("[thresholds.{}]\n{k} = {v}\n", rule.name()));
    }
}

/// The usable range of an accepted config: the model's staleness limit (three poll periods
/// plus 2 s) and a tokio interval of it must not overflow.
///
/// `interval = "18446744073709551615s"` (or `"584542046090y"`) used to be accepted and made
/// `Store::max_age` panic ("overflow when multiplying duration by scalar"). The config now
/// bounds every duration (interval and query_timeout at most 1 h, slow_interval at most
/// 1 day); the bounds themselves must be accepted and usable.
#[test]
fn accepted_durations_are_usable() {
    let mut accepted = 0;
    for d in [
        "18446744073709551615s",
        "584542046090y",
        "500000000y",
        "1000000h",
        "1h",
        "1d",
    ] {
        for field in ["interval", "slow_interval", "query_timeout"] {
            let input = format!("{field} = \"{d}\"");
            let c = match Config::parse(&input) {
                Ok(c) => c,
                Err(e) => {
                    check_error(&input, &e);
                    assert!(e.contains(field) && e.contains("at most"), "{input}: {e}");
                    continue;
                }
            };
            accepted += 1;
            let used = std::panic::catch_unwind(|| {
                let store = pgvitals::model::Store::new(
                    vec!["x".into()],
                    c.thresholds.clone(),
                    c.interval,
                    c.slow_interval,
                    std::time::SystemTime::now(),
                );
                for area in pgvitals::sample::Area::ALL {
                    let _ = store.max_age(area);
                }
                std::time::Instant::now() + c.interval + c.slow_interval + c.query_timeout
            });
            assert!(used.is_ok(), "{input} is accepted but cannot be used");
        }
    }
    // "1h" for all three keys, "1d" for slow_interval.
    assert_eq!(accepted, 4);
}

/// `Store::max_age` itself saturates: even intervals no config accepts cannot panic there.
#[test]
fn max_age_saturates() {
    let store = pgvitals::model::Store::new(
        vec!["x".into()],
        Default::default(),
        Duration::MAX,
        Duration::MAX,
        std::time::SystemTime::now(),
    );
    for area in pgvitals::sample::Area::ALL {
        assert_eq!(store.max_age(area), Duration::MAX, "{area:?}");
    }
    let store = pgvitals::model::Store::new(
        vec!["x".into()],
        Default::default(),
        Duration::from_secs(2),
        Duration::from_secs(60),
        std::time::SystemTime::now(),
    );
    assert_eq!(
        store.max_age(pgvitals::sample::Area::Activity),
        Duration::from_secs(8)
    );
}

#[test]
fn the_seed_corpus_loads_or_fails_in_one_line_naming_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        parse_checked(&text);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match Config::load(Some(&path)) {
            Ok(c) => {
                assert!(name.starts_with("valid"), "{name} was accepted: {c:?}");
                check_config(&text, &c);
                assert_eq!(c.source.as_deref(), Some(path.as_path()));
            }
            Err(e) => {
                assert!(!name.starts_with("valid"), "{name}: {e}");
                let e = e.to_string();
                check_error(&text, &e);
                assert!(e.contains(&name), "{e} does not name {name}");
            }
        }
    }
    assert!(seen >= 5, "corpus missing in {}", dir.display());
}
