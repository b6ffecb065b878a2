//! The state of the screen (which server, area, row, sort, filter, dialogs) and the one place
//! it changes: [`UiState::handle_key`].

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::panels;
use super::theme::Theme;
use crate::model::Store;
use crate::sample::Command;
use crate::sample::{Session, Statement};

/// The areas of the screen, in tab order (keys 1–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Activity,
    Statements,
    Cache,
    Replication,
    UnusedIndexes,
    Vacuum,
    Alerts,
}

impl Tab {
    pub const ALL: [Tab; 7] = [
        Tab::Activity,
        Tab::Statements,
        Tab::Cache,
        Tab::Replication,
        Tab::UnusedIndexes,
        Tab::Vacuum,
        Tab::Alerts,
    ];

    /// Position in [`Tab::ALL`] (0..7).
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// Title in the tab bar; `short` for narrow terminals.
    pub fn title(self, short: bool) -> &'static str {
        match (self, short) {
            (Tab::Activity, false) => "Activity",
            (Tab::Statements, false) => "Statements",
            (Tab::Cache, false) => "Cache",
            (Tab::Replication, false) => "Replication",
            (Tab::UnusedIndexes, false) => "Unused indexes",
            (Tab::Vacuum, false) => "Vacuum",
            (Tab::Alerts, false) => "Alerts",
            (Tab::Activity, true) => "Activity",
            (Tab::Statements, true) => "Stmts",
            (Tab::Cache, true) => "Cache",
            (Tab::Replication, true) => "Repl",
            (Tab::UnusedIndexes, true) => "Unused",
            (Tab::Vacuum, true) => "Vacuum",
            (Tab::Alerts, true) => "Alerts",
        }
    }

    /// The names of the sort columns this tab offers (`s` cycles them), empty when the tab
    /// has no sortable table.
    pub fn sort_names(self) -> &'static [&'static str] {
        match self {
            Tab::Activity => panels::activity::SORT_NAMES,
            Tab::Statements => panels::statements::SORT_NAMES,
            Tab::Cache => panels::cache::SORT_NAMES,
            Tab::UnusedIndexes => panels::unused_indexes::SORT_NAMES,
            _ => &[],
        }
    }
}

/// The detail view (Enter): a copy of the row when it was opened; the live row is shown while
/// it still exists.
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
}

/// Poll intervals `+`/`-` step through (250 ms .. 60 s).
pub const INTERVAL_STEPS_MS: [u64; 10] =
    [250, 500, 1000, 2000, 3000, 5000, 10000, 15000, 30000, 60000];

/// Everything the screen remembers between frames.
#[derive(Debug, Clone)]
pub struct UiState {
    /// Index of the server shown.
    pub server: usize,
    pub tab: Tab,
    /// Selected row per tab (index into the sorted, filtered rows).
    pub selected: [usize; 7],
    /// Sort column per tab (index into [`Tab::sort_names`]).
    pub sort: [usize; 7],
    /// Sort reversed per tab.
    pub reverse: [bool; 7],
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
}

impl UiState {
    pub fn new(actions_enabled: bool, color: bool, interval: Duration) -> Self {
        UiState {
            server: 0,
            tab: Tab::Activity,
            selected: [0; 7],
            sort: [0; 7],
            reverse: [false; 7],
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
        }
    }

    /// The store to draw: the frozen copy while paused, else the live one.
    pub fn view<'a>(&'a self, live: &'a Store) -> &'a Store {
        self.frozen.as_ref().unwrap_or(live)
    }

    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// Selected row of the current tab.
    pub fn selected_row(&self) -> usize {
        self.selected[self.tab.index()]
    }

    /// Sort column index of `tab`.
    pub fn sort_of(&self, tab: Tab) -> usize {
        self.sort[tab.index()]
    }

    /// Whether `tab`'s sort is reversed.
    pub fn reversed(&self, tab: Tab) -> bool {
        self.reverse[tab.index()]
    }

