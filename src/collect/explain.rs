//! EXPLAIN, safely: the plan of a statement's text without running it.
//!
//! * Never `ANALYZE`: the statement is planned, not executed.
//! * One statement only: the text goes through the extended protocol (Parse), which refuses
//!   more than one command (`cannot insert multiple commands into a prepared statement`), so
//!   `SELECT 1; DROP TABLE t` never reaches the planner as two statements.
//! * Inside `BEGIN READ ONLY` with `SET LOCAL statement_timeout` and `lock_timeout` (planning
//!   takes `AccessShareLock` on every relation: it must not queue behind an `ACCESS
//!   EXCLUSIVE` for long), rolled back whatever happens.
//! * A normalized text from pg_stat_statements has `$1`-style placeholders: PostgreSQL 16+
//!   plans it with `EXPLAIN (GENERIC_PLAN)`, each placeholder bound to a typed NULL that the
//!   generic plan never reads; older servers cannot, and [`ExplainError::NeedsGenericPlan`]
//!   says so. A running session's text (constants in place) plans on 12+.
//! * `FORMAT JSON`: the plan is PostgreSQL's own JSON document.
//! * The names in the text resolve as they did for the statement: the monitoring session's
//!   own `search_path` (`pg_catalog, pg_temp`) is replaced for the transaction by the one
//!   of the statement's role and database ([`search_path_of`]), set with `set_config` (a
//!   bound value, never spliced into SQL).
//! * It plans with the monitoring role's privileges: constant folding may call the
//!   IMMUTABLE functions the text names, as a DBA's own EXPLAIN would.

use std::sync::Arc;
use std::time::Duration;

use super::pool::ServerPool;

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Why there is no plan. Messages are one line; server texts are passed through as the
/// server gave them (the caller sanitizes what it prints).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExplainError {
    /// A text with `$n` placeholders on a server older than 16 (no `GENERIC_PLAN`).
    #[error(
        "the text has $n placeholders and PostgreSQL {major} cannot plan it without values: EXPLAIN (GENERIC_PLAN) needs PostgreSQL 16 or later (explain a running session's query instead)"
    )]
    NeedsGenericPlan { major: u32 },
    /// An empty text.
    #[error("nothing to explain: the text is empty")]
    Empty,
    /// The server refused (a syntax error, several statements, a timeout, a missing table,
    /// a statement EXPLAIN does not take).
    #[error("EXPLAIN failed: {0}")]
    Server(String),
}

/// Whether `text` has a `$1`-style placeholder (outside nothing: a `$1` inside a string
/// literal counts too, and then GENERIC_PLAN is merely unnecessary).
pub fn has_placeholders(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2).any(|w| w[0] == b'$' && w[1].is_ascii_digit())
}

/// A NULL of whatever type a placeholder has.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The text of a `json` column.
struct RawJson(String);

impl<'a> FromSql<'a> for RawJson {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawJson(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::TEXT)
    }
}

/// The plan of `text` on a server of major `major`: `(generic_plan, the EXPLAIN (FORMAT
/// JSON) document)`. `timeout` bounds the planning (`statement_timeout`; `lock_timeout` a
/// fifth of it). Errors: [`ExplainError`].
pub async fn explain_text(
    client: &tokio_postgres::Client,
    text: &str,
    major: u32,
    timeout: Duration,
    search_path: Option<&str>,
) -> Result<(bool, serde_json::Value), ExplainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ExplainError::Empty);
    }
    let generic = has_placeholders(text);
    if generic && major < 16 {
        return Err(ExplainError::NeedsGenericPlan { major });
    }
    let options = if generic {
        "FORMAT JSON, GENERIC_PLAN"
    } else {
        "FORMAT JSON"
    };
    let sql = format!("EXPLAIN ({options}) {text}");
    let ms = timeout.as_millis().max(100);
    let server = |e: tokio_postgres::Error| {
        ExplainError::Server(
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
        )
    };
    client
        .batch_execute(&format!(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {}",
            (ms / 5).max(50)
        ))
        .await
        .map_err(server)?;
    let result = async {
        if let Some(path) = search_path {
            client
                .execute(
                    "SELECT /* pgvitals */ pg_catalog.set_config('search_path', $1, true)",
                    &[&path],
                )
                .await
                .map_err(server)?;
        }
        let stmt = client.prepare(&sql).await.map_err(server)?;
        let nulls: Vec<Null> = stmt.params().iter().map(|_| Null).collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            nulls.iter().map(|n| n as &(dyn ToSql + Sync)).collect();
        let rows = client.query(&stmt, &params).await.map_err(server)?;
        let doc: String = rows
            .iter()
            .filter_map(|r| r.try_get::<_, RawJson>(0).ok().map(|j| j.0))
            .collect();
        serde_json::from_str(&doc)
            .map_err(|e| ExplainError::Server(format!("the plan is not JSON: {e}")))
    }
    .await;
    // read-only and never committed: nothing to keep either way
    let _ = client.batch_execute("ROLLBACK").await;
    result.map(|plan| (generic, plan))
}

