//! The detail view (Enter): a session's whole row, what it blocks and what blocks it, or a
//! statement's counters and rates; then the full query text, sanitized and wrapped.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::panels::statements::ms;
use super::panels::{View, bytes, dur, rate};
use super::state::Detail;
use super::text;
use super::theme::Theme;
use crate::model::format_count;
use crate::sample::{OptF32, OptF64, OptI64, Session, Statement};

/// Query texts longer than this are cut in the detail view (bytes).
pub const MAX_DETAIL_TEXT: usize = 64 * 1024;

/// A rectangle of `pct_w` × `pct_h` percent centred in `r`.
pub fn centered(r: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let w = (r.width as u32 * pct_w as u32 / 100) as u16;
    let h = (r.height as u32 * pct_h as u32 / 100) as u16;
    Rect {
        x: r.x + (r.width - w) / 2,
        y: r.y + (r.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The width of the keys (right-aligned): the longest, `shared_blk_write_time`.
const KEY_WIDTH: usize = 21;

fn kv(theme: Theme, k: &str, v: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:>KEY_WIDTH$}: "), theme.heading()),
        Span::raw(v),
    ])
}

/// The `key: value` lines of [`kv`] wrapped beside their key (a hanging indent) in `width`
/// columns; every other line as it is (the paragraph wraps those).
fn hang_values(lines: Vec<Line<'static>>, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let key_cols = KEY_WIDTH + 2;
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let is_kv = line.spans.len() == 2
            && line.spans[0].content.ends_with(": ")
            && text::width(&line.spans[0].content) == key_cols;
        let indent = " ".repeat(key_cols);
        let indented = line.spans.len() == 1 && line.spans[0].content.starts_with(&indent);
        if indented {
            // a note under the values: wrapped in their column, in its own style
            let style = line.spans[0].style;
            let rest = line.spans[0].content[key_cols..].to_string();
            for mut l in super::panels::hanging("", &rest, KEY_WIDTH + 1, 1, width, style) {
                for span in &mut l.spans {
                    span.style = style;
                }
                out.push(l);
            }
            continue;
        }
        if !is_kv {
            out.push(line);
            continue;
        }
        let key = line.spans[0]
            .content
            .trim_end_matches(": ")
            .trim_start()
            .to_owned();
        let value = line.spans[1].content.to_string();
        let mut wrapped = super::panels::hanging(
            &format!("{key}:"),
            &value,
            KEY_WIDTH + 1,
            1,
            width,
            theme.heading(),
        );
        if wrapped.len() > 1 || !value.is_empty() {
            out.append(&mut wrapped);
        } else {
            out.push(line);
        }
    }
    out
}

/// The full text of a query, sanitized, cut at [`MAX_DETAIL_TEXT`] with a note.
pub fn full_text(q: &str) -> Vec<Line<'static>> {
    let (cut, rest) = if q.len() > MAX_DETAIL_TEXT {
        let mut end = MAX_DETAIL_TEXT;
        while !q.is_char_boundary(end) {
            end -= 1;
        }
        (&q[..end], q.len() - end)
    } else {
        (q, 0)
    };
    let mut lines: Vec<Line<'static>> = text::sanitize(cut)
        .split('\n')
        .map(|l| Line::from(l.to_string()))
        .collect();
    if rest > 0 {
        lines.push(Line::from(format!(
            "… ({} more not shown)",
            crate::model::format_bytes(rest as f64)
        )));
    }
    lines
}

