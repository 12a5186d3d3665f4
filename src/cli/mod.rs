//! Command-line arguments (clap) and the commands behind them.

mod audit;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use driftwatch::diagnostic::Diagnostics;

/// Drift at or above `--fail-on`.
pub fn exit_drift() -> ExitCode {
    ExitCode::from(1)
}

/// Usage, config or policy error.
pub fn exit_usage() -> ExitCode {
    ExitCode::from(2)
}

/// Runtime failure: the store is unreachable, the runtime cannot start, …
pub fn exit_runtime() -> ExitCode {
    ExitCode::from(3)
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
    Audit(audit::AuditArgs),
    /// Audit on the configured schedules and serve reports, the JSON API and metrics
    /// until SIGTERM/SIGINT.
    Serve(serve::ServeArgs),
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
        Command::Serve(a) => serve::run(a).await,
    }
}

/// Prints every problem of a bad config or policy folder and returns exit code 2.
pub fn report_diagnostics(what: &str, diagnostics: &Diagnostics) -> ExitCode {
    eprintln!("{diagnostics}");
    let n = diagnostics.0.len();
    eprintln!("error: invalid {what} ({n} problem{})", if n == 1 { "" } else { "s" });
    exit_usage()
}