/// The `search_path` a statement of role `userid` in database `dbid` ran with, as far as the
/// catalog tells: the role-and-database setting, else the role's, else the database's
/// (`ALTER ROLE/DATABASE ... SET search_path`, `pg_db_role_setting`), else the built-in
/// default (a value set only in `postgresql.conf` is not visible here); `$user` is replaced
/// by that role's name, quoted. Errors: the query's.
pub async fn search_path_of(
    client: &tokio_postgres::Client,
    userid: u32,
    dbid: u32,
) -> Result<String, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT /* pgvitals */ coalesce(\
               (SELECT pg_catalog.substr(c, 13) \
                  FROM pg_catalog.pg_db_role_setting AS s, pg_catalog.unnest(s.setconfig) AS c \
                 WHERE c OPERATOR(pg_catalog.~~) 'search\\_path=%' \
                   AND s.setrole OPERATOR(pg_catalog.=) ANY (ARRAY[0, $1]::pg_catalog.oid[]) \
                   AND s.setdatabase OPERATOR(pg_catalog.=) ANY (ARRAY[0, $2]::pg_catalog.oid[]) \
                 ORDER BY s.setrole OPERATOR(pg_catalog.<>) 0 AND s.setdatabase OPERATOR(pg_catalog.<>) 0 DESC, \
                          s.setrole OPERATOR(pg_catalog.<>) 0 DESC \
                 LIMIT 1), \
               (SELECT boot_val FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'search_path')), \
             (SELECT rolname::text FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) $1)",
            &[&userid, &dbid],
        )
        .await?;
    let path: String = row.get(0);
    let role: Option<String> = row.get(1);
    Ok(match role {
        Some(role) => {
            let quoted = format!("\"{}\"", role.replace('"', "\"\""));
            path.replace("\"$user\"", &quoted).replace("$user", &quoted)
        }
        None => path,
    })
}

/// What `pgvitals snapshot --explain QUERYID` prints: the statement and its plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExplainedStatement {
    /// The server, as `host:port/db`.
    pub server: String,
    pub queryid: i64,
    /// The database the statement ran in (the plan is made there).
    pub datname: String,
    /// The normalized text from pg_stat_statements.
    pub query: String,
    /// Planned with `EXPLAIN (GENERIC_PLAN)` (the text has `$n` placeholders; 16+).
    pub generic_plan: bool,
    /// PostgreSQL's `EXPLAIN (FORMAT JSON)` document.
    pub plan: serde_json::Value,
}

