//! Cache: buffer cache hits per database (`pg_stat_database`) over the interval and over the
//! lifetime of the statistics, and the tables with the most block reads
//! (`pg_statio_user_tables`).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Widget};

use super::{View, frame, note, pct, rate, render_table, rest_width, split_top};
use crate::model::alerts::Subject;
use crate::sample::Area;
use crate::sample::CacheSample;
use crate::tui::table::{self, TableQuery, lifetime_reads};
use crate::tui::text;

/// The cache panel.
pub struct CachePanel<'a> {
    pub view: View<'a>,
    /// Sort and filter of the tables list.
    pub query: TableQuery<'a>,
    /// Selected row of the tables list.
    pub selected: usize,
}

impl Widget for CachePanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let Some(inner) = frame(Area::Cache.title(false), v, Area::Cache, rect, buf) else {
            return;
        };
        let Some(c) = v.server.cache() else {
            return;
        };
        // databases
        let n = (c.databases.len() as u16 + 1).min((inner.height / 3).max(2));
        let (db_rect, rest) = split_top(inner, n);
        databases_table(v, c, db_rect, buf);
        if rest.height < 2 {
            return;
        }
        let (_gap, rest) = split_top(rest, 1);
        self.tables_table(c, rest, buf);
    }
}

/// Hits and reads per database, over the interval and the lifetime of the statistics.
fn databases_table(v: &View<'_>, c: &CacheSample, db_rect: Rect, buf: &mut Buffer) {
    let theme = v.theme();
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
}

impl CachePanel<'_> {
    /// The tables with the most reads, sorted and filtered, or a note when none is listed.
    fn tables_table(&self, c: &CacheSample, rest: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let list = table::cache_tables(c, &self.query);
        if list.is_empty() {
            let msg = if self.query.filter.is_empty() {
                "no table has been read yet".to_string()
            } else {
                format!(
                    "no table matches the filter {:?}",
                    text::clean(self.query.filter)
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
            ["reads/s", "hits/s", "hit %", "reads life", "hit % life"]
                .map(String::from)
                .into_iter()
                .chain([tables_heading(c)])
                .collect(),
            table_rows,
            widths,
            Some(self.selected),
        );
    }
}

/// The heading of the tables' name column: which tables these are, and how many of how many
/// when the database has more than are followed.
fn tables_heading(c: &CacheSample) -> String {
    let listed = c.tables.len() as i64;
    if c.tables_total > listed {
        format!("table ({listed} of {}, by reads)", c.tables_total)
    } else {
        "table (most reads)".to_string()
    }
}
