//! The state of the screen (which server, area, row, sort, filter, dialogs) and the one place
//! it changes: [`UiState::handle_key`].

use std::collections::BTreeMap;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::panels::{self, through_pooler};
use super::table::{self, DetailRow, TableQuery};
use super::theme::Theme;
use crate::model::{ServerState, Store};
use crate::sample::{Area, Command, Rule};
use crate::sample::{Session, Statement};

/// A tab of the screen: the overview, one per area that has a tab ([`Area::tabs`], in that
/// order), then the alerts. The digit keys follow [`Tab::all`]: 0 the overview, 1..N the
/// areas (today 1–7), then the alerts (8; `a` also opens them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tab {
    /// Every area at once, a tile each ([`super::panels::overview`]).
    Overview,
    Area(Area),
    Alerts,
    /// Every watched server, a row each ([`super::panels::fleet`]).
    Fleet,
}

impl Tab {
    /// Every tab, in tab order: the overview, the areas with a tab, the alerts, the fleet.
    pub fn all() -> impl Iterator<Item = Tab> {
        std::iter::once(Tab::Overview)
            .chain(Area::tabs().map(Tab::Area))
            .chain([Tab::Alerts, Tab::Fleet])
    }

    /// The `n`th tab (0-based) of [`Tab::all`]: the digit key `n`.
    pub fn nth(n: usize) -> Option<Tab> {
        Tab::all().nth(n)
    }

    /// How many tabs there are.
    pub fn count() -> usize {
        Tab::all().count()
    }

    /// Position in [`Tab::all`] (0-based: its digit key).
    pub fn position(self) -> usize {
        Tab::all().position(|t| t == self).unwrap_or(0)
    }

    /// The tab `by` places after this one, wrapping around (`Tab` +1, `Shift-Tab` −1).
    pub fn step(self, by: isize) -> Tab {
        let n = Tab::count() as isize;
        let i = (self.position() as isize + by).rem_euclid(n);
        Tab::nth(i as usize).unwrap_or(self)
    }

    /// The area the tab shows, `None` for the alerts.
    pub fn area(self) -> Option<Area> {
        match self {
            Tab::Area(a) => Some(a),
            Tab::Overview | Tab::Alerts | Tab::Fleet => None,
        }
    }

    /// Title in the tab bar; `short` for narrow terminals.
    pub fn title(self, short: bool) -> &'static str {
        match self {
            Tab::Overview if short => "All",
            Tab::Overview => "Overview",
            Tab::Area(a) => a.title(short),
            Tab::Alerts => "Alerts",
            Tab::Fleet => "Fleet",
        }
    }

    /// Whether alerts of `rule` colour this tab's title: the rules of its area, every rule
    /// for the overview and the alerts tab.
    pub fn shows_rule(self, rule: Rule) -> bool {
        match self {
            Tab::Area(a) => rule.area() == a,
            Tab::Overview | Tab::Alerts | Tab::Fleet => true,
        }
    }

    /// The names of the sort columns this tab offers (`s` cycles them), empty when the tab
    /// has no sortable table.
    pub fn sort_names(self) -> &'static [&'static str] {
        match self {
            Tab::Area(a) => panels::sort_names(a),
            Tab::Fleet => table::FLEET_SORT,
            Tab::Overview | Tab::Alerts => &[],
        }
    }
}

/// What the screen remembers per tab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TabState {
    /// Selected row (index into the sorted, filtered rows).
    pub selected: usize,
    /// Sort column (index into [`Tab::sort_names`]).
    pub sort: usize,
    /// Sort reversed.
    pub reverse: bool,
}

/// The detail view (Enter): a copy of the row when it was opened; the live row is shown while
/// it still exists.
// one of these at a time (the row the detail shows): the size difference costs nothing
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Session { server: usize, session: Session },
    Statement { server: usize, statement: Statement },
}

/// Cancel (`c`, `pg_cancel_backend`) or terminate (`k`, `pg_terminate_backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Cancel,
    Terminate,
}

