//! `driftwatch.toml`: read once, checked once, turned into ready-to-use values.
//!
//! Loading is two stages: [`raw`] mirrors the file (serde, unknown fields refused), then
//! [`parse`] checks everything and returns either a [`Config`] or *every* problem, each
//! with file:line:col. Each section and each `[[targets]]` entry is deserialized on its
//! own so a mistake in one does not hide mistakes in the others. Secrets (passwords,
//! URLs from the environment) are *not* read here: [`Connection::resolve`] reads them
//! when a run needs them, so rotated credentials are picked up without a restart.

mod duration;
mod limits;
mod raw;
mod redaction;
mod service;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::collect::Limits;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::snapshot::{Kind, Role};
use crate::store::{StoreLocation, StoreRetry};

pub use duration::parse as parse_duration;
pub use limits::parse_size;
pub use redaction::{KEY_ENV, RedactionSettings};
pub use service::{
    AuthSettings, Cron, MAX_SHARDS, NotifyEvent, NotifyFormat, ScheduleSettings, ServerSettings,
    ShardSource, Sharding, TlsSettings, Webhook, WebhookUrl,
};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    pub store: StoreLocation,
    /// `[store] retries` and `retry_timeout`.
    pub store_retry: StoreRetry,
    /// Absolute (or config-relative resolved) policies folder.
    pub policies_dir: PathBuf,
    /// `[policies] packs`: which packs of that folder run.
    pub policy_packs: PackSelection,
    pub audit: AuditSettings,
    pub retention: Retention,
    /// `[redaction]`: the key of secret fingerprints.
    pub redaction: RedactionSettings,
    /// `[integrity]`: the key the hash chain is signed with.
    pub integrity: IntegritySettings,
    /// `[schedule]`: read by `serve` only.
    pub schedule: ScheduleSettings,
    /// `[server]`: read by `serve` only.
    pub server: ServerSettings,
    /// `[[notify]]` webhooks: read by `serve` only.
    pub notify: Vec<Webhook>,
    pub targets: Vec<Target>,
}

/// `[policies] packs`: the policy packs a run uses (see `policy::PolicySet::select`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSelection {
    pub names: Vec<String>,
    /// Where the selection comes from, for a diagnostic naming a pack no file declares.
    pub origin: PackOrigin,
}

/// Where a [`PackSelection`] was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackOrigin {
    /// Nobody chose: `policy::DEFAULT_PACKS`.
    Default,
    /// `[policies] packs`, at this line and column of the config file.
    Config { line: usize, column: usize },
    /// A command's `--pack` options.
    CommandLine,
}

impl Default for PackSelection {
    fn default() -> Self {
        PackSelection {
            names: crate::policy::DEFAULT_PACKS.iter().map(|p| (*p).to_owned()).collect(),
            origin: PackOrigin::Default,
        }
    }
}

/// `[integrity]`: how the history's hash chain is signed (see [`crate::integrity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegritySettings {
    /// `signing_key_file`, resolved against the config's folder; `None`: links unsigned.
    pub signing_key_file: Option<PathBuf>,
}

impl IntegritySettings {
    /// The key for a run, read when the run needs it (a rotated key is picked up
    /// without a restart). Errors name the file, never the key.
    pub fn signer(&self) -> Result<Option<crate::integrity::SigningKey>, String> {
        self.signing_key_file
            .as_deref()
            .map(crate::integrity::SigningKey::from_pem_file)
            .transpose()
    }
}

/// How long history is kept (`driftwatch gc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `None`: keep everything unless `gc --older-than` says otherwise.
    pub max_age: Option<Duration>,
    pub snapshot_grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    pub concurrency: usize,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    pub target_timeout: Duration,
    /// `[audit.limits]`: the bounds every target starts from.
    pub limits: Limits,
    /// A group member not in this run (another schedule audits it) is judged with by
    /// group rules from its newest collection in the store when that is at most this
    /// old; older, or none, and it counts as not collected.
    pub group_member_max_age: Duration,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            concurrency: 16,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            target_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            group_member_max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// One server to audit.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub role: Role,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub connection: Connection,
    /// Audited on this schedule alone (by `serve`) instead of `[schedule]`'s.
    pub schedule: Option<Cron>,
    /// `[audit.limits]` with the target's own `limits` over them.
    pub limits: Limits,
    /// Redis: the configuration file the server starts from (resolved against the
    /// config file's folder), the only file the collector reads.
    pub config_file: Option<PathBuf>,
}

