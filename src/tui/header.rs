//! The header: one overview line per server (the selected one marked: it doubles as the
//! server tab bar), the alert summary (red and reversed when anything is critical, to be seen
//! across the room) with the time of the last sample, and small text sparklines.

use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::panels::history::{SERIES, label, spark_text};
use super::panels::{age_s, clock, through_pooler};
use super::text;
use super::theme::Theme;
use crate::model::alerts::Subject;
use crate::model::{Link, ServerState, Severity, Store, format_count, format_duration_s};
use crate::sample::Rule;
use crate::sample::{CollectError, ErrorKind};

/// The short version: `15.18` from `15.18 (Debian ...)`, else from `server_version_num`.
pub fn short_version(server: &ServerState) -> Option<String> {
    if let Some(s) = server.server() {
        if let Some(first) = s.server_version.split_whitespace().next() {
            return Some(text::clean(first));
        }
    }
    server.facts.as_ref().map(|f| {
        let n = f.server_version_num;
        format!("{}.{}", n / 10000, n % 10000)
    })
}

/// When the newest sample of any area arrived.
pub fn last_sample(server: &ServerState) -> Option<SystemTime> {
    server.areas.values().filter_map(|a| a.sample_at).max()
}

/// What is wrong when a server's link is down, in capitals for the overview line, by the
/// error's kind (e.g. `TOO MANY CONNECTIONS` for SQLSTATE 53300, `NO ANSWER` for a client-side
/// timeout).
pub fn link_down_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unreachable => "UNREACHABLE",
        ErrorKind::AuthFailed => "AUTH FAILED",
        ErrorKind::NoSuchDatabase => "NO SUCH DATABASE",
        ErrorKind::TooManyConnections => "TOO MANY CONNECTIONS",
        ErrorKind::PermissionDenied => "PERMISSION DENIED",
        ErrorKind::ExtensionMissing => "PG_STAT_STATEMENTS MISSING",
        ErrorKind::NotPreloaded => "PG_STAT_STATEMENTS NOT PRELOADED",
        ErrorKind::StatementTimeout => "QUERY TIMED OUT",
        ErrorKind::LockTimeout => "LOCK TIMEOUT",
        ErrorKind::ClientTimeout => "NO ANSWER",
        ErrorKind::Unsupported | ErrorKind::NeedsNewerServer => "UNSUPPORTED VERSION",
        ErrorKind::Tls => "TLS FAILED",
        ErrorKind::Query | ErrorKind::Decode => "CONNECTION FAILED",
    }
}

/// The text after the server label of a down server: what is wrong ([`link_down_label`]),
/// since when (left out when `room` columns are too few), when the workers reconnect
/// (counted from `now`), and, in what is left of `room`, the fix when one is known, else the
/// server's own text.
fn link_down_text(
    error: &CollectError,
    since: SystemTime,
    next_attempt: SystemTime,
    now: SystemTime,
    room: usize,
) -> String {
    let retry = match next_attempt.duration_since(now) {
        Ok(d) if d.as_secs_f64() >= 0.5 => {
            let secs = d.as_secs_f64().round();
            if secs < 60.0 {
                format!("reconnecting in {}s", secs as u64)
            } else {
                format!("reconnecting in {}", format_duration_s(secs))
            }
        }
        _ => "reconnecting now".to_string(),
    };
    let label = link_down_label(error.kind);
    let long = format!("{label} since {}, {retry}", clock(since));
    // narrow: the cause and the retry matter more than since when
    let head = if text::width(&long) <= room {
        long
    } else {
        format!("{label}, {retry}")
    };
    let detail = error.fix.as_deref().unwrap_or(&error.message);
    // ": " plus at least a few words, or nothing
    let left = room.saturating_sub(text::width(&head) + 2);
    if left < 12 || detail.trim().is_empty() {
        return head;
    }
    format!("{head}: {}", text::one_line(detail, left))
}

/// The overview line of one server; its newest sample counts as stale after `stale_after`.
pub fn overview_line(
    index: usize,
    server: &ServerState,
    selected: bool,
    theme: Theme,
    now: SystemTime,
    stale_after: std::time::Duration,
) -> Line<'static> {
    overview_line_in(index, server, selected, theme, now, stale_after, 120)
}

