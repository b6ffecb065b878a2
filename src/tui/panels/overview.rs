//! The overview: every area of the selected server at once, each a tile with its state colour
//! (the worst active alert of its rules) and its two or three worst items, plus the active
//! alerts. The first screen at 160x48 and larger; `0` opens it, each tile's number key its
//! full panel.
//!
//! A tile says what an on-call engineer looks for first: the root blocker and who waits on
//! it; the statement taking the most time per second; the interval hit ratio and the table
//! reading most from disk; lag per standby and the fullest slot; the biggest unused index;
//! the oldest xid age and its time left; the WAL rate, forced checkpoints and a failing
//! archiver. A tile whose area has no fresh sample explains why instead, as the panels do.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use super::{View, dur, pct, status_lines};
use crate::model::locks::lock_tree;
use crate::model::{Severity, format_bytes, format_count, format_duration_s};
use crate::sample::{Area, LagState, ServerRole};
use crate::tui::text;

/// The overview panel.
pub struct OverviewPanel<'a> {
    pub view: View<'a>,
}

/// The worst active alert of the server among the rules of `area` (every rule for `None`,
/// the alerts tile).
pub fn area_severity(v: &View<'_>, area: Option<Area>) -> Option<Severity> {
    v.server
        .alerts
        .active
        .values()
        .filter(|a| area.is_none_or(|area| a.alert.rule.area() == area))
        .map(|a| a.alert.severity)
        .max()
}

/// Tiles per row for a body `width` columns wide.
fn columns(width: u16) -> usize {
    match width {
        0..=59 => 1,
        60..=149 => 2,
        _ => 3,
    }
}

impl Widget for OverviewPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let areas: Vec<Area> = Area::tabs().collect();
        // the areas, then the alerts tile, which takes what is left of the last row
        let tiles = areas.len() + 1;
        let cols = columns(rect.width);
        let rows = tiles.div_ceil(cols);
        let row_rects = Layout::vertical(vec![Constraint::Fill(1); rows]).split(rect);
        let mut next = 0;
        for row in row_rects.iter() {
            let in_row = (tiles - next).min(cols);
            let last_row = next + in_row == tiles;
            // the last row's tiles share its width (the alerts tile widest when alone)
            let constraints = if last_row && in_row < cols {
                let mut c = vec![Constraint::Ratio(1, cols as u32); in_row - 1];
                c.push(Constraint::Fill(1));
                c
            } else {
                vec![Constraint::Ratio(1, cols as u32); in_row]
            };
            let cells = Layout::horizontal(constraints).split(*row);
            for cell in cells.iter() {
                match areas.get(next) {
                    Some(&area) => tile(v, area, next + 1, *cell, buf),
                    None => alerts_tile(v, *cell, buf),
                }
                next += 1;
            }
        }
    }
}

/// A tile's block: ` N Title ` coloured by the worst alert, `!` when the area is failing.
fn tile_block<'a>(v: &View<'_>, key: usize, title: &str, area: Option<Area>) -> Block<'a> {
    let theme = v.theme();
    let severity = area_severity(v, area);
    let failing = area.is_some_and(|a| {
        v.server
            .area(a)
            .error
            .as_ref()
            .is_some_and(|(e, _)| e.kind.is_failure())
    });
    let mut title = format!(" {key} {title}");
    if failing {
        title.push('!');
    }
    title.push(' ');
    let style = match severity {
        Some(_) => theme.severity(severity),
        None => theme.heading(),
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(match severity {
            Some(_) => theme.severity(severity),
            None => Style::default(),
        })
        .title(Line::from(Span::styled(title, style)))
}

