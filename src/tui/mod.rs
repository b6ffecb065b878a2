//! The dashboard: a ratatui front-end that reads the [`crate::model::Store`] and never touches
//! a connection.
//!
//! * [`run`] owns the terminal and the loop: one `tokio::select!` over terminal events, the
//!   update channel and a 1 s tick. Every queued update is applied to the store before one
//!   draw, and a frame is drawn only when something changed (no fixed frame rate: over SSH in
//!   an incident that is wasted bandwidth).
//! * [`state`] holds what the screen remembers (server, tab, per-tab selection and sort,
//!   filter, pause, dialogs) and [`state::UiState::handle_key`], the one place it changes.
//!   The tabs are the areas that have one ([`crate::sample::Area::tabs`]) and the alerts.
//! * [`table`]: the rows of the tables (sorted, filtered) as pure functions of a sample and a
//!   [`table::TableQuery`]; the state and the panels both read them from there.
//! * [`draw`] renders a frame from the store, the UI state and `now` (a parameter, so tests
//!   are deterministic): [`header`], the tab bar, one of [`panels`] (at 160 columns or more,
//!   with history and alerts beside it; the overview, the first screen from 160x48, takes the
//!   whole body), the status line, and the popups ([`detail`], [`help`]). It also notes where
//!   the tab titles, header lines, tiles and table rows went ([`state::Hits`]), so a mouse
//!   click ([`state::UiState::handle_mouse`]) selects what is under it. The header and the panels get what they draw (a [`panels::View`], a table's
//!   query and selection), never the whole UI state.
//!
//! Imports run one way, with no circle: this module above [`help`], [`detail`], [`state`] and
//! [`header`]; those above [`panels`]; the panels above [`table`]; all of them above
//! [`theme`] and [`text`] (and the model and the samples below them).
//! * [`text`] makes server text safe for a cell; [`theme`] holds the styles (`NO_COLOR`
//!   turns colours off, modifiers stay).

pub mod detail;
pub mod header;
pub mod help;
pub mod panels;
pub mod replay;
pub mod state;
pub mod table;
pub mod text;
pub mod theme;

use std::time::{Duration, SystemTime};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};
use tokio::sync::{mpsc, watch};

use crate::model::{ServerState, Severity, Store};
use crate::sample::{Command, Update};
use panels::View;
use state::{Action, Tab, UiState};

/// Options of the dashboard, from the command line and the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiOptions {
    /// Cancel/terminate (`c`/`k`) are offered (after a confirmation); read-only otherwise.
    pub actions_enabled: bool,
    /// Colours on; `false` when `NO_COLOR` is set (only bold/reversed/underlined are used).
    pub color: bool,
    /// Capture the mouse (clicks select, the wheel scrolls); `false` with `--no-mouse`, which
    /// leaves the terminal's own text selection alone.
    pub mouse: bool,
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard (`c`), base64-encoded:
/// xterm, kitty, WezTerm, iTerm2, foot, Windows Terminal and tmux (`set-clipboard on`)
/// honour it, also over SSH, since it travels in the terminal stream. `text` should already
/// be [`state::clipboard_text`].
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}

/// Write [`osc52`] of `text` to the terminal (stdout), flushed; a failure is ignored (the
/// status line already said what was copied; a terminal without OSC 52 ignores it too).
pub fn copy_to_clipboard(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(osc52(text).as_bytes());
    let _ = out.flush();
}

/// Width from which the body shows the area, the history and the alerts side by side.
pub const WIDE: u16 = 160;

