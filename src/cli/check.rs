//! `driftwatch check`: configuration files judged by the baselines, before deployment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use driftwatch::check::{self, Subject, output};
use driftwatch::collect::conffile::{self, RealFiles};
use driftwatch::config;
use driftwatch::finding::Severity;
use driftwatch::policy;
use driftwatch::snapshot::{Kind, Role};

use super::{exit_drift, parse_severity, report_diagnostics};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The engine the file configures.
    #[arg(long, value_parser = parse_kind)]
    kind: Kind,
    /// The configuration file. Repeat it for files read in order, later ones overriding
    /// earlier ones (postgresql.conf, then postgresql.auto.conf).
    #[arg(long = "file", required = true)]
    files: Vec<PathBuf>,
    /// The role the server will have; rules for other roles are not applicable.
    #[arg(long, value_parser = parse_role, default_value = "primary")]
    role: Role,
    /// The policy folder. Default: `[policies] dir` of `--config` if given, else
    /// `./policies`.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// A driftwatch.toml to take the policy folder and packs from.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A policy pack to run (repeatable). Default: `[policies] packs` of `--config` if
    /// given, else the default packs (replication, connections).
    #[arg(long = "pack")]
    packs: Vec<String>,
    /// The target name waivers are matched against. Default: the file's name.
    #[arg(long)]
    target: Option<String>,
    /// A target label for overlays and `applies_to.labels` (repeatable): `env=staging`.
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Exit 1 when a failing (not waived) finding is at or above this severity: info,
    /// low, medium, high, critical.
    #[arg(long, value_parser = parse_severity, default_value = "low")]
    fail_on: Severity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
    Junit,
    Sarif,
}

pub fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
        format!("`{s}` is not a kind: postgres, mysql, redis, memcached or pgbouncer")
    })
}

fn parse_role(s: &str) -> Result<Role, String> {
    [Role::Primary, Role::Replica, Role::Standalone]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("`{s}` is not a role: primary, replica or standalone"))
}

pub fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not a label: write key=value"))
}

pub fn run(args: CheckArgs) -> ExitCode {
    let loaded = match &args.config {
        Some(path) => match config::load(path) {
            Ok(config) => Some(config),
            Err(diagnostics) => return report_diagnostics("config", &diagnostics),
        },
        None => None,
    };
    let dir = match (&args.policies, &loaded) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => config.policies_dir.clone(),
        (None, None) => PathBuf::from("policies"),
    };
    let all = match driftwatch::policy_files::read(&dir).and_then(policy::parse) {
        Ok(policies) => policies,
        Err(diagnostics) => return report_diagnostics("policies", &diagnostics),
    };
    let (packs, file) = match (&loaded, args.packs.is_empty()) {
        (Some(config), true) => (config.policy_packs.clone(), config.file.clone()),
        _ if args.packs.is_empty() => (config::PackSelection::default(), dir.clone()),
        _ => (
            config::PackSelection {
                names: args.packs.clone(),
                origin: config::PackOrigin::CommandLine,
            },
            dir.clone(),
        ),
    };
    let policies = match super::select_packs(&all, &packs, &file) {
        Ok(policies) => policies,
        Err(code) => return code,
    };
    // The files are read as the engine reads them, together (later ones override earlier
    // ones): a file it would refuse is every problem it has, at its line.
    let read = match conffile::read(args.kind, &args.files, &RealFiles) {
        Ok(read) => read,
        Err(diagnostics) => {
            return report_diagnostics(&format!("{} configuration", args.kind), &diagnostics);
        }
    };
    let mut snapshot = conffile::into_snapshot(args.kind, &args.files[0], args.role, read.config);
    // A file holds secrets in clear (`requirepass`, `primary_conninfo`): findings and every
    // output format show values, so they go through the same redaction as an audit.
    driftwatch::redact::snapshot(&mut snapshot);
    let target = args.target.clone().unwrap_or_else(|| {
        args.files[0]
            .file_name()
            .map_or_else(|| snapshot.target.clone(), |n| n.to_string_lossy().into_owned())
    });
    snapshot.target = target.clone();
    let labels: BTreeMap<String, String> = args.labels.iter().cloned().collect();
    let subject = Subject {
        files: &args.files,
        target: &target,
        role: args.role,
        labels: &labels,
        adjusted: &read.adjusted,
    };
    let today = chrono::Utc::now().date_naive();
    let report = check::check(&policies, &snapshot, &subject, today);
    let text = match args.output {
        Output::Text => output::text(&report),
        Output::Json => output::json(&report) + "\n",
        Output::Junit => output::junit(&report),
        Output::Sarif => output::sarif(&report) + "\n",
    };
    print!("{text}");
    if report.failing_at_least(args.fail_on) > 0 { exit_drift() } else { ExitCode::SUCCESS }
}
