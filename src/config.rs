//! The TOML config file: polling intervals and alert thresholds.
//!
//! Read from `--config PATH`, else `$XDG_CONFIG_HOME/pgvitals/config.toml` (when present).
//! Every key is optional; unknown keys are errors (a typo must not silently keep a default).
//!
//! ```toml
//! interval = "2s"          # how often fast areas are polled (100ms .. 1h)
//! slow_interval = "60s"    # unused indexes (100ms .. 1d)
//! query_timeout = "5s"     # statement_timeout of the monitoring session (100ms .. 1h)
//! top_n = 50               # rows listed of the unbounded lists: unused indexes, cache tables (1 .. 10000)
//! record = true            # the dashboard records: true = $XDG_STATE_HOME/pgvitals/recording.db, or a path
//! record_max_size = "1GB"  # size cap of a recording (ordinary samples are pruned first; at least 1MB)
//! record_max_age = "30d"   # age cap of a recording (at least 1m)
//! [thresholds.xid_age]
//! warning = 500000000
//! critical = 1200000000
//! [thresholds.replication_lag_bytes]
//! warning = "10MB"         # byte rules also take sizes, time rules durations ("5m")
//! [thresholds.xid_wraparound_eta]
//! warning = "72h"          # time left: lower is worse, so warning >= critical
//! critical = "24h"
//! [serve]                  # `pgvitals serve`'s listener (the exporter-toolkit's web config, in TOML)
//! tls_cert_file = "/etc/pgvitals/tls.crt"   # PEM chain; with tls_key_file: HTTPS only
//! tls_key_file = "/etc/pgvitals/tls.key"
//! [serve.basic_auth_users]  # user = bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! prometheus = "$2y$10$..."
//! [[servers]]              # watched when no CONNINFO is given; `pgvitals orders-primary` picks one
//! name = "orders-primary"  # what the header, alerts, JSON and metrics call it
//! conninfo = "host=db1 dbname=orders"   # or "service=orders", a URI, ...
//! group = "orders"         # optional: `--group orders` watches the group
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sample::{Rule, Unit};

/// Warning and critical levels of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub warning: f64,
    pub critical: f64,
    /// Volume floor below which the rule is not evaluated (cache: blocks/s; dead tuples:
    /// dead tuples; inactive slot: bytes), or 0.
    pub min: f64,
}

/// Thresholds of every rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds(pub BTreeMap<Rule, Threshold>);

const MB: f64 = 1024.0 * 1024.0;
const GB: f64 = 1024.0 * MB;

impl Default for Thresholds {
    fn default() -> Self {
        let map = Rule::ALL
            .into_iter()
            .map(|rule| {
                let (warning, critical, min) = rule.defaults();
                (
                    rule,
                    Threshold {
                        warning,
                        critical,
                        min,
                    },
                )
            })
            .collect();
        Thresholds(map)
    }
}

impl Thresholds {
    pub fn get(&self, rule: Rule) -> Threshold {
        self.0.get(&rule).copied().unwrap_or(Threshold {
            warning: f64::INFINITY,
            critical: f64::INFINITY,
            min: 0.0,
        })
    }
}

/// The whole configuration, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Poll interval of the fast areas (default 2 s).
    pub interval: Duration,
    /// Poll interval of the slow areas: unused indexes (default 60 s).
    pub slow_interval: Duration,
    /// statement_timeout of the monitoring session (default 5 s); lock_timeout is a fifth of it.
    pub query_timeout: Duration,
    /// How many rows the top-N lists carry (unused indexes, per-table cache); their totals
    /// always count every row (default [`DEFAULT_TOP_N`], at most [`MAX_TOP_N`]).
    pub top_n: u32,
    pub thresholds: Thresholds,
    /// `record`: the dashboard (and the demo) records to this file, as with `--record`
    /// (`record = true`: [`default_recording_path`]; a string: that path). `None`: no
    /// recording unless asked on the command line.
    pub record: Option<PathBuf>,
    /// `record_max_size`: the size cap of a recording, bytes (default 1 GB, powers of 1024).
    pub record_max_size: u64,
    /// `record_max_age`: what a recording keeps at most (default 30 days).
    pub record_max_age: Duration,
    /// `[[servers]]`: named servers, in the file's order (names unique).
    pub servers: Vec<ServerEntry>,
    /// `[serve]`: TLS and basic auth of `pgvitals serve`'s listener.
    pub serve: ServeConfig,
    /// Where the config was read from, if anywhere.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[serve]`: how `pgvitals serve` guards its listener, after Prometheus' exporter-toolkit
