//! Restart pre-flight: the policies and the group parity rules evaluated a second time
//! against the configuration each member will run after its next restart (its
//! `pending.<name>` values applied), reporting what a restart would break and naming
//! the member it breaks. Pure, like the rest of `policy`.
//!
//! A pre-flight finding is a rule that holds now (or is not failing) but fails, or
//! cannot be judged, once pending values take effect, and only when a pending value
//! is the cause: the target's own (`pending.<key>`, or the key of the rule's `when`),
//! or, for `same_as`/`at_least = "primary"`, the primary's. Its `drift` says whether
//! the value was written for a restart (`pending`) or is a runtime value a restart
//! loses (`runtime_only`); `restarting` names the member whose restart brings it on.
//!
//! A setting PostgreSQL flags `pending_restart` without a visible `pending.<name>` (a
//! least-privilege auditor cannot read `pg_file_settings`) makes every rule it feeds
//! an `error`: a restart will change it, to a value nobody here can see.
//!
//! Besides the policies, one engine fact is checked: a PostgreSQL primary with
//! standbys whose pending `wal_level` is `minimal` (`DW-PREFLIGHT-001`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::group::{Group, Member};
use super::rule::{Expect, Parity, Rule};
use super::{PolicySet, TargetFacts, evaluate_in};
use crate::finding::{Drift, Finding, FindingStatus, Severity};
use crate::snapshot::{Entry, Kind, PENDING_PREFIX, PendingKind, Role, Snapshot, State};

/// The policy name of pre-flight findings that come from engine facts, not a file.
pub const BUILTIN_POLICY: &str = "driftwatch-preflight";

/// Settings a hot standby must have at least as high as its primary.
const HOT_STANDBY_PARAMS: [&str; 5] = [
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
];

/// A snapshot as the server will run after its next restart.
#[derive(Debug, Clone)]
pub struct Restarted {
    pub snapshot: Snapshot,
    /// `setting.<name>` keys whose pending value is known, with when it applies.
    pub changed: BTreeMap<String, PendingKind>,
    /// `setting.<name>` keys flagged `pending_restart` whose new value is not visible.
    pub unknown: BTreeSet<String>,
}

/// Whether [`restarted`] would find anything in `snapshot`: a `pending.<name>` key, or
/// a setting flagged `pending_restart`. Reads, copies nothing.
fn awaits_restart(snapshot: &Snapshot) -> bool {
    let pending_key = snapshot
        .config
        .range::<str, _>((std::ops::Bound::Included(PENDING_PREFIX), std::ops::Bound::Unbounded))
        .next()
        .is_some_and(|(key, _)| key.starts_with(PENDING_PREFIX));
    pending_key
        || snapshot.config.iter().any(|(key, e)| e.pending_restart && key.starts_with("setting."))
}

/// `snapshot` with every `pending.<name>` applied to `setting.<name>` (value, unit and
/// where it is set) and the `pending.` keys removed.
pub fn restarted(snapshot: &Snapshot) -> Restarted {
    let mut config = BTreeMap::new();
    let mut changed = BTreeMap::new();
    for (key, entry) in &snapshot.config {
        if let Some(name) = key.strip_prefix(PENDING_PREFIX) {
            let setting = format!("setting.{name}");
            changed.insert(setting.clone(), entry.pending.unwrap_or(PendingKind::Restart));
            config
                .insert(setting, Entry { pending: None, pending_restart: false, ..entry.clone() });
        } else if !config.contains_key(key) {
            config.insert(key.clone(), entry.clone());
        }
    }
    let unknown = snapshot
        .config
        .iter()
        .filter(|(k, e)| {
            e.pending_restart && k.starts_with("setting.") && !changed.contains_key(*k)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in changed.keys() {
        if let Some(e) = config.get_mut(key) {
            e.pending_restart = false;
        }
    }
    let snapshot = Snapshot {
        target: snapshot.target.clone(),
        kind: snapshot.kind,
        server: snapshot.server.clone(),
        config,
    };
    Restarted { snapshot, changed, unknown }
}

/// One collected member of a group (or a target alone), with its live findings.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub facts: TargetFacts<'a>,
    pub snapshot: &'a Snapshot,
    pub state: &'a State,
    /// Its previous collection, for counter operators.
    pub earlier: Option<super::Earlier<'a>>,
    pub live: &'a [Finding],
}

/// Pre-flight findings by subject (target name); a subject with none has an empty
/// list. `group` is the group's name (none: a target alone); `not_collected` the
/// members the run could not collect.
pub fn evaluate<'s>(
    set: &PolicySet,
    group: Option<&str>,
    subjects: &[Subject<'s>],
    not_collected: &[(&str, Role)],
    today: chrono::NaiveDate,
) -> HashMap<&'s str, Vec<Finding>> {
    // Nearly always nothing awaits a restart: say so without copying any snapshot.
    if !subjects.iter().any(|s| awaits_restart(s.snapshot)) {
        return subjects.iter().map(|s| (s.facts.name, Vec::new())).collect();
    }
    let after: Vec<Restarted> = subjects.iter().map(|s| restarted(s.snapshot)).collect();
    let members: Vec<Member<'_>> = subjects
        .iter()
        .zip(&after)
        .map(|(s, r)| Member {
            name: s.facts.name,
            role: s.facts.role,
            snapshot: &r.snapshot,
            state: s.state,
        })
        .collect();
    let post_group = group.map(|name| Group { name, members: &members, not_collected });
    let primary = {
        let declared: Vec<usize> =
            (0..subjects.len()).filter(|&i| subjects[i].facts.role == Role::Primary).collect();
        if declared.len() == 1 { Some(declared[0]) } else { None }
    };
    let ctx = Context { subjects, after: &after, primary };
    subjects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = &after[i];
            let post = evaluate_in(
                set,
                &s.facts,
                &r.snapshot,
                s.state,
                post_group.as_ref(),
                s.earlier,
                today,
            );
            let mut out: Vec<Finding> =
                post.into_iter().filter_map(|f| ctx.judge(set, i, f)).collect();
            if let Some(builtin) = ctx.wal_level_minimal(i) {
                out.retain(|f| f.key != builtin.key);
                out.push(builtin);
            }
            out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule.cmp(&b.rule)));
            (s.facts.name, out)
        })
        .collect()
}

