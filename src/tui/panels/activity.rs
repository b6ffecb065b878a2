//! Activity: sessions from `pg_stat_activity` (sortable, filterable; blocked and blocking
//! sessions marked) and the lock tree built by the model ([`lock_tree`]).

use std::collections::{BTreeSet, HashMap};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Widget};

use super::{View, dur, frame, note, render_table_window, rest_width, split_top, through_pooler};
use crate::model::alerts::Subject;
use crate::model::locks::{LockNode, lock_tree};
use crate::sample::Area;
use crate::sample::{ActivitySample, Session};
use crate::sample::{privilege_gaps, privilege_notice};
use crate::tui::table::{self, TableQuery};
use crate::tui::text;

/// The lock forest as display lines: (tree prefix, node).
pub fn flatten(roots: &[LockNode]) -> Vec<(String, &LockNode)> {
    fn walk<'a>(
        node: &'a LockNode,
        prefix: &str,
        last: bool,
        root: bool,
        out: &mut Vec<(String, &'a LockNode)>,
    ) {
        let (here, below) = if root {
            (String::new(), String::new())
        } else if last {
            (format!("{prefix}└─ "), format!("{prefix}   "))
        } else {
            (format!("{prefix}├─ "), format!("{prefix}│  "))
        };
        out.push((here, node));
        let n = node.waiters.len();
        for (i, w) in node.waiters.iter().enumerate() {
            walk(w, &below, i + 1 == n, false, out);
        }
    }
    let mut out = Vec::new();
    for r in roots {
        walk(r, "", true, true, &mut out);
    }
    out
}

/// `user@database` of a session.
pub fn who(s: &Session) -> String {
    text::clean(&format!(
        "{}@{}",
        s.usename.as_deref().unwrap_or("?"),
        s.datname.as_deref().unwrap_or("?")
    ))
}

/// A short state: `idle in transaction` → `idle in xact`.
pub fn short_state(state: Option<&str>) -> String {
    match state {
        Some("idle in transaction") => "idle in xact".into(),
        Some("idle in transaction (aborted)") => "idle in xact (ab)".into(),
        Some(s) => text::clean(s),
        None => "-".into(),
    }
}

/// The line under the summary when pgvitals connects through a pooler: what
/// `pg_stat_activity` shows then.
pub const POOLER_NOTE: &str = "via a connection pooler: these are its server connections \
     (client_addr is the pooler, application_name its last client's); its clients are in \
     the pooler's SHOW CLIENTS";

/// What the monitoring role cannot see in `area` and the GRANT that fixes it, as one
/// sanitized line of at most `max` columns: [`privilege_notice`] as it is when it fits, else
/// the hidden part cut short so that the GRANT stays whole (the one thing to copy). `None`
/// when the server was never probed or the role sees everything there (superuser, pg_monitor,
/// pg_read_all_stats). Used under the summary of the activity, replication and vacuum panels
/// (the statements panel shows the same notice from its sample).
pub fn privilege_text(
    facts: Option<&crate::sample::ServerFacts>,
    area: Area,
    max: usize,
) -> Option<String> {
    let facts = facts?;
    let full = text::clean(&privilege_notice(facts, area)?);
    if text::width(&full) <= max {
        return Some(full);
    }
    let gap = privilege_gaps(facts).into_iter().find(|g| g.area == area)?;
    let suffix = format!(": {}", text::clean(&gap.fix));
    let room = max.saturating_sub(text::width(&suffix));
    if room < 12 {
        return Some(text::truncate(&full, max));
    }
    Some(format!(
        "{}{suffix}",
        text::truncate(&text::clean(&gap.hidden), room)
    ))
}

/// [`privilege_text`] of `area` for this view's server, styled as a problem (as the
/// statements panel styles its notice), fitted to `width` columns.
pub fn privilege_line(v: &View<'_>, area: Area, width: u16) -> Option<Line<'static>> {
    privilege_text(v.server.facts.as_ref(), area, usize::from(width))
        .map(|t| Line::from(Span::styled(t, v.theme().problem())))
}

/// The activity panel.
pub struct ActivityPanel<'a> {
    pub view: View<'a>,
    /// Sort and filter of the sessions table.
    pub query: TableQuery<'a>,
    /// Selected row of the sessions table.
    pub selected: usize,
}