/// web config (`tls_server_config.cert_file` / `key_file`, `basic_auth_users` with bcrypt
/// hashes).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServeConfig {
    /// PEM certificate chain; set with `tls_key_file`, the listener speaks HTTPS only.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the certificate.
    pub tls_key_file: Option<PathBuf>,
    /// user → bcrypt hash (`$2a$` / `$2b$` / `$2y$`); not empty: every request needs one of
    /// them (HTTP basic auth).
    #[serde(skip)]
    pub basic_auth_users: BTreeMap<String, String>,
}

/// One `[[servers]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerEntry {
    /// What the header, alerts, the JSON and the metrics call the server: 1 to 64 letters,
    /// digits, `.`, `_`, `-`, `:` or `/`.
    pub name: String,
    /// Its connection string, as a CONNINFO argument would be given (passwords belong in
    /// `.pgpass` or a service file, not here).
    pub conninfo: String,
    /// Optional group, for `--group`.
    pub group: Option<String>,
}

/// A server name or group is 1 to 64 of `[A-Za-z0-9._:/-]`: safe in a terminal, a label
/// value and a file name, never mistaken for a connection string (no `=`, no `://`).
pub fn check_server_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.contains("://")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {:?}: use 1 to 64 letters, digits, '.', '_', '-', ':' or '/'",
            one_line(name)
        ))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Duration::from_secs(2),
            slow_interval: Duration::from_secs(60),
            query_timeout: Duration::from_secs(5),
            top_n: DEFAULT_TOP_N,
            thresholds: Thresholds::default(),
            record: None,
            record_max_size: DEFAULT_RECORD_MAX_SIZE,
            record_max_age: DEFAULT_RECORD_MAX_AGE,
            servers: Vec::new(),
            serve: ServeConfig::default(),
            source: None,
        }
    }
}

