//! The settings only `driftwatch serve` reads: `[schedule]`, `[server]`, `[[notify]]`
//! and the per-target `schedule`. Checked like the rest: pure, every problem with its
//! place. A cron pattern is parsed here with the scheduler's own parser settings, so a
//! bad one is a config error (exit 2), never a surprise after start-up.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use toml::Spanned;

use super::{Checker, raw};

/// When and how `serve` runs audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// The service-wide schedule: every target without a `schedule` of its own.
    pub cron: Cron,
    /// Audit once as soon as the service starts.
    pub run_at_start: bool,
    /// How long shutdown waits for a running audit.
    pub grace_period: Duration,
    /// `None`: every instance sharing the store competes for every whole slot.
    pub sharding: Option<Sharding>,
}

/// `[schedule] shards = N` with `shard = i` or `shard_from_hostname = true`: this
/// instance audits the targets whose name hashes to its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharding {
    /// How many shards (1–1024).
    pub count: u32,
    pub this: ShardSource,
}

/// Where an instance learns its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSource {
    /// `shard = i` in the file.
    Index(u32),
    /// The host name's trailing `-<n>` (a Kubernetes StatefulSet pod:
    /// `driftwatch-2` → 2), read when `serve` starts.
    Hostname,
}

impl Sharding {
    /// This instance's shard index, given the host name.
    pub fn index(&self, host: &str) -> Result<u32, String> {
        match self.this {
            ShardSource::Index(i) => Ok(i),
            ShardSource::Hostname => {
                let n = host
                    .rsplit_once('-')
                    .and_then(|(_, n)| n.parse::<u32>().ok())
                    .ok_or_else(|| {
                        format!(
                            "schedule.shard_from_hostname: host name `{host}` does not end in `-<number>` (a StatefulSet pod name such as `driftwatch-0`)"
                        )
                    })?;
                if n < self.count {
                    Ok(n)
                } else {
                    Err(format!(
                        "schedule.shard_from_hostname: host `{host}` is shard {n}, but schedule.shards = {}: scale the StatefulSet to at most {} replicas or raise shards",
                        self.count, self.count
                    ))
                }
            }
        }
    }
}

/// Most shards a fleet may be split into.
pub const MAX_SHARDS: i64 = 1024;

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            cron: Cron::parse(DEFAULT_CRON).expect("the default cron parses"),
            run_at_start: true,
            grace_period: Duration::from_secs(30),
            sharding: None,
        }
    }
}

pub const DEFAULT_CRON: &str = "0 */5 * * * *";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9187";

/// A checked cron pattern, stored as 6 fields (seconds first) or 7 (year last); UTC. Five
/// fields, as crontab writes them, are read with second `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub pattern: String,
    /// The longest gap between two ticks (over the next few ticks): what "the schedule
    /// interval" means for readiness.
    pub interval: Duration,
}

impl Cron {
    /// The parser settings tokio-cron-scheduler uses: seconds required, day-of-month
    /// AND day-of-week. Five fields (minute first, as crontab writes them) get second
    /// `0` in front; six or seven (seconds first, optional year) are taken as they are.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let given = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let fields = given.split(' ').filter(|f| !f.is_empty()).count();
        let pattern = match fields {
            5 => format!("0 {given}"),
            6 | 7 => given.clone(),
            _ => {
                return Err(format!(
                    "cron `{given}` has {fields} fields: write 5 as crontab does (`*/5 * * * *` = every 5 minutes) or 6 with seconds first (`0 */5 * * * *`)"
                ));
            }
        };
        let pattern = pattern.as_str();
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(pattern)
            .map_err(|e| format!("invalid cron `{pattern}`: {e}"))?;
        // A fixed reference keeps validation free of the clock.
        let mut at: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01");
        let mut interval = Duration::ZERO;
        for i in 0..16 {
            let Ok(next) = cron.find_next_occurrence(&at, false) else {
                return match i {
                    0 => Err(format!("cron `{pattern}` never fires")),
                    _ => break,
                };
            };
            if i > 0 {
                interval = interval.max((next - at).to_std().unwrap_or_default());
            }
            at = next;
        }
        Ok(Cron { pattern: pattern.to_owned(), interval: interval.max(Duration::from_secs(1)) })
    }

    /// The slot a tick at `now` belongs to: the latest cron time at or before `now`,
    /// to the second. The scheduler fires at or (by up to its polling period) after a
    /// cron time, never before, so every instance computes the same slot for a tick
    /// as long as clocks agree well within the interval.
    pub fn slot_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(&self.pattern)
            .ok()
            .and_then(|cron| cron.find_previous_occurrence(&now, true).ok())
            .unwrap_or(now)
    }
}

