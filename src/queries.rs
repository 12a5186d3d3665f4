//! Questions ops teams ask of the history during an incident: what changed on a target
//! (from the change index, never by reading every manifest), what a target looked like
//! at a run or a time, and the last run where it passed every rule.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::finding::FindingStatus;
use crate::run::{RunId, TargetRun, TargetStatus};
use crate::snapshot::{Digest, Snapshot};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The question names something the history does not have.
    #[error("{0}")]
    NotFound(String),
    /// The question itself is malformed.
    #[error("{0}")]
    Usage(String),
}

/// One changed setting in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    pub run_id: RunId,
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
}

/// Every change of `target`'s configuration since `since` (all when `None`), newest
/// first; `key` narrows to one setting (`wal_level` or `setting.wal_level`).
pub async fn changes(
    store: &Store,
    target: &str,
    key: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<HistoryRow>, HistoryError> {
    let after = since.map(|t| RunId::new(t, 0));
    let mut rows = Vec::new();
    for entry in store.changes_of(target, after.as_ref()).await? {
        for change in entry.changes {
            if key.is_some_and(|k| !key_matches(k, &change.key)) {
                continue;
            }
            rows.push(HistoryRow {
                at: entry.collected_at,
                run_id: entry.run_id.clone(),
                key: change.key,
                before: change.before,
                after: change.after,
                location: change.location,
                rollback: change.rollback,
            });
        }
    }
    rows.reverse();
    Ok(rows)
}

/// Whether `--key wanted` names snapshot key `key`: a full key (with a `.`) exactly; a
/// bare setting name its live value and the value awaiting a restart (`setting.K`,
/// `pending.K`), so a change made with `ALTER SYSTEM` and not applied yet is found.
pub fn key_matches(wanted: &str, key: &str) -> bool {
    if wanted.contains('.') {
        return wanted == key;
    }
    key.strip_prefix("setting.").or_else(|| key.strip_prefix("pending.")) == Some(wanted)
}

/// Whether a question may name `name`: a target in `config`, or one the stored
/// history has (a target removed from the config keeps its history). Anything else is
/// a typo: [`HistoryError::NotFound`] with the closest configured name.
pub async fn known_target(config: &Config, store: &Store, name: &str) -> Result<(), HistoryError> {
    let configured = || config.targets.iter().map(|t| t.name.as_str());
    if configured().any(|t| t == name) || !store.changes_of(name, None).await?.is_empty() {
        return Ok(());
    }
    let hint = match did_you_mean(name, configured()) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => String::new(),
    };
    Err(HistoryError::NotFound(format!(
        "no target `{name}` in {} or in the stored history{hint}",
        config.file.display()
    )))
}

/// The closest of `known` to a mistyped `name`, when one is close enough to suggest.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// A point in a target's history: `target`, `target@<run-id>` or `target@<time>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    Latest(String),
    Run(String, RunId),
    Time(String, DateTime<Utc>),
}

impl Point {
    pub fn parse(spec: &str, now: DateTime<Utc>) -> Result<Point, HistoryError> {
        let Some((target, at)) = spec.split_once('@') else {
            return Ok(Point::Latest(spec.to_owned()));
        };
        let target = target.to_owned();
        let id = RunId(at.to_owned());
        if id.timestamp().is_some() && at.contains('-') {
            return Ok(Point::Run(target, id));
        }
        crate::when::parse(at, now).map(|t| Point::Time(target, t)).map_err(HistoryError::Usage)
    }

    pub fn target(&self) -> &str {
        match self {
            Point::Latest(t) | Point::Run(t, _) | Point::Time(t, _) => t,
        }
    }
}

/// What a target looked like at a point: the run, the target's result in it, and the
/// stored snapshot.
#[derive(Debug, Clone)]
pub struct AtPoint {
    pub run_id: RunId,
    pub result: TargetRun,
    pub digest: Digest,
    pub snapshot: Snapshot,
}

/// Finds the snapshot of a target at a point: the latest run at or before it in which
/// the target was collected. Reads manifests newest first from there, and only until
/// it finds one.
pub async fn at(store: &Store, point: &Point) -> Result<AtPoint, HistoryError> {
    let target = point.target();
    let ids = store.list_runs().await?;
    let upto: Vec<&RunId> = match point {
        Point::Latest(_) => ids.iter().collect(),
        Point::Run(_, id) => {
            if !ids.contains(id) {
                return Err(HistoryError::NotFound(format!("no run {id} in the store")));
            }
            ids.iter().filter(|r| *r <= id).collect()
        }
        Point::Time(_, t) => {
            ids.iter().filter(|r| r.timestamp().is_some_and(|s| s <= *t)).collect()
        }
    };
    for id in upto.into_iter().rev() {
        if let Some(found) = collected_in(store, id, target).await? {
            return Ok(found);
        }
    }
    // Say where the history starts, so the next question can be a good one (from the
    // run ids alone: no manifest is read for it).
    let starts = match ids.first() {
        None => "the store holds no run yet".to_owned(),
        Some(oldest) => format!(
            "the stored history starts at run {oldest}{}",
            oldest
                .timestamp()
                .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
        ),
    };
    Err(HistoryError::NotFound(format!(
        "no collected snapshot of `{target}` at or before that point: {starts}"
    )))
}

