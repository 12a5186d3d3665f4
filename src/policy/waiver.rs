//! Waivers: an accepted, dated exception to one rule, for one target or all of them. A
//! waiver turns a failing finding into a waived one until it expires; after that the
//! finding fails again and says which waiver lapsed.

use chrono::NaiveDate;

use crate::finding::{AppliedWaiver, Finding, FindingStatus};

/// One validated `[[waiver]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// The rule id it covers.
    pub rule: String,
    /// The target name it covers; `None` covers every target.
    pub target: Option<String>,
    pub reason: String,
    /// Last day the waiver holds (inclusive).
    pub expires: NaiveDate,
}

impl Waiver {
    pub fn covers(&self, rule: &str, target: &str) -> bool {
        self.rule == rule && self.target.as_deref().is_none_or(|t| t == target)
    }

    pub fn is_active(&self, today: NaiveDate) -> bool {
        today <= self.expires
    }
}

/// Apply the best waiver among `waivers` to a failing `finding` on `target`: an active
/// one if any (the one lasting longest), else the most recently expired one. Findings
/// that do not fail are left alone.
pub fn apply<'a>(
    finding: &mut Finding,
    target: &str,
    waivers: impl IntoIterator<Item = &'a Waiver>,
    today: NaiveDate,
) {
    if finding.status != FindingStatus::Fail {
        return;
    }
    let best = waivers
        .into_iter()
        .filter(|w| w.covers(&finding.rule, target))
        .max_by_key(|w| (w.is_active(today), w.expires));
    let Some(waiver) = best else { return };
    let expires = waiver.expires.format("%Y-%m-%d").to_string();
    let expired = !waiver.is_active(today);
    let sentence = finding.message.trim_end_matches('.');
    if expired {
        finding.message = format!("{sentence}; the waiver for it expired on {expires}.");
    } else {
        finding.status = FindingStatus::Waived;
        finding.message =
            format!("{sentence}; waived until {expires}: {}.", waiver.reason.trim_end_matches('.'));
    }
    finding.waiver = Some(AppliedWaiver { reason: waiver.reason.clone(), expires, expired });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn waiver(target: Option<&str>, expires: &str) -> Waiver {
        Waiver {
            rule: "PG-DUR-002".into(),
            target: target.map(str::to_owned),
            reason: "async commit accepted".into(),
            expires: date(expires),
        }
    }

    fn finding(status: FindingStatus) -> Finding {
        Finding {
            rule: "PG-DUR-002".into(),
            policy: "postgres-durability".into(),
            key: "setting.synchronous_commit".into(),
            severity: Severity::High,
            status,
            expected: "≠ off".into(),
            actual: Some("off".into()),
            message: "setting.synchronous_commit is off; expected ≠ off.".into(),
            rationale: None,
            remediation: None,
            references: Default::default(),
            location: None,
            waiver: None,
            drift: Default::default(),
            restarting: None,
        }
    }

    /// Apply `waivers` on `today` to a finding with `status` on target `reporting`.
    #[track_caller]
    fn check(
        status: FindingStatus,
        waivers: &[Waiver],
        today: &str,
        want: (FindingStatus, Option<bool>, &str),
    ) {
        let mut f = finding(status);
        apply(&mut f, "reporting", waivers, date(today));
        assert_eq!((f.status, f.waiver.as_ref().map(|w| w.expired), f.message.as_str()), want);
    }

    const FAILED: &str = "setting.synchronous_commit is off; expected ≠ off.";

    #[test]
    fn active_waiver_waives() {
        let want = (
            FindingStatus::Waived,
            Some(false),
            "setting.synchronous_commit is off; expected ≠ off; waived until 2027-03-31: async commit accepted.",
        );
        check(FindingStatus::Fail, &[waiver(Some("reporting"), "2027-03-31")], "2027-03-31", want);
    }

    #[test]
    fn waiver_for_all_targets() {
        let mut f = finding(FindingStatus::Fail);
        apply(&mut f, "anything", &[waiver(None, "2027-03-31")], date("2026-01-01"));
        assert_eq!(f.status, FindingStatus::Waived);
        assert_eq!(f.waiver.unwrap().expires, "2027-03-31");
    }

    #[test]
    fn expired_waiver_still_fails() {
        let want = (
            FindingStatus::Fail,
            Some(true),
            "setting.synchronous_commit is off; expected ≠ off; the waiver for it expired on 2027-03-31.",
        );
        check(FindingStatus::Fail, &[waiver(Some("reporting"), "2027-03-31")], "2027-04-01", want);
    }

    #[test]
    fn other_target_is_not_covered() {
        check(
            FindingStatus::Fail,
            &[waiver(Some("primary-1"), "2030-01-01")],
            "2026-01-01",
            (FindingStatus::Fail, None, FAILED),
        );
    }

    #[test]
    fn active_beats_expired() {
        let ws = [
            waiver(None, "2025-01-01"),
            waiver(Some("reporting"), "2027-01-01"),
            waiver(None, "2024-01-01"),
        ];
        check(
            FindingStatus::Fail,
            &ws,
            "2026-01-01",
            (
                FindingStatus::Waived,
                Some(false),
                "setting.synchronous_commit is off; expected ≠ off; waived until 2027-01-01: async commit accepted.",
            ),
        );
    }

    #[test]
    fn passing_and_error_findings_are_untouched() {
        let ws = [waiver(None, "2030-01-01")];
        check(FindingStatus::Pass, &ws, "2026-01-01", (FindingStatus::Pass, None, FAILED));
        check(FindingStatus::Error, &ws, "2026-01-01", (FindingStatus::Error, None, FAILED));
    }
}
