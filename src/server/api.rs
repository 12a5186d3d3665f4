//! The JSON API: runs (paged, newest first), one manifest, the latest status of each
//! target, and one target's changes across recent runs. Read-only.
//!
//! Answers are built once and kept ([`super::cache`]): what a run shows, by run id
//! (manifests are create-only); what the status shows, per status generation.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, not_found, store_error};
use crate::finding::Severity;
use crate::run::{RunId, RunOutline};
use crate::status::Status;
use crate::store::{StoreError, layout, manifest};

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 200;
const DEFAULT_SCAN: usize = 50;
const MAX_SCAN: usize = 1000;
/// Manifests a request reads at once when their rows are not kept.
const READ_AHEAD: usize = 4;

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
    let page = match rows_of_runs(&state, older.iter().take(limit).copied()).await {
        Ok(page) => page,
        Err(e) => return store_error(e),
    };
    let next_before = (older.len() > limit).then(|| older[limit - 1].0.clone());
    // `{"next_before":…,"runs":[…]}`: the object `json!` would build (its keys sorted),
    // each run's part serialized once, when its rows were built.
    let mut body = b"{\"next_before\":".to_vec();
    serde_json::to_writer(&mut body, &next_before).expect("a string serializes");
    body.extend_from_slice(b",\"runs\":[");
    join(&mut body, page.iter().map(|rows| rows.run.as_slice()));
    body.extend_from_slice(b"]}");
    json_body(body)
}

/// What the run list and the changes scan show of one committed run, serialized:
/// built once per run id (manifests are create-only) and kept in
/// [`Caches::runs`](super::Caches).
#[derive(Debug)]
pub struct RunRows {
    /// The run's entry in `/api/runs`.
    run: Vec<u8>,
    /// Per target that changed in the run: its `/api/targets/{name}/changes` entries,
    /// comma-separated.
    changes: HashMap<String, Vec<u8>>,
}

impl RunRows {
    /// The rows of a run read as an outline: its findings are not needed.
    pub fn of(run: &RunOutline) -> RunRows {
        let entry = json!({
            "run_id": run.run_id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "trigger": run.trigger,
            "targets": run.targets.iter().map(|t| &t.name).collect::<Vec<_>>(),
            "summary": run.summary,
        });
        let mut changes = HashMap::new();
        let mut seen = HashSet::new();
        // The first target of a name is the one a lookup by name finds.
        for t in run.targets.iter().filter(|t| seen.insert(t.name.as_str())) {
            if t.changes.is_empty() {
                continue;
            }
            let rows: Vec<Vec<u8>> = t
                .changes
                .iter()
                .map(|c| {
                    serde_json::to_vec(&json!({
                        "at": t.collected_at,
                        "run_id": run.run_id,
                        "key": c.key,
                        "before": c.before,
                        "after": c.after,
                        "location": c.location,
                        "previous_location": c.previous_location,
                    }))
                    .expect("a change serializes")
                })
                .collect();
            let mut joined = Vec::new();
            join(&mut joined, rows.iter().map(Vec::as_slice));
            changes.insert(t.name.clone(), joined);
        }
        RunRows { run: serde_json::to_vec(&entry).expect("a run entry serializes"), changes }
    }

    /// About how much memory the rows hold (what the cache bounds).
    pub fn weight(&self) -> usize {
        self.run.len() + self.changes.iter().map(|(k, v)| k.len() + v.len() + 64).sum::<usize>()
    }
}

/// The rows of run `id`: kept ones, or read from its manifest once (decoded on a
/// blocking thread: a 1,000-target manifest takes tens of milliseconds, which would
/// hold up every request on the same runtime thread).
async fn rows_of(state: &AppState, id: &RunId) -> Result<Arc<RunRows>, StoreError> {
    state
        .cache
        .runs
        .get_or_build(id, || async {
            let path = layout::run(id).to_string();
            let stored = state.store.get_bytes(&path).await?;
            let decode = move || {
                let outline = manifest::run_outline(&stored)
                    .map_err(|source| StoreError::Corrupt { path, source })?;
                Ok(Arc::new(RunRows::of(&outline)))
            };
            tokio::task::spawn_blocking(decode).await.expect("decoding a manifest does not panic")
        })
        .await
}

