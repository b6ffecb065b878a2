//! One panel per area, each a struct borrowing what it draws and implementing `Widget`.
//!
//! Shared here: the [`View`] every panel reads (store, server, theme, pause, `now`), the
//! banner that explains a missing or stale area in place ([`status_lines`]), wall-clock
//! formatting ([`clock`]) and table helpers. A panel with a table also takes its
//! [`TableQuery`] and selected row; its rows come from
//! [`super::table`].

pub mod activity;
pub mod alerts;
pub mod cache;
pub mod fleet;
pub mod history;
pub mod overview;
pub mod replication;
pub mod statements;
pub mod unused_indexes;
pub mod vacuum;
pub mod waits;
pub mod wal;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use super::table::{self, DetailRow, TableQuery};
use super::text;
use super::theme::Theme;
use crate::model::{Freshness, Link, ServerState, Store};
use crate::sample::{Area, CollectError};

/// What a panel draws from: the store shown (frozen while paused), one server, the styles,
/// whether the screen is paused, and the time of the frame.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub store: &'a Store,
    pub server: &'a ServerState,
    pub server_index: usize,
    pub theme: Theme,
    /// The screen shows a frozen copy of the store (`p`): the panels' titles say so.
    pub paused: bool,
    pub now: SystemTime,
}

impl View<'_> {
    pub fn theme(&self) -> Theme {
        self.theme
    }
}

/// pgvitals reaches this server through a connection pooler ([`ServerFacts::pooled`]): the
/// activity area then lists the pooler's server connections, not its clients.
///
/// [`ServerFacts::pooled`]: crate::sample::ServerFacts::pooled
pub fn through_pooler(server: &ServerState) -> bool {
    server.facts.as_ref().is_some_and(|f| f.pooled)
}

/// Wall-clock time as `HH:MM:SS UTC` (no time-zone database is linked, so UTC, labelled).
pub fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}

/// Seconds from `then` to `now` (0 when `then` is in the future).
pub fn age_s(now: SystemTime, then: SystemTime) -> f64 {
    now.duration_since(then).unwrap_or_default().as_secs_f64()
}

/// An optional number of seconds as a duration, `-` when unknown.
pub fn dur(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), crate::model::format_duration_s)
}

/// Optional bytes, `-` when unknown.
pub fn bytes(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |b| crate::model::format_bytes(b as f64))
}

/// An optional rate per second, `-` when there is no baseline yet.
pub fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), crate::model::format_rate)
}

/// An optional ratio 0..1 as a percentage, `-` when unknown.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn error_lines(prefix: String, error: &CollectError, theme: Theme) -> Vec<Line<'static>> {
    // an area this server's version does not have is a fact, not a problem
    let style = if error.kind.is_failure() {
        theme.problem()
    } else {
        theme.dim()
    };
    let mut lines = vec![Line::from(Span::styled(
        format!("{prefix}{}", text::clean(&error.message)),
        style,
    ))];
    if let Some(fix) = &error.fix {
        lines.push(Line::from(vec![
            Span::styled("fix: ", theme.heading()),
            Span::raw(text::clean(fix)),
        ]));
    }
    lines
}

