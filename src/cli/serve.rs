//! `driftwatch serve`: the scheduler and the web server until SIGTERM/SIGINT.

use std::process::ExitCode;

use driftwatch::config;
use driftwatch::fleet;
use driftwatch::schedule::{self, Service};
use driftwatch::store::Store;

use super::{ConfigArg, exit_runtime, exit_usage, report_diagnostics};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
}

/// Exit codes: 0 after a graceful shutdown, 2 for a bad config or policy, 3 when the
/// store cannot open or the listener cannot bind, 130 on a second signal.
pub async fn run(args: ServeArgs) -> ExitCode {
    let config = match config::load(&args.config.config) {
        Ok(config) => config,
        Err(diagnostics) => return report_diagnostics("config", &diagnostics),
    };
    // A shard taken from the host name is checked now: a bad one is a config error.
    if let Err(e) = fleet::this_shard(&config.schedule, &fleet::host_name()) {
        eprintln!("error: {}: {e}", config.file.display());
        return exit_usage();
    }
    let policies = match super::load_policies(&config) {
        Ok(policies) => policies,
        Err(code) => return code,
    };
    let store = match Store::open_with_retry(&config.store, &config.store_retry) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_runtime();
        }
    };
    // Credential files and the certificate: a bad one is a config error.
    let guard = match driftwatch::server::Guard::from_settings(&config.server) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_usage();
        }
    };
    let listen = config.server.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {listen} (server.listen): {e}");
            return exit_runtime();
        }
    };
    let shutdown = match schedule::shutdown_signals() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return exit_runtime();
        }
    };
    match schedule::run(Service { config, policies, store, guard }, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "serve failed");
            eprintln!("error: {e}");
            exit_runtime()
        }
    }
}
