//! `pgvitals replay`: the dashboard on a recording. Every panel, detail, sort and filter
//! works as live (the same [`super::draw_in`] on a store rebuilt at the cursor); above it a
//! banner says REPLAY with the recorded time in large digits, and a timeline bar shows where
//! the cursor is and where alerts fired.
//!
//! Keys (besides the dashboard's): ←/→ one sample back/forward, PgUp/PgDn a minute, `n`/`N`
//! the next/previous alert firing, `g` a typed time, space plays at 1×, 10×, 60×, then
//! pauses. `[`/`]` change server (←/→ move in time here).
//!
//! The recording is reached through [`Timeline`] (the screen never opens a file itself).

use std::time::{Duration, SystemTime};

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind};
use futures_util::StreamExt;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::state::{Action, UiState};
use super::theme::Theme;
use crate::model::Store;

/// A recording as the replay screen reads it. Times are epoch seconds on the server clock.
pub trait Timeline {
    /// First and last sample time.
    fn span(&self) -> (f64, f64);
    /// The store as it was at `at`, and the recorder-clock time to draw it with.
    fn seek(&mut self, at: f64) -> Result<(Store, SystemTime), String>;
    /// Bring `store` (as of `from`) forward to `to` by applying what was recorded in
    /// between; returns the new drawing time.
    fn advance(&mut self, store: &mut Store, from: f64, to: f64) -> Result<SystemTime, String>;
    /// The nearest sample time after (`forward`) or before `at`.
    fn step(&self, at: f64, forward: bool) -> Option<f64>;
    /// When alerts fired, and whether they became critical, oldest first.
    fn alerts(&self) -> Vec<(f64, bool)>;
    /// A typed time (`03:12`, RFC 3339, `2026-12-02 03:12`) as epoch seconds.
    fn parse_time(&self, s: &str) -> Result<f64, String>;
    /// How a time reads in the banner and messages (local or UTC, the implementor decides):
    /// (date, time of day).
    fn format(&self, at: f64) -> (String, String);
}

/// Play speeds space cycles through, then pause.
pub const SPEEDS: [u32; 3] = [1, 10, 60];

/// A forward move shorter than this applies the updates in between; a longer one (or any
/// move back) rebuilds the store at the new time.
const ADVANCE_AT_MOST_S: f64 = 300.0;

/// What the replay screen remembers besides the dashboard's [`UiState`].
pub struct ReplayState {
    pub at: f64,
    /// Play speed, `None` while paused.
    pub speed: Option<u32>,
    /// A time being typed after `g`.
    pub typing: Option<String>,
    pub span: (f64, f64),
    pub alerts: Vec<(f64, bool)>,
}

/// The large digits of the banner: three rows per character.
fn glyph(c: char) -> [&'static str; 3] {
    match c {
        '0' => ["┏━┓", "┃ ┃", "┗━┛"],
        '1' => ["  ┓", "  ┃", "  ┻"],
        '2' => ["┏━┓", "┏━┛", "┗━━"],
        '3' => ["┏━┓", " ━┫", "┗━┛"],
        '4' => ["╻ ╻", "┗━┫", "  ╹"],
        '5' => ["┏━━", "┗━┓", "┗━┛"],
        '6' => ["┏━━", "┣━┓", "┗━┛"],
        '7' => ["━━┓", "  ┃", "  ╹"],
        '8' => ["┏━┓", "┣━┫", "┗━┛"],
        '9' => ["┏━┓", "┗━┫", "┗━┛"],
        ':' => [" ", "•", "•"],
        _ => [" ", " ", " "],
    }
}

/// `text` (digits and colons) in three rows of large digits.
pub fn large(text: &str) -> [String; 3] {
    let mut rows = [String::new(), String::new(), String::new()];
    for c in text.chars() {
        let g = glyph(c);
        for (row, part) in rows.iter_mut().zip(g) {
            row.push_str(part);
            row.push(' ');
        }
    }
    rows
}

/// The timeline bar: `width` cells over the span, `▲` where an alert fired (the worst in
/// the cell), `┃` at the cursor.
pub fn timeline_bar(state: &ReplayState, width: usize, theme: Theme) -> Line<'static> {
    let (a, b) = state.span;
    let len = (b - a).max(1e-9);
    let cell_of = |t: f64| (((t - a) / len) * (width.saturating_sub(1)) as f64).round() as usize;
    let mut cells: Vec<(char, Style)> = vec![('─', theme.dim()); width];
    for (t, critical) in &state.alerts {
        if *t < a || *t > b {
            continue;
        }
        let i = cell_of(*t).min(width.saturating_sub(1));
        if let Some(cell) = cells.get_mut(i) {
            if *critical || cell.0 != '▲' {
                *cell = (
                    '▲',
                    if *critical {
                        theme.alarm()
                    } else {
                        theme.caution()
                    },
                );
            }
        }
    }
    let i = cell_of(state.at.clamp(a, b)).min(width.saturating_sub(1));
    if let Some(cell) = cells.get_mut(i) {
        *cell = ('┃', theme.active_tab());
    }
    Line::from(
        cells
            .into_iter()
            .map(|(c, s)| Span::styled(c.to_string(), s))
            .collect::<Vec<_>>(),
    )
}

