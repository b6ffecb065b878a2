//! What the probe learns about a server right after (re)connecting, and what the role may
//! not see.

use serde::{Deserialize, Serialize};

use super::{Area, quote_ident};

/// pg_stat_statements as found on the server by the probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgssInfo {
    /// Schema the extension lives in (`pg_extension.extnamespace`).
    pub schema: String,
    /// Installed version, `(1, 10)` for `1.10`.
    pub version: (u32, u32),
    /// The version this server would install by default (`pg_available_extensions`), when
    /// newer than the installed one: the extension lags the server (after pg_upgrade).
    pub default_version: Option<(u32, u32)>,
}

/// What the probe learned about a server right after (re)connecting. Query variants are
/// chosen from these facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// `server_version_num`, e.g. 150018.
    pub server_version_num: i32,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// `current_user`.
    pub current_user: String,
    /// `current_database()`.
    pub datname: String,
    /// `pg_backend_pid()` of the probing connection. Through a transaction-pooling pooler
    /// ([`ServerFacts::pooled`]) only the backend that ran the probe's transaction: each later
    /// transaction may run on another of the pooler's server connections.
    pub backend_pid: i32,
    /// `rolsuper` of the current user.
    pub is_superuser: bool,
    /// Memberships (direct or inherited).
    pub pg_monitor: bool,
    pub pg_read_all_stats: bool,
    pub pg_signal_backend: bool,
    /// `None` when the extension is not installed in the current database.
    pub pgss: Option<PgssInfo>,
    /// `pg_stat_statements` appears in `shared_preload_libraries`.
    pub pgss_preloaded: bool,
    /// `block_size`, bytes.
    pub block_size: i32,
    /// `pg_control_system().system_identifier` as text: the same on a primary and every
    /// standby made from it, so watched servers of one replication family can be matched.
    /// `None` when the role may not execute `pg_control_system()`.
    #[serde(default)]
    pub system_identifier: Option<String>,
    /// pgvitals reaches this server through a connection pooler (PgBouncer in transaction
    /// mode, say): the pooler refused the `options` startup parameter (PgBouncer 1.18:
    /// "unsupported startup parameter: options"), or accepted but dropped it (the session
    /// settings pgvitals sends there are not in force). Then every query goes out as an
    /// unnamed statement in one round trip (`collect::Ctx::query`), no session state is set, and
    /// `pg_stat_activity` shows the pooler's server connections rather than its clients.
    /// Set by the session after the probe; `false` from `collect::probe::probe` alone.
    #[serde(default)]
    pub pooled: bool,
}

impl ServerFacts {
    /// Facts for tests and examples, not from a server: a PostgreSQL 15.18 primary, database
    /// `shop`, backend pid 1, role `user` (not superuser; a member of pg_monitor and so of
    /// pg_read_all_stats when `monitor`; no pg_signal_backend), pg_stat_statements preloaded
    /// but not created, 8192-byte blocks, connected directly. Vary it with struct update
    /// syntax: `ServerFacts { pooled: true, ..ServerFacts::example("alice", false) }`.
    #[doc(hidden)]
    pub fn example(user: &str, monitor: bool) -> ServerFacts {
        ServerFacts {
            server_version_num: 150018,
            in_recovery: false,
            current_user: user.to_string(),
            datname: "shop".to_string(),
            backend_pid: 1,
            is_superuser: false,
            pg_monitor: monitor,
            pg_read_all_stats: monitor,
            pg_signal_backend: false,
            pgss: None,
            pgss_preloaded: true,
            block_size: 8192,
            system_identifier: None,
            pooled: false,
        }
    }

    /// Major version: 12, 13, ... 18.
    pub fn major(&self) -> u32 {
        (self.server_version_num / 10000) as u32
    }

    /// The same server, role and database as `other`, as far as the areas care: everything
    /// but [`ServerFacts::backend_pid`], which differs on every connection. A second
    /// connection (opened while the first waits out a slow query) is no reconnect: it
    /// changes no baseline.
    pub fn same_server(&self, other: &ServerFacts) -> bool {
        ServerFacts {
            backend_pid: other.backend_pid,
            ..self.clone()
        } == *other
    }

