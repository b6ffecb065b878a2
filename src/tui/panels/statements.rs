//! Statements: the top pg_stat_statements entries, sortable by rates over the interval
//! (execution time per second, calls, rows and blocks read per second, interval mean) or
//! lifetime values (mean, total time). Rows without a baseline yet show `-` for rates, never
//! the lifetime counter.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::{View, ago, frame, note, rate, render_table_window, rest_width, split_top};
use crate::model::format_duration_s;
use crate::sample::Area;
use crate::sample::{Statement, StatementsSample};
use crate::tui::state::{Tab, UiState};
use crate::tui::text;

/// Sort columns, in the order `s` cycles them (the first is the default).
pub const SORT_NAMES: &[&str] = &[
    "time/s",
    "mean (interval)",
    "mean (lifetime)",
    "calls/s",
    "rows/s",
    "reads/s",
    "total time",
];

/// The value a statement is sorted by under sort column `key`; `None` (no baseline yet)
/// sorts last in either direction.
pub fn sort_value(s: &Statement, key: usize) -> Option<f64> {
    match key {
        0 => s.exec_time_ms_per_s,
        1 => s.interval_mean_exec_time_ms,
        2 => Some(s.mean_exec_time_ms),
        3 => s.calls_per_s,
        4 => s.rows_per_s,
        5 => s.shared_blks_read_per_s,
        _ => Some(s.total_exec_time_ms),
    }
}

/// Statements after filter and sort (descending by default, `r` reverses; rows without a
/// value stay last).
pub fn rows<'a>(st: &'a StatementsSample, ui: &UiState) -> Vec<&'a Statement> {
    let key = ui.sort_of(Tab::Statements);
    let rev = ui.reversed(Tab::Statements);
    let mut rows: Vec<&Statement> = st
        .statements
        .iter()
        .filter(|s| {
            ui.matches(&[
                s.query.as_deref().unwrap_or(""),
                s.usename.as_deref().unwrap_or(""),
                s.datname.as_deref().unwrap_or(""),
                &s.queryid.to_string(),
            ])
        })
        .collect();
    rows.sort_by(|a, b| {
        let (va, vb) = (sort_value(a, key), sort_value(b, key));
        match (va, vb) {
            (Some(x), Some(y)) => {
                let o = y.total_cmp(&x);
                if rev { o.reverse() } else { o }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(b.total_exec_time_ms.total_cmp(&a.total_exec_time_ms))
        .then(a.queryid.cmp(&b.queryid))
    });
    rows
}

/// Milliseconds as a duration label.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |m| format_duration_s(m / 1000.0))
}

/// The query text of a statement on one line, or what is known when the text is not yet
/// fetched.
pub fn query_line(s: &Statement, max: usize) -> String {
    match &s.query {
        Some(q) => text::one_line(q, max),
        None => text::truncate(
            &format!("(text not fetched yet) queryid {}", s.queryid),
            max,
        ),
    }
}

/// The statements panel.
pub struct StatementsPanel<'a> {
    pub view: View<'a>,
}

impl Widget for StatementsPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let Some(inner) = frame("Statements", v, Area::Statements, rect, buf) else {
            return;
        };
        let Some(st) = v.server.statements() else {
            return;
        };
        let mut spans = vec![Span::raw(format!(
            "pg_stat_statements {} ({}) · {} entries",
            text::clean(&st.extension_version),
            text::clean(&st.extension_schema),
            st.statements.len()
        ))];
        if let Some(reset) = st.stats_reset {
            spans.push(Span::raw(format!(
                " · reset {}",
                ago(Some((st.collected_at - reset).max(0.0)))
            )));
        }
        if let Some(d) = st.dealloc {
            let style = if d > 0 { theme.problem() } else { theme.dim() };
            spans.push(Span::styled(format!(" · {d} evicted"), style));
        }
        spans.push(Span::styled(
            format!(
                " · sort {}{}",
                SORT_NAMES[v.ui.sort_of(Tab::Statements) % SORT_NAMES.len()],
                if v.ui.reversed(Tab::Statements) {
                    " (reversed)"
                } else {
                    ""
                }
            ),
            theme.dim(),
        ));
        let mut lines = vec![Line::from(spans)];
        if let Some(n) = &st.notice {
            lines.push(Line::from(Span::styled(text::clean(n), theme.problem())));
        }
        let (top, rest) = split_top(inner, lines.len() as u16);
        Paragraph::new(lines).render(top, buf);

        let list = rows(st, v.ui);
        if list.is_empty() {
            let msg = if v.ui.filter.is_empty() {
                "no statements recorded yet".to_string()
            } else {
                format!(
                    "no statement matches the filter {:?}",
                    text::clean(&v.ui.filter)
                )
            };
            note(rest, buf, msg, theme.dim());
            return;
        }
        let wide = rest.width >= 140;
        let mut header: Vec<String> = ["time/s", "calls/s", "mean", "rows/s", "reads/s"]
            .into_iter()
            .map(String::from)
            .collect();
        let mut fixed: Vec<u16> = vec![9, 8, 8, 8, 8];
        if wide {
            header.extend(["mean life", "total", "calls", "user@db"].map(String::from));
            fixed.extend([9, 8, 8, 18]);
        }
        header.push("query".into());
        let qw = rest_width(rest.width, &fixed);
        let row = |i: usize| {
            let s = list[i];
            {
                let mut cells = vec![
                    Cell::from(s.exec_time_ms_per_s.map_or_else(
                        || "-".into(),
                        |m| format!("{}/s", format_duration_s(m / 1000.0)),
                    )),
                    Cell::from(rate(s.calls_per_s)),
                    Cell::from(ms(s.interval_mean_exec_time_ms)),
                    Cell::from(rate(s.rows_per_s)),
                    Cell::from(rate(s.shared_blks_read_per_s)),
                ];
                if wide {
                    cells.push(Cell::from(ms(Some(s.mean_exec_time_ms))));
                    cells.push(Cell::from(ms(Some(s.total_exec_time_ms))));
                    cells.push(Cell::from(crate::model::format_count(s.calls as f64)));
                    cells.push(Cell::from(text::one_line(
                        &format!(
                            "{}@{}",
                            s.usename.as_deref().unwrap_or("?"),
                            s.datname.as_deref().unwrap_or("?")
                        ),
                        18,
                    )));
                }
                cells.push(Cell::from(query_line(s, qw)));
                Row::new(cells)
            }
        };
        let mut widths: Vec<Constraint> = fixed.iter().map(|w| Constraint::Length(*w)).collect();
        widths.push(Constraint::Fill(1));
        render_table_window(
            rest,
            buf,
            theme,
            header,
            list.len(),
            row,
            widths,
            Some(v.ui.selected[Tab::Statements.index()]),
        );
    }
}