/// A pending value behind a post-restart outcome.
#[derive(Debug, Clone, Copy)]
struct Cause {
    member: usize,
    /// `None`: pending, but its value is not visible.
    kind: Option<PendingKind>,
}

struct Context<'a, 's> {
    subjects: &'a [Subject<'s>],
    after: &'a [Restarted],
    /// The index of the one declared primary, if there is exactly one.
    primary: Option<usize>,
}

impl Context<'_, '_> {
    fn cause(&self, member: usize, key: &str) -> Option<Cause> {
        let r = &self.after[member];
        if let Some(kind) = r.changed.get(key) {
            return Some(Cause { member, kind: Some(*kind) });
        }
        r.unknown.contains(key).then_some(Cause { member, kind: None })
    }

    fn name(&self, member: usize) -> &str {
        self.subjects[member].facts.name
    }

    /// The post-restart finding `f` of subject `i` as a pre-flight finding, when pending
    /// values cause it and it is worse than now.
    fn judge(&self, set: &PolicySet, i: usize, mut f: Finding) -> Option<Finding> {
        if f.status == FindingStatus::NotApplicable {
            return None;
        }
        let rule = find_rule(set, &f.rule)?;
        let parity = match rule.expect {
            Expect::Parity(p @ (Parity::SameAsPrimary | Parity::AtLeastPrimary)) => Some(p),
            _ => None,
        };
        let own =
            self.cause(i, &f.key).or_else(|| rule.when.iter().find_map(|w| self.cause(i, &w.key)));
        let theirs =
            parity.and(self.primary).filter(|&p| p != i).and_then(|p| self.cause(p, &f.key));
        let cause = own.or(theirs)?;
        let live = self.subjects[i].live.iter().find(|l| l.rule == f.rule);
        let unknown = [own, theirs].into_iter().flatten().find(|c| c.kind.is_none());
        if let Some(u) = unknown {
            f.status = FindingStatus::Error;
            f.message = format!(
                "Cannot tell what the next restart of {} does here: {} awaits a restart \
                 (pg_settings.pending_restart) but its new value is not visible to this \
                 account (GRANT SELECT ON pg_file_settings and EXECUTE ON FUNCTION \
                 pg_show_all_file_settings() to the auditor).",
                self.name(u.member),
                setting(&f.key),
            );
        } else {
            let failing_now = live.is_some_and(|l| l.status == FindingStatus::Fail);
            if f.status != FindingStatus::Fail || failing_now {
                return None;
            }
            f.message = self.explain(i, &f, cause, parity, own.is_some());
        }
        f.drift = match cause.kind {
            Some(PendingKind::RuntimeOnly) => Drift::RuntimeOnly,
            _ => Drift::Pending,
        };
        f.restarting = Some(self.name(cause.member).to_owned());
        f.location = self.pending_location(cause.member, &f.key).or(f.location);
        Some(f)
    }

    fn pending_location(&self, member: usize, key: &str) -> Option<String> {
        self.after[member].snapshot.config.get(key).and_then(Entry::location)
    }

