//! `driftwatch check`: a configuration file judged by the same baselines as a live
//! server, before it is deployed. Pure: a policy set, a snapshot parsed from files
//! ([`crate::collect::conffile`]), the declared role and labels in; findings out.
//!
//! The report also lists what was read: every setting of the snapshot with its value,
//! unit, file and line, whether it is the engine's default, and, when the engine would
//! adjust what was written, the value written and the engine's reason.
//!
//! Rules a file cannot answer — keys under `state.` (replication lag, replica lists),
//! `server.version`, and group parity operators that compare servers — are reported
//! `not_applicable` with "needs a live server", never as passing.
//!
//! - [`output`]: text, JSON, JUnit XML and SARIF 2.1.0 renderings of a [`Report`].

pub mod output;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use crate::collect::conffile::Adjusted;
use crate::finding::{Finding, FindingStatus, Severity};
use crate::policy::{self, Expect, PolicySet, Rule, TargetFacts};
use crate::snapshot::{Kind, Role, Snapshot, State};

/// What a check of one configuration produced: also the JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The top-level file (the first `--file`), as given.
    pub file: String,
    /// Every file given, in order (later ones override earlier ones).
    pub files: Vec<String>,
    pub kind: Kind,
    pub role: Role,
    /// The target name waivers are matched against.
    pub target: String,
    pub labels: BTreeMap<String, String>,
    pub findings: Vec<CheckFinding>,
    pub summary: Summary,
    /// Every setting read (the files' over the engine's defaults), sorted by key.
    pub snapshot: Vec<SnapshotSetting>,
}

/// One setting as the engine will run with it, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSetting {
    /// `setting.<name>`.
    pub key: String,
    /// The value the engine will use (redacted when it is a secret).
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The file that set it (or that set what it is derived from); the top-level file
    /// for defaults.
    pub file: String,
    /// Its line; 1 for defaults.
    pub line: u32,
    /// True when the value is the engine's default (no file sets it).
    pub default: bool,
    /// When the engine adjusts what was written (rounds, clamps, ignores, derives):
    /// the text written (empty for a derived value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// The engine's reason for the adjustment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A finding and where the value it judged was written.
#[derive(Debug, Clone, Serialize)]
pub struct CheckFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// The file that set the value; the top-level file for defaults and absent keys.
    pub file: String,
    /// Its line; 1 for defaults and absent keys.
    pub line: u32,
    /// True when the value is the engine's default (the file does not set it).
    pub default: bool,
}

/// Counts by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub rules: usize,
    pub pass: usize,
    pub fail: usize,
    pub waived: usize,
    pub error: usize,
    pub not_applicable: usize,
}

impl Report {
    /// Failing (not waived) findings at or above `severity`.
    pub fn failing_at_least(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.finding.status == FindingStatus::Fail && f.finding.severity >= severity)
            .count()
    }
}

/// The facts of the configuration being checked.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub files: &'a [PathBuf],
    pub target: &'a str,
    pub role: Role,
    pub labels: &'a BTreeMap<String, String>,
    /// `setting.<name>` → what the engine does with the value written.
    pub adjusted: &'a BTreeMap<String, Adjusted>,
}

