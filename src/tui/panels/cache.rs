//! Cache: buffer cache hits per database (`pg_stat_database`) over the interval and over the
//! lifetime of the statistics, and the tables with the most block reads
//! (`pg_statio_user_tables`).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Widget};

use super::{View, frame, note, pct, rate, render_table, rest_width, split_top};
use crate::model::alerts::Subject;
use crate::sample::Area;
use crate::sample::{CacheSample, TableCache};
use crate::tui::state::{Tab, UiState};
use crate::tui::text;

/// Sort columns of the tables list, in the order `s` cycles them.
pub const SORT_NAMES: &[&str] = &[
    "reads/s",
    "hits/s",
    "hit % (interval, worst first)",
    "reads (lifetime)",
    "hit % (lifetime, worst first)",
];

fn lifetime_reads(t: &TableCache) -> i64 {
    t.heap_blks_read + t.idx_blks_read + t.toast_blks_read
}

/// Tables after filter and sort; rows without a value stay last.
pub fn rows<'a>(c: &'a CacheSample, ui: &UiState) -> Vec<&'a TableCache> {
    let key = ui.sort_of(Tab::Cache);
    let rev = ui.reversed(Tab::Cache);
    let mut rows: Vec<&TableCache> = c
        .tables
        .iter()
        .filter(|t| ui.matches(&[&t.schemaname, &t.relname]))
        .collect();
    // larger is first, except hit ratios (worst, i.e. smallest, first)
    let value = |t: &TableCache| -> Option<f64> {
        match key {
            0 => t.blks_read_per_s,
            1 => t.blks_hit_per_s,
            2 => t.interval_hit_ratio.map(|r| -r),
            3 => Some(lifetime_reads(t) as f64),
            _ => t.hit_ratio.map(|r| -r),
        }
    };
    rows.sort_by(|a, b| {
        match (value(a), value(b)) {
            (Some(x), Some(y)) => {
                let o = y.total_cmp(&x);
                if rev { o.reverse() } else { o }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(lifetime_reads(b).cmp(&lifetime_reads(a)))
        .then(a.relid.cmp(&b.relid))
    });
    rows
}

/// The cache panel.
pub struct CachePanel<'a> {
    pub view: View<'a>,
}

impl Widget for CachePanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let Some(inner) = frame("Cache", v, Area::Cache, rect, buf) else {
            return;
        };
        let Some(c) = v.server.cache() else {
            return;
        };
        // databases
        let n = (c.databases.len() as u16 + 1).min((inner.height / 3).max(2));
        let (db_rect, rest) = split_top(inner, n);
        let db_rows: Vec<Row<'static>> = c
            .databases
            .iter()
            .map(|d| {
                let sev = v
                    .server
                    .alerts
                    .worst_in(Area::Cache, &Subject::Database(d.datname.clone()));
                Row::new(vec![
                    Cell::from(text::one_line(&d.datname, 20)),
                    Cell::from(pct(d.interval_hit_ratio)),
                    Cell::from(rate(d.blks_hit_per_s)),
                    Cell::from(rate(d.blks_read_per_s)),
                    Cell::from(pct(d.hit_ratio)),
                    Cell::from(crate::model::format_count(d.blks_read as f64)),
                ])
                .style(theme.severity(sev))
            })
            .collect();
        render_table(
            db_rect,
            buf,
            theme,
            [
                "database",
                "hit %",
                "hits/s",
                "reads/s",
                "hit % life",
                "reads life",
            ]
            .map(String::from)
            .to_vec(),
            db_rows,
            vec![
                Constraint::Length(20),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(10),
                Constraint::Length(10),
            ],
            None,
        );
        if rest.height < 2 {
            return;
        }
        let (gap, rest) = split_top(rest, 1);
        let _ = gap;
        let list = rows(c, v.ui);
        if list.is_empty() {
            let msg = if v.ui.filter.is_empty() {
                "no table has been read yet".to_string()
            } else {
                format!(
                    "no table matches the filter {:?}",
                    text::clean(&v.ui.filter)
                )
            };
            note(rest, buf, msg, theme.dim());
            return;
        }
        let fixed = [9u16, 9, 7, 10, 10];
        let nw = rest_width(rest.width, &fixed);
        let table_rows: Vec<Row<'static>> = list
            .iter()
            .map(|t| {
                let sev = v
                    .server
                    .alerts
                    .worst_in(Area::Cache, &Subject::table(&t.schemaname, &t.relname));
                Row::new(vec![
                    Cell::from(rate(t.blks_read_per_s)),
                    Cell::from(rate(t.blks_hit_per_s)),
                    Cell::from(pct(t.interval_hit_ratio)),
                    Cell::from(crate::model::format_count(lifetime_reads(t) as f64)),
                    Cell::from(pct(t.hit_ratio)),
                    Cell::from(text::one_line(
                        &format!("{}.{}", t.schemaname, t.relname),
                        nw,
                    )),
                ])
                .style(theme.severity(sev))
            })
            .collect();
        let mut widths: Vec<Constraint> = fixed.iter().map(|w| Constraint::Length(*w)).collect();
        widths.push(Constraint::Fill(1));
        render_table(
            rest,
            buf,
            theme,
            [
                "reads/s",
                "hits/s",
                "hit %",
                "reads life",
                "hit % life",
                "table (most reads)",
            ]
            .map(String::from)
            .to_vec(),
            table_rows,
            widths,
            Some(v.ui.selected[Tab::Cache.index()]),
        );
    }
}
