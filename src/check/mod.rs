//! `driftwatch check`: a configuration file judged by the same baselines as a live
//! server, before it is deployed. Pure: a policy set, a snapshot parsed from files
//! ([`crate::collect::conffile`]), the declared role and labels in; findings out.
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
    Report {
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

/// Why a rule cannot be judged from a file, or `None` when it can.
pub fn needs_live_server(rule: &Rule) -> Option<String> {
    let live_key = |k: &str| k.starts_with("state.") || k == "server.version";
    if live_key(&rule.key) {
        return Some(format!("{} is read from the running server", rule.key));
    }
    if let Some(when) = rule.when.as_ref().filter(|w| live_key(&w.key)) {
        return Some(format!("its condition reads {} from the running server", when.key));
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
