//! What the service knows about its latest runs, in memory: written by the scheduler
//! after each run, read by the web server (metrics, readiness, `/api/targets`) and by
//! notifications (the previous result of each target) and by the web UI (each target's
//! latest findings, what newly fails since its previous collection). At start-up it is
//! filled from the newest manifests in the store, so a restart does not reset the
//! metrics. Every run taken in bumps [`Status::generation`], so readers can cache what
//! they derive from it per generation.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::notify::Previous;
use crate::run::{Run, RunId, TargetRun};

/// Shared between the scheduler and the server. Never held across an `.await`.
pub type SharedStatus = Arc<RwLock<Status>>;

#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The last run attempt, committed or not.
    pub last_run: Option<LastRun>,
    /// When the last committed run finished.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Digest of the policy bundle the last committed run used.
    pub policy_digest: Option<String>,
    /// Each target's result in the newest committed run that audited it (targets on
    /// their own schedule are not in every run).
    pub targets: BTreeMap<String, LatestTarget>,
    /// Each target's result in the newest run that could collect it.
    pub collected: BTreeMap<String, TargetRun>,
    /// Each target's collection before the one in `collected` (what "new" failures
    /// are new against).
    pub previous: BTreeMap<String, TargetRun>,
    /// Bumped on every change made through the methods below (each run taken in,
    /// failed, published incompletely, targets forgotten, ticks and slots counted):
    /// what is derived from the status can be cached until it changes.
    pub generation: u64,
    /// Ticks skipped because the run before was still going ([`Status::skip_tick`]).
    pub skipped_ticks: u64,
    /// Slots skipped because another instance sharing the store claimed them
    /// ([`Status::lose_slot`]).
    pub slots_lost: u64,
    /// The newest committed run taken in (this instance's or another's).
    pub newest_run: Option<RunId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    /// `None` when the run failed before its manifest was committed.
    pub run_id: Option<RunId>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Committed: the store took the manifest (unreachable targets do not fail a run).
    pub success: bool,
    pub changes: usize,
    pub error: Option<String>,
    /// Committed, but some report pages (or change-index entries) could not be
    /// written: why. The next run writes them.
    pub unpublished: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LatestTarget {
    pub run_id: RunId,
    pub result: TargetRun,
}

impl Status {
    pub fn shared(self) -> SharedStatus {
        Arc::new(RwLock::new(self))
    }

    /// Rebuilds the status from stored runs, newest first.
    pub fn from_history(newest_first: &[Run]) -> Status {
        let mut status = Status::default();
        for run in newest_first.iter().rev() {
            status.record(run);
        }
        status
    }

    /// Takes in a committed run. Runs may arrive out of order (other instances' runs
    /// are read after they commit): the newest run sets the last run, and each target
    /// keeps its newest result.
    pub fn record(&mut self, run: &Run) {
        self.generation += 1;
        if self.newest_run.as_ref().is_none_or(|n| *n <= run.run_id) {
            self.last_run = Some(LastRun {
                run_id: Some(run.run_id.clone()),
                started_at: run.started_at,
                finished_at: run.finished_at,
                success: true,
                changes: run.summary.changes,
                error: None,
                unpublished: None,
            });
            self.last_success_at = Some(run.finished_at);
            self.policy_digest = Some(run.policy_bundle.digest.clone());
            self.newest_run = Some(run.run_id.clone());
        }
        for t in &run.targets {
            if t.status == crate::run::TargetStatus::Ok {
                self.take_collection(t);
            }
            if self.targets.get(&t.name).is_none_or(|l| l.run_id <= run.run_id) {
                self.targets.insert(
                    t.name.clone(),
                    LatestTarget { run_id: run.run_id.clone(), result: t.clone() },
                );
            }
        }
    }

    /// Keeps `t` as the target's newest or previous collection, if it is one of the two
    /// newest seen (collections may arrive out of order; the same one twice is ignored).
    fn take_collection(&mut self, t: &TargetRun) {
        let newest = self.collected.get(&t.name).map(|c| c.collected_at);
        match newest {
            Some(at) if at == t.collected_at => {}
            Some(at) if at > t.collected_at => {
                let previous = self.previous.get(&t.name).map(|p| p.collected_at);
                if previous.is_none_or(|p| p < t.collected_at) {
                    self.previous.insert(t.name.clone(), t.clone());
                }
            }
            _ => {
                if let Some(older) = self.collected.insert(t.name.clone(), t.clone()) {
                    self.previous.insert(t.name.clone(), older);
                }
            }
        }
    }

