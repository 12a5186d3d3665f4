//! The run manifest: everything one audit run found, per target. It is what the store
//! commits (written last), what `audit --output json` prints, and what reports read.
//! [`RunOutline`] is a committed run without its findings, as readers that need only
//! snapshots, states and changes get it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::diff::Change;
use crate::finding::{Finding, FindingStatus, Severity};
use crate::snapshot::{Digest, Kind, Role, State};

/// A run's id: sorts by time (to the millisecond), unique enough for several
/// instances (`20261125T161500.123Z-3f9a`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub String);

/// A value unlikely to repeat between calls and processes (randomly keyed hash of the
/// time and the process id): run id suffixes, `serve` instance ids. Not a secret.
pub fn nonce() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl RunId {
    pub fn new(started_at: DateTime<Utc>, entropy: u16) -> RunId {
        RunId(format!("{}-{entropy:04x}", started_at.format("%Y%m%dT%H%M%S%.3fZ")))
    }

    /// The run's start as encoded in its id, if the id is well formed (ids without
    /// milliseconds, `20261125T161500Z-3f9a`, are read too).
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        let stamp = self.0.split('-').next()?;
        ["%Y%m%dT%H%M%S%.3fZ", "%Y%m%dT%H%M%SZ"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(stamp, f).ok())
            .map(|n| n.and_utc())
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One policy file as a run used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub name: String,
    pub version: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// Path relative to the policies folder, `/`-separated.
    pub path: String,
    /// The pack the file belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
}

/// The exact set of policies a run evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBundle {
    /// sha256 over the sorted (path, sha256) pairs: the same files give the same digest.
    pub digest: String,
    pub policies: Vec<PolicyRef>,
    /// The packs the run chose (`[policies] packs`); files of other packs did not run.
    /// Empty in runs recorded before packs existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<String>,
}

/// Whether driftwatch could collect a target at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Collected; findings and changes are meaningful.
    Ok,
    /// Could not connect (refused, DNS, timeout before the server answered).
    Unreachable,
    /// Connected but collection failed (permission, query error, deadline).
    Error,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Ok => "ok",
            TargetStatus::Unreachable => "unreachable",
            TargetStatus::Error => "error",
        }
    }
}

/// Everything one run learned about one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRun {
    pub name: String,
    pub kind: Kind,
    /// The role the config declares.
    pub role: Role,
    /// The role the server reported, when collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Connection address with any password removed (`postgres://auditor@db1:5432/postgres`).
    pub address: String,
    pub status: TargetStatus,
    /// Why collection failed, when it did (already redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Digest of the stable snapshot, stored at `snapshots/<target>/<digest>.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Digest>,
    /// Digest of the snapshot the changes were computed against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_snapshot: Option<Digest>,
    pub collected_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Shared: runs read back for the reports share one map while a target's state
    /// stays the same (most of an earlier run's memory was these maps otherwise).
    #[serde(default, skip_serializing_if = "is_empty_state")]
    pub state: Arc<State>,
    /// Shared: runs read back from the store share one list per distinct set of
    /// findings (an unchanged target's findings are the same run after run). Absent
    /// from a stored manifest, which refers to them by digest.
    #[serde(default)]
    pub findings: Arc<Vec<Finding>>,
    pub changes: Vec<Change>,
    /// Restart pre-flight: what the next restart (or reload) of this target, or of its
    /// group's primary, would break here, from the policies evaluated against the
    /// configuration with every `pending.<name>` value applied. Only outcomes that the
    /// pending values cause; `drift` and `restarting` say when and whose restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<Finding>,
    /// Whether `findings` and `state` are whole, or the outline comparing runs needs
    /// (set by the store's outlined history read, never stored).
    #[serde(skip)]
    pub detail: Detail,
}

/// How much of a collection a [`TargetRun`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Everything the manifest and its findings object say.
    #[default]
    Whole,
    /// What comparing runs needs, as `Store::recent_runs_outlined` reads earlier
    /// collections: findings as [`Finding::outline`]s (rule, setting, severity,
    /// status, waiver, drift; no message, expected or observed value) and only the
    /// state entries the reader asked for. Nothing may show such a collection's
    /// findings' text or values: a blank there would read as "no value".
    Outline,
}

impl TargetRun {
    /// Failing findings (not waived) at or above `severity`.
    pub fn failing_at_least(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status == FindingStatus::Fail && f.severity >= severity)
            .count()
    }
}