/// Runs the dashboard until the user quits. Owns the terminal: `ratatui::init()` and
/// `ratatui::restore()` on the way out, error or not; a panic of the screen itself restores
/// the terminal (cursor shown) before the panic report is printed.
/// Never awaits the database: updates arrive on `updates`; confirmed cancel/terminate
/// requests leave on `commands` (with `try_send`, never blocking the screen); `+`/`-` publish
/// the new poll interval on `interval`.
///
/// Errors: reading terminal events or drawing failed (the terminal went away).
pub async fn run(
    store: Store,
    updates: mpsc::Receiver<Update>,
    commands: mpsc::Sender<Command>,
    interval: watch::Sender<Duration>,
    options: UiOptions,
) -> anyhow::Result<()> {
    // the hook in force before ours (the default one prints the panic report)
    let report_hook = std::panic::take_hook();
    let mut terminal = ratatui::init();
    // the screen's own panics: leave raw mode and the alternate screen and show the cursor
    // again (ratatui's restore leaves it hidden), then print the report on the normal screen.
    // A collector's panic is caught, reported and restarted by its supervisor
    // (see fault::IN_WORKER), and must leave the screen alone.
    drop(std::panic::take_hook()); // ratatui's own, replaced by this one
    let mouse = options.mouse;
    if mouse {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;
    }
    std::panic::set_hook(Box::new(move |info| {
        if !crate::fault::in_worker() {
            if mouse {
                let _ =
                    crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
            }
            ratatui::restore();
            let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
            report_hook(info);
        }
    }));
    let result = event_loop(&mut terminal, store, updates, commands, interval, options).await;
    if mouse {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    }
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mut store: Store,
    mut updates: mpsc::Receiver<Update>,
    commands: mpsc::Sender<Command>,
    interval: watch::Sender<Duration>,
    options: UiOptions,
) -> anyhow::Result<()> {
    let mut ui = UiState::new(options.actions_enabled, options.color, *interval.borrow());
    let size = terminal.size()?;
    ui.first_tab(size.width, size.height, store.servers.len());
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut updates_open = true;
    // Samples of one poll cycle arrive a few milliseconds apart (one per area and server):
    // draw once for the lot, a short while after the first, instead of once per sample.
    let mut draw_at: Option<tokio::time::Instant> = None;
    let mut last_draw = tokio::time::Instant::now();
    loop {
        if dirty {
            let size = terminal.size()?;
            ui.page = usize::from(size.height.saturating_sub(12)).max(1);
            let now = SystemTime::now();
            store.evaluate_due(now);
            crate::fault::check_in("tui", "draw");
            terminal.draw(|frame| draw(frame, &store, &ui, now))?;
            dirty = false;
            draw_at = None;
            last_draw = tokio::time::Instant::now();
        }
        let coalesce = async {
            match draw_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    let action = ui.handle_key(key, &store);
                    match perform(action, &mut ui, &mut store, &commands, &interval) {
                        Some(redraw) => dirty |= redraw,
                        None => return Ok(()),
                    }
                }
                Some(Ok(Event::Mouse(m))) => {
                    let action = ui.handle_mouse(m, &store, std::time::Instant::now());
                    match perform(action, &mut ui, &mut store, &commands, &interval) {
                        Some(redraw) => dirty |= redraw,
                        None => return Ok(()),
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            update = updates.recv(), if updates_open => match update {
                Some(update) => {
                    // alerts are evaluated once per frame, not once per sample
                    let mut redraw = !is_sampler_sample(&update);
                    take(&mut ui, &mut store, update);
                    while let Ok(more) = updates.try_recv() {
                        redraw |= !is_sampler_sample(&more);
                        take(&mut ui, &mut store, more);
                    }
                    // the wait sampler's 2 samples a second wait for the next poll's frame
                    // (or at most SAMPLER_FRAME_EVERY): drawing each would be 4 frames a second
                    if redraw || last_draw.elapsed() >= SAMPLER_FRAME_EVERY {
                        draw_at.get_or_insert(tokio::time::Instant::now() + COALESCE);
                    }
                }
                None => {
                    updates_open = false;
                    ui.message = Some("the collectors stopped: no more samples".into());
                    dirty = true;
                }
            },
            _ = coalesce => dirty = true,
            _ = tick.tick() => {
                store.tick(SystemTime::now());
                // only to age "stale for 12 s" labels and the clock when no samples arrive:
                // while they do, their frames keep the labels fresh (drawing here too would
                // double the frames whenever the tick falls between two poll cycles)
                if last_draw.elapsed() >= Duration::from_millis(1900) {
                    dirty = true;
                }
            }
        }
    }
}

/// Carry out what a key asked for: `None` to quit, else whether to draw again.
fn perform(
    action: Action,
    ui: &mut UiState,
    store: &mut Store,
    commands: &mpsc::Sender<Command>,
    interval: &watch::Sender<Duration>,
) -> Option<bool> {
    match action {
        Action::Nothing => Some(false),
        Action::Redraw => Some(true),
        Action::Quit => None,
        Action::SetInterval(d) => {
            interval.send_replace(d);
            store.interval = d;
            Some(true)
        }
        Action::Send(command) => {
            if let Err(e) = commands.try_send(command) {
                ui.message = Some(format!("not sent: {e}"));
            }
            Some(true)
        }
        Action::Copy(text) => {
            copy_to_clipboard(&text);
            Some(true)
        }
    }
}

/// One update from the workers: into the store, except the outcome of a command, which goes
/// to the status bar (with the server's label when several are watched).
pub fn take(ui: &mut UiState, store: &mut Store, update: Update) {
    match update {
        Update::Acted {
            server,
            command,
            outcome,
            ..
        } => {
            let message = outcome.message(&command);
            if let Command::Explain { queryid, .. } = &command {
                ui.plan = Some((
                    *queryid,
                    match outcome {
                        crate::sample::ActionOutcome::Plan(lines) => lines,
                        other => vec![other.message(&command)],
                    },
                ));
            }
            ui.message = Some(match store.servers.get(server) {
                Some(s) if store.servers.len() > 1 => format!("{}: {message}", s.label),
                _ => message,
            });
        }
        other => store.ingest(other),
    }
}

/// How long after the first sample of a burst the frame is drawn (the rest of the burst
/// arrives meanwhile).
const COALESCE: Duration = Duration::from_millis(60);

/// Samples of a sampler alone (the wait profile, several a second) draw a frame at most this
/// long after the last one; other samples draw one each poll cycle.
const SAMPLER_FRAME_EVERY: Duration = Duration::from_secs(2);

/// A sample of a sampler area ([`crate::sample::Cadence::Sampler`]): it does not draw a frame
/// on its own.
fn is_sampler_sample(update: &Update) -> bool {
    matches!(update, Update::Sample { sample, .. }
        if matches!(sample.area().cadence(), crate::sample::Cadence::Sampler(_)))
}

/// The worst active alert of the server among the rules that colour `tab`'s title.
fn tab_severity(server: &ServerState, tab: Tab) -> Option<Severity> {
    server
        .alerts
        .active
        .values()
        .filter(|a| tab.shows_rule(a.alert.rule))
        .map(|a| a.alert.severity)
        .max()
}

/// The tab bar, and each title's columns `[from, to)` counted from the bar's left edge.
fn tab_bar(
    server: &ServerState,
    ui: &UiState,
    width: u16,
) -> (Line<'static>, Vec<(u16, u16, Tab)>) {
    let short = width < 100;
    // " 1 Activity " each; when they do not fit, htop's "1Activity " (the digit is the key)
    let roomy: usize = Tab::all()
        .enumerate()
        .map(|(i, t)| text::width(t.title(short)) + 4 + usize::from(i >= 10))
        .sum();
    let compact = roomy > usize::from(width);
    let theme = ui.theme;
    let mut spans = Vec::new();
    let mut ranges = Vec::new();
    let mut x: u16 = 0;
    for (i, tab) in Tab::all().enumerate() {
        let mut title = if compact {
            format!("{i}{}", tab.title(short))
        } else {
            format!(" {i} {}", tab.title(short))
        };
        let problem = |a| {
            server
                .area(a)
                .error
                .as_ref()
                .is_some_and(|(e, _)| e.kind.is_failure())
        };
        if tab.area().is_some_and(problem) {
            title.push('!');
        }
        title.push(' ');
        let mut style = theme.severity(tab_severity(server, tab));
        if tab == ui.tab {
            style = style.patch(theme.active_tab());
        }
        let w = text::width(&title) as u16;
        ranges.push((x, x.saturating_add(w), tab));
        x = x.saturating_add(w);
        spans.push(Span::styled(title, style));
    }
    (Line::from(spans), ranges)
}

fn status_bar(ui: &UiState, width: u16) -> Line<'static> {
    let theme = ui.theme;
    if ui.filter_editing {
        return Line::from(vec![
            Span::styled(format!("/{}▏", text::clean(&ui.filter)), theme.active_tab()),
            Span::raw("  Enter keep · Esc clear"),
        ]);
    }
    let mut spans = Vec::new();
    if ui.paused() {
        spans.push(Span::styled(" PAUSED ", theme.active_tab()));
        spans.push(Span::raw(" "));
    }
    if !ui.filter.is_empty() {
        spans.push(Span::styled(
            format!("filter /{} ", text::clean(&ui.filter)),
            theme.heading(),
        ));
    }
    if let Some(m) = &ui.message {
        spans.push(Span::styled(text::clean(m), theme.problem()));
        spans.push(Span::raw("  "));
    }
    if ui.actions_enabled {
        spans.push(Span::styled("c cancel · k terminate · ", theme.dim()));
    } else {
        spans.push(Span::styled("read-only · ", theme.dim()));
    }
    let hints = if width >= 140 {
        format!(
            "q quit · ? help · Tab/0-{} area · [ ] server · s sort · r reverse · / filter · p pause · +/- interval · Enter details",
            Tab::count() - 1
        )
    } else {
        "q quit · ? help · Tab area · / filter · p pause · Enter details".to_string()
    };
    spans.push(Span::styled(hints, theme.dim()));
    Line::from(spans)
}

