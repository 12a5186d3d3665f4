//! The JSON API: runs (paged, newest first), one manifest, the latest status of each
//! target, and one target's changes across recent runs. Read-only.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, not_found, store_error};
use crate::finding::Severity;
use crate::run::RunId;
use crate::store::layout;

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 200;
const DEFAULT_SCAN: usize = 50;
const MAX_SCAN: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    /// Page size (1–200, default 20).
    limit: Option<usize>,
    /// Only runs older than this run id: pass the previous page's `next_before`.
    before: Option<String>,
}

/// `GET /api/runs?limit=&before=`: `{runs: [{run_id, started_at, finished_at,
/// trigger, targets, summary}], next_before}`, newest first.
pub async fn runs(State(state): State<AppState>, Query(q): Query<RunsQuery>) -> Response {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let ids = match state.store.list_runs().await {
        Ok(ids) => ids,
        Err(e) => return store_error(e),
    };
    let older: Vec<&RunId> =
        ids.iter().rev().filter(|id| q.before.as_ref().is_none_or(|b| id.0 < *b)).collect();
    let mut page = Vec::new();
    // The page shows no findings: each manifest alone, no findings object read.
    for id in older.iter().take(limit) {
        match state.store.get_run_outline(id).await {
            Ok(run) => page.push(json!({
                "run_id": run.run_id,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "trigger": run.trigger,
                "targets": run.targets.iter().map(|t| &t.name).collect::<Vec<_>>(),
                "summary": run.summary,
            })),
            Err(e) => return store_error(e),
        }
    }
    let next_before = (older.len() > limit).then(|| older[limit - 1].0.clone());
    Json(json!({ "runs": page, "next_before": next_before })).into_response()
}

/// `GET /api/runs/{id}`: the run manifest as `audit --output json` prints it (the
/// stored form refers to findings by digest; they are resolved here).
pub async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let plain = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && !id.contains("..")
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        return not_found("no such run");
    }
    let path = layout::run(&RunId(id.clone())).to_string();
    match state.store.find_bytes(&path).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found("no such run"),
        Err(e) => return store_error(e),
    }
    match state.store.get_run(&RunId(id)).await {
        Ok(run) => {
            let bytes = serde_json::to_vec_pretty(&run).expect("a run always serializes");
            ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `GET /api/targets`: each configured target as the newest run that audited it saw
/// it; `status = "pending"` before its first audit.
pub async fn targets(State(state): State<AppState>) -> Response {
    let status = state.status.read().expect("status lock");
    let list: Vec<Value> = state
        .targets
        .iter()
        .map(|name| match status.targets.get(name) {
            None => json!({ "name": name, "status": "pending" }),
            Some(latest) => {
                let t = &latest.result;
                let failing: serde_json::Map<String, Value> = Severity::DESCENDING
                    .iter()
                    .map(|s| {
                        let n = t
                            .findings
                            .iter()
                            .filter(|f| {
                                f.severity == *s && f.status == crate::finding::FindingStatus::Fail
                            })
                            .count();
                        (s.as_str().to_owned(), json!(n))
                    })
                    .collect();
                json!({
                    "name": t.name,
                    "kind": t.kind,
                    "role": t.role,
                    "detected_role": t.detected_role,
                    "group": t.group,
                    "status": t.status,
                    "error": t.error,
                    "server_version": t.server_version,
                    "run_id": latest.run_id,
                    "collected_at": t.collected_at,
                    "snapshot": t.snapshot,
                    "failing": failing,
                    "changes": t.changes.len(),
                })
            }
        })
        .collect();
    Json(json!({ "targets": list })).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    /// How many recent runs to look through (default 50, at most 1000).
    runs: Option<usize>,
}

/// `GET /api/targets/{name}/changes?runs=`: the target's changes in recent runs,
/// newest first: `{target, changes: [{at, run_id, key, before, after, location,
/// previous_location}]}`.
pub async fn changes(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ChangesQuery>,
) -> Response {
    let known = state.targets.contains(&name)
        || state.status.read().expect("status lock").targets.contains_key(&name);
    if !known {
        return not_found("no such target");
    }
    let scan = q.runs.unwrap_or(DEFAULT_SCAN).clamp(1, MAX_SCAN);
    let ids = match state.store.list_runs().await {
        Ok(ids) => ids,
        Err(e) => return store_error(e),
    };
    let mut out = Vec::new();
    // Changes are in the manifest itself: no findings object is read.
    for id in ids.iter().rev().take(scan) {
        let run = match state.store.get_run_outline(id).await {
            Ok(run) => run,
            Err(e) => return store_error(e),
        };
        let Some(t) = run.targets.iter().find(|t| t.name == name) else { continue };
        for c in &t.changes {
            out.push(json!({
                "at": t.collected_at,
                "run_id": run.run_id,
                "key": c.key,
                "before": c.before,
                "after": c.after,
                "location": c.location,
                "previous_location": c.previous_location,
            }));
        }
    }
    Json(json!({ "target": name, "changes": out })).into_response()
}
