//! Statements: every pg_stat_statements entry, with its query text fetched once per key.
//!
//! Queries, chosen by the installed **extension** version (not the server's: after pg_upgrade
//! the extension can lag), with `@extschema@` replaced by the extension's schema:
//! * `statements.pgss1_4/1_8/1_9/1_10/1_11.sql`: `pg_stat_statements(false)` (no texts, so
//!   the query text file is not read), every poll. 1.4-1.7 read `total_time` / `mean_time`
//!   and have no planning time; 1.8 adds `total_plan_time` and the WAL counters
//!   (`wal_records`, `wal_fpi`, `wal_bytes`); 1.9 adds `toplevel` (before, every entry reads
//!   `toplevel = true`); 1.10 adds `temp_blk_read_time` / `temp_blk_write_time` and the JIT
//!   times (summed into `jit_time_ms`); 1.11 adds `stats_since` and renames `blk_read_time`
//!   / `blk_write_time` to `shared_blk_read_time` / `shared_blk_write_time` (read into
//!   `shared_blk_read_time_ms` / `shared_blk_write_time_ms` for every version). What a
//!   version lacks is `None`.
//! * `statements_text.pgss1_4/1_9.sql`: `pg_stat_statements(true)` filtered to the queryids
//!   whose key (userid, dbid, queryid, toplevel) is new, texts cut to 65536 characters; the
//!   texts are cached here and keys that disappear are forgotten.
//! * `statements_info.pgss1_9.sql`: `pg_stat_statements_info` (`stats_reset`, `dealloc`).
//!
//! Privileges: entries of other roles need pg_read_all_stats (pg_monitor); without it their
//! queryid is NULL and they are left out, and the sample's `notice` says so with the GRANT
//! ([`crate::sample::privilege_notice`]). An extension in a schema other than `public` needs
//! USAGE on that schema (SQLSTATE 42501, with `GRANT USAGE ON SCHEMA ...` as the fix). The
//! extension must be in `shared_preload_libraries` (SQLSTATE 55000 otherwise →
//! [`ErrorKind::NotPreloaded`]). Statistics are never reset.
//!
//! Before 1.9 the view has no `toplevel` column, but a server of PostgreSQL 14+ (after
//! pg_upgrade) still keeps nested entries apart: rows with the same key are merged (counters
//! summed, mean recomputed), so every key appears once.
//!
//! pgvitals' own statements (texts whose first keyword is followed by `/* pgvitals */`, after
//! leading `--` comment lines: [`is_own_text`]) are remembered by key and left out of the
//! sample.
//!
//! A text that does not convert to this database's encoding (an entry of a SQL_ASCII database
//! holding bytes that are not UTF-8) makes `pg_stat_statements(true)` fail as a whole
//! (SQLSTATE 22021 / 22P05): the numbers are still sent, new texts stay `None`, the sample's
//! `notice` says why, and the text fetch is retried after [`TEXT_RETRY`].

use crate::queries::{PgssQuery, ServerQuery};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collect::{Ctx, get, get_text, get_text_or_empty};
use crate::sample::quote_ident;
use crate::sample::{Area, CollectError, ErrorKind, PgssInfo};
use crate::sample::{Statement, StatementKey, StatementsSample};

/// The marker every pgvitals query carries.
pub const OWN_MARKER: &str = "/* pgvitals */";

/// How long to wait before fetching texts again after a conversion failure.
pub const TEXT_RETRY: Duration = Duration::from_secs(60);

/// Polls [`StatementsSample`]s; caches query texts by entry key.
#[derive(Debug, Default)]
pub struct StatementsCollector {
    /// Texts of known keys in key order (`None`: the server had no text for the key), shared
    /// with the samples; found by binary search (a hash map of 10,000 keys held 16,384
    /// slots: 0.67 MB against 0.4).
    texts: Vec<(StatementKey, Option<Arc<str>>)>,
    /// Keys of pgvitals' own statements.
    own: HashSet<StatementKey>,
    /// How many times the text query ran.
    text_fetches: u64,
    /// The keys the last text query asked for.
    last_fetch_keys: Vec<StatementKey>,
    /// After a conversion failure: no text fetch before this instant, and why.
    texts_blocked: Option<(Instant, String)>,
    /// Role names by oid (`pg_roles`), cached, shared with the samples.
    role_names: HashMap<u32, Arc<str>>,
    /// Database names by oid (`pg_database`), cached, shared with the samples.
    database_names: HashMap<u32, Arc<str>>,
    /// When the names were last read.
    names_read: Option<Instant>,
    /// How many rows the last poll read: the next poll's vector is sized for it, so 10,000
    /// entries are not grown by doubling (up to 16,384 slots, and the old and new buffers
    /// both held during the last copy: 14 MB at the peak instead of 6).
    last_rows: usize,
}

