//! Activity: every backend in `pg_stat_activity`, the connection slots, and who blocks whom.
//!
//! Queries: `queries/activity.pg12.sql` (`pg_stat_activity`, and `pg_blocking_pids()` only for
//! sessions with `wait_event_type = 'Lock'`, because it takes the lock manager's locks) and
//! `queries/activity_settings.pg12.sql` / `.pg16.sql` (`max_connections`,
//! `superuser_reserved_connections`, and `reserved_connections` from 16). PostgreSQL 12+.
//! Privileges: any role sees every row; other roles' query texts, states and waits need
//! pg_read_all_stats (pg_monitor), else the text reads `<insufficient privilege>` (kept as is)
//! and the state is `None`.
//!
//! The sessions leave out pgvitals' own backend and the other connections of the same pgvitals
//! pool (same session user and the same non-empty `application_name`); they still count in
//! `client_backends` and `states`, since they occupy connection slots. Without
//! pg_read_all_stats, other roles' backends show no `backend_type` and no `state`: those
//! connected to a database count as client backends in state `unknown`, and their
//! `backend_type` reads `unknown`. Texts and names are
//! decoded leniently: a byte that is not UTF-8 (a LATIN1 or SQL_ASCII database) becomes U+FFFD.
//! Ages are seconds on the server clock; xid ages are transactions.

use crate::queries::ServerQuery;
use std::collections::BTreeMap;

use std::time::SystemTime;

use crate::sample::{CollectError, ErrorKind};

use crate::collect::{Ctx, age_s, epoch_s, get, get_text, get_text_or_empty};
use crate::sample::{ActivitySample, Session, StateCount};

/// `backend_type` of the backends that count against `max_connections`.
const CLIENT_BACKEND: &str = "client backend";

/// The `state` counted (and the `backend_type` shown) for backends of other roles when the
/// monitoring role lacks pg_read_all_stats: PostgreSQL shows neither.
pub const UNKNOWN_STATE: &str = "unknown";

/// Polls [`ActivitySample`]s. Stateless.
#[derive(Debug, Default)]
pub struct ActivityCollector {}

impl ActivityCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One poll. Errors: the classified error of either query; [`ErrorKind::Decode`] when a
    /// row has an unexpected shape (texts never fail: they are decoded leniently).
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<ActivitySample, CollectError> {
        let settings = ctx
            .query(ctx.sql(ServerQuery::ActivitySettings)?, &[])
            .await?;
        let settings = settings
            .first()
            .ok_or_else(|| CollectError::new(ErrorKind::Decode, "activity_settings: no row"))?;
        let max_connections: i32 = get(settings, "max_connections")?;
        let superuser_reserved: i32 = get(settings, "superuser_reserved_connections")?;
        let reserved: i32 = get(settings, "reserved_connections")?;

        let rows = ctx.query(ctx.sql(ServerQuery::Activity)?, &[]).await?;
        let mut collected_at = None;
        let mut client_backends = 0;
        let mut waiting_on_lock = 0;
        let mut states: BTreeMap<String, i32> = BTreeMap::new();
        let mut sessions = Vec::with_capacity(rows.len());
        for row in &rows {
            let now: SystemTime = get(row, "now")?;
            collected_at.get_or_insert(epoch_s(now));
            let since = |column: &str| -> Result<Option<f64>, CollectError> {
                Ok(age_s(now, get::<Option<SystemTime>>(row, column)?))
            };
            let own: bool = get::<Option<bool>>(row, "pgvitals_own")?.unwrap_or(false);
            let backend_type = get_text(row, "backend_type")?;
            let datname = get_text(row, "datname")?;
            let state = get_text(row, "state")?;
            let wait_event_type = get_text(row, "wait_event_type")?;
            // Without pg_read_all_stats, another role's backend_type is NULL too: a backend
            // connected to a database is then most likely a client backend.
            let is_client = match backend_type.as_deref() {
                Some(t) => t == CLIENT_BACKEND,
                None => datname.is_some(),
            };
            if is_client {
                client_backends += 1;
                let name = state.clone().unwrap_or_else(|| UNKNOWN_STATE.to_string());
                *states.entry(name).or_insert(0) += 1;
                if wait_event_type.as_deref() == Some("Lock") {
                    waiting_on_lock += 1;
                }
            }
            if own {
                continue;
            }
            sessions.push(Session {
                pid: get(row, "pid")?,
                usename: get_text(row, "usename")?,
                datname,
                application_name: get_text_or_empty(row, "application_name")?,
                client_addr: get_text(row, "client_addr")?,
                backend_type: backend_type.unwrap_or_else(|| UNKNOWN_STATE.to_string()),
                state,
                wait_event_type,
                wait_event: get_text(row, "wait_event")?,
                backend_start: get::<Option<SystemTime>>(row, "backend_start")?.map(epoch_s),
                backend_age_s: since("backend_start")?,
                xact_age_s: since("xact_start")?,
                query_age_s: since("query_start")?,
                state_age_s: since("state_change")?,
                backend_xid_age: get(row, "backend_xid_age")?,
                backend_xmin_age: get(row, "backend_xmin_age")?,
                query: get_text_or_empty(row, "query")?,
                blocked_by: get::<Option<Vec<i32>>>(row, "blocked_by")?.unwrap_or_default(),
            });
        }
        // Active first, background processes last, then the oldest transaction first (the
        // query does not sort: sorting 200 rows here is cheaper than on the server).
        sessions.sort_by(|a, b| {
            let rank = |s: &Session| match s.state.as_deref() {
                Some("active") => 0,
                None => 2,
                Some(_) => 1,
            };
            let older = |x: Option<f64>, y: Option<f64>| {
                y.unwrap_or(-1.0)
                    .partial_cmp(&x.unwrap_or(-1.0))
                    .unwrap_or(std::cmp::Ordering::Equal)
            };
            rank(a)
                .cmp(&rank(b))
                .then(older(a.xact_age_s, b.xact_age_s))
                .then(older(a.backend_age_s, b.backend_age_s))
        });
        // pg_stat_activity always holds our own backend.
        let collected_at = collected_at.ok_or_else(|| {
            CollectError::new(
                ErrorKind::Decode,
                "activity: pg_stat_activity returned no row",
            )
        })?;
        Ok(ActivitySample {
            collected_at,
            max_connections,
            usable_connections: max_connections - superuser_reserved - reserved,
            client_backends,
            states: states
                .into_iter()
                .map(|(state, count)| StateCount { state, count })
                .collect(),
            waiting_on_lock,
            sessions,
        })
    }
}
