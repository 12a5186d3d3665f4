//! The analytics export: a committed run's changes, findings and per-target summaries
//! as rows of a documented, versioned schema (`docs/exports.md`), written as gzip
//! NDJSON partitioned by date, so DuckDB, Athena/Trino or Spark query years of a
//! fleet's history with no driftwatch process involved. The same partitions answer
//! `driftwatch changes` and `driftwatch findings` ([`Query`]), so a fleet-wide
//! question costs what the window holds, not what the fleet is.
//!
//! Pure: rows from a [`Run`], encoding and decoding, and filtering. The store writes
//! and lists the objects (`store::exports`).
//!
//! Schema version 1 (the `v1` in every path). Columns are only ever added; a change
//! that removes or retypes one is a new version under a new prefix.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::finding::{Finding, FindingStatus, Severity};
use crate::run::{Run, RunId, TargetRun, TargetStatus};
use crate::snapshot::{Kind, PENDING_PREFIX, Role};

/// The schema version this build writes (the `v<N>` path segment).
pub const SCHEMA_VERSION: u32 = 1;

/// The three datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dataset {
    /// One row per changed key per target per run.
    Changes,
    /// One row per finding that did not pass (fail, waived, error) per target per run,
    /// pre-flight findings included.
    Findings,
    /// One row per target per run: status and counts.
    Targets,
}

impl Dataset {
    pub const ALL: [Dataset; 3] = [Dataset::Changes, Dataset::Findings, Dataset::Targets];

    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Changes => "changes",
            Dataset::Findings => "findings",
            Dataset::Targets => "targets",
        }
    }
}

/// What every row says about the run and target it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowTarget {
    pub run_id: RunId,
    pub run_started_at: DateTime<Utc>,
    pub collected_at: DateTime<Utc>,
    pub target: String,
    pub kind: Kind,
    /// The declared role.
    pub role: Role,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A row of `changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    #[serde(flatten)]
    pub at: RowTarget,
    pub key: String,
    /// `None`: the key appeared.
    pub before: Option<String>,
    /// `None`: the key went away.
    pub after: Option<String>,
    pub location: Option<String>,
    pub previous_location: Option<String>,
    /// For `pending.<name>` keys: the value waits for the next restart (the live one is
    /// `setting.<name>`).
    pub pending: bool,
}

/// A row of `findings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRow {
    #[serde(flatten)]
    pub at: RowTarget,
    pub rule: String,
    pub policy: String,
    pub key: String,
    pub severity: Severity,
    pub status: FindingStatus,
    pub expected: String,
    pub actual: Option<String>,
    pub location: Option<String>,
    pub waiver_reason: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub waiver_expires: Option<String>,
    /// The waiver matched but has expired: it no longer waives.
    pub waiver_expired: bool,
    /// A restart pre-flight finding: what the next restart would break.
    pub preflight: bool,
}

/// A row of `targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRow {
    #[serde(flatten)]
    pub at: RowTarget,
    pub status: TargetStatus,
    pub error: Option<String>,
    pub detected_role: Option<Role>,
    pub server_version: Option<String>,
    pub snapshot: Option<String>,
    pub changes: usize,
    pub failing_critical: usize,
    pub failing_high: usize,
    pub failing_medium: usize,
    pub failing_low: usize,
    pub failing_info: usize,
    pub waived: usize,
    pub errors: usize,
    pub passed: usize,
    pub duration_ms: u64,
}

/// A run's rows, by dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    pub changes: Vec<ChangeRow>,
    pub findings: Vec<FindingRow>,
    pub targets: Vec<TargetRow>,
}

impl Rows {
    /// The rows of one committed run (findings resolved, as `Store::get_run` gives it).
    pub fn of(run: &Run) -> Rows {
        let mut rows = Rows::default();
        for t in &run.targets {
            let at = row_target(run, t);
            for c in &t.changes {
                rows.changes.push(ChangeRow {
                    at: at.clone(),
                    key: c.key.clone(),
                    before: c.before.clone(),
                    after: c.after.clone(),
                    location: c.location.clone(),
                    previous_location: c.previous_location.clone(),
                    pending: c.key.starts_with(PENDING_PREFIX),
                });
            }
            let live = t.findings.iter().map(|f| (f, false));
            let preflight = t.preflight.iter().map(|f| (f, true));
            for (f, preflight) in live.chain(preflight).filter(|(f, _)| exported(f)) {
                rows.findings.push(finding_row(&at, f, preflight));
            }
            rows.targets.push(target_row(at, t));
        }
        rows
    }