/// A config file problem: one line naming the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read, is not a regular file or is too large (the message names
    /// the path).
    #[error("config file {source}")]
    Read { source: crate::files::ReadError },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    interval: Option<String>,
    slow_interval: Option<String>,
    query_timeout: Option<String>,
    top_n: Option<i64>,
    record: Option<RawRecord>,
    record_max_size: Option<RawValue>,
    record_max_age: Option<String>,
    #[serde(default)]
    thresholds: BTreeMap<String, RawThreshold>,
    #[serde(default)]
    servers: Vec<RawServer>,
    serve: Option<RawServe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: String,
    conninfo: String,
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRecord {
    On(bool),
    Path(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    warning: Option<RawValue>,
    critical: Option<RawValue>,
    min: Option<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Int(i64),
    Float(f64),
    Text(String),
}

impl RawValue {
    fn to_string_value(&self) -> String {
        match self {
            RawValue::Int(i) => i.to_string(),
            RawValue::Float(f) => f.to_string(),
            RawValue::Text(t) => t.clone(),
        }
    }
}

impl Config {
    /// Load from `path`, or from the XDG config dir when `path` is None and the file exists,
    /// else the defaults.
    ///
    /// Errors: the file cannot be read (an explicit path that is missing is an error), it is
    /// not a regular file (a device, a FIFO, a directory), it is larger than
    /// [`MAX_CONFIG_BYTES`] or not UTF-8, it is not valid TOML, it has unknown keys, a value has the wrong type or unit, or a warning
    /// level is beyond its critical level.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(Config::default()),
            },
        };
        let bytes = crate::files::read_regular(&path, MAX_CONFIG_BYTES)
            .map_err(|source| ConfigError::Read { source })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Invalid {
            path: path.clone(),
            message: "not UTF-8 text".into(),
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.clone(),
            message,
        })?;
        config.source = Some(path);
        Ok(config)
    }

    /// Parse the TOML text. Errors are one line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let mut config = Config::default();
        let duration = |key: &str, v: &Option<String>, into: &mut Duration| -> Result<(), String> {
            if let Some(s) = v {
                let d = humantime::parse_duration(s.trim()).map_err(|e| {
                    format!("{key} = {s:?}: {e} (write it like \"500ms\", \"2s\", \"1m\")")
                })?;
                check_duration(key, d)?;
                *into = d;
            }
            Ok(())
        };
        duration("interval", &raw.interval, &mut config.interval)?;
        duration(
            "slow_interval",
            &raw.slow_interval,
            &mut config.slow_interval,
        )?;
        duration(
            "query_timeout",
            &raw.query_timeout,
            &mut config.query_timeout,
        )?;
        if let Some(n) = raw.top_n {
            config.top_n = check_top_n(n)?;
        }
        match &raw.record {
            None | Some(RawRecord::On(false)) => {}
            Some(RawRecord::On(true)) => {
                config.record = Some(default_recording_path().ok_or(
                    "record = true: no state directory (set XDG_STATE_HOME or HOME)".to_string(),
                )?)
            }
            Some(RawRecord::Path(p)) if p.trim().is_empty() => {
                return Err("record = \"\": give a path, or true for the default".into());
            }
            Some(RawRecord::Path(p)) => config.record = Some(PathBuf::from(p)),
        }
        if let Some(v) = &raw.record_max_size {
            config.record_max_size = check_record_max_size(&v.to_string_value())?;
        }
        if let Some(s) = &raw.record_max_age {
            config.record_max_age = check_record_max_age(s)?;
        }
        for (name, raw_t) in &raw.thresholds {
            let rule = Rule::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
                format!(
                    "unknown rule thresholds.{name} (known: {})",
                    known.join(", ")
                )
            })?;
            let mut t = config.thresholds.get(rule);
            let unit = rule.unit();
            if let Some(v) = &raw_t.warning {
                t.warning = value(name, "warning", v, unit)?;
            }
            if let Some(v) = &raw_t.critical {
                t.critical = value(name, "critical", v, unit)?;
            }
            if let Some(v) = &raw_t.min {
                t.min = value(name, "min", v, unit)?;
            }
            let ordered = if rule.lower_is_worse() {
                t.warning >= t.critical
            } else {
                t.warning <= t.critical
            };
            if !ordered {
                return Err(format!(
                    "thresholds.{name}: warning ({}) is beyond critical ({})",
                    t.warning, t.critical
                ));
            }
            config.thresholds.0.insert(rule, t);
        }
        if let Some(sv) = raw.serve {
            if sv.tls_cert_file.is_some() != sv.tls_key_file.is_some() {
                return Err(
                    "serve: give tls_cert_file and tls_key_file together (or neither)".into(),
                );
            }
            for (user, hash) in &sv.basic_auth_users {
                if user.is_empty() || user.contains(':') {
                    return Err(format!(
                        "serve.basic_auth_users: user {:?}: not empty, no ':'",
                        one_line(user)
                    ));
                }
                let bcrypt_like = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
                    && hash.len() == 60;
                if !bcrypt_like {
                    return Err(format!(
                        "serve.basic_auth_users.{}: not a bcrypt hash ($2y$..., 60 characters; \
                         make one with htpasswd -nBC 10 USER)",
                        one_line(user)
                    ));
                }
            }
            config.serve = ServeConfig {
                tls_cert_file: sv.tls_cert_file,
                tls_key_file: sv.tls_key_file,
                basic_auth_users: sv.basic_auth_users,
            };
        }
        for (i, raw_s) in raw.servers.into_iter().enumerate() {
            let at = format!("servers[{i}]");
            check_server_name(&format!("{at}.name"), &raw_s.name)?;
            if let Some(g) = &raw_s.group {
                check_server_name(&format!("{at}.group"), g)?;
            }
            if config.servers.iter().any(|s| s.name == raw_s.name) {
                return Err(format!("{at}.name {:?}: named twice", raw_s.name));
            }
            config.servers.push(ServerEntry {
                name: raw_s.name,
                conninfo: raw_s.conninfo,
                group: raw_s.group,
            });
        }
        Ok(config)
    }

    /// The servers a command line picks: `args` as given, where an argument that is the
    /// name of a `[[servers]]` entry stands for it; no arguments means every entry (of
    /// `group`, when given). Each is `(name, conninfo)`; `None` for a plain CONNINFO.
    ///
    /// Errors: `--group` naming no entry's group; `--group` beside CONNINFO arguments.
    pub fn pick_servers(
        &self,
        args: &[String],
        group: Option<&str>,
    ) -> Result<Vec<(Option<String>, String)>, String> {
        if let Some(g) = group {
            if !args.is_empty() {
                return Err("--group picks servers of the config: give no CONNINFO with it".into());
            }
            let picked: Vec<_> = self
                .servers
                .iter()
                .filter(|s| s.group.as_deref() == Some(g))
                .map(|s| (Some(s.name.clone()), s.conninfo.clone()))
                .collect();
            if picked.is_empty() {
                return Err(format!(
                    "no [[servers]] entry has group = {:?}",
                    one_line(g)
                ));
            }
            return Ok(picked);
        }
        if args.is_empty() {
            return Ok(self
                .servers
                .iter()
                .map(|s| (Some(s.name.clone()), s.conninfo.clone()))
                .collect());
        }
        Ok(args
            .iter()
            .map(|a| match self.servers.iter().find(|s| s.name == *a) {
                Some(s) => (Some(s.name.clone()), s.conninfo.clone()),
                None => (None, a.clone()),
            })
            .collect())
    }
}