/// The first poll's vector is sized for this many entries (four times the default
/// `pg_stat_statements.max`): reserved address space costs no memory until rows are written
/// to it, and the spare slots are given back once the rows are in, so the first poll of a
/// big server does not grow its vector by doubling either.
pub const FIRST_POLL_ROWS: usize = 20_000;

/// Names are read again for an unknown oid at most this often.
pub const NAMES_RETRY: Duration = Duration::from_secs(60);

/// The cached text of `key` in `texts` (in key order): `None` when the key is not known,
/// `Some(None)` when the server had no text for it.
fn text_of<'a>(
    texts: &'a [(StatementKey, Option<Arc<str>>)],
    key: &StatementKey,
) -> Option<&'a Option<Arc<str>>> {
    texts
        .binary_search_by_key(key, |(k, _)| *k)
        .ok()
        .map(|i| &texts[i].1)
}

/// True when `text` is one of pgvitals' own queries: after whitespace and leading `--`
/// comment lines (the query files' headers, kept in the text before PostgreSQL 18), its first
/// keyword is followed by [`OWN_MARKER`] (`SELECT /* pgvitals */ ...`), or it starts with the
/// marker. The marker sits after the keyword because pg_stat_statements 1.12 (PostgreSQL 18)
/// stores statement texts without their leading comments.
pub fn is_own_text(text: &str) -> bool {
    let mut rest = text.trim_start();
    while let Some(comment) = rest.strip_prefix("--") {
        rest = match comment.split_once('\n') {
            Some((_, after)) => after.trim_start(),
            None => "",
        };
    }
    if rest.starts_with(OWN_MARKER) {
        return true;
    }
    let keyword_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    keyword_end > 0 && rest[keyword_end..].trim_start().starts_with(OWN_MARKER)
}

/// The error for a database without pg_stat_statements.
pub fn extension_missing(datname: &str, preloaded: bool) -> CollectError {
    let fix = if preloaded {
        "CREATE EXTENSION pg_stat_statements;".to_string()
    } else {
        "CREATE EXTENSION pg_stat_statements; and add pg_stat_statements to \
         shared_preload_libraries, then restart"
            .to_string()
    };
    CollectError::new(
        ErrorKind::ExtensionMissing,
        format!("pg_stat_statements is not installed in database {datname}"),
    )
    .with_fix(fix)
}

/// Reclassify the errors that mean "pg_stat_statements is not usable here".
///
/// A 42501 here is never fixed by pg_monitor: the role lacks USAGE on the extension's schema
/// (created in a schema other than `public`, say) or EXECUTE on its function (revoked from
/// PUBLIC); the fix names that GRANT, with `schema` (the extension's) and `user`.
fn classify(
    err: CollectError,
    datname: &str,
    preloaded: bool,
    schema: &str,
    user: &str,
) -> CollectError {
    match err.sqlstate.as_deref() {
        Some("42501") => {
            let (schema, user) = (quote_ident(schema), quote_ident(user));
            let fix = if err.message.contains("schema") {
                format!("GRANT USAGE ON SCHEMA {schema} TO {user}")
            } else {
                format!(
                    "GRANT USAGE ON SCHEMA {schema} TO {user}; GRANT EXECUTE ON ALL FUNCTIONS \
                     IN SCHEMA {schema} TO {user}"
                )
            };
            CollectError {
                fix: Some(fix),
                ..err
            }
        }
        Some("55000") => CollectError {
            kind: ErrorKind::NotPreloaded,
            fix: Some("add pg_stat_statements to shared_preload_libraries, then restart".into()),
            ..err
        },
        // The extension was dropped (or moved) since the probe.
        Some("42P01") | Some("42883") | Some("3F000") => {
            let mut e = extension_missing(datname, preloaded);
            e.sqlstate = err.sqlstate;
            e
        }
        _ => err,
    }
}