/// Lines that explain, in place, why `area` shows nothing or old data: the server is
/// unreachable, the first sample has not come, the data is stale (with the error), or the area
/// is unavailable (with the fix). Empty when the data is fresh.
pub fn status_lines(v: &View<'_>, area: Area) -> Vec<Line<'static>> {
    let theme = v.theme();
    let mut lines = Vec::new();
    match &v.server.link {
        Link::Down {
            since,
            error,
            next_attempt,
        } => {
            lines.extend(error_lines(
                format!(
                    "server unreachable since {} (retrying at {}): ",
                    clock(*since),
                    clock(*next_attempt)
                ),
                error,
                theme,
            ));
        }
        Link::Connecting { since } if v.server.area(area).sample.is_none() => {
            lines.push(Line::from(Span::styled(
                format!(
                    "connecting to {} (since {})…",
                    text::clean(&v.server.label),
                    clock(*since)
                ),
                theme.dim(),
            )));
            return lines;
        }
        _ => {}
    }
    let state = v.server.area(area);
    // a backing-off error says "next try in 4 min": counted from this try
    let tried = |e: &CollectError| {
        e.retry_in_s
            .and(state.failed_at)
            .map(|at| format!("last try {}", clock(at)))
    };
    match state.freshness(v.now, v.store.max_age(area)) {
        Freshness::Waiting => {
            if lines.is_empty() {
                lines.push(Line::from(Span::styled(
                    "waiting for the first sample…",
                    theme.dim(),
                )));
            }
        }
        Freshness::Fresh { .. } => {}
        Freshness::Stale {
            last_ok,
            error,
            since,
        } => {
            let mut last = format!(
                "last sample {}",
                last_ok.map_or_else(|| "never".into(), clock)
            );
            if let Some(tried) = error.and_then(tried) {
                last = format!("{last}, {tried}");
            }
            let prefix = format!(
                "stale for {} ({last})",
                crate::model::format_duration_s(age_s(v.now, since).round())
            );
            match error {
                Some(e) => lines.extend(error_lines(format!("{prefix}: "), e, theme)),
                None => lines.push(Line::from(Span::styled(prefix, theme.problem()))),
            }
        }
        Freshness::Unavailable { error } => {
            let prefix = tried(error).map_or_else(String::new, |t| format!("{t}: "));
            lines.extend(error_lines(prefix, error, theme));
        }
    }
    lines
}

/// `key  description` lines: the key right-aligned in `key_width` columns, then `gap`
/// spaces, the description word-wrapped in the columns beside it (a hanging indent, so a
/// long description never runs under the keys).
pub fn hanging(
    key: &str,
    description: &str,
    key_width: usize,
    gap: usize,
    width: usize,
    key_style: ratatui::style::Style,
) -> Vec<Line<'static>> {
    let room = width.saturating_sub(key_width + gap).max(10);
    let mut rows: Vec<String> = vec![String::new()];
    for word in description.split_whitespace() {
        let last = rows.last_mut().expect("one row");
        let need = if last.is_empty() {
            text::width(word)
        } else {
            text::width(last) + 1 + text::width(word)
        };
        if need > room && !last.is_empty() {
            rows.push(word.to_owned());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let k = if i == 0 { key } else { "" };
            let pad = key_width.saturating_sub(text::width(k));
            Line::from(vec![
                Span::styled(
                    format!("{}{k}{}", " ".repeat(pad), " ".repeat(gap)),
                    key_style,
                ),
                Span::raw(row),
            ])
        })
        .collect()
}

/// The bordered block of a panel, titled with the area and the time of its sample.
pub fn panel_block<'a>(title: &str, v: &View<'_>, area: Option<Area>) -> Block<'a> {
    let mut spans = vec![Span::styled(format!(" {title} "), v.theme().heading())];
    if let Some(at) = area.and_then(|a| v.server.area(a).sample_at) {
        spans.push(Span::styled(format!("{} ", clock(at)), v.theme().dim()));
    }
    if v.paused {
        spans.push(Span::styled("PAUSED ", v.theme().active_tab()));
    }
    Block::default()
        .borders(Borders::ALL)
        .title(Line::from(spans))
}

/// Draw the block and the status lines; returns the space left for the panel's data and
/// whether it should be drawn (a sample exists).
pub fn frame(title: &str, v: &View<'_>, area: Area, rect: Rect, buf: &mut Buffer) -> Option<Rect> {
    let block = panel_block(title, v, Some(area));
    let inner = block.inner(rect);
    block.render(rect, buf);
    let lines = status_lines(v, area);
    let has_sample = v.server.area(area).sample.is_some();
    if inner.height == 0 || inner.width == 0 {
        return None;
    }
    if lines.is_empty() {
        return has_sample.then_some(inner);
    }
    let n = if has_sample {
        // the rows the lines take once wrapped (a long error would hide its fix otherwise)
        let rows: usize = lines.iter().map(|l| wrapped_rows(l, inner.width)).sum();
        (rows.min(usize::from(u16::MAX)) as u16).min(inner.height / 2)
    } else {
        inner.height
    };
    let (top, rest) = split_top(inner, n);
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(top, buf);
    has_sample.then_some(rest)
}

/// The rows `line` takes when word-wrapped at `width` columns (greedy, as the paragraph
/// wraps: a word that does not fit on the row starts the next; a word longer than a row is
/// broken), at least one.
fn wrapped_rows(line: &Line<'_>, width: u16) -> usize {
    let width = usize::from(width.max(1));
    let content: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let (mut rows, mut used) = (1, 0);
    for word in content.split_whitespace() {
        let w = text::width(word);
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else {
            if used > 0 {
                rows += 1;
            }
            rows += w.saturating_sub(1) / width;
            used = match w % width {
                0 if w > 0 => width,
                r => r,
            };
        }
    }
    rows
}

