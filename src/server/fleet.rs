//! Fleet-wide questions over HTTP, answered like `driftwatch changes` and `driftwatch
//! findings` from the store's export: `GET /api/changes` and `GET /api/findings`.
//!
//! Parameters (repeat `label` and `status`): `since` (required: a time or an age such as
//! `7d`), `until`, `key`, `target` (a `*`/`?` glob), `label=env=production`; findings
//! also `rule`, `status` (`fail` by default, `waived`, `error`), `severity` (at least).
//! Answers are JSON arrays of export rows (`docs/exports.md`); a bad parameter is 400.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{AppState, store_error};
use crate::export::Query;
use crate::finding::{FindingStatus, Severity};

fn bad(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The parameters, decoded, in order (repeats kept).
fn params(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The window and filters every question shares; unknown parameters are refused.
fn query(params: &[(String, String)], extra: &[&str]) -> Result<Query, String> {
    let now = chrono::Utc::now();
    let mut q = Query::default();
    for (k, v) in params {
        match k.as_str() {
            "since" => {
                q.since = Some(crate::when::parse(v, now).map_err(|e| format!("since: {e}"))?)
            }
            "until" => {
                q.until = Some(crate::when::parse(v, now).map_err(|e| format!("until: {e}"))?)
            }
            "key" => q.key = Some(v.clone()),
            "target" => q.target = Some(v.clone()),
            "label" => {
                let (k, v) = v
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| format!("label `{v}` is not key=value"))?;
                q.labels.push((k.to_owned(), v.to_owned()));
            }
            other if extra.contains(&other) => {}
            other => return Err(format!("unknown parameter `{other}`")),
        }
    }
    if q.since.is_none() {
        return Err("`since` is required (a time, or an age such as 7d)".to_owned());
    }
    Ok(q)
}

/// `GET /api/changes?since=…`: every change in the window, oldest first.
pub async fn changes(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let q = match query(&params(raw.as_deref()), &[]) {
        Ok(q) => q,
        Err(e) => return bad(e),
    };
    match state.store.query_changes(&q).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET /api/findings?since=…&rule=…&status=fail`: findings in the window, oldest first.
pub async fn findings(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let params = params(raw.as_deref());
    let mut q = match query(&params, &["rule", "status", "severity"]) {
        Ok(q) => q,
        Err(e) => return bad(e),
    };
    for (k, v) in &params {
        match k.as_str() {
            "rule" => q.rule = Some(v.clone()),
            "status" => q.statuses.push(match v.as_str() {
                "fail" => FindingStatus::Fail,
                "waived" => FindingStatus::Waived,
                "error" => FindingStatus::Error,
                other => return bad(format!("status `{other}`: fail, waived or error")),
            }),
            "severity" => match Severity::parse(v) {
                Some(s) => q.severity_at_least = Some(s),
                None => return bad(format!("severity `{v}`: critical, high, medium, low or info")),
            },
            _ => {}
        }
    }
    if q.statuses.is_empty() {
        q.statuses.push(FindingStatus::Fail);
    }
    match state.store.query_findings(&q).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => store_error(e),
    }
}
