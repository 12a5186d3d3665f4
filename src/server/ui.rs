//! The interactive web UI: `/findings` (each target's latest findings, filtered by the
//! query string), `/search?q=` (targets, labels, setting keys and values) and
//! `/targets/{t}/settings/{key}` (one setting over time). Server-rendered HTML that
//! works without JavaScript, behind the same access control as every other route.
//!
//! No request scans the history. Findings come from the in-memory [`Status`] (each
//! target's newest committed run and the collection before it); the search index is
//! built from each target's latest snapshot once per status generation and cached;
//! a setting page reads the target's change index (its newest [`MAX_INDEXED_RUNS`]
//! entries), its latest snapshot, and the manifests of at most [`MAX_RESULT_RUNS`]
//! runs that changed the setting.
//!
//! [`Status`]: crate::status::Status

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::report::Renderer;
use crate::report::ui::findings::{Filters, Latest};
use crate::report::ui::search::SearchIndex;
use crate::report::ui::setting_page::{self, ChangePoint, RunResults, SettingInput};
use crate::report::ui::{self as views, did_you_mean};
use crate::run::{RunId, TargetRun, TargetStatus};
use crate::snapshot::Snapshot;
use crate::store::Store;

/// Runs whose findings a setting page reads at most (the newest that changed it).
pub const MAX_RESULT_RUNS: usize = 20;
/// Change-index entries a setting page reads at most (the newest runs that changed
/// anything on the target).
pub const MAX_INDEXED_RUNS: usize = 500;
/// Snapshots read at once while building the search index.
const READ_AHEAD: usize = 8;

/// What the UI keeps between requests: the parsed templates and the search index of
/// the latest status generation.
pub struct Ui {
    renderer: Renderer,
    search: tokio::sync::Mutex<Option<(u64, Arc<SearchIndex>)>>,
}

impl Ui {
    pub fn new() -> Ui {
        Ui {
            renderer: Renderer::new().expect("the embedded report templates load (unit-tested)"),
            search: tokio::sync::Mutex::new(None),
        }
    }
}

impl Default for Ui {
    fn default() -> Ui {
        Ui::new()
    }
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui").finish_non_exhaustive()
    }
}

fn now() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn html(
    state: &AppState,
    code: StatusCode,
    template: &'static str,
    view: impl Serialize,
) -> Response {
    match state.ui.renderer.ui_page(template, view) {
        Ok(page) => {
            (code, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, template, "rendering a web UI page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering the page failed\n").into_response()
        }
    }
}

fn missing(
    state: &AppState,
    code: StatusCode,
    message: String,
    suggestions: Vec<crate::report::ui::Link>,
    root: &str,
) -> Response {
    html(state, code, "ui-missing.html", views::missing(message, suggestions, root, &now()))
}

/// `GET /findings?severity=&status=&target=&label=k=v&rule=&policy=&new=1`.
pub async fn findings(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let filters = match Filters::parse(&params) {
        Ok(f) => f,
        Err(e) => {
            return missing(
                &state,
                StatusCode::BAD_REQUEST,
                format!("Bad filter: {e}."),
                vec![],
                "",
            );
        }
    };
    let view = {
        let status = state.status.read().expect("status lock");
        let latest: Vec<Latest<'_>> = state
            .targets
            .iter()
            .filter_map(|name| status.targets.get(name))
            .map(|l| Latest {
                run_id: &l.run_id,
                target: &l.result,
                before: status.before(&l.result),
            })
            .collect();
        views::findings::build(&latest, &filters, &now())
    };
    html(&state, StatusCode::OK, "ui-findings.html", view)
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `GET /search?q=`.
pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> Response {
    let index = search_index(&state).await;
    html(&state, StatusCode::OK, "ui-search.html", views::search::view(&index, &q.q, &now()))
}

/// The search index of the current status generation, built on first use.
async fn search_index(state: &AppState) -> Arc<SearchIndex> {
    let mut cached = state.ui.search.lock().await;
    let (generation, wanted) = {
        let status = state.status.read().expect("status lock");
        let wanted: Vec<(
            String,
            std::collections::BTreeMap<String, String>,
            Option<crate::snapshot::Digest>,
        )> = state
            .targets
            .iter()
            .map(|name| {
                let labels =
                    status.targets.get(name).map(|l| l.result.labels.clone()).unwrap_or_default();
                let digest = status.collected.get(name).and_then(|c| c.snapshot.clone());
                (name.clone(), labels, digest)
            })
            .collect();
        (status.generation, wanted)
    };
    if let Some((g, index)) = cached.as_ref()
        && *g == generation
    {
        return index.clone();
    }
    let snapshots = read_snapshots(&state.store, &wanted).await;
    let index = Arc::new(SearchIndex::build(
        wanted
            .iter()
            .zip(&snapshots)
            .map(|((name, labels, _), s)| (name.as_str(), labels, s.as_ref())),
    ));
    tracing::debug!(generation, settings = index.len(), "search index built");
    *cached = Some((generation, index.clone()));
    index
}

async fn read_snapshots(
    store: &Store,
    wanted: &[(
        String,
        std::collections::BTreeMap<String, String>,
        Option<crate::snapshot::Digest>,
    )],
) -> Vec<Option<Snapshot>> {
    use futures::StreamExt as _;
    let reads: Vec<_> = wanted
        .iter()
        .map(|(name, _, digest)| async move {
            let digest = digest.as_ref()?;
            match store.get_snapshot(name, digest).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(target = %name, error = %e, "search: cannot read the latest snapshot");
                    None
                }
            }
        })
        .collect();
    futures::stream::iter(reads).buffered(READ_AHEAD).collect().await
}

