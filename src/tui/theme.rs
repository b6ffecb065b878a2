//! Styles of the screen. With colours off (`NO_COLOR`), only modifiers (bold, reversed,
//! underlined) are used, so severities stay visible on any terminal.

use ratatui::style::{Color, Modifier, Style};

use crate::model::Severity;

/// The palette: warning yellow, critical red; colourless variants with `color: false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Style of a row or value at `severity` (`None`: normal).
    pub fn severity(self, severity: Option<Severity>) -> Style {
        match (severity, self.color) {
            (None, _) => Style::default(),
            (Some(Severity::Warning), true) => Style::default().fg(Color::Yellow),
            (Some(Severity::Critical), true) => {
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
            }
            (Some(Severity::Warning), false) => Style::default().add_modifier(Modifier::BOLD),
            (Some(Severity::Critical), false) => Style::default()
                .add_modifier(Modifier::BOLD)
                .add_modifier(Modifier::UNDERLINED),
        }
    }

    /// The header line when anything is critical: visible across the room.
    pub fn alarm(self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Red)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// The header line when the worst alert is a warning.
    pub fn caution(self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Yellow)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    /// The selected row of a table (patched over the row's own style, so a red row stays red).
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// Column headers.
    pub fn heading(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    /// Secondary text (units, hints).
    pub fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    /// Good news (fresh data, caught up).
    pub fn ok(self) -> Style {
        if self.color {
            Style::default().fg(Color::Green)
        } else {
            Style::default()
        }
    }

    /// Problems that are not alerts (stale data, missing extension, errors).
    pub fn problem(self) -> Style {
        self.severity(Some(Severity::Warning))
    }

    /// A wait class's part of a wait-profile bar (colourless: every part alike; the legend
    /// beside the bar gives the shares).
    pub fn wait_class(self, class: crate::sample::WaitClass) -> Style {
        use crate::sample::WaitClass::*;
        if !self.color {
            return Style::default();
        }
        let color = match class {
            Cpu => Color::Green,
            Lock => Color::Red,
            LWLock => Color::Magenta,
            IO => Color::Blue,
            IPC => Color::Cyan,
            Client => Color::Yellow,
            Timeout => Color::Gray,
            Extension => Color::White,
            Other => Color::DarkGray,
        };
        Style::default().fg(color)
    }

    /// The active tab or server.
    pub fn active_tab(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// Filled part of a gauge at `severity`.
    pub fn gauge(self, severity: Option<Severity>) -> Style {
        match (severity, self.color) {
            (None, true) => Style::default().fg(Color::Green),
            (None, false) => Style::default(),
            (s, _) => self.severity(s),
        }
    }
}
