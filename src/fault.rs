//! A fault-injection hook for tests: `PGVITALS_FAULT` makes named points panic, so the tests
//! can check what the user sees when a collector or the screen itself crashes.
//!
//! `PGVITALS_FAULT` is a comma-separated list of points, read once per process (the first
//! call to [`check`]). The points are:
//!
//! * `collect:<area key>` (`collect:server`, `collect:activity`, `collect:statements`,
//!   `collect:cache`, `collect:replication`, `collect:unused_indexes`, `collect:vacuum`): at
//!   the start of every poll of that area, just before its query runs. The area's supervisor
//!   reports the crash in the area and restarts the collector; the screen and the other areas
//!   carry on.
//! * `tui:draw`: before every frame of the dashboard. The screen's panic hook restores the
//!   terminal (leaves the alternate screen, shows the cursor), a short panic report goes to
//!   stderr and the process exits non-zero (101).
//!
//! Unset or empty: no point is armed and [`check`] costs one load of a `OnceLock`. This is a
//! testing hook, not a user setting; it is documented so nobody is surprised by it.

use std::sync::OnceLock;

tokio::task_local! {
    /// Set while a collector runs (the collect layer's supervisor scopes every collector
    /// task with it): the screen's panic hook leaves the terminal alone for those panics (the
    /// supervisor reports and restarts the collector; the screen stays up).
    pub static IN_WORKER: bool;
}

/// True when called from inside a collector task (see [`IN_WORKER`]).
pub fn in_worker() -> bool {
    IN_WORKER.try_with(|v| *v).unwrap_or(false)
}

/// The environment variable that arms fault points.
pub const ENV: &str = "PGVITALS_FAULT";

fn points() -> &'static [String] {
    static POINTS: OnceLock<Vec<String>> = OnceLock::new();
    POINTS.get_or_init(|| match std::env::var(ENV) {
        Ok(value) => parse(&value),
        Err(_) => Vec::new(),
    })
}

/// The armed points of a `PGVITALS_FAULT` value: comma-separated, trimmed, empty items
/// dropped.
pub fn parse(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Panics with `injected fault at <point>` when `PGVITALS_FAULT` lists `point`; does nothing
/// otherwise.
pub fn check(point: &str) {
    if points().iter().any(|p| p == point) {
        panic!("injected fault at {point}");
    }
}

/// [`check`] of the point `<scope>:<name>` (e.g. `collect` and `vacuum`), without building the
/// string when nothing is armed.
pub fn check_in(scope: &str, name: &str) {
    let armed = points();
    if armed.is_empty() {
        return;
    }
    if armed
        .iter()
        .any(|p| p.split_once(':') == Some((scope, name)))
    {
        panic!("injected fault at {scope}:{name}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_comma_separated_and_trimmed() {
        assert_eq!(
            parse(" collect:vacuum, ,tui:draw,"),
            vec!["collect:vacuum".to_string(), "tui:draw".to_string()]
        );
        assert!(parse("").is_empty());
    }

    #[test]
    fn unarmed_points_do_nothing() {
        // the test binary runs without PGVITALS_FAULT
        if std::env::var_os(ENV).is_none() {
            check("collect:vacuum");
            check_in("tui", "draw");
        }
    }
}
