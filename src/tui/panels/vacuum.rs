//! Vacuum: xid and multixact age of every database as a gauge towards wraparound, with the
//! rate they grow at and the time left to the wraparound stop (or "estimating…"), running
//! vacuum workers with their progress, what holds the xmin horizon back, the tables with the
//! most dead tuples and the tables with the oldest relfrozenxid.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, LineGauge, Paragraph, Row, Widget};

use super::activity::privilege_line;
use super::{View, ago, bytes, dur, frame, render_table, split_top};
use crate::model::alerts::Subject;
use crate::model::{format_count, format_duration_s};
use crate::sample::Area;
use crate::sample::Rule;
use crate::sample::{DatabaseAge, TableAge, TableDeadTuples, VacuumSample};
use crate::tui::text;

/// A text progress bar of `width` cells for a ratio 0..1.
pub fn bar(ratio: f64, width: usize) -> String {
    let r = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let full = (r * width as f64).round() as usize;
    format!(
        "{}{}",
        "█".repeat(full),
        "░".repeat(width.saturating_sub(full))
    )
}

/// The vacuum panel.
pub struct VacuumPanel<'a> {
    pub view: View<'a>,
}

impl Widget for VacuumPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let Some(inner) = frame(Area::Vacuum.title(false), v, Area::Vacuum, rect, buf) else {
            return;
        };
        let Some(vac) = v.server.vacuum() else {
            return;
        };
        // what the role cannot see (other roles' vacuums and xmin holders), first
        let inner = match privilege_line(v, Area::Vacuum, inner.width) {
            Some(line) if inner.height > 4 => {
                let (top, inner) = split_top(inner, 1);
                Paragraph::new(line).render(top, buf);
                inner
            }
            _ => inner,
        };
        let rest = gauges_section(v, &vac.databases, inner, buf);
        let lines = workers_lines(v, vac);
        let n = (lines.len() as u16).min(rest.height / 2);
        let (mid, rest) = split_top(rest, n);
        Paragraph::new(lines).render(mid, buf);
        if rest.height < 2 {
            return;
        }
        // dead tuples and oldest tables
        let (dead_rect, old_rect) = if rest.width >= 120 {
            let halves = Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)])
                .spacing(1)
                .split(rest);
            (halves[0], halves[1])
        } else {
            let h = rest.height / 2 + rest.height % 2;
            split_top(rest, h)
        };
        dead_tuples_table(v, &vac.dead_tuples, dead_rect, buf);
        oldest_tables_table(v, &vac.oldest_tables, old_rect, buf);
    }
}

/// Wraparound gauges of each database (xid and multixact side by side), oldest first, in at
/// most a quarter of `inner`: two lines per database when that quarter has room for two
/// (the gauges, then the rates and the time left), else the gauges only. Returns the space
/// below them.
fn gauges_section(v: &View<'_>, databases: &[DatabaseAge], inner: Rect, buf: &mut Buffer) -> Rect {
    let mut dbs: Vec<_> = databases.iter().collect();
    dbs.sort_by_key(|d| std::cmp::Reverse(d.xid_age));
    let quarter = (inner.height / 4).max(1);
    let per_db: u16 = if quarter >= 2 { 2 } else { 1 };
    let n = (dbs.len() as u16).min((quarter / per_db).max(1));
    let (gauges, rest) = split_top(inner, n * per_db);
    for (i, d) in dbs.iter().take(n as usize).enumerate() {
        let line = Rect {
            y: gauges.y + i as u16 * per_db,
            height: 1,
            ..gauges
        };
        database_gauges(v, d, line, buf);
        if per_db == 2 {
            let below = Rect {
                y: line.y + 1,
                ..line
            };
            forecast_line(v, d, below, buf);
        }
    }
    rest
}