pub use crate::sample::DEFAULT_TOP_N;

/// The most rows a top-N list may be configured to carry (a screen or a JSON document cannot
/// use more).
pub const MAX_TOP_N: u32 = 10_000;

/// `top_n` within 1 ..= [`MAX_TOP_N`]; the error is one line (config file and command line).
pub fn check_top_n(n: i64) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(v) if (1..=MAX_TOP_N).contains(&v) => Ok(v),
        _ => Err(format!("top_n = {n}: must be 1 .. {MAX_TOP_N}")),
    }
}

/// The largest config file read: 1 MiB (a real one is a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The shortest duration setting accepted (config file and command line, every key): 100 ms.
/// Shorter would poll a server hundreds of times a second (`interval = "1ns"`).
pub const MIN_DURATION: Duration = Duration::from_millis(100);

/// The longest `interval` and `query_timeout` accepted (config file and command line): 1 hour.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The longest `slow_interval` accepted: 1 day.
pub const MAX_SLOW_INTERVAL: Duration = Duration::from_secs(86_400);

/// The upper bound of a duration setting, by its config key (`interval`, `query_timeout`,
/// `slow_interval`; command-line flags use the same names with dashes or underscores), or
/// None for a key without a bound.
pub fn max_duration(key: &str) -> Option<Duration> {
    match key.trim_start_matches('-').replace('-', "_").as_str() {
        "interval" | "query_timeout" => Some(MAX_INTERVAL),
        "slow_interval" => Some(MAX_SLOW_INTERVAL),
        _ => None,
    }
}

/// Errors (one line naming the key and the bound) when `d` is beyond the bound of `key` (see
/// [`max_duration`]); bounded durations keep every deadline and staleness limit derived from
/// them far from overflow.
pub fn check_max_duration(key: &str, d: Duration) -> Result<(), String> {
    match max_duration(key) {
        Some(max) if d > max => Err(format!(
            "{key} = {} is too long: at most {}",
            humantime::format_duration(d),
            humantime::format_duration(max)
        )),
        _ => Ok(()),
    }
}