/// Draw the panel of `tab`, with its table's query and selection from `ui`, and note where
/// its table rows and tiles went (`ui.hits`).
fn draw_panel(tab: Tab, ui: &UiState, v: View<'_>, rect: Rect, buf: &mut ratatui::buffer::Buffer) {
    panels::take_table_hit();
    panels::take_tile_hits();
    draw_panel_only(tab, ui, v, rect, buf);
    let mut hits = ui.hits.borrow_mut();
    hits.table = panels::take_table_hit();
    hits.tiles = panels::take_tile_hits()
        .into_iter()
        .filter_map(|(r, key)| Tab::nth(key).map(|t| (r, t)))
        .collect();
}

fn draw_panel_only(
    tab: Tab,
    ui: &UiState,
    v: View<'_>,
    rect: Rect,
    buf: &mut ratatui::buffer::Buffer,
) {
    let query = ui.query(tab);
    let selected = ui.tab_state(tab).selected;
    match tab {
        Tab::Area(area) => panels::draw_area(area, v, query, selected, rect, buf),
        Tab::Alerts => panels::alerts::AlertsPanel {
            view: v,
            query,
            selected: Some(selected),
        }
        .render(rect, buf),
        Tab::Overview => panels::overview::OverviewPanel { view: v }.render(rect, buf),
        Tab::Fleet => panels::fleet::FleetPanel {
            view: v,
            query,
            selected,
        }
        .render(rect, buf),
    }
}