/// `GET /targets/{t}/settings/{key}`.
pub async fn setting(
    State(state): State<AppState>,
    Path((target, key)): Path<(String, String)>,
) -> Response {
    let root = "../../../";
    let (known, latest, collected) = {
        let status = state.status.read().expect("status lock");
        let mut known: BTreeSet<String> = state.targets.iter().cloned().collect();
        known.extend(status.targets.keys().cloned());
        (known, status.targets.get(&target).cloned(), status.collected.get(&target).cloned())
    };
    if !known.contains(&target) {
        let suggestions = did_you_mean(&target, known.iter().map(String::as_str))
            .into_iter()
            .map(|t| crate::report::ui::Link {
                href: views::setting_href(root, t, &key),
                text: t.to_owned(),
            })
            .collect();
        return missing(
            &state,
            StatusCode::NOT_FOUND,
            format!("No target is called “{target}”."),
            suggestions,
            root,
        );
    }
    let snapshot = match collected.as_ref().and_then(|c| c.snapshot.clone()) {
        None => None,
        Some(digest) => match state.store.get_snapshot(&target, &digest).await {
            Ok(s) => Some(s),
            Err(e) => return super::store_error(e),
        },
    };
    // A bare name is the engine setting of that name.
    let key = if !key.contains('.') { format!("setting.{key}") } else { key };
    let (live_key, pending_key) = setting_page::keys(&key);
    let is_ours = |k: &str| k == live_key || pending_key.as_deref() == Some(k);
    let entries = match state.store.recent_changes_of(&target, MAX_INDEXED_RUNS).await {
        Ok(e) => e,
        Err(e) => return super::store_error(e),
    };
    let changes: Vec<ChangePoint<'_>> = entries
        .iter()
        .flat_map(|e| {
            e.changes.iter().filter(|c| is_ours(&c.key)).map(move |c| ChangePoint {
                run_id: &e.run_id,
                at: e.collected_at,
                change: c,
            })
        })
        .collect();
    let current = snapshot.as_ref().and_then(|s| s.config.get(&live_key));
    let pending =
        pending_key.as_ref().and_then(|p| snapshot.as_ref().and_then(|s| s.config.get(p)));
    let latest_ok = latest.as_ref().filter(|l| l.result.status == TargetStatus::Ok);
    let judged = latest_ok.is_some_and(|l| l.result.findings.iter().any(|f| is_ours(&f.key)));
    if current.is_none() && pending.is_none() && changes.is_empty() && !judged {
        let keys = snapshot
            .as_ref()
            .map(|s| s.config.keys().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        let wanted = crate::report::ui::setting_name(&live_key);
        let suggestions =
            did_you_mean(wanted, keys.iter().map(|k| crate::report::ui::setting_name(k)))
                .into_iter()
                .filter_map(|name| keys.iter().find(|k| crate::report::ui::setting_name(k) == name))
                .map(|k| crate::report::ui::Link {
                    href: views::setting_href(root, &target, k),
                    text: (*k).to_owned(),
                })
                .collect();
        return missing(
            &state,
            StatusCode::NOT_FOUND,
            format!(
                "{target} has no setting “{key}” in its latest snapshot or its change history."
            ),
            suggestions,
            root,
        );
    }
    let results = match rule_results(&state, &target, latest_ok, &changes, &is_ours).await {
        Ok(r) => r,
        Err(e) => return super::store_error(e),
    };
    let input = SettingInput {
        target: &target,
        key: &live_key,
        current,
        pending,
        collected: collected.as_ref().map(|c| {
            let run =
                latest_ok.filter(|l| l.result.collected_at == c.collected_at).map(|l| &l.run_id);
            (run, c.collected_at)
        }),
        changes: &changes,
        results: &results,
        runs_indexed: entries.len(),
    };
    html(&state, StatusCode::OK, "ui-setting.html", setting_page::build(&input, &now()))
}

/// The findings on the setting in the latest run (from the status) and in the newest
/// [`MAX_RESULT_RUNS`] runs that changed it (one manifest and findings object each).
async fn rule_results(
    state: &AppState,
    target: &str,
    latest: Option<&crate::status::LatestTarget>,
    changes: &[ChangePoint<'_>],
    is_ours: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<RunResults>, crate::store::StoreError> {
    let of = |id: RunId, t: &TargetRun| RunResults {
        run_id: id,
        at: t.collected_at,
        findings: t.findings.iter().filter(|f| is_ours(&f.key)).cloned().collect(),
    };
    let mut out = Vec::new();
    let mut runs: BTreeSet<&RunId> = changes.iter().map(|c| c.run_id).collect();
    if let Some(l) = latest {
        runs.remove(&l.run_id);
        out.push(of(l.run_id.clone(), &l.result));
    }
    for id in runs.into_iter().rev().take(MAX_RESULT_RUNS) {
        if let Some(t) = state.store.target_in_run(id, target).await? {
            out.push(of(id.clone(), &t));
        }
    }
    Ok(out)
}
