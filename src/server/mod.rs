//! The built-in web server (axum): the HTML reports read through the store, the web
//! UI ([`ui`]: fleet findings, search, per-setting timelines), a small JSON API over
//! the history, `/metrics` for Prometheus, `/healthz` and `/readyz`.
//!
//! It only reads: pages and manifests come from the [`Store`], metrics and target
//! status from the in-memory [`Status`] the scheduler keeps. It knows nothing of cron
//! or signals; it stops when the future it is given resolves. Who may read it is
//! [`access`]'s concern, HTTPS [`tls`]'s: both are set up by [`Guard`].

pub mod access;
mod api;
pub mod cache;
mod fleet;
pub mod metrics;
pub(crate) mod tls;
pub mod ui;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use tokio::net::TcpListener;

use crate::run::RunId;
use crate::status::SharedStatus;
use crate::store::{Found, Store, StoreError};

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub status: SharedStatus,
    /// The configured targets, in config order.
    pub targets: std::sync::Arc<Vec<String>>,
    /// `/readyz` fails when no run finished within this long (3× the schedule interval).
    pub ready_within: Duration,
    /// When the service started: until a first run, readiness counts from here.
    pub started_at: chrono::DateTime<Utc>,
    /// The web UI's templates and caches.
    pub ui: std::sync::Arc<ui::Ui>,
    /// What the JSON API, `/metrics` and the report pages keep between requests.
    pub cache: std::sync::Arc<Caches>,
}

/// `/api/runs/{id}` bodies built at once at most: each holds a whole decoded run.
pub const RUN_BUILDS: usize = 2;

/// The server's caches ([`cache`]), each bounded and keyed so it cannot go stale:
/// by run id (manifests are create-only), by status generation, or by the store's
/// entity tag of a page (asked every request).
pub struct Caches {
    /// Per run id: its `/api/runs` entry and its targets' changes.
    runs: cache::Memo<RunId, std::sync::Arc<api::RunRows>>,
    /// Per run id: the `/api/runs/{id}` body.
    run_bodies: cache::Memo<RunId, Bytes>,
    /// Bounds how many `/api/runs/{id}` bodies are built at once ([`RUN_BUILDS`]).
    run_builds: tokio::sync::Semaphore,
    /// The `/api/targets` body of the current status generation.
    targets: cache::PerGeneration,
    /// The `/metrics` page of the current status generation.
    metrics: cache::PerGeneration,
    /// Report pages by path, with the entity tag the store gave them.
    reports: std::sync::Mutex<cache::Bounded<String, (String, Bytes)>>,
}

impl Caches {
    pub fn new() -> Caches {
        const MB: usize = 1 << 20;
        Caches {
            // 1,000 runs (the longest changes scan) of a 1,000-target fleet: ~25 MB.
            runs: cache::Memo::new(1024, 64 * MB, |rows| rows.weight()),
            run_bodies: cache::Memo::new(8, 64 * MB, |body| body.len()),
            run_builds: tokio::sync::Semaphore::new(RUN_BUILDS),
            targets: cache::PerGeneration::default(),
            metrics: cache::PerGeneration::default(),
            reports: std::sync::Mutex::new(cache::Bounded::new(4096, 64 * MB)),
        }
    }
}