/// Rows the banner and the bar take above the dashboard.
pub const BANNER_ROWS: u16 = 4;

/// Draw the banner (REPLAY, the large time, the date, speed and keys) and the timeline bar.
pub fn draw_banner(
    rect: Rect,
    buf: &mut Buffer,
    state: &ReplayState,
    timeline: &dyn Timeline,
    theme: Theme,
) {
    let (date, time) = timeline.format(state.at);
    let digits = large(&time);
    let play = match state.speed {
        Some(s) => format!("▶ {s}×"),
        None => "❚❚ paused".to_string(),
    };
    let right = [
        format!("  {date}  {play}"),
        match &state.typing {
            Some(t) => format!(
                "  go to time: {}▏ (Enter go · Esc cancel)",
                super::text::clean(t)
            ),
            None => "  ←/→ sample · PgUp/PgDn minute · n/N alert · g time · space play".into(),
        },
        {
            let (first, _) = timeline.format(state.span.0);
            let (last, _) = timeline.format(state.span.1);
            let (_, t0) = timeline.format(state.span.0);
            let (_, t1) = timeline.format(state.span.1);
            format!("  recorded {t0} {first} to {t1} {last}")
        },
    ];
    let mut lines = Vec::new();
    for (i, row) in digits.iter().enumerate() {
        let mut spans = Vec::new();
        spans.push(if i == 1 {
            Span::styled(" REPLAY ", theme.active_tab())
        } else {
            Span::raw("        ")
        });
        spans.push(Span::raw(" "));
        spans.push(Span::styled(row.clone(), theme.heading()));
        spans.push(Span::styled(right[i].clone(), theme.dim()));
        lines.push(Line::from(spans));
    }
    lines.push(timeline_bar(state, rect.width as usize, theme));
    Paragraph::new(lines).render(rect, buf);
}

/// Draw one replay frame: the banner, then the dashboard below it.
pub fn draw(
    frame: &mut ratatui::Frame,
    store: &Store,
    ui: &UiState,
    now: SystemTime,
    state: &ReplayState,
    timeline: &dyn Timeline,
) {
    let area = frame.area();
    let [banner, body] =
        Layout::vertical([Constraint::Length(BANNER_ROWS), Constraint::Fill(1)]).areas(area);
    let buf = frame.buffer_mut();
    draw_banner(banner, buf, state, timeline, ui.theme);
    super::draw_in(body, buf, store, ui, now);
}

/// What a key does to the cursor, before the dashboard sees it: a new time, or `None`
/// (not a replay key: the dashboard's).
fn time_key(
    key: &KeyEvent,
    state: &mut ReplayState,
    timeline: &dyn Timeline,
    ui: &mut UiState,
) -> Option<Option<f64>> {
    if let Some(typed) = &mut state.typing {
        match key.code {
            KeyCode::Char(c) => typed.push(c),
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Esc => state.typing = None,
            KeyCode::Enter => {
                let text = state.typing.take().unwrap_or_default();
                match timeline.parse_time(&text) {
                    Ok(t) => return Some(Some(t)),
                    Err(e) => ui.message = Some(e),
                }
            }
            _ => {}
        }
        return Some(None);
    }
    let dialog = ui.filter_editing || ui.help || ui.detail.is_some() || ui.confirm.is_some();
    if dialog {
        return None;
    }
    let t = state.at;
    let target = match key.code {
        KeyCode::Right => timeline.step(t, true),
        KeyCode::Left => timeline.step(t, false),
        KeyCode::PageDown => Some(t + 60.0),
        KeyCode::PageUp => Some(t - 60.0),
        KeyCode::Char('n') => {
            let next = state.alerts.iter().map(|(a, _)| *a).find(|a| *a > t + 0.5);
            if next.is_none() {
                ui.message = Some("no alert fired after this".into());
            }
            next
        }
        KeyCode::Char('N') => {
            let prev = state
                .alerts
                .iter()
                .rev()
                .map(|(a, _)| *a)
                .find(|a| *a < t - 0.5);
            if prev.is_none() {
                ui.message = Some("no alert fired before this".into());
            }
            prev
        }
        KeyCode::Char('g') => {
            state.typing = Some(String::new());
            return Some(None);
        }
        KeyCode::Char(' ') => {
            state.speed = match state.speed {
                None => Some(SPEEDS[0]),
                Some(s) => SPEEDS
                    .iter()
                    .position(|x| *x == s)
                    .and_then(|i| SPEEDS.get(i + 1))
                    .copied(),
            };
            return Some(None);
        }
        _ => return None,
    };
    Some(target)
}