    /// The role can read other sessions' query texts and the statistics views in full.
    pub fn can_read_all_stats(&self) -> bool {
        self.is_superuser || self.pg_monitor || self.pg_read_all_stats
    }
}

/// What a role without pg_read_all_stats (a member of pg_monitor has it) cannot see in one
/// area, and the GRANT that fixes it. The area still polls without error: PostgreSQL hides
/// the columns (NULL, or `<insufficient privilege>` for query texts) instead of failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegeGap {
    pub area: Area,
    /// One line: what is hidden.
    pub hidden: String,
    /// `GRANT pg_read_all_stats TO <role>` (the least privilege that shows it all).
    pub fix: String,
}

/// The areas that see less than everything with the probed role, with what they miss and the
/// GRANT that fixes it; empty for a superuser or a member of pg_monitor / pg_read_all_stats.
/// The server, cache and unused-indexes areas need no privilege and never appear. On a
/// standby the replication gap names the WAL receiver, on a primary the standbys.
pub fn privilege_gaps(facts: &ServerFacts) -> Vec<PrivilegeGap> {
    if facts.can_read_all_stats() {
        return Vec::new();
    }
    let fix = format!(
        "GRANT pg_read_all_stats TO {}",
        quote_ident(&facts.current_user)
    );
    Area::ALL
        .into_iter()
        .filter_map(|area| {
            area.hidden_without_read_all_stats(facts.in_recovery)
                .map(|hidden| PrivilegeGap {
                    area,
                    hidden: hidden.to_string(),
                    fix: fix.clone(),
                })
        })
        .collect()
}

/// The [`PrivilegeGap`] of one area, if any: `"<hidden>: <fix>"` as one line, for a sample's
/// notice.
pub fn privilege_notice(facts: &ServerFacts, area: Area) -> Option<String> {
    privilege_gaps(facts)
        .into_iter()
        .find(|g| g.area == area)
        .map(|g| format!("{} without pg_read_all_stats: {}", g.hidden, g.fix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(user: &str, monitor: bool, in_recovery: bool) -> ServerFacts {
        ServerFacts {
            in_recovery,
            ..ServerFacts::example(user, monitor)
        }
    }

    #[test]
    fn another_connection_to_the_same_server_is_the_same_server() {
        let a = facts("monitor", true, false);
        let b = ServerFacts {
            backend_pid: 4242,
            ..a.clone()
        };
        assert!(a.same_server(&b) && b.same_server(&a));
        // a promotion, another database or another role is not
        assert!(!a.same_server(&facts("monitor", true, true)));
        let other_db = ServerFacts {
            datname: "other".into(),
            ..a.clone()
        };
        assert!(!a.same_server(&other_db));
        assert!(!a.same_server(&facts("alice", true, false)));
    }

    #[test]
    fn privilege_gaps_name_the_areas_and_the_grant() {
        assert!(privilege_gaps(&facts("monitor", true, false)).is_empty());
        let gaps = privilege_gaps(&facts("Watcher", false, false));
        let areas: Vec<Area> = gaps.iter().map(|g| g.area).collect();
        assert_eq!(
            areas,
            [
                Area::Activity,
                Area::Statements,
                Area::Replication,
                Area::Vacuum,
                Area::Waits
            ]
        );
        assert!(
            gaps.iter()
                .all(|g| g.fix == "GRANT pg_read_all_stats TO \"Watcher\"")
        );
        assert!(gaps[2].hidden.contains("standbys"));
        let standby = privilege_gaps(&facts("w", false, true));
        assert!(standby[2].hidden.contains("WAL receiver"));
        assert_eq!(
            privilege_notice(&facts("w", false, false), Area::Statements).as_deref(),
            Some(
                "other roles' statements are left out without pg_read_all_stats: \
                 GRANT pg_read_all_stats TO w"
            )
        );
        assert_eq!(
            privilege_notice(&facts("w", false, false), Area::Cache),
            None
        );
    }
}
