//! Alerts: the active alerts of the server shown, critical first then oldest, with how long
//! each has been active; then the recently resolved ones.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Widget};

use super::{View, age_s, panel_block, render_table_window, rest_width};
use crate::model::{ServerState, Severity, format_duration_s};
use crate::tui::state::{Tab, UiState};
use crate::tui::text;

/// Active plus resolved rows after the filter.
pub fn row_count(server: &ServerState, ui: &UiState) -> usize {
    server
        .alerts
        .active
        .values()
        .filter(|a| {
            ui.matches(&[
                &a.alert.message,
                a.alert.rule.name(),
                &a.alert.subject.to_string(),
            ])
        })
        .count()
        + server
            .alerts
            .resolved
            .iter()
            .filter(|a| {
                ui.matches(&[
                    &a.alert.message,
                    a.alert.rule.name(),
                    &a.alert.subject.to_string(),
                ])
            })
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
        // what the rows are, cheaply; the rows themselves are built only for the lines on
        // screen (an incident can hold hundreds of alerts)
        enum Entry<'e> {
            Active(&'e crate::model::ActiveAlert),
            NoneActive,
            Resolved(&'e crate::model::ResolvedAlert),
        }
        let mut entries: Vec<Entry> = book
            .sorted()
            .into_iter()
            .filter(|a| {
                m([
                    &a.alert.message,
                    a.alert.rule.name(),
                    &a.alert.subject.to_string(),
                ])
            })
            .map(Entry::Active)
            .collect();
        if entries.is_empty() {
            entries.push(Entry::NoneActive);
        }
        entries.extend(
            book.resolved
                .iter()
                .filter(|r| {
                    m([
                        &r.alert.message,
                        r.alert.rule.name(),
                        &r.alert.subject.to_string(),
                    ])
                })
                .map(Entry::Resolved),
        );
        let row = |i: usize| match entries[i] {
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
        };
        let selected = self.focused.then(|| v.ui.selected[Tab::Alerts.index()]);
        render_table_window(
            inner,
            buf,
            theme,
            ["state", "for/ago", "alert"].map(String::from).to_vec(),
            entries.len(),
            row,
            vec![
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Fill(1),
            ],
            selected,
        );
    }
}