/// Move the cursor to `to` (clamped to the span): apply the updates in between when it is a
/// short move forward, else rebuild.
fn move_to(
    to: f64,
    state: &mut ReplayState,
    store: &mut Store,
    now: &mut SystemTime,
    timeline: &mut dyn Timeline,
    ui: &mut UiState,
) {
    let to = to.clamp(state.span.0, state.span.1);
    let result = if to >= state.at && to - state.at <= ADVANCE_AT_MOST_S {
        timeline.advance(store, state.at, to).map(|n| (None, n))
    } else {
        timeline.seek(to).map(|(s, n)| (Some(s), n))
    };
    match result {
        Ok((fresh, n)) => {
            if let Some(s) = fresh {
                *store = s;
            }
            *now = n;
            state.at = to;
        }
        Err(e) => ui.message = Some(e),
    }
}

/// Run the replay screen from `start` until the user quits. Owns the terminal like
/// [`super::run`].
///
/// Errors: the recording cannot be read at `start`, or the terminal went away.
pub async fn run(
    mut timeline: Box<dyn Timeline>,
    start: f64,
    color: bool,
    interval: Duration,
) -> anyhow::Result<()> {
    let span = timeline.span();
    let start = start.clamp(span.0, span.1);
    let (store, now) = timeline.seek(start).map_err(anyhow::Error::msg)?;
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, timeline, store, now, start, color, interval).await;
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mut timeline: Box<dyn Timeline>,
    mut store: Store,
    mut now: SystemTime,
    start: f64,
    color: bool,
    interval: Duration,
) -> anyhow::Result<()> {
    let mut ui = UiState::new(false, color, interval);
    let mut state = ReplayState {
        at: start,
        speed: None,
        typing: None,
        span: timeline.span(),
        alerts: timeline.alerts(),
    };
    let mut events = EventStream::new();
    const PLAY_TICK: Duration = Duration::from_millis(250);
    let mut tick = tokio::time::interval(PLAY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    loop {
        if dirty {
            let size = terminal.size()?;
            ui.page = usize::from(size.height.saturating_sub(12 + BANNER_ROWS)).max(1);
            terminal.draw(|f| draw(f, &store, &ui, now, &state, timeline.as_ref()))?;
            dirty = false;
        }
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    dirty = true;
                    match time_key(&key, &mut state, timeline.as_ref(), &mut ui) {
                        Some(Some(t)) => move_to(t, &mut state, &mut store, &mut now, timeline.as_mut(), &mut ui),
                        Some(None) => {}
                        None => match ui.handle_key(key, &store) {
                            Action::Quit => return Ok(()),
                            // no collectors: the interval and the actions do not apply
                            Action::SetInterval(_) | Action::Send(_) => {
                                ui.message = Some("a replay shows what was recorded".into());
                            }
                            Action::Copy(text) => super::copy_to_clipboard(&text),
                            Action::Nothing | Action::Redraw => {}
                        },
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            _ = tick.tick(), if state.speed.is_some() => {
                let speed = f64::from(state.speed.unwrap_or(1));
                let to = state.at + PLAY_TICK.as_secs_f64() * speed;
                if to >= state.span.1 {
                    state.speed = None;
                    ui.message = Some("end of the recording".into());
                }
                move_to(to, &mut state, &mut store, &mut now, timeline.as_mut(), &mut ui);
                dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_digits_are_three_rows_of_equal_width() {
        let rows = large("03:12:05");
        assert!(
            rows.iter()
                .all(|r| r.chars().count() == rows[0].chars().count())
        );
        assert!(rows[0].starts_with("┏━┓"));
    }

    #[test]
    fn the_bar_marks_alerts_and_the_cursor() {
        let state = ReplayState {
            at: 50.0,
            speed: None,
            typing: None,
            span: (0.0, 100.0),
            alerts: vec![(10.0, false), (90.0, true)],
        };
        let line = timeline_bar(&state, 11, Theme { color: false });
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "─▲───┃───▲─");
    }
}