    /// One dataset's rows as NDJSON, gzip-compressed (deterministic: no file name or
    /// time in the header). `None` when it has no rows.
    pub fn encode(&self, dataset: Dataset) -> Option<Vec<u8>> {
        match dataset {
            Dataset::Changes => gzip_lines(&self.changes),
            Dataset::Findings => gzip_lines(&self.findings),
            Dataset::Targets => gzip_lines(&self.targets),
        }
    }
}

/// The statuses the findings dataset keeps: what needs attention or a record. Passes
/// and not-applicable verdicts are counted in `targets`, not listed.
fn exported(f: &Finding) -> bool {
    matches!(f.status, FindingStatus::Fail | FindingStatus::Waived | FindingStatus::Error)
}

fn row_target(run: &Run, t: &TargetRun) -> RowTarget {
    RowTarget {
        run_id: run.run_id.clone(),
        run_started_at: run.started_at,
        collected_at: t.collected_at,
        target: t.name.clone(),
        kind: t.kind,
        role: t.role,
        group: t.group.clone(),
        labels: t.labels.clone(),
    }
}

fn finding_row(at: &RowTarget, f: &Finding, preflight: bool) -> FindingRow {
    FindingRow {
        at: at.clone(),
        rule: f.rule.clone(),
        policy: f.policy.clone(),
        key: f.key.clone(),
        severity: f.severity,
        status: f.status,
        expected: f.expected.clone(),
        actual: f.actual.clone(),
        location: f.location.clone(),
        waiver_reason: f.waiver.as_ref().map(|w| w.reason.clone()),
        waiver_expires: f.waiver.as_ref().map(|w| w.expires.clone()),
        waiver_expired: f.waiver.as_ref().is_some_and(|w| w.expired),
        preflight,
    }
}

fn target_row(at: RowTarget, t: &TargetRun) -> TargetRow {
    let count = |pred: &dyn Fn(&Finding) -> bool| t.findings.iter().filter(|f| pred(f)).count();
    let failing = |s: Severity| count(&|f| f.status == FindingStatus::Fail && f.severity == s);
    TargetRow {
        at,
        status: t.status,
        error: t.error.clone(),
        detected_role: t.detected_role,
        server_version: t.server_version.clone(),
        snapshot: t.snapshot.as_ref().map(|d| d.0.clone()),
        changes: t.changes.len(),
        failing_critical: failing(Severity::Critical),
        failing_high: failing(Severity::High),
        failing_medium: failing(Severity::Medium),
        failing_low: failing(Severity::Low),
        failing_info: failing(Severity::Info),
        waived: count(&|f| f.status == FindingStatus::Waived),
        errors: count(&|f| f.status == FindingStatus::Error),
        passed: count(&|f| f.status == FindingStatus::Pass),
        duration_ms: t.duration_ms,
    }
}

fn gzip_lines<T: Serialize>(rows: &[T]) -> Option<Vec<u8>> {
    if rows.is_empty() {
        return None;
    }
    // The lines first, then one write: serde_json writes a row token by token, and
    // each write into the encoder zeroed its 32 KiB output buffer (flate2's
    // `run_vec`): that memset was 45% of an unchanged 100-target re-audit's
    // instructions (callgrind, BENCHMARKS.md fifth round). Same compressed bytes.
    let mut lines = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut lines, row).expect("a row serializes");
        lines.push(b'\n');
    }
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    gz.write_all(&lines).expect("writing to memory");
    Some(gz.finish().expect("writing to memory"))
}

/// Why an export object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not gzip: {0}")]
    Gzip(std::io::Error),
    #[error("line {line}: {source}")]
    Row { line: usize, source: serde_json::Error },
}

/// The rows of one export object.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, DecodeError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).map_err(DecodeError::Gzip)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| DecodeError::Row { line: i + 1, source })
        })
        .collect()
}