/// The confirmation dialog of a cancel/terminate, naming the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub kind: ActionKind,
    pub server: usize,
    pub pid: i32,
    /// `backend_start` of the row shown (epoch seconds): with `pid`, the backend the user
    /// confirms on, even when the row shown is older than the live one (paused, detail view).
    pub backend_start: Option<crate::sample::EpochSeconds>,
    pub usename: Option<String>,
    /// Raw query text; sanitized when drawn.
    pub query: String,
    /// The server is reached through a connection pooler ([`ServerFacts::pooled`] when the
    /// dialog opened): the pid is a pooler's server connection, which may serve another
    /// client by the time the signal arrives.
    ///
    /// [`ServerFacts::pooled`]: crate::sample::ServerFacts::pooled
    pub pooled: bool,
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing changed.
    Nothing,
    /// The UI state changed: draw again.
    Redraw,
    /// Leave the dashboard.
    Quit,
    /// The user changed the poll interval.
    SetInterval(Duration),
    /// Send a confirmed command to the workers.
    Send(Command),
    /// Put this text on the terminal's clipboard (OSC 52); already sanitized.
    Copy(String),
}

/// A tab title's columns on the tab bar, `[from, to)`, and its tab.
pub type TabSpan = (u16, u16, Tab);

/// Where the last frame drew what a click can select: the tab titles, the servers' header
/// lines, the overview's tiles and the rows of the selectable table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    /// The tab bar's row and each title's columns `[from, to)`.
    pub tab_bar: Option<(u16, Vec<TabSpan>)>,
    /// Header rows and the server each shows.
    pub servers: Vec<(u16, usize)>,
    /// The overview's tiles and the tab each opens.
    pub tiles: Vec<(Rect, Tab)>,
    /// The selectable table of the current tab.
    pub table: Option<panels::TableHit>,
}

/// Two clicks on the same row within this long are a double-click (details).
pub const DOUBLE_CLICK: std::time::Duration = std::time::Duration::from_millis(500);

/// The most text `y` puts on the clipboard: terminals cap OSC 52 (xterm at about 100 kB of
/// base64), and a statement's text can be megabytes.
pub const COPY_MAX_BYTES: usize = 64 * 1024;

