//! Throwaway PostgreSQL clusters (a primary and optionally a streaming standby) for the live
//! tests and `pgvitals demo`.
//!
//! [`Cluster::start`] finds the server binaries ([`find_bin_dir`]), creates a fresh directory
//! under [`std::env::temp_dir`], copies a cached `initdb` template into it (or runs `initdb`
//! when no template can be made), picks free ports, starts the primary with
//! `pg_stat_statements` preloaded and created in database `postgres`, and, when asked, makes
//! a standby with `pg_basebackup` and waits until it streams. Servers listen on `127.0.0.1`
//! and on a unix socket inside the cluster directory; superuser `postgres`.
//!
//! Only the OS user who started a cluster can reach it: the cluster directory (data
//! directories, sockets, logs) is mode 0700 and owned by the server's OS user, so unix-socket
//! connections (`local ... trust` in `pg_hba.conf`) are open to that user only; every TCP
//! connection (`host ... scram-sha-256`) needs the superuser's password, a random secret made
//! per cluster and kept in this process only ([`Node::password`], [`Node::tcp_conninfo`]).
//! The standby replicates over the primary's unix socket.
//!
//! The `initdb` template cache ([`ClusterOptions::template_cache`]) is used only when it is a
//! real directory of ours that nobody else can write; the template is copied into a data
//! directory made fresh in the cluster directory, and pgvitals only edits, stops and removes
//! data directories it created in this run.
//!
//! Teardown: [`Cluster::stop`] (also run by `Drop`) stops the servers with
//! `pg_ctl stop -m immediate` and removes the directory. A detached reaper process (`sh`, in its
//! own process group) does the same when our process exits in any way (panic, `exit`,
//! `SIGKILL`): it blocks reading a pipe whose only writer is this process, so end-of-file
//! means we are gone. That covers clusters kept in a `static` that is never dropped.
//!
//! Running as root: `initdb` and `postgres` refuse to run as root, so when the effective uid is
//! 0 the cluster directory is given to the `postgres` OS user (or `nobody` when there is no
//! such user) and `initdb`, `pg_ctl`, `pg_basebackup` and the reaper run as that user. `psql`
//! runs as the calling user.
//!
//! Works with PostgreSQL 12 to 18 server binaries: Debian's packages, or those fetched by
//! `scripts/fetch-postgres.sh` into `target/pg/<major>/` (chosen with [`MAJOR_ENV`]). Builds
//! whose libraries point at another prefix run with `LD_LIBRARY_PATH=<prefix>/lib`; builds
//! without `psql` / `pg_basebackup` (the npm builds of 12 and 13) borrow them from a client
//! of the same or a newer major ([`find_client_bin_dir`]). The standby is made without
//! `pg_basebackup -R` (a newer client writes connection options an older server rejects):
//! `standby.signal` and a minimal `primary_conninfo` are written here.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Uid, User};

/// Environment variable naming a directory holding `initdb`, `pg_ctl`, `postgres`, `psql`
/// and `pg_basebackup`; it takes precedence over every other place [`find_bin_dir`] looks.
pub const BIN_DIR_ENV: &str = "PGVITALS_PG_BIN";

/// Environment variable naming the PostgreSQL major to test against, e.g. `14`: the binaries
/// are then taken from `target/pg/14/bin` (made by `scripts/fetch-postgres.sh 14`) or
/// `/usr/lib/postgresql/14/bin`. [`BIN_DIR_ENV`] wins over it.
pub const MAJOR_ENV: &str = "PGVITALS_PG_MAJOR";

/// Environment variable naming a directory with `psql` and `pg_basebackup`, used when the
/// server's bin directory lacks them (see [`find_client_bin_dir`]).
pub const CLIENT_BIN_DIR_ENV: &str = "PGVITALS_PG_CLIENT_BIN";

/// Name of the physical replication slot the standby streams from.
pub const STANDBY_SLOT: &str = "pgvitals_standby";

/// How many ports to try for one server before giving up (a port found free may be taken by
/// someone else before the server binds it).
const START_ATTEMPTS: usize = 5;

/// Bound on the wait for the standby to be in recovery and streaming.
const STANDBY_WAIT: Duration = Duration::from_secs(30);

/// Bumped whenever the template's contents change (part of the template cache key).
const TEMPLATE_FORMAT: u32 = 1;

/// The arguments of `initdb`, after `-D <dir>`.
const INITDB_ARGS: &[&str] = &[
    "--locale=C",
    "-E",
    "UTF8",
    "-U",
    "postgres",
    "--auth=trust",
    "--no-sync",
];

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Also create a streaming standby of the primary (physical slot [`STANDBY_SLOT`]).
    pub standby: bool,
    /// `shared_buffers`, in PostgreSQL's own syntax, e.g. `"16MB"`.
    pub shared_buffers: String,
    /// Lines appended to `postgresql.conf` after pgvitals' settings (so they win), e.g.
    /// `"log_min_duration_statement = 0"`. The standby copies them from the primary.
    pub extra_conf: Vec<String>,
    /// Directory of the cached `initdb` templates; `None`: `<target dir>/pgvitals-initdb-<euid>`
    /// when `CARGO_TARGET_DIR` or `CARGO_MANIFEST_DIR` tells where the target dir is (tests,
    /// `cargo run`), else `$XDG_CACHE_HOME/pgvitals/initdb` (`~/.cache/pgvitals/initdb`).
    /// Created mode 0700; used only when it is a real directory (not a symlink) owned by us
    /// without group or other write permission, else the cluster runs `initdb` in place (with
    /// a `tracing` warning).
    pub template_cache: Option<PathBuf>,
    /// Fetch PostgreSQL when the machine has none ([`find_or_fetch_bin_dir`]); `false` (the
    /// demo's `--no-fetch`) or [`crate::fetch::NO_FETCH_ENV`] refuses with the install hint.
    pub fetch: bool,
}

impl Default for ClusterOptions {
    /// A primary only, `shared_buffers = 16MB`, no extra settings, the default template cache.
    fn default() -> Self {
        ClusterOptions {
            standby: false,
            shared_buffers: "16MB".to_string(),
            extra_conf: Vec::new(),
            template_cache: None,
            fetch: true,
        }
    }
}

/// Why a cluster could not be found, started or used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries: the message lists where we looked and what to install.
    #[error("{0}")]
    NoBinaries(String),
    /// A command ran and failed: the command line, its exit status and the tail of its
    /// stderr (and of the server log when a server was involved).
    #[error("`{command}` failed ({status}): {stderr_tail}")]
    Command {
        command: String,
        status: String,
        stderr_tail: String,
    },
    /// A bounded wait ran out (e.g. for the standby to stream), with what was last seen.
    #[error("timed out after {waited_s:.1} s waiting for {what}: {detail}")]
    Timeout {
        what: String,
        waited_s: f64,
        detail: String,
    },
    /// A file system or process-spawn error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// The OS user servers run as when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    uid: Uid,
    gid: Gid,
}