/// A fleet-wide question: rows in a time window, narrowed by key, target, labels, rule
/// and status. Times compare with each row's `collected_at`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `max_connections` matches `setting.max_connections` and
    /// `pending.max_connections`; a key with a namespace matches only itself.
    pub key: Option<String>,
    /// `*` any run of characters, `?` one; anything else literal.
    pub target: Option<String>,
    /// Every one must hold.
    pub labels: Vec<(String, String)>,
    pub rule: Option<String>,
    pub statuses: Vec<FindingStatus>,
    pub severity_at_least: Option<Severity>,
}

impl Query {
    fn matches_target(&self, at: &RowTarget) -> bool {
        self.since.is_none_or(|s| at.collected_at >= s)
            && self.until.is_none_or(|u| at.collected_at <= u)
            && self.target.as_deref().is_none_or(|g| glob(g, &at.target))
            && self.labels.iter().all(|(k, v)| at.labels.get(k) == Some(v))
    }

    pub fn matches_change(&self, row: &ChangeRow) -> bool {
        self.matches_target(&row.at) && self.key.as_deref().is_none_or(|k| key_matches(k, &row.key))
    }

    pub fn matches_finding(&self, row: &FindingRow) -> bool {
        self.matches_target(&row.at)
            && self.key.as_deref().is_none_or(|k| key_matches(k, &row.key))
            && self.rule.as_deref().is_none_or(|r| r.eq_ignore_ascii_case(&row.rule))
            && (self.statuses.is_empty() || self.statuses.contains(&row.status))
            && self.severity_at_least.is_none_or(|s| row.severity >= s)
    }

    /// Whether a run started at `started` can hold rows collected in the window (a run
    /// collects after it starts, within its deadline: an hour of leeway).
    pub fn may_hold(&self, started: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| started >= s - chrono::Duration::hours(1))
            && self.until.is_none_or(|u| started <= u)
    }
}

/// Whether `wanted` (as typed) names `key`.
pub fn key_matches(wanted: &str, key: &str) -> bool {
    if wanted == key {
        return true;
    }
    if wanted.contains('.') {
        return false;
    }
    ["setting.", PENDING_PREFIX].iter().any(|ns| key.strip_prefix(ns) == Some(wanted))
}

/// `*` and `?` wildcards over the whole text.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written in one piece or token by token (as before), the same bytes: an export
    /// object is create-only, and a retried write must meet its own bytes.
    #[test]
    fn compressed_lines_do_not_depend_on_how_they_were_written() {
        let rows: Vec<serde_json::Value> = (0..2000)
            .map(|i| serde_json::json!({ "i": i, "target": format!("db{i:04}"), "x": "y".repeat(i % 50) }))
            .collect();
        let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
        for row in &rows {
            serde_json::to_writer(&mut gz, row).unwrap();
            gz.write_all(b"\n").unwrap();
        }
        assert_eq!(gzip_lines(&rows).unwrap(), gz.finish().unwrap());
    }

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*", "anything", true),
            ("orders-*", "orders-primary", true),
            ("orders-*", "billing-primary", false),
            ("*-replica", "orders-replica", true),
            ("db?", "db1", true),
            ("db?", "db12", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("exact", "exact", true),
        ] {
            assert_eq!(glob(p, t), want, "{p} on {t}");
        }
    }

    #[test]
    fn keys_match_live_and_pending_values_unless_namespaced() {
        assert!(key_matches("max_connections", "setting.max_connections"));
        assert!(key_matches("max_connections", "pending.max_connections"));
        assert!(!key_matches("max_connections", "setting.max_connections_x"));
        assert!(key_matches("setting.work_mem", "setting.work_mem"));
        assert!(!key_matches("setting.work_mem", "pending.work_mem"));
    }

    #[test]
    fn rows_round_trip_through_gzip_ndjson() {
        let rows = vec![serde_json::json!({"a": 1}), serde_json::json!({"a": 2})];
        let bytes = gzip_lines(&rows).unwrap();
        assert_eq!(bytes, gzip_lines(&rows).unwrap(), "deterministic");
        let back: Vec<serde_json::Value> = decode(&bytes).unwrap();
        assert_eq!(back, rows);
        assert!(gzip_lines::<serde_json::Value>(&[]).is_none());
        assert!(decode::<serde_json::Value>(b"plain").is_err());
    }
}
