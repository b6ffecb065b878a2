//! Replication: on a primary, its standbys (`pg_stat_replication`); on a standby, its own
//! receive/replay state; on both, the replication slots with the WAL they retain, how fast
//! it grows and when a slot runs out of `safe_wal_size`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::activity::privilege_line;
use super::{View, bytes, dur, frame, render_table, split_top};
use crate::model::alerts::Subject;
use crate::model::chain::Hop;
use crate::sample::Area;
use crate::sample::Rule;
use crate::sample::{LagState, ReplicationSample, ServerRole, Slot, Standby, StandbyStatus};
use crate::tui::text;

/// The replication panel.
pub struct ReplicationPanel<'a> {
    pub view: View<'a>,
}

impl Widget for ReplicationPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let area = Area::Replication;
        let Some(inner) = frame(area.title(false), v, area, rect, buf) else {
            return;
        };
        let Some(r) = v.server.replication() else {
            return;
        };
        let mut lines = match (r.role, &r.standby_status) {
            (ServerRole::Standby, Some(st)) => receiver_lines(v, st, inner.width),
            _ => primary_lines(v, r, inner),
        };
        let hops = crate::model::chain::hops_of(v.store, v.server_index);
        lines.extend(chain_lines(v, &hops, inner.width));
        let (top, rest) = split_top(inner, lines.len() as u16);
        Paragraph::new(lines).render(top, buf);
        let show_standbys = !r.standbys.is_empty() || r.role == ServerRole::Primary;
        let slots_h = if r.slots.is_empty() {
            1
        } else {
            r.slots.len() as u16 + 1
        };
        let (standby_rect, slot_rect) = if show_standbys {
            let want = (r.standbys.len().max(1) as u16) + 1;
            let h = want.min(rest.height.saturating_sub(slots_h.min(rest.height / 2)));
            split_top(rest, h)
        } else {
            split_top(rest, 0)
        };
        if show_standbys && standby_rect.height > 0 {
            if r.standbys.is_empty() {
                super::note(
                    standby_rect,
                    buf,
                    "no standby connected".into(),
                    theme.dim(),
                );
            } else {
                standbys_table(v, &r.standbys, &hops, standby_rect, buf);
            }
        }
        if slot_rect.height == 0 {
            return;
        }
        if r.slots.is_empty() {
            super::note(slot_rect, buf, "no replication slots".into(), theme.dim());
            return;
        }
        slots_table(v, &r.slots, slot_rect, buf);
    }
}

/// On a standby: its upstream and WAL receiver, what it received and replayed, its replay
/// lag; then what the role cannot see, in `width` columns.
fn receiver_lines(v: &View<'_>, st: &StandbyStatus, width: u16) -> Vec<Line<'static>> {
    let theme = v.theme();
    let alerts = &v.server.alerts;
    let sev_b = alerts.severity_of(Rule::ReplicationLagBytes, &Subject::Server);
    let sev_t = alerts.severity_of(Rule::ReplicationLagTime, &Subject::Server);
    let upstream = match (&st.sender_host, st.sender_port) {
        (Some(h), Some(p)) => format!("{}:{p}", text::clean(h)),
        (Some(h), None) => text::clean(h),
        _ => "unknown upstream".into(),
    };
    let status = match st.wal_receiver_status.as_deref() {
        Some(status) => text::clean(status),
        // pg_stat_wal_receiver hides its row's status from roles without
        // pg_read_all_stats: unknown, not "not running"
        None if v
            .server
            .facts
            .as_ref()
            .is_some_and(|f| !f.can_read_all_stats()) =>
        {
            "status hidden".into()
        }
        None => "not running".into(),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("standby", theme.heading()),
        Span::raw(format!(
            " of {upstream} · WAL receiver {status} · last message {}",
            super::ago(st.last_msg_receipt_age_s)
        )),
    ])];
    lines.push(Line::from(vec![
        Span::raw(format!(
            "received {} · replayed {} · ",
            st.receive_lsn.as_deref().map_or("-".into(), text::clean),
            st.replay_lsn.as_deref().map_or("-".into(), text::clean),
        )),
        Span::styled(
            format!("{} to replay", bytes(st.replay_lag_bytes)),
            theme.severity(sev_b),
        ),
    ]));
    let lag = match st.replay_lag_s {
        Some(s) => crate::model::format_duration_s(s),
        None => "-".into(),
    };
    lines.push(Line::from(vec![
        Span::styled(
            format!("replay lag {lag} ({})", st.lag_state.as_str()),
            theme.severity(sev_t),
        ),
        Span::raw(format!(
            " · last replayed transaction {}{}",
            super::ago(st.last_replay_age_s),
            if st.replay_paused {
                " · REPLAY PAUSED"
            } else {
                ""
            }
        )),
    ]));
    lines.extend(privilege_line(v, Area::Replication, width));
    lines
}

