//! Replication seen from both ends: when a standby and its upstream are both watched, the
//! hop between them, with each side's view and where they disagree.
//!
//! A standby's upstream is the watched server whose connection endpoint (host, port) is the
//! standby's `sender_host` / `sender_port` (`pg_stat_wal_receiver`); failing that (the two
//! name the same machine differently, or the role cannot read the receiver), the one primary
//! among the watched servers of the same system identifier (`pg_control_system()`: equal on a
//! primary and every standby made from it). Several databases of one server are several
//! watched servers: the upstream connected to the standby's database is preferred. The
//! upstream's `pg_stat_replication` row of the
//! standby is its only row, else the row whose `flush_lsn` is nearest the standby's
//! `receive_lsn` (each row is claimed once).

use super::{ServerState, Store};
use crate::sample::{ServerRole, Standby};

/// One watched hop: `upstream` → `downstream` (indexes into the store's servers).
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub upstream: usize,
    pub downstream: usize,
    /// The index of the downstream's row in the upstream's `standbys`, `None` when the
    /// upstream has no walsender for it.
    pub row: Option<usize>,
    /// Replay lag in bytes: the upstream's view (its row), else the standby's own.
    pub replay_lag_bytes: Option<i64>,
    /// Replay lag in seconds: the upstream's view, else the standby's own.
    pub replay_lag_s: Option<f64>,
    /// The standby's replay is paused (only the standby knows).
    pub replay_paused: bool,
    /// Where the two sides disagree, one line (server names raw: the screen sanitizes).
    pub disagreement: Option<String>,
}

/// An LSN (`16/B374D848`) as a byte position.
pub fn lsn_bytes(lsn: &str) -> Option<u64> {
    let (hi, lo) = lsn.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Among `candidates`, the one connected to the same database as `s` (several databases of
/// one server are several watched servers), else the first.
fn same_database(store: &Store, s: &ServerState, candidates: &[usize]) -> Option<usize> {
    let datname = s.facts.as_ref().map(|f| f.datname.as_str());
    candidates
        .iter()
        .copied()
        .find(|&u| store.servers[u].facts.as_ref().map(|f| f.datname.as_str()) == datname)
        .or(candidates.first().copied())
}

fn upstream_of(store: &Store, index: usize, s: &ServerState) -> Option<usize> {
    let st = s.replication()?.standby_status.as_ref()?;
    if let (Some(host), Some(port)) = (&st.sender_host, st.sender_port) {
        let by_endpoint: Vec<usize> = store
            .servers
            .iter()
            .enumerate()
            .filter(|(i, u)| {
                *i != index
                    && u.endpoints
                        .iter()
                        .any(|(h, p)| h == host && i32::from(*p) == port)
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(u) = same_database(store, s, &by_endpoint) {
            return Some(u);
        }
    }
    let family = s.facts.as_ref()?.system_identifier.as_deref()?;
    let primaries: Vec<usize> = store
        .servers
        .iter()
        .enumerate()
        .filter(|(i, u)| {
            *i != index
                && u.role() == Some(ServerRole::Primary)
                && u.facts
                    .as_ref()
                    .and_then(|f| f.system_identifier.as_deref())
                    == Some(family)
        })
        .map(|(i, _)| i)
        .collect();
    // one primary per family: several are its databases, or the same endpoints
    let one_server = primaries
        .windows(2)
        .all(|w| store.servers[w[0]].endpoints == store.servers[w[1]].endpoints);
    if one_server {
        same_database(store, s, &primaries)
    } else {
        None
    }
}

/// Every hop whose both ends are watched, in the order of the downstream servers.
pub fn hops(store: &Store) -> Vec<Hop> {
    let mut claimed: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for (d, s) in store.servers.iter().enumerate() {
        if s.role() != Some(ServerRole::Standby) {
            continue;
        }
        let Some(u) = upstream_of(store, d, s) else {
            continue;
        };
        let Some(st) = s.replication().and_then(|r| r.standby_status.as_ref()) else {
            continue;
        };
        let up = &store.servers[u];
        let rows: Vec<(usize, &Standby)> = up
            .replication()
            .map(|r| {
                r.standbys
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !claimed.contains(&(u, *i)))
                    .collect()
            })
            .unwrap_or_default();
        let received = st.receive_lsn.as_deref().and_then(lsn_bytes);
        let row = match rows.as_slice() {
            [] => None,
            [(i, _)] => Some(*i),
            many => many
                .iter()
                .min_by_key(
                    |(_, r)| match (received, r.flush_lsn.as_deref().and_then(lsn_bytes)) {
                        (Some(a), Some(b)) => a.abs_diff(b),
                        _ => u64::MAX,
                    },
                )
                .map(|(i, _)| *i),
        };
        if let Some(i) = row {
            claimed.push((u, i));
        }
        let seen = row.and_then(|i| up.replication().and_then(|r| r.standbys.get(i)));
        let receiving = st.wal_receiver_status.as_deref() == Some("streaming");
        let up_link = matches!(up.link, super::Link::Up { .. });
        let disagreement = match (seen, receiving) {
            (None, true) if up_link && up.replication().is_some() => Some(format!(
                "{}'s WAL receiver is streaming, but {} has no walsender for it",
                s.label, up.label
            )),
            (Some(r), false)
                if st.wal_receiver_status.is_some()
                    || st.lag_state == crate::sample::ReplayState::Disconnected =>
            {
                Some(format!(
                    "{} has a walsender ({}) for {}, whose WAL receiver is not streaming",
                    up.label,
                    r.state.as_deref().unwrap_or("?"),
                    s.label
                ))
            }
            _ => None,
        };
        out.push(Hop {
            upstream: u,
            downstream: d,
            row,
            replay_lag_bytes: seen
                .and_then(|r| r.replay_lag_bytes)
                .or(st.replay_lag_bytes),
            replay_lag_s: seen.and_then(|r| r.replay_lag_s).or(st.replay_lag_s),
            replay_paused: st.replay_paused,
            disagreement,
        });
    }
    out
}

/// The chain through `server`: every hop it is an end of, upstream first, as hops.
pub fn hops_of(store: &Store, server: usize) -> Vec<Hop> {
    hops(store)
        .into_iter()
        .filter(|h| h.upstream == server || h.downstream == server)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_are_byte_positions() {
        assert_eq!(lsn_bytes("0/3000000"), Some(0x300_0000));
        assert_eq!(lsn_bytes("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(lsn_bytes("nope"), None);
    }
}
