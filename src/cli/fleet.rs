//! `driftwatch changes` and `driftwatch findings`: fleet-wide questions over a time
//! window ("which servers changed max_connections last week?"), answered from the
//! date-partitioned export in the store, never by reading every target's history.

use std::collections::BTreeMap;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use driftwatch::export::{ChangeRow, FindingRow, Query};
use driftwatch::finding::{FindingStatus, Severity};

use super::check::parse_label;
use super::history::Output;
use super::{ConfigArg, exit_runtime, exit_usage, open_history, parse_severity};

/// What both commands narrow by.
#[derive(Debug, clap::Args)]
pub struct Window {
    #[command(flatten)]
    config: ConfigArg,
    /// From this time on: `2026-11-25T16:00:00Z`, `2026-11-25`, or an age like `7d`.
    #[arg(long)]
    since: String,
    /// Up to this time (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Only this key: `max_connections` matches the live `setting.` value and the
    /// `pending.` one; a key with its namespace matches only itself.
    #[arg(long)]
    key: Option<String>,
    /// Only targets whose name matches (`*` and `?` wildcards): `orders-*`.
    #[arg(long)]
    target: Option<String>,
    /// Only targets with this label (repeatable, all must match): `env=production`.
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, clap::Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    window: Window,
}

#[derive(Debug, clap::Args)]
pub struct FindingsArgs {
    #[command(flatten)]
    window: Window,
    /// Only this rule id: `PG-REPL-010`.
    #[arg(long)]
    rule: Option<String>,
    /// Only these statuses (repeatable): fail (the default), waived, error.
    #[arg(long = "status", value_parser = parse_status)]
    statuses: Vec<FindingStatus>,
    /// Only findings at or above this severity: info, low, medium, high, critical.
    #[arg(long, value_parser = parse_severity)]
    severity: Option<Severity>,
}

fn parse_status(s: &str) -> Result<FindingStatus, String> {
    match s {
        "fail" => Ok(FindingStatus::Fail),
        "waived" => Ok(FindingStatus::Waived),
        "error" => Ok(FindingStatus::Error),
        "pass" | "not_applicable" => Err(format!(
            "`{s}` findings are not kept per run (the export counts them per target: \
             exports/v1/targets); choose fail, waived or error"
        )),
        _ => Err(format!("`{s}` is not a status: fail, waived or error")),
    }
}

impl Window {
    fn query(&self, now: DateTime<Utc>) -> Result<Query, String> {
        let since =
            driftwatch::when::parse(&self.since, now).map_err(|e| format!("--since: {e}"))?;
        let until = self
            .until
            .as_deref()
            .map(|u| driftwatch::when::parse(u, now).map_err(|e| format!("--until: {e}")))
            .transpose()?;
        Ok(Query {
            since: Some(since),
            until,
            key: self.key.clone(),
            target: self.target.clone(),
            labels: self.labels.clone(),
            ..Query::default()
        })
    }
}

pub async fn changes(args: ChangesArgs) -> ExitCode {
    let query = match args.window.query(Utc::now()) {
        Ok(query) => query,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_usage();
        }
    };
    let (_, store) = match open_history(&args.window.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let rows = match store.query_changes(&query).await {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_runtime();
        }
    };
    match args.window.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialize"))
        }
        Output::Text => print!("{}", changes_text(&rows, &args.window.since)),
    }
    ExitCode::SUCCESS
}

pub async fn findings(args: FindingsArgs) -> ExitCode {
    let mut query = match args.window.query(Utc::now()) {
        Ok(query) => query,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_usage();
        }
    };
    query.rule = args.rule.clone();
    query.statuses =
        if args.statuses.is_empty() { vec![FindingStatus::Fail] } else { args.statuses.clone() };
    query.severity_at_least = args.severity;
    let (_, store) = match open_history(&args.window.config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let rows = match store.query_findings(&query).await {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_runtime();
        }
    };
    match args.window.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialize"))
        }
        Output::Text => print!("{}", findings_text(&rows, &args.window.since)),
    }
    ExitCode::SUCCESS
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// One line per change, oldest first, then a count.
fn changes_text(rows: &[ChangeRow], since: &str) -> String {
    if rows.is_empty() {
        return format!("no changes since {since}\n");
    }
    let mut out = String::new();
    for r in rows {
        let value =
            |v: &Option<String>| v.as_deref().map_or("(absent)".to_owned(), |v| v.to_owned());
        let location = r.location.as_deref().map(|l| format!("  ({l})")).unwrap_or_default();
        let pending = if r.pending { "  [at the next restart]" } else { "" };
        out.push_str(&format!(
            "{}  {}  {}  {} → {}{location}{pending}  run {}\n",
            time(r.at.collected_at),
            r.at.target,
            r.key,
            value(&r.before),
            value(&r.after),
            r.at.run_id
        ));
    }
    let targets: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.at.target.as_str()).collect();
    out.push_str(&format!("{} changes on {} targets since {since}\n", rows.len(), targets.len()));
    out
}

/// One line per target and rule: its status, severity, when it was first and last
/// seen in the window and in how many runs.
fn findings_text(rows: &[FindingRow], since: &str) -> String {
    if rows.is_empty() {
        return format!("no such findings since {since}\n");
    }
    let mut seen: BTreeMap<(&str, &str, FindingStatus), (&FindingRow, &FindingRow, usize)> =
        BTreeMap::new();
    for r in rows {
        let e = seen.entry((&r.at.target, &r.rule, r.status)).or_insert((r, r, 0));
        e.1 = r;
        e.2 += 1;
    }
    let mut out = String::new();
    for ((target, rule, status), (first, last, runs)) in &seen {
        out.push_str(&format!(
            "{target}  {rule}  {}  {}  first {}  last {}  in {runs} run{}  now {}\n",
            status.as_str().to_uppercase(),
            first.severity.as_str().to_uppercase(),
            time(first.at.collected_at),
            time(last.at.collected_at),
            if *runs == 1 { "" } else { "s" },
            last.actual.as_deref().unwrap_or("absent"),
        ));
    }
    let targets: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.at.target.as_str()).collect();
    out.push_str(&format!("{} findings on {} targets since {since}\n", rows.len(), targets.len()));
    out
}