/// The plan of pg_stat_statements entry `queryid` on the server of `pool` (never executed,
/// one statement, read-only, bounded: see the module doc). The text is looked up on a
/// connection of `pool`; the plan is made in the statement's own database, over a second,
/// short-lived connection when that is not the one `pool` is connected to (two connections
/// at most, the second closed on return). Errors: one line (no such entry, no
/// pg_stat_statements, a server older than 16 for a text with placeholders, the server's
/// refusal, a connection that failed).
pub async fn explain_statement(
    pool: &ServerPool,
    queryid: i64,
) -> Result<ExplainedStatement, String> {
    use crate::collect::pool::NoConnection;
    async fn lease(pool: &ServerPool) -> Result<crate::collect::pool::Lease, String> {
        match pool.lease().await.0 {
            Ok(lease) => Ok(lease),
            Err(NoConnection::Failed { error, .. }) => Err(error.message),
            Err(NoConnection::Waiting) => Err("the server is not reachable yet".to_owned()),
        }
    }
    let first = lease(pool).await?;
    let facts = Arc::clone(&first.facts);
    let Some(pgss) = &facts.pgss else {
        return Err(format!(
            "pg_stat_statements is not installed in database {}: CREATE EXTENSION pg_stat_statements;",
            facts.datname
        ));
    };
    let schema = crate::sample::quote_ident(&pgss.schema);
    let row = first
        .client
        .query_opt(
            &format!(
                "SELECT /* pgvitals */ s.query, d.datname::text, s.userid::oid, s.dbid::oid \
                   FROM {schema}.pg_stat_statements(true) AS s \
                   JOIN pg_catalog.pg_database AS d ON d.oid OPERATOR(pg_catalog.=) s.dbid \
                  WHERE s.queryid OPERATOR(pg_catalog.=) $1 \
                  ORDER BY s.calls DESC LIMIT 1"
            ),
            &[&queryid],
        )
        .await
        .map_err(|e| {
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
        })?
        .ok_or_else(|| format!("statement {queryid} is not in pg_stat_statements"))?;
    let query: Option<String> = row.get(0);
    let datname: String = row.get(1);
    let (userid, dbid): (u32, u32) = (row.get(2), row.get(3));
    let search_path = search_path_of(&first.client, userid, dbid)
        .await
        .map_err(|e| format!("the statement's search_path: {e}"))?;
    let query = query.ok_or_else(|| {
        format!(
            "the text of statement {queryid} is not visible to this role (GRANT pg_read_all_stats)"
        )
    })?;
    let major = (facts.server_version_num / 10_000) as u32;
    let timeout = pool.query_timeout();
    let (generic_plan, plan) = if datname == facts.datname {
        explain_text(&first.client, &query, major, timeout, Some(&search_path)).await
    } else {
        // the statement's own database, over a connection of its own, closed right after
        drop(first);
        let other = pool.for_database(&datname).map_err(|e| e.message)?;
        let lease = lease(&other).await?;
        explain_text(&lease.client, &query, major, timeout, Some(&search_path)).await
    }
    .map_err(|e| e.to_string())?;
    Ok(ExplainedStatement {
        server: pool.label().to_owned(),
        queryid,
        datname,
        query,
        generic_plan,
        plan,
    })
}

/// A plan of `EXPLAIN (FORMAT JSON)` as indented lines, like EXPLAIN's text format:
/// `-> Index Scan using t_pkey on t  (cost=0.29..8.31 rows=1)` with its conditions and
/// filters below, children indented under their parent. Server text as it is (the caller
/// sanitizes). A document of another shape gives `[]`.
pub fn plan_lines(plan: &serde_json::Value) -> Vec<String> {
    fn node(n: &serde_json::Value, depth: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        let text = |k: &str| n.get(k).and_then(|v| v.as_str());
        let num = |k: &str| n.get(k).and_then(|v| v.as_f64());
        let mut head = text("Node Type").unwrap_or("?").to_owned();
        if let Some(s) = text("Strategy").filter(|_| head == "Aggregate") {
            head = format!("{s} {head}");
        }
        if let Some(i) = text("Index Name") {
            head.push_str(&format!(" using {i}"));
        }
        if let Some(r) = text("Relation Name") {
            head.push_str(&format!(" on {r}"));
            if let Some(a) = text("Alias").filter(|a| *a != r) {
                head.push_str(&format!(" {a}"));
            }
        }
        if let (Some(s), Some(t)) = (num("Startup Cost"), num("Total Cost")) {
            head.push_str(&format!("  (cost={s:.2}..{t:.2}"));
            if let Some(r) = num("Plan Rows") {
                head.push_str(&format!(" rows={r:.0}"));
            }
            head.push(')');
        }
        let arrow = if depth == 0 { "" } else { "-> " };
        out.push(format!("{pad}{arrow}{head}"));
        for key in [
            "Index Cond",
            "Recheck Cond",
            "Hash Cond",
            "Merge Cond",
            "Join Filter",
            "Filter",
            "Sort Key",
            "Group Key",
        ] {
            match n.get(key) {
                Some(serde_json::Value::String(v)) => out.push(format!("{pad}     {key}: {v}")),
                Some(serde_json::Value::Array(v)) => {
                    let items: Vec<&str> = v.iter().filter_map(|x| x.as_str()).collect();
                    out.push(format!("{pad}     {key}: {}", items.join(", ")));
                }
                _ => {}
            }
        }
        if let Some(children) = n.get("Plans").and_then(|p| p.as_array()) {
            for c in children {
                node(c, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    if let Some(top) = plan
        .as_array()
        .and_then(|a| a.first())
        .and_then(|d| d.get("Plan"))
    {
        node(top, 0, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_dollar_digits() {
        assert!(has_placeholders("SELECT * FROM t WHERE id = $1"));
        assert!(has_placeholders("SELECT $12"));
        assert!(!has_placeholders("SELECT * FROM t WHERE id = 1"));
        assert!(!has_placeholders("SELECT $$body$$"));
        assert!(!has_placeholders("SELECT price_$x FROM t"));
    }
}