/// Split `rect` into the first `n` lines and the rest.
pub fn split_top(rect: Rect, n: u16) -> (Rect, Rect) {
    let n = n.min(rect.height);
    (
        Rect { height: n, ..rect },
        Rect {
            y: rect.y + n,
            height: rect.height - n,
            ..rect
        },
    )
}

/// Where the last selectable table was drawn: the rectangle of its data rows (below the
/// heading) and the index of the row on its first line. The mouse maps a click to a row
/// with it ([`take_table_hit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableHit {
    pub rows: Rect,
    pub first: usize,
    pub count: usize,
}

thread_local! {
    // The screen draws on one thread; a panel records its selectable table here and the
    // frame takes it after drawing the panel (the panels never see the UI state).
    static TABLE_HIT: std::cell::Cell<Option<TableHit>> = const { std::cell::Cell::new(None) };
    static TILE_HITS: std::cell::RefCell<Vec<(Rect, usize)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The selectable table drawn since the last call, if any (and forget it).
pub fn take_table_hit() -> Option<TableHit> {
    TABLE_HIT.with(|h| h.take())
}

/// Record where a tile of the overview was drawn and the digit key that opens it.
pub fn record_tile(rect: Rect, key: usize) {
    TILE_HITS.with(|t| t.borrow_mut().push((rect, key)));
}

/// The overview tiles drawn since the last call (and forget them).
pub fn take_tile_hits() -> Vec<(Rect, usize)> {
    TILE_HITS.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// A table with a heading row and the selected row highlighted (reversed over the row style).
/// A table with a selection records where its rows are ([`take_table_hit`]).
pub fn render_table(
    rect: Rect,
    buf: &mut Buffer,
    theme: Theme,
    header: Vec<String>,
    rows: Vec<Row<'static>>,
    widths: Vec<Constraint>,
    selected: Option<usize>,
) {
    let count = rows.len();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.heading()))
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state =
        TableState::default().with_selected(selected.map(|s| s.min(count.saturating_sub(1))));
    if count == 0 {
        state = TableState::default();
    }
    StatefulWidget::render(table, rect, buf, &mut state);
    if selected.is_some() && rect.height > 1 {
        let rows = Rect {
            y: rect.y + 1,
            height: rect.height - 1,
            ..rect
        };
        TABLE_HIT.with(|h| {
            h.set(Some(TableHit {
                rows,
                first: state.offset(),
                count,
            }))
        });
    }
}

/// Like [`render_table`] for `count` rows of which only the visible ones are built (`row(i)`
/// is called for the window around the selection): a table of hundreds of sessions or
/// thousands of statements costs what the screen shows, not what the server holds.
#[allow(clippy::too_many_arguments)]
pub fn render_table_window(
    rect: Rect,
    buf: &mut Buffer,
    theme: Theme,
    header: Vec<String>,
    count: usize,
    row: impl Fn(usize) -> Row<'static>,
    widths: Vec<Constraint>,
    selected: Option<usize>,
) {
    let height = usize::from(rect.height.saturating_sub(1)).max(1);
    let selected = selected.map(|s| s.min(count.saturating_sub(1)));
    // the same window Table would scroll to from offset 0: the selection on the last line
    let start = selected.map_or(0, |s| (s + 1).saturating_sub(height));
    let end = (start + height).min(count);
    let rows: Vec<Row<'static>> = (start..end).map(row).collect();
    render_table(
        rect,
        buf,
        theme,
        header,
        rows,
        widths,
        selected.map(|s| s - start),
    );
    // the rows drawn are a window: the hit counts from its start
    TABLE_HIT.with(|h| {
        h.set(h.get().map(|hit| TableHit {
            first: hit.first + start,
            count,
            ..hit
        }))
    });
}

/// Width left for a last, flexible column after `fixed` columns and their spacing.
pub fn rest_width(total: u16, fixed: &[u16]) -> usize {
    let used: u16 = fixed.iter().sum::<u16>() + fixed.len() as u16;
    total.saturating_sub(used) as usize
}

/// A one-line note (empty table, filter without match).
pub fn note(rect: Rect, buf: &mut Buffer, text: String, style: Style) {
    Paragraph::new(Line::from(Span::styled(text, style))).render(rect, buf);
}

/// How long ago, as `3m12s ago`.
pub fn ago(secs: Option<f64>) -> String {
    match secs {
        Some(s) => format!("{} ago", crate::model::format_duration_s(s)),
        None => "never".into(),
    }
}

