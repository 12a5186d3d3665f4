//! Command-line arguments (clap) and the commands behind them.

mod audit;
pub use audit::LogWriter;
mod auth;
mod baseline;
mod check;
mod fleet;
mod history;
mod maintenance;
mod policy;
mod serve;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use driftwatch::config::{self, Config};
use driftwatch::diagnostic::Diagnostics;
use driftwatch::store::Store;

/// Drift at or above `--fail-on`.
pub fn exit_drift() -> ExitCode {
    ExitCode::from(1)
}

/// Usage, config or policy error.
pub fn exit_usage() -> ExitCode {
    ExitCode::from(2)
}

/// Runtime failure: the store is unreachable, the runtime cannot start, …; for
/// `audit`: the run was not committed.
pub fn exit_runtime() -> ExitCode {
    ExitCode::from(3)
}

/// `audit`: the run was committed, but some of its report pages could not be written
/// (the next run writes them). Retrying would audit again: don't.
pub fn exit_unpublished() -> ExitCode {
    ExitCode::from(4)
}

/// Audits the live configuration of databases and caches against versioned policy
/// baselines, keeps the history in object storage and publishes HTML drift reports.
#[derive(Debug, Parser)]
#[command(name = "driftwatch", version, about)]
pub struct Args {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit every configured target once, store the run and write the reports.
    #[command(
        after_help = "Example:\n  driftwatch audit --config deploy/examples/driftwatch.toml --output json --fail-on high"
    )]
    Audit(audit::AuditArgs),
    /// Every change of one target's configuration, newest first.
    #[command(
        after_help = "Example:\n  driftwatch history --target orders-primary --key max_connections --since 6h"
    )]
    History(history::HistoryArgs),
    /// Compare two snapshots: `target`, `target@<run-id>` or `target@<time>`.
    #[command(
        after_help = "Example:\n  driftwatch diff orders-primary@2h orders-primary   |   driftwatch diff orders-primary orders-replica"
    )]
    Diff(history::DiffArgs),
    /// Print the statements that restore a target's settings (never runs them).
    #[command(
        after_help = "Example:\n  driftwatch rollback --target orders-primary --to last-pass"
    )]
    Rollback(history::RollbackArgs),
    /// Delete runs and reports older than the retention age, then unreferenced snapshots.
    #[command(after_help = "Example:\n  driftwatch gc --older-than 90d --dry-run")]
    Gc(maintenance::GcArgs),
    /// Every change across the fleet in a time window (from the store's export).
    #[command(
        after_help = "Example:\n  driftwatch changes --since 7d --key max_connections --label env=production"
    )]
    Changes(fleet::ChangesArgs),
    /// Failing (or waived, erroring) findings across the fleet in a time window.
    #[command(
        after_help = "Example:\n  driftwatch findings --since 3d --rule PG-REPL-010 --status fail"
    )]
    Findings(fleet::FindingsArgs),
    /// Check the history against its hash chain: nothing changed, removed or added.
    #[command(
        after_help = "Example:\n  driftwatch verify --since 30d --public-key chain-public.pem"
    )]
    Verify(verify::VerifyArgs),
    /// Maintain the change index.
    #[command(subcommand)]
    Index(maintenance::IndexCommand),
    /// Check configuration files against the baselines, before deployment.
    #[command(
        after_help = "Example:\n  driftwatch check --kind postgres --file postgresql.conf --file postgresql.auto.conf --role replica"
    )]
    Check(check::CheckArgs),
    /// Policy tools.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Baseline tools.
    #[command(subcommand)]
    Baseline(baseline::BaselineCommand),
    /// Audit on the configured schedules and serve reports, the JSON API and metrics
    /// until SIGTERM/SIGINT.
    #[command(
        after_help = "Example:\n  driftwatch serve --config /etc/driftwatch/driftwatch.toml --log-format json"
    )]
    Serve(serve::ServeArgs),
    /// Credentials for `serve` ([server.auth]): bearer tokens and users' password hashes.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
}

/// Where the config comes from: `--config`, else `$DRIFTWATCH_CONFIG`, else
/// `./driftwatch.toml`.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, env = "DRIFTWATCH_CONFIG", default_value = "driftwatch.toml")]
    pub config: PathBuf,
}

