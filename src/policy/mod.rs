//! Policy baselines: loading the TOML files of `policies/`, and evaluating their rules
//! against a snapshot. Evaluation is pure: no I/O, no clock (the caller passes `today`).
//!
//! Nothing here touches the file system: [`crate::policy_files::read`] reads the
//! folder into [`PolicySource`]s. [`parse`] turns the
//! files into a validated [`PolicySet`], reporting every problem in every file at once
//! with file:line:col. [`evaluate`] turns a set, a target and its snapshot into
//! [`Finding`]s: a policy violation is a finding, never an error.
//!
//! - [`rule`]: rules, operators, and checking one value.
//! - [`counter`]: `increase` and `rate`, judged against the previous collection.
//! - [`waiver`]: dated exceptions to a rule.
//! - [`lint`]: checks beyond loading (unknown settings, units, expired waivers).
//! - [`pattern`]: `matches` regexes, built without a full DFA up front.
//! - [`overlay`]: per-environment changes to a rule (`[[overlay]]`).
//! - `load`: raw TOML → validated types, with diagnostics.

pub mod counter;
pub mod each;
pub mod group;
pub mod lint;
mod load;
pub mod overlay;
pub mod pattern;
pub mod preflight;
pub mod rule;
pub mod waiver;

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::diagnostic::Diagnostics;
use crate::diff::ExpectedDifferences;
use crate::finding::{Finding, FindingStatus};
use crate::run::{PolicyBundle, PolicyRef};
use crate::snapshot::{Entry, Kind, Role, Snapshot, State};
pub use counter::Earlier;
pub use group::{Group, Member};
pub use overlay::Overlay;
pub use rule::{Condition, Expect, Literal, Measure, Missing, Parity, Rule};
pub use waiver::Waiver;

/// One policy file as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// Relative to the policies folder, `/`-separated (`postgres/replication.toml`).
    pub path: String,
    /// The file as read by [`crate::policy_files::read`], for diagnostics.
    pub file: PathBuf,
    pub text: String,
}

/// The target facts a policy's `applies_to` and a rule's `roles` look at.
#[derive(Debug, Clone, Copy)]
pub struct TargetFacts<'a> {
    pub name: &'a str,
    pub kind: Kind,
    /// The role the configuration declares.
    pub role: Role,
    pub labels: &'a BTreeMap<String, String>,
}

/// Which targets a policy applies to: all conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliesTo {
    pub kind: Kind,
    /// Declared roles; empty means every role.
    pub roles: Vec<Role>,
    /// Labels the target must carry, with these values.
    pub labels: BTreeMap<String, String>,
}

impl AppliesTo {
    pub fn matches(&self, target: &TargetFacts<'_>) -> bool {
        self.kind == target.kind
            && (self.roles.is_empty() || self.roles.contains(&target.role))
            && self.labels.iter().all(|(k, v)| target.labels.get(k) == Some(v))
    }
}

/// One validated policy file.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// The pack it belongs to (`[policy] pack`); a file without one always runs.
    pub pack: Option<String>,
    /// Same as its [`PolicySource::path`].
    pub path: String,
    /// Lowercase hex sha256 of the file's bytes.
    pub sha256: String,
    pub applies_to: AppliesTo,
    pub rules: Vec<Rule>,
    /// Waivers written in this file; they may cover rules of any file.
    pub waivers: Vec<Waiver>,
    /// Overlays written in this file; they may change rules of any file.
    pub overlays: Vec<Overlay>,
    /// Settings expected to differ between two targets this policy applies to (by
    /// role or by identity), which `driftwatch diff` shows apart.
    pub expected_differences: Vec<ExpectedDifference>,
}

/// `[[expected_difference]]`: keys that legitimately differ between targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDifference {
    pub keys: Vec<String>,
    pub reason: String,
}

/// Every policy file of a run, validated, with the exact sources it came from.
#[derive(Debug, Clone)]
pub struct PolicySet {
    sources: Vec<PolicySource>,
    policies: Vec<Policy>,
    bundle: PolicyBundle,
    /// Of every file parsed, selected or not: expected differences are not rules, and
    /// `diff` reads them from every file whichever packs ran.
    expected: ExpectedDifferences,
}

/// The packs a run uses when `[policies] packs` does not say: what the seed incident
/// needed (replication and durability safety, connection health). Security hardening
/// is a pack of its own, chosen explicitly.
pub const DEFAULT_PACKS: [&str; 2] = ["replication", "connections"];