impl Widget for ActivityPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let Some(inner) = frame(Area::Activity.title(false), v, Area::Activity, rect, buf) else {
            return;
        };
        let Some(a) = v.server.activity() else {
            return;
        };
        let rest = summary_section(v, a, inner, buf);
        let rest = waits_section(v, rest, buf);
        let rest = notes_section(v, rest, buf);
        let rest = lock_tree_section(v, a, rest, buf);
        self.sessions_table(a, rest, buf);
    }
}

/// The summary line: connections, sessions per state, sessions waiting on a lock. Returns
/// the space below it.
fn summary_section(v: &View<'_>, a: &ActivitySample, inner: Rect, buf: &mut Buffer) -> Rect {
    let theme = v.theme();
    let conn_sev = v
        .server
        .alerts
        .severity_of(crate::sample::Rule::Connections, &Subject::Server);
    let mut spans = vec![Span::styled(
        format!(
            "connections {}/{} usable",
            a.client_backends, a.usable_connections
        ),
        theme.severity(conn_sev),
    )];
    for st in &a.states {
        spans.push(Span::raw(format!(
            " · {} {}",
            text::clean(&st.state),
            st.count
        )));
    }
    if a.waiting_on_lock > 0 {
        spans.push(Span::styled(
            format!(" · waiting on a lock {}", a.waiting_on_lock),
            theme.problem(),
        ));
    }
    let (top, rest) = split_top(inner, 1);
    Paragraph::new(Line::from(spans)).render(top, buf);
    rest
}

/// The wait profile's line (waits now, over the window) when there is room for it and a
/// table below. Returns the space below it.
fn waits_section(v: &View<'_>, rest: Rect, buf: &mut Buffer) -> Rect {
    let width = usize::from(rest.width);
    let line = match super::waits::failure_note(v, width) {
        Some(note) => Some(Line::from(Span::styled(note, v.theme.problem()))),
        None => super::waits::activity_line(v, width),
    };
    match line {
        Some(line) if rest.height > 3 => {
            let (top, rest) = split_top(rest, 1);
            Paragraph::new(line).render(top, buf);
            rest
        }
        _ => rest,
    }
}

/// What the role cannot see, and what the rows are when connected through a pooler, one line
/// each when there is room. Returns the space below them.
fn notes_section(v: &View<'_>, rest: Rect, buf: &mut Buffer) -> Rect {
    let rest = match privilege_line(v, Area::Activity, rest.width) {
        Some(line) if rest.height > 2 => {
            let (note, rest) = split_top(rest, 1);
            Paragraph::new(line).render(note, buf);
            rest
        }
        _ => rest,
    };
    if through_pooler(v.server) && rest.height > 3 {
        let (note, rest) = split_top(rest, 1);
        Paragraph::new(Line::from(Span::styled(POOLER_NOTE, v.theme().dim()))).render(note, buf);
        rest
    } else {
        rest
    }
}

/// The lock tree, in at most a third of `rest` (nothing when no session blocks another or
/// the space is short). Returns the space below it.
fn lock_tree_section(v: &View<'_>, a: &ActivitySample, rest: Rect, buf: &mut Buffer) -> Rect {
    let tree = lock_tree(&a.sessions);
    if tree.is_empty() || rest.height < 4 {
        return rest;
    }
    let by_pid: HashMap<i32, &Session> = a.sessions.iter().map(|s| (s.pid, s)).collect();
    let lines = flatten(&tree);
    let room = (rest.height / 3).max(2);
    let n = (lines.len() as u16 + 1).min(room);
    let (tree_rect, rest) = split_top(rest, n);
    let mut out = vec![Line::from(Span::styled(
        format!("Lock tree: {} root blocker(s)", tree.len()),
        v.theme().heading(),
    ))];
    for (prefix, node) in lines.iter().take(n.saturating_sub(1) as usize) {
        let line = lock_node_text(prefix, node, by_pid.get(&node.pid), tree_rect.width);
        let sev = v
            .server
            .alerts
            .worst_in(Area::Activity, &Subject::Backend(node.pid));
        out.push(Line::from(Span::styled(
            text::truncate(&line, tree_rect.width as usize),
            v.theme().severity(sev),
        )));
    }
    Paragraph::new(out).render(tree_rect, buf);
    rest
}

