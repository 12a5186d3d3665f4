//! `history`, `diff` and `rollback`: questions about the stored history.

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::Utc;
use clap::ValueEnum;
use serde::Serialize;

use driftwatch::diff::{self, Change};
use driftwatch::queries::{self, AtPoint, HistoryError, Point};
use driftwatch::rollback;

use super::{ConfigArg, exit_runtime, exit_usage, open_history};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The target whose changes to list.
    #[arg(long)]
    target: String,
    /// Only this setting: a name (`max_connections`: its live value and the value
    /// awaiting a restart, `setting.` and `pending.`) or a full key (`setting.wal_level`).
    #[arg(long)]
    key: Option<String>,
    /// Only changes since this time: `2026-11-25T16:00:00Z`, `2026-11-25 16:00`, or an
    /// age like `1h`, `3d`.
    #[arg(long)]
    since: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// `target`, `target@<run-id>` or `target@<time>`.
    a: String,
    /// `target`, `target@<run-id>` or `target@<time>`.
    b: String,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[arg(long)]
    target: String,
    /// `last-pass` (the last run with no failing rule), `last-good` (per failing rule,
    /// the newest run in which it passed), a run id, or a time.
    #[arg(long)]
    to: String,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

fn fail(e: HistoryError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        HistoryError::Store(_) => exit_runtime(),
        HistoryError::NotFound(_) | HistoryError::Usage(_) => exit_usage(),
    }
}

pub async fn history(args: HistoryArgs) -> ExitCode {
    let (config, store) = match open_history(&args.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    if let Err(e) = queries::known_target(&config, &store, &args.target).await {
        return fail(e);
    }
    let since = match args.since.as_deref().map(|s| driftwatch::when::parse(s, Utc::now())) {
        Some(Err(e)) => return fail(HistoryError::Usage(e)),
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let rows = match queries::changes(&store, &args.target, args.key.as_deref(), since).await {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    match args.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialize"))
        }
        Output::Text => {
            if rows.is_empty() {
                println!("no changes of {} in the stored history", args.target);
            }
            for r in &rows {
                println!(
                    "{}  {}  {}: {} => {}{}",
                    r.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    r.run_id,
                    r.key,
                    r.before.as_deref().unwrap_or("(absent)"),
                    r.after.as_deref().unwrap_or("(absent)"),
                    r.location.as_deref().map(|l| format!("  ({l})")).unwrap_or_default()
                );
            }
        }
    }
    ExitCode::SUCCESS
}

#[derive(Serialize)]
struct DiffOutput<'a> {
    a: Side<'a>,
    b: Side<'a>,
    /// Differences nobody declared expected: the drift.
    differences: Vec<&'a Change>,
    /// Differences a policy's `[[expected_difference]]` accounts for, with its reason.
    expected: Vec<ExpectedChange<'a>>,
}

#[derive(Serialize)]
struct Side<'a> {
    target: &'a str,
    run_id: &'a str,
    snapshot: &'a str,
}

#[derive(Serialize)]
struct ExpectedChange<'a> {
    #[serde(flatten)]
    change: &'a Change,
    reason: &'a str,
}

pub async fn diff(args: DiffArgs) -> ExitCode {
    let (config, store) = match open_history(&args.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let now = Utc::now();
    let points = Point::parse(&args.a, now).and_then(|a| Ok((a, Point::parse(&args.b, now)?)));
    let (pa, pb) = match points {
        Ok(points) => points,
        Err(e) => return fail(e),
    };
    for p in [&pa, &pb] {
        if let Err(e) = queries::known_target(&config, &store, p.target()).await {
            return fail(e);
        }
    }
    // Expected differences come from every file, whichever packs the audits ran; a
    // target compared with itself has none (and needs no policy folder). Read before
    // the history, so a broken policy file is reported first.
    let table = if pa.target() == pb.target() {
        diff::ExpectedDifferences::default()
    } else {
        match super::expected_differences(&config) {
            Ok(table) => table,
            Err(code) => return code,
        }
    };
    let (a, b) = match (queries::at(&store, &pa).await, queries::at(&store, &pb).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let compared = diff::compare(&a.snapshot, &b.snapshot, &table);
    let differences: Vec<&Change> = compared.differences.iter().collect();
    let expected: Vec<ExpectedChange<'_>> = compared
        .expected
        .iter()
        .map(|(change, reason)| ExpectedChange { change, reason })
        .collect();
    let side = |p: &'_ AtPoint| (p.snapshot.target.clone(), p.run_id.0.clone(), p.digest.0.clone());
    let (sa, sb) = (side(&a), side(&b));
    let out = DiffOutput {
        a: Side { target: &sa.0, run_id: &sa.1, snapshot: &sa.2 },
        b: Side { target: &sb.0, run_id: &sb.1, snapshot: &sb.2 },
        differences,
        expected,
    };
    match args.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&out).expect("diff serializes"))
        }
        Output::Text => print!("{}", diff_text(&out)),
    }
    ExitCode::SUCCESS
}

