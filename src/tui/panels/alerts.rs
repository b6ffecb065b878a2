//! Alerts: the active alerts of the server shown, critical first then oldest, with how long
//! each has been active; then the recently resolved ones.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Widget};

use super::{View, age_s, panel_block, render_table, rest_width};
use crate::model::{ServerState, Severity, format_duration_s};
use crate::tui::state::{Tab, UiState};
use crate::tui::text;

/// Active plus resolved rows after the filter.
pub fn row_count(server: &ServerState, ui: &UiState) -> usize {
    server
        .alerts
        .active
        .values()
        .filter(|a| ui.matches(&[&a.alert.message, a.alert.rule.name(), &a.alert.subject]))
        .count()
        + server
            .alerts
            .resolved
            .iter()
            .filter(|a| ui.matches(&[&a.alert.message, a.alert.rule.name(), &a.alert.subject]))
            .count()
}

/// The alerts panel.
pub struct AlertsPanel<'a> {
    pub view: View<'a>,
    /// Show the selection (false when drawn as a side panel of another tab).
    pub focused: bool,
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
        let m = |texts: [&str; 3]| v.ui.matches(&texts);
        let fixed = [8u16, 8];
        let mw = rest_width(inner.width, &fixed);
        let mut rows: Vec<Row<'static>> = Vec::new();
        for a in book.sorted() {
            if !m([&a.alert.message, a.alert.rule.name(), &a.alert.subject]) {
                continue;
            }
            let sev = match a.alert.severity {
                Severity::Warning => "warning",
                Severity::Critical => "CRITICAL",
            };
            rows.push(
                Row::new(vec![
                    Cell::from(sev),
                    Cell::from(format_duration_s(age_s(v.now, a.since))),
                    Cell::from(text::one_line(&a.alert.message, mw)),
                ])
                .style(theme.severity(Some(a.alert.severity))),
            );
        }
        if rows.is_empty() {
            rows.push(
                Row::new(vec![
                    Cell::from("ok"),
                    Cell::from(""),
                    Cell::from("no active alert"),
                ])
                .style(theme.ok()),
            );
        }
        for r in &book.resolved {
            if !m([&r.alert.message, r.alert.rule.name(), &r.alert.subject]) {
                continue;
            }
            rows.push(
                Row::new(vec![
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
            );
        }
        let selected = self.focused.then(|| v.ui.selected[Tab::Alerts.index()]);
        render_table(
            inner,
            buf,
            theme,
            ["state", "for/ago", "alert"].map(String::from).to_vec(),
            rows,
            vec![
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Fill(1),
            ],
            selected,
        );
    }
}