/// Text for the clipboard: control characters (C0 but tab and newline, DEL, C1, and the
/// escape sequences they start) removed, so pasting it into a terminal or shell cannot run
/// anything, and cut to [`COPY_MAX_BYTES`] at a character boundary.
pub fn clipboard_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(COPY_MAX_BYTES));
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // an escape sequence: drop it whole (CSI / OSC up to its terminator)
            match chars.peek() {
                Some('[') => {
                    chars.next();
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') => {
                    chars.next();
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' || (n == '\u{1b}' && chars.peek() == Some(&'\\')) {
                            if n == '\u{1b}' {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            }
            continue;
        }
        let keep = match c {
            '\n' | '\t' => true,
            '\r' => false,
            c if c.is_control() => false,
            // bidirectional overrides and isolates reorder what is seen from what runs
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => false,
            _ => true,
        };
        if !keep {
            continue;
        }
        if out.len() + c.len_utf8() > COPY_MAX_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// From this terminal size (columns, rows) up the dashboard starts on the overview.
pub const OVERVIEW_FIRST: (u16, u16) = (160, 48);

/// Poll intervals `+`/`-` step through (250 ms .. 60 s).
pub const INTERVAL_STEPS_MS: [u64; 10] =
    [250, 500, 1000, 2000, 3000, 5000, 10000, 15000, 30000, 60000];

/// Everything the screen remembers between frames.
#[derive(Debug, Clone)]
pub struct UiState {
    /// Index of the server shown.
    pub server: usize,
    pub tab: Tab,
    /// Selection and sort per tab (a tab not in the map has the default: first row, first
    /// sort column, not reversed).
    pub tabs: BTreeMap<Tab, TabState>,
    /// Rows are kept when one of their texts contains this (case-insensitive).
    pub filter: String,
    /// The filter is being typed.
    pub filter_editing: bool,
    /// Paused: the store as it was when `p` was pressed; updates keep going to the live one.
    pub frozen: Option<Store>,
    pub detail: Option<Detail>,
    /// Scroll offset of the detail view, lines.
    pub detail_scroll: u16,
    pub confirm: Option<Confirm>,
    pub help: bool,
    /// A one-line note for the status bar, cleared by the next key.
    pub message: Option<String>,
    pub actions_enabled: bool,
    pub theme: Theme,
    /// The current poll interval.
    pub interval: Duration,
    /// Rows moved by PgUp/PgDn.
    pub page: usize,
    /// The history panel's span, an index into [`crate::tui::panels::history::SPANS`]
    /// (`h` cycles).
    pub history_span: usize,
    /// Where the last frame drew what a click selects (written while drawing).
    pub hits: std::cell::RefCell<Hits>,
    /// The last left click: when, and the table row it selected (for the double-click).
    pub last_click: Option<(std::time::Instant, Option<usize>)>,
    /// The plan `e` got for a statement: (queryid, lines, raw server text).
    pub plan: Option<(i64, Vec<String>)>,
}

impl UiState {
    pub fn new(actions_enabled: bool, color: bool, interval: Duration) -> Self {
        UiState {
            server: 0,
            tab: Tab::Area(Area::Activity),
            tabs: BTreeMap::new(),
            filter: String::new(),
            filter_editing: false,
            frozen: None,
            detail: None,
            detail_scroll: 0,
            confirm: None,
            help: false,
            message: None,
            actions_enabled,
            theme: Theme { color },
            interval,
            page: 10,
            history_span: 0,
            hits: std::cell::RefCell::new(Hits::default()),
            last_click: None,
            plan: None,
        }
    }

    /// The first screen for a terminal of `width` x `height` watching `servers`: the fleet
    /// with more than [`panels::fleet::FLEET_FIRST`] servers, else the overview from
    /// [`OVERVIEW_FIRST`] up, else the activity.
    pub fn first_tab(&mut self, width: u16, height: u16, servers: usize) {
        let (w, h) = OVERVIEW_FIRST;
        self.tab = if servers > panels::fleet::FLEET_FIRST {
            Tab::Fleet
        } else if width >= w && height >= h {
            Tab::Overview
        } else {
            Tab::Area(Area::Activity)
        };
    }

    /// The store to draw: the frozen copy while paused, else the live one.
    pub fn view<'a>(&'a self, live: &'a Store) -> &'a Store {
        self.frozen.as_ref().unwrap_or(live)
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// Selection and sort of `tab`.
    pub fn tab_state(&self, tab: Tab) -> TabState {
        self.tabs.get(&tab).copied().unwrap_or_default()
    }

    /// Selection and sort of `tab`, to change.
    pub fn tab_state_mut(&mut self, tab: Tab) -> &mut TabState {
        self.tabs.entry(tab).or_default()
    }

    /// Selected row of the current tab.
    pub fn selected_row(&self) -> usize {
        self.tab_state(self.tab).selected
    }

    /// Sort, direction and filter of `tab`'s table: what its rows are computed from.
    pub fn query(&self, tab: Tab) -> TableQuery<'_> {
        let state = self.tab_state(tab);
        TableQuery {
            sort: state.sort,
            reverse: state.reverse,
            filter: &self.filter,
        }
    }

    /// Back to the first row in every tab (the filter changed).
    fn reset_selections(&mut self) {
        for state in self.tabs.values_mut() {
            state.selected = 0;
        }
    }

    fn rows(&self, live: &Store) -> usize {
        let store = self.view(live);
        let query = self.query(self.tab);
        if self.tab == Tab::Fleet {
            return table::fleet(store, &query, std::time::SystemTime::now()).len();
        }
        let Some(server) = store.servers.get(self.server) else {
            return 0;
        };
        match self.tab {
            Tab::Area(area) => panels::row_count(area, server, &query),
            Tab::Alerts => table::alert_count(server, &query),
            Tab::Overview | Tab::Fleet => 0,
        }
    }

    fn move_selection(&mut self, store: &Store, to: impl FnOnce(usize, usize) -> usize) {
        let count = self.rows(store);
        let state = self.tab_state_mut(self.tab);
        let cur = state.selected.min(count.saturating_sub(1));
        state.selected = if count == 0 {
            0
        } else {
            to(cur, count).min(count - 1)
        };
    }

    fn step_interval(&mut self, longer: bool) -> Action {
        let cur = self.interval.as_millis() as u64;
        let next = if longer {
            INTERVAL_STEPS_MS.iter().copied().find(|&s| s > cur)
        } else {
            INTERVAL_STEPS_MS.iter().rev().copied().find(|&s| s < cur)
        };
        match next {
            Some(ms) => {
                self.interval = Duration::from_millis(ms);
                self.message = Some(format!(
                    "refresh every {}",
                    humantime::format_duration(self.interval)
                ));
                Action::SetInterval(self.interval)
            }
            None => {
                self.message = Some(format!(
                    "refresh interval stays at {} (bounds 250ms..1m)",
                    humantime::format_duration(self.interval)
                ));
                Action::Redraw
            }
        }
    }

    /// The session a cancel/terminate would act on: the one in the detail view, else the
    /// selected row of the activity tab.
    fn target_session(&self, live: &Store) -> Option<(usize, Session)> {
        if let Some(Detail::Session { server, session }) = &self.detail {
            return Some((*server, session.clone()));
        }
        if self.tab != Tab::Area(Area::Activity) {
            return None;
        }
        let store = self.view(live);
        let server = store.servers.get(self.server)?;
        let activity = server.activity()?;
        let rows = table::sessions(activity, &self.query(self.tab));
        rows.get(self.selected_row().min(rows.len().saturating_sub(1)))
            .map(|s| (self.server, (*s).clone()))
    }

    /// The detail of the selected row, for the tabs that have one (sessions, statements).
    fn selected_detail(&self, server: &ServerState) -> Option<Detail> {
        let Tab::Area(area) = self.tab else {
            return None;
        };
        let query = self.query(self.tab);
        let row = panels::detail_row(area, server, &query, self.selected_row())?;
        Some(match row {
            DetailRow::Session(session) => Detail::Session {
                server: self.server,
                session,
            },
            DetailRow::Statement(statement) => Detail::Statement {
                server: self.server,
                statement,
            },
        })
    }

    fn open_detail(&mut self, live: &Store) -> Action {
        if self.tab == Tab::Fleet {
            return self.open_fleet_row(live);
        }
        let store = self.view(live);
        let Some(server) = store.servers.get(self.server) else {
            return Action::Nothing;
        };
        match self.selected_detail(server) {
            Some(d) => {
                self.detail = Some(d);
                self.detail_scroll = 0;
            }
            None => {
                self.message = Some(match self.tab {
                    Tab::Area(area) if panels::has_detail(area) => "no row selected".into(),
                    Tab::Area(_) | Tab::Alerts | Tab::Overview | Tab::Fleet => {
                        "details are shown for sessions (1) and statements (2)".into()
                    }
                });
            }
        }
        Action::Redraw
    }

    /// Enter on the fleet: the selected server's overview.
    fn open_fleet_row(&mut self, live: &Store) -> Action {
        let store = self.view(live);
        let rows = table::fleet(store, &self.query(Tab::Fleet), std::time::SystemTime::now());
        let Some(row) = rows.get(self.selected_row().min(rows.len().saturating_sub(1))) else {
            self.message = Some("no server matches the filter".into());
            return Action::Redraw;
        };
        self.server = row.index;
        self.tab = Tab::Overview;
        self.filter.clear();
        Action::Redraw
    }

    fn ask(&mut self, kind: ActionKind, live: &Store) -> Action {
        if !self.actions_enabled {
            self.message = Some(
                "read-only: cancel/terminate are disabled (start pgvitals with --enable-actions)"
                    .into(),
            );
            return Action::Redraw;
        }
        match self.target_session(live) {
            Some((server, s)) => {
                let pooled = live.servers.get(server).is_some_and(through_pooler);
                self.confirm = Some(Confirm {
                    kind,
                    server,
                    pid: s.pid,
                    backend_start: s.backend_start.get(),
                    usename: s.usename.clone(),
                    query: s.query.clone(),
                    pooled,
                });
            }
            None => {
                self.message = Some("select a session in the activity tab (1) first".into());
            }
        }
        Action::Redraw
    }

    /// Apply one key. `live` is the live store (the frozen copy is used for what is shown).
    /// The first of these that is open takes the key: the confirmation dialog, the filter
    /// being typed, the help, the detail view; else the tables (`browse_key`).
    pub fn handle_key(&mut self, key: KeyEvent, live: &Store) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Nothing;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
            return Action::Quit;
        }
        self.message = None;
        if let Some(confirm) = self.confirm.take() {
            return self.confirm_key(confirm, key.code);
        }
        if self.filter_editing {
            return self.filter_key(key.code, ctrl);
        }
        if self.help {
            return self.help_key(key.code);
        }
        if self.detail.is_some() {
            return self.detail_key(key.code, live);
        }
        self.browse_key(key.code, live)
    }

    /// The confirmation dialog is open: `y` sends the command, any other key closes it.
    fn confirm_key(&mut self, confirm: Confirm, code: KeyCode) -> Action {
        match code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                let command = match confirm.kind {
                    ActionKind::Cancel => Command::CancelBackend {
                        server: confirm.server,
                        pid: confirm.pid,
                        backend_start: confirm.backend_start,
                        usename: confirm.usename.clone(),
                        query: confirm.query.clone(),
                    },
                    ActionKind::Terminate => Command::TerminateBackend {
                        server: confirm.server,
                        pid: confirm.pid,
                        backend_start: confirm.backend_start,
                        usename: confirm.usename.clone(),
                        query: confirm.query.clone(),
                    },
                };
                self.message = Some(format!(
                    "{} requested for pid {}",
                    match confirm.kind {
                        ActionKind::Cancel => "cancel",
                        ActionKind::Terminate => "terminate",
                    },
                    confirm.pid
                ));
                Action::Send(command)
            }
            _ => {
                self.message = Some(format!("nothing sent to pid {}", confirm.pid));
                Action::Redraw
            }
        }
    }

    /// The filter is being typed: characters are text, not commands.
    fn filter_key(&mut self, code: KeyCode, ctrl: bool) -> Action {
        match code {
            KeyCode::Char(c) if !ctrl => self.filter.push(c),
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Enter => self.filter_editing = false,
            KeyCode::Esc => {
                self.filter.clear();
                self.filter_editing = false;
            }
            _ => return Action::Nothing,
        }
        self.reset_selections();
        Action::Redraw
    }

    /// The help is open: `q` quits, any other key closes it.
    fn help_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Char('q') => Action::Quit,
            _ => {
                self.help = false;
                Action::Redraw
            }
        }
    }

    /// The detail view is open: scroll, close, or act on its session.
    fn detail_key(&mut self, code: KeyCode, live: &Store) -> Action {
        match code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace => self.detail = None,
            KeyCode::Up => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            KeyCode::Down => self.detail_scroll = self.detail_scroll.saturating_add(1),
            KeyCode::PageUp => {
                self.detail_scroll = self.detail_scroll.saturating_sub(self.page as u16)
            }
            KeyCode::PageDown => {
                self.detail_scroll = self.detail_scroll.saturating_add(self.page as u16)
            }
            KeyCode::Home => self.detail_scroll = 0,
            KeyCode::Char('c') => return self.ask(ActionKind::Cancel, live),
            KeyCode::Char('k') => return self.ask(ActionKind::Terminate, live),
            KeyCode::Char('y') => return self.copy(live),
            KeyCode::Char('e') => return self.explain(),
            KeyCode::Char('p') => self.toggle_pause(live),
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            _ => return Action::Nothing,
        }
        Action::Redraw
    }

    /// `e` in a statement's detail: ask the worker for its plan (EXPLAIN, never executed;
    /// read-only, so without `--enable-actions`).
    fn explain(&mut self) -> Action {
        let Some(Detail::Statement { server, statement }) = &self.detail else {
            return Action::Nothing;
        };
        let queryid = statement.queryid;
        self.plan = Some((
            queryid,
            vec![format!(
                "planning statement {queryid}… (EXPLAIN, never executed)"
            )],
        ));
        Action::Send(Command::Explain {
            server: *server,
            queryid,
        })
    }

    /// No popup is open: commands, sort and filter; moving between tabs, servers and rows
    /// is [`UiState::navigate`].
    fn browse_key(&mut self, code: KeyCode, live: &Store) -> Action {
        match code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('s') => self.cycle_sort(),
            KeyCode::Char('r') => {
                let state = self.tab_state_mut(self.tab);
                state.reverse = !state.reverse;
                state.selected = 0;
            }
            KeyCode::Char('/') => self.filter_editing = true,
            KeyCode::Char('p') => self.toggle_pause(live),
            KeyCode::Char('h') => {
                self.history_span = (self.history_span + 1) % super::panels::history::SPANS.len();
            }
            KeyCode::Char('+') => return self.step_interval(true),
            KeyCode::Char('-') => return self.step_interval(false),
            KeyCode::Enter => return self.open_detail(live),
            KeyCode::Esc => {
                if self.filter.is_empty() {
                    return Action::Nothing;
                }
                self.filter.clear();
                self.reset_selections();
            }
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Char('c') => return self.ask(ActionKind::Cancel, live),
            KeyCode::Char('k') => return self.ask(ActionKind::Terminate, live),
            KeyCode::Char('y') => return self.copy(live),
            _ => return self.navigate(code, live),
        }
        Action::Redraw
    }

    /// Tab/Shift-Tab, the digit keys and `a` (tabs), `[ ]` and ← → (servers), the arrows,
    /// PgUp/PgDn and Home/End (rows).
    fn navigate(&mut self, code: KeyCode, live: &Store) -> Action {
        match code {
            KeyCode::Tab => self.tab = self.tab.step(1),
            KeyCode::BackTab => self.tab = self.tab.step(-1),
            KeyCode::Char(c @ '0'..='9') => match Tab::nth((c as usize) - ('0' as usize)) {
                Some(tab) => self.tab = tab,
                None => return Action::Nothing,
            },
            KeyCode::Char('a') => self.tab = Tab::Alerts,
            KeyCode::Char('f') => self.tab = Tab::Fleet,
            KeyCode::Char(']') | KeyCode::Right if !live.servers.is_empty() => {
                self.server = (self.server + 1) % live.servers.len();
            }
            KeyCode::Char('[') | KeyCode::Left if !live.servers.is_empty() => {
                self.server = (self.server + live.servers.len() - 1) % live.servers.len();
            }
            KeyCode::Up => self.move_selection(live, |cur, _| cur.saturating_sub(1)),
            KeyCode::Down => self.move_selection(live, |cur, _| cur + 1),
            KeyCode::PageUp => {
                let page = self.page;
                self.move_selection(live, |cur, _| cur.saturating_sub(page))
            }
            KeyCode::PageDown => {
                let page = self.page;
                self.move_selection(live, |cur, _| cur + page)
            }
            KeyCode::Home => self.move_selection(live, |_, _| 0),
            KeyCode::End => self.move_selection(live, |_, n| n.saturating_sub(1)),
            _ => return Action::Nothing,
        }
        Action::Redraw
    }

    /// A mouse event at `now`: a click on a tab or a server's header line selects it, on an
    /// overview tile opens its panel, on a table row selects the row, and a second click on
    /// the same row within [`DOUBLE_CLICK`] opens its details; the wheel moves the selection
    /// (or scrolls the detail view). A click closes the help; the confirmation dialog takes
    /// no clicks (only `y` confirms).
    pub fn handle_mouse(&mut self, m: MouseEvent, live: &Store, now: std::time::Instant) -> Action {
        if self.confirm.is_some() || self.filter_editing {
            return Action::Nothing;
        }
        let wheel = match m.kind {
            MouseEventKind::ScrollDown => Some(3isize),
            MouseEventKind::ScrollUp => Some(-3),
            _ => None,
        };
        if let Some(by) = wheel {
            if self.help {
                return Action::Nothing;
            }
            if self.detail.is_some() {
                self.detail_scroll = if by > 0 {
                    self.detail_scroll.saturating_add(3)
                } else {
                    self.detail_scroll.saturating_sub(3)
                };
            } else {
                self.move_selection(live, |cur, _| cur.saturating_add_signed(by));
            }
            return Action::Redraw;
        }
        if m.kind != MouseEventKind::Down(MouseButton::Left) {
            return Action::Nothing;
        }
        self.message = None;
        if self.help {
            self.help = false;
            return Action::Redraw;
        }
        if self.detail.is_some() {
            return Action::Nothing;
        }
        let at = Position::new(m.column, m.row);
        let hits = self.hits.borrow().clone();
        if let Some((y, titles)) = &hits.tab_bar {
            if *y == m.row {
                if let Some((_, _, tab)) =
                    titles.iter().find(|(a, b, _)| (*a..*b).contains(&m.column))
                {
                    self.tab = *tab;
                    self.last_click = None;
                    return Action::Redraw;
                }
            }
        }
        if let Some((_, server)) = hits.servers.iter().find(|(y, _)| *y == m.row) {
            if *server < live.servers.len() {
                self.server = *server;
                self.last_click = None;
                return Action::Redraw;
            }
        }
        if let Some((_, tab)) = hits.tiles.iter().find(|(r, _)| r.contains(at)) {
            self.tab = *tab;
            self.last_click = None;
            return Action::Redraw;
        }
        if let Some(t) = hits.table.filter(|t| t.rows.contains(at)) {
            let row = t.first + usize::from(m.row - t.rows.y);
            if row >= t.count {
                return Action::Nothing;
            }
            let double = self.last_click.is_some_and(|(when, r)| {
                r == Some(row) && now.duration_since(when) <= DOUBLE_CLICK
            });
            self.tab_state_mut(self.tab).selected = row;
            if double {
                self.last_click = None;
                return self.open_detail(live);
            }
            self.last_click = Some((now, Some(row)));
            return Action::Redraw;
        }
        Action::Nothing
    }

    /// `y`: the text of the detail view (the whole query of its session or statement), else
    /// the selected row's query, for the clipboard.
    fn copy(&mut self, live: &Store) -> Action {
        let text = match &self.detail {
            Some(Detail::Session { session, .. }) => Some(session.query.clone()),
            Some(Detail::Statement { statement, .. }) => {
                statement.query.as_deref().map(str::to_owned)
            }
            None => {
                let store = self.view(live);
                store
                    .servers
                    .get(self.server)
                    .and_then(|server| self.selected_detail(server))
                    .and_then(|d| match d {
                        Detail::Session { session, .. } => Some(session.query),
                        Detail::Statement { statement, .. } => {
                            statement.query.as_deref().map(str::to_owned)
                        }
                    })
            }
        };
        match text.filter(|t| !t.trim().is_empty()) {
            Some(t) => {
                let clean = clipboard_text(&t);
                let cut = if clean.len() < t.len() && t.len() > COPY_MAX_BYTES {
                    " (cut to 64 KiB)"
                } else {
                    ""
                };
                self.message = Some(format!(
                    "copied {} characters to the clipboard{cut}",
                    clean.chars().count()
                ));
                Action::Copy(clean)
            }
            None => {
                self.message = Some(
                    "nothing to copy: select a session (1) or a statement (2) with a query".into(),
                );
                Action::Redraw
            }
        }
    }

    /// `s`: the next sort column of the current tab (a note when it has none).
    fn cycle_sort(&mut self) {
        let names = self.tab.sort_names();
        if names.is_empty() {
            self.message = Some("this panel has no sort columns".into());
            return;
        }
        let state = self.tab_state_mut(self.tab);
        state.sort = (state.sort + 1) % names.len();
        state.selected = 0;
        let name = names[state.sort];
        self.message = Some(format!("sorted by {name}"));
    }

    fn toggle_pause(&mut self, live: &Store) {
        if self.frozen.take().is_none() {
            self.frozen = Some(live.clone());
            self.message =
                Some("paused: the screen holds, samples keep arriving (p resumes)".into());
        } else {
            self.message = Some("resumed".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tabs are the areas that have one, in the registry's order, then the alerts and
    /// the fleet; keys follow that order and Tab/Shift-Tab wrap around.
    #[test]
    fn tabs_follow_the_area_registry() {
        let tabs: Vec<Tab> = Tab::all().collect();
        let areas: Vec<Tab> = Area::tabs().map(Tab::Area).collect();
        assert_eq!(tabs[0], Tab::Overview);
        assert_eq!(&tabs[1..=areas.len()], &areas[..]);
        assert_eq!(tabs[areas.len() + 1], Tab::Alerts);
        assert_eq!(tabs.last(), Some(&Tab::Fleet));
        assert!(!tabs.contains(&Tab::Area(Area::Server)));
        for (i, tab) in tabs.iter().enumerate() {
            assert_eq!(tab.position(), i);
            assert_eq!(Tab::nth(i), Some(*tab));
            assert_eq!(tab.step(1).step(-1), *tab);
        }
        assert_eq!(Tab::Fleet.step(1), Tab::Overview);
        assert_eq!(tabs[0].step(-1), Tab::Fleet);
        assert_eq!(Tab::Area(Area::Statements).title(true), "Stmts");
        assert!(Tab::Alerts.shows_rule(Rule::ServerUnreachable));
        assert!(!Tab::Area(Area::Cache).shows_rule(Rule::XidAge));
    }

    /// Sort and selection are kept per tab.
    #[test]
    fn sort_and_selection_are_per_tab() {
        let mut ui = UiState::new(false, false, Duration::from_secs(1));
        let cache = Tab::Area(Area::Cache);
        ui.tab_state_mut(cache).sort = 2;
        ui.tab_state_mut(cache).selected = 4;
        assert_eq!(ui.query(cache).sort, 2);
        assert_eq!(ui.query(Tab::Area(Area::Activity)).sort, 0);
        assert_eq!(ui.selected_row(), 0, "the activity tab is shown");
        ui.tab = cache;
        assert_eq!(ui.selected_row(), 4);
        ui.reset_selections();
        assert_eq!(ui.selected_row(), 0);
        assert_eq!(ui.query(cache).sort, 2, "the sort stays");
    }
}
