//! Policy evaluation as collections finish: a target is evaluated as soon as every
//! member of its replication group has been collected (or has failed), so parity rules
//! see every member, and then its snapshot is dropped. Memory holds the snapshots of
//! groups still being collected, not of the whole fleet; what the reports need later
//! is only each snapshot's setting names (shared between targets with the same set).
//! After a group's live findings, the restart pre-flight evaluates it again with every
//! member's `pending.*` values applied (`policy::preflight`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::Previous;
use crate::config::Target;
use crate::policy::{self, Earlier, Group, Member, PolicySet, TargetFacts, preflight};
use crate::run::RunId;
use crate::run::TargetRun;
use crate::snapshot::{Role, Snapshot};
use crate::store::{Store, StoreError};

/// Each collected target's setting names, kept when its snapshot is dropped (the
/// reports link a setting to a target's inventory row only when it has one).
#[derive(Debug, Default)]
pub struct SettingNames {
    by_target: HashMap<String, Arc<BTreeSet<String>>>,
    interned: HashSet<Arc<BTreeSet<String>>>,
}

impl SettingNames {
    pub(super) fn insert(&mut self, target: &str, snapshot: &Snapshot) {
        let names: BTreeSet<String> = snapshot.config.keys().cloned().collect();
        let shared = match self.interned.get(&names) {
            Some(same) => same.clone(),
            None => {
                let names = Arc::new(names);
                self.interned.insert(names.clone());
                names
            }
        };
        self.by_target.insert(target.to_owned(), shared);
    }
}

impl SettingNames {
    /// Whether `target`'s snapshot had the setting `key`.
    pub fn has(&self, target: &str, key: &str) -> bool {
        self.by_target.get(target).is_some_and(|names| names.contains(key))
    }
}

/// A finished collection waiting for its group: the target's place in the run, its
/// result so far and its snapshot (none when collection failed).
struct Finished {
    index: usize,
    result: TargetRun,
    snapshot: Option<Snapshot>,
}

/// Runs looked through (newest first) for group members another schedule audits.
const BORROW_RUNS: usize = 64;

/// One group member that is not in this run (another schedule audits it), as its
/// newest collection in the store saw it: group rules judge this run's members with
/// it. Never evaluated itself, never part of the run's results.
pub struct Borrowed {
    pub name: String,
    pub kind: crate::snapshot::Kind,
    pub role: Role,
    pub labels: std::collections::BTreeMap<String, String>,
    pub group: String,
    pub snapshot: Snapshot,
    pub state: Arc<crate::snapshot::State>,
    pub collected_at: DateTime<Utc>,
}

/// The group members of `all` not among `targets` that share a group with one of
/// them: the borrowed ones (a collection at most `max_age` old in the newest
/// [`BORROW_RUNS`] runs) and the names of those without one.
pub struct BorrowedMembers {
    pub found: Vec<Borrowed>,
    pub missing: Vec<(String, String, Role)>,
}

