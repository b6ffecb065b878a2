//! Unused indexes: never scanned since the statistics were reset, with their sizes and how
//! old the statistics are (young statistics make a weekly-used index look unused).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::{View, bytes, frame, note, render_table, rest_width, split_top};
use crate::sample::Area;
use crate::sample::{UnusedIndex, UnusedIndexesSample};
use crate::tui::table::{self, TableQuery};
use crate::tui::text;
use crate::tui::theme::Theme;

/// Statistics younger than this make the list doubtful (seconds: 7 days).
pub const YOUNG_STATS_S: f64 = 7.0 * 86_400.0;

/// The unused indexes panel.
pub struct UnusedIndexesPanel<'a> {
    pub view: View<'a>,
    /// Sort and filter of the indexes table.
    pub query: TableQuery<'a>,
    /// Selected row of the indexes table.
    pub selected: usize,
}

impl Widget for UnusedIndexesPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let area = Area::UnusedIndexes;
        let Some(inner) = frame(area.title(false), v, area, rect, buf) else {
            return;
        };
        let Some(u) = v.server.unused_indexes() else {
            return;
        };
        let lines = summary_lines(v, u);
        let (top, rest) = split_top(inner, lines.len() as u16);
        Paragraph::new(lines).render(top, buf);
        self.indexes_table(u, rest, buf);
    }
}

/// The count and size of the unused indexes, how old the statistics are (with a warning
/// when they are too young to trust), the relations skipped.
fn summary_lines(v: &View<'_>, u: &UnusedIndexesSample) -> Vec<Line<'static>> {
    let theme = v.theme();
    let stats_age = u
        .stats_reset_age_s
        .or_else(|| v.server.server().map(|s| s.uptime_s));
    let since = match u.stats_reset_age_s {
        Some(a) => format!("statistics reset {}", super::ago(Some(a))),
        None => match v.server.server() {
            Some(s) => format!(
                "statistics never reset: as old as the server (up {})",
                crate::model::format_duration_s(s.uptime_s)
            ),
            None => "statistics never reset".into(),
        },
    };
    let listed = if (u.indexes.len() as i64) < u.indexes_total {
        format!(" ({} largest listed)", u.indexes.len())
    } else {
        String::new()
    };
    let mut lines = vec![
        Line::from(format!(
            "{} unused index(es), about {} in all{listed}",
            u.indexes_total,
            crate::model::format_bytes(u.index_size_bytes_total as f64),
        )),
        Line::from(since),
    ];
    if stats_age.is_some_and(|a| a < YOUNG_STATS_S) {
        lines.push(Line::from(Span::styled(
            "statistics are younger than 7 days: an index used weekly or monthly may look unused",
            theme.problem(),
        )));
    }
    if u.skipped_locked > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "{} index(es) not listed: someone holds an ACCESS EXCLUSIVE lock on them or their table",
                u.skipped_locked
            ),
            theme.dim(),
        )));
    }
    lines
}

/// The cells of one index; its name gets `iw` columns, its table `tw`.
fn index_row(i: &UnusedIndex, iw: usize, tw: usize, theme: Theme) -> Row<'static> {
    let row = Row::new(vec![
        Cell::from(bytes(Some(i.index_size_bytes))),
        Cell::from(bytes(Some(i.table_size_bytes))),
        Cell::from(i.idx_scan.to_string()),
        Cell::from(if i.is_valid { "valid" } else { "INVALID" }),
        Cell::from(text::one_line(
            &format!("{}.{}", i.schemaname, i.indexrelname),
            iw,
        )),
        Cell::from(text::one_line(&i.relname, tw)),
    ]);
    if i.is_valid {
        row
    } else {
        row.style(theme.problem())
    }
}

impl UnusedIndexesPanel<'_> {
    /// The indexes, sorted and filtered, or a note when none is listed.
    fn indexes_table(&self, u: &UnusedIndexesSample, rest: Rect, buf: &mut Buffer) {
        let theme = self.view.theme();
        let list = table::unused_indexes(u, &self.query);
        if list.is_empty() {
            let msg = if self.query.filter.is_empty() {
                "no unused index: every index has been scanned".to_string()
            } else {
                format!(
                    "no index matches the filter {:?}",
                    text::clean(self.query.filter)
                )
            };
            note(rest, buf, msg, theme.dim());
            return;
        }
        let fixed = [10u16, 10, 6, 7];
        let nw = rest_width(rest.width, &fixed);
        let (iw, tw) = (nw * 3 / 5, nw.saturating_sub(nw * 3 / 5 + 1));
        let table_rows: Vec<Row<'static>> =
            list.iter().map(|i| index_row(i, iw, tw, theme)).collect();
        render_table(
            rest,
            buf,
            theme,
            ["size", "table size", "scans", "valid", "index", "table"]
                .map(String::from)
                .to_vec(),
            table_rows,
            vec![
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(iw as u16),
                Constraint::Fill(1),
            ],
            Some(self.selected),
        );
    }
}
