//! `driftwatch audit`: one run, results on stdout, progress on stderr.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

use driftwatch::audit::{self, Progress, Trigger};
use driftwatch::config;
use driftwatch::finding::{FindingStatus, Severity};
use driftwatch::run::{Run, TargetRun, TargetStatus};
use driftwatch::store::Store;
use driftwatch::store::StoreLocation;

use super::{ConfigArg, exit_drift, exit_runtime, exit_unpublished, report_diagnostics};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// How to print the result on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Exit 1 when a failing finding is at or above this severity, or a target could
    /// not be audited (info, low, medium, high, critical). Without it, findings never
    /// change the exit code.
    #[arg(long, value_parser = parse_severity)]
    fail_on: Option<Severity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("`{s}` is not a severity: critical, high, medium, low or info"))
}

pub async fn run(args: AuditArgs, show_progress: bool) -> ExitCode {
    let config = match config::load(&args.config.config) {
        Ok(config) => config,
        Err(diagnostics) => return report_diagnostics("config", &diagnostics),
    };
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

    let bar = Bar::new(show_progress);
    let audit::Committed { run, unpublished } =
        match audit::run(&config, &policies, &store, Trigger::Manual, &bar).await {
            Ok(committed) => committed,
            Err(e) => {
                bar.finish();
                tracing::error!(error = %e, "run failed");
                eprintln!("error: run failed: {e} (nothing was committed)");
                return exit_runtime();
            }
        };
    bar.finish();

    match args.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(&run).expect("a run serializes"))
        }
        Output::Text => {
            let before = failing_before(&store, &run).await;
            print!("{}", text(&run, &config.store, before.as_ref()))
        }
    }
    if let Some(e) = &unpublished {
        eprintln!(
            "error: run {} committed, reports incomplete: {e}; the next run publishes what is \
             missing",
            run.run_id
        );
    }
    exit_code(&run, args.fail_on, unpublished.is_some())
}

/// `1` for drift at or above `--fail-on` (the verdict comes first), else `4` when the
/// reports are incomplete, else `0`. All three mean the run was committed.
fn exit_code(run: &Run, fail_on: Option<Severity>, unpublished: bool) -> ExitCode {
    let failing = fail_on.is_some_and(|threshold| {
        run.targets
            .iter()
            .any(|t| t.status != TargetStatus::Ok || t.failing_at_least(threshold) > 0)
    });
    match (failing, unpublished) {
        (true, _) => exit_drift(),
        (false, true) => exit_unpublished(),
        (false, false) => ExitCode::SUCCESS,
    }
}

/// What failed in the previous run, per target (rule, key), for the NEW markers;
/// `None` on a first run or when it cannot be read (then nothing is marked).
async fn failing_before(
    store: &driftwatch::store::Store,
    run: &Run,
) -> Option<std::collections::HashMap<String, std::collections::HashSet<(String, String)>>> {
    let previous = store.get_run(run.previous_run.as_ref()?).await.ok()?;
    Some(
        previous
            .targets
            .iter()
            .map(|t| {
                let failing = t
                    .findings
                    .iter()
                    .filter(|f| f.status == FindingStatus::Fail)
                    .map(|f| (f.rule.clone(), f.key.clone()))
                    .collect();
                (t.name.clone(), failing)
            })
            .collect(),
    )
}

/// The human summary, per target in the reports' order: what changed, what fails (new
/// failures first, marked NEW), and what the next restart would break.
fn text(
    run: &Run,
    store: &StoreLocation,
    before: Option<&std::collections::HashMap<String, std::collections::HashSet<(String, String)>>>,
) -> String {
    let mut out = String::new();
    let s = &run.summary;
    let _ = writeln!(
        out,
        "run {}: {} failing on {} of {} targets, {} changes",
        run.run_id,
        s.failing(),
        run.targets.iter().filter(|t| t.failing_at_least(Severity::Info) > 0).count(),
        s.targets,
        s.changes
    );
    for p in &run.policy_bundle.policies {
        let _ = writeln!(out, "  baseline {} v{} ({})", p.name, p.version, &p.sha256[..12]);
    }
    out.push('\n');
    for t in &run.targets {
        // A target the previous run did not have: nothing to call new.
        let was = before.and_then(|b| b.get(&t.name));
        target_text(&mut out, t, was);
    }
    if let StoreLocation::Local(dir) = store {
        let index = dir.join("reports/index.html");
        let index = std::fs::canonicalize(&index).unwrap_or(index);
        let _ = writeln!(out, "report: {}", index.display());
    }
    out
}