/// Whether `name` is a valid pack name: lowercase letters, digits and `-`.
pub fn is_pack_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A pack a selection names that no policy file declares.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no policy file belongs to pack `{name}` (packs here: {known})")]
pub struct UnknownPack {
    pub name: String,
    /// The packs the files declare, comma-separated.
    pub known: String,
}

impl PolicySet {
    /// The policies of the chosen `packs`, and every file that belongs to no pack (a
    /// user's own baselines, waiver files). The bundle (and the files a run stores) is
    /// that selection's; it records which packs ran. Every file was validated when the
    /// set was parsed, selected or not.
    pub fn select(&self, packs: &[String]) -> Result<PolicySet, UnknownPack> {
        let declared: std::collections::BTreeSet<&str> =
            self.policies.iter().filter_map(|p| p.pack.as_deref()).collect();
        if let Some(name) = packs.iter().find(|n| !declared.contains(n.as_str())) {
            let known: Vec<&str> = declared.into_iter().collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            return Err(UnknownPack { name: name.clone(), known });
        }
        let keep = |p: &Policy| p.pack.as_ref().is_none_or(|pack| packs.contains(pack));
        let policies: Vec<Policy> = self.policies.iter().filter(|p| keep(p)).cloned().collect();
        let paths: std::collections::HashSet<&str> =
            policies.iter().map(|p| p.path.as_str()).collect();
        let sources =
            self.sources.iter().filter(|s| paths.contains(s.path.as_str())).cloned().collect();
        let mut ran: Vec<String> = packs.to_vec();
        ran.sort();
        ran.dedup();
        let mut bundle = bundle_of(&policies);
        bundle.packs = ran;
        Ok(PolicySet { sources, policies, bundle, expected: self.expected.clone() })
    }

    /// The packs the files declare, sorted.
    pub fn packs(&self) -> Vec<&str> {
        let declared: std::collections::BTreeSet<&str> =
            self.policies.iter().filter_map(|p| p.pack.as_deref()).collect();
        declared.into_iter().collect()
    }

    /// Name, version and sha256 of every file, and the digest of them all.
    pub fn bundle(&self) -> &PolicyBundle {
        &self.bundle
    }

    /// The files exactly as read, sorted by path, to store with a run.
    pub fn sources(&self) -> &[PolicySource] {
        &self.sources
    }

    /// The policies, in the order of their paths.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Which settings may differ between two targets of a kind, and why: every
    /// `[[expected_difference]]` of every file parsed, in packs that were not selected
    /// too (see [`PolicySet::select`]).
    pub fn expected_differences(&self) -> &ExpectedDifferences {
        &self.expected
    }

    /// Every waiver of every file.
    pub fn waivers(&self) -> impl Iterator<Item = &Waiver> {
        self.policies.iter().flat_map(|p| &p.waivers)
    }

    /// Every overlay of every file, in path order.
    pub fn overlays(&self) -> impl Iterator<Item = &Overlay> {
        self.policies.iter().flat_map(|p| &p.overlays)
    }
}

/// Validate policy files: every problem in every file, or the set. Pure.
pub fn parse(mut sources: Vec<PolicySource>) -> Result<PolicySet, Diagnostics> {
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    let policies = load::load_all(&sources)?;
    let bundle = bundle_of(&policies);
    let expected = expected_differences(&policies);
    Ok(PolicySet { sources, policies, bundle, expected })
}

/// The `[[expected_difference]]` tables of `policies` by the kind each file applies to;
/// the first file, in path order, that names a key gives its reason.
fn expected_differences(policies: &[Policy]) -> ExpectedDifferences {
    let mut table = ExpectedDifferences::default();
    for p in policies {
        for d in &p.expected_differences {
            for key in &d.keys {
                table.insert(p.applies_to.kind, key, &d.reason);
            }
        }
    }
    table
}

/// The bundle of a set of policies. Its digest is the lowercase hex sha256 of one line
/// per file, sorted by path: `<path> NUL <sha256 of the file> LF`. The same files give
/// the same digest whatever order they were read in; any byte changed in any file, or a
/// file added, removed or renamed, changes it.
fn bundle_of(policies: &[Policy]) -> PolicyBundle {
    let mut refs: Vec<PolicyRef> = policies
        .iter()
        .map(|p| PolicyRef {
            name: p.name.clone(),
            version: p.version.clone(),
            sha256: p.sha256.clone(),
            path: p.path.clone(),
            pack: p.pack.clone(),
        })
        .collect();
    refs.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for r in &refs {
        hasher.update(r.path.as_bytes());
        hasher.update([0]);
        hasher.update(r.sha256.as_bytes());
        hasher.update(b"\n");
    }
    PolicyBundle { digest: hex::encode(hasher.finalize()), policies: refs, packs: Vec::new() }
}

