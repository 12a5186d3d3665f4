//! The outcome of evaluating one rule against one target: plain data shared by the
//! policy engine (which makes findings), the run manifest (which stores them) and the
//! reports (which show them).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How bad a failing rule is. Ordered: `Info < Low < … < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Most severe first, the order reports list them in.
    pub const DESCENDING: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::DESCENDING.into_iter().find(|sev| sev.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of one rule on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// The rule holds.
    Pass,
    /// The rule does not hold.
    Fail,
    /// The rule does not hold, but an unexpired waiver covers it.
    Waived,
    /// The rule could not be evaluated (missing key, value that does not parse).
    Error,
    /// The rule does not apply to this target (role, missing optional setting).
    NotApplicable,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Pass => "pass",
            FindingStatus::Fail => "fail",
            FindingStatus::Waived => "waived",
            FindingStatus::Error => "error",
            FindingStatus::NotApplicable => "not_applicable",
        }
    }
}

impl fmt::Display for FindingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a finding bites: now, or only once a server restarts (or reloads).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// The running configuration (every finding of `findings[]`).
    #[default]
    Live,
    /// A value written to a file (or persisted) that takes effect on the next restart
    /// or reload.
    Pending,
    /// A value set at runtime only, which the next restart loses (the file's comes back).
    RuntimeOnly,
}

impl Drift {
    pub fn as_str(self) -> &'static str {
        match self {
            Drift::Live => "live",
            Drift::Pending => "pending",
            Drift::RuntimeOnly => "runtime_only",
        }
    }

    pub fn is_live(&self) -> bool {
        *self == Drift::Live
    }
}

/// A waiver that matched a finding, copied into the finding so the evidence stands on
/// its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedWaiver {
    pub reason: String,
    /// `YYYY-MM-DD`, inclusive.
    pub expires: String,
    /// True when the waiver matched but has expired: it no longer waives.
    pub expired: bool,
}

/// Where a rule comes from: a control of a published benchmark (`benchmark`, `control`,
/// `title`, maybe `url`) or a documentation page (`title` and `url`). Validated by the
/// policy loader: a `url` is always `http(s)://…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    /// `CIS PostgreSQL 16`; absent for a documentation link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<String>,
    /// The control's id in that benchmark, `3.1.20`; set exactly when `benchmark` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Reference {
    /// `CIS PostgreSQL 16 3.1.20`, for a benchmark control.
    pub fn control_id(&self) -> Option<String> {
        Some(format!("{} {}", self.benchmark.as_deref()?, self.control.as_deref()?))
    }
}

/// A rule's references, shared by every finding of the rule.
pub type References = Arc<[Reference]>;

fn no_references(r: &References) -> bool {
    r.is_empty()
}

/// One rule evaluated against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id, e.g. `PG-REPL-001`.
    pub rule: String,
    /// Name of the policy file's `[policy]` that holds the rule.
    pub policy: String,
    /// The snapshot key the rule reads, e.g. `setting.wal_level`.
    pub key: String,
    pub severity: Severity,
    pub status: FindingStatus,
    /// The expectation as a person reads it: `one of replica, logical`, `≥ 10`.
    pub expected: String,
    /// The observed value with its unit, or `None` when the key is absent.
    pub actual: Option<String>,
    /// One sentence: why it passed, failed or could not be evaluated.
    pub message: String,
    /// The rule's own text, shared by every finding of the rule (`Arc`: a 1,000-target
    /// run holds tens of thousands of findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Arc<str>>,
    /// The rule's benchmark controls and documentation links (not written when none).
    #[serde(default, skip_serializing_if = "no_references")]
    pub references: References,
    /// Where the observed value was set (`postgresql.auto.conf:3`, `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<AppliedWaiver>,
    /// `live` (not written) for findings on the running configuration; `pending` or
    /// `runtime_only` for pre-flight findings (`preflight[]`).
    #[serde(default, skip_serializing_if = "Drift::is_live")]
    pub drift: Drift,
    /// On pre-flight findings: the member whose restart (or reload) brings it about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarting: Option<String>,
}

impl Finding {
    /// What comparing runs needs (rule, setting, severity, status, waiver, drift),
    /// without text or observed values: how the reports hold findings of earlier runs
    /// that get no page.
    pub fn outline(&self) -> Finding {
        Finding {
            rule: self.rule.clone(),
            policy: self.policy.clone(),
            key: self.key.clone(),
            severity: self.severity,
            status: self.status,
            expected: String::new(),
            actual: None,
            message: String::new(),
            rationale: None,
            remediation: None,
            references: self.references.clone(),
            location: None,
            waiver: self.waiver.clone(),
            drift: self.drift,
            restarting: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `drift` and `restarting` are additive: absent on live findings, so the JSON of
    /// `findings[]` is what it was; written on pre-flight findings.
    #[test]
    fn drift_is_written_only_off_live() {
        let mut f = Finding {
            rule: "R".into(),
            policy: "p".into(),
            key: "setting.x".into(),
            severity: Severity::Critical,
            status: FindingStatus::Fail,
            expected: "1".into(),
            actual: Some("2".into()),
            message: "m".into(),
            rationale: None,
            remediation: None,
            references: Default::default(),
            location: None,
            waiver: None,
            drift: Drift::Live,
            restarting: None,
        };
        let live = serde_json::to_value(&f).unwrap();
        assert!(live.get("drift").is_none() && live.get("restarting").is_none(), "{live}");
        f.drift = Drift::RuntimeOnly;
        f.restarting = Some("db1".into());
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(r#""drift":"runtime_only","restarting":"db1""#), "{json}");
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
    }
}
