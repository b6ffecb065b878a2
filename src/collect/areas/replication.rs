//! Replication, from whichever side this server is on: walsenders, slots and, on a standby,
//! its own receive/replay state.
//!
//! Queries (PostgreSQL 12+, each safe on a primary and on a standby; one per poll on a server
//! with no walsender and no slot, up to three otherwise):
//! * `queries/replication_status.pg12.sql` / `.pg14.sql`: `pg_is_in_recovery()`,
//!   `pg_current_wal_lsn()` (primary only), `pg_last_wal_receive_lsn()`,
//!   `pg_last_wal_replay_lsn()`, `pg_last_xact_replay_timestamp()`,
//!   `pg_is_wal_replay_paused()` (12-13) / `pg_get_wal_replay_pause_state()` (14+: "pause
//!   requested" counts as paused), `pg_stat_wal_receiver`, and how many walsenders and slots
//!   exist (the next two queries run only when there are some).
//! * `queries/replication_standbys.pg12.sql`: `pg_stat_replication` (on a primary, or a
//!   cascading standby), lag per stage in bytes and seconds.
//! * `queries/replication_slots.pg12.sql` / `.pg13.sql` (`wal_status`, `safe_wal_size`) /
//!   `.pg17.sql` (`inactive_since`): every slot, physical and logical, with the WAL it keeps.
//!
//! `pg_current_wal_lsn()` fails during recovery ("WAL control functions cannot be executed
//! during recovery"), so every query decides the role with `pg_is_in_recovery()` in the same
//! statement: on a standby the "current" position is the newest WAL it has (the greater of
//! the receive and replay LSNs). The role of the sample comes from the status query of the
//! same poll, not from [`crate::sample::ServerFacts::in_recovery`] (probed at connect time): a
//! standby promoted under an open connection is reported as a primary at the next poll.
//!
//! Privileges: none to run; the LSN / lag / `backend_xmin` columns of `pg_stat_replication`
//! and the sender columns of `pg_stat_wal_receiver` need pg_read_all_stats (pg_monitor),
//! else they read `None` (a walsender's `lag_state` then reads `unknown`; a standby's WAL
//! receiver is taken as up while its process exists). Units: bytes (`_bytes`), seconds (`_s`, `_age_s`), transactions
//! (`_xmin_age`); LSNs are text (`0/3000060`).

use crate::queries::ServerQuery;
use crate::sample::{CollectError, ErrorKind};

use crate::collect::{Ctx, get, get_text, get_text_or_empty};
use crate::sample::{
    LagState, ReplayState, ReplicationSample, ServerRole, Slot, Standby, StandbyStatus,
};

/// The rows of `query`, run only when `count` (from the status query) says it has some.
async fn rows_if_any(
    ctx: &Ctx<'_>,
    count: i32,
    query: ServerQuery,
) -> Result<Vec<tokio_postgres::Row>, CollectError> {
    if count > 0 {
        ctx.query(ctx.sql(query)?, &[]).await
    } else {
        Ok(Vec::new())
    }
}

/// Polls [`ReplicationSample`]s. Stateless: every poll asks the server for its role anew.
#[derive(Debug, Default)]
pub struct ReplicationCollector {}