/// One line of the lock tree: the pid under its tree prefix, how long it waits, and who it
/// is and what it runs (or why it is not known), within `width` columns.
fn lock_node_text(prefix: &str, node: &LockNode, session: Option<&&Session>, width: u16) -> String {
    let mut line = format!("{prefix}{}", node.pid);
    if let Some(w) = node.wait_s {
        line.push_str(&format!(" waits {}", crate::model::format_duration_s(w)));
    }
    if node.cycle {
        line.push_str(" (cycle: a deadlock until the detector ends it)");
    } else if !node.known {
        line.push_str(
            " (not in pg_stat_activity: background process, prepared transaction or not visible)",
        );
    } else if let Some(s) = session {
        if s.blocked_by.is_empty() {
            line.push_str(&format!(
                " {} {} for {}",
                who(s),
                short_state(s.state.as_deref()),
                dur(s.state_age_s.get())
            ));
        } else {
            line.push_str(&format!(" {}", who(s)));
        }
        line.push_str(" · ");
        let room = (width as usize).saturating_sub(text::width(&line));
        line.push_str(&text::one_line(&s.query, room));
    }
    line
}

/// The columns of the sessions table at a width: 80 columns show marker, pid, user@db, state
/// (or what it waits on), query age, query; from [`WHO_WIDTH`] (the 160-column layout) also
/// `application_name` and `client_addr` (which application holds the lock is the first
/// question in an incident); from [`MEDIUM_WIDTH`] also the wait event and transaction age.
struct SessionColumns {
    medium: bool,
    who: bool,
    /// Width of the application column (when `who`).
    app: u16,
    header: Vec<String>,
    fixed: Vec<u16>,
    /// Width of the query text, the last column.
    query: usize,
}

/// Panel width from which the sessions table shows `application_name` and `client_addr`.
pub const WHO_WIDTH: u16 = 90;
/// Panel width from which the sessions table also shows the wait event and the transaction
/// age.
pub const MEDIUM_WIDTH: u16 = 130;

/// The width of the application column: 12 in the 160-column layout, 16 from 110 columns of
/// panel width.
fn app_width(width: u16) -> u16 {
    if width >= 110 { 16 } else { 12 }
}

impl SessionColumns {
    fn new(width: u16) -> Self {
        let medium = width >= MEDIUM_WIDTH;
        let who = width >= WHO_WIDTH;
        let app = app_width(width);
        let mut fixed: Vec<u16> = vec![1, 7, 14, 14, 7];
        let mut header: Vec<String> = ["", "pid", "user@db", "state", "query"]
            .into_iter()
            .map(String::from)
            .collect();
        if who {
            fixed.extend([app, 15]);
            header.extend(["application".into(), "client".into()]);
        }
        if medium {
            fixed.extend([16, 7]);
            header.extend(["wait".into(), "xact".into()]);
        }
        header.push("query text".into());
        let query = rest_width(width, &fixed);
        SessionColumns {
            medium,
            who,
            app,
            header,
            fixed,
            query,
        }
    }