/// The built-in web server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Base URL of the server as people reach it, without a trailing `/`.
    pub public_url: Option<String>,
    /// Who may read it (`[server.auth]`); required when `listen` is not loopback.
    pub auth: AuthSettings,
    /// HTTPS from a certificate and key (`[server.tls]`); `None`: plain HTTP.
    pub tls: Option<TlsSettings>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: DEFAULT_LISTEN.parse().expect("valid"),
            public_url: None,
            auth: AuthSettings::default(),
            tls: None,
        }
    }
}

/// `[server.auth]`: credential files (resolved against the config's folder), read when
/// `serve` starts (see `server::access`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSettings {
    pub tokens_file: Option<PathBuf>,
    pub users_file: Option<PathBuf>,
    /// `/metrics` without credentials (`metrics = "open"`).
    pub metrics_open: bool,
}

impl AuthSettings {
    /// Whether any credential file is configured (then every page but `/healthz`,
    /// `/readyz` and, when open, `/metrics` needs credentials).
    pub fn is_enabled(&self) -> bool {
        self.tokens_file.is_some() || self.users_file.is_some()
    }
}

/// `[server.tls]`, paths resolved against the config's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// One `[[notify]]` webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: WebhookUrl,
    pub format: NotifyFormat,
    pub timeout: Duration,
    /// Attempts after a failed first one.
    pub retries: u32,
    pub on: BTreeSet<NotifyEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookUrl {
    Literal(String),
    Env(String),
}

impl WebhookUrl {
    /// The URL to POST to, read from the environment at each send when so configured.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            WebhookUrl::Literal(url) => Ok(url.clone()),
            WebhookUrl::Env(var) => std::env::var(var)
                .map_err(|_| format!("environment variable `{var}` (url_env) is not set")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// A generic JSON document.
    Json,
    /// Slack-compatible `{"text", "blocks"}`.
    Slack,
}

/// What a notification can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    NewFailures,
    Resolved,
    Changes,
    Unreachable,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 4] = [
        NotifyEvent::NewFailures,
        NotifyEvent::Resolved,
        NotifyEvent::Changes,
        NotifyEvent::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::NewFailures => "new_failures",
            NotifyEvent::Resolved => "resolved",
            NotifyEvent::Changes => "changes",
            NotifyEvent::Unreachable => "unreachable",
        }
    }
}