/// Counts over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub targets: usize,
    pub targets_ok: usize,
    pub targets_unreachable: usize,
    pub targets_error: usize,
    /// Findings by status (`pass`, `fail`, …).
    pub findings: BTreeMap<String, usize>,
    /// Failing findings by severity.
    pub failing_by_severity: BTreeMap<String, usize>,
    pub changes: usize,
    /// Failing (or not evaluable) pre-flight findings: what the next restarts would break.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub preflight: usize,
}

fn is_empty_state(state: &Arc<State>) -> bool {
    state.is_empty()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(targets: &[TargetRun]) -> Summary {
        let mut s = Summary { targets: targets.len(), ..Summary::default() };
        for t in targets {
            match t.status {
                TargetStatus::Ok => s.targets_ok += 1,
                TargetStatus::Unreachable => s.targets_unreachable += 1,
                TargetStatus::Error => s.targets_error += 1,
            }
            for f in t.findings.iter() {
                *s.findings.entry(f.status.as_str().to_owned()).or_default() += 1;
                if f.status == FindingStatus::Fail {
                    *s.failing_by_severity.entry(f.severity.as_str().to_owned()).or_default() += 1;
                }
            }
            s.changes += t.changes.len();
            s.preflight += t
                .preflight
                .iter()
                .filter(|f| matches!(f.status, FindingStatus::Fail | FindingStatus::Error))
                .count();
        }
        s
    }

    pub fn failing(&self) -> usize {
        self.findings.get("fail").copied().unwrap_or(0)
    }
}

/// One audit run: the manifest the store commits last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: RunId,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `manual` (CLI), `schedule`, …
    pub trigger: String,
    pub driftwatch_version: String,
    pub policy_bundle: PolicyBundle,
    /// The run before this one, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_run: Option<RunId>,
    pub targets: Vec<TargetRun>,
    pub summary: Summary,
    /// The scheduled slot this run was claimed for (`serve` only; see [`Slot`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
}

/// One scheduled slot: a schedule's cron tick (to the second), and the shard of the
/// targets when the fleet is sharded. Every instance sharing a store computes the same
/// slot for the same tick; the store's lease on it says which instance ran it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    /// The schedule's key: `service` for `[schedule] cron`, `cron-<hash>` for a
    /// per-target pattern. Path-safe (a-z, 0-9, `-`).
    pub schedule: String,
    /// The cron tick, whole seconds, UTC.
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// Shard `index` of `count` (`index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Run {
    pub fn target(&self, name: &str) -> Option<&TargetRun> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The run without its findings and pre-flight: what [`RunOutline`] holds.
    pub fn outline(&self) -> RunOutline {
        RunOutline {
            run_id: self.run_id.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            trigger: self.trigger.clone(),
            driftwatch_version: self.driftwatch_version.clone(),
            policy_bundle: self.policy_bundle.clone(),
            previous_run: self.previous_run.clone(),
            targets: self.targets.iter().map(TargetRun::outline).collect(),
            summary: self.summary.clone(),
            slot: self.slot.clone(),
        }
    }
}

impl TargetRun {
    /// What was collected and changed, without findings and pre-flight.
    pub fn outline(&self) -> TargetOutline {
        TargetOutline {
            name: self.name.clone(),
            kind: self.kind,
            role: self.role,
            detected_role: self.detected_role,
            group: self.group.clone(),
            labels: self.labels.clone(),
            address: self.address.clone(),
            status: self.status,
            error: self.error.clone(),
            server_version: self.server_version.clone(),
            snapshot: self.snapshot.clone(),
            previous_snapshot: self.previous_snapshot.clone(),
            collected_at: self.collected_at,
            duration_ms: self.duration_ms,
            state: self.state.clone(),
            changes: self.changes.clone(),
        }
    }
}

/// A committed run without findings: what was collected, from which snapshots, what
/// changed, and the run's counts. Read from a manifest without reading a findings
/// object (`Store::get_run_outline`); what the change index, `gc`, the previous
/// collection and borrowed group members need. A [`Run`] has the findings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunOutline {
    pub run_id: RunId,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub trigger: String,
    pub driftwatch_version: String,
    pub policy_bundle: PolicyBundle,
    #[serde(default)]
    pub previous_run: Option<RunId>,
    pub targets: Vec<TargetOutline>,
    pub summary: Summary,
    #[serde(default)]
    pub slot: Option<Slot>,
}

