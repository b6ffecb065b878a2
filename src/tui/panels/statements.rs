//! Statements: the top pg_stat_statements entries, sortable by rates over the interval
//! (execution time per second, calls, rows and blocks read per second, interval mean) or
//! lifetime values (mean, total time). Rows without a baseline yet show `-` for rates, never
//! the lifetime counter. The rows and their order: [`crate::tui::table::statements`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::{View, ago, frame, note, rate, render_table_window, rest_width, split_top};
use crate::model::format_duration_s;
use crate::sample::Area;
use crate::sample::{Statement, StatementsSample};
use crate::tui::table::{self, TableQuery};
use crate::tui::text;

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
    /// Sort and filter of the statements table.
    pub query: TableQuery<'a>,
    /// Selected row of the statements table.
    pub selected: usize,
}

impl Widget for StatementsPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let title = Area::Statements.title(false);
        let Some(inner) = frame(title, v, Area::Statements, rect, buf) else {
            return;
        };
        let Some(st) = v.server.statements() else {
            return;
        };
        let rest = self.summary_section(st, inner, buf);
        self.statements_table(st, rest, buf);
    }
}

impl StatementsPanel<'_> {
    /// The extension, its entries, reset and evictions, the sort; the sample's notice below.
    /// Returns the space under them.
    fn summary_section(&self, st: &StatementsSample, inner: Rect, buf: &mut Buffer) -> Rect {
        let theme = self.view.theme();
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
        let names = table::STATEMENTS_SORT;
        spans.push(Span::styled(
            format!(
                " · sort {}{}",
                names[self.query.sort % names.len()],
                if self.query.reverse {
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
        rest
    }

    /// The statements table (only the rows on screen are built), or a note when none is
    /// listed.
    fn statements_table(&self, st: &StatementsSample, rest: Rect, buf: &mut Buffer) {
        let theme = self.view.theme();
        let list = table::statements(st, &self.query);
        if list.is_empty() {
            let msg = if self.query.filter.is_empty() {
                "no statements recorded yet".to_string()
            } else {
                format!(
                    "no statement matches the filter {:?}",
                    text::clean(self.query.filter)
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
        let row = |i: usize| Row::new(statement_cells(list[i], wide, qw));
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
            Some(self.selected),
        );
    }
}

/// The cells of one statement: rates and the interval mean; `wide`, also the lifetime mean,
/// total time, calls and user@db; then the query in `qw` columns.
fn statement_cells(s: &Statement, wide: bool, qw: usize) -> Vec<Cell<'static>> {
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
    cells
}
