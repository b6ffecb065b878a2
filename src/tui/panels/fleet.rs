//! The fleet: one row per watched server, worst first: its state (unreachable, critical,
//! warning, connecting, ok; coloured), name, role, the worst alert, connections as % of the
//! usable ones, transactions per second, the interval cache hit ratio, the worst replay lag
//! it knows of, the oldest database's xid age as % of the way to wraparound, and how old its
//! freshest sample is. `f` opens it (the first screen with more than
//! [`FLEET_FIRST`] servers); `s` / `r` sort, `/` filters, Enter opens the server's panels.
//! Below [`WIDE_FLEET`] columns the transactions, hit ratio and sample age are left out.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Cell, Row, Widget};

use super::{View, bytes, note, pct, rate, render_table_window, rest_width};
use crate::model::{Severity, format_duration_s};
use crate::tui::table::{self, FleetRow, FleetState, TableQuery};
use crate::tui::text;
use crate::tui::theme::Theme;

/// With more servers than this, the dashboard opens on the fleet.
pub const FLEET_FIRST: usize = 4;

/// From this many columns every column is shown.
pub const WIDE_FLEET: u16 = 110;

/// The fleet panel.
pub struct FleetPanel<'a> {
    pub view: View<'a>,
    pub query: TableQuery<'a>,
    pub selected: usize,
}

fn state_style(theme: Theme, s: FleetState) -> Style {
    match s {
        FleetState::Ok => theme.ok(),
        FleetState::Connecting => theme.dim(),
        FleetState::Warning => theme.severity(Some(Severity::Warning)),
        FleetState::Critical | FleetState::Unreachable => theme.severity(Some(Severity::Critical)),
    }
}

impl Widget for FleetPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let rows = table::fleet(v.store, &self.query, v.now);
        let count = |s: FleetState| rows.iter().filter(|r| r.state == s).count();
        let n = v.store.servers.len();
        let title = format!(
            " Fleet: {n} server{}, {} unreachable, {} critical, {} warning{} ",
            if n == 1 { "" } else { "s" },
            count(FleetState::Unreachable),
            count(FleetState::Critical),
            count(FleetState::Warning),
            if v.paused { " (paused)" } else { "" }
        );
        let block = Block::default().borders(Borders::ALL).title(title);
        let inner = block.inner(rect);
        block.render(rect, buf);
        if inner.height == 0 {
            return;
        }
        if rows.is_empty() {
            note(
                inner,
                buf,
                "no server matches the filter".into(),
                theme.dim(),
            );
            return;
        }
        let wide = inner.width >= WIDE_FLEET;
        let name_w = rows
            .iter()
            .map(|r| text::width(&text::clean(&r.name)))
            .max()
            .unwrap_or(6)
            .clamp(6, if wide { 32 } else { 20 }) as u16;
        let mut header = vec!["state", "server", "role", "conn"];
        let mut widths = vec![11u16, name_w, 7, 5];
        if wide {
            header.extend(["xact/s", "hit"]);
            widths.extend([7, 6]);
        }
        header.extend(["lag", "xid"]);
        widths.extend([9, 5]);
        if wide {
            header.push("sample");
            widths.push(7);
        }
        header.push("worst alert");
        let alert_w = rest_width(inner.width, &widths);
        let mut constraints: Vec<Constraint> =
            widths.iter().map(|w| Constraint::Length(*w)).collect();
        constraints.push(Constraint::Fill(1));
        render_table_window(
            inner,
            buf,
            theme,
            header.into_iter().map(String::from).collect(),
            rows.len(),
            |i| fleet_row(&rows[i], theme, wide, name_w as usize, alert_w),
            constraints,
            Some(self.selected),
        );
    }
}

fn fleet_row(
    r: &FleetRow,
    theme: Theme,
    wide: bool,
    name_w: usize,
    alert_w: usize,
) -> Row<'static> {
    let state = match r.state {
        FleetState::Critical | FleetState::Warning => {
            format!("{} {}", r.state.name(), r.criticals + r.warnings)
        }
        s => s.name().to_owned(),
    };
    let mut cells = vec![
        Cell::from(state).style(state_style(theme, r.state)),
        Cell::from(text::one_line(&r.name, name_w)),
        Cell::from(r.role),
        Cell::from(
            r.connections_pct
                .map_or_else(|| "-".into(), |p| format!("{p:.0}%")),
        ),
    ];
    if wide {
        cells.push(Cell::from(rate(r.xact_per_s)));
        cells.push(Cell::from(pct(r.hit_ratio)));
    }
    cells.push(Cell::from(bytes(r.replay_lag_bytes)));
    cells.push(Cell::from(
        r.xid_wraparound_pct
            .map_or_else(|| "-".into(), |p| format!("{p:.0}%")),
    ));
    if wide {
        cells.push(Cell::from(
            r.sample_age_s.map_or_else(|| "-".into(), format_duration_s),
        ));
    }
    cells.push(Cell::from(text::one_line(
        r.worst_alert.as_deref().unwrap_or(""),
        alert_w,
    )));
    Row::new(cells)
}
