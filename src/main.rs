//! The `driftwatch` command: parses arguments, sets up logging, calls the library and
//! turns outcomes into exit codes. No logic of its own.

#[cfg(not(feature = "system-allocator"))]
mod allocator;
mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let show_progress = std::io::stderr().is_terminal()
        && args.log_format == cli::LogFormat::Text
        && matches!(args.command, cli::Command::Audit(_));
    init_logging(args.log_format, show_progress);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return cli::exit_runtime();
        }
    };
    let code = runtime.block_on(cli::dispatch(args, show_progress));
    // A blocking read the collection stopped waiting for (a file on a hung mount) must
    // not hold the exit: dropping the runtime would wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Logs go to stderr; `RUST_LOG` picks what. With a progress bar on a terminal the
/// default is warnings only, so the bar stays readable.
fn init_logging(format: cli::LogFormat, quiet_default: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet_default { "warn" } else { "info,tokio_cron_scheduler=warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(cli::LogWriter::default);
    match format {
        // Without the module path: events carry their own `target` field (the audited
        // server), which must not appear twice in one JSON object.
        cli::LogFormat::Json => builder.json().flatten_event(true).with_target(false).init(),
        cli::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