/// Evaluate every rule of every policy that applies to `target`, alone: group
/// operators (`same_as`, `at_least`, `unique`) are not applicable. See [`evaluate_in`].
pub fn evaluate(
    set: &PolicySet,
    target: &TargetFacts<'_>,
    snapshot: &Snapshot,
    state: &State,
    today: chrono::NaiveDate,
) -> Vec<Finding> {
    evaluate_in(set, target, snapshot, state, None, None, today)
}

/// Evaluate every rule of every policy that applies to `target`, as a member of
/// `group` when it has one, with its `earlier` collection for counter operators (none:
/// they are not applicable): one finding per rule, waivers applied, sorted by severity
/// (most severe first) then rule id.
pub fn evaluate_in(
    set: &PolicySet,
    target: &TargetFacts<'_>,
    snapshot: &Snapshot,
    state: &State,
    group: Option<&Group<'_>>,
    earlier: Option<Earlier<'_>>,
    today: chrono::NaiveDate,
) -> Vec<Finding> {
    let lookup = Lookup { snapshot, state, earlier, group };
    let mut findings = Vec::new();
    for policy in set.policies.iter().filter(|p| p.applies_to.matches(target)) {
        for rule in &policy.rules {
            let mut finding = match overlay::apply(rule, set.overlays(), target.labels) {
                overlay::Effective::Rule(rule) => {
                    evaluate_rule(&policy.name, &rule, target, &lookup, group)
                }
                overlay::Effective::Disabled(o) => disabled(&policy.name, rule, o),
            };
            waiver::apply(&mut finding, target.name, set.waivers(), today);
            findings.push(finding);
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule.cmp(&b.rule)));
    findings
}

/// The finding of a rule an overlay switched off: not applicable, saying why.
fn disabled(policy: &str, rule: &Rule, overlay: &Overlay) -> Finding {
    Finding {
        rule: rule.id.clone(),
        policy: policy.to_owned(),
        key: rule.key.clone(),
        severity: rule.severity,
        status: FindingStatus::NotApplicable,
        expected: rule.expect.to_string(),
        actual: None,
        message: format!("Disabled by an overlay for targets labelled {}.", overlay.describe()),
        rationale: rule.rationale.clone(),
        remediation: rule.remediation.clone(),
        references: rule.references.clone(),
        location: None,
        waiver: None,
        drift: Default::default(),
        restarting: None,
    }
}

/// Where a rule's key is read: `state.…` from the volatile state, `server.version` and
/// `server.role` from the snapshot's identity, `group.…` from the replication group
/// (see [`group::fact`]), anything else from its configuration.
struct Lookup<'a> {
    snapshot: &'a Snapshot,
    state: &'a State,
    /// The target's previous collection, for counter operators.
    earlier: Option<Earlier<'a>>,
    /// The target's replication group, for `group.…` keys.
    group: Option<&'a Group<'a>>,
}

impl Lookup<'_> {
    fn get(&self, key: &str) -> Option<Entry> {
        match key {
            "server.version" => Some(Entry::new(self.snapshot.server.version.clone())),
            "server.role" => Some(Entry::new(self.snapshot.server.role.as_str())),
            k if k.starts_with("state.") => self.state.get(k).cloned(),
            k if k.starts_with("group.") => self.group.and_then(|g| group::fact(g, k)),
            k => self.snapshot.get(k).cloned(),
        }
    }
}

fn evaluate_rule(
    policy: &str,
    rule: &Rule,
    target: &TargetFacts<'_>,
    lookup: &Lookup<'_>,
    group: Option<&Group<'_>>,
) -> Finding {
    if each::is_pattern(&rule.key) {
        let each: Vec<(String, Finding)> = each::keys(&rule.key, lookup.snapshot)
            .into_iter()
            .map(|(key, name)| {
                let one = Rule { key, ..rule.clone() };
                (name, evaluate_key(policy, &one, target, lookup, group))
            })
            .collect();
        let none = evaluate_key(policy, rule, target, lookup, group);
        return each::combine(&rule.key, each, none);
    }
    evaluate_key(policy, rule, target, lookup, group)
}