/// How to build the connection URL at run time. The URL in config never holds a
/// password; the password (or the whole URL) comes from the environment or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Url { url: String, password: Option<PasswordSource> },
    UrlEnv(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    File(PathBuf),
    Env(String),
}

impl Connection {
    /// The address to show: the URL without any password, or where it comes from.
    pub fn display(&self) -> String {
        match self {
            Connection::Url { url, .. } => crate::redact::url(url),
            Connection::UrlEnv(var) => match std::env::var(var) {
                Ok(url) => crate::redact::url(&url),
                Err(_) => format!("${var}"),
            },
        }
    }

    /// Reads the secret parts and returns the full connection URL. Errors name the
    /// variable or file, never a secret.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            Connection::UrlEnv(var) => std::env::var(var)
                .map_err(|_| format!("environment variable `{var}` (url_env) is not set")),
            Connection::Url { url, password: None } => Ok(url.clone()),
            Connection::Url { url, password: Some(source) } => {
                let password = match source {
                    PasswordSource::Env(var) => std::env::var(var).map_err(|_| {
                        format!("environment variable `{var}` (password_env) is not set")
                    })?,
                    PasswordSource::File(path) => std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read password_file {}: {e}", path.display()))?
                        .trim_end_matches(['\r', '\n'])
                        .to_owned(),
                };
                let mut parsed = url::Url::parse(url).map_err(|e| format!("bad url: {e}"))?;
                parsed
                    .set_password(Some(&password))
                    .map_err(|()| "this url cannot carry a password".to_owned())?;
                Ok(parsed.into())
            }
        }
    }
}

/// Reads and checks a config file. Any problem, including an unreadable file, comes
/// back as diagnostics; nothing is written.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            "cannot read config: no such file (give --config FILE or set DRIFTWATCH_CONFIG; \
             deploy/examples/driftwatch.toml is a start)"
                .to_owned()
        } else {
            format!("cannot read config: {e}")
        };
        Diagnostics(vec![Diagnostic::whole_file(path, message)])
    })?;
    parse(path, &text)
}

/// Checks config text as if read from `path` (relative paths resolve against its folder).
pub fn parse(path: &Path, text: &str) -> Result<Config, Diagnostics> {
    let mut cx = Checker { file: path, text, problems: Vec::new() };
    let table = match DeTable::parse(text) {
        Ok(table) => table.into_inner(),
        Err(e) => {
            cx.error(e.span(), format!("invalid TOML: {}", e.message()));
            return Err(Diagnostics::sorted(cx.problems));
        }
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let mut store = raw::Store::default();
    let mut policies = raw::Policies::default();
    let mut audit = raw::Audit::default();
    let mut retention = raw::Retention::default();
    let mut redaction = raw::Redaction::default();
    let mut integrity = raw::Integrity::default();
    let mut schedule = raw::Schedule::default();
    let mut server = raw::Server::default();
    let mut notify = Vec::new();
    let mut targets = Vec::new();
    let mut saw_targets = false;
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "store" => store = cx.section(value).unwrap_or_default(),
            "policies" => policies = cx.section(value).unwrap_or_default(),
            "audit" => audit = cx.section(value).unwrap_or_default(),
            "retention" => retention = cx.section(value).unwrap_or_default(),
            "redaction" => redaction = cx.section(value).unwrap_or_default(),
            "integrity" => integrity = cx.section(value).unwrap_or_default(),
            "schedule" => schedule = cx.section(value).unwrap_or_default(),
            "server" => server = cx.section(value).unwrap_or_default(),
            "notify" => notify = cx.notify(value),
            "targets" => {
                saw_targets = true;
                targets = cx.targets(value);
            }
            other => cx.error(
                Some(key.span()),
                format!(
                    "unknown section `{other}`: expected store, policies, audit, retention, redaction, integrity, schedule, server, notify or targets"
                ),
            ),
        }
    }

    let store_retry = cx.store_retry(&store);
    let store = cx.store(&base, store);
    let policies_dir = match policies.dir {
        Some(dir) if dir.get_ref().trim().is_empty() => {
            cx.error(Some(dir.span()), "policies.dir is empty");
            PathBuf::new()
        }
        Some(dir) => base.join(dir.into_inner()),
        None => base.join("policies"),
    };
    let policy_packs = match policies.packs {
        None => PackSelection::default(),
        Some(list) => {
            let (line, column) = crate::diagnostic::line_col(text, list.span().start);
            let origin = PackOrigin::Config { line, column };
            let mut names = Vec::new();
            for name in list.into_inner() {
                if crate::policy::is_pack_name(name.get_ref()) {
                    names.push(name.into_inner());
                } else {
                    let msg = format!(
                        "policies.packs: `{}` is not a pack name (lowercase letters, digits and `-`)",
                        name.get_ref()
                    );
                    cx.error(Some(name.span()), msg);
                }
            }
            PackSelection { names, origin }
        }
    };
    let audit = cx.audit(audit);
    let retention = Retention {
        max_age: retention.max_age.map(|a| cx.duration(Some(a), Duration::ZERO)),
        snapshot_grace: cx.duration(retention.snapshot_grace, Duration::from_secs(3600)),
    };
    let redaction = RedactionSettings::from_raw(&base, redaction);
    let integrity = IntegritySettings {
        signing_key_file: integrity.signing_key_file.map(|f| base.join(f.into_inner())),
    };
    let schedule = cx.schedule(schedule);
    let server = cx.server(&base, server);
    if !saw_targets {
        cx.problems.push(Diagnostic::whole_file(
            path,
            "no [[targets]]: declare at least one server to audit",
        ));
    }
    let targets = cx.check_targets(&base, targets, &audit.limits);

    if cx.problems.is_empty() {
        Ok(Config {
            file: path.to_owned(),
            store,
            store_retry,
            policies_dir,
            policy_packs,
            audit,
            retention,
            redaction,
            integrity,
            schedule,
            server,
            notify,
            targets,
        })
    } else {
        Err(Diagnostics::sorted(cx.problems))
    }
}