    /// True when `texts` match the filter (always, without a filter).
    pub fn matches(&self, texts: &[&str]) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        texts.iter().any(|t| t.to_lowercase().contains(&needle))
    }

    fn rows(&self, live: &Store) -> usize {
        let store = self.view(live);
        let Some(server) = store.servers.get(self.server) else {
            return 0;
        };
        panels::row_count(self.tab, server, self)
    }

    fn move_selection(&mut self, store: &Store, to: impl FnOnce(usize, usize) -> usize) {
        let count = self.rows(store);
        let i = self.tab.index();
        let cur = self.selected[i].min(count.saturating_sub(1));
        self.selected[i] = if count == 0 {
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
        if self.tab != Tab::Activity {
            return None;
        }
        let store = self.view(live);
        let server = store.servers.get(self.server)?;
        let activity = server.activity()?;
        let rows = panels::activity::rows(activity, self);
        rows.get(self.selected_row().min(rows.len().saturating_sub(1)))
            .map(|s| (self.server, (*s).clone()))
    }

    fn open_detail(&mut self, live: &Store) -> Action {
        let store = self.view(live);
        let Some(server) = store.servers.get(self.server) else {
            return Action::Nothing;
        };
        let sel = self.selected_row();
        let detail = match self.tab {
            Tab::Activity => server.activity().and_then(|a| {
                let rows = panels::activity::rows(a, self);
                rows.get(sel).map(|s| Detail::Session {
                    server: self.server,
                    session: (*s).clone(),
                })
            }),
            Tab::Statements => server.statements().and_then(|st| {
                let rows = panels::statements::rows(st, self);
                rows.get(sel).map(|s| Detail::Statement {
                    server: self.server,
                    statement: (*s).clone(),
                })
            }),
            _ => None,
        };
        match detail {
            Some(d) => {
                self.detail = Some(d);
                self.detail_scroll = 0;
            }
            None => {
                self.message = Some(match self.tab {
                    Tab::Activity | Tab::Statements => "no row selected".into(),
                    _ => "details are shown for sessions (1) and statements (2)".into(),
                });
            }
        }
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
                let pooled = live
                    .servers
                    .get(server)
                    .is_some_and(crate::tui::header::through_pooler);
                self.confirm = Some(Confirm {
                    kind,
                    server,
                    pid: s.pid,
                    backend_start: s.backend_start,
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
            return match key.code {
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
            };
        }

        if self.filter_editing {
            match key.code {
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
            self.selected = [0; 7];
            return Action::Redraw;
        }

        if self.help {
            return match key.code {
                KeyCode::Char('q') => Action::Quit,
                _ => {
                    self.help = false;
                    Action::Redraw
                }
            };
        }

        if self.detail.is_some() {
            match key.code {
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
                KeyCode::Char('p') => self.toggle_pause(live),
                KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
                _ => return Action::Nothing,
            }
            return Action::Redraw;
        }

        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Tab => self.tab = Tab::ALL[(self.tab.index() + 1) % Tab::ALL.len()],
            KeyCode::BackTab => {
                self.tab = Tab::ALL[(self.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
            }
            KeyCode::Char(c @ '1'..='7') => {
                self.tab = Tab::ALL[(c as usize) - ('1' as usize)];
            }
            KeyCode::Char('a') => self.tab = Tab::Alerts,
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
            KeyCode::Char('s') => {
                let names = self.tab.sort_names();
                if names.is_empty() {
                    self.message = Some("this panel has no sort columns".into());
                } else {
                    let i = self.tab.index();
                    self.sort[i] = (self.sort[i] + 1) % names.len();
                    self.selected[i] = 0;
                    self.message = Some(format!("sorted by {}", names[self.sort[i]]));
                }
            }
            KeyCode::Char('r') => {
                let i = self.tab.index();
                self.reverse[i] = !self.reverse[i];
                self.selected[i] = 0;
            }
            KeyCode::Char('/') => self.filter_editing = true,
            KeyCode::Char('p') => self.toggle_pause(live),
            KeyCode::Char('+') => return self.step_interval(true),
            KeyCode::Char('-') => return self.step_interval(false),
            KeyCode::Enter => return self.open_detail(live),
            KeyCode::Esc => {
                if self.filter.is_empty() {
                    return Action::Nothing;
                }
                self.filter.clear();
                self.selected = [0; 7];
            }
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Char('c') => return self.ask(ActionKind::Cancel, live),
            KeyCode::Char('k') => return self.ask(ActionKind::Terminate, live),
            _ => return Action::Nothing,
        }
        Action::Redraw
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
