//! `gc` and `index`: keeping the history tidy.

use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;

use super::{ConfigArg, exit_runtime, exit_usage, open_history};

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Delete runs older than this (`90d`, `12h`); defaults to `[retention] max_age`.
    #[arg(long)]
    older_than: Option<String>,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Rebuild the per-target change index from the run manifests.
    Rebuild {
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub async fn gc(args: GcArgs) -> ExitCode {
    let (config, store) = match open_history(&args.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let age = match (&args.older_than, config.retention.max_age) {
        (Some(text), _) => match driftwatch::when::age(text) {
            Some(age) => age,
            None => {
                eprintln!("error: `{text}` is not an age: write e.g. 90d, 12h, 30min");
                return exit_usage();
            }
        },
        (None, Some(age)) => chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX),
        (None, None) => {
            eprintln!("error: give --older-than or set [retention] max_age in the config");
            return exit_usage();
        }
    };
    let now = Utc::now();
    let grace = chrono::Duration::from_std(config.retention.snapshot_grace)
        .unwrap_or(chrono::Duration::MAX);
    // Read before anything is removed: the reports are published again after a gc,
    // and a broken policy folder must stop the gc, not the publish after it.
    let expected = if args.dry_run {
        driftwatch::diff::ExpectedDifferences::default()
    } else {
        match super::expected_differences(&config) {
            Ok(expected) => expected,
            Err(code) => return code,
        }
    };
    let signer = match config.integrity.signer() {
        Ok(signer) => signer,
        Err(e) => {
            eprintln!("error: [integrity] signing key: {e}");
            return exit_runtime();
        }
    };
    match store.gc(now - age, grace, now, args.dry_run, signer.as_ref()).await {
        Ok(report) => {
            let verb = if args.dry_run { "would delete" } else { "deleted" };
            println!(
                "{verb} {} runs, {} report pages, {} index entries, {} export objects, {} snapshots, {} findings objects, {} policy files, {} leases; kept {} runs",
                report.runs,
                report.report_pages,
                report.index_entries,
                report.exports,
                report.snapshots,
                report.findings,
                report.policy_files,
                report.leases,
                report.runs_kept
            );
            tracing::info!(
                dry_run = args.dry_run,
                runs = report.runs,
                snapshots = report.snapshots,
                "gc finished"
            );
            if args.dry_run || report.runs == 0 {
                return ExitCode::SUCCESS;
            }
            // The remaining pages may link to the run pages just removed.
            let public_key = signer.map(|s| s.public());
            match driftwatch::audit::republish(&store, &expected, public_key.as_ref()).await {
                Ok(Some(run)) => {
                    println!("published the reports of run {run} again");
                    ExitCode::SUCCESS
                }
                Ok(None) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: publishing the reports again after gc: {e}");
                    exit_runtime()
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_runtime()
        }
    }
}

pub async fn index(command: IndexCommand) -> ExitCode {
    let IndexCommand::Rebuild { config } = command;
    let (_, store) = match open_history(&config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    match store.rebuild_index().await {
        Ok((runs, written)) => {
            println!("read {runs} runs, wrote {written} missing index entries");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_runtime()
        }
    }
}