    /// The cells of one session; `blocking`: it blocks another session.
    fn cells(&self, s: &Session, blocking: bool) -> Vec<Cell<'static>> {
        let mark = match (blocking, !s.blocked_by.is_empty()) {
            (true, true) => "X",
            (true, false) => "B",
            (false, true) => "W",
            (false, false) => " ",
        };
        let wait = match (&s.wait_event_type, &s.wait_event) {
            (Some(t), Some(e)) => format!("{t}:{e}"),
            (Some(t), None) => t.clone(),
            _ => String::new(),
        };
        // narrow: a session waiting on a lock shows what it waits on instead of "active"
        let state = if !self.medium && s.wait_event_type.as_deref() == Some("Lock") {
            wait.clone()
        } else {
            short_state(s.state.as_deref())
        };
        let mut cells = vec![
            Cell::from(mark),
            Cell::from(s.pid.to_string()),
            Cell::from(text::one_line(&who(s), 14)),
            Cell::from(text::one_line(&state, 14)),
            Cell::from(dur(s.query_age_s.get())),
        ];
        if self.who {
            // server-sent: folded to one line, sanitized, cut by display width
            cells.push(Cell::from(text::one_line(
                &s.application_name,
                usize::from(self.app),
            )));
            // no address: a unix socket, or no client at all (a background process)
            let local = if s.backend_type == "client backend" {
                "local"
            } else {
                ""
            };
            cells.push(Cell::from(text::one_line(
                s.client_addr.as_deref().unwrap_or(local),
                15,
            )));
        }
        if self.medium {
            cells.push(Cell::from(text::one_line(&wait, 16)));
            cells.push(Cell::from(dur(s.xact_age_s.get())));
        }
        cells.push(Cell::from(text::one_line(&s.query, self.query)));
        cells
    }
}