impl Borrowed {
    pub(super) async fn find(
        store: &Store,
        runs: &[RunId],
        all: &[Target],
        targets: &[&Target],
        max_age: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<BorrowedMembers, StoreError> {
        let in_run: HashSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let groups: HashSet<&str> = targets.iter().filter_map(|t| t.group.as_deref()).collect();
        let mut wanted: HashMap<&str, &Target> = all
            .iter()
            .filter(|t| !in_run.contains(t.name.as_str()))
            .filter(|t| t.group.as_deref().is_some_and(|g| groups.contains(g)))
            .map(|t| (t.name.as_str(), t))
            .collect();
        let oldest = now - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        let mut found = Vec::new();
        for id in runs.iter().rev().take(BORROW_RUNS) {
            if wanted.is_empty() || id.timestamp().is_some_and(|t| t < oldest) {
                break;
            }
            let run = store.get_run_outline(id).await?;
            for t in run.targets {
                let Some(target) = wanted.get(t.name.as_str()).copied() else { continue };
                let Some(digest) = &t.snapshot else { continue };
                if t.collected_at < oldest {
                    continue;
                }
                wanted.remove(t.name.as_str());
                found.push(Borrowed {
                    snapshot: store.get_snapshot(&t.name, digest).await?,
                    name: t.name,
                    kind: target.kind,
                    role: target.role,
                    labels: target.labels.clone(),
                    group: target.group.clone().unwrap_or_default(),
                    state: t.state,
                    collected_at: t.collected_at,
                });
            }
        }
        let mut missing: Vec<(String, String, Role)> = wanted
            .into_values()
            .map(|t| (t.name.clone(), t.group.clone().unwrap_or_default(), t.role))
            .collect();
        missing.sort();
        for b in &found {
            tracing::debug!(
                target = b.name.as_str(),
                collected_at = %b.collected_at,
                "group member audited by another schedule: judged with from its newest collection"
            );
        }
        if !missing.is_empty() {
            tracing::debug!(
                missing = missing.len(),
                "group members audited by another schedule have no recent collection"
            );
        }
        Ok(BorrowedMembers { found, missing })
    }
}

/// Evaluates targets as they arrive (see the module docs).
pub struct Evaluator<'a> {
    policies: &'a PolicySet,
    /// Each target's previous collection, for counter rules.
    previous: &'a Previous,
    today: NaiveDate,
    /// Members of each group not collected yet.
    outstanding: HashMap<String, usize>,
    /// Members of incomplete groups, with their snapshots.
    waiting: HashMap<String, Vec<Finished>>,
    done: Vec<(usize, TargetRun)>,
    settings: SettingNames,
    /// Group members other schedules audit (see [`Borrowed`]).
    borrowed: Option<&'a BorrowedMembers>,
}

impl<'a> Evaluator<'a> {
    /// For a run of `targets` (a group's members are the targets of the run sharing it).
    pub fn new(
        policies: &'a PolicySet,
        targets: &[&Target],
        previous: &'a Previous,
        today: NaiveDate,
    ) -> Self {
        let mut outstanding = HashMap::new();
        for g in targets.iter().filter_map(|t| t.group.as_ref()) {
            *outstanding.entry(g.clone()).or_default() += 1;
        }
        Evaluator {
            policies,
            previous,
            today,
            outstanding,
            waiting: HashMap::new(),
            done: Vec::with_capacity(targets.len()),
            settings: SettingNames::default(),
            borrowed: None,
        }
    }

    /// Group members not in this run, judged with from their newest collection.
    pub fn with_borrowed(mut self, borrowed: &'a BorrowedMembers) -> Self {
        self.borrowed = Some(borrowed);
        self
    }

    /// One finished collection (`index`: the target's place in the run).
    pub fn add(&mut self, index: usize, result: TargetRun, snapshot: Option<Snapshot>) {
        let entry = Finished { index, result, snapshot };
        let Some(group) = entry.result.group.clone() else {
            return self.evaluate(vec![entry]);
        };
        self.waiting.entry(group.clone()).or_default().push(entry);
        let left = self.outstanding.get_mut(&group).expect("every group is counted");
        *left -= 1;
        if *left == 0 {
            let members = self.waiting.remove(&group).unwrap_or_default();
            self.evaluate(members);
        }
    }

    /// Every target, evaluated, in run order; and the setting names for reports.
    pub fn finish(mut self) -> (Vec<TargetRun>, SettingNames) {
        // Only reachable if a caller stopped adding early: evaluate what is there.
        for (_, members) in std::mem::take(&mut self.waiting) {
            self.evaluate(members);
        }
        self.done.sort_by_key(|(i, _)| *i);
        (self.done.into_iter().map(|(_, t)| t).collect(), self.settings)
    }