    /// The collection before the one `latest` holds, when `latest` is that target's
    /// newest collection: what its failures are new against (`None`: none known, so
    /// every failure is new).
    pub fn before(&self, latest: &TargetRun) -> Option<&TargetRun> {
        let newest = self.collected.get(&latest.name)?;
        if newest.collected_at == latest.collected_at {
            self.previous.get(&latest.name)
        } else {
            Some(newest).filter(|n| n.collected_at < latest.collected_at)
        }
    }

    /// Takes in a run that failed (the store refused it).
    pub fn record_failure(
        &mut self,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        error: String,
    ) {
        self.generation += 1;
        self.last_run = Some(LastRun {
            run_id: None,
            started_at,
            finished_at,
            success: false,
            changes: 0,
            error: Some(error),
            unpublished: None,
        });
    }

    /// Marks the committed run `run_id` (already [recorded](Status::record)) as
    /// published incompletely, for `why`.
    pub fn record_unpublished(&mut self, run_id: &RunId, why: String) {
        self.generation += 1;
        if let Some(last) = self.last_run.as_mut().filter(|l| l.run_id.as_ref() == Some(run_id)) {
            last.unpublished = Some(why);
        }
    }

    /// Counts a scheduled tick skipped because the run before was still going.
    pub fn skip_tick(&mut self) {
        self.generation += 1;
        self.skipped_ticks += 1;
    }

    /// Counts a scheduled slot another instance sharing the store claimed.
    pub fn lose_slot(&mut self) {
        self.generation += 1;
        self.slots_lost += 1;
    }

    /// What notifications compare a run of `names` with.
    pub fn previous(&self, names: &[&str]) -> BTreeMap<String, Previous> {
        names
            .iter()
            .map(|n| {
                let previous = Previous {
                    status: self.targets.get(*n).map(|t| t.result.status),
                    collected: self.collected.get(*n).cloned(),
                };
                ((*n).to_owned(), previous)
            })
            .collect()
    }

    /// Forgets targets that are no longer configured.
    pub fn retain_targets(&mut self, names: &[&str]) {
        let before = (self.targets.len(), self.collected.len(), self.previous.len());
        self.targets.retain(|n, _| names.contains(&n.as_str()));
        self.collected.retain(|n, _| names.contains(&n.as_str()));
        self.previous.retain(|n, _| names.contains(&n.as_str()));
        if before != (self.targets.len(), self.collected.len(), self.previous.len()) {
            self.generation += 1;
        }
    }
}

/// Small runs for the unit tests of status consumers (metrics, notifications).
#[cfg(test)]
pub mod fixture {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use crate::diff::Change;
    use crate::finding::{Finding, FindingStatus, Severity};
    use crate::run::{PolicyBundle, Run, RunId, Summary, TargetRun, TargetStatus};
    use crate::snapshot::{Entry, Kind, Role};

