//! Environment overlays: `[[overlay]]` entries that change one rule for the targets
//! whose labels match — a lower severity on staging, a looser expectation on a
//! reporting replica, or the rule switched off. Applied at evaluation; the rule as
//! written stays the baseline.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::rule::{Expect, Rule};
use crate::finding::Severity;

/// One validated `[[overlay]]`.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// The rule id it changes (a rule of any policy file).
    pub rule: String,
    /// `when = { labels = { … } }`: the labels a target must carry, with these values.
    pub labels: BTreeMap<String, String>,
    pub severity: Option<Severity>,
    /// Replaces the rule's expectation.
    pub expect: Option<Expect>,
    pub disabled: bool,
}

impl Overlay {
    pub fn matches(&self, rule: &str, labels: &BTreeMap<String, String>) -> bool {
        self.rule == rule && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// `env=staging, tier=batch`: the labels it matches, for messages.
    pub fn describe(&self) -> String {
        self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

/// What the overlays make of a rule for one target. Short-lived (one per rule
/// evaluated), so the size difference between the variants does not matter.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Effective<'a> {
    /// The rule to evaluate: as written, or with overlays applied (in file order, so a
    /// later overlay's field wins).
    Rule(Cow<'a, Rule>),
    /// An overlay switched the rule off for this target.
    Disabled(&'a Overlay),
}

/// Applies every matching overlay to `rule` for a target with `labels`.
pub fn apply<'a>(
    rule: &'a Rule,
    overlays: impl IntoIterator<Item = &'a Overlay>,
    labels: &BTreeMap<String, String>,
) -> Effective<'a> {
    let mut effective = Cow::Borrowed(rule);
    for overlay in overlays.into_iter().filter(|o| o.matches(&rule.id, labels)) {
        if overlay.disabled {
            return Effective::Disabled(overlay);
        }
        if let Some(severity) = overlay.severity {
            effective.to_mut().severity = severity;
        }
        if let Some(expect) = &overlay.expect {
            effective.to_mut().expect = expect.clone();
        }
    }
    Effective::Rule(effective)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use crate::policy::tests::{snapshot, today};
    use crate::policy::{PolicySource, TargetFacts, evaluate, parse};
    use crate::snapshot::{Kind, Role};

    const POLICY: &str = r#"[policy]
name = "p"
version = "1"
applies_to = { kind = "postgres" }

[[rule]]
id = "R-1"
key = "setting.statement_timeout"
expect = { not_equals = 0 }
severity = "high"

[[rule]]
id = "R-2"
key = "setting.max_connections"
expect = { max = 100 }
severity = "medium"
"#;

    /// Evaluates POLICY plus `overlays` on a target labelled `labels` (`k=v,…`) whose
    /// statement_timeout is 0 and max_connections 500; one line per finding.
    #[track_caller]
    fn check(overlays: &str, labels: &str, expect: &str) {
        let src = PolicySource {
            path: "p.toml".into(),
            file: PathBuf::from("p.toml"),
            text: format!("{POLICY}{overlays}"),
        };
        let set = parse(vec![src]).unwrap_or_else(|d| panic!("{d}"));
        let labels: BTreeMap<String, String> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let (snap, state) =
            snapshot(Role::Primary, "statement_timeout = 0 ms\nmax_connections = 500");
        let target =
            TargetFacts { name: "db1", kind: Kind::Postgres, role: Role::Primary, labels: &labels };
        let got: Vec<String> = evaluate(&set, &target, &snap, &state, today())
            .iter()
            .map(|f| format!("{} {} {} {}", f.rule, f.severity, f.status, f.expected))
            .collect();
        assert_eq!(got.join("\n"), expect.trim());
    }

    const STAGING: &str = r#"
[[overlay]]
when = { labels = { env = "staging" } }
rule = "R-1"
severity = "low"

[[overlay]]
when = { labels = { env = "staging" } }
rule = "R-2"
expect = { max = 1000 }

[[overlay]]
when = { labels = { env = "dev" } }
rule = "R-1"
disabled = true
"#;

    #[test]
    fn no_matching_labels_leaves_rules_alone() {
        check(STAGING, "env=production", "R-1 high fail ≠ 0\nR-2 medium fail ≤ 100");
        check(STAGING, "", "R-1 high fail ≠ 0\nR-2 medium fail ≤ 100");
    }

    #[test]
    fn severity_and_expect_are_replaced() {
        check(STAGING, "env=staging,team=x", "R-2 medium pass ≤ 1000\nR-1 low fail ≠ 0");
    }

    #[test]
    fn disabled_is_not_applicable() {
        check(STAGING, "env=dev", "R-1 high not_applicable ≠ 0\nR-2 medium fail ≤ 100");
    }

    #[track_caller]
    fn check_error(overlays: &str, expect: &str) {
        let src = PolicySource {
            path: "p.toml".into(),
            file: PathBuf::from("p.toml"),
            text: format!("{POLICY}{overlays}"),
        };
        let got = parse(vec![src]).map(|_| ()).unwrap_err().to_string();
        assert_eq!(got, expect.trim());
    }

    #[test]
    fn invalid_overlays() {
        check_error(
            "[[overlay]]\nwhen = { labels = {} }\nrule = \"R-1\"\n",
            "p.toml:18:8: an overlay needs `when = { labels = { … } }` with at least one label (to change a rule everywhere, edit the rule)\np.toml:19:8: an overlay must set `severity`, `expect` or `disabled = true`",
        );
        check_error(
            "[[overlay]]\nwhen = { labels = { env = \"x\" } }\nrule = \"R-9\"\nseverity = \"huge\"\n",
            "p.toml:19:8: overlay for unknown rule `R-9`\np.toml:20:12: unknown severity `huge` (expected critical, high, medium, low or info)",
        );
        check_error(
            "[[overlay]]\nwhen = { labels = { env = \"x\" } }\nrule = \"R-1\"\nexpect = { nope = 1 }\n",
            "p.toml:20:12: unknown operator `nope` in `expect` (expected one of equals, not_equals, one_of, min, max, matches, present, absent, same_as, at_least, unique, matches_declared_role, fits_primary_connections, increase, rate)",
        );
    }
}