/// The latest run where `target` was collected and no rule failed.
pub async fn last_pass(store: &Store, target: &str) -> Result<AtPoint, HistoryError> {
    for id in store.list_runs().await?.iter().rev() {
        if let Some(found) = collected_in(store, id, target).await?
            && !found.result.findings.iter().any(|f| f.status == FindingStatus::Fail)
        {
            return Ok(found);
        }
    }
    Err(HistoryError::NotFound(format!("`{target}` never passed every rule in the stored history")))
}

/// A rule failing in the target's latest run, and the newest earlier run in which it
/// passed (`None`: it never did in the stored history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoodRun {
    pub rule: String,
    pub key: String,
    pub run_id: Option<RunId>,
    /// The configuration keys whose values that run's snapshot supplies.
    pub keys: Vec<String>,
}

/// `rollback --to last-good`: the latest snapshot with, for each rule failing now, the
/// values of the newest run in which that rule passed (a key two rules share takes
/// the newer run's value).
#[derive(Debug, Clone)]
pub struct LastGood {
    pub current: AtPoint,
    pub desired: Snapshot,
    pub picks: Vec<GoodRun>,
}

pub async fn last_good(store: &Store, target: &str) -> Result<LastGood, HistoryError> {
    let current = at(store, &Point::Latest(target.to_owned())).await?;
    let mut open: Vec<(String, String)> = current
        .result
        .findings
        .iter()
        .filter(|f| f.status == FindingStatus::Fail)
        .map(|f| (f.rule.clone(), f.key.clone()))
        .collect();
    let mut desired = current.snapshot.clone();
    let mut taken = std::collections::BTreeSet::new();
    let mut picks = Vec::new();
    for id in store.list_runs().await?.iter().rev().filter(|id| **id < current.run_id) {
        if open.is_empty() {
            break;
        }
        let Some(found) = collected_in(store, id, target).await? else { continue };
        let passed = |rule: &str| {
            found.result.findings.iter().any(|f| f.rule == rule && f.status == FindingStatus::Pass)
        };
        let (now_good, still): (Vec<_>, Vec<_>) = open.into_iter().partition(|(r, _)| passed(r));
        open = still;
        for (rule, key) in now_good {
            let keys = crate::rollback::adopt(&mut desired, &found.snapshot, &key, &mut taken);
            picks.push(GoodRun { rule, key, run_id: Some(id.clone()), keys });
        }
    }
    picks.extend(open.into_iter().map(|(rule, key)| GoodRun {
        rule,
        key,
        run_id: None,
        keys: vec![],
    }));
    picks.sort_by(|a, b| a.rule.cmp(&b.rule));
    Ok(LastGood { current, desired, picks })
}

async fn collected_in(
    store: &Store,
    id: &RunId,
    target: &str,
) -> Result<Option<AtPoint>, HistoryError> {
    let run = store.get_run(id).await?;
    let Some(result) = run.targets.into_iter().find(|t| t.name == target) else { return Ok(None) };
    let (TargetStatus::Ok, Some(digest)) = (result.status, result.snapshot.clone()) else {
        return Ok(None);
    };
    let snapshot = store.get_snapshot(target, &digest).await?;
    Ok(Some(AtPoint { run_id: id.clone(), result, digest, snapshot }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T16:15:00Z").unwrap().to_utc()
    }

    #[test]
    fn points() {
        assert_eq!(Point::parse("db1", now()).unwrap(), Point::Latest("db1".into()));
        assert_eq!(
            Point::parse("db1@20261125T161500Z-3f9a", now()).unwrap(),
            Point::Run("db1".into(), RunId("20261125T161500Z-3f9a".into()))
        );
        assert_eq!(
            Point::parse("db1@2h", now()).unwrap(),
            Point::Time(
                "db1".into(),
                DateTime::parse_from_rfc3339("2026-11-25T14:15:00Z").unwrap().to_utc()
            )
        );
        assert!(Point::parse("db1@soon", now()).is_err());
    }
}