/// One target of a [`RunOutline`]: a [`TargetRun`] without findings and pre-flight.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TargetOutline {
    pub name: String,
    pub kind: Kind,
    pub role: Role,
    #[serde(default)]
    pub detected_role: Option<Role>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub address: String,
    pub status: TargetStatus,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub server_version: Option<String>,
    #[serde(default)]
    pub snapshot: Option<Digest>,
    #[serde(default)]
    pub previous_snapshot: Option<Digest>,
    pub collected_at: DateTime<Utc>,
    pub duration_ms: u64,
    #[serde(default)]
    pub state: Arc<State>,
    pub changes: Vec<Change>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_sorts_by_time_and_round_trips() {
        let t1 = DateTime::parse_from_rfc3339("2026-11-25T16:15:00Z").unwrap().to_utc();
        let t2 = DateTime::parse_from_rfc3339("2026-11-25T16:20:00Z").unwrap().to_utc();
        let a = RunId::new(t1, 0xffff);
        let b = RunId::new(t2, 0x0001);
        let c = RunId::new(t2 + chrono::Duration::milliseconds(7), 0x0000);
        assert_eq!(a.0, "20261125T161500.000Z-ffff");
        assert!(a < b && b < c);
        assert_eq!(a.timestamp(), Some(t1));
        assert_eq!(c.timestamp(), Some(t2 + chrono::Duration::milliseconds(7)));
        assert_eq!(RunId("20261125T161500Z-3f9a".into()).timestamp(), Some(t1));
    }

    /// The JSON of a run is a contract (`audit --output json`, the stored manifest):
    /// field names change only on purpose.
    #[test]
    fn json_contract() {
        use crate::diff::Change;
        use crate::finding::{AppliedWaiver, Finding};
        use crate::snapshot::Entry;

        let at = DateTime::parse_from_rfc3339("2026-11-25T16:15:00Z").unwrap().to_utc();
        let finding = Finding {
            rule: "PG-REPL-001".into(),
            policy: "postgres-replication".into(),
            key: "setting.wal_level".into(),
            severity: Severity::Critical,
            status: FindingStatus::Fail,
            expected: "one of replica, logical".into(),
            actual: Some("minimal".into()),
            message: "wal_level is minimal".into(),
            rationale: Some("Replicas need WAL.".into()),
            remediation: Some("ALTER SYSTEM SET wal_level = 'replica';".into()),
            references: Default::default(),
            location: Some("postgresql.auto.conf:3".into()),
            waiver: Some(AppliedWaiver {
                reason: "r".into(),
                expires: "2026-01-01".into(),
                expired: true,
            }),
            drift: Default::default(),
            restarting: None,
        };
        let mut state = State::new();
        state.insert("state.replicas.count".into(), Entry::new("1"));
        let target = TargetRun {
            name: "db1".into(),
            kind: Kind::Postgres,
            role: Role::Primary,
            detected_role: Some(Role::Primary),
            group: Some("orders".into()),
            labels: [("env".to_owned(), "prod".to_owned())].into(),
            address: "postgres://auditor@db1:5432/postgres".into(),
            status: TargetStatus::Ok,
            error: None,
            server_version: Some("15.20".into()),
            snapshot: Some(Digest("ab".repeat(32))),
            previous_snapshot: Some(Digest("cd".repeat(32))),
            collected_at: at,
            duration_ms: 42,
            state: state.into(),
            findings: vec![finding].into(),
            changes: vec![Change {
                key: "setting.wal_level".into(),
                before: Some("replica".into()),
                after: Some("minimal".into()),
                location: Some("postgresql.auto.conf:3".into()),
                previous_location: None,
                rollback: Some("ALTER SYSTEM SET wal_level = 'replica';".into()),
            }],
            preflight: vec![],
            detail: Default::default(),
        };
        let targets = vec![target];
        let run = Run {
            run_id: RunId::new(at, 0x3f9a),
            started_at: at,
            finished_at: at,
            trigger: "manual".into(),
            driftwatch_version: "0.1.0".into(),
            policy_bundle: PolicyBundle {
                digest: "ef".repeat(32),
                policies: vec![PolicyRef {
                    name: "postgres-replication".into(),
                    version: "1".into(),
                    sha256: "01".repeat(32),
                    path: "postgres/replication.toml".into(),
                    pack: None,
                }],
                packs: vec![],
            },
            previous_run: Some(RunId("20261125T161000Z-0001".into())),
            summary: Summary::of(&targets),
            targets,
            slot: None,
        };
        insta::assert_json_snapshot!(run);
        let back: Run = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(back, run);
    }
}