fn version_text(v: (u32, u32)) -> String {
    format!("{}.{}", v.0, v.1)
}

impl StatementsCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the text query (`pg_stat_statements(true)`) has run on this collector.
    pub fn text_fetches(&self) -> u64 {
        self.text_fetches
    }

    /// The keys (userid, dbid, queryid, toplevel) the last text query asked for; empty
    /// before the first.
    pub fn last_fetch_keys(&self) -> &[(u32, u32, i64, bool)] {
        &self.last_fetch_keys
    }

    /// How many keys are known as pgvitals' own statements (left out of the samples).
    pub fn own_keys(&self) -> usize {
        self.own.len()
    }

    /// One poll.
    ///
    /// Errors: [`ErrorKind::ExtensionMissing`] when the probe found no pg_stat_statements in
    /// this database (or it was dropped since), [`ErrorKind::NotPreloaded`] when it is not in
    /// `shared_preload_libraries`, [`ErrorKind::Unsupported`] for an extension older than 1.4,
    /// else the classified query error. A failed text fetch never fails the poll.
    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<StatementsSample, CollectError> {
        let facts = ctx.facts;
        let Some(pgss) = facts.pgss.as_ref() else {
            return Err(extension_missing(&facts.datname, facts.pgss_preloaded));
        };
        let classify = |e| {
            classify(
                e,
                &facts.datname,
                facts.pgss_preloaded,
                &pgss.schema,
                &facts.current_user,
            )
        };
        let sql = crate::queries::for_pgss(PgssQuery::Statements, pgss.version, &pgss.schema)?;
        // row by row: at 10,000 entries the whole result, held in wire form and decoded at
        // once, was the client's largest allocation
        let mut collected_at = None;
        let expected = match self.last_rows {
            0 => FIRST_POLL_ROWS,
            n => n + n / 16,
        };
        let mut statements: Vec<Statement> = Vec::with_capacity(expected);
        // two rows of one key come only from an extension without `toplevel` (before 1.9):
        // from 1.9 the key is the view's own, and no index of 10,000 keys (its buckets
        // written all over, 1 MB resident at the first poll) is built
        let mut index: Option<HashMap<StatementKey, usize>> =
            (pgss.version < (1, 9)).then(HashMap::new);
        let rows = ctx
            .query_each(&sql, &[], |row| {
                collected_at.get_or_insert(get::<f64>(row, "collected_at")?);
                let s = Statement {
                    userid: get(row, "userid")?,
                    dbid: get(row, "dbid")?,
                    queryid: get(row, "queryid")?,
                    toplevel: get::<Option<bool>>(row, "toplevel")?.unwrap_or(true),
                    calls: get(row, "calls")?,
                    total_exec_time_ms: get(row, "total_exec_time_ms")?,
                    mean_exec_time_ms: get(row, "mean_exec_time_ms")?,
                    total_plan_time_ms: get(row, "total_plan_time_ms")?,
                    rows: get(row, "rows")?,
                    shared_blks_hit: get(row, "shared_blks_hit")?,
                    shared_blks_read: get(row, "shared_blks_read")?,
                    temp_blks_read: get(row, "temp_blks_read")?,
                    temp_blks_written: get(row, "temp_blks_written")?,
                    shared_blk_read_time_ms: get(row, "shared_blk_read_time_ms")?,
                    shared_blk_write_time_ms: get(row, "shared_blk_write_time_ms")?,
                    temp_blk_read_time_ms: get(row, "temp_blk_read_time_ms")?,
                    temp_blk_write_time_ms: get(row, "temp_blk_write_time_ms")?,
                    wal_records: get(row, "wal_records")?,
                    wal_fpi: get(row, "wal_fpi")?,
                    wal_bytes: get(row, "wal_bytes")?,
                    jit_time_ms: get(row, "jit_time_ms")?,
                    stats_since: get(row, "stats_since")?,
                    ..Statement::default()
                };
                let Some(index) = index.as_mut() else {
                    statements.push(s);
                    return Ok(());
                };
                match index.get(&s.key()) {
                    Some(&i) => merge(&mut statements[i], &s),
                    None => {
                        index.insert(s.key(), statements.len());
                        statements.push(s);
                    }
                }
                Ok(())
            })
            .await
            .map_err(classify)?;
        self.last_rows = rows;
        drop(index);
        // in key order: the model finds an entry's previous reading, and this its texts, by
        // binary search, with no index of every key built per poll
        statements.sort_unstable_by_key(Statement::key);

        // Forget keys that are gone (evicted or reset).
        let present = |k: &StatementKey| statements.binary_search_by_key(k, Statement::key).is_ok();
        self.texts.retain(|(k, _)| present(k));
        if self.texts.capacity() > 2 * self.texts.len() {
            self.texts.shrink_to_fit();
        }
        self.own.retain(|k| present(k));

        let mut notices = Vec::new();
        if let Some(newer) = pgss.default_version {
            notices.push(format!(
                "pg_stat_statements {} is older than this server's {}: ALTER EXTENSION \
                 pg_stat_statements UPDATE",
                version_text(pgss.version),
                version_text(newer)
            ));
        }
        if let Some(note) = crate::sample::privilege_notice(facts, Area::Statements) {
            notices.push(note);
        }
        if let Some(note) = self.fetch_new_texts(ctx, pgss, &statements).await? {
            notices.push(note);
        }

        statements.retain(|s| !self.own.contains(&s.key()));
        // the sample is kept until the next one: no spare slots (more entries than last time
        // grew it)
        statements.shrink_to_fit();
        self.refresh_names(ctx, &statements).await?;
        for s in &mut statements {
            s.query = text_of(&self.texts, &s.key()).cloned().flatten();
            s.usename = self.role_names.get(&s.userid).cloned();
            s.datname = self.database_names.get(&s.dbid).cloned();
        }

        let (stats_reset, dealloc) = if pgss.version >= (1, 9) {
            let sql =
                crate::queries::for_pgss(PgssQuery::StatementsInfo, pgss.version, &pgss.schema)?;
            let rows = ctx.query(&sql, &[]).await.map_err(classify)?;
            match rows.first() {
                Some(row) => (get(row, "stats_reset")?, get(row, "dealloc")?),
                None => (None, None),
            }
        } else {
            (None, None)
        };

        let collected_at = match collected_at {
            Some(at) => at,
            None => server_now(ctx).await?,
        };
        Ok(StatementsSample {
            collected_at,
            extension_version: version_text(pgss.version),
            extension_schema: pgss.schema.clone(),
            stats_reset,
            dealloc,
            notice: if notices.is_empty() {
                None
            } else {
                Some(notices.join("; "))
            },
            statements,
        })
    }

    /// Read role and database names when an entry names an oid not cached yet (at most once
    /// per [`NAMES_RETRY`]: a dropped role stays unknown without a query per poll).
    async fn refresh_names(
        &mut self,
        ctx: &Ctx<'_>,
        statements: &[Statement],
    ) -> Result<(), CollectError> {
        let unknown = statements.iter().any(|s| {
            !self.role_names.contains_key(&s.userid) || !self.database_names.contains_key(&s.dbid)
        });
        let due = self.names_read.is_none_or(|t| t.elapsed() >= NAMES_RETRY);
        if !(unknown && due) {
            return Ok(());
        }
        let rows = ctx
            .query(ctx.sql(ServerQuery::StatementsNames)?, &[])
            .await?;
        self.role_names.clear();
        self.database_names.clear();
        for row in &rows {
            let kind: String = get(row, "kind")?;
            let oid: u32 = get(row, "oid")?;
            let name: Arc<str> = get_text_or_empty(row, "name")?.into();
            if kind == "role" {
                self.role_names.insert(oid, name);
            } else {
                self.database_names.insert(oid, name);
            }
        }
        self.names_read = Some(Instant::now());
        Ok(())
    }

    /// Fetch the texts of keys seen for the first time; returns a notice when texts could not
    /// be read. Errors other than a text conversion failure fail the poll.
    async fn fetch_new_texts(
        &mut self,
        ctx: &Ctx<'_>,
        pgss: &PgssInfo,
        statements: &[Statement],
    ) -> Result<Option<String>, CollectError> {
        let new: Vec<StatementKey> = statements
            .iter()
            .map(Statement::key)
            .filter(|k| text_of(&self.texts, k).is_none() && !self.own.contains(k))
            .collect();
        if new.is_empty() {
            return Ok(None);
        }
        if let Some((until, why)) = &self.texts_blocked {
            if Instant::now() < *until {
                return Ok(Some(why.clone()));
            }
        }
        let mut queryids: Vec<i64> = new.iter().map(|k| k.2).collect();
        queryids.sort_unstable();
        queryids.dedup();
        let sql = crate::queries::for_pgss(PgssQuery::StatementsText, pgss.version, &pgss.schema)?;
        self.text_fetches += 1;
        // kept as they are (no copy: at the first poll that is 10,000 keys)
        self.last_fetch_keys = new;
        // row by row, as the numbers: 10,000 new texts arrive at the first poll; the keys are
        // in key order, as the statements are
        let mut fetched_texts: Vec<(StatementKey, Option<Arc<str>>)> = Vec::new();
        let (texts, own, new) = (&mut fetched_texts, &mut self.own, &self.last_fetch_keys);
        let wanted = |k: &StatementKey| new.binary_search(k).is_ok();
        let fetched = ctx
            .query_each(&sql, &[&queryids], |row| {
                let k: StatementKey = (
                    get(row, "userid")?,
                    get(row, "dbid")?,
                    get(row, "queryid")?,
                    get::<Option<bool>>(row, "toplevel")?.unwrap_or(true),
                );
                if !wanted(&k) {
                    return Ok(());
                }
                let text = get_text(row, "query")?;
                if text.as_deref().is_some_and(is_own_text) {
                    own.insert(k);
                } else {
                    texts.push((k, text.map(Arc::from)));
                }
                Ok(())
            })
            .await;
        // what arrived is kept, also when the fetch failed part way
        fetched_texts.sort_unstable_by_key(|(k, _)| *k);
        fetched_texts.dedup_by_key(|(k, _)| *k);
        let unknown: Vec<StatementKey> = match fetched {
            Ok(_) => self
                .last_fetch_keys
                .iter()
                .filter(|k| !self.own.contains(k) && text_of(&fetched_texts, k).is_none())
                .copied()
                .collect(),
            Err(_) => Vec::new(),
        };
        self.texts
            .reserve_exact(fetched_texts.len() + unknown.len());
        self.texts.extend(fetched_texts);
        // Keys evicted between the two queries, or without a text: remembered as unknown so
        // they are not fetched on every poll.
        self.texts.extend(unknown.into_iter().map(|k| (k, None)));
        // the new keys were not in the cache: sorting keeps every key once
        self.texts.sort_unstable_by_key(|(k, _)| *k);
        match fetched {
            Ok(_) => {}
            Err(e) if matches!(e.sqlstate.as_deref(), Some("22021") | Some("22P05")) => {
                let why = format!(
                    "query texts unavailable: a statement's text does not convert to this \
                     database's encoding ({}); retrying in {} s",
                    e.message,
                    TEXT_RETRY.as_secs()
                );
                self.texts_blocked = Some((Instant::now() + TEXT_RETRY, why.clone()));
                return Ok(Some(why));
            }
            Err(e) => {
                return Err(classify(
                    e,
                    &ctx.facts.datname,
                    ctx.facts.pgss_preloaded,
                    &pgss.schema,
                    &ctx.facts.current_user,
                ));
            }
        }
        self.texts_blocked = None;
        Ok(None)
    }
}

