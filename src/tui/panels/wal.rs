//! WAL, checkpoints and archiving: how much WAL is written (a sparkline of the last minutes),
//! whether checkpoints come on schedule or are forced by `max_wal_size`, and whether the
//! archiver keeps up — a failing archive_command piles WAL up until the disk is full.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::history::spark_text;
use super::{View, ago, frame};
use crate::model::areas::wal::{WAL_BYTES_PER_S, sample};
use crate::model::{format_bytes, format_count, format_duration_s};
use crate::sample::{Area, Rule, WalSample};
use crate::tui::text;

/// The WAL panel.
pub struct WalPanel<'a> {
    pub view: View<'a>,
}

impl Widget for WalPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let area = Area::Wal;
        let Some(inner) = frame(area.title(false), v, area, rect, buf) else {
            return;
        };
        let Some(w) = sample(v.server) else {
            return;
        };
        let mut lines = wal_lines(v, w, inner.width);
        lines.push(Line::from(""));
        lines.extend(checkpoint_lines(v, w));
        lines.push(Line::from(""));
        lines.extend(archiver_lines(v, w));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(inner, buf);
    }
}

fn per_s(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{}/s", format_count(x)))
}

/// The WAL rate with its sparkline, records and full-page images per second, the position.
fn wal_lines(v: &View<'_>, w: &WalSample, width: u16) -> Vec<Line<'static>> {
    let theme = v.theme();
    let rate = w
        .wal_bytes_per_s
        .map_or_else(|| "-".into(), |b| format!("{}/s", format_bytes(b)));
    let what = if w.in_recovery {
        "WAL replayed"
    } else {
        "WAL written"
    };
    let room = usize::from(width)
        .saturating_sub(what.len() + rate.len() + 4)
        .min(60);
    let values = v.server.history.recent(WAL_BYTES_PER_S, room);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{what} "), theme.heading()),
        Span::raw(format!("{rate}  ")),
        Span::styled(spark_text(WAL_BYTES_PER_S, &values, room), theme.ok()),
    ])];
    let position = w.wal_lsn.as_deref().map_or("-".into(), text::clean);
    let detail = match (w.wal_records, w.wal_fpi) {
        (Some(_), Some(_)) => format!(
            "records {} · full-page images {} · WAL buffers full {} · position {position}",
            per_s(w.wal_records_per_s),
            per_s(w.wal_fpi_per_s),
            w.wal_buffers_full
                .map_or("-".into(), |n| format_count(n as f64)),
        ),
        // before PostgreSQL 14 there is no pg_stat_wal: the rate is the position's delta
        _ => format!("position {position} (records and full-page images: PostgreSQL 14+)"),
    };
    lines.push(Line::from(Span::styled(detail, theme.dim())));
    lines
}

/// Checkpoints in the last hour (timed vs requested) and their lifetime counters.
fn checkpoint_lines(v: &View<'_>, w: &WalSample) -> Vec<Line<'static>> {
    let theme = v.theme();
    let sev = v.server.alerts.severity_of(
        Rule::CheckpointsRequested,
        &crate::model::alerts::Subject::Server,
    );
    let window = match (
        w.checkpoints_window_s,
        w.checkpoints_timed_in_window,
        w.checkpoints_requested_in_window,
    ) {
        (Some(s), Some(t), Some(r)) => {
            let share = w
                .checkpoints_requested_ratio
                .map_or_else(String::new, |x| format!(" ({:.0}% requested)", x * 100.0));
            format!(
                "last {}: {t} timed, {r} requested{share}",
                format_duration_s(s.round())
            )
        }
        _ => "no window yet (measured over up to an hour)".into(),
    };
    vec![
        Line::from(vec![
            Span::styled("Checkpoints ", theme.heading()),
            Span::styled(window, theme.severity(sev)),
        ]),
        Line::from(Span::styled(
            format!(
                "since the statistics reset: {} timed, {} requested · write {} · sync {} · {} buffers written",
                format_count(w.num_timed as f64),
                format_count(w.num_requested as f64),
                format_duration_s(w.write_time_ms / 1000.0),
                format_duration_s(w.sync_time_ms / 1000.0),
                format_count(w.buffers_written as f64),
            ),
            theme.dim(),
        )),
    ]
}

/// The archiver: whether archiving is on and configured, the last success and failure.
fn archiver_lines(v: &View<'_>, w: &WalSample) -> Vec<Line<'static>> {
    let theme = v.theme();
    let sev = v
        .server
        .alerts
        .severity_of(Rule::ArchiveFailing, &crate::model::alerts::Subject::Server);
    let command = match w.archive_command_set {
        _ if !w.archiving_on() => "archiving off",
        Some(true) => "archive_command set",
        Some(false) if w.archiving_on() => "archive_command EMPTY: WAL is kept until one is set",
        Some(false) => "no archive_command",
        None => "archive_command hidden (GRANT pg_read_all_settings)",
    };
    let mut head = vec![
        Span::styled("Archiver ", theme.heading()),
        Span::raw(format!(
            "archive_mode {} · {command}",
            text::clean(&w.archive_mode)
        )),
    ];
    if w.archive_failing {
        head.push(Span::styled(
            format!(
                "  FAILING: nothing archived for {}",
                format_duration_s(w.last_archived_age_s.unwrap_or(0.0).round())
            ),
            theme.severity(sev.or(Some(crate::model::Severity::Warning))),
        ));
    }
    let since = |t: Option<f64>| t.map(|t| (w.collected_at - t).max(0.0));
    let name = |s: &Option<String>| s.as_deref().map_or("-".into(), text::clean);
    vec![
        Line::from(head),
        Line::from(Span::styled(
            format!(
                "archived {} (last {}, {}) · failed {} (last {}, {})",
                format_count(w.archived_count as f64),
                name(&w.last_archived_wal),
                ago(since(w.last_archived_time)),
                format_count(w.failed_count as f64),
                name(&w.last_failed_wal),
                ago(since(w.last_failed_time)),
            ),
            theme.dim(),
        )),
    ]
}