/// On a primary (or a standby without receiver status): the role, the current WAL LSN and
/// the number of standbys; then what the role cannot see when there is room.
fn primary_lines(v: &View<'_>, r: &ReplicationSample, inner: Rect) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            match r.role {
                ServerRole::Primary => "primary",
                ServerRole::Standby => "standby (no receiver status)",
            },
            v.theme().heading(),
        ),
        Span::raw(format!(
            " · current WAL LSN {} · {} standby(s)",
            r.current_wal_lsn.as_deref().map_or("-".into(), text::clean),
            r.standbys.len()
        )),
    ])];
    if inner.height > 3 {
        lines.extend(privilege_line(v, Area::Replication, inner.width));
    }
    lines
}

/// Columns of the standbys table: header and width.
const STANDBY_COLUMNS: [(&str, u16); 9] = [
    ("standby", 16),
    ("client", 15),
    ("state/sync", 16),
    ("sent lag", 10),
    ("flush lag", 10),
    ("replay lag", 10),
    ("lag time", 8),
    ("reply", 7),
    ("xmin age", 8),
];

/// The standbys, one row each in the style of their worst alert; narrow terminals keep
/// standby, state/sync, sent lag, replay lag, lag time and reply age.
fn standbys_table(v: &View<'_>, standbys: &[Standby], hops: &[Hop], rect: Rect, buf: &mut Buffer) {
    let theme = v.theme();
    let keep = |i: usize| rect.width >= 110 || [0, 2, 3, 5, 6, 7].contains(&i);
    let rows: Vec<Row<'static>> = standbys
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = s.display_name();
            let sev = v
                .server
                .alerts
                .worst_in(Area::Replication, &Subject::Standby(name.clone()));
            // the standby's own word, when it is watched too: its replay is paused
            let paused = hops
                .iter()
                .any(|h| h.upstream == v.server_index && h.row == Some(i) && h.replay_paused);
            let mut cells = standby_cells(s, &name);
            if paused {
                cells[2] = Cell::from(text::one_line(
                    &format!("PAUSED/{}", s.sync_state.as_deref().unwrap_or("-")),
                    16,
                ));
            }
            let cells = cells.into_iter().enumerate();
            Row::new(cells.filter(|(i, _)| keep(*i)).map(|(_, c)| c)).style(theme.severity(sev))
        })
        .collect();
    let columns = STANDBY_COLUMNS.iter().enumerate().filter(|(i, _)| keep(*i));
    render_table(
        rect,
        buf,
        theme,
        columns.clone().map(|(_, (h, _))| h.to_string()).collect(),
        rows,
        columns.map(|(_, (_, w))| Constraint::Length(*w)).collect(),
        None,
    );
}

