//! The `pgvitals` command line: the dashboard (default), `snapshot` and `demo`.
//!
//! Exit status (Nagios convention, so `snapshot` can serve as a check): 0 ok, 1 a warning
//! alert, 2 a critical alert, 3 unknown (could not collect, bad arguments, bad config).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
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
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Sample every area (the areas with rates twice, --interval apart) and print them as JSON
    /// (one object per server, an array for several); the exit status is the worst alert's.
    Snapshot(WatchArgs),
    /// Start a throwaway local primary and standby with a demo workload and watch them;
    /// everything is removed on quit.
    Demo(DemoArgs),
}

#[derive(Args, Debug, Clone)]
struct WatchArgs {
    /// Servers to watch (URI or keyword/value connection strings).
    #[arg(value_name = "CONNINFO")]
    conninfo: Vec<String>,
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
    /// Allow cancelling / terminating backends (c / k), each after a confirmation.
    #[arg(long)]
    enable_actions: bool,
    /// Append a log (connections, errors, actions with the query texts acted on) to this
    /// file, created mode 0600; a symbolic link or a non-regular file is refused.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct DemoArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Stop the demo workload after this long (the dashboard stays); at most 1 week
    /// [default: 30m].
    #[arg(long, value_parser = parse_workload_for, default_value = "30m")]
    workload_for: Duration,
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
    match cli.command {
        None => runtime.block_on(dashboard(cli.watch)),
        Some(Sub::Snapshot(args)) => runtime.block_on(snapshot_cmd(args)),
        Some(Sub::Demo(args)) => runtime.block_on(demo(args)),
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

fn parse_specs(args: &[String]) -> anyhow::Result<Vec<ConnSpec>> {
    let specs = if args.is_empty() {
        vec![ConnSpec::from_env()?]
    } else {
        args.iter()
            .map(|a| ConnSpec::parse(a))
            .collect::<Result<Vec<_>, _>>()?
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

fn ui_options(common: &CommonArgs) -> pgvitals::tui::UiOptions {
    pgvitals::tui::UiOptions {
        actions_enabled: common.enable_actions,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

async fn dashboard(args: WatchArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let specs = parse_specs(&args.conninfo)?;
    let _log = init_log(args.common.log.as_ref())?;
    let running = start_workers(&specs, &config).map_err(anyhow::Error::msg)?;
    pgvitals::tui::run(
        running.store,
        running.updates,
        running.commands,
        running.interval,
        ui_options(&args.common),
    )
    .await?;
    Ok(0)
}

async fn snapshot_cmd(args: WatchArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.common)?;
    let specs = parse_specs(&args.conninfo)?;
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
    let config = load_config(&args.common)?;
    let _log = init_log(args.common.log.as_ref())?;
    eprintln!("pgvitals demo: starting a throwaway PostgreSQL primary and standby...");
    let demo = pgvitals::demo::Demo::start(args.workload_for)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let specs = demo
        .conninfos()
        .iter()
        .map(|c| ConnSpec::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let running = start_workers(&specs, &config).map_err(anyhow::Error::msg)?;
    let result = pgvitals::tui::run(
        running.store,
        running.updates,
        running.commands,
        running.interval,
        ui_options(&args.common),
    )
    .await;
    demo.stop().await;
    result?;
    Ok(0)
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