/// How fast an age grows and when it reaches the wraparound stop, in at most `width`
/// columns: `+120 xid/s · wraparound stop in 62d03h`, shorter forms when narrow,
/// `xid/s estimating…` without a rate yet, `+0 xid/s` when nothing is consumed.
pub fn forecast_text(what: &str, rate: Option<f64>, eta_s: Option<f64>, width: usize) -> String {
    let Some(rate) = rate else {
        return format!("{what}/s estimating…");
    };
    let per_s = format!("+{} {what}/s", format_count(rate));
    let Some(eta) = eta_s else {
        return per_s;
    };
    let left = if eta <= 0.0 {
        "at the wraparound stop".to_string()
    } else {
        format!("wraparound stop in {}", format_duration_s(eta))
    };
    let short_left = if eta <= 0.0 {
        "stopped".to_string()
    } else {
        format!("stop in {}", format_duration_s(eta))
    };
    [
        format!("{per_s} · {left}"),
        format!("{per_s} · {short_left}"),
        format!("+{}/s · {short_left}", format_count(rate)),
    ]
    .into_iter()
    .find(|t| t.chars().count() <= width)
    .unwrap_or(short_left)
}

/// The second line of a database: the xid and multixact forecasts under their gauges, in
/// the style of the wraparound-ETA alert.
fn forecast_line(v: &View<'_>, d: &DatabaseAge, line: Rect, buf: &mut Buffer) {
    let theme = v.theme();
    let sev = v.server.alerts.severity_of(
        Rule::XidWraparoundEta,
        &Subject::Database(d.datname.clone()),
    );
    let halves = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(1)
        .split(line);
    let width = |r: Rect| usize::from(r.width).saturating_sub(2);
    let xid = forecast_text("xid", d.xid_per_s, d.xid_wraparound_eta_s, width(halves[0]));
    let style = if sev.is_some() {
        theme.severity(sev)
    } else {
        theme.dim()
    };
    Paragraph::new(Line::from(Span::styled(format!("  {xid}"), style))).render(halves[0], buf);
    let mxid = forecast_text(
        "mxid",
        d.mxid_per_s,
        d.mxid_wraparound_eta_s,
        width(halves[1]),
    );
    Paragraph::new(Line::from(Span::styled(format!("  {mxid}"), theme.dim())))
        .render(halves[1], buf);
}

/// The xid and the multixact gauges of one database, in the halves of `line`.
fn database_gauges(v: &View<'_>, d: &DatabaseAge, line: Rect, buf: &mut Buffer) {
    let theme = v.theme();
    let alerts = &v.server.alerts;
    let halves = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(1)
        .split(line);
    let sev_x = alerts.severity_of(Rule::XidAge, &Subject::Database(d.datname.clone()));
    let sev_m = alerts.severity_of(Rule::MxidAge, &Subject::Database(d.datname.clone()));
    let name = text::one_line(&d.datname, 16);
    let gauge = |label: String, pct: f64, sev, rect: Rect, buf: &mut Buffer| {
        LineGauge::default()
            .ratio((pct / 100.0).clamp(0.0, 1.0))
            .label(Span::styled(label, theme.severity(sev)))
            .filled_style(theme.gauge(sev))
            .filled_symbol("█")
            .unfilled_symbol("░")
            .render(rect, buf);
    };
    let xid = format!(
        "{name} xid {} {:.1}%",
        format_count(d.xid_age as f64),
        d.xid_wraparound_pct
    );
    gauge(xid, d.xid_wraparound_pct, sev_x, halves[0], buf);
    let mxid = format!(
        "mxid {} {:.1}%",
        format_count(d.mxid_age as f64),
        d.mxid_wraparound_pct
    );
    gauge(mxid, d.mxid_wraparound_pct, sev_m, halves[1], buf);
}

/// The vacuum workers with their progress, then what holds the xmin horizon back.
fn workers_lines(v: &View<'_>, vac: &VacuumSample) -> Vec<Line<'static>> {
    let theme = v.theme();
    let mut lines: Vec<Line<'static>> = vec![Line::from(Span::styled(
        format!(
            "vacuum workers {}/{} · autovacuum_freeze_max_age {}",
            vac.workers.len(),
            vac.autovacuum_max_workers,
            format_count(vac.autovacuum_freeze_max_age as f64)
        ),
        theme.heading(),
    ))];
    for w in &vac.workers {
        let ratio = w.scanned_ratio.unwrap_or(0.0);
        lines.push(Line::from(format!(
            "{} {} {} {} {} {:.0}% · {} · index passes {}",
            if w.is_autovacuum { "auto" } else { "manual" },
            w.pid,
            text::one_line(w.relname.as_deref().unwrap_or("?"), 30),
            text::one_line(&w.phase, 24),
            bar(ratio, 10),
            ratio * 100.0,
            dur(w.running_s),
            w.index_vacuum_count
        )));
    }
    if !vac.xmin_horizon.is_empty() {
        lines.push(Line::from(Span::styled(
            "holding the xmin horizon back (oldest first)",
            theme.heading(),
        )));
        for h in vac.xmin_horizon.iter().take(5) {
            lines.push(Line::from(format!(
                "{} {}: xmin age {} · {}",
                text::one_line(&h.kind, 30),
                text::one_line(&h.name, 30),
                format_count(h.xmin_age as f64),
                text::clean(&h.detail)
            )));
        }
    }
    lines
}