/// The superuser's password: printed as `<secret>` by `Debug`.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// A random password: 32 ASCII letters and digits (about 190 bits) from the OS-seeded RNG.
fn random_secret() -> Secret {
    use rand::Rng;
    Secret(
        rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect(),
    )
}

/// One running (or stopped) PostgreSQL server of a [`Cluster`].
#[derive(Debug)]
pub struct Node {
    /// `"primary"` or `"standby"`; also the server's `cluster_name` is `pgvitals_<name>`
    /// (so the standby's `application_name` in `pg_stat_replication` is `pgvitals_standby`).
    pub name: String,
    /// TCP port on `127.0.0.1` (SCRAM with [`Node::password`]), also the number of the unix
    /// socket.
    pub port: u16,
    /// Directory of the unix socket (`unix_socket_directories`).
    pub socket_dir: PathBuf,
    /// The data directory (`PGDATA`).
    pub data_dir: PathBuf,
    bin_dir: PathBuf,
    /// Where `psql` and `pg_basebackup` come from (the bin dir itself when it has them).
    client_bin_dir: PathBuf,
    run_as: Option<RunAs>,
    root: PathBuf,
    log_file: PathBuf,
    major: u32,
    password: Secret,
}

/// A throwaway primary (and optional standby) in a temporary directory. Stopped and removed on
/// [`Cluster::stop`] or drop, and by a reaper process after our process exits.
#[derive(Debug)]
pub struct Cluster {
    pub primary: Node,
    /// Present when [`ClusterOptions::standby`] was set: streams from the primary.
    pub standby: Option<Node>,
    root: PathBuf,
    reaper: Option<Reaper>,
    stopped: bool,
}

#[derive(Debug)]
struct Reaper {
    child: Child,
    /// Our end of the pipe the reaper waits on; closing it (or our exit) wakes the reaper.
    stdin: Option<ChildStdin>,
}

/// Finds the directory holding the PostgreSQL server binaries.
///
/// Order: the environment variable [`BIN_DIR_ENV`] (`PGVITALS_PG_BIN`, must contain
/// `initdb`), then [`MAJOR_ENV`] (`PGVITALS_PG_MAJOR=<N>`: `target/pg/<N>/bin`,
/// `/var/tmp/pgvitals-pg/<N>/bin`, then `/usr/lib/postgresql/<N>/bin`; an error when none
/// has `initdb`), `pg_config --bindir` (only if that directory contains `initdb`), the highest
/// numbered `/usr/lib/postgresql/<N>/bin` with `initdb` (Debian/Ubuntu), then
/// `/usr/local/pgsql/bin` (a source build).
///
/// Errors: [`ClusterError::NoBinaries`] listing every place looked at and naming the package
/// to install.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    let mut looked = Vec::new();
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
        return Err(ClusterError::NoBinaries(format!(
            "{BIN_DIR_ENV}={} has no initdb; point it at a PostgreSQL bin directory, or \
             unset it and install PostgreSQL server binaries: apt-get install postgresql",
            dir.display()
        )));
    }
    looked.push(format!("${BIN_DIR_ENV} (unset)"));

    if let Some(major) = std::env::var_os(MAJOR_ENV) {
        let major = major.to_string_lossy().trim().to_string();
        let candidates = [
            fetched_root().join(&major).join("bin"),
            Path::new(FETCHED_FALLBACK).join(&major).join("bin"),
            PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        ];
        if let Some(dir) = candidates.iter().find(|d| d.join("initdb").is_file()) {
            return Ok(dir.clone());
        }
        return Err(ClusterError::NoBinaries(format!(
            "{MAJOR_ENV}={major}: no initdb in {}; fetch them with \
             scripts/fetch-postgres.sh {major}",
            candidates
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    match Command::new("pg_config").arg("--bindir").output() {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.join("initdb").is_file() {
                return Ok(dir);
            }
            looked.push(format!("pg_config --bindir ({}: no initdb)", dir.display()));
        }
        Ok(_) => looked.push("pg_config --bindir (failed)".to_string()),
        Err(_) => looked.push("pg_config --bindir (no pg_config on PATH)".to_string()),
    }

    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").is_file().then_some((major, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return Ok(dir);
    }
    looked.push("/usr/lib/postgresql/*/bin/initdb".to_string());

    let local = PathBuf::from("/usr/local/pgsql/bin");
    if local.join("initdb").is_file() {
        return Ok(local);
    }
    looked.push(local.join("initdb").display().to_string());

    // a build fetched earlier (crate::fetch)
    if let Some(dir) = crate::fetch::cached_bin_dir() {
        return Ok(dir);
    }
    if let Some(root) = crate::fetch::cache_root() {
        looked.push(format!("{} (fetched builds)", root.display()));
    }

    Err(ClusterError::NoBinaries(format!(
        "no PostgreSQL server binaries found (looked in: {}); install PostgreSQL server \
         binaries: apt-get install postgresql (or set {BIN_DIR_ENV})",
        looked.join(", ")
    )))
}

/// [`find_bin_dir`], and when it finds nothing (and no `PGVITALS_PG_BIN` / `PGVITALS_PG_MAJOR`
/// names a place), PostgreSQL fetched with the tools at hand ([`crate::fetch`]): what and how
/// big is said on stderr first; the build is reused next time. `no_fetch` (or
/// [`crate::fetch::NO_FETCH_ENV`]) refuses: the error is [`find_bin_dir`]'s install hint.
/// Concurrent callers fetch once (a lock in the cache directory).
///
/// Errors: [`ClusterError::NoBinaries`] with the hint, and why fetching failed or was refused.
pub fn find_or_fetch_bin_dir(no_fetch: bool) -> Result<PathBuf, ClusterError> {
    let hint = match find_bin_dir() {
        Err(ClusterError::NoBinaries(hint)) => hint,
        found => return found,
    };
    let chosen = std::env::var_os(BIN_DIR_ENV).is_some() || std::env::var_os(MAJOR_ENV).is_some();
    if chosen {
        return Err(ClusterError::NoBinaries(hint));
    }
    if no_fetch || crate::fetch::refused_by_env() {
        return Err(ClusterError::NoBinaries(format!(
            "{hint} (not fetched: --no-fetch or {}=1)",
            crate::fetch::NO_FETCH_ENV
        )));
    }
    let method =
        crate::fetch::method().map_err(|e| ClusterError::NoBinaries(format!("{hint}; {e}")))?;
    // one fetch at a time (tests start clusters side by side)
    let _lock = fetch_lock(&method)?;
    if let Ok(dir) = find_bin_dir() {
        return Ok(dir);
    }
    eprintln!(
        "pgvitals: no PostgreSQL server binaries on this machine: fetching {} \
         (--no-fetch or {}=1 refuses)",
        crate::fetch::describe(&method),
        crate::fetch::NO_FETCH_ENV
    );
    let started = Instant::now();
    let fetched = crate::fetch::fetch(&method).map_err(|e| {
        ClusterError::NoBinaries(format!("fetching PostgreSQL failed: {e}; {hint}"))
    })?;
    let bin = match fetched {
        Some(bin) => bin,
        None => find_bin_dir()?,
    };
    eprintln!(
        "pgvitals: PostgreSQL ready in {} ({:.0} s); it is reused from there",
        bin.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(bin)
}

/// An exclusive `flock` held while fetching: in the cache directory for PyPI builds, on a
/// file in `/var/tmp` for apt (root).
fn fetch_lock(method: &crate::fetch::Method) -> Result<nix::fcntl::Flock<fs::File>, ClusterError> {
    let path = match method {
        crate::fetch::Method::Pypi { root } => {
            if !root.exists() {
                let mut b = fs::DirBuilder::new();
                b.recursive(true).mode(0o700);
                b.create(root).map_err(|e| ClusterError::Io {
                    context: format!("create {}", root.display()),
                    source: e,
                })?;
            }
            crate::fetch::check_cache_dir(root).map_err(ClusterError::NoBinaries)?;
            root.join(".fetch.lock")
        }
        crate::fetch::Method::Apt => PathBuf::from("/var/tmp/pgvitals-apt-fetch.lock"),
    };
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&path)
        .map_err(|e| ClusterError::Io {
            context: format!("open {}", path.display()),
            source: e,
        })?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, errno)| {
        ClusterError::Io {
            context: format!("lock {}", path.display()),
            source: io::Error::from(errno),
        }
    })
}