fn tile(v: &View<'_>, area: Area, key: usize, rect: Rect, buf: &mut Buffer) {
    super::record_tile(rect, key);
    let block = tile_block(v, key, area.title(false), Some(area));
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let mut lines = status_lines(v, area);
    let room = usize::from(inner.height).saturating_sub(lines.len());
    if v.server.area(area).sample.is_some() {
        lines.extend(match area {
            Area::Activity => activity_lines(v, width, room),
            Area::Statements => statements_lines(v, width, room),
            Area::Cache => cache_lines(v, width),
            Area::Replication => replication_lines(v, width),
            Area::UnusedIndexes => unused_index_lines(v, width),
            Area::Vacuum => vacuum_lines(v, width),
            Area::Wal => wal_lines(v, width),
            Area::Server | Area::Waits => Vec::new(),
        });
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

/// `label value` with the label dim.
fn kv(v: &View<'_>, label: &str, value: String, style: Style) -> Vec<Span<'static>> {
    vec![
        Span::styled(format!("{label} "), v.theme().dim()),
        Span::styled(value, style),
    ]
}

fn activity_lines(v: &View<'_>, width: usize, room: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(a) = v.server.activity() else {
        return Vec::new();
    };
    let count = |state: &str| {
        a.states
            .iter()
            .filter(|s| s.state == state)
            .map(|s| s.count)
            .sum::<i32>()
    };
    let idle_tx = count("idle in transaction") + count("idle in transaction (aborted)");
    let mut lines = vec![Line::from(
        [
            kv(
                v,
                "backends",
                format!("{}/{}", a.client_backends, a.usable_connections),
                theme.heading(),
            ),
            kv(v, " active", count("active").to_string(), Style::default()),
            kv(
                v,
                " idle in xact",
                idle_tx.to_string(),
                if idle_tx > 0 {
                    theme.caution()
                } else {
                    Style::default()
                },
            ),
            kv(
                v,
                " waiting",
                a.waiting_on_lock.to_string(),
                if a.waiting_on_lock > 0 {
                    theme.alarm()
                } else {
                    Style::default()
                },
            ),
        ]
        .concat(),
    )];
    let tree = lock_tree(&a.sessions);
    match tree.first() {
        Some(root) => {
            let who = a.sessions.iter().find(|s| s.pid == root.pid);
            let mut head = format!("root blocker pid {}", root.pid);
            if let Some(s) = who {
                if let Some(u) = &s.usename {
                    head.push_str(&format!(" ({})", text::clean(u)));
                }
                if let Some(state) = &s.state {
                    head.push_str(&format!(" {}", text::clean(state)));
                }
            }
            lines.push(Line::from(Span::styled(
                text::truncate(&head, width),
                theme.alarm(),
            )));
            let waiters: Vec<String> = root
                .waiters
                .iter()
                .take(4)
                .map(|w| format!("{} {}", w.pid, dur(w.wait_s)))
                .collect();
            let mut waits = format!("  blocks {}: {}", root.behind(), waiters.join(", "));
            if root.waiters.len() > 4 {
                waits.push_str(&format!(" +{}", root.waiters.len() - 4));
            }
            lines.push(Line::from(text::truncate(&waits, width)));
            if let Some(s) = who {
                lines.push(Line::from(Span::styled(
                    format!("  {}", text::one_line(&s.query, width.saturating_sub(2))),
                    theme.dim(),
                )));
            }
            if tree.len() > 1 {
                lines.push(Line::from(Span::styled(
                    format!("  {} more root blockers", tree.len() - 1),
                    theme.dim(),
                )));
            }
        }
        None => lines.push(Line::from(Span::styled("no lock waits", theme.ok()))),
    }
    // the longest-running active queries, as many as the tile has room for
    let mut active: Vec<_> = a
        .sessions
        .iter()
        .filter(|s| s.state.as_deref() == Some("active") && s.backend_type == "client backend")
        .collect();
    active.sort_by(|x, y| {
        y.query_age_s
            .get()
            .unwrap_or(0.0)
            .total_cmp(&x.query_age_s.get().unwrap_or(0.0))
    });
    let left = room.saturating_sub(lines.len() + 1);
    if !active.is_empty() && left > 0 {
        lines.push(Line::from(Span::styled("longest active:", theme.dim())));
        for s in active.iter().take(left) {
            let head = format!("{:>7} {:>6} ", s.pid, dur(s.query_age_s.get()));
            let room = width.saturating_sub(text::width(&head));
            lines.push(Line::from(vec![
                Span::styled(head, theme.heading()),
                Span::raw(text::one_line(&s.query, room)),
            ]));
        }
    }
    lines
}

fn statements_lines(v: &View<'_>, width: usize, room: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(st) = v.server.statements() else {
        return Vec::new();
    };
    let mut top: Vec<_> = st
        .statements
        .iter()
        .filter(|s| s.exec_time_ms_per_s.get().is_some_and(|t| t > 0.0))
        .collect();
    top.sort_by(|a, b| {
        b.exec_time_ms_per_s
            .get()
            .unwrap_or(0.0)
            .total_cmp(&a.exec_time_ms_per_s.get().unwrap_or(0.0))
    });
    if top.is_empty() {
        let note = if st.statements.iter().any(|s| s.exec_time_ms_per_s.is_some()) {
            format!(
                "{} statements, none ran since the last sample",
                st.statements.len()
            )
        } else {
            format!(
                "{} statements; rates from the next sample",
                st.statements.len()
            )
        };
        return vec![Line::from(Span::styled(note, theme.dim()))];
    }
    let mut lines = vec![Line::from(Span::styled("top by time/s:", theme.dim()))];
    for s in top.iter().take(room.saturating_sub(1).clamp(1, 20)) {
        let time = format_duration_s(s.exec_time_ms_per_s.get().unwrap_or(0.0) / 1000.0);
        let calls = s
            .calls_per_s
            .get()
            .map_or_else(|| "-".into(), |c| format!("{}/s", format_count(c)));
        let head = format!("{:>9} {:>8} ", format!("{time}/s"), calls);
        let room = width.saturating_sub(text::width(&head));
        let query = s.query.as_deref().unwrap_or("(text not read yet)");
        lines.push(Line::from(vec![
            Span::styled(head, theme.heading()),
            Span::raw(text::one_line(query, room)),
        ]));
    }
    lines
}

fn cache_lines(v: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(c) = v.server.cache() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    // the database of this connection first, else the busiest
    let db = v
        .server
        .server()
        .and_then(|s| c.databases.iter().find(|d| d.datname == s.datname))
        .or_else(|| {
            c.databases.iter().max_by(|a, b| {
                let busy = |d: &crate::sample::DatabaseCache| {
                    d.blks_hit_per_s.unwrap_or(0.0) + d.blks_read_per_s.unwrap_or(0.0)
                };
                busy(a).total_cmp(&busy(b))
            })
        });
    if let Some(d) = db {
        let low = d.interval_hit_ratio.is_some_and(|r| r < 0.9);
        lines.push(Line::from(
            [
                kv(
                    v,
                    &format!("{} hit ratio now", text::one_line(&d.datname, 30)),
                    pct(d.interval_hit_ratio),
                    if low {
                        theme.caution()
                    } else {
                        theme.heading()
                    },
                ),
                kv(v, " lifetime", pct(d.hit_ratio), Style::default()),
            ]
            .concat(),
        ));
        lines.push(Line::from(
            kv(
                v,
                "reads from disk",
                d.blks_read_per_s
                    .map_or_else(|| "-".into(), |r| format!("{} blocks/s", format_count(r))),
                Style::default(),
            )
            .to_vec(),
        ));
    }
    // the table reading most from disk, with its hit ratio now
    if let Some(t) = c
        .tables
        .iter()
        .filter(|t| t.blks_read_per_s.is_some_and(|r| r > 0.0))
        .max_by(|a, b| {
            a.blks_read_per_s
                .unwrap_or(0.0)
                .total_cmp(&b.blks_read_per_s.unwrap_or(0.0))
        })
    {
        let name = format!("{}.{}", t.schemaname, t.relname);
        lines.push(Line::from(vec![
            Span::styled("worst table ", theme.dim()),
            Span::raw(text::one_line(&name, width.saturating_sub(30))),
            Span::raw(format!(
                " {} · {} reads/s",
                pct(t.interval_hit_ratio),
                format_count(t.blks_read_per_s.unwrap_or(0.0))
            )),
        ]));
    } else if !c.tables.is_empty() {
        lines.push(Line::from(Span::styled(
            "no table reads from disk now",
            theme.ok(),
        )));
    }
    lines
}

fn replication_lines(v: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(r) = v.server.replication() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if r.role == ServerRole::Standby {
        if let Some(st) = &r.standby_status {
            let from = match (&st.sender_host, st.sender_port) {
                (Some(h), Some(p)) => format!("{}:{p}", text::one_line(h, 40)),
                _ => "?".into(),
            };
            lines.push(Line::from(
                [
                    kv(v, "standby of", from, theme.heading()),
                    kv(
                        v,
                        " receiver",
                        st.wal_receiver_status
                            .as_deref()
                            .map_or_else(|| "not running".into(), |s| text::one_line(s, 20)),
                        if st.wal_receiver_status.as_deref() == Some("streaming") {
                            Style::default()
                        } else {
                            theme.alarm()
                        },
                    ),
                ]
                .concat(),
            ));
            lines.push(Line::from(
                [
                    kv(v, "replay lag", dur(st.replay_lag_s), theme.heading()),
                    kv(v, "", super::bytes(st.replay_lag_bytes), Style::default()),
                ]
                .concat(),
            ));
            if st.replay_paused {
                lines.push(Line::from(Span::styled("replay PAUSED", theme.alarm())));
            }
        }
    } else if r.standbys.is_empty() {
        lines.push(Line::from(Span::styled(
            "no standby connected",
            theme.dim(),
        )));
    } else {
        for s in r.standbys.iter().take(3) {
            let name = if s.application_name.is_empty() {
                s.client_addr.clone().unwrap_or_else(|| s.pid.to_string())
            } else {
                s.application_name.clone()
            };
            let state = match s.lag_state {
                LagState::Idle => "caught up".to_owned(),
                LagState::Streaming => format!("replay lag {}", dur(s.replay_lag_s)),
                LagState::CatchingUp => s.state.clone().unwrap_or_else(|| "catching up".into()),
                LagState::Unknown => "lag hidden (needs pg_monitor)".into(),
            };
            let line = format!(
                "{} {state} · {} behind",
                text::one_line(&name, 24),
                super::bytes(s.replay_lag_bytes)
            );
            lines.push(Line::from(text::truncate(&line, width)));
        }
        if r.standbys.len() > 3 {
            lines.push(Line::from(Span::styled(
                format!("+{} more standbys", r.standbys.len() - 3),
                theme.dim(),
            )));
        }
    }
    match r
        .slots
        .iter()
        .max_by_key(|s| s.retained_wal_bytes.unwrap_or(0))
    {
        Some(slot) => {
            let mut line = format!(
                "fullest slot {} {}",
                text::one_line(&slot.slot_name, 30),
                super::bytes(slot.retained_wal_bytes)
            );
            if !slot.active {
                line.push_str(" inactive");
            }
            let style = if slot.active {
                Style::default()
            } else {
                theme.caution()
            };
            lines.push(Line::from(Span::styled(
                text::truncate(&line, width),
                style,
            )));
            if let Some(eta) = slot.invalidation_eta_s {
                lines.push(Line::from(Span::styled(
                    format!("  lost in {} at this rate", format_duration_s(eta)),
                    style,
                )));
            }
        }
        None => lines.push(Line::from(Span::styled(
            "no replication slots",
            theme.dim(),
        ))),
    }
    lines
}

fn unused_index_lines(v: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(u) = v.server.unused_indexes() else {
        return Vec::new();
    };
    let mut lines = vec![Line::from(
        [
            kv(v, "unused", format!("{}", u.indexes_total), theme.heading()),
            kv(
                v,
                " taking",
                format_bytes(u.index_size_bytes_total as f64),
                Style::default(),
            ),
        ]
        .concat(),
    )];
    if let Some(i) = u.indexes.iter().max_by_key(|i| i.index_size_bytes) {
        let name = format!("{}.{}", i.schemaname, i.indexrelname);
        let line = format!(
            "biggest {} {} on {}",
            text::one_line(&name, 40),
            format_bytes(i.index_size_bytes as f64),
            text::one_line(&i.relname, 30)
        );
        lines.push(Line::from(text::truncate(&line, width)));
        if !i.is_valid {
            lines.push(Line::from(Span::styled(
                "  INVALID (a failed CREATE INDEX CONCURRENTLY)",
                theme.caution(),
            )));
        }
    }
    lines
}

fn vacuum_lines(v: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(vac) = v.server.vacuum() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if let Some(d) = vac.databases.iter().max_by_key(|d| d.xid_age) {
        let style = theme.gauge(area_severity(v, Some(Area::Vacuum)));
        let mut line = vec![
            Span::styled("oldest xid age ", theme.dim()),
            Span::styled(
                format!(
                    "{} {} {:.1}% of wraparound",
                    text::one_line(&d.datname, 30),
                    format_count(d.xid_age as f64),
                    d.xid_wraparound_pct
                ),
                style,
            ),
        ];
        let eta = match (d.xid_per_s, d.xid_wraparound_eta_s) {
            (_, Some(eta)) => format!(" · stop in {}", format_duration_s(eta)),
            (Some(_), None) => String::new(),
            (None, None) => " · estimating…".to_owned(),
        };
        line.push(Span::styled(eta, theme.dim()));
        lines.push(Line::from(line));
    }
    lines.push(Line::from(
        kv(
            v,
            "vacuum workers",
            format!("{}/{}", vac.workers.len(), vac.autovacuum_max_workers),
            Style::default(),
        )
        .to_vec(),
    ));
    if let Some(t) = vac
        .dead_tuples
        .iter()
        .max_by_key(|t| t.n_dead_tup)
        .filter(|t| t.n_dead_tup > 0)
    {
        let line = format!(
            "most dead rows {}.{} {} ({})",
            text::one_line(&t.schemaname, 20),
            text::one_line(&t.relname, 30),
            format_count(t.n_dead_tup as f64),
            pct(t.dead_tup_ratio)
        );
        lines.push(Line::from(text::truncate(&line, width)));
    }
    if let Some(h) = vac.xmin_horizon.iter().max_by_key(|h| h.xmin_age) {
        let line = format!(
            "xmin held by {} {} ({} xids)",
            text::one_line(&h.kind, 20),
            text::one_line(&h.name, 30),
            format_count(h.xmin_age as f64)
        );
        lines.push(Line::from(Span::styled(
            text::truncate(&line, width),
            theme.dim(),
        )));
    }
    lines
}

fn wal_lines(v: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let theme = v.theme();
    let Some(w) = crate::model::areas::wal::sample(v.server) else {
        return Vec::new();
    };
    let what = if w.in_recovery { "replayed" } else { "written" };
    let mut lines = vec![Line::from(
        kv(
            v,
            &format!("WAL {what}"),
            w.wal_bytes_per_s
                .map_or_else(|| "-".into(), |b| format!("{}/s", format_bytes(b))),
            theme.heading(),
        )
        .to_vec(),
    )];
    if let (Some(timed), Some(requested)) = (
        w.checkpoints_timed_in_window,
        w.checkpoints_requested_in_window,
    ) {
        let forced = requested > 0 && requested >= timed;
        lines.push(Line::from(
            kv(
                v,
                "checkpoints",
                match w.checkpoints_window_s {
                    Some(window) => format!(
                        "{timed} timed, {requested} requested in {}",
                        format_duration_s(window)
                    ),
                    None => format!("{timed} timed, {requested} requested"),
                },
                if forced {
                    theme.caution()
                } else {
                    Style::default()
                },
            )
            .to_vec(),
        ));
    }
    if w.archive_failing {
        let line = format!(
            "archiver FAILING: {}",
            w.last_failed_wal
                .as_deref()
                .map_or_else(|| "?".into(), |f| text::one_line(f, 40))
        );
        lines.push(Line::from(Span::styled(
            text::truncate(&line, width),
            theme.alarm(),
        )));
    } else if w.archive_mode != "off" {
        lines.push(Line::from(Span::styled(
            format!(
                "archiver ok, {} archived",
                format_count(w.archived_count as f64)
            ),
            theme.ok(),
        )));
    }
    lines
}

fn alerts_tile(v: &View<'_>, rect: Rect, buf: &mut Buffer) {
    let theme = v.theme();
    let (warnings, critical) = v.server.alerts.counts();
    let key = crate::sample::Area::tabs().count() + 1;
    let title = format!("Alerts: {critical} critical, {warnings} warning");
    super::record_tile(rect, key);
    let block = tile_block(v, key, &title, None);
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.height == 0 {
        return;
    }
    let mut active: Vec<_> = v.server.alerts.active.values().collect();
    active.sort_by(|a, b| {
        b.alert
            .severity
            .cmp(&a.alert.severity)
            .then(a.since.cmp(&b.since))
    });
    let width = usize::from(inner.width);
    let lines: Vec<Line<'static>> = if active.is_empty() {
        vec![Line::from(Span::styled("no active alerts", theme.ok()))]
    } else {
        active
            .iter()
            .map(|a| {
                let word = match a.alert.severity {
                    Severity::Critical => "CRITICAL ",
                    Severity::Warning => "WARNING  ",
                };
                let for_s = super::age_s(v.now, a.since);
                let head = format!("{word}{:>7} ", format_duration_s(for_s.round()));
                let room = width.saturating_sub(text::width(&head));
                Line::from(vec![
                    Span::styled(head, theme.severity(Some(a.alert.severity))),
                    Span::raw(text::one_line(&a.alert.message, room)),
                ])
            })
            .collect()
    };
    Paragraph::new(lines).render(inner, buf);
}
