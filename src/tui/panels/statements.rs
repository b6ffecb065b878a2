//! Statements: the top pg_stat_statements entries, sortable by rates over the interval
//! (execution time per second, calls, rows and blocks read per second, interval mean; the
//! time per second spent reading and writing shared and temporary blocks, WAL bytes, JIT and
//! planning) or lifetime values (mean, total time); which columns a width shows:
//! [`columns`]. Rows without a baseline yet show `-` for rates, never the lifetime counter,
//! and so do counters the extension version lacks. While `track_io_timing` is off a line
//! under the summary says so, with the fix. The rows and their order:
//! [`crate::tui::table::statements`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::{View, ago, frame, note, rate, render_table_window, rest_width, split_top};
use crate::model::areas::waits::WaitWindow;
use crate::model::format_duration_s;
use crate::sample::Area;
use crate::sample::{Statement, StatementsSample};
use crate::tui::table::{self, TableQuery};
use crate::tui::text;

/// The server's `track_io_timing` is known to be off ([`ServerSample::track_io_timing`]):
/// the statements' I/O times do not grow.
///
/// [`ServerSample::track_io_timing`]: crate::sample::ServerSample::track_io_timing
pub fn io_timing_off(server: &crate::model::ServerState) -> bool {
    server.server().and_then(|s| s.track_io_timing) == Some(false)
}

/// The note shown while `track_io_timing` is off, with the fix, in at most `max` columns:
/// the longest wording that fits.
pub fn io_timing_note(max: usize) -> String {
    const WORDINGS: [&str; 3] = [
        "track_io_timing is off, so the I/O times stay 0: \
         ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();",
        "track_io_timing = off: ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();",
        "track_io_timing off: ALTER SYSTEM SET track_io_timing = on, then reload",
    ];
    WORDINGS
        .iter()
        .find(|w| text::width(w) <= max)
        .map_or_else(|| text::truncate(WORDINGS[2], max), |w| w.to_string())
}

/// Milliseconds as a duration label.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |m| format_duration_s(m / 1000.0))
}

/// The query text of a statement on one line, or what is known when the text is not yet
/// fetched.
pub fn query_line(s: &Statement, max: usize) -> String {
    match &s.query {
        Some(q) => text::one_line(q, max),
        None => text::truncate(
            &format!("(text not fetched yet) queryid {}", s.queryid),
            max,
        ),
    }
}

/// The statements panel.
pub struct StatementsPanel<'a> {
    pub view: View<'a>,
    /// Sort and filter of the statements table.
    pub query: TableQuery<'a>,
    /// Selected row of the statements table.
    pub selected: usize,
}

impl Widget for StatementsPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let title = Area::Statements.title(false);
        let Some(inner) = frame(title, v, Area::Statements, rect, buf) else {
            return;
        };
        let Some(st) = v.server.statements() else {
            return;
        };
        let rest = self.summary_section(st, inner, buf);
        self.statements_table(st, rest, buf);
    }
}

impl StatementsPanel<'_> {
    /// The extension, its entries, reset and evictions, the sort; the sample's notice below.
    /// Returns the space under them.
    fn summary_section(&self, st: &StatementsSample, inner: Rect, buf: &mut Buffer) -> Rect {
        let theme = self.view.theme();
        let mut spans = vec![Span::raw(format!(
            "pg_stat_statements {} ({}) · {} entries",
            text::clean(&st.extension_version),
            text::clean(&st.extension_schema),
            st.statements.len()
        ))];
        if let Some(reset) = st.stats_reset {
            spans.push(Span::raw(format!(
                " · reset {}",
                ago(Some((st.collected_at - reset).max(0.0)))
            )));
        }
        if let Some(d) = st.dealloc {
            let style = if d > 0 { theme.problem() } else { theme.dim() };
            spans.push(Span::styled(format!(" · {d} evicted"), style));
        }
        let names = table::STATEMENTS_SORT;
        spans.push(Span::styled(
            format!(
                " · sort {}{}",
                names[self.query.sort % names.len()],
                if self.query.reverse {
                    " (reversed)"
                } else {
                    ""
                }
            ),
            theme.dim(),
        ));
        let mut lines = vec![Line::from(spans)];
        if let Some(n) = &st.notice {
            lines.push(Line::from(Span::styled(text::clean(n), theme.problem())));
        }
        if let Some(n) = super::waits::failure_note(&self.view, usize::from(inner.width)) {
            lines.push(Line::from(Span::styled(n, theme.problem())));
        }
        if let Some(n) = super::waits::missing_note(&self.view, usize::from(inner.width)) {
            lines.push(Line::from(Span::styled(n, theme.dim())));
        }
        if io_timing_off(self.view.server) {
            lines.push(Line::from(Span::styled(
                io_timing_note(usize::from(inner.width)),
                theme.problem(),
            )));
        }
        let (top, rest) = split_top(inner, lines.len() as u16);
        Paragraph::new(lines).render(top, buf);
        rest
    }

    /// The statements table (only the rows on screen are built), or a note when none is
    /// listed.
    fn statements_table(&self, st: &StatementsSample, rest: Rect, buf: &mut Buffer) {
        let theme = self.view.theme();
        let waits = &self.view.server.waits;
        let list = table::statements(st, waits, &self.query);
        if list.is_empty() {
            let msg = if self.query.filter.is_empty() {
                "no statements recorded yet".to_string()
            } else {
                format!(
                    "no statement matches the filter {:?}",
                    text::clean(self.query.filter)
                )
            };
            note(rest, buf, msg, theme.dim());
            return;
        }
        let columns = columns(rest.width, self.query.sort);
        let mut header: Vec<String> = columns.iter().map(|c| c.header().to_string()).collect();
        header.push("query".into());
        let fixed: Vec<u16> = columns.iter().map(|c| c.width()).collect();
        let qw = rest_width(rest.width, &fixed);
        let row = |i: usize| {
            let s = list[i];
            let mut cells: Vec<Cell<'static>> = columns
                .iter()
                .map(|c| Cell::from(c.value(s, waits)))
                .collect();
            cells.push(Cell::from(query_line(s, qw)));
            // a statement slower than its baseline is coloured like any row over a threshold
            let severity = self.view.server.alerts.worst_in(
                Area::Statements,
                &crate::model::Subject::Statement(s.queryid),
            );
            Row::new(cells).style(theme.severity(severity))
        };
        let mut widths: Vec<Constraint> = fixed.iter().map(|w| Constraint::Length(*w)).collect();
        widths.push(Constraint::Fill(1));
        render_table_window(
            rest,
            buf,
            theme,
            header,
            list.len(),
            row,
            widths,
            Some(self.selected),
        );
    }
}