/// Add `other`'s counters to `into`: two rows with the same key come from an extension older
/// than 1.9 on a server that keeps nested (`toplevel = false`) entries apart (PostgreSQL 14+
/// after pg_upgrade): the old view shows both without the column that tells them apart.
fn merge(into: &mut Statement, other: &Statement) {
    into.calls += other.calls;
    into.total_exec_time_ms += other.total_exec_time_ms;
    into.mean_exec_time_ms = if into.calls > 0 {
        into.total_exec_time_ms / into.calls as f64
    } else {
        0.0
    };
    into.total_plan_time_ms = sum(into.total_plan_time_ms, other.total_plan_time_ms);
    into.rows += other.rows;
    into.shared_blks_hit += other.shared_blks_hit;
    into.shared_blks_read += other.shared_blks_read;
    into.temp_blks_read += other.temp_blks_read;
    into.temp_blks_written += other.temp_blks_written;
    into.shared_blk_read_time_ms = sum(into.shared_blk_read_time_ms, other.shared_blk_read_time_ms);
    into.shared_blk_write_time_ms = sum(
        into.shared_blk_write_time_ms,
        other.shared_blk_write_time_ms,
    );
    into.temp_blk_read_time_ms = sum(into.temp_blk_read_time_ms, other.temp_blk_read_time_ms);
    into.temp_blk_write_time_ms = sum(into.temp_blk_write_time_ms, other.temp_blk_write_time_ms);
    into.wal_records = sum(into.wal_records, other.wal_records);
    into.wal_fpi = sum(into.wal_fpi, other.wal_fpi);
    into.wal_bytes = sum(into.wal_bytes, other.wal_bytes);
    into.jit_time_ms = sum(into.jit_time_ms, other.jit_time_ms);
    into.stats_since = match (into.stats_since.get(), other.stats_since.get()) {
        (Some(a), Some(b)) => a.min(b).into(),
        (a, b) => a.or(b).into(),
    };
}

