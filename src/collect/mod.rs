//! Collectors: one per engine kind, each reading a server's configuration and state.
//!
//! # The contract every collector keeps
//!
//! - **Read-only.** Only statements that read: `SHOW`, `SELECT` from catalog and
//!   statistics views, `CONFIG GET`, `INFO`, `ROLE`, `stats`. Nothing that writes,
//!   locks, or changes a session beyond its own timeouts.
//! - **Least privilege.** Works with a monitoring account (PostgreSQL `pg_monitor`,
//!   MySQL `REPLICATION CLIENT`, MariaDB `BINLOG MONITOR` + `SLAVE MONITOR`);
//!   when a privilege is missing, says which one in the error.
//! - **Bounded.** Connecting is bounded by `connect_timeout`, every statement by
//!   `statement_timeout`; the caller bounds the whole collection by `target_timeout`.
//!   What a server sends is bounded by the target's [`Limits`] (bytes, settings, rows,
//!   the length of one value): a server that sends more fails the collection with
//!   [`Limit::exceeded`], which names the bound and how to raise it, and memory stays
//!   bounded by the limits, whatever the server sends.
//! - **No file a server names is read.** A collector reads a local file only when the
//!   target's configuration names it (Redis `config_file`), through [`files`]: regular
//!   files only, bounded in size and number, off the async runtime; what does not parse
//!   as configuration is never stored (only its file and line are named).
//! - **Stable vs volatile.** `Snapshot::config` holds what only changes when someone
//!   changes the configuration (settings and where they were set, server version,
//!   role: `setting.`, `pending.`, `server.`, and PostgreSQL's per-role and
//!   per-database `role.` / `database.`, see [`crate::scoped`]); `State` holds readings that move on their own (lag, positions, replica
//!   lists, latency). Mixing them would break snapshot deduplication.
//! - **One connection** per target per collection, closed before returning.
//! - **Connections.** Every collector reports `state.connect_ms` (its own connect and
//!   authenticate time) and, where the engine tells, `state.connections.in_use`,
//!   `.limit` (what ordinary clients may open) and `.refused` (a counter), then
//!   `.usage_pct` from the two ([`connection_usage`]). Each collector's header lists its
//!   engine's other `state.connections.*` readings.
//! - **Uptime.** Every collector of a server that has one reports
//!   [`UPTIME_KEY`] (`state.uptime_s`, seconds since the server started): counter rules
//!   use it to tell a restart (counters back at zero) from a quiet period. Where the
//!   engine names its running process exactly, [`INSTANCE_KEY`] (`state.instance`)
//!   too: a different value is a restart whatever the uptimes say.
//! - Collectors return raw values; redaction happens in the caller before anything
//!   else sees them. Errors must not contain the connection password (the caller
//!   redacts them too).

pub mod conffile;
pub mod files;
pub mod memcached;
pub mod mysql;
pub mod pending;
pub mod pgbouncer;
pub mod postgres;
pub mod redis;
mod sql;

use std::path::PathBuf;
use std::time::Duration;

use crate::snapshot::{Kind, Snapshot, State};

pub use crate::snapshot::{
    ABORTED_KEY, CONNECT_MS_KEY, IN_USE_KEY, INSTANCE_KEY, LIMIT_KEY, REFUSED_KEY, UPTIME_KEY,
    USAGE_PCT_KEY,
};

/// What one collection returns.
#[derive(Debug, Clone)]
pub struct Collected {
    pub snapshot: Snapshot,
    pub state: State,
}

/// Why a collection failed. Both kinds are data, recorded in the run; neither stops it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// The server could not be reached or did not answer the connection in time.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Connected, but reading failed (permission, query error, timeout).
    #[error("{0}")]
    Failed(String),
}