fn evaluate_key(
    policy: &str,
    rule: &Rule,
    target: &TargetFacts<'_>,
    lookup: &Lookup<'_>,
    group: Option<&Group<'_>>,
) -> Finding {
    let observed = lookup.get(&rule.key);
    let expected = rule.expect.to_string();
    let actual = observed.as_ref().map(|e| match &rule.expect {
        Expect::Counter { measure, .. } => {
            let total = rule::display_observed(e);
            match counter::observed_change(*measure, &rule.key, e, lookup.state, lookup.earlier) {
                Some(change) => format!("{change} (now {total})"),
                None => total,
            }
        }
        _ => rule::display_observed(e),
    });
    let (status, message) =
        verdict(rule, target, lookup, group, observed.as_ref(), &expected, actual.as_deref());
    Finding {
        rule: rule.id.clone(),
        policy: policy.to_owned(),
        key: rule.key.clone(),
        severity: rule.severity,
        status,
        expected,
        actual,
        message,
        rationale: rule.rationale.clone(),
        remediation: rule.remediation.clone(),
        references: rule.references.clone(),
        location: observed.as_ref().and_then(Entry::location),
        waiver: None,
        drift: Default::default(),
        restarting: None,
    }
}

fn verdict(
    rule: &Rule,
    target: &TargetFacts<'_>,
    lookup: &Lookup<'_>,
    group: Option<&Group<'_>>,
    observed: Option<&Entry>,
    expected: &str,
    actual: Option<&str>,
) -> (FindingStatus, String) {
    use FindingStatus as S;
    use rule::Outcome;
    let key = &rule.key;
    if !rule.roles.is_empty() && !rule.roles.contains(&target.role) {
        let roles: Vec<&str> = rule.roles.iter().map(|r| r.as_str()).collect();
        let msg = format!(
            "Applies only to {} targets; {} is declared {}.",
            roles.join(" or "),
            target.name,
            target.role
        );
        return (S::NotApplicable, msg);
    }
    for when in &rule.when {
        let cond = lookup.get(&when.key);
        match when.expect.check(cond.as_ref()) {
            Some(Outcome::Holds) => {}
            Some(Outcome::Fails) => {
                let seen =
                    cond.as_ref().map_or_else(|| "absent".to_owned(), rule::display_observed);
                let msg = format!(
                    "Not applicable: {} is {seen}, and the rule applies only when it is {}.",
                    when.key, when.expect
                );
                return (S::NotApplicable, msg);
            }
            None if when.holds_when_absent => {}
            None => {
                let msg = format!(
                    "Not applicable: {} is absent, and the rule applies only when it is {}.",
                    when.key, when.expect
                );
                return (S::NotApplicable, msg);
            }
            Some(Outcome::Error(e)) => {
                return (
                    S::Error,
                    format!("Could not evaluate the precondition on {}: {e}.", when.key),
                );
            }
        }
    }
    if let Expect::Parity(parity) = rule.expect {
        return group::verdict(parity, rule, target, lookup.snapshot, observed, group);
    }
    if let (Expect::Counter { measure, min, max }, Some(entry)) = (&rule.expect, observed) {
        return counter::verdict(
            *measure,
            min.as_ref(),
            max.as_ref(),
            key,
            entry,
            lookup.state,
            lookup.earlier,
        );
    }
    let actual = actual.unwrap_or("absent");
    match rule.expect.check(observed) {
        Some(Outcome::Holds) => {
            (S::Pass, format!("{key} is {actual}, which satisfies {expected}."))
        }
        Some(Outcome::Fails) => (S::Fail, format!("{key} is {actual}; expected {expected}.")),
        Some(Outcome::Error(e)) => {
            (S::Error, format!("Could not compare {key} ({actual}) with {expected}: {e}."))
        }
        None => match rule.missing {
            Missing::Error => {
                (S::Error, format!("{key} is absent from the snapshot; expected {expected}."))
            }
            Missing::Fail => (S::Fail, format!("{key} is absent; expected {expected}.")),
            Missing::Pass => (S::Pass, format!("{key} is absent, which the rule accepts.")),
            Missing::NotApplicable => {
                (S::NotApplicable, format!("Not applicable: {key} is absent on this server."))
            }
        },
    }
}

#[cfg(test)]
pub(crate) mod tests;
