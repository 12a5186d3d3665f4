//! The API's kept answers against the same answers built afresh from the store, before
//! and after a new run commits.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::*;
use crate::run::{Run, TargetStatus};
use crate::status::fixture::{self, at, change, target};
use crate::store::{Store, StoreLocation};

fn state_of(store: &Store, names: &[&str]) -> AppState {
    AppState {
        store: store.clone(),
        status: Status::default().shared(),
        targets: Arc::new(names.iter().map(|n| (*n).to_owned()).collect()),
        ready_within: std::time::Duration::from_secs(60),
        started_at: chrono::Utc::now(),
        ui: Arc::new(crate::server::ui::Ui::new()),
        cache: Arc::new(crate::server::Caches::new()),
    }
}

/// A run of targets `a` and `b` at minute `m`; `a`'s `setting.x` changes to `m`.
fn run_at(m: u32) -> Run {
    let mut a = target("a", TargetStatus::Ok);
    a.changes = vec![change("setting.x", &format!("{}", m - 1), &format!("{m}"))];
    a.collected_at = at(&format!("2026-11-25T16:{m:02}:01Z"));
    let b = target("b", TargetStatus::Ok);
    fixture::run(&format!("20261125T16{m:02}00Z-{m:04}"), vec![a, b])
}

async fn commit(state: &AppState, run: &Run) {
    state.store.commit_run(run).await.unwrap();
    state.status.write().unwrap().record(run);
}

async fn body(response: Response) -> (StatusCode, String, Bytes) {
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    (status, content_type, axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap())
}

/// `/api/runs` as it was built before the cache: every manifest read per request.
async fn runs_afresh(store: &Store, limit: usize, before: Option<&str>) -> Bytes {
    let ids = store.list_runs().await.unwrap();
    let older: Vec<&RunId> =
        ids.iter().rev().filter(|id| before.is_none_or(|b| id.0.as_str() < b)).collect();
    let mut page = Vec::new();
    for id in older.iter().take(limit) {
        let run = store.get_run_outline(id).await.unwrap();
        page.push(json!({
            "run_id": run.run_id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "trigger": run.trigger,
            "targets": run.targets.iter().map(|t| &t.name).collect::<Vec<_>>(),
            "summary": run.summary,
        }));
    }
    let next_before = (older.len() > limit).then(|| older[limit - 1].0.clone());
    serde_json::to_vec(&json!({ "runs": page, "next_before": next_before })).unwrap().into()
}

