//! Confirmed cancel / terminate commands, carried out on the backend the user saw (pid and
//! `backend_start`), and logged.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::error::FromPg;
use super::pool::ServerPool;
use crate::sample::{ActionOutcome, CollectError, Command, Update};

/// The task that carries out the confirmed commands of one server, in order, and reports
/// each outcome as [`Update::Acted`]. Ends when either channel closes.
pub fn spawn_executor(
    server: usize,
    pool: Arc<ServerPool>,
    updates: mpsc::Sender<Update>,
    mut commands: mpsc::Receiver<Command>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(command) = commands.recv().await {
            let outcome = run_command(&pool, &command).await;
            log_command(&pool, &command, &outcome);
            let acted = Update::Acted {
                server,
                command,
                outcome,
                at: SystemTime::now(),
            };
            if updates.send(acted).await.is_err() {
                return;
            }
        }
    })
}

/// The statement of a command: the function is called only on the row of
/// `pg_stat_activity` with the pid ($1) and the backend_start ($2) the user confirmed on.
/// No row: the pid is gone; a row with another backend_start: the pid was reused (nothing is
/// called); `signalled` NULL with a NULL `backend_start`: hidden, cannot be checked.
fn command_sql(function: &str) -> String {
    format!(
        // every name and operator qualified: through a pooler this runs under the
        // connection's own search_path
        "SELECT /* pgvitals */ a.backend_start, \
                CASE WHEN a.backend_start OPERATOR(pg_catalog.=) $2 \
                     THEN pg_catalog.{function}(a.pid) END AS signalled \
           FROM pg_catalog.pg_stat_activity AS a \
          WHERE a.pid OPERATOR(pg_catalog.=) $1"
    )
}

/// Carry out one confirmed command on `session`'s server (see [`Command`]).
async fn run_command(session: &ServerPool, command: &Command) -> ActionOutcome {
    use tokio_postgres::types::Type;
    if let Command::Explain { queryid, .. } = command {
        return match super::explain::explain_statement(session, *queryid).await {
            Ok(e) => {
                let mut lines = vec![format!(
                    "Plan of statement {} in database {}{} (EXPLAIN, never executed):",
                    e.queryid,
                    e.datname,
                    if e.generic_plan { ", generic plan" } else { "" }
                )];
                lines.extend(super::explain::plan_lines(&e.plan));
                ActionOutcome::Plan(lines)
            }
            Err(why) => ActionOutcome::Failed(why),
        };
    }
    let (pid, backend_start) = match command {
        Command::CancelBackend {
            pid, backend_start, ..
        }
        | Command::TerminateBackend {
            pid, backend_start, ..
        } => (*pid, *backend_start),
        Command::Explain { .. } => return ActionOutcome::Failed("not a backend signal".into()),
    };
    let Some(confirmed) = backend_start.map(crate::sample::from_epoch_s) else {
        return ActionOutcome::LeftAlone(
            "its backend_start was hidden (the role lacks pg_read_all_stats), so it cannot be \
             told from a later backend with the same pid"
                .into(),
        );
    };
    let (lease, _) = session.lease().await;
    let Ok(lease) = lease else {
        return ActionOutcome::Failed("not connected".into());
    };
    let sql = command_sql(command.function());
    // unnamed statement: correct through a transaction pooler too
    let rows = match tokio::time::timeout(
        session.query_deadline(),
        lease
            .client
            .query_typed(&sql, &[(&pid, Type::INT4), (&confirmed, Type::TIMESTAMPTZ)]),
    )
    .await
    {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            return ActionOutcome::Failed(
                CollectError::from_pg(&e, &lease.facts.current_user).message,
            );
        }
        Err(_) => return ActionOutcome::Failed("timed out".into()),
    };
    let Some(row) = rows.first() else {
        return ActionOutcome::LeftAlone("no backend has this pid any more".into());
    };
    let now_start = match row.try_get::<_, Option<SystemTime>>("backend_start") {
        Ok(t) => t,
        Err(e) => return ActionOutcome::Failed(e.to_string()),
    };
    let signalled = match row.try_get::<_, Option<bool>>("signalled") {
        Ok(b) => b,
        Err(e) => return ActionOutcome::Failed(e.to_string()),
    };
    let at = |t: SystemTime| {
        humantime::format_rfc3339_micros(t)
            .to_string()
            .replace('T', " ")
    };
    match (signalled, now_start) {
        (Some(true), _) => ActionOutcome::Done,
        (Some(false), _) => ActionOutcome::Failed(
            "the function returned false (the backend ended meanwhile, or is not a server \
             process)"
                .into(),
        ),
        (None, Some(t)) => ActionOutcome::LeftAlone(format!(
            "it now belongs to another backend (started {} UTC, not {} UTC as confirmed)",
            at(t),
            at(confirmed)
        )),
        (None, None) => ActionOutcome::LeftAlone(
            "its backend_start is hidden now (the role lacks pg_read_all_stats), so it cannot \
             be checked"
                .into(),
        ),
    }
}

/// The log line of a command: the outcome, the backend's identity, its user and (as an escaped
/// one-liner, no control bytes in log files) the first 500 characters of its query.
fn log_command(session: &ServerPool, command: &Command, outcome: &ActionOutcome) {
    if let Command::Explain { .. } = command {
        tracing::info!(
            server = %session.label(),
            "{}",
            crate::text::fold(&outcome.message(command))
        );
        return;
    }
    let (backend_start, usename, query) = match command {
        Command::CancelBackend {
            backend_start,
            usename,
            query,
            ..
        }
        | Command::TerminateBackend {
            backend_start,
            usename,
            query,
            ..
        } => (backend_start, usename, query),
        Command::Explain { .. } => return,
    };
    let query: String = query
        .chars()
        .take(500)
        .flat_map(char::escape_debug)
        .collect();
    let usename: String = usename
        .as_deref()
        .unwrap_or("?")
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    let backend_start = backend_start.map_or("?".to_string(), |s| format!("{s:.6}"));
    let pid = command.pid();
    tracing::warn!(
        server = %session.label(), pid, backend_start = %backend_start, usename = %usename,
        query = %query,
        "{} (at the user's request)",
        outcome.message(command)
    );
}