    /// The target's previous successful collection, as counter rules compare with it.
    fn earlier(&self, t: &TargetRun) -> Option<Earlier<'a>> {
        let previous = self.previous.get(&t.name)?;
        let seconds = (t.collected_at - previous.collected_at).num_milliseconds() as f64 / 1000.0;
        Some(Earlier { state: &previous.state, seconds })
    }

    /// Evaluates the members of one group (or one ungrouped target), in run order.
    fn evaluate(&mut self, mut members: Vec<Finished>) {
        members.sort_by_key(|m| m.index);
        let mut findings = Vec::with_capacity(members.len());
        let preflights: Vec<Vec<crate::finding::Finding>>;
        let group_name = members.first().and_then(|m| m.result.group.clone());
        let borrowed = self.borrowed;
        {
            let in_group = |g: &str| group_name.as_deref() == Some(g);
            let others: Vec<&Borrowed> = borrowed
                .map(|b| b.found.iter().filter(|o| in_group(&o.group)).collect())
                .unwrap_or_default();
            let collected: Vec<Member<'_>> = members
                .iter()
                .filter_map(|m| {
                    Some(Member {
                        name: &m.result.name,
                        role: m.result.role,
                        snapshot: m.snapshot.as_ref()?,
                        state: &m.result.state,
                    })
                })
                .chain(others.iter().map(|o| Member {
                    name: &o.name,
                    role: o.role,
                    snapshot: &o.snapshot,
                    state: &o.state,
                }))
                .collect();
            let not_collected: Vec<(&str, Role)> = members
                .iter()
                .filter(|m| m.snapshot.is_none())
                .map(|m| (m.result.name.as_str(), m.result.role))
                .chain(
                    borrowed
                        .map(|b| b.missing.as_slice())
                        .unwrap_or_default()
                        .iter()
                        .filter(|(_, g, _)| in_group(g))
                        .map(|(name, _, role)| (name.as_str(), *role)),
                )
                .collect();
            for m in &members {
                let t = &m.result;
                let Some(snapshot) = &m.snapshot else {
                    findings.push(Vec::new());
                    continue;
                };
                // An ungrouped target is evaluated alone, with no group.
                let group = t.group.as_deref().map(|name| Group {
                    name,
                    members: &collected,
                    not_collected: &not_collected,
                });
                let facts =
                    TargetFacts { name: &t.name, kind: t.kind, role: t.role, labels: &t.labels };
                findings.push(policy::evaluate_in(
                    self.policies,
                    &facts,
                    snapshot,
                    &t.state,
                    group.as_ref(),
                    self.earlier(t),
                    self.today,
                ));
            }
            // Restart pre-flight: each collected member's findings once every member's
            // pending values are applied, compared with its live findings.
            let subjects: Vec<preflight::Subject<'_>> = members
                .iter()
                .zip(&findings)
                .filter_map(|(m, live)| {
                    let t = &m.result;
                    Some(preflight::Subject {
                        facts: TargetFacts {
                            name: &t.name,
                            kind: t.kind,
                            role: t.role,
                            labels: &t.labels,
                        },
                        snapshot: m.snapshot.as_ref()?,
                        state: &t.state,
                        earlier: self.earlier(t),
                        live,
                    })
                })
                // Borrowed members go last: the group restarts as a whole; their own
                // pre-flight results are not this run's and are dropped below.
                .chain(others.iter().map(|o| preflight::Subject {
                    facts: TargetFacts {
                        name: &o.name,
                        kind: o.kind,
                        role: o.role,
                        labels: &o.labels,
                    },
                    snapshot: &o.snapshot,
                    state: &o.state,
                    earlier: None,
                    live: &[],
                }))
                .collect();
            let found = preflight::evaluate(
                self.policies,
                group_name.as_deref(),
                &subjects,
                &not_collected,
                self.today,
            );
            // Keyed by target name: a member without an answer has no pre-flight.
            let mut found = found;
            preflights = members
                .iter()
                .map(|m| found.remove(m.result.name.as_str()).unwrap_or_default())
                .collect();
        }
        for ((mut m, f), p) in members.into_iter().zip(findings).zip(preflights) {
            m.result.findings = f.into();
            m.result.preflight = p;
            if let Some(snapshot) = &m.snapshot {
                self.settings.insert(&m.result.name, snapshot);
            }
            self.done.push((m.index, m.result));
        }
    }
}