/// The sum of two optional counters of merged rows; one that is known is kept.
fn sum<T, O>(a: O, b: O) -> O
where
    T: std::ops::Add<Output = T>,
    O: Into<Option<T>> + From<Option<T>>,
{
    match (a.into(), b.into()) {
        (Some(a), Some(b)) => Some(a + b).into(),
        (a, b) => a.or(b).into(),
    }
}

/// The server clock when pg_stat_statements has no entry at all.
async fn server_now(ctx: &Ctx<'_>) -> Result<f64, CollectError> {
    let rows = ctx.query(ctx.sql(ServerQuery::ServerNow)?, &[]).await?;
    match rows.first() {
        Some(row) => get(row, "collected_at"),
        None => Err(CollectError::new(
            ErrorKind::Decode,
            "server_now: the query returned no row",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_texts_are_recognised_after_header_comments() {
        assert!(is_own_text("/* pgvitals */ SELECT 1"));
        assert!(is_own_text(
            "-- activity: x\n-- more\n/* pgvitals */\nSELECT 1"
        ));
        assert!(is_own_text("  \n/* pgvitals */SELECT"));
        assert!(is_own_text("SELECT /* pgvitals */ 1"));
        assert!(is_own_text(
            "-- header\nWITH /* pgvitals */ cur AS (SELECT 1) TABLE cur"
        ));
        assert!(is_own_text("SET /* pgvitals */ LOCAL lock_timeout = 100"));
        assert!(!is_own_text("SELECT 1 /* pgvitals */"));
        assert!(!is_own_text("/* x */ SELECT /* pgvitals */ 1"));
        assert!(!is_own_text("-- only a comment"));
        assert!(!is_own_text("SELECT pg_sleep($1)"));
    }

    #[test]
    fn rows_with_the_same_key_are_merged() {
        let mut a = Statement {
            calls: 2,
            total_exec_time_ms: 10.0,
            mean_exec_time_ms: 5.0,
            rows: 2,
            shared_blks_hit: 3,
            ..Statement::default()
        };
        let b = Statement {
            calls: 3,
            total_exec_time_ms: 5.0,
            mean_exec_time_ms: 5.0 / 3.0,
            rows: 1,
            shared_blks_hit: 4,
            ..Statement::default()
        };
        merge(&mut a, &b);
        assert_eq!(a.calls, 5);
        assert_eq!(a.rows, 3);
        assert_eq!(a.shared_blks_hit, 7);
        assert!((a.mean_exec_time_ms - 3.0).abs() < 1e-9);
    }

    #[test]
    fn missing_extension_names_the_database_and_the_fix() {
        let e = extension_missing("app", true);
        assert_eq!(e.kind, ErrorKind::ExtensionMissing);
        assert_eq!(
            e.message,
            "pg_stat_statements is not installed in database app"
        );
        assert_eq!(
            e.fix.as_deref(),
            Some("CREATE EXTENSION pg_stat_statements;")
        );
        let e = extension_missing("app", false);
        assert!(
            e.fix
                .as_deref()
                .is_some_and(|f| f.contains("shared_preload_libraries"))
        );
    }

    #[test]
    fn sqlstate_55000_means_not_preloaded() {
        let e = CollectError {
            kind: ErrorKind::Query,
            sqlstate: Some("55000".into()),
            message: "pg_stat_statements must be loaded via shared_preload_libraries".into(),
            fix: None,
            retry_in_s: None,
        };
        let e = classify(e, "app", false, "public", "monitor");
        assert_eq!(e.kind, ErrorKind::NotPreloaded);
        assert!(
            e.fix
                .as_deref()
                .is_some_and(|f| f.contains("shared_preload_libraries"))
        );
    }
}