/// Collects problems while walking the file.
struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.problems.push(Diagnostic::at_span(self.file, self.text, span, message));
    }

    fn section<T: DeserializeOwned>(&mut self, value: Spanned<DeValue<'_>>) -> Option<T> {
        T::deserialize(value.into_deserializer())
            .map_err(|e| self.error(e.span(), e.message().to_owned()))
            .ok()
    }

    fn targets(&mut self, value: Spanned<DeValue<'_>>) -> Vec<raw::Target> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => {
                items.into_iter().filter_map(|item| self.section(item)).collect()
            }
            _ => {
                self.error(Some(span), "`targets` must be an array of tables: write [[targets]]");
                Vec::new()
            }
        }
    }

    fn audit(&mut self, audit: raw::Audit) -> AuditSettings {
        let defaults = AuditSettings::default();
        let concurrency = match audit.concurrency {
            Some(c) if *c.get_ref() < 1 || *c.get_ref() > 4096 => {
                self.error(Some(c.span()), "audit.concurrency must be between 1 and 4096");
                defaults.concurrency
            }
            Some(c) => c.into_inner() as usize,
            None => defaults.concurrency,
        };
        let connect_timeout = self.duration(audit.connect_timeout, defaults.connect_timeout);
        let statement_timeout = self.duration(audit.statement_timeout, defaults.statement_timeout);
        let target_timeout = self.duration(audit.target_timeout, defaults.target_timeout);
        let limits = self.limits(defaults.limits, audit.limits);
        let group_member_max_age =
            self.duration(audit.group_member_max_age, defaults.group_member_max_age);
        AuditSettings {
            concurrency,
            connect_timeout,
            statement_timeout,
            target_timeout,
            limits,
            group_member_max_age,
        }
    }

    fn duration(&mut self, value: Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(value) = value else { return default };
        duration::parse(value.get_ref()).unwrap_or_else(|e| {
            self.error(Some(value.span()), e);
            default
        })
    }

    fn check_targets(
        &mut self,
        base: &Path,
        raw: Vec<raw::Target>,
        limits: &Limits,
    ) -> Vec<Target> {
        let mut seen: HashMap<String, ()> = HashMap::new();
        let mut out = Vec::new();
        for t in raw {
            let name_span = t.name.span();
            let name = t.name.into_inner();
            if let Err(e) = check_name(&name) {
                self.error(Some(name_span.clone()), e);
            }
            if seen.insert(name.clone(), ()).is_some() {
                self.error(Some(name_span.clone()), format!("duplicate target name `{name}`"));
            }
            let kind = *t.kind.get_ref();
            let connection = self.connection(
                base,
                kind,
                &name,
                name_span,
                t.url,
                t.url_env,
                t.password_file,
                t.password_env,
            );
            if let Some(group) = &t.group
                && let Err(e) = check_name(group.get_ref())
            {
                self.error(Some(group.span()), e.replace("target name", "group name"));
            }
            let schedule = t.schedule.and_then(|c| self.cron(&c));
            let limits = self.limits(*limits, t.limits);
            let config_file = t.config_file.and_then(|f| self.config_file(base, kind, f));
            if let Some(connection) = connection {
                out.push(Target {
                    name,
                    kind,
                    role: t.role.into_inner(),
                    group: t.group.map(Spanned::into_inner),
                    labels: t.labels,
                    connection,
                    schedule,
                    limits,
                    config_file,
                });
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn connection(
        &mut self,
        base: &Path,
        kind: Kind,
        name: &str,
        name_span: Range<usize>,
        url: Option<Spanned<String>>,
        url_env: Option<Spanned<String>>,
        password_file: Option<Spanned<String>>,
        password_env: Option<Spanned<String>>,
    ) -> Option<Connection> {
        match (url, url_env) {
            (Some(url), None) => {
                let password = match (password_file, password_env) {
                    (Some(f), None) => Some(PasswordSource::File(base.join(f.into_inner()))),
                    (None, Some(e)) => Some(PasswordSource::Env(e.into_inner())),
                    (None, None) => None,
                    (Some(_), Some(e)) => {
                        self.error(Some(e.span()), "give password_file or password_env, not both");
                        None
                    }
                };
                self.check_url(kind, &url)?;
                Some(Connection::Url { url: url.into_inner(), password })
            }
            (None, Some(var)) => {
                for extra in [password_file, password_env].into_iter().flatten() {
                    self.error(
                        Some(extra.span()),
                        "with url_env the variable holds the whole URL; password_file/password_env need `url`",
                    );
                }
                if var.get_ref().trim().is_empty() {
                    self.error(Some(var.span()), "url_env is empty");
                }
                Some(Connection::UrlEnv(var.into_inner()))
            }
            (Some(_), Some(var)) => {
                self.error(Some(var.span()), "give either url or url_env, not both");
                None
            }
            (None, None) => {
                self.error(Some(name_span), format!("target `{name}` needs `url` or `url_env`"));
                None
            }
        }
    }

    /// A Redis target's `config_file`, relative to the config file's folder.
    fn config_file(&mut self, base: &Path, kind: Kind, file: Spanned<String>) -> Option<PathBuf> {
        if kind != Kind::Redis {
            self.error(
                Some(file.span()),
                "config_file applies to redis targets only (the other engines report where \
                 each setting was set)",
            );
            return None;
        }
        if file.get_ref().trim().is_empty() {
            self.error(Some(file.span()), "config_file is empty");
            return None;
        }
        Some(base.join(file.into_inner()))
    }

    fn check_url(&mut self, kind: Kind, url: &Spanned<String>) -> Option<()> {
        let span = Some(url.span());
        let parsed = match url::Url::parse(url.get_ref()) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.error(span, format!("invalid url: {e}"));
                return None;
            }
        };
        let schemes: &[&str] = match kind {
            Kind::Postgres => &["postgres", "postgresql"],
            Kind::Mysql => &["mysql", "mariadb"],
            Kind::Redis => &["redis", "rediss"],
            Kind::Memcached => &["memcached", "tcp"],
            Kind::Pgbouncer => &["postgres", "postgresql"],
        };
        if !schemes.contains(&parsed.scheme()) {
            self.error(
                span.clone(),
                format!(
                    "a {kind} target needs a {}:// url, not {}://",
                    schemes[0],
                    parsed.scheme()
                ),
            );
        }
        // The collector reads PgBouncer's admin console, which is this virtual database.
        if kind == Kind::Pgbouncer && parsed.path() != "/pgbouncer" {
            self.error(
                span.clone(),
                format!(
                    "a pgbouncer target's url names the admin console, database pgbouncer \
                     (postgres://user@host:6432/pgbouncer), not `{}`",
                    parsed.path()
                ),
            );
        }
        if parsed.password().is_some() {
            self.error(
                span,
                "the url holds a password: move it to password_file or password_env (or the whole url to url_env)",
            );
            return None;
        }
        Some(())
    }
}

/// Target and group names become file names and HTML ids: keep them plain.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "target name `{name}` must be 1-100 characters of a-z, 0-9, `-` and `_`, starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests;