/// Duration as seconds, for `Duration` arithmetic in labels.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Draw the panel of `area` (one that has a tab): the one place that lists the area panels.
/// `query` and `selected` are the tab's table query and selected row.
pub fn draw_area(
    area: Area,
    view: View<'_>,
    query: TableQuery<'_>,
    selected: usize,
    rect: Rect,
    buf: &mut Buffer,
) {
    match area {
        Area::Activity => activity::ActivityPanel {
            view,
            query,
            selected,
        }
        .render(rect, buf),
        Area::Statements => statements::StatementsPanel {
            view,
            query,
            selected,
        }
        .render(rect, buf),
        Area::Cache => cache::CachePanel {
            view,
            query,
            selected,
        }
        .render(rect, buf),
        Area::Replication => replication::ReplicationPanel { view }.render(rect, buf),
        Area::UnusedIndexes => unused_indexes::UnusedIndexesPanel {
            view,
            query,
            selected,
        }
        .render(rect, buf),
        Area::Vacuum => vacuum::VacuumPanel { view }.render(rect, buf),
        Area::Wal => wal::WalPanel { view }.render(rect, buf),
        // no tab: the header shows the server sample; the statements and activity panels
        // the wait profile
        Area::Server | Area::Waits => {}
    }
}

/// The sort columns of `area`'s table, empty when it has no sortable table.
pub fn sort_names(area: Area) -> &'static [&'static str] {
    match area {
        Area::Activity => table::ACTIVITY_SORT,
        Area::Statements => table::STATEMENTS_SORT,
        Area::Cache => table::CACHE_SORT,
        Area::UnusedIndexes => table::UNUSED_INDEXES_SORT,
        Area::Server | Area::Replication | Area::Vacuum | Area::Wal | Area::Waits => &[],
    }
}

/// Rows of `area`'s table after sort and filter, for selection bounds (0 for the areas
/// without a selectable table).
pub fn row_count(area: Area, server: &ServerState, query: &TableQuery<'_>) -> usize {
    match area {
        Area::Activity => server
            .activity()
            .map_or(0, |a| table::sessions(a, query).len()),
        Area::Statements => server
            .statements()
            .map_or(0, |s| table::statements(s, &server.waits, query).len()),
        Area::Cache => server
            .cache()
            .map_or(0, |c| table::cache_tables(c, query).len()),
        Area::UnusedIndexes => server
            .unused_indexes()
            .map_or(0, |u| table::unused_indexes(u, query).len()),
        Area::Server | Area::Replication | Area::Vacuum | Area::Wal | Area::Waits => 0,
    }
}

/// The `selected` row of `area`'s table when the area has a detail view (sessions,
/// statements); `None` for the others or when there is no such row.
pub fn detail_row(
    area: Area,
    server: &ServerState,
    query: &TableQuery<'_>,
    selected: usize,
) -> Option<DetailRow> {
    match area {
        Area::Activity => server.activity().and_then(|a| {
            table::sessions(a, query)
                .get(selected)
                .map(|s| DetailRow::Session((*s).clone()))
        }),
        Area::Statements => server.statements().and_then(|st| {
            table::statements(st, &server.waits, query)
                .get(selected)
                .map(|s| DetailRow::Statement((*s).clone()))
        }),
        Area::Server
        | Area::Cache
        | Area::Replication
        | Area::UnusedIndexes
        | Area::Vacuum
        | Area::Wal
        | Area::Waits => None,
    }
}

/// Whether `area`'s table has a detail view (Enter).
pub fn has_detail(area: Area) -> bool {
    match area {
        Area::Activity | Area::Statements => true,
        Area::Server
        | Area::Cache
        | Area::Replication
        | Area::UnusedIndexes
        | Area::Vacuum
        | Area::Wal
        | Area::Waits => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_rows_count_like_a_greedy_word_wrap() {
        let rows = |s: &str, w| wrapped_rows(&Line::from(s.to_string()), w);
        assert_eq!(rows("", 10), 1);
        assert_eq!(rows("abc def", 10), 1);
        assert_eq!(rows("abcde fghij", 10), 2, "the second word does not fit");
        assert_eq!(rows("abcdefghij", 10), 1);
        assert_eq!(rows("abcdefghijk", 10), 2, "a long word is broken");
        assert_eq!(rows("abcdefghijklmnopqrstu xy", 10), 3);
        assert_eq!(rows("a b c d e f", 3), 3);
    }
}
