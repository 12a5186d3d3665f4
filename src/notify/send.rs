//! POSTing notifications: one request per webhook, a timeout per attempt, retries with
//! exponential backoff. Logs name the webhook by host only.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Event, json_body, report_url, select, slack_body};
use crate::config::{NotifyFormat, Webhook};
use crate::run::Run;

/// The webhooks of a config and an HTTP client to reach them.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
    webhooks: Vec<Webhook>,
    public_url: Option<String>,
    /// Wait before the first retry; doubles each time (capped at 30 s).
    first_backoff: Duration,
}

impl Notifier {
    pub fn new(webhooks: Vec<Webhook>, public_url: Option<String>) -> Result<Notifier, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("driftwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for notifications: {e}"))?;
        Ok(Notifier { client, webhooks, public_url, first_backoff: Duration::from_millis(500) })
    }

    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty()
    }

    /// Sends `events` of `run` to every webhook that wants some of them, all at once.
    /// Never fails: problems are logged. Retries stop when `cancel` fires.
    pub async fn send(&self, run: &Run, events: &[Event], cancel: &CancellationToken) {
        let link = report_url(self.public_url.as_deref(), run);
        let sends = self.webhooks.iter().filter_map(|hook| {
            let chosen = select(events, &hook.on);
            if chosen.is_empty() {
                return None;
            }
            let body = match hook.format {
                NotifyFormat::Json => json_body(run, &chosen, link.as_deref()),
                NotifyFormat::Slack => slack_body(run, &chosen, link.as_deref()),
            };
            Some(self.post(hook, body, chosen.len(), cancel))
        });
        futures::future::join_all(sends).await;
    }

    async fn post(
        &self,
        hook: &Webhook,
        body: serde_json::Value,
        events: usize,
        cancel: &CancellationToken,
    ) {
        let url = match hook.url.resolve() {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!(error = %e, "notification not sent");
                return;
            }
        };
        let host = host_of(&url);
        let mut backoff = self.first_backoff;
        for attempt in 0..=hook.retries {
            let sent = self
                .client
                .post(&url)
                .timeout(hook.timeout)
                .json(&body)
                .send()
                .await
                .map_err(|e| crate::redact::text(&e.without_url().to_string()).into_owned());
            let error = match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(webhook = %host, events, attempt, "notification sent");
                    return;
                }
                Ok(response) => format!("HTTP {}", response.status()),
                Err(e) => e,
            };
            let last = attempt == hook.retries;
            tracing::warn!(webhook = %host, attempt, error = %error, gives_up = last, "notification failed");
            if last {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = cancel.cancelled() => {
                    tracing::warn!(webhook = %host, "shutting down: no more notification retries");
                    return;
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

/// The host (and port) of a webhook URL: what logs may show.
pub fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => "(no host)".to_owned(),
        },
        Err(_) => "(invalid url)".to_owned(),
    }
}