/// How to reach one target. `url` holds the real password (from env or file) and must
/// never be logged or stored: use [`crate::redact::url`] to show it.
#[derive(Clone)]
pub struct Endpoint {
    pub target: String,
    pub kind: Kind,
    pub url: String,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// The most the server may send ([`Limits`]).
    pub limits: Limits,
    /// Redis: the configuration file the server starts from, as the operator wrote it
    /// in the target's config (the only file the collector reads).
    pub config_file: Option<PathBuf>,
}

/// Bounds on what one collection reads from a server. The defaults fit the largest
/// real servers with a wide margin (PostgreSQL 15 has ~360 settings, MariaDB 10.11
/// ~660 variables, Redis 7 ~200 `CONFIG GET *` pairs in ~5 KB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read from the server in one collection, all answers together.
    pub reply_bytes: u64,
    /// Settings one server reports (`pg_settings` rows, variables, `CONFIG GET` pairs,
    /// `stats settings` lines).
    pub settings: usize,
    /// Rows (or fields) of any other answer: replicas, slots, replication
    /// connections, `INFO` fields, `stats` lines, `pg_file_settings` rows.
    pub rows: usize,
    /// Bytes of one value (a setting, a column, an `INFO` field).
    pub value_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { reply_bytes: 32 << 20, settings: 10_000, rows: 10_000, value_bytes: 1 << 20 }
    }
}

/// One of the [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ReplyBytes,
    Settings,
    Rows,
    ValueBytes,
    /// Arrays nested deeper than a real server's answers ever are (not configurable).
    Depth,
}

impl Limit {
    /// The key in `[audit.limits]` and a target's `limits`.
    pub fn key(self) -> &'static str {
        match self {
            Limit::ReplyBytes => "reply_bytes",
            Limit::Settings => "settings",
            Limit::Rows => "rows",
            Limit::ValueBytes => "value_bytes",
            Limit::Depth => "depth",
        }
    }

    /// The failure of a collection whose server sent more than `limits` allow: names
    /// the bound and how to raise it.
    pub fn exceeded(self, limits: &Limits, what: &str) -> CollectError {
        let sent = match self {
            Limit::ReplyBytes => format!("more than {} in all", bytes(limits.reply_bytes)),
            Limit::Settings => format!("more than {} settings", limits.settings),
            Limit::Rows => format!("more than {} rows", limits.rows),
            Limit::ValueBytes => format!("a value longer than {}", bytes(limits.value_bytes)),
            Limit::Depth => {
                return failed(format!(
                    "{what}: the server sent arrays nested deeper than a Redis server's answers"
                ));
            }
        };
        let key = self.key();
        failed(format!(
            "{what}: the server sent {sent} (limits.{key}); if it really has that much, raise \
             {key} under [audit.limits] or in the target's limits"
        ))
    }
}

/// `32MiB`, `1KiB`, `100B`: a byte count as config takes it.
pub fn bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("target", &self.target)
            .field("kind", &self.kind)
            .field("url", &crate::redact::url(&self.url))
            .finish()
    }
}

/// A target that could not be reached; the message is redacted.
fn unreachable(message: String) -> CollectError {
    CollectError::Unreachable(crate::redact::text(&message).into_owned())
}

/// A target reached but not read; the message is redacted.
fn failed(message: String) -> CollectError {
    CollectError::Failed(crate::redact::text(&message).into_owned())
}

/// `5s`, `500ms`, `1.5s`: how a person writes a timeout.
fn human_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// A connect that did not finish within `connect_timeout`: unreachable, naming the bound.
fn connect_timed_out(timeout: Duration, address: &str) -> CollectError {
    unreachable(format!(
        "timed out after {} (connect_timeout) connecting to {address}",
        human_duration(timeout)
    ))
}

/// Collects one target with the collector of its kind.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    match endpoint.kind {
        Kind::Postgres => postgres::collect(endpoint).await,
        Kind::Mysql => mysql::collect(endpoint).await,
        Kind::Redis => redis::collect(endpoint).await,
        Kind::Memcached => memcached::collect(endpoint).await,
        Kind::Pgbouncer => pgbouncer::collect(endpoint).await,
    }
}