impl Checker<'_> {
    pub(super) fn schedule(&mut self, raw: raw::Schedule) -> ScheduleSettings {
        let defaults = ScheduleSettings::default();
        ScheduleSettings {
            cron: raw.cron.and_then(|c| self.cron(&c)).unwrap_or(defaults.cron),
            run_at_start: raw.run_at_start.unwrap_or(defaults.run_at_start),
            grace_period: self.duration(raw.grace_period, defaults.grace_period),
            sharding: self.sharding(raw.shards, raw.shard, raw.shard_from_hostname),
        }
    }

    fn sharding(
        &mut self,
        shards: Option<Spanned<i64>>,
        shard: Option<Spanned<i64>>,
        from_hostname: Option<Spanned<bool>>,
    ) -> Option<Sharding> {
        let from_hostname = from_hostname.filter(|f| *f.get_ref());
        let Some(shards) = shards else {
            if let Some(shard) = &shard {
                self.error(
                    Some(shard.span()),
                    "schedule.shard needs schedule.shards (how many shards there are)",
                );
            }
            if let Some(f) = &from_hostname {
                self.error(Some(f.span()), "schedule.shard_from_hostname needs schedule.shards (how many shards there are)");
            }
            return None;
        };
        let count = *shards.get_ref();
        if !(1..=MAX_SHARDS).contains(&count) {
            self.error(
                Some(shards.span()),
                format!("schedule.shards must be between 1 and {MAX_SHARDS}"),
            );
            return None;
        }
        let this = match (shard, from_hostname) {
            (Some(shard), None) => {
                let i = *shard.get_ref();
                if !(0..count).contains(&i) {
                    self.error(
                        Some(shard.span()),
                        format!(
                            "schedule.shard must be between 0 and {} (shards = {count})",
                            count - 1
                        ),
                    );
                    return None;
                }
                ShardSource::Index(i as u32)
            }
            (None, Some(_)) => ShardSource::Hostname,
            (Some(_), Some(f)) => {
                self.error(Some(f.span()), "give schedule.shard or shard_from_hostname, not both");
                return None;
            }
            (None, None) => {
                self.error(
                    Some(shards.span()),
                    format!("schedule.shards = {count} needs this instance's shard: shard = 0..{} or shard_from_hostname = true", count - 1),
                );
                return None;
            }
        };
        Some(Sharding { count: count as u32, this })
    }

    pub(super) fn cron(&mut self, value: &Spanned<String>) -> Option<Cron> {
        Cron::parse(value.get_ref()).map_err(|e| self.error(Some(value.span()), e)).ok()
    }

    pub(super) fn server(&mut self, base: &Path, raw: raw::Server) -> ServerSettings {
        let defaults = ServerSettings::default();
        let listen_span = raw.listen.as_ref().map(|l| l.span());
        let listen = match raw.listen {
            None => defaults.listen,
            Some(listen) => listen.get_ref().trim().parse().unwrap_or_else(|_| {
                self.error(
                    Some(listen.span()),
                    format!(
                        "server.listen `{}` is not an address: write ip:port, e.g. `{DEFAULT_LISTEN}`",
                        listen.get_ref()
                    ),
                );
                defaults.listen
            }),
        };
        let public_url = raw.public_url.and_then(|u| {
            self.http_url(&u, "server.public_url")
                .map(|()| u.into_inner().trim_end_matches('/').to_owned())
        });
        let file = |cx: &mut Self, value: Spanned<String>, what: &str| {
            if value.get_ref().trim().is_empty() {
                cx.error(Some(value.span()), format!("{what} is empty"));
                None
            } else {
                Some(base.join(value.into_inner()))
            }
        };
        let raw_auth = raw.auth.unwrap_or_default();
        let metrics_open = match &raw_auth.metrics {
            None => false,
            Some(m) => match m.get_ref().as_str() {
                "open" => true,
                "authenticated" => false,
                other => {
                    self.error(
                        Some(m.span()),
                        format!(
                            "server.auth.metrics `{other}`: expected `authenticated` or `open`"
                        ),
                    );
                    false
                }
            },
        };
        let auth = AuthSettings {
            tokens_file: raw_auth
                .tokens_file
                .and_then(|f| file(self, f, "server.auth.tokens_file")),
            users_file: raw_auth.users_file.and_then(|f| file(self, f, "server.auth.users_file")),
            metrics_open,
        };
        // Anyone who reaches a non-loopback port would read every configuration.
        if !listen.ip().is_loopback()
            && !auth.is_enabled()
            && let Some(at) = listen_span
        {
            self.error(
                Some(at),
                format!(
                    "server.listen {listen} is reachable from other hosts, and the reports show every \
                     target's configuration: give [server.auth] tokens_file or users_file \
                     (docs/serve.md, \"Access control\"), or listen on 127.0.0.1"
                ),
            );
        }
        let tls = raw.tls.and_then(|t| match (t.cert_file, t.key_file) {
            (Some(cert), Some(key)) => Some(TlsSettings {
                cert_file: file(self, cert, "server.tls.cert_file")?,
                key_file: file(self, key, "server.tls.key_file")?,
            }),
            (Some(only), None) | (None, Some(only)) => {
                self.error(Some(only.span()), "[server.tls] needs both cert_file and key_file");
                None
            }
            (None, None) => None,
        });
        ServerSettings { listen, public_url, auth, tls }
    }

    pub(super) fn notify(&mut self, value: Spanned<toml::de::DeValue<'_>>) -> Vec<Webhook> {
        let span = value.span();
        let toml::de::DeValue::Array(items) = value.into_inner() else {
            self.error(Some(span), "`notify` must be an array of tables: write [[notify]]");
            return Vec::new();
        };
        items
            .into_iter()
            .filter_map(|item| {
                let item_span = item.span();
                let raw: raw::Notify = self.section(item)?;
                self.webhook(item_span, raw)
            })
            .collect()
    }

    fn webhook(&mut self, span: std::ops::Range<usize>, raw: raw::Notify) -> Option<Webhook> {
        let url = match (raw.url, raw.url_env) {
            (Some(url), None) => {
                self.http_url(&url, "notify.url")?;
                WebhookUrl::Literal(url.into_inner())
            }
            (None, Some(var)) if var.get_ref().trim().is_empty() => {
                self.error(Some(var.span()), "notify.url_env is empty");
                return None;
            }
            (None, Some(var)) => WebhookUrl::Env(var.into_inner()),
            (Some(_), Some(var)) => {
                self.error(Some(var.span()), "give either url or url_env, not both");
                return None;
            }
            (None, None) => {
                self.error(Some(span), "[[notify]] needs `url` or `url_env`");
                return None;
            }
        };
        let format = match raw.format {
            None => NotifyFormat::Json,
            Some(f) => match f.get_ref().as_str() {
                "json" => NotifyFormat::Json,
                "slack" => NotifyFormat::Slack,
                other => {
                    self.error(
                        Some(f.span()),
                        format!("unknown notify format `{other}`: json or slack"),
                    );
                    NotifyFormat::Json
                }
            },
        };
        let timeout = self.duration(raw.timeout, Duration::from_secs(10));
        let retries = match raw.retries {
            None => 3,
            Some(r) if (0..=10).contains(r.get_ref()) => *r.get_ref() as u32,
            Some(r) => {
                self.error(Some(r.span()), "notify.retries must be between 0 and 10");
                3
            }
        };
        let on = match raw.on {
            None => NotifyEvent::ALL.into_iter().collect(),
            Some(list) => {
                let mut on = BTreeSet::new();
                if list.get_ref().is_empty() {
                    self.error(
                        Some(list.span()),
                        "notify.on is empty: leave it out to get every event",
                    );
                }
                for event in list.into_inner() {
                    match NotifyEvent::ALL.into_iter().find(|e| e.as_str() == event.get_ref()) {
                        Some(e) => {
                            on.insert(e);
                        }
                        None => self.error(
                            Some(event.span()),
                            format!(
                                "unknown event `{}`: new_failures, resolved, changes or unreachable",
                                event.get_ref()
                            ),
                        ),
                    }
                }
                on
            }
        };
        Some(Webhook { url, format, timeout, retries, on })
    }

    fn http_url(&mut self, value: &Spanned<String>, what: &str) -> Option<()> {
        match url::Url::parse(value.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(()),
            Ok(u) => {
                self.error(
                    Some(value.span()),
                    format!("{what} must be an http:// or https:// URL, not {}://", u.scheme()),
                );
                None
            }
            Err(e) => {
                self.error(Some(value.span()), format!("{what} is not a URL: {e}"));
                None
            }
        }
    }
}