/// Where `scripts/fetch-postgres.sh` puts the binaries when run as root in a checkout the
/// `postgres` OS user cannot reach (under a 0700 home).
const FETCHED_FALLBACK: &str = "/var/tmp/pgvitals-pg";

/// Where `scripts/fetch-postgres.sh` puts the binaries: `$PGVITALS_PG_CACHE`, else
/// `<target dir>/pg` (`CARGO_TARGET_DIR`, else `<CARGO_MANIFEST_DIR>/target`, else
/// `./target`).
fn fetched_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGVITALS_PG_CACHE") {
        return PathBuf::from(dir);
    }
    let dir = target_dir()
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("pg");
    // Absolute: commands run with another working directory.
    std::path::absolute(&dir).unwrap_or(dir)
}

/// The cargo target directory, when the environment tells where it is.
fn target_dir() -> Option<PathBuf> {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_MANIFEST_DIR")
                .map(|d| PathBuf::from(d).join("target"))
                .filter(|d| d.is_dir())
        })
}

/// Finds `psql` and `pg_basebackup` for servers of `major` whose own bin directory
/// `bin_dir` lacks them.
///
/// Order: `bin_dir` itself when it has both; [`CLIENT_BIN_DIR_ENV`]; the lowest fetched
/// (`target/pg/<N>/bin`) or Debian (`/usr/lib/postgresql/<N>/bin`) major `N >= major` having
/// both (`pg_basebackup` refuses servers newer than itself); `bin_dir` as a last resort (the
/// error then names the missing program).
pub fn find_client_bin_dir(bin_dir: &Path, major: u32) -> PathBuf {
    let has_both = |d: &Path| d.join("psql").is_file() && d.join("pg_basebackup").is_file();
    if has_both(bin_dir) {
        return bin_dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os(CLIENT_BIN_DIR_ENV).map(PathBuf::from) {
        if has_both(&dir) {
            return dir;
        }
    }
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for root in [
        fetched_root(),
        PathBuf::from(FETCHED_FALLBACK),
        PathBuf::from("/usr/lib/postgresql"),
    ] {
        if let Ok(rd) = fs::read_dir(&root) {
            for e in rd.filter_map(|e| e.ok()) {
                let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let dir = e.path().join("bin");
                if n >= major && has_both(&dir) {
                    found.push((n, dir));
                }
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .unwrap_or_else(|| bin_dir.to_path_buf())
}

/// Sets `LD_LIBRARY_PATH=<prefix>/lib` for a program in `<prefix>/bin` when that `lib`
/// holds its own `libpq.so.5` (relocated builds, whose extension libraries' RUNPATH names
/// their build prefix); a distribution's install is left alone.
fn set_lib_path(cmd: &mut Command, program: &Path) {
    let Some(prefix) = program.parent().and_then(Path::parent) else {
        return;
    };
    let lib = prefix.join("lib");
    if lib.join("libpq.so.5").exists() {
        cmd.env("LD_LIBRARY_PATH", lib);
    }
}

impl Cluster {
    /// Starts a fresh cluster: a primary, and a streaming standby when `opts.standby`.
    ///
    /// On return the primary accepts connections (`pg_stat_statements` created in database
    /// `postgres`), and the standby, if any, is in recovery and listed as `streaming` in the
    /// primary's `pg_stat_replication`. On error everything started so far is stopped and
    /// removed.
    ///
    /// Errors: [`ClusterError::NoBinaries`] without server binaries; [`ClusterError::Command`]
    /// when `initdb`, `pg_ctl`, `pg_basebackup` or `psql` fails (with its stderr and the server
    /// log tail); [`ClusterError::Timeout`] when the standby does not stream within 30 s;
    /// [`ClusterError::Io`] for file system errors.
    pub fn start(opts: ClusterOptions) -> Result<Cluster, ClusterError> {
        let started = Instant::now();
        let bin_dir = find_or_fetch_bin_dir(!opts.fetch)?;
        let run_as = server_os_user()?;
        let root = tempfile::Builder::new()
            .prefix("pgvitals-cluster-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(std::env::temp_dir())
            .map_err(io_err("create the cluster directory"))?
            .keep();
        if let Err(e) = make_private(&root, run_as.as_ref()) {
            let _ = fs::remove_dir_all(&root);
            return Err(e);
        }
        let password = random_secret();
        let data_dirs = [root.join("primary"), root.join("standby")];
        let reaper = match spawn_reaper(&bin_dir, run_as.as_ref(), &root, &data_dirs) {
            Ok(r) => r,
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                return Err(e);
            }
        };
        let major = read_major(&bin_dir);
        let client_bin_dir = find_client_bin_dir(&bin_dir, major);
        let node = |name: &str, data_dir: &Path| Node {
            name: name.to_string(),
            port: 0,
            socket_dir: root.join(format!("sock_{name}")),
            data_dir: data_dir.to_path_buf(),
            bin_dir: bin_dir.clone(),
            client_bin_dir: client_bin_dir.clone(),
            run_as: run_as.clone(),
            root: root.clone(),
            log_file: root.join(format!("{name}.log")),
            major,
            password: password.clone(),
        };
        let mut cluster = Cluster {
            primary: node("primary", &data_dirs[0]),
            standby: None,
            root: root.clone(),
            reaper: Some(reaper),
            stopped: false,
        };
        // On error `cluster` is dropped here, which stops what was started and removes `root`.
        cluster.init_primary(&opts)?;
        if opts.standby {
            let mut standby = node("standby", &data_dirs[1]);
            // Assigned before starting, so a failure in between is still cleaned up by Drop.
            let result = create_standby(&cluster.primary, &mut standby);
            cluster.standby = Some(standby);
            result?;
        }
        tracing::debug!(
            dir = %cluster.root.display(),
            primary_port = cluster.primary.port,
            standby_port = cluster.standby.as_ref().map(|s| s.port),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "throwaway cluster started"
        );
        Ok(cluster)
    }

    fn init_primary(&mut self, opts: &ClusterOptions) -> Result<(), ClusterError> {
        let primary = &mut self.primary;
        let from_template = template_data_dir(
            opts.template_cache.as_deref(),
            &primary.bin_dir,
            primary.run_as.as_ref(),
        )
        .and_then(|template| copy_template(&template, &primary.data_dir, primary.run_as.as_ref()));
        if let Err(e) = from_template {
            // No usable template (e.g. an unwritable or untrusted cache directory): initdb in
            // place, whose own error, if any, is the one that matters.
            tracing::warn!(error = %e, "no initdb template used; running initdb in place");
            let _ = fs::remove_dir_all(&primary.data_dir);
            initdb(
                &primary.bin_dir,
                primary.run_as.as_ref(),
                &primary.root,
                &primary.data_dir,
            )?;
        }
        check_own_data_dir(&self.root, &primary.data_dir, primary.run_as.as_ref())?;
        write_base_conf(&primary.data_dir, opts)?;
        write_hba(&primary.data_dir)?;
        create_private_dir(&primary.socket_dir, primary.run_as.as_ref())?;
        start_on_free_port(primary)?;
        // Over the unix socket (trust), before anything else can connect; not tracked by
        // pg_stat_statements (readable by pg_read_all_stats roles), not logged.
        primary.psql(
            "postgres",
            &format!(
                "SET pg_stat_statements.track_utility = off;\nSET log_statement = 'none';\n\
                 ALTER ROLE postgres PASSWORD '{}'",
                primary.password.0
            ),
        )?;
        primary.psql(
            "postgres",
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        )?;
        Ok(())
    }

    /// The temporary directory holding the data directories, sockets and logs; removed by
    /// [`Cluster::stop`].
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Stops both servers (`pg_ctl stop -m immediate`) and removes the cluster directory.
    /// Idempotent; errors are ignored (there is nothing left to do about them). Called by
    /// `Drop`.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for node in std::iter::once(&self.primary).chain(self.standby.as_ref()) {
            // Only a data directory made in this run (never one reached through a symlink).
            let own = check_own_data_dir(&self.root, &node.data_dir, node.run_as.as_ref());
            if own.is_ok() && node.data_dir.join("postmaster.pid").exists() {
                let _ = node.stop("immediate");
            }
        }
        let _ = fs::remove_dir_all(&self.root);
        if let Some(mut reaper) = self.reaper.take() {
            // Nothing left for it to do: wake it (EOF) and collect it.
            drop(reaper.stdin.take());
            let _ = reaper.child.kill();
            let _ = reaper.child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Node {
    /// Keyword/value conninfo for the superuser over the unix socket:
    /// `host=<socket_dir> port=<port> user=postgres dbname=<dbname>`.
    pub fn conninfo(&self, dbname: &str) -> String {
        self.conninfo_as("postgres", dbname)
    }

    /// Keyword/value conninfo for `user` over the unix socket (authentication is `trust`,
    /// reachable only by the OS user owning the 0700 cluster directory, and root).
    pub fn conninfo_as(&self, user: &str, dbname: &str) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            conninfo_value(&self.socket_dir.to_string_lossy()),
            self.port,
            conninfo_value(user),
            conninfo_value(dbname)
        )
    }

    /// Keyword/value conninfo for the superuser over TCP, with its password and no TLS:
    /// `host=127.0.0.1 port=<port> user=postgres password=<secret> dbname=<dbname>
    /// sslmode=disable`. Keep it in memory: the password is the only thing guarding TCP.
    pub fn tcp_conninfo(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres password={} dbname={} sslmode=disable",
            self.port,
            conninfo_value(&self.password.0),
            conninfo_value(dbname)
        )
    }

    /// The superuser `postgres`'s password (32 ASCII letters and digits), random per cluster;
    /// TCP connections authenticate with it (`scram-sha-256`), unix-socket ones need none.
    /// The standby has the primary's (it is a copy).
    pub fn password(&self) -> &str {
        &self.password.0
    }

    /// Runs `sql` (one or more statements, each in its own transaction unless it says
    /// otherwise) as `postgres` in `dbname` with this cluster's `psql -X -q -A -t -v
    /// ON_ERROR_STOP=1`, and returns stdout trimmed: unaligned rows, `|` between columns, one
    /// row per line.
    ///
    /// Errors: [`ClusterError::Command`] with psql's stderr (the server's ERROR message).
    pub fn psql(&self, dbname: &str, sql: &str) -> Result<String, ClusterError> {
        let psql = self.client_bin_dir.join("psql");
        let mut cmd = Command::new(&psql);
        set_lib_path(&mut cmd, &psql);
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.conninfo(dbname))
            .args(["-f", "-"])
            .env("PGCONNECT_TIMEOUT", "10");
        clear_pg_env(&mut cmd);
        let label = format!("{} [{}]", describe(&cmd), snippet(sql));
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err(format!("spawn {label}")))?;
        let mut stdin = child.stdin.take();
        let sql_owned = sql.to_string();
        let writer = std::thread::spawn(move || {
            if let Some(stdin) = stdin.as_mut() {
                // A write error means psql exited early; its stderr says why.
                let _ = stdin.write_all(sql_owned.as_bytes());
            }
        });
        let out = child
            .wait_with_output()
            .map_err(io_err(format!("wait for {label}")))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(ClusterError::Command {
                command: label,
                status: out.status.to_string(),
                stderr_tail: tail(&String::from_utf8_lossy(&out.stderr)),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Stops the server: `pg_ctl stop -w -m <mode>`, mode `"smart"`, `"fast"` or
    /// `"immediate"` (crash-like: recovery on the next start).
    ///
    /// Errors: [`ClusterError::Command`] with pg_ctl's stderr and the server log tail.
    pub fn stop(&self, mode: &str) -> Result<(), ClusterError> {
        let mut cmd = self.pg_ctl();
        cmd.args(["stop", "-w", "-t", "60", "-s", "-m", mode]);
        self.run_server_cmd(&mut cmd, None)
    }

    /// Starts the server after a [`Node::stop`] on the same port: `pg_ctl start -w`, returns
    /// when it accepts connections (a standby: when it reached a consistent state).
    ///
    /// Errors: [`ClusterError::Command`] with pg_ctl's stderr and the server log tail.
    pub fn start(&self) -> Result<(), ClusterError> {
        let log_len = fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
        let mut cmd = self.pg_ctl();
        cmd.args(["start", "-w", "-t", "60", "-s", "-l"])
            .arg(&self.log_file)
            // Its own process group: a Ctrl-C meant for the test runner or the demo does not
            // reach the postmaster; teardown stops it.
            .process_group(0);
        self.run_server_cmd(&mut cmd, Some(log_len))
    }

    /// Promotes a standby to primary: `pg_ctl promote -w` (returns once it left recovery).
    ///
    /// Errors: [`ClusterError::Command`] with pg_ctl's stderr and the server log tail.
    pub fn promote(&self) -> Result<(), ClusterError> {
        let mut cmd = self.pg_ctl();
        cmd.args(["promote", "-w", "-t", "60", "-s"]);
        self.run_server_cmd(&mut cmd, None)
    }

    /// The postmaster's pid, from the first line of `<data_dir>/postmaster.pid`; `None` when
    /// the server is not running (no file) or the file cannot be read.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Major version of the server binaries (e.g. `15`), from `postgres --version`; 0 when
    /// it could not be read.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The server log (`pg_ctl -l`), outside the data directory.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    fn pg_ctl(&self) -> Command {
        let mut cmd = server_command(
            &self.bin_dir.join("pg_ctl"),
            self.run_as.as_ref(),
            &self.root,
        );
        cmd.arg("-D").arg(&self.data_dir);
        cmd
    }

    /// Runs a pg_ctl command; on failure the error carries the log written since `log_from`
    /// (or the last lines of the whole log).
    fn run_server_cmd(&self, cmd: &mut Command, log_from: Option<u64>) -> Result<(), ClusterError> {
        run(cmd, None).map(|_| ()).map_err(|e| match e {
            ClusterError::Command {
                command,
                status,
                stderr_tail,
            } => ClusterError::Command {
                command,
                status,
                stderr_tail: format!(
                    "{stderr_tail}\n--- {} ---\n{}",
                    self.log_file.display(),
                    tail(&read_log_from(&self.log_file, log_from.unwrap_or(0)))
                ),
            },
            other => other,
        })
    }

    fn write_node_conf(&self) -> Result<(), ClusterError> {
        let text = format!(
            "# Written by pgvitals for this node; included last by postgresql.conf.\n\
             port = {}\n\
             unix_socket_directories = {}\n\
             cluster_name = 'pgvitals_{}'\n",
            self.port,
            conf_string(&self.socket_dir.to_string_lossy()),
            self.name
        );
        let path = self.data_dir.join(NODE_CONF);
        fs::write(&path, text).map_err(io_err(format!("write {}", path.display())))?;
        if let Some(user) = &self.run_as {
            chown_to(&path, user)?;
        }
        Ok(())
    }
}

/// Per-node settings (port, socket directory, name), included at the end of
/// `postgresql.conf`; the standby overwrites the copy it got from `pg_basebackup`.
const NODE_CONF: &str = "pgvitals_node.conf";

/// Appends pgvitals' settings, then `opts.extra_conf`, then the include of [`NODE_CONF`], to
/// `postgresql.conf`.
fn write_base_conf(data_dir: &Path, opts: &ClusterOptions) -> Result<(), ClusterError> {
    let mut text = String::from("\n# pgvitals throwaway cluster\n");
    for line in [
        "listen_addresses = '127.0.0.1'",
        "password_encryption = 'scram-sha-256'",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "shared_preload_libraries = 'pg_stat_statements'",
        "pg_stat_statements.track = all",
        // room for every test's statements at once: at the default 5,000, tests running side
        // by side evicted each other's entries
        "pg_stat_statements.max = 20000",
        "track_io_timing = on",
        "max_connections = 100",
        "max_wal_senders = 5",
        "max_replication_slots = 5",
        "wal_level = replica",
        "hot_standby = on",
        "hot_standby_feedback = on",
        "logging_collector = off",
    ] {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "shared_buffers = {}\n",
        conf_string(&opts.shared_buffers)
    ));
    for line in &opts.extra_conf {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!("include '{NODE_CONF}'\n"));
    let path = data_dir.join("postgresql.conf");
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io_err(format!("append to {}", path.display())))
}