/// One column of the statements table, before the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    ExecTimePerS,
    CallsPerS,
    IntervalMean,
    RowsPerS,
    ReadsPerS,
    SharedBlkReadTimePerS,
    WalBytesPerS,
    LifetimeMean,
    TotalTime,
    Calls,
    UserDb,
    PlanTimePerS,
    SharedBlkWriteTimePerS,
    TempBlkReadTimePerS,
    TempBlkWriteTimePerS,
    JitTimePerS,
    /// The dominant wait class in the wait profile's window and its share.
    Wait,
}

/// Panel width from which the dominant wait is shown.
pub const IO_WIDTH: u16 = 90;
/// Panel width from which the shared block read time and the WAL bytes per second are shown.
pub const WAL_WIDTH: u16 = 120;
/// Panel width from which the lifetime mean, the total time, the calls and user@db are shown.
pub const WIDE_WIDTH: u16 = 150;
/// Panel width from which every column is shown (also planning, write, temp and JIT time).
pub const ALL_WIDTH: u16 = 200;

impl Column {
    pub fn header(self) -> &'static str {
        match self {
            Column::ExecTimePerS => "time/s",
            Column::CallsPerS => "calls/s",
            Column::IntervalMean => "mean",
            Column::RowsPerS => "rows/s",
            Column::ReadsPerS => "reads/s",
            Column::SharedBlkReadTimePerS => "read t/s",
            Column::WalBytesPerS => "wal/s",
            Column::LifetimeMean => "mean life",
            Column::TotalTime => "total",
            Column::Calls => "calls",
            Column::UserDb => "user@db",
            Column::PlanTimePerS => "plan t/s",
            Column::SharedBlkWriteTimePerS => "write t/s",
            Column::TempBlkReadTimePerS => "tmp rd t/s",
            Column::TempBlkWriteTimePerS => "tmp wr t/s",
            Column::JitTimePerS => "jit t/s",
            Column::Wait => "wait",
        }
    }

    pub fn width(self) -> u16 {
        match self {
            Column::CallsPerS
            | Column::IntervalMean
            | Column::RowsPerS
            | Column::ReadsPerS
            | Column::TotalTime
            | Column::Calls => 8,
            Column::UserDb => 18,
            Column::Wait => super::waits::CELL_WIDTH,
            Column::TempBlkReadTimePerS | Column::TempBlkWriteTimePerS => 10,
            Column::ExecTimePerS
            | Column::SharedBlkReadTimePerS
            | Column::WalBytesPerS
            | Column::LifetimeMean
            | Column::PlanTimePerS
            | Column::SharedBlkWriteTimePerS
            | Column::JitTimePerS => 9,
        }
    }

    /// The cell of statement `s`: `-` where there is no rate yet or the extension version
    /// lacks the counter.
    pub fn value(self, s: &Statement, waits: &WaitWindow) -> String {
        match self {
            Column::Wait => super::waits::cell(waits.of_query(s.queryid)),
            Column::ExecTimePerS => ms_per_s(s.exec_time_ms_per_s.get()),
            Column::CallsPerS => rate(s.calls_per_s.get()),
            Column::IntervalMean => ms(s.interval_mean_exec_time_ms.get()),
            Column::RowsPerS => rate(s.rows_per_s.get()),
            Column::ReadsPerS => rate(s.shared_blks_read_per_s.get()),
            Column::SharedBlkReadTimePerS => ms_per_s(s.shared_blk_read_time_ms_per_s.get()),
            Column::WalBytesPerS => bytes_per_s(s.wal_bytes_per_s.get()),
            Column::LifetimeMean => ms(Some(s.mean_exec_time_ms)),
            Column::TotalTime => ms(Some(s.total_exec_time_ms)),
            Column::Calls => crate::model::format_count(s.calls as f64),
            Column::UserDb => text::one_line(
                &format!(
                    "{}@{}",
                    s.usename.as_deref().unwrap_or("?"),
                    s.datname.as_deref().unwrap_or("?")
                ),
                18,
            ),
            Column::PlanTimePerS => ms_per_s(s.plan_time_ms_per_s.get()),
            Column::SharedBlkWriteTimePerS => ms_per_s(s.shared_blk_write_time_ms_per_s.get()),
            Column::TempBlkReadTimePerS => ms_per_s(s.temp_blk_read_time_ms_per_s.get()),
            Column::TempBlkWriteTimePerS => ms_per_s(s.temp_blk_write_time_ms_per_s.get()),
            Column::JitTimePerS => ms_per_s(s.jit_time_ms_per_s.get()),
        }
    }

    /// The column that shows the value sort key `key` orders by (see
    /// [`table::statement_sort_value`]).
    pub fn of_sort(key: usize) -> Column {
        use table::statement_sort::*;
        match key {
            INTERVAL_MEAN => Column::IntervalMean,
            LIFETIME_MEAN => Column::LifetimeMean,
            CALLS_PER_S => Column::CallsPerS,
            ROWS_PER_S => Column::RowsPerS,
            READS_PER_S => Column::ReadsPerS,
            TOTAL_TIME => Column::TotalTime,
            SHARED_BLK_READ_TIME_PER_S => Column::SharedBlkReadTimePerS,
            SHARED_BLK_WRITE_TIME_PER_S => Column::SharedBlkWriteTimePerS,
            TEMP_BLK_READ_TIME_PER_S => Column::TempBlkReadTimePerS,
            TEMP_BLK_WRITE_TIME_PER_S => Column::TempBlkWriteTimePerS,
            WAL_BYTES_PER_S => Column::WalBytesPerS,
            JIT_TIME_PER_S => Column::JitTimePerS,
            PLAN_TIME_PER_S => Column::PlanTimePerS,
            WAIT => Column::Wait,
            _ => Column::ExecTimePerS,
        }
    }
}