impl ReplicationCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One poll: status, then walsenders, then slots.
    ///
    /// Errors: the first query that fails, classified ([`FromPg`](crate::collect::error::FromPg));
    /// [`ErrorKind::Decode`] when a row does not have the expected shape.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<ReplicationSample, CollectError> {
        let rows = ctx
            .query(ctx.sql(ServerQuery::ReplicationStatus)?, &[])
            .await?;
        let row = rows.first().ok_or_else(|| {
            CollectError::new(
                ErrorKind::Decode,
                "replication_status: the query returned no row",
            )
        })?;
        let in_recovery: bool = get(row, "in_recovery")?;
        let standby_status = if in_recovery {
            let mut status = StandbyStatus {
                receive_lsn: get_text(row, "receive_lsn")?,
                replay_lsn: get_text(row, "replay_lsn")?,
                replay_lag_bytes: get(row, "replay_lag_bytes")?,
                last_replay_age_s: get(row, "last_replay_age_s")?,
                replay_lag_s: None,
                lag_state: Default::default(),
                replay_paused: get::<Option<bool>>(row, "replay_paused")?.unwrap_or(false),
                wal_receiver_status: get_text(row, "wal_receiver_status")?,
                sender_host: get_text(row, "sender_host")?,
                sender_port: get(row, "sender_port")?,
                last_msg_receipt_age_s: get(row, "last_msg_receipt_age_s")?,
            };
            let receiver_running: bool = get(row, "wal_receiver_running")?;
            let (lag_state, replay_lag_s) = standby_lag_state(&status, receiver_running);
            status.lag_state = lag_state;
            status.replay_lag_s = replay_lag_s;
            Some(status)
        } else {
            None
        };
        let mut sample = ReplicationSample {
            collected_at: get(row, "collected_at")?,
            role: if in_recovery {
                ServerRole::Standby
            } else {
                ServerRole::Primary
            },
            current_wal_lsn: get_text(row, "current_wal_lsn")?,
            standbys: Vec::new(),
            slots: Vec::new(),
            standby_status,
        };

        // the walsenders and slots are read only when the status says there are some (a
        // walsender that starts in between shows at the next poll)
        let walsenders: i32 = get(row, "walsenders")?;
        let slots: i32 = get(row, "slots")?;
        for row in rows_if_any(ctx, walsenders, ServerQuery::ReplicationStandbys).await? {
            let mut standby = Standby {
                pid: get(&row, "pid")?,
                usename: get_text(&row, "usename")?,
                application_name: get_text_or_empty(&row, "application_name")?,
                client_addr: get_text(&row, "client_addr")?,
                state: get_text(&row, "state")?,
                sync_state: get_text(&row, "sync_state")?,
                sent_lsn: get_text(&row, "sent_lsn")?,
                write_lsn: get_text(&row, "write_lsn")?,
                flush_lsn: get_text(&row, "flush_lsn")?,
                replay_lsn: get_text(&row, "replay_lsn")?,
                sent_lag_bytes: get(&row, "sent_lag_bytes")?,
                write_lag_bytes: get(&row, "write_lag_bytes")?,
                flush_lag_bytes: get(&row, "flush_lag_bytes")?,
                replay_lag_bytes: get(&row, "replay_lag_bytes")?,
                write_lag_s: get(&row, "write_lag_s")?,
                flush_lag_s: get(&row, "flush_lag_s")?,
                replay_lag_s: get(&row, "replay_lag_s")?,
                lag_state: Default::default(),
                backend_xmin_age: get(&row, "backend_xmin_age")?,
                reply_age_s: get(&row, "reply_age_s")?,
            };
            standby.lag_state = walsender_lag_state(&standby);
            sample.standbys.push(standby);
        }

        for row in rows_if_any(ctx, slots, ServerQuery::ReplicationSlots).await? {
            sample.slots.push(Slot {
                slot_name: get_text_or_empty(&row, "slot_name")?,
                slot_type: get_text_or_empty(&row, "slot_type")?,
                plugin: get_text(&row, "plugin")?,
                database: get_text(&row, "database")?,
                temporary: get(&row, "temporary")?,
                active: get(&row, "active")?,
                active_pid: get(&row, "active_pid")?,
                retained_wal_bytes: get(&row, "retained_wal_bytes")?,
                wal_status: get_text(&row, "wal_status")?,
                safe_wal_size_bytes: get(&row, "safe_wal_size_bytes")?,
                xmin_age: get(&row, "xmin_age")?,
                catalog_xmin_age: get(&row, "catalog_xmin_age")?,
                inactive_since_age_s: get(&row, "inactive_since_age_s")?,
                // the forecasts are the model's (over a window of samples)
                ..Slot::default()
            });
        }
        Ok(sample)
    }
}

/// `lag_state` of one walsender row (primary side):
/// * `unknown` when `state` is hidden (NULL: the role lacks pg_read_all_stats, so the LSNs and
///   lags are hidden too; the standby must not read as catching up);
/// * `catching_up` when `state` is not `streaming` (startup, catchup, backup, stopping);
/// * `idle` when the standby has replayed everything (`replay_lag_bytes == 0`) and PostgreSQL
///   reports no `replay_lag` (it NULLs the time lag when nothing happens: idle, not 0 s);
/// * `streaming` otherwise.
pub fn walsender_lag_state(standby: &Standby) -> LagState {
    if standby.state.is_none() {
        LagState::Unknown
    } else if standby.state.as_deref() != Some("streaming") {
        LagState::CatchingUp
    } else if standby.replay_lag_bytes == Some(0) && standby.replay_lag_s.is_none() {
        LagState::Idle
    } else {
        LagState::Streaming
    }
}