/// The bounds of every duration setting, shared by the config file and the command line:
/// errors (one line naming the key and the bound) when `d` is below [`MIN_DURATION`] or beyond
/// `max` (when given). `key` is written as given (`interval`, `--workload-for`).
pub fn check_bounds(key: &str, d: Duration, max: Option<Duration>) -> Result<(), String> {
    if d < MIN_DURATION {
        return Err(format!(
            "{key} = {} is too short: at least {}",
            humantime::format_duration(d),
            humantime::format_duration(MIN_DURATION)
        ));
    }
    match max {
        Some(max) if d > max => Err(format!(
            "{key} = {} is too long: at most {}",
            humantime::format_duration(d),
            humantime::format_duration(max)
        )),
        _ => Ok(()),
    }
}

/// [`check_bounds`] with the bound of `key` ([`max_duration`]): at least [`MIN_DURATION`],
/// at most 1 h for `interval` / `query_timeout` and 1 day for `slow_interval`.
pub fn check_duration(key: &str, d: Duration) -> Result<(), String> {
    check_bounds(key, d, max_duration(key))
}

fn value(rule: &str, key: &str, v: &RawValue, unit: Unit) -> Result<f64, String> {
    let n = match v {
        RawValue::Int(i) => *i as f64,
        RawValue::Float(f) => *f,
        RawValue::Text(s) => match unit {
            Unit::Seconds => humantime::parse_duration(s.trim())
                .map(|d| d.as_secs_f64())
                .map_err(|e| format!("thresholds.{rule}.{key} = {s:?}: {e}"))?,
            Unit::Bytes => parse_size(s).ok_or_else(|| {
                format!("thresholds.{rule}.{key} = {s:?}: not a size like \"10MB\"")
            })?,
            _ => {
                return Err(format!(
                    "thresholds.{rule}.{key} = {s:?}: expected a number"
                ));
            }
        },
    };
    if !n.is_finite() || n < 0.0 {
        return Err(format!(
            "thresholds.{rule}.{key} must be a non-negative number"
        ));
    }
    if unit == Unit::Ratio && n > 1.0 && key != "min" {
        return Err(format!(
            "thresholds.{rule}.{key} = {n}: a ratio between 0 and 1"
        ));
    }
    Ok(n)
}

/// "10MB", "1.5 GiB", "512kB", "100" (bytes). kB/MB/GB/TB are powers of 1024, as in
/// PostgreSQL's own settings.
pub fn parse_size(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "kib" | "k" => 1024.0,
        "mb" | "mib" | "m" => MB,
        "gb" | "gib" | "g" => GB,
        "tb" | "tib" | "t" => GB * 1024.0,
        _ => return None,
    };
    Some(n * mult)
}

/// The default recording size cap: 1 GB.
pub const DEFAULT_RECORD_MAX_SIZE: u64 = 1 << 30;
/// The smallest recording size cap accepted: 1 MB.
pub const MIN_RECORD_MAX_SIZE: u64 = 1 << 20;
/// The default age cap of a recording: 30 days.
pub const DEFAULT_RECORD_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// `record_max_size` / `--max-size`: a size like `1GB`, `200MB`, at least 1 MB.
pub fn check_record_max_size(s: &str) -> Result<u64, String> {
    let v = parse_size(s)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("max size {s:?} is not a size (write it like 200MB, 1GB)"))?;
    if v < MIN_RECORD_MAX_SIZE as f64 {
        return Err(format!("max size {s} is too small: at least 1MB"));
    }
    Ok(v.min(u64::MAX as f64) as u64)
}

/// `record_max_age` / `--max-age`: a duration like `7d`, `12h`, at least 1 minute.
pub fn check_record_max_age(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("max age {s:?}: {e} (write it like 12h, 7days)"))?;
    if d < Duration::from_secs(60) {
        return Err(format!("max age {s} is too short: at least 1m"));
    }
    Ok(d)
}