impl Default for Caches {
    fn default() -> Caches {
        Caches::new()
    }
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("runs", &self.runs.len())
            .field("run_bodies", &self.run_bodies.len())
            .finish_non_exhaustive()
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/reports/index.html") }))
        .route("/reports", get(|| async { Redirect::temporary("/reports/index.html") }))
        .route("/reports/", get(|| async { Redirect::temporary("/reports/index.html") }))
        .route("/reports/{*path}", get(report))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{id}", get(api::run))
        .route("/api/targets", get(api::targets))
        .route("/api/targets/{name}/changes", get(api::changes))
        .route("/api/changes", get(fleet::changes))
        .route("/api/findings", get(fleet::findings))
        .route("/findings", get(ui::findings))
        .route("/search", get(ui::search))
        .route("/targets/{target}/settings/{key}", get(ui::setting))
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Access control and HTTPS for the server, read from `[server.auth]` and
/// `[server.tls]` when `serve` starts.
#[derive(Clone, Default)]
pub struct Guard {
    pub access: Option<std::sync::Arc<access::Access>>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("access", &self.access)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Guard {
    /// Reads the credential files and the certificate; errors are `file:line:col:
    /// message` or name the file.
    pub fn from_settings(settings: &crate::config::ServerSettings) -> Result<Guard, String> {
        Ok(Guard {
            access: access::Access::load(&settings.auth)?.map(std::sync::Arc::new),
            tls: settings.tls.as_ref().map(tls::acceptor).transpose()?,
        })
    }
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    guard: Guard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut app = router(state);
    if let Some(access) = guard.access {
        app = app.layer(axum::middleware::from_fn_with_state(access, access::guard));
    }
    let app = app.into_make_service_with_connect_info::<access::Client>();
    match guard.tls {
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await,
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor)?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
    }
}

/// A report page (or any file under `reports/`), read through the store: one
/// conditional read per request, which answers from the kept copy while the page's
/// entity tag is the one kept. The tag is the response's `ETag`; a request whose
/// `If-None-Match` names it gets `304 Not Modified`.
async fn report(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(relative) = report_path(&path) else {
        return not_found("no such report");
    };
    let kept = state.cache.reports.lock().expect("cache lock").get(&relative);
    let found =
        state.store.find_bytes_unless(&relative, kept.as_ref().map(|(tag, _)| tag.as_str()));
    let (tag, bytes) = match found.await {
        Ok(Found::Read { bytes, e_tag }) => {
            let bytes = Bytes::from(bytes);
            let mut reports = state.cache.reports.lock().expect("cache lock");
            match &e_tag {
                Some(tag) => {
                    reports.insert(relative.clone(), (tag.clone(), bytes.clone()), bytes.len())
                }
                None => reports.remove(&relative),
            }
            (e_tag, bytes)
        }
        Ok(Found::Unchanged) => {
            let (tag, bytes) = kept.expect("only a kept page's tag is asked about");
            (Some(tag), bytes)
        }
        Ok(Found::Missing) => {
            state.cache.reports.lock().expect("cache lock").remove(&relative);
            return not_found("no such report");
        }
        Err(e) => return store_error(e),
    };
    let content_type = (header::CONTENT_TYPE, HeaderValue::from_static(content_type(&relative)));
    let Some(etag) = tag.as_deref().and_then(http_etag) else {
        return ([content_type], bytes).into_response();
    };
    if headers.get_all(header::IF_NONE_MATCH).iter().any(|v| names_etag(v, &etag)) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    ([content_type, (header::ETAG, etag)], bytes).into_response()
}

/// A store's entity tag as an HTTP `ETag` (a quoted string; the store's own quotes
/// kept), or `None` when it cannot be one.
fn http_etag(tag: &str) -> Option<HeaderValue> {
    let quoted = if tag.starts_with('"') || tag.starts_with("W/\"") {
        tag.to_owned()
    } else {
        format!("\"{tag}\"")
    };
    HeaderValue::from_str(&quoted).ok().filter(|_| !tag.is_empty())
}

/// Whether an `If-None-Match` value (`*` or a list of tags, weak or strong) names
/// `etag`, compared weakly as RFC 9110 asks for `If-None-Match`.
fn names_etag(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else { return false };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = bare(etag.to_str().unwrap_or_default());
    value.split(',').any(|t| t.trim() == "*" || bare(t) == ours)
}

/// `reports/<path>` for a request path, or `None` for anything that tries to leave
/// the reports folder or is not a plain relative path.
pub fn report_path(path: &str) -> Option<String> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    ok.then(|| format!("reports/{path}"))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn metrics_page(State(state): State<AppState>) -> Response {
    let text = state.cache.metrics.get(&state.status, |s| metrics::render(s).into_bytes()).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Ready when the store answers and a run finished recently enough.
async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.check().await {
        tracing::warn!(error = %e, "readiness: store does not answer");
        return (StatusCode::SERVICE_UNAVAILABLE, format!("store does not answer: {e}\n"))
            .into_response();
    }
    let last = state.status.read().expect("status lock").last_success_at;
    let (since, what) = match last {
        Some(at) => (at, "the last run finished"),
        None => (state.started_at, "no run yet; the service started"),
    };
    let age = (Utc::now() - since).to_std().unwrap_or_default();
    if age > state.ready_within {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{what} {}s ago, more than {}s (3x the schedule interval)\n",
                age.as_secs(),
                state.ready_within.as_secs()
            ),
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "error": what }))).into_response()
}