/// Evaluates every applicable rule against `snapshot` (parsed from `subject.files`).
pub fn check(
    set: &PolicySet,
    snapshot: &Snapshot,
    subject: &Subject<'_>,
    today: chrono::NaiveDate,
) -> Report {
    let facts = TargetFacts {
        name: subject.target,
        kind: snapshot.kind,
        role: subject.role,
        labels: subject.labels,
    };
    let rules: HashMap<&str, &Rule> =
        set.policies().iter().flat_map(|p| &p.rules).map(|r| (r.id.as_str(), r)).collect();
    let top = subject.files.first().map(|f| f.display().to_string()).unwrap_or_default();
    let findings: Vec<CheckFinding> = policy::evaluate(set, &facts, snapshot, &State::new(), today)
        .into_iter()
        .map(|mut finding| {
            if let Some(why) = rules.get(finding.rule.as_str()).and_then(|r| needs_live_server(r))
                && finding.status != FindingStatus::NotApplicable
            {
                finding.status = FindingStatus::NotApplicable;
                finding.message = format!("Not applicable: needs a live server ({why}).");
                finding.actual = None;
                finding.location = None;
                finding.waiver = None;
            }
            let entry = snapshot.get(&finding.key);
            let written = entry.and_then(|e| Some((e.source_file.clone()?, e.source_line?)));
            let (file, line, default) = match written {
                Some((file, line)) => (file, line, false),
                None => (top.clone(), 1, entry.is_some()),
            };
            CheckFinding { finding, file, line, default }
        })
        .collect();
    let mut summary = Summary { rules: findings.len(), ..Summary::default() };
    for f in &findings {
        match f.finding.status {
            FindingStatus::Pass => summary.pass += 1,
            FindingStatus::Fail => summary.fail += 1,
            FindingStatus::Waived => summary.waived += 1,
            FindingStatus::Error => summary.error += 1,
            FindingStatus::NotApplicable => summary.not_applicable += 1,
        }
    }
    let snapshot_settings = settings(snapshot, subject.adjusted, &top);
    Report {
        snapshot: snapshot_settings,
        file: top,
        files: subject.files.iter().map(|f| f.display().to_string()).collect(),
        kind: snapshot.kind,
        role: subject.role,
        target: subject.target.to_owned(),
        labels: subject.labels.clone(),
        findings,
        summary,
    }
}

/// The snapshot as a list, with what was written where the engine adjusts it. A secret's
/// written text is never shown (the value is already redacted).
fn settings(
    snapshot: &Snapshot,
    adjusted: &BTreeMap<String, Adjusted>,
    top: &str,
) -> Vec<SnapshotSetting> {
    snapshot
        .config
        .iter()
        .filter(|(k, _)| k.starts_with("setting."))
        .map(|(key, e)| {
            let written = e.source_file.clone().zip(e.source_line);
            let default = written.is_none();
            let (file, line) = written.unwrap_or_else(|| (top.to_owned(), 1));
            let adjustment = adjusted.get(key);
            let (written, note) = match adjustment {
                Some(_) if e.redacted => (
                    Some(crate::redact::MARKER.to_owned()),
                    Some("adjusted by the engine".to_owned()),
                ),
                Some(a) => (
                    Some(crate::redact::text(&a.written).into_owned()),
                    Some(crate::redact::text(&a.note).into_owned()),
                ),
                None => (None, None),
            };
            SnapshotSetting {
                key: key.clone(),
                value: e.value.clone(),
                unit: e.unit.clone(),
                file,
                line,
                default,
                written,
                note,
            }
        })
        .collect()
}

/// Why a rule cannot be judged from a file, or `None` when it can.
pub fn needs_live_server(rule: &Rule) -> Option<String> {
    let live_key = |k: &str| k.starts_with("state.") || k == "server.version";
    if live_key(&rule.key) {
        return Some(format!("{} is read from the running server", rule.key));
    }
    if rule.key.starts_with("group.") {
        return Some(format!("{} is a fact of the live replication group", rule.key));
    }
    if let Some(when) = rule.when.iter().find(|w| live_key(&w.key)) {
        return Some(format!("its condition reads {} from the running server", when.key));
    }
    if let Some(when) = rule.when.iter().find(|w| w.key.starts_with("group.")) {
        return Some(format!("its condition reads {} from the live replication group", when.key));
    }
    if let Expect::Counter { measure, .. } = &rule.expect {
        return Some(format!(
            "`{}` compares two collections of a running server",
            measure.as_str()
        ));
    }
    if is_group_operator(&rule.expect) {
        return Some(format!("`{}` compares the servers of a group", rule.expect));
    }
    None
}

/// Operators that judge one value on its own; anything else (group parity operators
/// such as `same_as`, `at_least`, `unique`) compares several live servers.
fn is_group_operator(expect: &Expect) -> bool {
    !matches!(
        expect,
        Expect::Equals(_)
            | Expect::NotEquals(_)
            | Expect::OneOf(_)
            | Expect::Range { .. }
            | Expect::Matches(_)
            | Expect::Present
            | Expect::Absent
    )
}

#[cfg(test)]
mod tests;
