//! Replication: on a primary, its standbys (`pg_stat_replication`); on a standby, its own
//! receive/replay state; on both, the replication slots with the WAL they retain.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::activity::privilege_line;
use super::{View, bytes, dur, frame, render_table, split_top};
use crate::model::alerts::Subject;
use crate::sample::Area;
use crate::sample::Rule;
use crate::sample::{LagState, ServerRole};
use crate::tui::text;

/// The replication panel.
pub struct ReplicationPanel<'a> {
    pub view: View<'a>,
}

impl Widget for ReplicationPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let Some(inner) = frame("Replication", v, Area::Replication, rect, buf) else {
            return;
        };
        let Some(r) = v.server.replication() else {
            return;
        };
        let alerts = &v.server.alerts;
        let mut lines: Vec<Line<'static>> = Vec::new();
        let rest = match (r.role, &r.standby_status) {
            (ServerRole::Standby, Some(st)) => {
                let sev_b = alerts.severity_of(Rule::ReplicationLagBytes, &Subject::Server);
                let sev_t = alerts.severity_of(Rule::ReplicationLagTime, &Subject::Server);
                let upstream = match (&st.sender_host, st.sender_port) {
                    (Some(h), Some(p)) => format!("{}:{p}", text::clean(h)),
                    (Some(h), None) => text::clean(h),
                    _ => "unknown upstream".into(),
                };
                lines.push(Line::from(vec![
                    Span::styled("standby", theme.heading()),
                    Span::raw(format!(
                        " of {upstream} · WAL receiver {} · last message {}",
                        match st.wal_receiver_status.as_deref() {
                            Some(status) => text::clean(status),
                            // pg_stat_wal_receiver hides its row's status from roles
                            // without pg_read_all_stats: unknown, not "not running"
                            None if v
                                .server
                                .facts
                                .as_ref()
                                .is_some_and(|f| !f.can_read_all_stats()) =>
                            {
                                "status hidden".into()
                            }
                            None => "not running".into(),
                        },
                        super::ago(st.last_msg_receipt_age_s)
                    )),
                ]));
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
                lines.extend(privilege_line(v, Area::Replication, inner.width));
                let (top, r2) = split_top(inner, lines.len() as u16);
                Paragraph::new(lines).render(top, buf);
                r2
            }
            _ => {
                lines.push(Line::from(vec![
                    Span::styled(
                        match r.role {
                            ServerRole::Primary => "primary",
                            ServerRole::Standby => "standby (no receiver status)",
                        },
                        theme.heading(),
                    ),
                    Span::raw(format!(
                        " · current WAL LSN {} · {} standby(s)",
                        r.current_wal_lsn.as_deref().map_or("-".into(), text::clean),
                        r.standbys.len()
                    )),
                ]));
                if inner.height > 3 {
                    lines.extend(privilege_line(v, Area::Replication, inner.width));
                }
                let (top, r2) = split_top(inner, lines.len() as u16);
                Paragraph::new(lines).render(top, buf);
                r2
            }
        };
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
                // narrow terminals keep standby, state/sync, sent lag, replay lag, lag time
                // and reply age
                let keep = |i: usize| standby_rect.width >= 110 || [0, 2, 3, 5, 6, 7].contains(&i);
                let pick = |v: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
                    v.into_iter()
                        .enumerate()
                        .filter(|(i, _)| keep(*i))
                        .map(|(_, c)| c)
                        .collect()
                };
                let rows: Vec<Row<'static>> = r
                    .standbys
                    .iter()
                    .map(|s| {
                        let name = s.display_name();
                        let sev =
                            alerts.worst_in(Area::Replication, &Subject::Standby(name.clone()));
                        let time_lag = match (s.lag_state, s.replay_lag_s) {
                            (LagState::Idle, _) => "idle".to_string(),
                            (_, Some(x)) => crate::model::format_duration_s(x),
                            _ => "-".into(),
                        };
                        Row::new(pick(vec![
                            Cell::from(text::one_line(&name, 16)),
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
                        ]))
                        .style(theme.severity(sev))
                    })
                    .collect();
                render_table(
                    standby_rect,
                    buf,
                    theme,
                    [
                        "standby",
                        "client",
                        "state/sync",
                        "sent lag",
                        "flush lag",
                        "replay lag",
                        "lag time",
                        "reply",
                        "xmin age",
                    ]
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, h)| h.to_string())
                    .collect(),
                    rows,
                    [
                        Constraint::Length(16),
                        Constraint::Length(15),
                        Constraint::Length(16),
                        Constraint::Length(10),
                        Constraint::Length(10),
                        Constraint::Length(10),
                        Constraint::Length(8),
                        Constraint::Length(7),
                        Constraint::Length(8),
                    ]
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, c)| c)
                    .collect(),
                    None,
                );
            }
        }
        if slot_rect.height == 0 {
            return;
        }
        if r.slots.is_empty() {
            super::note(slot_rect, buf, "no replication slots".into(), theme.dim());
            return;
        }
        let rows: Vec<Row<'static>> = r
            .slots
            .iter()
            .map(|s| {
                let sev = alerts.worst_in(Area::Replication, &Subject::Slot(s.slot_name.clone()));
                Row::new(vec![
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
                    Cell::from(text::one_line(s.wal_status.as_deref().unwrap_or("-"), 10)),
                    Cell::from(bytes(s.safe_wal_size_bytes)),
                    Cell::from(
                        s.xmin_age
                            .or(s.catalog_xmin_age)
                            .map_or("-".into(), |x| crate::model::format_count(x as f64)),
                    ),
                ])
                .style(theme.severity(sev))
            })
            .collect();
        render_table(
            slot_rect,
            buf,
            theme,
            [
                "slot",
                "type",
                "active",
                "retained",
                "wal_status",
                "safe size",
                "xmin age",
            ]
            .map(String::from)
            .to_vec(),
            rows,
            vec![
                Constraint::Length(20),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(9),
            ],
            None,
        );
    }
}