/// The columns of the statements table at a panel width, before the query text: at any
/// width execution time/s, calls/s, interval mean, rows/s and shared blocks read/s; from
/// [`IO_WIDTH`] also the dominant wait (the wait profile); from [`WAL_WIDTH`] the shared
/// block read time/s and WAL bytes/s; from [`WIDE_WIDTH`] the
/// lifetime mean, total time, calls and user@db; from [`ALL_WIDTH`] planning, write, temp and
/// JIT time per second. The column of the sort key `sort` is always shown (after the
/// others, when its width would leave it out).
pub fn columns(width: u16, sort: usize) -> Vec<Column> {
    let mut out = vec![
        Column::ExecTimePerS,
        Column::CallsPerS,
        Column::IntervalMean,
        Column::RowsPerS,
        Column::ReadsPerS,
    ];
    if width >= IO_WIDTH {
        out.push(Column::Wait);
    }
    if width >= WAL_WIDTH {
        out.extend([Column::SharedBlkReadTimePerS, Column::WalBytesPerS]);
    }
    if width >= WIDE_WIDTH {
        out.extend([
            Column::LifetimeMean,
            Column::TotalTime,
            Column::Calls,
            Column::UserDb,
        ]);
    }
    if width >= ALL_WIDTH {
        out.extend([
            Column::PlanTimePerS,
            Column::SharedBlkWriteTimePerS,
            Column::TempBlkReadTimePerS,
            Column::TempBlkWriteTimePerS,
            Column::JitTimePerS,
        ]);
    }
    let sorted = Column::of_sort(sort);
    if !out.contains(&sorted) {
        out.push(sorted);
    }
    out
}

/// Milliseconds per second of wall time as `12ms/s`, `-` when unknown.
pub fn ms_per_s(v: Option<f64>) -> String {
    v.map_or_else(
        || "-".into(),
        |m| format!("{}/s", format_duration_s(m / 1000.0)),
    )
}

/// Bytes per second in at most 9 columns (`512B/s`, `1.5KiB/s`, `120MiB/s`), `-` when
/// unknown.
pub fn bytes_per_s(v: Option<f64>) -> String {
    let Some(b) = v.filter(|b| b.is_finite()) else {
        return "-".into();
    };
    let mut x = b.max(0.0);
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
        if x.round() < 1024.0 || unit == "TiB" {
            return if x < 9.95 && unit != "B" {
                format!("{x:.1}{unit}/s")
            } else {
                format!("{x:.0}{unit}/s")
            };
        }
        x /= 1024.0;
    }
    "-".into()
}