/// `lag_state` and `replay_lag_s` of a standby's own status, in this order:
/// * `paused` when replay is paused (or a pause is requested);
/// * `disconnected` when no WAL receiver is streaming: a broken link must not read as zero lag
///   (`receiver_running` with no status means the role may not see the status, without
///   pg_read_all_stats: the link is then taken as up rather than raising a false alarm);
/// * `idle` when everything received is replayed (`replay_lag_bytes` 0 or unknown): an idle
///   primary must not read as growing lag, so `replay_lag_s` is `None`;
/// * `replaying` otherwise.
///
/// `replay_lag_s` is `now - pg_last_xact_replay_timestamp()` (`last_replay_age_s`) whenever
/// there is received WAL left to replay (paused, disconnected or replaying), else `None`.
pub fn standby_lag_state(
    status: &StandbyStatus,
    receiver_running: bool,
) -> (ReplayState, Option<f64>) {
    let pending = status.replay_lag_bytes.is_some_and(|b| b > 0);
    let replay_lag_s = if pending {
        status.last_replay_age_s
    } else {
        None
    };
    let state = if status.replay_paused {
        ReplayState::Paused
    } else if !match status.wal_receiver_status.as_deref() {
        Some(s) => s == "streaming",
        None => receiver_running,
    } {
        ReplayState::Disconnected
    } else if !pending {
        ReplayState::Idle
    } else {
        ReplayState::Replaying
    };
    (state, replay_lag_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standby(state: &str, replay_lag_bytes: i64, replay_lag_s: Option<f64>) -> Standby {
        Standby {
            state: Some(state.to_string()),
            replay_lag_bytes: Some(replay_lag_bytes),
            replay_lag_s,
            ..Standby::default()
        }
    }

    #[test]
    fn walsender_states() {
        assert_eq!(
            walsender_lag_state(&standby("streaming", 0, None)),
            LagState::Idle
        );
        assert_eq!(
            walsender_lag_state(&standby("streaming", 0, Some(0.2))),
            LagState::Streaming
        );
        assert_eq!(
            walsender_lag_state(&standby("streaming", 8192, None)),
            LagState::Streaming
        );
        assert_eq!(
            walsender_lag_state(&standby("catchup", 0, None)),
            LagState::CatchingUp
        );
        assert_eq!(walsender_lag_state(&Standby::default()), LagState::Unknown);
    }

    fn status_of(paused: bool, receiver: Option<&str>, lag_bytes: Option<i64>) -> StandbyStatus {
        StandbyStatus {
            replay_lag_bytes: lag_bytes,
            last_replay_age_s: Some(42.0),
            replay_paused: paused,
            wal_receiver_status: receiver.map(str::to_string),
            ..StandbyStatus::default()
        }
    }

    #[test]
    fn standby_states() {
        assert_eq!(
            standby_lag_state(&status_of(false, Some("streaming"), Some(0)), true),
            (ReplayState::Idle, None)
        );
        assert_eq!(
            standby_lag_state(&status_of(false, Some("streaming"), Some(100)), true),
            (ReplayState::Replaying, Some(42.0))
        );
        assert_eq!(
            standby_lag_state(&status_of(true, Some("streaming"), Some(100)), true),
            (ReplayState::Paused, Some(42.0))
        );
        assert_eq!(
            standby_lag_state(&status_of(true, Some("streaming"), Some(0)), true),
            (ReplayState::Paused, None)
        );
        assert_eq!(
            standby_lag_state(&status_of(false, None, Some(0)), false),
            (ReplayState::Disconnected, None)
        );
        // Status hidden from an unprivileged role while a receiver runs.
        assert_eq!(
            standby_lag_state(&status_of(false, None, Some(10)), true),
            (ReplayState::Replaying, Some(42.0))
        );
        assert_eq!(
            standby_lag_state(&status_of(false, Some("waiting"), Some(5)), true),
            (ReplayState::Disconnected, Some(42.0))
        );
        assert_eq!(
            standby_lag_state(&status_of(false, Some("streaming"), None), true),
            (ReplayState::Idle, None)
        );
    }
}