impl ActivityPanel<'_> {
    /// The sessions table (only the rows on screen are built), or a note when no session is
    /// listed.
    fn sessions_table(&self, a: &ActivitySample, rest: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let list = table::sessions(a, &self.query);
        if list.is_empty() {
            let msg = if self.query.filter.is_empty() {
                "no sessions".to_string()
            } else {
                format!(
                    "no session matches the filter {:?}",
                    text::clean(self.query.filter)
                )
            };
            note(rest, buf, msg, theme.dim());
            return;
        }
        let blocking: BTreeSet<i32> = a
            .sessions
            .iter()
            .flat_map(|s| s.blocked_by.iter().copied())
            .collect();
        let columns = SessionColumns::new(rest.width);
        let row = |i: usize| {
            let s = list[i];
            let sev = v
                .server
                .alerts
                .worst_in(Area::Activity, &Subject::Backend(s.pid));
            Row::new(columns.cells(s, blocking.contains(&s.pid))).style(theme.severity(sev))
        };
        let mut widths: Vec<Constraint> = columns
            .fixed
            .iter()
            .map(|w| Constraint::Length(*w))
            .collect();
        widths.push(Constraint::Fill(1));
        render_table_window(
            rest,
            buf,
            theme,
            columns.header.clone(),
            list.len(),
            row,
            widths,
            Some(self.selected),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pid: i32, blocked_by: &[i32], wait: f64) -> Session {
        Session {
            pid,
            state: Some("active".into()),
            blocked_by: blocked_by.to_vec(),
            query_age_s: Some(wait).into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_chain_is_one_root_with_the_whole_chain_below() {
        let tree = lock_tree(&[s(1, &[], 100.0), s(2, &[1], 50.0), s(3, &[2], 20.0)]);
        let lines = flatten(&tree);
        let prefixes: Vec<&str> = lines.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(prefixes, vec!["", "└─ ", "   └─ "]);
    }

    #[test]
    fn fan_out_lists_waiters_longest_wait_first() {
        let tree = lock_tree(&[
            s(1, &[], 100.0),
            s(2, &[1], 5.0),
            s(3, &[1], 60.0),
            s(4, &[1], 30.0),
            s(5, &[], 1.0),
        ]);
        let lines = flatten(&tree);
        assert_eq!(lines[1].0, "├─ ");
        assert_eq!(lines[3].0, "└─ ");
    }
}

#[cfg(test)]
mod pooler_tests {
    use std::time::{Duration, UNIX_EPOCH};

    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;

    use super::{ActivityPanel, POOLER_NOTE};
    use crate::model::Store;
    use crate::sample::ActivitySample;
    use crate::sample::{LinkEvent, Sample, ServerFacts, Update};
    use crate::tui::header::overview_line;
    use crate::tui::panels::{View, through_pooler};
    use crate::tui::theme::Theme;

    fn facts(pooled: bool) -> ServerFacts {
        ServerFacts {
            is_superuser: true,
            pg_signal_backend: true,
            pgss_preloaded: false,
            pooled,
            ..ServerFacts::example("monitor", true)
        }
    }

    fn text(buf: &Buffer) -> String {
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    /// The header says "via pooler" and the activity panel explains what its rows are, only
    /// when the facts say pooled.
    #[test]
    fn a_pooled_server_is_marked_in_the_header_and_the_activity_panel() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        for pooled in [false, true] {
            let mut store = Store::new(
                vec!["db:6432/shop".into()],
                Default::default(),
                Duration::from_secs(1),
                Duration::from_secs(60),
                now,
            );
            let link = Update::Link {
                server: 0,
                event: LinkEvent::Connected(Box::new(facts(pooled))),
                at: now,
            };
            store.apply(link, now);
            let sample = Sample::Activity(ActivitySample {
                collected_at: 1_000.0,
                max_connections: 100,
                usable_connections: 97,
                client_backends: 3,
                ..Default::default()
            });
            let update = Update::Sample {
                server: 0,
                sample: Box::new(sample),
                at: now,
                took: std::time::Duration::ZERO,
            };
            store.apply(update, now);
            let server = &store.servers[0];
            assert_eq!(through_pooler(server), pooled);
            let theme = Theme { color: false };
            let line = overview_line(0, server, true, theme, now, Duration::from_secs(5));
            let header: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
            assert_eq!(header.contains("via pooler"), pooled, "{header}");

            let rect = Rect::new(0, 0, 300, 10);
            let mut buf = Buffer::empty(rect);
            let view = View {
                store: &store,
                server,
                server_index: 0,
                theme,
                paused: false,
                now,
            };
            ActivityPanel {
                view,
                query: Default::default(),
                selected: 0,
            }
            .render(rect, &mut buf);
            let screen = text(&buf);
            assert!(screen.contains("connections 3/97 usable"), "{screen}");
            assert_eq!(screen.contains(POOLER_NOTE), pooled, "{screen}");
        }
    }
}

#[cfg(test)]
mod privilege_tests {
    use super::privilege_text;
    use crate::sample::{Area, ServerFacts};
    use crate::tui::text;

    fn facts(user: &str, monitor: bool) -> ServerFacts {
        ServerFacts::example(user, monitor)
    }

    /// The whole notice when it fits; cut in its hidden part, never in the GRANT, when it
    /// does not; nothing for a role that sees everything, an area without a gap, or a server
    /// never probed.
    #[test]
    fn privilege_text_keeps_the_grant_whole() {
        let plain = facts("alice", false);
        let wide = privilege_text(Some(&plain), Area::Activity, 400).expect("a gap");
        assert!(wide.starts_with("other roles' sessions show"), "{wide}");
        assert!(
            wide.ends_with("without pg_read_all_stats: GRANT pg_read_all_stats TO alice"),
            "{wide}"
        );
        for max in [78usize, 60, 50] {
            let narrow = privilege_text(Some(&plain), Area::Activity, max).expect("a gap");
            assert!(text::width(&narrow) <= max, "{max}: {narrow}");
            assert!(
                narrow.ends_with("…: GRANT pg_read_all_stats TO alice"),
                "{max}: {narrow}"
            );
        }
        // too narrow for the GRANT: just cut
        let tiny = privilege_text(Some(&plain), Area::Vacuum, 20).expect("a gap");
        assert_eq!(text::width(&tiny), 20, "{tiny}");
        assert!(privilege_text(Some(&facts("monitor", true)), Area::Activity, 400).is_none());
        assert!(privilege_text(Some(&plain), Area::Cache, 400).is_none());
        assert!(privilege_text(None, Area::Activity, 400).is_none());
    }

    /// A role name is server text: quoted by the GRANT, and sanitized on screen.
    #[test]
    fn a_hostile_role_name_is_sanitized() {
        let hostile = facts("x\u{1b}]0;owned\u{7}\u{1b}[2Jy", false);
        for max in [400usize, 60] {
            let line = privilege_text(Some(&hostile), Area::Replication, max).expect("a gap");
            assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
            assert!(!line.contains("[2J"), "{line:?}");
            assert!(line.contains("GRANT pg_read_all_stats TO \"x"), "{line:?}");
        }
    }
}