/// The tables with the most dead tuples, in the style of their worst alert.
fn dead_tuples_table(v: &View<'_>, tables: &[TableDeadTuples], rect: Rect, buf: &mut Buffer) {
    let theme = v.theme();
    let rows: Vec<Row<'static>> = tables
        .iter()
        .map(|t| {
            let sev = v
                .server
                .alerts
                .worst_in(Area::Vacuum, &Subject::table(&t.schemaname, &t.relname));
            Row::new(vec![
                Cell::from(format_count(t.n_dead_tup as f64)),
                Cell::from(super::pct(t.dead_tup_ratio)),
                Cell::from(ago(t.last_autovacuum_age_s.or(t.last_vacuum_age_s))),
                Cell::from(text::one_line(
                    &format!("{}.{}", t.schemaname, t.relname),
                    (rect.width as usize).saturating_sub(34),
                )),
            ])
            .style(theme.severity(sev))
        })
        .collect();
    render_table(
        rect,
        buf,
        theme,
        ["dead", "dead %", "vacuumed", "table (most dead tuples)"]
            .map(String::from)
            .to_vec(),
        rows,
        vec![
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(15),
            Constraint::Fill(1),
        ],
        None,
    );
}

/// The tables with the oldest relfrozenxid.
fn oldest_tables_table(v: &View<'_>, tables: &[TableAge], rect: Rect, buf: &mut Buffer) {
    let rows: Vec<Row<'static>> = tables
        .iter()
        .map(|t| {
            Row::new(vec![
                Cell::from(format_count(t.xid_age as f64)),
                Cell::from(format_count(t.mxid_age as f64)),
                Cell::from(bytes(Some(t.table_size_bytes))),
                Cell::from(text::one_line(
                    &format!("{}.{}", t.schemaname, t.relname),
                    (rect.width as usize).saturating_sub(30),
                )),
            ])
        })
        .collect();
    render_table(
        rect,
        buf,
        v.theme(),
        ["xid age", "mxid age", "size", "table (oldest relfrozenxid)"]
            .map(String::from)
            .to_vec(),
        rows,
        vec![
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Fill(1),
        ],
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::{bar, forecast_text};

    #[test]
    fn forecast_text_fits_its_width() {
        let eta = Some(3.0 * 86_400.0 + 4.0 * 3_600.0);
        assert_eq!(
            forecast_text("xid", Some(120.0), eta, 60),
            "+120 xid/s · wraparound stop in 3d04h"
        );
        assert_eq!(
            forecast_text("xid", Some(120.0), eta, 30),
            "+120 xid/s · stop in 3d04h"
        );
        assert_eq!(
            forecast_text("xid", Some(120.0), eta, 24),
            "+120/s · stop in 3d04h"
        );
        assert_eq!(forecast_text("xid", Some(120.0), eta, 10), "stop in 3d04h");
        assert_eq!(forecast_text("mxid", Some(0.0), None, 60), "+0 mxid/s");
        assert_eq!(forecast_text("xid", None, None, 60), "xid/s estimating…");
        assert_eq!(
            forecast_text("xid", Some(5.0), Some(0.0), 60),
            "+5 xid/s · at the wraparound stop"
        );
    }

    #[test]
    fn bar_is_bounded_whatever_the_ratio() {
        assert_eq!(bar(0.5, 4), "██░░");
        assert_eq!(bar(2.0, 3), "███");
        assert_eq!(bar(-1.0, 2), "░░");
        assert_eq!(bar(f64::NAN, 2), "░░");
    }
}