pub async fn dispatch(args: Args, show_progress: bool) -> ExitCode {
    match args.command {
        Command::Audit(a) => audit::run(a, show_progress).await,
        Command::History(a) => history::history(a).await,
        Command::Diff(a) => history::diff(a).await,
        Command::Rollback(a) => history::rollback(a).await,
        Command::Gc(a) => maintenance::gc(a).await,
        Command::Index(c) => maintenance::index(c).await,
        Command::Verify(a) => verify::verify(a).await,
        Command::Changes(a) => fleet::changes(a).await,
        Command::Findings(a) => fleet::findings(a).await,
        Command::Check(a) => check::run(a),
        Command::Policy(c) => policy::run(c),
        Command::Baseline(c) => baseline::run(c).await,
        Command::Serve(a) => serve::run(a).await,
        Command::Auth(c) => auth::run(c),
    }
}

/// The config and its store, for commands that only read (or prune) the history.
pub fn open_history(arg: &ConfigArg) -> Result<(Config, Store), ExitCode> {
    let config = config::load(&arg.config).map_err(|d| report_diagnostics("config", &d))?;
    let store = Store::open_with_retry(&config.store, &config.store_retry).map_err(|e| {
        eprintln!("error: {e}");
        exit_runtime()
    })?;
    Ok((config, store))
}

/// The policies of `config`: every file under `[policies] dir` loaded and checked, then
/// the packs `[policies] packs` names selected. A problem in any file, or a pack no file
/// declares, is exit 2 with the place.
pub fn load_policies(config: &Config) -> Result<driftwatch::policy::PolicySet, ExitCode> {
    let all = driftwatch::policy_files::read(&config.policies_dir)
        .and_then(driftwatch::policy::parse)
        .map_err(|d| report_diagnostics("policies", &d))?;
    select_packs(&all, &config.policy_packs, &config.file)
}

/// What the policy files under `[policies] dir` expect to differ between targets
/// (every file, whichever packs run). A problem in any file is exit 2 with the place,
/// as for every command that reads policies.
pub fn expected_differences(
    config: &Config,
) -> Result<driftwatch::diff::ExpectedDifferences, ExitCode> {
    driftwatch::policy_files::read(&config.policies_dir)
        .and_then(driftwatch::policy::parse)
        .map(|set| set.expected_differences().clone())
        .map_err(|d| report_diagnostics("policies", &d))
}

/// `set` narrowed to `packs`; an unknown pack is a diagnostic at `file` where the
/// selection was written.
pub fn select_packs(
    set: &driftwatch::policy::PolicySet,
    packs: &config::PackSelection,
    file: &std::path::Path,
) -> Result<driftwatch::policy::PolicySet, ExitCode> {
    use config::PackOrigin;
    // The default names packs of the shipped baselines: a folder of one's own that
    // lacks some (or declares none) runs what it has.
    let names: Vec<String> = match packs.origin {
        PackOrigin::Default => {
            let declared = set.packs();
            packs.names.iter().filter(|n| declared.contains(&n.as_str())).cloned().collect()
        }
        _ => packs.names.clone(),
    };
    set.select(&names).map_err(|e| {
        let (line, column, message) = match packs.origin {
            PackOrigin::Config { line, column } => (line, column, format!("policies.packs: {e}")),
            PackOrigin::Default => {
                (1, 1, format!("the default policy packs: {e}; choose some with [policies] packs"))
            }
            PackOrigin::CommandLine => {
                eprintln!("error: --pack: {e}");
                return exit_usage();
            }
        };
        let d = driftwatch::diagnostic::Diagnostic { file: file.to_owned(), line, column, message };
        report_diagnostics("config", &Diagnostics(vec![d]))
    })
}

/// `--fail-on` values.
pub fn parse_severity(s: &str) -> Result<driftwatch::finding::Severity, String> {
    driftwatch::finding::Severity::parse(s)
        .ok_or_else(|| format!("`{s}` is not a severity: critical, high, medium, low or info"))
}

/// Prints every problem of a bad config or policy folder and returns exit code 2.
pub fn report_diagnostics(what: &str, diagnostics: &Diagnostics) -> ExitCode {
    eprintln!("{diagnostics}");
    let n = diagnostics.0.len();
    eprintln!("error: invalid {what} ({n} problem{})", if n == 1 { "" } else { "s" });
    exit_usage()
}