/// `$XDG_STATE_HOME/pgvitals/recording.db` (or `~/.local/state/...`): where `record = true`
/// records.
pub fn default_recording_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy().ok().and_then(|s| {
        s.state_dir()
            .map(|d| d.join("pgvitals").join("recording.db"))
    })
}

/// `$XDG_CONFIG_HOME/pgvitals/config.toml` (or `~/.config/...`).
pub fn default_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.config_dir().join("pgvitals").join("config.toml"))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_section_wants_both_tls_files_and_bcrypt_hashes() {
        let hash = format!("$2y$10${}", "a".repeat(53));
        let c = Config::parse(&format!(
            "[serve]\ntls_cert_file = \"/c\"\ntls_key_file = \"/k\"\n[serve.basic_auth_users]\nprom = \"{hash}\"\n"
        ))
        .expect("serve parses");
        assert_eq!(c.serve.tls_cert_file.as_deref(), Some(Path::new("/c")));
        assert_eq!(c.serve.basic_auth_users.get("prom"), Some(&hash));
        for (bad, why) in [
            ("[serve]\ntls_cert_file = \"/c\"\n", "together"),
            (
                "[serve.basic_auth_users]\nprom = \"secret\"\n",
                "not a bcrypt hash",
            ),
            ("[serve]\nport = 1\n", "unknown field"),
        ] {
            let e = Config::parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn named_servers_are_picked_by_name_group_or_all() {
        let c = Config::parse(
            r#"
[[servers]]
name = "orders-primary"
conninfo = "host=db1 dbname=orders"
group = "orders"
[[servers]]
name = "orders-standby"
conninfo = "service=orders-standby"
group = "orders"
[[servers]]
name = "billing"
conninfo = "postgresql://db3/billing"
"#,
        )
        .expect("servers parse");
        assert_eq!(c.servers.len(), 3);
        let names = |v: Vec<(Option<String>, String)>| -> Vec<Option<String>> {
            v.into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(names(c.pick_servers(&[], None).expect("all")).len(), 3);
        assert_eq!(
            c.pick_servers(&[], Some("orders")).expect("group"),
            vec![
                (
                    Some("orders-primary".into()),
                    "host=db1 dbname=orders".into()
                ),
                (
                    Some("orders-standby".into()),
                    "service=orders-standby".into()
                ),
            ]
        );
        assert_eq!(
            c.pick_servers(&["billing".into(), "host=x".into()], None)
                .expect("by name and a plain conninfo"),
            vec![
                (Some("billing".into()), "postgresql://db3/billing".into()),
                (None, "host=x".into()),
            ]
        );
        let e = c
            .pick_servers(&[], Some("nope"))
            .expect_err("unknown group");
        assert!(
            e.contains("no [[servers]] entry has group = \"nope\""),
            "{e}"
        );
        let e = c
            .pick_servers(&["host=x".into()], Some("orders"))
            .expect_err("group and conninfo");
        assert!(e.contains("--group"), "{e}");

        for (bad, why) in [
            ("name = \"a b\"\nconninfo = \"\"", "servers[0].name \"a b\""),
            ("name = \"host=x\"\nconninfo = \"\"", "servers[0].name"),
            ("name = \"\"\nconninfo = \"\"", "servers[0].name"),
            (
                "name = \"a\"\nconninfo = \"\"\ngroup = \"\\u001b[2J\"",
                "servers[0].group",
            ),
            ("name = \"a\"\nconninfo = \"\"\nport = 5", "unknown field"),
        ] {
            let e = Config::parse(&format!("[[servers]]\n{bad}\n")).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        let e = Config::parse(
            "[[servers]]\nname = \"a\"\nconninfo = \"\"\n[[servers]]\nname = \"a\"\nconninfo = \"\"\n",
        )
        .expect_err("twice");
        assert!(e.contains("named twice"), "{e}");
    }

    #[test]
    fn empty_config_is_the_defaults() {
        let c = Config::parse("").expect("empty parses");
        assert_eq!(c, Config::default());
        assert_eq!(c.thresholds.get(Rule::Connections).warning, 80.0);
        assert_eq!(c.thresholds.get(Rule::CacheHitRatio).warning, 0.95);
        assert_eq!(
            c.thresholds.get(Rule::ReplicationLagBytes).warning,
            10.0 * MB
        );
        assert_eq!(c.thresholds.get(Rule::LongQuery).warning, 300.0);
    }

    #[test]
    fn overrides_keep_the_other_level() {
        let c = Config::parse(
            "interval = \"500ms\"\n[thresholds.xid_age]\nwarning = 100\n[thresholds.replication_lag_bytes]\ncritical = \"2GB\"\n[thresholds.long_query]\nwarning = \"1m\"\n",
        )
        .expect("parses");
        assert_eq!(c.interval, Duration::from_millis(500));
        let x = c.thresholds.get(Rule::XidAge);
        assert_eq!((x.warning, x.critical), (100.0, 1_200_000_000.0));
        assert_eq!(
            c.thresholds.get(Rule::ReplicationLagBytes).critical,
            2.0 * GB
        );
        assert_eq!(c.thresholds.get(Rule::LongQuery).warning, 60.0);
    }

    #[test]
    fn time_left_rules_take_durations_and_are_lower_is_worse() {
        let c = Config::parse("")
            .expect("defaults")
            .thresholds
            .get(Rule::XidWraparoundEta);
        assert_eq!((c.warning, c.critical), (72.0 * 3600.0, 24.0 * 3600.0));
        let s = Config::parse("").expect("defaults").thresholds;
        let slot = s.get(Rule::SlotInvalidationEta);
        assert_eq!((slot.warning, slot.critical), (6.0 * 3600.0, 3600.0));
        let c = Config::parse(
            "[thresholds.xid_wraparound_eta]\nwarning = \"7days\"\ncritical = \"2d\"\n[thresholds.slot_invalidation_eta]\ncritical = \"30m\"",
        )
        .expect("parses");
        let x = c.thresholds.get(Rule::XidWraparoundEta);
        assert_eq!((x.warning, x.critical), (7.0 * 86_400.0, 2.0 * 86_400.0));
        assert_eq!(c.thresholds.get(Rule::SlotInvalidationEta).critical, 1800.0);
        // the warning comes first, so it is the longer time left
        let err = Config::parse("[thresholds.slot_invalidation_eta]\nwarning = \"30m\"")
            .expect_err("warning below critical");
        assert!(err.contains("beyond critical"), "{err}");
    }

    #[test]
    fn bad_configs_are_one_line_errors() {
        for (text, needle) in [
            ("intervall = \"2s\"", "unknown field"),
            ("interval = \"2 parsecs\"", "interval"),
            ("interval = 2", "invalid type"),
            (
                "[thresholds.nope]\nwarning = 1",
                "unknown rule thresholds.nope",
            ),
            (
                "[thresholds.xid_age]\nwarning = \"lots\"",
                "expected a number",
            ),
            ("[thresholds.xid_age]\nwarnin = 1", "unknown field"),
            (
                "[thresholds.xid_age]\nwarning = 2000000000",
                "beyond critical",
            ),
            ("[thresholds.cache_hit_ratio]\nwarning = 95", "ratio"),
            ("[thresholds.connections]\nwarning = -1", "non-negative"),
            ("this is not toml", ""),
        ] {
            let err = Config::parse(text).expect_err(text);
            assert!(!err.contains('\n'), "{err:?} is not one line");
            assert!(err.contains(needle), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn durations_beyond_their_bound_are_one_line_errors_naming_key_and_bound() {
        for (text, message) in [
            ("interval = \"2h\"", "interval = 2h is too long: at most 1h"),
            (
                "query_timeout = \"3601s\"",
                "query_timeout = 1h 1s is too long: at most 1h",
            ),
            (
                "slow_interval = \"25h\"",
                "slow_interval = 1day 1h is too long: at most 1day",
            ),
            (
                "interval = \"18446744073709551615s\"",
                "interval = 584542046090years 7months 15days 17h 5m 3s is too long: at most 1h",
            ),
        ] {
            assert_eq!(Config::parse(text).expect_err(text), message);
        }
        // The bounds themselves are accepted.
        let c = Config::parse("interval = \"1h\"\nquery_timeout = \"1h\"\nslow_interval = \"1d\"")
            .expect("bounds are accepted");
        assert_eq!(c.interval, MAX_INTERVAL);
        assert_eq!(c.query_timeout, MAX_INTERVAL);
        assert_eq!(c.slow_interval, MAX_SLOW_INTERVAL);
        // Command-line spellings share the bounds.
        assert_eq!(max_duration("--query-timeout"), Some(MAX_INTERVAL));
        assert_eq!(max_duration("workload_for"), None);
        assert!(check_max_duration("--interval", Duration::from_secs(3601)).is_err());
    }

    #[test]
    fn durations_below_100ms_are_errors_like_on_the_command_line() {
        for key in ["interval", "slow_interval", "query_timeout"] {
            for (v, shown) in [("1ns", "1ns"), ("99ms", "99ms"), ("0s", "0s")] {
                let text = format!("{key} = \"{v}\"");
                assert_eq!(
                    Config::parse(&text).expect_err(&text),
                    format!("{key} = {shown} is too short: at least 100ms")
                );
            }
            let c = Config::parse(&format!("{key} = \"100ms\"")).expect("100ms is accepted");
            let got = match key {
                "interval" => c.interval,
                "slow_interval" => c.slow_interval,
                _ => c.query_timeout,
            };
            assert_eq!(got, MIN_DURATION);
        }
    }

    #[test]
    fn sizes_parse_like_postgres_settings() {
        assert_eq!(parse_size("10MB"), Some(10.0 * MB));
        assert_eq!(parse_size("1.5 GB"), Some(1.5 * GB));
        assert_eq!(parse_size("512kB"), Some(512.0 * 1024.0));
        assert_eq!(parse_size("100"), Some(100.0));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("10 parsecs"), None);
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let started = std::time::Instant::now();
        for (path, needle) in [
            ("/dev/zero", "not a regular file (a character device)"),
            ("/", "not a regular file (a directory)"),
        ] {
            let err = Config::load(Some(Path::new(path))).expect_err(path);
            let text = err.to_string();
            assert!(text.contains(path) && text.contains(needle), "{text}");
            assert!(!text.contains('\n'));
        }
        let dir = std::env::temp_dir().join(format!("pgvitals-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fifo = dir.join("fifo.toml");
        let _ = std::fs::remove_file(&fifo);
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let err = Config::load(Some(&fifo)).expect_err("a FIFO");
        assert!(
            err.to_string().contains("not a regular file (a FIFO)"),
            "{err}"
        );
        let big = dir.join("big.toml");
        let mut text = "# padding\n".repeat((MAX_CONFIG_BYTES / 10) as usize + 1);
        text.push_str("interval = \"2s\"\n");
        std::fs::write(&big, &text).expect("write");
        let err = Config::load(Some(&big)).expect_err("over 1 MiB");
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
        // at the cap: read
        let fits = dir.join("fits.toml");
        let mut text = "#".repeat(MAX_CONFIG_BYTES as usize - 32);
        text.push_str("\ninterval = \"3s\"\n");
        assert!(text.len() as u64 <= MAX_CONFIG_BYTES);
        std::fs::write(&fits, &text).expect("write");
        let c = Config::load(Some(&fits)).expect("a file at the cap is read");
        assert_eq!(c.interval, Duration::from_secs(3));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_explicit_file_is_an_error_naming_it() {
        let err = Config::load(Some(Path::new("/nonexistent/pgvitals.toml"))).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/pgvitals.toml"));
    }
}