/// [`overview_line`] fitted to `width` columns: the explanation of a down server gets what is
/// left of them.
pub fn overview_line_in(
    index: usize,
    server: &ServerState,
    selected: bool,
    theme: Theme,
    now: SystemTime,
    stale_after: std::time::Duration,
    width: u16,
) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = vec![server_label(index, server, selected, theme)];
    match &server.link {
        Link::Down {
            since,
            next_attempt,
            error,
        } => {
            let room = (width as usize).saturating_sub(spans.iter().map(|s| s.width()).sum());
            spans.push(Span::styled(
                link_down_text(error, *since, *next_attempt, now, room),
                theme.severity(Some(Severity::Critical)),
            ));
            return Line::from(spans);
        }
        Link::Connecting { since } if server.facts.is_none() => {
            spans.push(Span::styled(
                format!("connecting (since {})…", clock(*since)),
                theme.dim(),
            ));
            return Line::from(spans);
        }
        _ => {}
    }
    spans.extend(identity_spans(server, theme));
    spans.extend(vital_spans(server, theme));
    spans.extend(alert_count_spans(server, theme));
    spans.extend(last_sample_spans(server, theme, now, stale_after));
    Line::from(spans)
}

/// `▶1 label `: the server's number and label, reversed when it is the one shown.
fn server_label(index: usize, server: &ServerState, selected: bool, theme: Theme) -> Span<'static> {
    let marker = if selected { "▶" } else { " " };
    let label_style = if selected {
        theme.active_tab()
    } else {
        Style::default()
    };
    Span::styled(
        format!(
            "{marker}{} {} ",
            index + 1,
            text::one_line(&server.label, 40)
        ),
        label_style,
    )
}

/// Role and version, `via pooler`, uptime.
fn identity_spans(server: &ServerState, theme: Theme) -> Vec<Span<'static>> {
    let role = match server.role() {
        Some(crate::sample::ServerRole::Primary) => "primary ",
        Some(crate::sample::ServerRole::Standby) => "standby ",
        None => "",
    };
    let mut spans = vec![Span::raw(format!(
        "{role}{}",
        short_version(server).unwrap_or_default()
    ))];
    if through_pooler(server) {
        spans.push(Span::styled(" via pooler", theme.dim()));
    }
    if let Some(s) = server.server() {
        spans.push(Span::raw(format!(" up {}", format_duration_s(s.uptime_s))));
    }
    spans
}

/// The worst active alert of the rules `rule` accepts.
fn worst_of(server: &ServerState, rule: impl Fn(Rule) -> bool) -> Option<Severity> {
    server
        .alerts
        .active
        .values()
        .filter(|a| rule(a.alert.rule))
        .map(|a| a.alert.severity)
        .max()
}

/// Connections, transactions/s, cache hit ratio, worst replication lag and xid age, each in
/// the style of its alerts.
fn vital_spans(server: &ServerState, theme: Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if let Some(a) = server.activity() {
        let sev = server
            .alerts
            .severity_of(Rule::Connections, &Subject::Server);
        spans.push(Span::styled(
            format!(" conn {}/{}", a.client_backends, a.usable_connections),
            theme.severity(sev),
        ));
    }
    if let Some(x) = server.server().and_then(|s| s.xact_per_s) {
        spans.push(Span::raw(format!(" {} xact/s", format_count(x))));
    }
    if let Some((ratio, _)) = server.interval_hit_ratio() {
        let sev = worst_of(server, |r| r == Rule::CacheHitRatio);
        spans.push(Span::styled(
            format!(" hit {:.1}%", ratio * 100.0),
            theme.severity(sev),
        ));
    }
    if let Some(lag) = server.worst_replay_lag_bytes() {
        let sev = worst_of(server, |r| {
            matches!(r, Rule::ReplicationLagBytes | Rule::ReplicationLagTime)
        });
        spans.push(Span::styled(
            format!(" lag {}", crate::model::format_bytes(lag as f64)),
            theme.severity(sev),
        ));
    }
    if let Some((db, age, pct)) = server.worst_xid_age() {
        let sev = server
            .alerts
            .severity_of(Rule::XidAge, &Subject::Database(db.to_string()));
        spans.push(Span::styled(
            format!(" xid age {} ({pct:.1}%)", format_count(age as f64)),
            theme.severity(sev),
        ));
    }
    spans
}

/// ` 2 critical 1 warning`, each left out at zero.
fn alert_count_spans(server: &ServerState, theme: Theme) -> Vec<Span<'static>> {
    let (w, c) = server.alerts.counts();
    let mut spans = Vec::new();
    if c > 0 {
        spans.push(Span::styled(
            format!(" {c} critical"),
            theme.severity(Some(Severity::Critical)),
        ));
    }
    if w > 0 {
        spans.push(Span::styled(
            format!(" {w} warning"),
            theme.severity(Some(Severity::Warning)),
        ));
    }
    spans
}

