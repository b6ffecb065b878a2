//! Popups: the key help (`?`) and the confirmation of a cancel/terminate, which names the pid,
//! the user and the query.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::detail::centered;
use super::state::{ActionKind, Confirm};
use super::text;
use super::theme::Theme;

/// The digit keys of the tabs, as shown by `?`: `0, 1-7, 8 or a, 9 or f` and what they open,
/// from the tab list (the overview, the areas' titles, the alerts, the fleet).
pub fn tab_keys() -> (String, String) {
    let areas: Vec<String> = crate::sample::Area::tabs()
        .map(|a| {
            let title = a.title(false);
            // "Unused indexes" reads "unused indexes", an acronym ("WAL") stays as it is
            if title.chars().all(|c| !c.is_lowercase()) {
                title.to_string()
            } else {
                title.to_lowercase()
            }
        })
        .collect();
    (
        format!(
            "0, 1-{}, {} or a, {} or f",
            areas.len(),
            areas.len() + 1,
            areas.len() + 2
        ),
        format!(
            "overview; {}; alerts; the fleet (every server, Enter opens one)",
            areas.join(", ")
        ),
    )
}

/// [`tab_keys`] in few words, for a narrow help.
fn tab_keys_short() -> (String, String) {
    let areas = crate::sample::Area::tabs().count();
    (
        format!("0, 1-{areas}, {} or a, {} or f", areas + 1, areas + 2),
        "overview, an area (as on the tab bar), alerts, fleet".to_owned(),
    )
}

/// The other keys, as shown by `?` (after [`tab_keys`], which comes second).
pub const KEYS: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit (the terminal is restored)"),
    ("Tab, Shift-Tab", "next / previous area"),
    ("[ ], ← →", "previous / next server"),
    ("↑ ↓ PgUp PgDn Home End", "move within the table"),
    ("s / r", "cycle the sort column / reverse the sort"),
    ("/", "filter rows by text (Enter keeps it, Esc clears it)"),
    (
        "Enter",
        "details of a session or statement (e: its plan); Esc",
    ),
    ("p", "pause: the screen holds, samples keep arriving"),
    ("+ / -", "poll less / more often (250ms .. 1m)"),
    ("h", "history over 10 min, 1 h, 6 h, 24 h (wide screens)"),
    (
        "c / k",
        "cancel query / kill backend (asks; --enable-actions)",
    ),
    ("y", "copy the query to the clipboard (OSC 52, SSH too)"),
    ("?, F1", "this help"),
    (
        "mouse",
        "click: select; double-click: details; wheel: scroll",
    ),
];

/// The help popup.
pub struct HelpView {
    pub theme: Theme,
    pub actions_enabled: bool,
}

impl Widget for HelpView {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        // small terminals: the whole body, so the keys fit without scrolling
        let area = if rect.width < 100 || rect.height < 30 {
            rect
        } else {
            centered(rect, 80, 80)
        };
        Clear.render(area, buf);
        let (tab_key, tab_what) = if area.width < 100 {
            tab_keys_short()
        } else {
            tab_keys()
        };
        let mut keys: Vec<(String, String)> = KEYS
            .iter()
            .map(|(k, d)| ((*k).to_string(), (*d).to_string()))
            .collect();
        keys.insert(2, (tab_key, tab_what));
        let key_width = keys.iter().map(|(k, _)| text::width(k)).max().unwrap_or(0);
        let inner = usize::from(area.width.saturating_sub(2));
        let mut lines: Vec<Line<'static>> = keys
            .iter()
            .flat_map(|(k, d)| {
                super::panels::hanging(k, d, key_width, 2, inner, self.theme.heading())
            })
            .collect();
        lines.push(Line::from(if self.actions_enabled {
            "actions are enabled: c and k act on the server after a confirmation"
        } else {
            "read-only: cancel/terminate are disabled"
        }));
        lines.push(Line::from(
            "Markers in the activity table: B blocks others, W waits on a lock, X both.",
        ));
        lines.push(Line::from(
            "Rates are per second over the measured interval; '-' means no baseline yet.",
        ));
        lines.push(Line::from("Times are UTC."));
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Keys ")
                    .title_bottom(" any key closes "),
            )
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }
}

/// The confirmation dialog.
pub struct ConfirmView<'a> {
    pub theme: Theme,
    pub confirm: &'a Confirm,
    pub label: &'a str,
}

/// The warning of the confirmation dialog when the server is reached through a connection
/// pooler: the signal goes to a pooler's server connection, not to a client.
pub const POOLED_WARNING: &str =
    "through a pooler: this backend may be serving another client by now";

impl Widget for ConfirmView<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let mut area = centered(rect, 70, 50);
        let c = self.confirm;
        let (verb, func) = match c.kind {
            ActionKind::Cancel => ("Cancel the query of", "pg_cancel_backend"),
            ActionKind::Terminate => ("Terminate", "pg_terminate_backend"),
        };
        let width = area.width.saturating_sub(4) as usize;
        let mut lines = vec![
            Line::from(Span::styled(
                format!(
                    "{verb} backend pid {} (user {}) on {}?",
                    c.pid,
                    text::clean(c.usename.as_deref().unwrap_or("?")),
                    text::clean(self.label)
                ),
                self.theme.alarm(),
            )),
            Line::from(format!("runs {func}({})", c.pid)),
        ];
        if c.pooled {
            lines.push(Line::from(Span::styled(
                POOLED_WARNING,
                self.theme.caution(),
            )));
        }
        lines.extend([
            Line::from(""),
            Line::from(Span::styled("query:", self.theme.heading())),
            Line::from(text::one_line(&c.query, width.saturating_mul(3))),
            Line::from(""),
            Line::from(Span::styled(
                "y to confirm · any other key: do nothing",
                self.theme.heading(),
            )),
        ]);
        // grow to the wrapped content (borders included, at most the whole body) so the
        // last line, the one that says how to confirm, stays visible
        let inner = area.width.saturating_sub(2).max(1) as usize;
        let needed: usize = lines
            .iter()
            .map(|l| match l.width() {
                // word wrapping may take a row more than the width alone says
                w if w > inner => w.div_ceil(inner) + 1,
                _ => 1,
            })
            .sum::<usize>()
            + 2;
        let height = (needed.min(rect.height as usize) as u16).max(area.height);
        area.y = rect.y + (rect.height - height) / 2;
        area.height = height;
        Clear.render(area, buf);
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(" Confirm "))
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }
}
