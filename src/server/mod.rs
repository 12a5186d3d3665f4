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
mod fleet;
pub mod metrics;
pub(crate) mod tls;
pub mod ui;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use tokio::net::TcpListener;

use crate::status::SharedStatus;
use crate::store::{Store, StoreError};

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

/// A report page (or any file under `reports/`), read through the store.
async fn report(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let Some(relative) = report_path(&path) else {
        return not_found("no such report");
    };
    match state.store.find_bytes(&relative).await {
        Ok(Some(bytes)) => {
            ([(header::CONTENT_TYPE, content_type(&relative))], bytes).into_response()
        }
        Ok(None) => not_found("no such report"),
        Err(e) => store_error(e),
    }
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
    let text = metrics::render(&state.status.read().expect("status lock"));
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
}