    pub fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("fixture time").to_utc()
    }

    pub fn finding(rule: &str, key: &str, severity: Severity, status: FindingStatus) -> Finding {
        Finding {
            rule: rule.into(),
            policy: "p".into(),
            key: key.into(),
            severity,
            status,
            expected: "on".into(),
            actual: Some("off".into()),
            message: format!("{key} is off"),
            rationale: None,
            remediation: None,
            references: Default::default(),
            location: None,
            waiver: None,
            drift: Default::default(),
            restarting: None,
        }
    }

    pub fn change(key: &str, before: &str, after: &str) -> Change {
        Change {
            key: key.into(),
            before: Some(before.into()),
            after: Some(after.into()),
            location: None,
            previous_location: None,
            rollback: None,
        }
    }

    pub fn target(name: &str, status: TargetStatus) -> TargetRun {
        TargetRun {
            name: name.into(),
            kind: Kind::Postgres,
            role: Role::Primary,
            detected_role: None,
            group: None,
            labels: Default::default(),
            address: format!("postgres://auditor@{name}:5432/postgres"),
            status,
            error: (status != TargetStatus::Ok).then(|| "connection refused".to_owned()),
            server_version: None,
            snapshot: None,
            previous_snapshot: None,
            collected_at: at("2026-11-25T16:15:01Z"),
            duration_ms: 5,
            state: Default::default(),
            findings: Default::default(),
            changes: vec![],
            preflight: vec![],
            detail: Default::default(),
        }
    }

    pub fn with_state(mut t: TargetRun, pairs: &[(&str, &str)]) -> TargetRun {
        for (k, v) in pairs {
            Arc::make_mut(&mut t.state).insert((*k).into(), Entry::new(*v));
        }
        t
    }

    pub fn run(id: &str, targets: Vec<TargetRun>) -> Run {
        Run {
            run_id: RunId(id.into()),
            started_at: at("2026-11-25T16:15:00Z"),
            finished_at: at("2026-11-25T16:15:02.5Z"),
            trigger: "schedule".into(),
            driftwatch_version: "0.0.0".into(),
            policy_bundle: PolicyBundle { digest: "d1".into(), policies: vec![], packs: vec![] },
            previous_run: None,
            summary: Summary::of(&targets),
            targets,
            slot: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;
    use crate::run::TargetStatus;

    #[test]
    fn runs_taken_in_out_of_order_keep_the_newest_results() {
        let older = run("20261125T161500.100Z-0001", vec![target("a", TargetStatus::Ok)]);
        let mut newer = run("20261125T161500.200Z-0002", vec![target("a", TargetStatus::Error)]);
        newer.targets[0].collected_at = at("2026-11-25T16:15:02Z");
        let mut status = Status::default();
        status.record(&newer);
        status.record(&older);
        assert_eq!(status.newest_run, Some(newer.run_id.clone()));
        assert_eq!(status.last_run.as_ref().unwrap().run_id, Some(newer.run_id.clone()));
        assert_eq!(status.targets["a"].run_id, newer.run_id);
        // The older run still counts for what the newer one could not collect.
        assert_eq!(status.collected["a"].status, TargetStatus::Ok);
        let b = run("20261125T161500.050Z-0003", vec![target("b", TargetStatus::Ok)]);
        status.record(&b);
        assert_eq!(status.targets["b"].run_id, b.run_id, "another shard's targets are taken in");
        assert_eq!(status.newest_run, Some(newer.run_id));
    }

    fn collected_at(id: &str, at_s: &str) -> Run {
        let mut r = run(id, vec![target("a", TargetStatus::Ok)]);
        r.targets[0].collected_at = at(at_s);
        r
    }

    #[test]
    fn the_previous_collection_is_the_second_newest_in_any_order() {
        let one = collected_at("20261125T161500.100Z-0001", "2026-11-25T16:15:01Z");
        let two = collected_at("20261125T161600.100Z-0002", "2026-11-25T16:16:01Z");
        let three = collected_at("20261125T161700.100Z-0003", "2026-11-25T16:17:01Z");
        for order in [[&one, &two, &three], [&three, &one, &two], [&two, &three, &one]] {
            let mut status = Status::default();
            for r in order {
                status.record(r);
                status.record(r);
            }
            assert_eq!(status.generation, 6, "every run taken in bumps the generation");
            assert_eq!(status.collected["a"].collected_at, three.targets[0].collected_at);
            assert_eq!(status.previous["a"].collected_at, two.targets[0].collected_at);
            let latest = &status.targets["a"].result;
            assert_eq!(
                status.before(latest).map(|b| b.collected_at),
                Some(two.targets[0].collected_at)
            );
        }
        let mut status = Status::default();
        status.record(&one);
        assert!(
            status.before(&status.targets["a"].result).is_none(),
            "a first collection has none"
        );
    }

    #[test]
    fn forgetting_targets_moves_the_generation_only_when_one_is_forgotten() {
        let mut status = Status::default();
        status.record(&run(
            "20261125T161500.100Z-0001",
            vec![target("a", TargetStatus::Ok), target("b", TargetStatus::Ok)],
        ));
        let generation = status.generation;
        status.retain_targets(&["a", "b"]);
        assert_eq!(status.generation, generation, "nothing forgotten: what was derived holds");
        status.retain_targets(&["a"]);
        assert!(status.generation > generation, "b forgotten: derived answers must change");
        assert!(!status.targets.contains_key("b"));
    }
}