/// `/api/targets/{name}/changes` as it was built before the cache.
async fn changes_afresh(store: &Store, name: &str, scan: usize) -> Bytes {
    let mut out = Vec::new();
    for id in store.list_runs().await.unwrap().iter().rev().take(scan) {
        let run = store.get_run_outline(id).await.unwrap();
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
    serde_json::to_vec(&json!({ "target": name, "changes": out })).unwrap().into()
}

async fn get_runs(state: &AppState, limit: Option<usize>, before: Option<&str>) -> Bytes {
    let q = RunsQuery { limit, before: before.map(str::to_owned) };
    let (code, content_type, bytes) = body(runs(State(state.clone()), Query(q)).await).await;
    assert_eq!((code, content_type.as_str()), (StatusCode::OK, "application/json"));
    bytes
}

async fn get_changes(state: &AppState, name: &str, scan: Option<usize>) -> Bytes {
    let q = ChangesQuery { runs: scan };
    let response = changes(State(state.clone()), Path(name.to_owned()), Query(q)).await;
    let (code, content_type, bytes) = body(response).await;
    assert_eq!((code, content_type.as_str()), (StatusCode::OK, "application/json"));
    bytes
}

async fn get_targets(state: &AppState) -> Value {
    let (code, content_type, bytes) = body(targets(State(state.clone())).await).await;
    assert_eq!((code, content_type.as_str()), (StatusCode::OK, "application/json"));
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn kept_run_pages_and_changes_equal_fresh_ones_and_show_a_new_run() {
    let store = Store::open(&StoreLocation::Memory).unwrap();
    let state = state_of(&store, &["a", "b"]);
    for m in 1..=3 {
        commit(&state, &run_at(m)).await;
    }
    for _ in 0..2 {
        // Built, then kept: the same bytes both times.
        assert_eq!(get_runs(&state, None, None).await, runs_afresh(&store, 20, None).await);
        assert_eq!(get_runs(&state, Some(2), None).await, runs_afresh(&store, 2, None).await);
        let before = "20261125T160300Z-0003";
        assert_eq!(
            get_runs(&state, Some(1), Some(before)).await,
            runs_afresh(&store, 1, Some(before)).await
        );
        for (name, scan) in [("a", None), ("a", Some(2)), ("b", None)] {
            assert_eq!(
                get_changes(&state, name, scan).await,
                changes_afresh(&store, name, scan.unwrap_or(50)).await,
                "{name} {scan:?}"
            );
        }
    }
    assert_eq!(state.cache.runs.len(), 3, "one entry per run");

    commit(&state, &run_at(4)).await;
    let page: Value = serde_json::from_slice(&get_runs(&state, None, None).await).unwrap();
    assert_eq!(page["runs"][0]["run_id"], "20261125T160400Z-0004", "{page}");
    assert_eq!(page["runs"].as_array().unwrap().len(), 4);
    assert_eq!(get_runs(&state, None, None).await, runs_afresh(&store, 20, None).await);
    let changes: Value = serde_json::from_slice(&get_changes(&state, "a", None).await).unwrap();
    assert_eq!(changes["changes"][0]["after"], "4", "{changes}");
    assert_eq!(changes["changes"].as_array().unwrap().len(), 4);
    assert_eq!(get_changes(&state, "a", None).await, changes_afresh(&store, "a", 50).await);
}

#[tokio::test]
async fn the_kept_targets_body_follows_each_new_run() {
    let store = Store::open(&StoreLocation::Memory).unwrap();
    let state = state_of(&store, &["a", "b", "c"]);
    let fresh = |state: &AppState| {
        let status = state.status.read().unwrap();
        serde_json::from_slice::<Value>(&targets_body(&state.targets, &status)).unwrap()
    };
    let listed = get_targets(&state).await;
    assert_eq!(listed["targets"][0], json!({ "name": "a", "status": "pending" }));
    commit(&state, &run_at(1)).await;
    let listed = get_targets(&state).await;
    assert_eq!(listed["targets"][0]["run_id"], "20261125T160100Z-0001", "{listed}");
    assert_eq!(listed, fresh(&state));
    commit(&state, &run_at(2)).await;
    let listed = get_targets(&state).await;
    assert_eq!(listed["targets"][0]["run_id"], "20261125T160200Z-0002", "{listed}");
    assert_eq!(listed["targets"][2], json!({ "name": "c", "status": "pending" }));
    assert_eq!(listed, fresh(&state));
}

#[tokio::test]
async fn the_kept_metrics_page_follows_runs_failures_and_skipped_ticks() {
    let store = Store::open(&StoreLocation::Memory).unwrap();
    let state = state_of(&store, &["a", "b"]);
    let page = || async {
        let (code, _, bytes) = body(crate::server::metrics_page(State(state.clone())).await).await;
        assert_eq!(code, StatusCode::OK);
        let page = String::from_utf8(bytes.to_vec()).unwrap();
        assert_eq!(page, crate::server::metrics::render(&state.status.read().unwrap()));
        page
    };
    commit(&state, &run_at(1)).await;
    assert!(page().await.contains("driftwatch_last_run_success 1\n"));
    state.status.write().unwrap().record_failure(
        at("2026-11-25T16:03:00Z"),
        at("2026-11-25T16:03:01Z"),
        "x".into(),
    );
    assert!(page().await.contains("driftwatch_last_run_success 0\n"));
    state.status.write().unwrap().skip_tick();
    assert!(page().await.contains("driftwatch_runs_skipped_total 1\n"));
    state.status.write().unwrap().lose_slot();
    assert!(page().await.contains("driftwatch_slots_lost_total 1\n"));
    commit(&state, &run_at(2)).await;
    assert!(page().await.contains("driftwatch_last_run_success 1\n"));
}

#[tokio::test]
async fn a_run_body_is_the_whole_run_and_a_missing_run_is_404() {
    let store = Store::open(&StoreLocation::Memory).unwrap();
    let state = state_of(&store, &["a", "b"]);
    let r = run_at(1);
    commit(&state, &r).await;
    let whole = serde_json::to_vec_pretty(&store.get_run(&r.run_id).await.unwrap()).unwrap();
    for _ in 0..2 {
        let (code, content_type, bytes) =
            body(super::run(State(state.clone()), Path(r.run_id.0.clone())).await).await;
        assert_eq!((code, content_type.as_str()), (StatusCode::OK, "application/json"));
        assert_eq!(bytes, whole);
    }
    assert_eq!(state.cache.run_bodies.len(), 1);
    for missing in ["20261125T169900Z-0099", "../x", ""] {
        let (code, ..) =
            body(super::run(State(state.clone()), Path(missing.to_owned())).await).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{missing:?}");
    }
}
