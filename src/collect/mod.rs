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
//! - **Stable vs volatile.** `Snapshot::config` holds what only changes when someone
//!   changes the configuration (settings and where they were set, server version,
//!   role); `State` holds readings that move on their own (lag, positions, replica
//!   lists, latency). Mixing them would break snapshot deduplication.
//! - **One connection** per target per collection, closed before returning.
//! - **Uptime.** Every collector of a server that has one reports
//!   [`UPTIME_KEY`] (`state.uptime_s`, seconds since the server started): counter rules
//!   use it to tell a restart (counters back at zero) from a quiet period.
//! - Collectors return raw values; redaction happens in the caller before anything
//!   else sees them. Errors must not contain the connection password (the caller
//!   redacts them too).

pub mod conffile;
pub mod memcached;
pub mod mysql;
pub mod pending;
pub mod postgres;
pub mod redis;
mod sql;

use std::time::Duration;

use crate::snapshot::{Kind, Snapshot, State};

pub use crate::snapshot::UPTIME_KEY;

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

/// Collects one target with the collector of its kind.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    match endpoint.kind {
        Kind::Postgres => postgres::collect(endpoint).await,
        Kind::Mysql => mysql::collect(endpoint).await,
        Kind::Redis => redis::collect(endpoint).await,
        Kind::Memcached => memcached::collect(endpoint).await,
    }
}
