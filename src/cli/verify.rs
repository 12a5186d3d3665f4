//! `driftwatch verify`: checks that the history was neither changed nor removed since
//! it was committed, against the hash chain (and its signatures with `--public-key`).

use std::path::PathBuf;
use std::process::ExitCode;

use driftwatch::integrity::PublicKey;

use super::history::Output;
use super::{ConfigArg, exit_drift, exit_runtime, exit_usage, open_history};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only runs started (and links written) since this time: `2026-11-25`, `7d`.
    #[arg(long)]
    since: Option<String>,
    /// The Ed25519 public key (PEM) every link must be signed by.
    #[arg(long)]
    public_key: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Exit 0 when the history is whole, 1 with every break listed (the first is the first
/// break), 2 for bad arguments, 3 when the store cannot be read.
pub async fn verify(args: VerifyArgs) -> ExitCode {
    let since = match args.since.as_deref().map(|s| driftwatch::when::parse(s, chrono::Utc::now()))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            eprintln!("error: --since: {e}");
            return exit_usage();
        }
    };
    let key = match args.public_key.as_deref().map(PublicKey::from_pem_file) {
        None => None,
        Some(Ok(key)) => Some(key),
        Some(Err(e)) => {
            eprintln!("error: --public-key: {e}");
            return exit_usage();
        }
    };
    let (_, store) = match open_history(&args.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let v = match store.verify(since, key.as_ref()).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_runtime();
        }
    };
    match args.output {
        Output::Json => {
            let json = serde_json::json!({
                "whole": v.is_whole(),
                "links": v.links,
                "runs": v.runs,
                "objects": v.objects,
                "signed_links": v.signed_links,
                "keys": v.keys,
                "public_key": key.as_ref().map(PublicKey::id),
                "breaks": v.breaks,
                "notes": v.notes,
            });
            println!("{json:#}");
        }
        Output::Text => {
            let signed = match (&key, v.signed_links) {
                (Some(key), _) => format!(", signatures checked against key {}", key.id()),
                (None, 0) => ", unsigned".to_owned(),
                (None, n) => format!(
                    ", {n} signed by {} (signatures not checked: pass --public-key)",
                    v.keys.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            println!(
                "checked {} links, {} runs and {} objects{signed}",
                v.links, v.runs, v.objects
            );
            for note in &v.notes {
                println!("note: {note}");
            }
            if let Some(first) = v.breaks.first() {
                println!("BROKEN: first break: {}: {}", first.object, first.problem);
                for b in &v.breaks[1..] {
                    println!("  also: {}: {}", b.object, b.problem);
                }
            } else {
                println!("whole: nothing was changed or removed since it was committed");
            }
        }
    }
    if v.is_whole() { ExitCode::SUCCESS } else { exit_drift() }
}