    fn value(&self, member: usize, key: &str, after: bool) -> String {
        let snapshot =
            if after { &self.after[member].snapshot } else { self.subjects[member].snapshot };
        snapshot.config.get(key).map_or_else(|| "absent".to_owned(), Entry::display_value)
    }

    /// What happens, in a sentence that names who restarts and who breaks.
    fn explain(
        &self,
        i: usize,
        f: &Finding,
        cause: Cause,
        parity: Option<Parity>,
        own: bool,
    ) -> String {
        let me = self.name(i);
        let key = setting(&f.key);
        let kind = self.subjects[i].facts.kind;
        let hot_standby = kind == Kind::Postgres && HOT_STANDBY_PARAMS.contains(&key);
        let new = self.value(cause.member, &f.key, true);
        let at = self.pending_location(cause.member, &f.key).unwrap_or_else(|| "a file".to_owned());
        let primary = self.primary.map(|p| self.name(p).to_owned()).unwrap_or_default();
        match (parity, own) {
            (Some(Parity::AtLeastPrimary), true) if hot_standby => format!(
                "Standby {me} will refuse to start: its pending {key} = {new} ({at}) is below \
                 the primary {primary}'s {}.",
                self.value(self.primary.unwrap_or(i), &f.key, true)
            ),
            (Some(Parity::AtLeastPrimary), false) if hot_standby => format!(
                "After the primary {primary} restarts, standby {me} pauses replay: {key} \
                 becomes {new} there ({at}) and {me} has {}. Raise it on {me} first \
                 (standbys before the primary).",
                self.value(i, &f.key, true)
            ),
            (Some(_), false) => format!(
                "After the primary {primary} restarts, {key} becomes {new} there ({at}): {}",
                f.message
            ),
            _ if cause.kind == Some(PendingKind::RuntimeOnly) => format!(
                "A restart of {me} loses the runtime value {} of {key} and brings back {new} \
                 ({at}): {}",
                self.value(i, &f.key, false),
                f.message
            ),
            _ => format!(
                "After {me} restarts, {key} becomes {new} ({at}, now {}): {}",
                self.value(i, &f.key, false),
                f.message
            ),
        }
    }

    /// A PostgreSQL primary with standbys whose pending `wal_level` is `minimal`.
    fn wal_level_minimal(&self, i: usize) -> Option<Finding> {
        let s = &self.subjects[i];
        let key = "setting.wal_level";
        let cause = self.cause(i, key).filter(|c| c.kind.is_some())?;
        if s.facts.kind != Kind::Postgres
            || s.snapshot.server.role != Role::Primary
            || self.value(i, key, true) != "minimal"
        {
            return None;
        }
        let mut standbys: Vec<&str> = (0..self.subjects.len())
            .filter(|&j| j != i && self.subjects[j].facts.role == Role::Replica)
            .map(|j| self.name(j))
            .collect();
        if standbys.is_empty() {
            standbys = s
                .state
                .keys()
                .filter_map(|k| k.strip_prefix("state.replica.")?.strip_suffix(".state"))
                .collect();
        }
        if standbys.is_empty() {
            return None;
        }
        let me = s.facts.name;
        let at = self.pending_location(i, key).unwrap_or_else(|| "a file".to_owned());
        Some(Finding {
            rule: "DW-PREFLIGHT-001".into(),
            policy: BUILTIN_POLICY.into(),
            key: key.into(),
            severity: Severity::Critical,
            status: FindingStatus::Fail,
            expected: "replica or logical while standbys stream from it".into(),
            actual: Some("minimal".into()),
            message: format!(
                "After the primary {me} restarts, wal_level becomes minimal ({at}): PostgreSQL \
                 refuses to start it while max_wal_senders > 0, and standbys {} can no longer \
                 follow it.",
                standbys.join(", ")
            ),
            rationale: Some(
                "WAL at minimal level carries nothing a standby can replay; streaming \
                 replication needs replica or logical."
                    .into(),
            ),
            remediation: Some(
                format!("On {me}: ALTER SYSTEM RESET wal_level; -- before it restarts").into(),
            ),
            references: Default::default(),
            location: Some(at),
            waiver: None,
            drift: match cause.kind {
                Some(PendingKind::RuntimeOnly) => Drift::RuntimeOnly,
                _ => Drift::Pending,
            },
            restarting: Some(me.to_owned()),
        })
    }
}

fn find_rule<'s>(set: &'s PolicySet, id: &str) -> Option<&'s Rule> {
    set.policies().iter().flat_map(|p| &p.rules).find(|r| r.id == id)
}

fn setting(key: &str) -> &str {
    key.strip_prefix("setting.").unwrap_or(key)
}

#[cfg(test)]
mod tests;