/// `pg_hba.conf`: unix-socket connections trusted (the socket directory is 0700, owned by the
/// server's OS user), every TCP connection (IPv4 or IPv6, replication too) by SCRAM password.
const PG_HBA: &str = "# Written by pgvitals: sockets in a 0700 directory, passwords on TCP.\n\
                      local all all trust\n\
                      local replication all trust\n\
                      host all all all scram-sha-256\n\
                      host replication all all scram-sha-256\n";

/// Replaces `pg_hba.conf` with [`PG_HBA`] (overwriting keeps the file's owner and mode).
fn write_hba(data_dir: &Path) -> Result<(), ClusterError> {
    let path = data_dir.join("pg_hba.conf");
    fs::write(&path, PG_HBA).map_err(io_err(format!("write {}", path.display())))
}

/// Sets `path` (a directory we just created) to mode 0700, owned by the server's OS user.
fn make_private(path: &Path, run_as: Option<&RunAs>) -> Result<(), ClusterError> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(io_err(format!("chmod 0700 {}", path.display())))?;
    if let Some(user) = run_as {
        chown_to(path, user)?;
    }
    Ok(())
}

/// Creates the directory `path` (its parent must exist; it must not) with mode 0700, owned
/// by the server's OS user.
fn create_private_dir(path: &Path, run_as: Option<&RunAs>) -> Result<(), ClusterError> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(io_err(format!("create {}", path.display())))?;
    make_private(path, run_as)
}