/// Draw one frame of `store` (the live store: the frozen copy is used while paused) as `ui`
/// says, at `now`. Never panics, whatever the size of the frame.
pub fn draw(frame: &mut Frame, store: &Store, ui: &UiState, now: SystemTime) {
    let area = frame.area();
    draw_in(area, frame.buffer_mut(), store, ui, now);
}

/// [`draw`] into `area` of `buf` (the replay draws its timeline above it).
pub fn draw_in(
    area: Rect,
    buf: &mut ratatui::buffer::Buffer,
    store: &Store,
    ui: &UiState,
    now: SystemTime,
) {
    let store = ui.view(store);
    if area.width < 20 || area.height < 4 {
        Paragraph::new("pgvitals: enlarge the terminal")
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let warnings = store
        .servers
        .iter()
        .any(|s| !s.connection_warnings.is_empty());
    let hh = header::height(store.servers.len(), area.height, warnings);
    let [head, tabs, body, status] = Layout::vertical([
        Constraint::Length(hh),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::Header {
        store,
        selected: ui.server,
        theme: ui.theme,
        interval: ui.interval,
        paused: ui.paused(),
        now,
    }
    .render(head, buf);
    Paragraph::new(status_bar(ui, area.width)).render(status, buf);
    let index = ui.server.min(store.servers.len().saturating_sub(1));
    let Some(server) = store.servers.get(index) else {
        Paragraph::new("no server to watch").render(body, buf);
        return;
    };
    let (bar, ranges) = tab_bar(server, ui, area.width);
    Paragraph::new(bar).render(tabs, buf);
    // what a click can reach in this frame
    let shown = if hh >= 2 {
        usize::from(hh - 1).min(5)
    } else {
        0
    };
    let skip = index.saturating_sub(shown.saturating_sub(1));
    {
        let mut hits = ui.hits.borrow_mut();
        hits.tab_bar = Some((
            tabs.y,
            ranges
                .into_iter()
                .map(|(a, b, t)| (tabs.x + a, tabs.x + b, t))
                .collect(),
        ));
        hits.servers = (0..shown)
            .map(|k| (head.y + k as u16, skip + k))
            .filter(|(_, i)| *i < store.servers.len())
            .collect();
    }
    let v = View {
        store,
        server,
        server_index: index,
        theme: ui.theme,
        paused: ui.paused(),
        now,
    };
    draw_body(ui, v, body, area.width, buf);
    draw_popups(ui, v, body, buf);
}

/// The panel of the current tab; at [`WIDE`] columns (and 20 rows) with the history and
/// the alerts beside it (the history alone beside the alerts tab).
fn draw_body(ui: &UiState, v: View<'_>, body: Rect, width: u16, buf: &mut ratatui::buffer::Buffer) {
    // the overview has the alerts in a tile of its own: it takes the whole body
    if width < WIDE || body.height < 20 || matches!(ui.tab, Tab::Overview | Tab::Fleet) {
        draw_panel(ui.tab, ui, v, body, buf);
        return;
    }
    let side = (width * 2 / 5).min(90);
    let [main, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(side)]).areas(body);
    draw_panel(ui.tab, ui, v, main, buf);
    if ui.tab == Tab::Alerts {
        panels::history::HistoryPanel {
            view: v,
            span: ui.history_span,
        }
        .render(right, buf);
    } else {
        let [hist, alerts] =
            Layout::vertical([Constraint::Length(14), Constraint::Fill(1)]).areas(right);
        panels::history::HistoryPanel {
            view: v,
            span: ui.history_span,
        }
        .render(hist, buf);
        panels::alerts::AlertsPanel {
            view: v,
            query: ui.query(Tab::Alerts),
            selected: None,
        }
        .render(alerts, buf);
    }
}

/// The detail view, the help and the confirmation dialog, over the body, in that order.
fn draw_popups(ui: &UiState, v: View<'_>, body: Rect, buf: &mut ratatui::buffer::Buffer) {
    if let Some(d) = &ui.detail {
        detail::DetailView {
            view: v,
            detail: d,
            scroll: ui.detail_scroll,
            actions_enabled: ui.actions_enabled,
            plan: ui.plan.as_ref(),
        }
        .render(body, buf);
    }
    if ui.help {
        help::HelpView {
            theme: ui.theme,
            actions_enabled: ui.actions_enabled,
        }
        .render(body, buf);
    }
    if let Some(c) = &ui.confirm {
        let label = v
            .store
            .servers
            .get(c.server)
            .map_or("?", |s| s.label.as_str());
        help::ConfirmView {
            theme: ui.theme,
            confirm: c,
            label,
        }
        .render(body, buf);
    }
}