/// The rows of runs `ids`, in order; those not kept are read [`READ_AHEAD`] at once.
async fn rows_of_runs(
    state: &AppState,
    ids: impl Iterator<Item = &RunId>,
) -> Result<Vec<Arc<RunRows>>, StoreError> {
    let ids: Vec<RunId> = ids.cloned().collect();
    let reads = ids.into_iter().map(|id| {
        let state = state.clone();
        async move { rows_of(&state, &id).await }
    });
    futures::stream::iter(reads).buffered(READ_AHEAD).try_collect().await
}

/// Appends `parts` to `out`, comma-separated (skipping empty ones).
fn join<'a>(out: &mut Vec<u8>, parts: impl Iterator<Item = &'a [u8]>) {
    let mut first = true;
    for part in parts.filter(|p| !p.is_empty()) {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(part);
        first = false;
    }
}

fn json_body(body: impl Into<Bytes>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// `GET /api/runs/{id}`: the run manifest as `audit --output json` prints it (the
/// stored form refers to findings by digest; they are resolved here).
///
/// A whole run at fleet scale is tens of megabytes decoded, so the body is built by at
/// most [`RUN_BUILDS`](super::RUN_BUILDS) requests at once, once per run id however
/// many ask for it meanwhile, and the newest bodies are kept (a run never changes;
/// whether it is still there, `gc` may have collected it, is asked every time).
pub async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let plain = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && !id.contains("..")
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        return not_found("no such run");
    }
    let id = RunId(id);
    match state.store.has_run(&id).await {
        Ok(true) => {}
        Ok(false) => return not_found("no such run"),
        Err(e) => return store_error(e),
    }
    let build = || async {
        let _permit =
            state.cache.run_builds.acquire().await.expect("the semaphore is never closed");
        let run = state.store.get_run(&id).await?;
        let pretty = move || serde_json::to_vec_pretty(&run).expect("a run always serializes");
        let body = tokio::task::spawn_blocking(pretty).await.expect("serializing does not panic");
        tracing::debug!(run_id = %id.0, bytes = body.len(), "run body built");
        Ok::<_, StoreError>(Bytes::from(body))
    };
    match state.cache.run_bodies.get_or_build(&id, build).await {
        Ok(body) => json_body(body),
        // Collected between the check and the read.
        Err(e) if e.is_not_found() => not_found("no such run"),
        Err(e) => store_error(e),
    }
}

/// `GET /api/targets`: each configured target as the newest run that audited it saw
/// it; `status = "pending"` before its first audit.
pub async fn targets(State(state): State<AppState>) -> Response {
    let names = state.targets.clone();
    let body = state.cache.targets.get(&state.status, |status| targets_body(&names, status)).await;
    json_body(body)
}

/// The `/api/targets` body for `status`: built once per status generation.
pub fn targets_body(names: &[String], status: &Status) -> Vec<u8> {
    let list: Vec<Value> = names
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
    serde_json::to_vec(&json!({ "targets": list })).expect("the targets serialize")
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
    // Changes are in the manifest itself: no findings object is read, and each run's
    // are read once (`RunRows`).
    let runs = match rows_of_runs(&state, ids.iter().rev().take(scan)).await {
        Ok(runs) => runs,
        Err(e) => return store_error(e),
    };
    // `{"changes":[…],"target":…}`: the object `json!` would build, its keys sorted.
    let mut body = b"{\"changes\":[".to_vec();
    join(&mut body, runs.iter().filter_map(|r| r.changes.get(&name)).map(Vec::as_slice));
    body.extend_from_slice(b"],\"target\":");
    serde_json::to_writer(&mut body, &name).expect("a string serializes");
    body.push(b'}');
    json_body(body)
}

#[cfg(test)]
mod tests;