/// The hops through this server whose other end is watched too: `upstream → downstream`,
/// the replay lag as the upstream sees it (else the standby), whether replay is paused, and
/// any disagreement between the two sides.
fn chain_lines(v: &View<'_>, hops: &[Hop], width: u16) -> Vec<Line<'static>> {
    let theme = v.theme();
    let name = |i: usize| {
        v.store
            .servers
            .get(i)
            .map_or_else(String::new, |s| s.label.clone())
    };
    let w = usize::from(width);
    let mut out = Vec::new();
    for h in hops {
        let mut line = format!(
            "chain: {} → {}: replay {} behind, {}",
            name(h.upstream),
            name(h.downstream),
            bytes(h.replay_lag_bytes),
            dur(h.replay_lag_s)
        );
        if h.replay_paused {
            line.push_str(", standby replay PAUSED");
        }
        let style = if h.replay_paused {
            theme.caution()
        } else {
            theme.dim()
        };
        out.push(Line::from(Span::styled(text::one_line(&line, w), style)));
        if let Some(d) = &h.disagreement {
            out.push(Line::from(Span::styled(
                text::one_line(&format!("sides disagree: {d}"), w),
                theme.problem(),
            )));
        }
    }
    out
}

/// Every cell of a standby's row, in [`STANDBY_COLUMNS`] order.
fn standby_cells(s: &Standby, name: &str) -> Vec<Cell<'static>> {
    let time_lag = match (s.lag_state, s.replay_lag_s) {
        (LagState::Idle, _) => "idle".to_string(),
        (_, Some(x)) => crate::model::format_duration_s(x),
        _ => "-".into(),
    };
    vec![
        Cell::from(text::one_line(name, 16)),
        Cell::from(text::one_line(
            s.client_addr.as_deref().unwrap_or("local"),
            15,
        )),
        Cell::from(text::one_line(
            &format!(
                "{}/{}",
                s.state.as_deref().unwrap_or("-"),
                s.sync_state.as_deref().unwrap_or("-")
            ),
            16,
        )),
        Cell::from(bytes(s.sent_lag_bytes)),
        Cell::from(bytes(s.flush_lag_bytes)),
        Cell::from(bytes(s.replay_lag_bytes)),
        Cell::from(time_lag),
        Cell::from(dur(s.reply_age_s)),
        Cell::from(
            s.backend_xmin_age
                .map_or("-".into(), |x| crate::model::format_count(x as f64)),
        ),
    ]
}

/// Columns of the slots table: header and width.
const SLOT_COLUMNS: [(&str, u16); 9] = [
    ("slot", 20),
    ("type", 8),
    ("active", 10),
    ("retained", 10),
    ("growth", 11),
    ("wal_status", 10),
    ("safe size", 10),
    ("lost in", 9),
    ("xmin age", 9),
];

/// The replication slots with the WAL they retain, how fast it grows and when the slot runs
/// out of `safe_wal_size` (`-` while estimating or without max_slot_wal_keep_size), in the
/// style of their worst alert; below 106 columns the type is left out, below 90 also the
/// safe size and the xmin age.
fn slots_table(v: &View<'_>, slots: &[Slot], rect: Rect, buf: &mut Buffer) {
    let theme = v.theme();
    let keep = |i: usize| match rect.width {
        106.. => true,
        90..106 => i != 1,
        _ => [0, 2, 3, 4, 5, 7].contains(&i),
    };
    let rows: Vec<Row<'static>> = slots
        .iter()
        .map(|s| {
            let sev = v
                .server
                .alerts
                .worst_in(Area::Replication, &Subject::Slot(s.slot_name.clone()));
            let cells = slot_cells(s).into_iter().enumerate();
            Row::new(cells.filter(|(i, _)| keep(*i)).map(|(_, c)| c)).style(theme.severity(sev))
        })
        .collect();
    let columns = SLOT_COLUMNS.iter().enumerate().filter(|(i, _)| keep(*i));
    render_table(
        rect,
        buf,
        theme,
        columns.clone().map(|(_, (h, _))| h.to_string()).collect(),
        rows,
        columns.map(|(_, (_, w))| Constraint::Length(*w)).collect(),
        None,
    );
}

/// Every cell of a slot's row, in [`SLOT_COLUMNS`] order.
fn slot_cells(s: &Slot) -> Vec<Cell<'static>> {
    vec![
        Cell::from(text::one_line(&s.slot_name, 20)),
        Cell::from(text::one_line(&s.slot_type, 8)),
        Cell::from(if s.active {
            "active".to_string()
        } else {
            s.inactive_since_age_s.map_or("inactive".into(), |a| {
                format!("off {}", crate::model::format_duration_s(a))
            })
        }),
        Cell::from(bytes(s.retained_wal_bytes)),
        Cell::from(s.retained_wal_per_s.map_or("-".into(), |r| {
            format!("+{}/s", crate::model::format_bytes(r))
        })),
        Cell::from(text::one_line(s.wal_status.as_deref().unwrap_or("-"), 10)),
        Cell::from(bytes(s.safe_wal_size_bytes)),
        Cell::from(s.invalidation_eta_s.map_or("-".into(), |eta| {
            if eta <= 0.0 {
                "now".into()
            } else {
                crate::model::format_duration_s(eta)
            }
        })),
        Cell::from(
            s.xmin_age
                .or(s.catalog_xmin_age)
                .map_or("-".into(), |x| crate::model::format_count(x as f64)),
        ),
    ]
}