/// The uid that owns the servers' files: the server's OS user when we are root, else us.
fn server_uid(run_as: Option<&RunAs>) -> Uid {
    run_as.map(|u| u.uid).unwrap_or_else(nix::unistd::geteuid)
}

/// Ok when `path` itself (not following a symlink) is a directory owned by `uid` that
/// neither group nor others can write; else an error saying what is wrong.
fn check_private_dir(path: &Path, uid: Uid) -> Result<(), ClusterError> {
    let meta = fs::symlink_metadata(path).map_err(io_err(format!("inspect {}", path.display())))?;
    let problem = if meta.file_type().is_symlink() {
        "is a symlink".to_string()
    } else if !meta.is_dir() {
        "is not a directory".to_string()
    } else if meta.uid() != uid.as_raw() {
        format!("is owned by uid {}, not {uid}", meta.uid())
    } else if meta.mode() & 0o022 != 0 {
        format!("is writable by others (mode {:o})", meta.mode() & 0o7777)
    } else {
        return Ok(());
    };
    Err(ClusterError::Io {
        context: format!("refusing to use {}", path.display()),
        source: io::Error::new(io::ErrorKind::PermissionDenied, problem),
    })
}

/// Ok when `data_dir` is a directory made in this run: directly inside the cluster
/// directory `root` (itself a real directory), not a symlink, owned by the server's OS user.
fn check_own_data_dir(
    root: &Path,
    data_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<(), ClusterError> {
    if data_dir.parent() != Some(root) {
        return Err(ClusterError::Io {
            context: format!("refusing to use {}", data_dir.display()),
            source: io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("not inside the cluster directory {}", root.display()),
            ),
        });
    }
    check_private_dir(root, server_uid(run_as))?;
    check_private_dir(data_dir, server_uid(run_as))
}