fn store_error(e: StoreError) -> Response {
    tracing::error!(error = %e, "store read failed");
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": e.to_string() })))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_paths_stay_inside_reports() {
        assert_eq!(report_path("index.html").as_deref(), Some("reports/index.html"));
        assert_eq!(report_path("runs/x.html").as_deref(), Some("reports/runs/x.html"));
        for bad in ["", "../runs/x.json", "a/../../b", "./a", "/etc/passwd", "a//b", "a\\..\\b"] {
            assert_eq!(report_path(bad), None, "{bad:?}");
        }
    }

    async fn get_report(state: &AppState, path: &str, if_none_match: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(tag) = if_none_match {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        report(State(state.clone()), Path(path.to_owned()), headers).await
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// A kept page is served while its tag is the store's, a rewritten one at once; the
    /// tag is the `ETag` and `If-None-Match` with it is a 304.
    async fn check_reports(store: Store) {
        let state = AppState {
            store: store.clone(),
            status: crate::status::Status::default().shared(),
            targets: Default::default(),
            ready_within: Duration::from_secs(60),
            started_at: Utc::now(),
            ui: std::sync::Arc::new(ui::Ui::new()),
            cache: std::sync::Arc::new(Caches::new()),
        };
        store.put_report("reports/index.html", "<p>one</p>").await.unwrap();
        let first = get_report(&state, "index.html", None).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        assert_eq!(text(first).await, "<p>one</p>");
        let kept = get_report(&state, "index.html", None).await;
        assert_eq!(kept.headers()[header::ETAG], tag.as_str());
        assert_eq!(text(kept).await, "<p>one</p>");
        assert_eq!(state.cache.reports.lock().unwrap().len(), 1);
        for same in [tag.clone(), format!("W/{tag}"), format!("\"other\", {tag}"), "*".into()] {
            let not_modified = get_report(&state, "index.html", Some(&same)).await;
            assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED, "{same}");
            assert_eq!(not_modified.headers()[header::ETAG], tag.as_str());
        }
        let other = get_report(&state, "index.html", Some("\"other\"")).await;
        assert_eq!(other.status(), StatusCode::OK);

        store.put_report("reports/index.html", "<p>two, longer</p>").await.unwrap();
        let second = get_report(&state, "index.html", Some(&tag)).await;
        assert_eq!(second.status(), StatusCode::OK, "the page was rewritten: not a 304");
        assert_ne!(second.headers()[header::ETAG], tag.as_str());
        assert_eq!(text(second).await, "<p>two, longer</p>");
        assert_eq!(get_report(&state, "nothing.html", None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get_report(&state, "../x", None).await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn report_pages_are_kept_by_entity_tag_in_memory() {
        check_reports(Store::open(&crate::store::StoreLocation::Memory).unwrap()).await;
    }

    #[tokio::test]
    async fn report_pages_are_kept_by_entity_tag_in_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        check_reports(Store::open(&crate::store::StoreLocation::Local(dir.path().into())).unwrap())
            .await;
    }
}