/// At most this many `state.connections.<group>.<name>` keys per group (PostgreSQL per
/// database and per user): the busiest ones, the rest summed in `.<group>_others`.
pub const MAX_GROUP_KEYS: usize = 20;

/// Adds [`USAGE_PCT_KEY`] when the collector reported both `in_use` and a positive
/// `limit`. A percentage in the state, rather than a policy operator comparing two
/// keys, keeps rules, metrics and reports reading one number (rounded to 0.1).
pub fn connection_usage(state: &mut State) {
    let number = |key: &str| state.get(key).and_then(|e| e.value.trim().parse::<f64>().ok());
    if let (Some(in_use), Some(limit)) = (number(IN_USE_KEY), number(LIMIT_KEY))
        && limit > 0.0
    {
        let pct = (in_use / limit * 1000.0).round() / 10.0;
        state.insert(USAGE_PCT_KEY.into(), crate::snapshot::Entry::new(pct.to_string()));
    }
}

/// Per-name counts as `<prefix>.<name>`, the [`MAX_GROUP_KEYS`] largest (ties by name),
/// and what the others hold together as `<prefix>_others` (always present, `0` when
/// none is left out), so a server with thousands of users keeps a bounded state.
fn bounded_counts(state: &mut State, prefix: &str, mut counts: Vec<(String, u64)>) {
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let others: u64 = counts.iter().skip(MAX_GROUP_KEYS).map(|(_, n)| n).sum();
    for (name, n) in counts.into_iter().take(MAX_GROUP_KEYS) {
        state.insert(format!("{prefix}.{name}"), crate::snapshot::Entry::new(n.to_string()));
    }
    state.insert(format!("{prefix}_others"), crate::snapshot::Entry::new(others.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Entry;

    #[track_caller]
    fn check_usage(in_use: Option<&str>, limit: Option<&str>, expect: Option<&str>) {
        let mut state = State::new();
        if let Some(v) = in_use {
            state.insert(IN_USE_KEY.into(), Entry::new(v));
        }
        if let Some(v) = limit {
            state.insert(LIMIT_KEY.into(), Entry::new(v));
        }
        connection_usage(&mut state);
        assert_eq!(state.get(USAGE_PCT_KEY).map(|e| e.value.as_str()), expect);
    }

    #[test]
    fn usage_is_a_percentage_of_the_usable_limit() {
        check_usage(Some("8"), Some("10"), Some("80"));
        check_usage(Some("2"), Some("3"), Some("66.7"));
        check_usage(Some("12"), Some("10"), Some("120"));
        check_usage(Some("0"), Some("97"), Some("0"));
        check_usage(Some("5"), Some("0"), None);
        check_usage(Some("5"), None, None);
        check_usage(None, Some("10"), None);
        check_usage(Some("x"), Some("10"), None);
    }

    #[test]
    fn per_name_counts_are_bounded() {
        let mut state = State::new();
        let counts = (0..25).map(|i| (format!("u{i:02}"), i as u64 % 7)).collect();
        bounded_counts(&mut state, "state.connections.user", counts);
        let kept = state.keys().filter(|k| k.starts_with("state.connections.user.")).count();
        assert_eq!(kept, MAX_GROUP_KEYS);
        // 25 users, counts 0..6 cycling: left out are the four with 0 and the last
        // (by name) with 1.
        assert_eq!(state["state.connections.user_others"].value, "1");
        assert_eq!(state["state.connections.user.u06"].value, "6");
        let mut state = State::new();
        let counts = (0..22).map(|i| (format!("d{i:02}"), 1)).collect();
        bounded_counts(&mut state, "state.connections.database", counts);
        assert_eq!(state["state.connections.database_others"].value, "2");
        assert!(state.contains_key("state.connections.database.d19"));
        assert!(!state.contains_key("state.connections.database.d20"));
    }
}