/// ` · 12:00:01 UTC`, the time of the newest sample, and how stale it is past `stale_after`.
fn last_sample_spans(
    server: &ServerState,
    theme: Theme,
    now: SystemTime,
    stale_after: std::time::Duration,
) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if let Some(at) = last_sample(server) {
        let age = age_s(now, at);
        spans.push(Span::styled(format!(" · {}", clock(at)), theme.dim()));
        if age > stale_after.as_secs_f64() {
            spans.push(Span::styled(
                format!(" stale {}", format_duration_s(age.round())),
                theme.problem(),
            ));
        }
    }
    spans
}

/// How many lines the header takes for `servers` servers in `height` rows, plus one for the
/// connection warnings when there are any (`warnings`) and the screen has 12 rows or more.
pub fn height(servers: usize, height: u16, warnings: bool) -> u16 {
    let overview = servers.clamp(1, 5) as u16;
    let warning_line = u16::from(warnings);
    if height < 12 {
        1
    } else if height < 20 {
        overview + 1 + warning_line
    } else {
        overview + 2 + warning_line
    }
}

/// The first connection warning of the selected server (else of any server), as one line:
/// `⚠ host:5432/db: password file "…" has group or world access: ignored; … (+1 more)`.
pub fn connection_warning_line(store: &Store, selected: usize, width: u16) -> Option<String> {
    let server = store
        .servers
        .get(selected)
        .filter(|s| !s.connection_warnings.is_empty())
        .or_else(|| {
            store
                .servers
                .iter()
                .find(|s| !s.connection_warnings.is_empty())
        })?;
    let first = server.connection_warnings.first()?;
    let more = match server.connection_warnings.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    let who = if store.servers.len() > 1 {
        format!("{}: ", server.label)
    } else {
        String::new()
    };
    let room = usize::from(width).saturating_sub(text::width(&more) + 3);
    Some(format!(
        " ⚠ {}{more}",
        text::one_line(&format!("{who}{first}"), room)
    ))
}

/// The header widget.
pub struct Header<'a> {
    pub store: &'a Store,
    /// Index of the server shown (marked, and kept visible among the overview lines).
    pub selected: usize,
    pub theme: Theme,
    /// The poll interval, shown after the alert summary.
    pub interval: std::time::Duration,
    pub paused: bool,
    pub now: SystemTime,
}

impl Header<'_> {
    /// The alert summary line: counts and the worst alert, then the interval and the pause.
    fn summary(&self) -> Line<'static> {
        let theme = self.theme;
        let n = self.store.servers.len();
        let (warn, crit) = self.store.alert_counts();
        let style = if crit > 0 {
            theme.alarm()
        } else if warn > 0 {
            theme.caution()
        } else {
            theme.ok()
        };
        let worst = self
            .store
            .servers
            .iter()
            .flat_map(|s| s.alerts.sorted().into_iter().take(1).map(move |a| (s, a)))
            .max_by_key(|(_, a)| a.alert.severity);
        let text_ = if crit + warn == 0 {
            "no alerts".to_string()
        } else {
            let first = worst
                .map(|(s, a)| {
                    let who = if n > 1 && !a.alert.message.contains(&s.label) {
                        format!("{}: ", text::clean(&s.label))
                    } else {
                        String::new()
                    };
                    format!(" · {who}{}", text::clean(&a.alert.message))
                })
                .unwrap_or_default();
            format!("{crit} CRITICAL, {warn} warning{first}")
        };
        let mut right = format!(" every {}", humantime::format_duration(self.interval));
        if self.paused {
            right.push_str(" · PAUSED");
        }
        let mut spans = vec![Span::styled(format!(" {text_} "), style), Span::raw(right)];
        if let Some(rec) = &self.store.recording {
            let state = rec.get();
            spans.push(Span::raw(" · "));
            match state.error {
                None => spans.push(Span::styled("● REC", theme.alarm())),
                Some(e) => spans.push(Span::styled(
                    format!("REC STOPPED: {}", text::clean(&e)),
                    theme.caution(),
                )),
            }
        }
        Line::from(spans)
    }

    /// The overview lines of at most `room` servers, the selected one among them.
    fn overview(&self, room: usize, width: u16) -> Vec<Line<'static>> {
        let servers = self.store.servers.iter().enumerate();
        // keep the selected server visible when there are more than fit
        let skip = self.selected.saturating_sub(room.saturating_sub(1));
        servers
            .skip(skip)
            .take(room)
            .map(|(i, s)| {
                overview_line_in(
                    i,
                    s,
                    i == self.selected,
                    self.theme,
                    self.now,
                    self.store.max_age(crate::sample::Area::Activity),
                    width,
                )
            })
            .collect()
    }

    /// The selected server's sparklines on one line, a quarter of `width` each.
    fn sparklines(&self, server: &ServerState, width: u16) -> Line<'static> {
        let theme = self.theme;
        let mut spans = Vec::new();
        let each = (width as usize / 4).saturating_sub(2).max(8);
        for (series, title) in SERIES {
            let last = server
                .history
                .last(series)
                .map_or("-".into(), |v| label(series, v));
            let short = title.split(' ').next().unwrap_or(title);
            let head = format!("{short} {last} ");
            let room = each.saturating_sub(text::width(&head)).min(30);
            let values = server.history.recent(series, room);
            spans.push(Span::styled(head, theme.dim()));
            spans.push(Span::styled(spark_text(series, &values, room), theme.ok()));
            spans.push(Span::raw("  "));
        }
        Line::from(spans)
    }
}

