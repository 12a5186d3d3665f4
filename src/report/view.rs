//! View models: plain, already formatted data the templates print as is. Lists, never
//! maps, so the output order is the order built here.

use serde::Serialize;

use super::chart::Chart;
use super::splice::Html;
use super::text::Val;
use crate::finding::{FindingStatus, Severity};

/// Shared by every page: title, breadcrumb, footer.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub title: String,
    /// `""` on the index, `"../"` one folder down: prefix of every link.
    pub root: String,
    pub crumbs: Vec<Link>,
    /// The last breadcrumb, not a link.
    pub here: String,
    pub generated_at: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: String,
    pub text: String,
}

/// A status as a word with a shape (never colour alone).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Badge {
    pub class: &'static str,
    pub shape: &'static str,
    pub word: &'static str,
}

impl Badge {
    pub const FAIL: Badge = Badge { class: "fail", shape: "\u{25b2}", word: "FAIL" };
    pub const PASS: Badge = Badge { class: "pass", shape: "\u{25cf}", word: "PASS" };
    pub const WAIVED: Badge = Badge { class: "waived", shape: "\u{25c6}", word: "WAIVED" };
    pub const ERROR: Badge = Badge { class: "error", shape: "\u{2715}", word: "ERROR" };
    pub const NA: Badge = Badge { class: "na", shape: "\u{25cb}", word: "N/A" };

    pub fn of(status: FindingStatus) -> Badge {
        match status {
            FindingStatus::Fail => Badge::FAIL,
            FindingStatus::Pass => Badge::PASS,
            FindingStatus::Waived => Badge::WAIVED,
            FindingStatus::Error => Badge::ERROR,
            FindingStatus::NotApplicable => Badge::NA,
        }
    }
}

/// Severity as its own word.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sev {
    pub class: &'static str,
    pub word: &'static str,
}

impl Sev {
    pub fn of(s: Severity) -> Sev {
        match s {
            Severity::Critical => Sev { class: "critical", word: "CRITICAL" },
            Severity::High => Sev { class: "high", word: "HIGH" },
            Severity::Medium => Sev { class: "medium", word: "MEDIUM" },
            Severity::Low => Sev { class: "low", word: "LOW" },
            Severity::Info => Sev { class: "info", word: "INFO" },
        }
    }
}

/// One finding as an `<article id="f-…">`: the same component on run and target pages.
#[derive(Debug, Serialize)]
pub struct FindingView {
    pub id: String,
    pub target: String,
    pub target_href: Option<String>,
    pub rule: String,
    pub policy: String,
    pub setting: String,
    pub setting_href: Option<String>,
    pub badge: Badge,
    pub sev: Sev,
    pub observed: Val,
    pub expected: Val,
    pub location: Option<String>,
    pub message: String,
    pub rationale: Option<String>,
    pub remediation: Option<String>,
    /// The rule's benchmark controls and documentation links.
    pub references: Vec<RefView>,
    pub waiver: Option<WaiverView>,
    /// `new in this run` or `since 2026-11-24 16:15:00 UTC`.
    pub first_seen: Option<String>,
    /// The value the previous collection observed, when it differs.
    pub previous: Option<Val>,
    /// Pre-flight findings only: when it bites.
    pub drift: Option<&'static str>,
    /// Pre-flight findings only: the member whose restart brings it on (`href` empty
    /// when that member has no page).
    pub restarting: Option<Link>,
}

/// One of a rule's references: `CIS PostgreSQL 16 3.1.20` (empty for a documentation
/// link) and its title, linked when it has an `http(s)` address.
#[derive(Debug, Clone, Serialize)]
pub struct RefView {
    pub control: String,
    pub title: String,
    pub href: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WaiverView {
    pub reason: String,
    pub expires: String,
    /// `expired 3 days ago`, `expires in 5 days`, or empty when far off.
    pub note: String,
    pub expired: bool,
}

/// A passed or not-applicable finding: one compact table row.
#[derive(Debug, Serialize)]
pub struct RowView {
    pub id: String,
    pub target: String,
    pub rule: String,
    /// The rule's first documentation address: the rule id links to it.
    pub rule_href: Option<String>,
    /// The rule's control ids, `CIS PostgreSQL 16 3.1.20, …` (empty without any).
    pub controls: String,
    pub setting: String,
    pub observed: Val,
    pub expected: Val,
}

/// Findings in the fixed reading order: failing (never collapsed), errors, waived,
/// then passed and not applicable (collapsed, with counts).
///
/// Every list is already HTML ([`super::fragments`]: every value escaped): articles
/// for failing, errors and waived, table rows for passed and not applicable.
#[derive(Debug, Default, Serialize)]
pub struct FindingGroups {
    pub failing: Html,
    pub errors: Html,
    pub waived: Html,
    pub passed: Html,
    pub not_applicable: Html,
    pub failing_count: String,
    pub errors_count: String,
    pub waived_count: String,
    pub passed_count: String,
    pub na_count: String,
}

/// One changed setting: `<del>before</del> → <ins>after</ins>`.
#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub id: String,
    pub setting: String,
    pub setting_href: Option<String>,
    /// `changed`, `added` or `removed`.
    pub kind: &'static str,
    pub before: Option<Val>,
    pub after: Option<Val>,
    pub location: Option<String>,
    pub previous_location: Option<String>,
    /// The statement that restores the old value.
    pub rollback: Option<String>,
}

/// One row of a runs table (trend or recent runs).
#[derive(Debug, Serialize)]
pub struct RunRow {
    pub id: String,
    pub href: Option<String>,
    pub started: String,
    pub duration: String,
    pub baselines: String,
    pub targets: String,
    pub failing: String,
    pub new: String,
    pub fixed: String,
    pub changes: String,
    /// Its standing in the history's chain.
    pub chain: super::site::ChainStanding,
}

/// The bar chart and its numbers.
#[derive(Debug, Serialize)]
pub struct Trend {
    pub chart: Chart,
    pub rows: Vec<RunRow>,
}

/// One row of a group page's timeline: a change or a state transition of a member.
#[derive(Debug, Serialize)]
pub struct EventRow {
    pub id: String,
    pub at: String,
    pub run: String,
    pub run_href: Option<String>,
    pub target: String,
    pub target_href: Option<String>,
    pub kind: &'static str,
    /// A state transition, or empty for a change.
    pub what: String,
    pub change: Option<ChangeView>,
}
