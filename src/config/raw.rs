//! The configuration file as written: serde types that mirror the TOML, with spans
//! kept on every value a later check must point at. Nothing here is validated.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::snapshot::{Kind, Role};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// Where history goes: a path, `file:///…`, `memory://`, `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`.
    pub url: Option<Spanned<String>>,
    /// S3-compatible endpoint (`http://127.0.0.1:9000`).
    pub endpoint: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    /// Allow plain `http://` endpoints (S3-compatible servers on a private network).
    pub allow_http: Option<bool>,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub path_style: Option<bool>,
    /// Any other `object_store` option (`aws_sse_kms_key_id = …`). Credentials belong in
    /// the standard environment variables, not here.
    #[serde(default)]
    pub options: BTreeMap<Spanned<String>, String>,
    /// Retries of a transient store error after the first attempt (default 5).
    pub retries: Option<Spanned<i64>>,
    /// No retry starts this long after the first attempt (`30s`).
    pub retry_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Folder of policy TOML files, relative to the config file.
    pub dir: Option<Spanned<String>>,
    /// The packs that run (`[policy] pack` of the files); files of no pack always run.
    pub packs: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// How many targets are collected at once.
    pub concurrency: Option<Spanned<i64>>,
    /// Bound on establishing one connection (`5s`, `500ms`).
    pub connect_timeout: Option<Spanned<String>>,
    /// Bound on each statement a collector runs.
    pub statement_timeout: Option<Spanned<String>>,
    /// Bound on collecting one target, connection included.
    pub target_timeout: Option<Spanned<String>>,
    /// Bounds on what a server may send, for every target (`[audit.limits]`).
    pub limits: Option<Limits>,
    /// How old another run's collection of a group member may be for group rules to
    /// judge with it (`24h`).
    pub group_member_max_age: Option<Spanned<String>>,
}

/// `[audit.limits]`, or a target's `limits`: bounds on what one collection reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Bytes read from the server in one collection (`32MiB`, or a number of bytes).
    pub reply_bytes: Option<Spanned<Size>>,
    /// Settings one server may report.
    pub settings: Option<Spanned<i64>>,
    /// Rows of any other answer (replicas, slots, INFO fields, …).
    pub rows: Option<Spanned<i64>>,
    /// Bytes of one value (`1MiB`, or a number of bytes).
    pub value_bytes: Option<Spanned<Size>>,
}

/// A byte count: a number of bytes, or text with a unit (`32MiB`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: Spanned<String>,
    pub kind: Spanned<Kind>,
    /// Connection URL without a password.
    pub url: Option<Spanned<String>>,
    /// Name of an environment variable holding the whole connection URL.
    pub url_env: Option<Spanned<String>>,
    /// File whose content (trimmed) is the password, combined with `url`.
    pub password_file: Option<Spanned<String>>,
    /// Environment variable holding the password, combined with `url`.
    pub password_env: Option<Spanned<String>>,
    /// The role this server is meant to have.
    pub role: Spanned<Role>,
    /// Replication topology the target belongs to.
    pub group: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Cron (6 fields, seconds first) of this target alone, instead of `[schedule]`'s.
    pub schedule: Option<Spanned<String>>,
    /// Redis: the configuration file the server starts from, read to find runtime-only
    /// changes (relative to the config file's folder).
    pub config_file: Option<Spanned<String>>,
    /// Bounds on what this server may send, over `[audit.limits]`.
    pub limits: Option<Limits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// When `serve` audits: 6 cron fields, seconds first (`0 */5 * * * *`).
    pub cron: Option<Spanned<String>>,
    /// Audit once as soon as `serve` starts (default true).
    pub run_at_start: Option<bool>,
    /// How long shutdown waits for a running audit (`30s`).
    pub grace_period: Option<Spanned<String>>,
    /// Split the targets over this many shards (instances sharing one store).
    pub shards: Option<Spanned<i64>>,
    /// This instance's shard, `0..shards`.
    pub shard: Option<Spanned<i64>>,
    /// Take the shard from the host name's trailing `-<n>` (a StatefulSet ordinal).
    pub shard_from_hostname: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Address the web server binds (`127.0.0.1:9187`).
    pub listen: Option<Spanned<String>>,
    /// Where people reach the reports, for links in notifications (`https://…`).
    pub public_url: Option<Spanned<String>>,
    /// Who may read what the server serves (`[server.auth]`).
    pub auth: Option<ServerAuth>,
    /// HTTPS (`[server.tls]`).
    pub tls: Option<ServerTls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerAuth {
    /// Bearer tokens: lines `<name>:sha256:<hex of the token's sha256>`.
    pub tokens_file: Option<Spanned<String>>,
    /// HTTP basic users: lines `<user>:<bcrypt hash>` (`htpasswd -B`).
    pub users_file: Option<Spanned<String>>,
    /// `authenticated` (the default) or `open`: whether `/metrics` needs credentials.
    pub metrics: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// The certificate chain, PEM.
    pub cert_file: Option<Spanned<String>>,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// The webhook URL (may hold a token: never logged).
    pub url: Option<Spanned<String>>,
    /// Environment variable holding the webhook URL, read at each send.
    pub url_env: Option<Spanned<String>>,
    /// `json` (default) or `slack`.
    pub format: Option<Spanned<String>>,
    /// Bound on one POST (`10s`).
    pub timeout: Option<Spanned<String>>,
    /// Attempts after the first one failed (default 3).
    pub retries: Option<Spanned<i64>>,
    /// Which events to send: `new_failures`, `resolved`, `changes`, `unreachable`.
    pub on: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Runs (and their reports) older than this are deleted by `driftwatch gc`.
    pub max_age: Option<Spanned<String>>,
    /// Unreferenced snapshots younger than this are kept: a run may be writing them.
    pub snapshot_grace: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// File holding the key of secret fingerprints (`DRIFTWATCH_SECRET_KEY` wins).
    pub key_file: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integrity {
    /// Ed25519 private key (PKCS#8 PEM) the hash chain's links are signed with.
    pub signing_key_file: Option<Spanned<String>>,
}
