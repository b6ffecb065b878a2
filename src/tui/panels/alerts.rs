//! Alerts: the active alerts of the server shown, critical first then oldest, with how long
//! each has been active; then the resolved ones, newest first (with a
//! recording: every one since it began).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Widget};

use super::{View, age_s, panel_block, render_table_window, rest_width};
use crate::model::{ActiveAlert, AlertBook, ResolvedAlert, Severity, format_duration_s};
use crate::tui::table::{TableQuery, alert_matches};
use crate::tui::text;

/// The alerts panel.
pub struct AlertsPanel<'a> {
    pub view: View<'a>,
    /// The filter (alerts have no sort column).
    pub query: TableQuery<'a>,
    /// The selected row; `None` when drawn as a side panel of another tab.
    pub selected: Option<usize>,
}

impl Widget for AlertsPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let book = &v.server.alerts;
        let (w, c) = book.counts();
        let block = panel_block(&format!("Alerts: {c} critical, {w} warning"), v, None);
        let inner = block.inner(rect);
        block.render(rect, buf);
        if inner.height == 0 {
            return;
        }
        let fixed = [8u16, 8];
        let mw = rest_width(inner.width, &fixed);
        let entries = entries(book, &self.query);
        render_table_window(
            inner,
            buf,
            theme,
            ["state", "for/ago", "alert"].map(String::from).to_vec(),
            entries.len(),
            |i| entry_row(&entries[i], v, mw),
            vec![
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Fill(1),
            ],
            self.selected,
        );
    }
}

/// What the rows are, cheaply; the rows themselves are built only for the lines on screen
/// (an incident can hold hundreds of alerts).
enum Entry<'e> {
    Active(&'e ActiveAlert),
    NoneActive,
    Resolved(&'e ResolvedAlert),
}

/// The active alerts that pass the filter (or the line saying there is none), then the
/// resolved ones.
fn entries<'e>(book: &'e AlertBook, query: &TableQuery<'_>) -> Vec<Entry<'e>> {
    let mut entries: Vec<Entry> = book
        .sorted()
        .into_iter()
        .filter(|a| alert_matches(query, &a.alert))
        .map(Entry::Active)
        .collect();
    if entries.is_empty() {
        entries.push(Entry::NoneActive);
    }
    entries.extend(
        book.resolved
            .iter()
            .chain(&book.earlier)
            .filter(|r| alert_matches(query, &r.alert))
            .map(Entry::Resolved),
    );
    entries
}

/// The row of one entry; the message gets `mw` columns.
fn entry_row(entry: &Entry<'_>, v: &View<'_>, mw: usize) -> Row<'static> {
    let theme = v.theme();
    match entry {
        Entry::Active(a) => {
            let sev = match a.alert.severity {
                Severity::Warning => "warning",
                Severity::Critical => "CRITICAL",
            };
            Row::new(vec![
                Cell::from(sev),
                Cell::from(format_duration_s(age_s(v.now, a.since))),
                Cell::from(text::one_line(&a.alert.message, mw)),
            ])
            .style(theme.severity(Some(a.alert.severity)))
        }
        Entry::NoneActive => Row::new(vec![
            Cell::from("ok"),
            Cell::from(""),
            Cell::from("no active alert"),
        ])
        .style(theme.ok()),
        Entry::Resolved(r) => Row::new(vec![
            Cell::from("resolved"),
            Cell::from(format_duration_s(age_s(v.now, r.resolved_at))),
            Cell::from(text::one_line(
                &format!(
                    "{} (lasted {})",
                    r.alert.message,
                    format_duration_s(age_s(r.resolved_at, r.since))
                ),
                mw,
            )),
        ])
        .style(theme.dim()),
    }
}