/// Copies the template's contents (`cp -a <template>/. <data_dir>`) into `data_dir`, a
/// directory created here (mode 0700, owned by the server's OS user): never the template
/// itself, which could be a symlink.
fn copy_template(
    template: &Path,
    data_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<(), ClusterError> {
    create_private_dir(data_dir, run_as)?;
    run(
        Command::new("cp")
            .arg("-a")
            .arg(template.join("."))
            .arg(data_dir),
        None,
    )
    .map(|_| ())
}

/// Picks a free port, writes the node's settings and starts it; tries another port when the
/// one picked was taken in the meantime.
fn start_on_free_port(node: &mut Node) -> Result<(), ClusterError> {
    let mut last_err = None;
    for _ in 0..START_ATTEMPTS {
        node.port = free_port()?;
        node.write_node_conf()?;
        let log_len = fs::metadata(&node.log_file).map(|m| m.len()).unwrap_or(0);
        match node.start() {
            Ok(()) => return Ok(()),
            Err(e) => {
                let log = read_log_from(&node.log_file, log_len);
                if !log.contains("Address already in use") {
                    return Err(e);
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| ClusterError::Timeout {
        what: format!("a free port for the {}", node.name),
        waited_s: 0.0,
        detail: String::new(),
    }))
}

/// A TCP port on 127.0.0.1 that was free a moment ago, chosen at random outside the kernel's
/// ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default).
///
/// A port from the ephemeral range can be handed to an outgoing connection as its local port
/// while the node is stopped, and a restart on the same port then fails with "Address already
/// in use" (seen in CI with six majors' tests running side by side). Ports below the range
/// are never given out that way, so only another listener could take one, and the random pick
/// makes that unlikely. Falls back to a port from the kernel when nothing outside the range
/// binds.
///
/// # Errors
/// [`ClusterError::Io`] when not even a kernel-chosen port binds.
pub fn free_port() -> Result<u16, ClusterError> {
    use rand::Rng;
    let (low, high) = ephemeral_port_range();
    let mut rng = rand::rng();
    // 20000 .. low, or above high when the range starts too low to leave room below it
    let below = (low > 21_000).then_some((20_000u16, low));
    let above = (high < 64_000).then_some((high + 1, u16::MAX));
    if let Some((from, to)) = below.or(above) {
        for _ in 0..200 {
            let port = rng.random_range(from..to);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err("bind 127.0.0.1:0"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("local address of 127.0.0.1:0"))?
        .port();
    Ok(port)
}

/// The kernel's ephemeral port range; Linux's default when it cannot be read.
fn ephemeral_port_range() -> (u16, u16) {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|v| v.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// Makes `standby` a streaming replica of `primary` and starts it.
///
/// Creates the physical slot [`STANDBY_SLOT`] on the primary (reserving WAL at once), copies
/// the primary with `pg_basebackup -X stream -S <slot>` (the client may be newer than the
/// server), then writes `standby.signal` and `primary_conninfo` / `primary_slot_name` itself:
/// `pg_basebackup -R` from a newer client writes options an older server rejects
/// (`channel_binding` on 12, `sslsni` on 13).
fn create_standby(primary: &Node, standby: &mut Node) -> Result<(), ClusterError> {
    primary.psql(
        "postgres",
        &format!("SELECT pg_create_physical_replication_slot('{STANDBY_SLOT}', true)"),
    )?;
    let mut cmd = server_command(
        &standby.client_bin_dir.join("pg_basebackup"),
        standby.run_as.as_ref(),
        &standby.root,
    );
    cmd.arg("-D")
        .arg(&standby.data_dir)
        .args(["-X", "stream", "-S", STANDBY_SLOT])
        .args(["-c", "fast", "--no-sync", "-d"])
        .arg(primary.conninfo("postgres"));
    run(&mut cmd, None)?;
    check_own_data_dir(&standby.root, &standby.data_dir, standby.run_as.as_ref())?;
    let signal = standby.data_dir.join("standby.signal");
    fs::write(&signal, "").map_err(io_err(format!("write {}", signal.display())))?;
    let auto_conf = standby.data_dir.join("postgresql.auto.conf");
    let text = format!(
        "primary_conninfo = {}\nprimary_slot_name = '{STANDBY_SLOT}'\n",
        conf_string(&primary.conninfo("postgres"))
    );
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&auto_conf)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io_err(format!("append to {}", auto_conf.display())))?;
    if let Some(user) = &standby.run_as {
        chown_to(&signal, user)?;
        chown_to(&auto_conf, user)?;
    }
    create_private_dir(&standby.socket_dir, standby.run_as.as_ref())?;
    start_on_free_port(standby)?;
    wait_streaming(primary, standby)
}

/// Waits until `standby` is in recovery and the primary's `pg_stat_replication` shows it
/// `streaming`.
fn wait_streaming(primary: &Node, standby: &Node) -> Result<(), ClusterError> {
    let started = Instant::now();
    let app = format!("pgvitals_{}", standby.name);
    let check_sql = format!(
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' \
         AND application_name = '{app}'"
    );
    loop {
        let in_recovery = standby.psql("postgres", "SELECT pg_is_in_recovery()");
        let streaming = primary.psql("postgres", &check_sql);
        if let (Ok(r), Ok(n)) = (&in_recovery, &streaming) {
            if r == "t" && n != "0" {
                return Ok(());
            }
        }
        let seen = format!(
            "standby pg_is_in_recovery() = {}; primary pg_stat_replication rows \
             streaming for {app} = {}",
            show(&in_recovery),
            show(&streaming)
        );
        if started.elapsed() > STANDBY_WAIT {
            return Err(ClusterError::Timeout {
                what: format!("the {} to stream from the primary", standby.name),
                waited_s: started.elapsed().as_secs_f64(),
                detail: format!(
                    "{seen}\n--- {} ---\n{}",
                    standby.log_file.display(),
                    tail(&read_log_from(&standby.log_file, 0))
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn show(r: &Result<String, ClusterError>) -> String {
    match r {
        Ok(v) => v.clone(),
        Err(e) => format!("error: {e}"),
    }
}

/// `initdb` into `data_dir` as the server user.
fn initdb(
    bin_dir: &Path,
    run_as: Option<&RunAs>,
    cwd: &Path,
    data_dir: &Path,
) -> Result<(), ClusterError> {
    let mut cmd = server_command(&bin_dir.join("initdb"), run_as, cwd);
    cmd.arg("-D").arg(data_dir).args(INITDB_ARGS);
    run(&mut cmd, None).map(|_| ())
}

/// Where the `initdb` templates are cached when [`ClusterOptions::template_cache`] is `None`:
/// `<target dir>/pgvitals-initdb-<euid>` (tests, `cargo run`), else the user's cache
/// directory (`$XDG_CACHE_HOME/pgvitals/initdb`, `~/.cache/pgvitals/initdb`); `None` when
/// there is no home directory either. Never a shared directory such as `/tmp`.
fn default_template_cache() -> Option<PathBuf> {
    template_cache_in(target_dir())
}

/// [`default_template_cache`] for the target dir `target` (`None`: not known).
fn template_cache_in(target: Option<PathBuf>) -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    if let Some(target) = target {
        let dir = target.join(format!("pgvitals-initdb-{}", nix::unistd::geteuid()));
        return Some(std::path::absolute(&dir).unwrap_or(dir));
    }
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.cache_dir().join("pgvitals").join("initdb"))
}

/// Makes the cache directory `cache` (mode 0700) when it is missing, then checks it (not a
/// symlink, owned by us, not writable by group or others; see [`check_private_dir`]) and
/// sets it to 0700.
fn prepare_cache_dir(cache: &Path) -> Result<(), ClusterError> {
    if let Some(parent) = cache.parent() {
        fs::create_dir_all(parent).map_err(io_err(format!("create {}", parent.display())))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(cache) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(format!("create {}", cache.display()))(e)),
    }
    check_private_dir(cache, nix::unistd::geteuid())?;
    fs::set_permissions(cache, fs::Permissions::from_mode(0o700))
        .map_err(io_err(format!("chmod 0700 {}", cache.display())))
}

/// A freshly initialised data directory whose contents are copied into each cluster's data
/// directory, made once per bin directory, server binary and OS user in `cache` (or
/// [`default_template_cache`]). Copying takes about 0.05 s where `initdb` takes about 0.8 s.
///
/// Errors (the caller then runs `initdb` in place): no cache location, a cache directory or
/// template that is a symlink, not ours (the template belongs to the server's OS user when we
/// are root) or writable by others, or a failed `initdb` / copy.
fn template_data_dir(
    cache: Option<&Path>,
    bin_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, ClusterError> {
    let cache = match cache {
        Some(dir) => dir.to_path_buf(),
        None => default_template_cache().ok_or_else(|| ClusterError::Io {
            context: "no directory for the initdb template cache".to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no target dir and no home"),
        })?,
    };
    prepare_cache_dir(&cache)?;

    let mut hasher = DefaultHasher::new();
    TEMPLATE_FORMAT.hash(&mut hasher);
    bin_dir.hash(&mut hasher);
    INITDB_ARGS.hash(&mut hasher);
    run_as
        .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
        .hash(&mut hasher);
    if let Ok(meta) = fs::metadata(bin_dir.join("postgres")) {
        meta.len().hash(&mut hasher);
        meta.modified().ok().hash(&mut hasher);
    }
    let template = cache.join(format!("{:016x}", hasher.finish()));
    if fs::symlink_metadata(&template).is_ok() {
        check_private_dir(&template, server_uid(run_as))?;
        if template.join("PG_VERSION").is_file() {
            return Ok(template);
        }
    }

    // initdb runs in a scratch directory the server user owns; the result is copied next to
    // the final place (same file system) and renamed, so a template is complete or absent,
    // and concurrent builders do not clash.
    let scratch = tempfile::Builder::new()
        .prefix("pgvitals-initdb-")
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(std::env::temp_dir())
        .map_err(io_err("create an initdb scratch directory"))?;
    make_private(scratch.path(), run_as)?;
    let scratch_data = scratch.path().join("data");
    initdb(bin_dir, run_as, scratch.path(), &scratch_data)?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(&cache)
        .map_err(io_err(format!(
            "create a staging directory in {}",
            cache.display()
        )))?;
    let staged = staging.path().join("data");
    run(
        Command::new("cp").arg("-a").arg(&scratch_data).arg(&staged),
        None,
    )?;
    if let Err(e) = fs::rename(&staged, &template) {
        // Another process may have won the race: its template is as good as ours.
        if !template.join("PG_VERSION").is_file() {
            return Err(io_err(format!("rename to {}", template.display()))(e));
        }
    }
    check_private_dir(&template, server_uid(run_as))?;
    Ok(template)
}

/// `Some(user)` to run servers as when we are root: `postgres`, else `nobody`.
fn server_os_user() -> Result<Option<RunAs>, ClusterError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(RunAs {
                uid: user.uid,
                gid: user.gid,
            }));
        }
    }
    Err(ClusterError::NoBinaries(
        "running as root, and there is no `postgres` or `nobody` OS user to run the server \
         as (initdb and postgres refuse to run as root): useradd --system postgres"
            .to_string(),
    ))
}

fn chown_to(path: &Path, user: &RunAs) -> Result<(), ClusterError> {
    nix::unistd::chown(path, Some(user.uid), Some(user.gid)).map_err(|errno| ClusterError::Io {
        context: format!("chown {} to uid {}", path.display(), user.uid),
        source: io::Error::from(errno),
    })
}

/// A command for a server program (`initdb`, `pg_ctl`, `pg_basebackup`): as the server user
/// when we are root (with `HOME` and the working directory set to `home`), no `PG*`
/// environment variables.
fn server_command(program: &Path, run_as: Option<&RunAs>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    clear_pg_env(&mut cmd);
    set_lib_path(&mut cmd, program);
    cmd.current_dir(home).stdin(Stdio::null());
    if let Some(user) = run_as {
        cmd.uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .env("HOME", home);
    }
    cmd
}

/// Removes the libpq and server environment variables (`PGDATA`, `PGHOST`, `PGOPTIONS`, ...)
/// that would override or confuse explicit arguments.
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

/// Spawns the reaper: `sh` in its own process group, as the server user, which waits for EOF
/// on its stdin (our process holding the only write end, close-on-exec), then stops the
/// servers and removes `root`.
fn spawn_reaper(
    bin_dir: &Path,
    run_as: Option<&RunAs>,
    root: &Path,
    data_dirs: &[PathBuf],
) -> Result<Reaper, ClusterError> {
    const SCRIPT: &str = r#"trap '' HUP INT TERM
cat >/dev/null 2>&1
pg_ctl=$1; root=$2; shift 2
for d in "$@"; do
  if [ ! -L "$d" ] && [ -f "$d/postmaster.pid" ]; then "$pg_ctl" -D "$d" stop -m immediate -s >/dev/null 2>&1; fi
done
rm -rf "$root"
"#;
    let mut cmd = server_command(Path::new("sh"), run_as, Path::new("/"));
    set_lib_path(&mut cmd, &bin_dir.join("pg_ctl"));
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg("pgvitals-reaper")
        .arg(bin_dir.join("pg_ctl"))
        .arg(root)
        .args(data_dirs)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(io_err("spawn the cluster reaper (sh)"))?;
    let stdin = child.stdin.take();
    Ok(Reaper { child, stdin })
}

/// Major version of the binaries, from `postgres --version` (`postgres (PostgreSQL) 15.18 ...`).
fn read_major(bin_dir: &Path) -> u32 {
    let postgres = bin_dir.join("postgres");
    let mut cmd = Command::new(&postgres);
    set_lib_path(&mut cmd, &postgres);
    let Ok(out) = cmd.arg("--version").output() else {
        return 0;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    parse_major(&text)
}

/// `15` from `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`, `17` from `... 17beta1`.
fn parse_major(version: &str) -> u32 {
    version
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|word| {
            let digits: String = word.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// Runs `cmd`, capturing its output; a non-zero exit is a [`ClusterError::Command`] with the
/// command line and the tail of its stderr (stdout when stderr is empty).
fn run(cmd: &mut Command, label: Option<String>) -> Result<Output, ClusterError> {
    let label = label.unwrap_or_else(|| describe(cmd));
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(io_err(format!("spawn `{label}`")))?;
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        stderr.into_owned()
    };
    Err(ClusterError::Command {
        command: label,
        status: out.status.to_string(),
        stderr_tail: tail(&text),
    })
}

/// `program arg arg ...` of a command, for messages.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last 20 lines (at most 4000 bytes) of `text`, trimmed.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(20);
    let mut out = lines[start..].join("\n");
    if out.len() > 4000 {
        let mut cut = out.len() - 4000;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = format!("...{}", &out[cut..]);
    }
    out
}

/// The first line of `sql`, at most 80 characters, for messages.
fn snippet(sql: &str) -> String {
    let line = sql.trim().lines().next().unwrap_or("");
    let short: String = line.chars().take(80).collect();
    if short.len() < sql.trim().len() {
        format!("{short}...")
    } else {
        short
    }
}

/// The log from byte `from` on (the whole log when it is shorter); empty when unreadable.
fn read_log_from(path: &Path, from: u64) -> String {
    let Ok(mut file) = fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let from = if from > len { 0 } else { from };
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A `postgresql.conf` string literal: single quotes, `'` doubled, `\` escaped.
fn conf_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A conninfo value: bare when it is plain, else single-quoted with `\` and `'` escaped.
fn conninfo_value(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_values_are_quoted_only_when_needed() {
        assert_eq!(conninfo_value("postgres"), "postgres");
        assert_eq!(conninfo_value("my db"), "'my db'");
        assert_eq!(conninfo_value("o'k"), r"'o\'k'");
        assert_eq!(conninfo_value(""), "''");
    }

    #[test]
    fn picked_ports_are_outside_the_ephemeral_range_and_free() {
        let (low, high) = ephemeral_port_range();
        assert!(low <= high, "{low}..{high}");
        for _ in 0..20 {
            let port = free_port().expect("port");
            assert!(
                !(low..=high).contains(&port),
                "{port} is in the ephemeral range {low}..{high}"
            );
            TcpListener::bind(("127.0.0.1", port)).expect("the picked port binds");
        }
    }

    #[test]
    fn major_is_parsed_from_postgres_version() {
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            15
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 17beta1"), 17);
        assert_eq!(parse_major("garbage"), 0);
    }

    #[test]
    fn private_dirs_are_0700_and_symlinks_or_writable_dirs_are_refused() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let me = nix::unistd::geteuid();
        let dir = tmp.path().join("private");
        create_private_dir(&dir, None).expect("create");
        let mode = fs::symlink_metadata(&dir).expect("stat").mode() & 0o7777;
        assert_eq!(mode, 0o700);
        check_private_dir(&dir, me).expect("our own 0700 directory");

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let err = check_private_dir(&link, me).expect_err("a symlink");
        assert!(err.to_string().contains("is a symlink"), "{err}");

        let other = Uid::from_raw(me.as_raw().wrapping_add(1));
        let err = check_private_dir(&dir, other).expect_err("another owner");
        assert!(err.to_string().contains("owned by uid"), "{err}");

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = check_private_dir(&dir, me).expect_err("world-writable");
        assert!(err.to_string().contains("writable by others"), "{err}");

        // A data directory must be a real one directly inside the cluster directory.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        check_own_data_dir(tmp.path(), &dir, None).expect("own data dir");
        assert!(check_own_data_dir(tmp.path(), &link, None).is_err());
        assert!(check_own_data_dir(&dir, tmp.path(), None).is_err());
    }

    #[test]
    fn the_default_template_cache_is_never_a_shared_temp_dir() {
        // No target dir (the installed binary): the user's own cache directory.
        let dir = template_cache_in(None).expect("a cache location");
        assert!(!dir.starts_with(std::env::temp_dir()), "{}", dir.display());
        assert!(dir.ends_with("pgvitals/initdb"), "{}", dir.display());
        let home = etcetera::home_dir().expect("home");
        if std::env::var_os("XDG_CACHE_HOME").is_none() {
            assert_eq!(dir, home.join(".cache/pgvitals/initdb"));
        }
        let dir = template_cache_in(Some(PathBuf::from("/x/target"))).expect("target");
        let euid = nix::unistd::geteuid();
        assert_eq!(
            dir,
            PathBuf::from(format!("/x/target/pgvitals-initdb-{euid}"))
        );
    }

    #[test]
    fn conf_strings_double_single_quotes() {
        assert_eq!(conf_string("/tmp/a'b"), "'/tmp/a''b'");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let text: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let t = tail(&text);
        assert!(t.starts_with("line 30"), "{t}");
        assert!(t.ends_with("line 49"), "{t}");
    }
}