fn target_text(
    out: &mut String,
    t: &TargetRun,
    was_failing: Option<&std::collections::HashSet<(String, String)>>,
) {
    let role = match t.detected_role {
        Some(detected) if detected != t.role => format!("{} (declared {})", detected, t.role),
        _ => t.role.to_string(),
    };
    match t.status {
        TargetStatus::Ok => {
            let failing = t.findings.iter().filter(|f| f.status == FindingStatus::Fail).count();
            let passing = t.findings.iter().filter(|f| f.status == FindingStatus::Pass).count();
            let _ = writeln!(
                out,
                "{}  {} {} {}  {} failing, {} passing, {} changes",
                t.name,
                t.kind,
                t.server_version.as_deref().unwrap_or("?"),
                role,
                failing,
                passing,
                t.changes.len()
            );
        }
        status => {
            let _ = writeln!(
                out,
                "{}  {} {}  {}: {}",
                t.name,
                t.kind,
                role,
                status.as_str().to_uppercase(),
                t.error.as_deref().unwrap_or("")
            );
        }
    }
    for c in &t.changes {
        let _ = writeln!(
            out,
            "  ~ {}: {} => {}",
            c.key,
            c.before.as_deref().unwrap_or("(absent)"),
            c.after.as_deref().unwrap_or("(absent)")
        );
    }
    let is_new = |f: &&driftwatch::finding::Finding| {
        was_failing.is_some_and(|was| !was.contains(&(f.rule.clone(), f.key.clone())))
    };
    let failing: Vec<&driftwatch::finding::Finding> =
        t.findings.iter().filter(|f| f.status == FindingStatus::Fail).collect();
    let (new, old): (Vec<_>, Vec<_>) = failing.into_iter().partition(is_new);
    for (f, mark) in new.iter().map(|f| (f, "NEW ")).chain(old.iter().map(|f| (f, ""))) {
        let _ = writeln!(
            out,
            "  {mark}FAIL {:<8} {} {}: {} (expected {})",
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.key,
            f.actual.as_deref().unwrap_or("absent"),
            f.expected
        );
    }
    for f in t.preflight.iter().filter(|f| f.status != FindingStatus::Pass) {
        let _ = writeln!(
            out,
            "  ON RESTART{} {} {:<8} {} {}: {}",
            f.restarting.as_deref().map(|r| format!(" of {r}")).unwrap_or_default(),
            f.status.as_str().to_uppercase(),
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.key,
            f.message
        );
    }
}

/// A progress bar on a terminal; nothing otherwise (logs say the same).
struct Bar(Option<ProgressBar>);

/// The bar on screen, if any: log lines are written around it ([`LogWriter`]).
static ON_SCREEN: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

impl Bar {
    fn new(show: bool) -> Bar {
        Bar(show.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} auditing [{bar:30}] {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            *ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
            bar
        }))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
            *ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

/// Where log lines go: stderr, with the progress bar (when one is on screen) taken
/// off while a line is written and drawn again below it, so a warning never lands on
/// the bar's line.
#[derive(Default)]
pub struct LogWriter(Vec<u8>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        use std::io::Write as _;
        let line = std::mem::take(&mut self.0);
        let bar = ON_SCREEN.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let write = || {
            let _ = std::io::stderr().lock().write_all(&line);
        };
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Progress for Bar {
    fn started(&self, targets: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(targets as u64);
        }
    }

    fn target_done(&self, result: &TargetRun) {
        if let Some(bar) = &self.0 {
            bar.set_message(result.name.clone());
            bar.inc(1);
        }
    }
}