impl Widget for Header<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        // the alert summary line, first when space is short
        let summary = self.summary();
        let h = rect.height;
        if h == 0 {
            return;
        }
        if h == 1 {
            Paragraph::new(summary).render(rect, buf);
            return;
        }
        let mut lines = self.overview((h - 1).min(5) as usize, rect.width);
        if let Some(warning) = connection_warning_line(self.store, self.selected, rect.width) {
            if (lines.len() as u16) + 1 < h {
                lines.push(Line::from(Span::styled(warning, self.theme.caution())));
            }
        }
        lines.push(summary);
        if (lines.len() as u16) < h {
            if let Some(server) = self.store.servers.get(self.selected) {
                lines.push(self.sparklines(server, rect.width));
            }
        }
        Paragraph::new(lines).render(rect, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn link_down_text_names_the_kind_the_retry_and_the_fix_where_it_fits() {
        let full = CollectError {
            kind: ErrorKind::TooManyConnections,
            sqlstate: Some("53300".into()),
            message: "sorry, too many clients already".into(),
            fix: Some("free a connection, or give the monitoring role a reserved slot".into()),
            retry_in_s: None,
        };
        assert_eq!(
            link_down_text(&full, at(0), at(10), at(3), 200),
            "TOO MANY CONNECTIONS since 22:13:20 UTC, reconnecting in 7s: free a connection, \
             or give the monitoring role a reserved slot"
        );
        // narrow: the fix is cut with an ellipsis, then left out; the label always stays
        let cut = link_down_text(&full, at(0), at(10), at(3), 80);
        assert!(
            cut.starts_with("TOO MANY CONNECTIONS since 22:13:20 UTC, reconnecting in 7s: free a")
                && cut.ends_with('…'),
            "{cut}"
        );
        assert!(text::width(&cut) <= 80, "{cut}");
        assert_eq!(
            link_down_text(&full, at(0), at(10), at(3), 59),
            "TOO MANY CONNECTIONS since 22:13:20 UTC, reconnecting in 7s"
        );
        assert_eq!(
            link_down_text(&full, at(0), at(10), at(3), 55),
            "TOO MANY CONNECTIONS, reconnecting in 7s: free a conne…"
        );
        assert_eq!(
            link_down_text(&full, at(0), at(10), at(3), 40),
            "TOO MANY CONNECTIONS, reconnecting in 7s"
        );
        // no fix: the server's text; the retry time has passed: reconnecting now
        let refused = CollectError::new(ErrorKind::Unreachable, "connection refused");
        assert_eq!(
            link_down_text(&refused, at(0), at(2), at(3), 200),
            "UNREACHABLE since 22:13:20 UTC, reconnecting now: connection refused"
        );
        let slow = CollectError::new(ErrorKind::ClientTimeout, "timed out");
        assert!(
            link_down_text(&slow, at(0), at(93), at(3), 200)
                .starts_with("NO ANSWER since 22:13:20 UTC, reconnecting in 1m30s: timed out"),
        );
        assert_eq!(link_down_label(ErrorKind::AuthFailed), "AUTH FAILED");
    }
}