fn diff_text(out: &DiffOutput<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "--- {}@{} ({})", out.a.target, out.a.run_id, &out.a.snapshot[..12]);
    let _ = writeln!(s, "+++ {}@{} ({})", out.b.target, out.b.run_id, &out.b.snapshot[..12]);
    if out.differences.is_empty() {
        let _ = writeln!(s, "no unexpected differences");
    }
    for c in &out.differences {
        let _ = writeln!(
            s,
            "~ {}: {} => {}",
            c.key,
            c.before.as_deref().unwrap_or("(absent)"),
            c.after.as_deref().unwrap_or("(absent)")
        );
    }
    if !out.expected.is_empty() {
        let _ = writeln!(s, "\nexpected differences:");
        for e in &out.expected {
            let c = e.change;
            let _ = writeln!(
                s,
                "  {}: {} => {}  ({})",
                c.key,
                c.before.as_deref().unwrap_or("(absent)"),
                c.after.as_deref().unwrap_or("(absent)"),
                e.reason
            );
        }
    }
    s
}

pub async fn rollback(args: RollbackArgs) -> ExitCode {
    let (config, store) = match open_history(&args.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    if let Err(e) = queries::known_target(&config, &store, &args.target).await {
        return fail(e);
    }
    if args.to == "last-good" {
        return match queries::last_good(&store, &args.target).await {
            Ok(good) => print_last_good(&args, &good),
            Err(e) => fail(e),
        };
    }
    let now = Utc::now();
    let desired = if args.to == "last-pass" {
        queries::last_pass(&store, &args.target).await
    } else {
        match Point::parse(&format!("{}@{}", args.target, args.to), now) {
            Ok(point) => queries::at(&store, &point).await,
            Err(e) => Err(e),
        }
    };
    let current = queries::at(&store, &Point::Latest(args.target.clone())).await;
    let (desired, current) = match (desired, current) {
        (Ok(d), Ok(c)) => (d, c),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let plan = rollback::plan(&desired.snapshot, &current.snapshot);
    match args.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&plan).expect("plan serializes"))
        }
        Output::Text => {
            let comment = comment_for(&plan);
            println!(
                "{comment} rollback of {} to run {} (now: run {}); review, then run it yourself",
                args.target, desired.run_id, current.run_id
            );
            print_plan(&plan);
        }
    }
    ExitCode::SUCCESS
}

fn comment_for(plan: &rollback::Plan) -> &'static str {
    if plan.kind == driftwatch::snapshot::Kind::Redis { "#" } else { "--" }
}

fn print_plan(plan: &rollback::Plan) {
    let comment = comment_for(plan);
    if plan.steps.is_empty() {
        println!("{comment} nothing to do: the settings are the same");
    }
    if plan.needs_restart() {
        println!("{comment} some settings take effect only after a restart (marked below)");
    }
    print!("{}", plan.script());
}

/// `--to last-good`: the plan, and for each rule failing now the run its values come
/// from (JSON: the plan's fields plus `last_good`).
fn print_last_good(args: &RollbackArgs, good: &queries::LastGood) -> ExitCode {
    let plan = rollback::plan(&good.desired, &good.current.snapshot);
    match args.output {
        Output::Json => {
            let mut doc = serde_json::to_value(&plan).expect("plan serializes");
            doc["last_good"] = serde_json::to_value(&good.picks).expect("picks serialize");
            println!("{}", serde_json::to_string_pretty(&doc).expect("JSON"));
        }
        Output::Text => {
            let comment = comment_for(&plan);
            println!(
                "{comment} rollback of {} to last-good (now: run {}): for each rule failing now, the newest run in which it passed; review, then run it yourself",
                args.target, good.current.run_id
            );
            for p in &good.picks {
                match &p.run_id {
                    Some(run) if p.key.starts_with("state.") => println!(
                        "{comment} {} ({}): passed in run {run}, but its key is a reading, not a setting",
                        p.rule, p.key
                    ),
                    Some(run) => println!("{comment} {} ({}): values of run {run}", p.rule, p.key),
                    None => println!(
                        "{comment} {} ({}): never passed in the stored history; nothing to propose",
                        p.rule, p.key
                    ),
                }
            }
            print_plan(&plan);
        }
    }
    ExitCode::SUCCESS
}
