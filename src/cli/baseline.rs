//! `driftwatch baseline capture`: a policy file from a target's latest stored snapshot.

use std::path::PathBuf;
use std::process::ExitCode;

use driftwatch::baseline;
use driftwatch::config;
use driftwatch::store::Store;

use super::{ConfigArg, exit_runtime, exit_usage, report_diagnostics};

#[derive(Debug, clap::Subcommand)]
pub enum BaselineCommand {
    /// Write a policy of `equals` rules from the target's latest snapshot in the store.
    Capture {
        /// The target, as named in the config.
        #[arg(long)]
        target: String,
        #[command(flatten)]
        config: ConfigArg,
        /// Where to write the policy; stdout when left out.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(command: BaselineCommand) -> ExitCode {
    let BaselineCommand::Capture { target, config, out } = command;
    let config = match config::load(&config.config) {
        Ok(config) => config,
        Err(diagnostics) => return report_diagnostics("config", &diagnostics),
    };
    let store = match Store::open_with_retry(&config.store, &config.store_retry) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_runtime();
        }
    };
    let ids = match store.list_runs().await {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_runtime();
        }
    };
    for id in ids.iter().rev() {
        let run = match store.get_run(id).await {
            Ok(run) => run,
            Err(e) => {
                eprintln!("error: {e}");
                return exit_runtime();
            }
        };
        let Some((digest, at)) =
            run.target(&target).and_then(|t| Some((t.snapshot.clone()?, t.collected_at)))
        else {
            continue;
        };
        let snapshot = match store.get_snapshot(&target, &digest).await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                eprintln!("error: {e}");
                return exit_runtime();
            }
        };
        let text = baseline::capture(&snapshot, &digest, at);
        return match out {
            None => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Some(path) => match std::fs::write(&path, text) {
                Ok(()) => {
                    eprintln!("wrote {} (captured from run {})", path.display(), run.run_id.0);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    exit_runtime()
                }
            },
        };
    }
    eprintln!(
        "error: the store holds no snapshot of target `{target}`: run `driftwatch audit` first"
    );
    exit_usage()
}