fn session_lines(v: &View<'_>, s: &Session, gone: bool) -> Vec<Line<'static>> {
    let theme = v.theme();
    let c = |o: &Option<String>| o.as_deref().map_or("-".into(), text::clean);
    let mut lines = Vec::new();
    if gone {
        lines.push(Line::from(Span::styled(
            "this session is gone: showing it as it was",
            theme.problem(),
        )));
    }
    lines.extend([
        kv(theme, "pid", s.pid.to_string()),
        kv(
            theme,
            "user@database",
            format!("{}@{}", c(&s.usename), c(&s.datname)),
        ),
        kv(theme, "state", c(&s.state)),
        kv(
            theme,
            "wait_event",
            format!("{} {}", c(&s.wait_event_type), c(&s.wait_event)),
        ),
        kv(
            theme,
            "query age",
            format!(
                "{} · transaction age {}",
                dur(s.query_age_s.get()),
                dur(s.xact_age_s.get())
            ),
        ),
        kv(theme, "query_id", query_id_text(v, s)),
    ]);
    lines.extend(blocking_lines(v, s));
    lines.push(kv(
        theme,
        "more",
        format!(
            "application_name {} · client {} · {} · backend age {} · state age {} · backend_xid age {} · backend_xmin age {}",
            text::clean(&s.application_name),
            c(&s.client_addr),
            text::clean(&s.backend_type),
            dur(s.backend_age_s.get()),
            dur(s.state_age_s.get()),
            s.backend_xid_age
                .get()
                .map_or("-".into(), |x| format_count(x as f64)),
            s.backend_xmin_age
                .get()
                .map_or("-".into(), |x| format_count(x as f64)),
        ),
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("query:", theme.heading())));
    lines.extend(full_text(&s.query));
    lines
}

/// The session's `query_id` and, when pg_stat_statements has the entry (same queryid and
/// database; the same role and top level first), its means and calls per second; why there
/// is none before PostgreSQL 14.
fn query_id_text(v: &View<'_>, s: &Session) -> String {
    let Some(id) = s.query_id.get() else {
        let major = v.server.facts.as_ref().map(|f| f.major());
        return if major.is_some_and(|m| m < 14) {
            "- (PostgreSQL 14+)".into()
        } else {
            "-".into()
        };
    };
    let entry = v.server.statements().and_then(|st| {
        st.statements
            .iter()
            .filter(|x| x.queryid == id && x.datname.as_deref() == s.datname.as_deref())
            .max_by_key(|x| (x.usename.as_deref() == s.usename.as_deref(), x.toplevel))
    });
    match entry {
        Some(e) => format!(
            "{id} (pg_stat_statements: mean {} over the interval, {} lifetime, {})",
            ms(e.interval_mean_exec_time_ms.get()),
            ms(Some(e.mean_exec_time_ms)),
            e.calls_per_s.get().map_or_else(
                || "- calls/s".into(),
                |c| format!("{} calls/s", format_count(c))
            )
        ),
        None => id.to_string(),
    }
}

/// Who blocks the session and whom it blocks, one line per session (described from the
/// view's activity sample when it is there).
fn blocking_lines(v: &View<'_>, s: &Session) -> Vec<Line<'static>> {
    let theme = v.theme();
    let sessions = v
        .server
        .activity()
        .map(|a| a.sessions.as_slice())
        .unwrap_or(&[]);
    let describe = |pid: i32| match sessions.iter().find(|x| x.pid == pid) {
        Some(x) => text::one_line(
            &format!(
                "pid {pid} {} {} {}: {}",
                super::panels::activity::who(x),
                super::panels::activity::short_state(x.state.as_deref()),
                dur(x.query_age_s.get()),
                x.query
            ),
            200,
        ),
        None => format!("pid {pid} (not in pg_stat_activity)"),
    };
    let mut lines = Vec::new();
    if s.blocked_by.is_empty() {
        lines.push(kv(theme, "blocked by", "nobody".into()));
    } else {
        lines.push(kv(theme, "blocked by", String::new()));
        for b in &s.blocked_by {
            lines.push(Line::from(Span::styled(
                format!("    {}", describe(*b)),
                theme.problem(),
            )));
        }
    }
    let blocks: Vec<i32> = sessions
        .iter()
        .filter(|x| x.blocked_by.contains(&s.pid))
        .map(|x| x.pid)
        .collect();
    if blocks.is_empty() {
        lines.push(kv(theme, "blocks", "nobody".into()));
    } else {
        lines.push(kv(theme, "blocks", format!("{} session(s)", blocks.len())));
        for b in blocks {
            lines.push(Line::from(format!("    {}", describe(b))));
        }
    }
    lines
}

/// A lifetime counter with its rate: `1.2k (3.4/s)`.
fn count_and_rate(count: i64, per_s: Option<f64>) -> String {
    format!("{} ({})", format_count(count as f64), rate(per_s))
}

fn statement_lines(v: &View<'_>, s: &Statement, gone: bool) -> Vec<Line<'static>> {
    let theme = v.theme();
    let c = |o: &Option<Arc<str>>| o.as_deref().map_or("-".into(), text::clean);
    let mut lines = Vec::new();
    if gone {
        lines.push(Line::from(Span::styled(
            "this entry is gone from pg_stat_statements: showing it as it was",
            theme.problem(),
        )));
    }
    lines.extend([
        kv(theme, "queryid", s.queryid.to_string()),
        kv(theme, "user", c(&s.usename)),
        kv(theme, "database", c(&s.datname)),
        kv(theme, "toplevel", s.toplevel.to_string()),
        kv(theme, "calls", count_and_rate(s.calls, s.calls_per_s.get())),
    ]);
    lines.extend(statement_time_lines(theme, s));
    let mut waits = vec![Span::styled(
        format!("{:>KEY_WIDTH$}: ", "waits"),
        theme.heading(),
    )];
    waits.extend(super::panels::waits::statement_line(v, s.queryid, 200).spans);
    lines.push(Line::from(waits));
    lines.extend([
        kv(theme, "rows", count_and_rate(s.rows, s.rows_per_s.get())),
        kv(
            theme,
            "shared_blks_hit",
            count_and_rate(s.shared_blks_hit, s.shared_blks_hit_per_s.get()),
        ),
        kv(
            theme,
            "shared_blks_read",
            count_and_rate(s.shared_blks_read, s.shared_blks_read_per_s.get()),
        ),
        kv(
            theme,
            "temp_blks_written",
            count_and_rate(s.temp_blks_written, s.temp_blks_written_per_s.get()),
        ),
        kv(
            theme,
            "temp read",
            bytes(
                v.server
                    .facts
                    .as_ref()
                    .map(|f| s.temp_blks_read * i64::from(f.block_size)),
            ),
        ),
    ]);
    lines.extend(statement_io_lines(v, s));
    lines.extend([
        Line::from(""),
        Line::from(Span::styled("query:", theme.heading())),
    ]);
    match &s.query {
        Some(q) => lines.extend(full_text(q)),
        None => lines.push(Line::from("(text not fetched yet)")),
    }
    lines
}

/// Execution time (total, per second), mean execution time (lifetime, interval), planning.
fn statement_time_lines(theme: Theme, s: &Statement) -> [Line<'static>; 3] {
    [
        kv(
            theme,
            "exec time",
            format!(
                "{} total, {} per second of wall time",
                ms(Some(s.total_exec_time_ms)),
                ms(s.exec_time_ms_per_s.get())
            ),
        ),
        kv(
            theme,
            "mean exec time",
            format!(
                "{} lifetime, {} over the interval",
                ms(Some(s.mean_exec_time_ms)),
                ms(s.interval_mean_exec_time_ms.get())
            ),
        ),
        kv(
            theme,
            "plan time",
            time_and_rate(s.total_plan_time_ms, s.plan_time_ms_per_s, "1.8"),
        ),
    ]
}

/// A time counter (milliseconds) with its rate: `1.2s total, 3ms/s`; what is missing when
/// the extension version lacks the column (`since`: the first version that has it).
fn time_and_rate(total: OptF64, per_s: OptF32, since: &str) -> String {
    let per_s = per_s.get();
    match total.get() {
        Some(t) => format!(
            "{} total, {}",
            ms(Some(t)),
            super::panels::statements::ms_per_s(per_s)
        ),
        None => format!("- (pg_stat_statements {since}+)"),
    }
}

/// An optional counter with its rate, or what is missing (like [`time_and_rate`]).
fn opt_count_and_rate(count: OptI64, per_s: OptF32, since: &str) -> String {
    match count.get() {
        Some(c) => count_and_rate(c, per_s.get()),
        None => format!("- (pg_stat_statements {since}+)"),
    }
}

/// I/O timing (shared and temporary blocks; the fix when `track_io_timing` is off), WAL and
/// JIT, each with its rate over the interval.
fn statement_io_lines(v: &View<'_>, s: &Statement) -> Vec<Line<'static>> {
    let theme = v.theme();
    let mut lines = vec![
        kv(
            theme,
            "shared_blk_read_time",
            time_and_rate(
                s.shared_blk_read_time_ms,
                s.shared_blk_read_time_ms_per_s,
                "1.4",
            ),
        ),
        kv(
            theme,
            "shared_blk_write_time",
            time_and_rate(
                s.shared_blk_write_time_ms,
                s.shared_blk_write_time_ms_per_s,
                "1.4",
            ),
        ),
        kv(
            theme,
            "temp_blk_read_time",
            time_and_rate(
                s.temp_blk_read_time_ms,
                s.temp_blk_read_time_ms_per_s,
                "1.10",
            ),
        ),
        kv(
            theme,
            "temp_blk_write_time",
            time_and_rate(
                s.temp_blk_write_time_ms,
                s.temp_blk_write_time_ms_per_s,
                "1.10",
            ),
        ),
    ];
    if super::panels::statements::io_timing_off(v.server) {
        lines.push(Line::from(Span::styled(
            format!(
                "{:>KEY_WIDTH$}  {}",
                "",
                super::panels::statements::io_timing_note(usize::MAX)
            ),
            theme.problem(),
        )));
    }
    let wal_bytes = match s.wal_bytes.get() {
        Some(b) => format!(
            "{} ({})",
            crate::model::format_bytes(b as f64),
            super::panels::statements::bytes_per_s(s.wal_bytes_per_s.get())
        ),
        None => "- (pg_stat_statements 1.8+)".into(),
    };
    lines.extend([
        kv(theme, "wal_bytes", wal_bytes),
        kv(
            theme,
            "wal_records",
            opt_count_and_rate(s.wal_records, s.wal_records_per_s, "1.8"),
        ),
        kv(
            theme,
            "wal_fpi",
            opt_count_and_rate(s.wal_fpi, s.wal_fpi_per_s, "1.8"),
        ),
        kv(
            theme,
            "jit time",
            time_and_rate(s.jit_time_ms, s.jit_time_ms_per_s, "1.10"),
        ),
    ]);
    lines
}

/// The detail popup.
pub struct DetailView<'a> {
    pub view: View<'a>,
    pub detail: &'a Detail,
    pub scroll: u16,
    /// Cancel/terminate are offered: the bottom line names their keys.
    pub actions_enabled: bool,
    /// The plan `e` asked for: (queryid, lines), shown under that statement.
    pub plan: Option<&'a (i64, Vec<String>)>,
}

impl Widget for DetailView<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let (title, lines) = match self.detail {
            Detail::Session { session, .. } => {
                let live = v
                    .server
                    .activity()
                    // the same backend: a later one with the same pid is another session
                    .and_then(|a| {
                        a.sessions.iter().find(|s| {
                            (s.pid, s.backend_start) == (session.pid, session.backend_start)
                        })
                    });
                (
                    format!(" Session {} ", session.pid),
                    session_lines(v, live.unwrap_or(session), live.is_none()),
                )
            }
            Detail::Statement { statement, .. } => {
                let live = v
                    .server
                    .statements()
                    .and_then(|st| st.find(&statement.key()));
                let mut lines = statement_lines(v, live.unwrap_or(statement), live.is_none());
                match self.plan.filter(|(q, _)| *q == statement.queryid) {
                    Some((_, plan)) => {
                        lines.push(Line::from(""));
                        lines.extend(
                            plan.iter()
                                .map(|l| Line::from(Span::raw(crate::tui::text::sanitize(l)))),
                        );
                    }
                    None => {
                        lines.push(Line::from(""));
                        lines.push(Line::from(Span::styled(
                            "e: its plan (EXPLAIN, never executed)",
                            v.theme().dim(),
                        )));
                    }
                }
                (format!(" Statement {} ", statement.queryid), lines)
            }
        };
        // small terminals: the whole body
        let area = if rect.width < 100 || rect.height < 30 {
            rect
        } else {
            centered(rect, 90, 90)
        };
        Clear.render(area, buf);
        let lines = hang_values(lines, usize::from(area.width.saturating_sub(2)), v.theme());
        let hint = match (self.detail, self.actions_enabled) {
            (Detail::Statement { .. }, _) => " Esc close · ↑↓ PgUp PgDn scroll · y copy · e plan ",
            (_, true) => " Esc close · ↑↓ PgUp PgDn scroll · y copy · c cancel · k terminate ",
            (_, false) => " Esc close · ↑↓ PgUp PgDn scroll · y copy ",
        };
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(title, v.theme().heading()))
                    .title_bottom(hint),
            )
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0))
            .render(area, buf);
    }
}
