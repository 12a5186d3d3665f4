//! What a collector saw on one server: the stable configuration (hashed, deduplicated
//! in the store) and the volatile state (kept per run, never hashed).
//!
//! Keys are namespaced strings: `setting.<name>` for engine settings,
//! `server.<field>` for identity facts, `state.<…>` for volatile readings.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The closed set of engines driftwatch audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Postgres,
    Mysql,
    Redis,
    Memcached,
    /// PgBouncer, the PostgreSQL connection pooler (its admin console).
    Pgbouncer,
}

impl Kind {
    pub const ALL: [Kind; 5] =
        [Kind::Postgres, Kind::Mysql, Kind::Redis, Kind::Memcached, Kind::Pgbouncer];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Redis => "redis",
            Kind::Memcached => "memcached",
            Kind::Pgbouncer => "pgbouncer",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The replication role of a server, declared in config or detected live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
    Standalone,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Standalone => "standalone",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of not-yet-live value a `pending.<name>` entry holds: the value the
/// setting will have after the server next restarts (or reloads), which differs from
/// the live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// Written to a configuration file (PostgreSQL `postmaster` context, MySQL
    /// `SET PERSIST_ONLY`): takes effect on the next restart.
    Restart,
    /// Written to a configuration file, not yet reloaded: takes effect on the next
    /// reload (or restart).
    Reload,
    /// The live value was set at runtime only (Redis `CONFIG SET` without
    /// `CONFIG REWRITE`): the file's value comes back on the next restart.
    RuntimeOnly,
}

impl PendingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingKind::Restart => "restart",
            PendingKind::Reload => "reload",
            PendingKind::RuntimeOnly => "runtime_only",
        }
    }
}

impl fmt::Display for PendingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state reading every collector fills with the server's uptime in seconds: counter
/// rules compare two collections only when the server did not restart in between.
pub const UPTIME_KEY: &str = "state.uptime_s";

/// Which running server process answered, where the engine says so exactly (PostgreSQL:
/// the postmaster's start time; Redis: `run_id`; memcached: its pid and start time): a
/// different value means the server restarted, however close together the collections
/// were. Uptime alone cannot tell that when a restart is quicker than the uptime's
/// resolution, or than the time since the previous collection.
pub const INSTANCE_KEY: &str = "state.instance";

/// The connection readings (in `State`, never hashed): the collector's own connect and
/// authenticate time, in `ms`, reported by every collector.
pub const CONNECT_MS_KEY: &str = "state.connect_ms";
/// Client connections open now.
pub const IN_USE_KEY: &str = "state.connections.in_use";
/// The connections clients can open (PostgreSQL: `max_connections` less the reserved).
pub const LIMIT_KEY: &str = "state.connections.limit";
/// `in_use` as a percentage of `limit` (`%`), computed here from the two.
pub const USAGE_PCT_KEY: &str = "state.connections.usage_pct";
/// Connections the server turned away since it started (a counter), where it counts.
pub const REFUSED_KEY: &str = "state.connections.refused";
/// Connection attempts that failed before they were established (a counter), where
/// the engine counts them (MySQL `Aborted_connects`).
pub const ABORTED_KEY: &str = "state.connections.aborted_connects";

/// The namespace of values that take effect on the next restart or reload:
/// `pending.<name>` holds what `setting.<name>` will become.
pub const PENDING_PREFIX: &str = "pending.";

/// One configuration value and where it came from.
///
/// `value` is exactly what the server reports (after redaction), as text; `unit` is the
/// server's own unit for it (PostgreSQL's `8kB`, `ms`, …) so policies can compare with
/// units. The provenance fields are optional because not every engine exposes them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entry {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Engine type of the value (`bool`, `integer`, `real`, `string`, `enum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vartype: Option<String>,
    /// When a change takes effect (`postmaster` = restart, `sighup` = reload, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Where the value was set (`default`, `configuration file`, `command line`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_line: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_restart: bool,
    /// True when redaction replaced (part of) the value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// On `pending.<name>` entries only: when the value takes effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingKind>,
}

impl Entry {
    pub fn new(value: impl Into<String>) -> Self {
        Entry { value: value.into(), ..Entry::default() }
    }

    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// `postgresql.auto.conf:12`, `configuration file`, `default`: where a reader should
    /// look to find who set this value.
    pub fn location(&self) -> Option<String> {
        match (&self.source_file, self.source_line, &self.source) {
            (Some(file), Some(line), _) => Some(format!("{file}:{line}")),
            (Some(file), None, _) => Some(file.clone()),
            (None, _, Some(source)) => Some(source.clone()),
            (None, _, None) => None,
        }
    }

    /// The value with its unit, as a person reads it (`128 8kB`, `on`). A number at or
    /// below zero is shown bare, as PostgreSQL's `SHOW` does (`-1`, `0`, not `-1 MB`):
    /// such values are the settings' "disabled" or "no limit", not quantities.
    pub fn display_value(&self) -> String {
        match &self.unit {
            Some(unit) if !unit.is_empty() && !is_sentinel(&self.value) => {
                format!("{} {unit}", self.value)
            }
            _ => self.value.clone(),
        }
    }
}

/// `0`, `-1`: a whole number at or below zero.
fn is_sentinel(value: &str) -> bool {
    value.trim().parse::<i64>().is_ok_and(|n| n <= 0)
}

/// Identity facts about the server, part of the stable snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The version string the server reports (`15.20`, `10.11.19-MariaDB`).
    pub version: String,
    /// The role the server reports about itself.
    pub role: Role,
}

/// The stable configuration of one target. Its canonical JSON's sha256 is its id, so
/// two collections of an unchanged server produce the same digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub target: String,
    pub kind: Kind,
    pub server: ServerInfo,
    pub config: BTreeMap<String, Entry>,
}

/// Volatile readings of one collection: replication lag, replica lists, latency. Keys
/// are `state.…`; never part of the digest.
pub type State = BTreeMap<String, Entry>;

/// A snapshot's content address: lowercase hex sha256 of its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest(pub String);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(bytes)))
    }

    /// The first 12 characters, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl Snapshot {
    /// Canonical JSON: maps are `BTreeMap`s and structs serialize in declaration
    /// order, so the same snapshot always yields the same bytes.
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a snapshot always serializes")
    }

    pub fn digest(&self) -> Digest {
        Digest::of(&self.canonical_json())
    }

    /// The entry for a key, looking in the stable configuration.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.config.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let mut config = BTreeMap::new();
        config.insert("setting.wal_level".into(), Entry::new("replica"));
        config.insert("setting.shared_buffers".into(), Entry::new("16384").with_unit("8kB"));
        Snapshot {
            target: "t".into(),
            kind: Kind::Postgres,
            server: ServerInfo { version: "15.20".into(), role: Role::Primary },
            config,
        }
    }

    #[test]
    fn values_at_or_below_zero_show_without_their_unit_as_show_prints_them() {
        // PostgreSQL 15: SHOW max_slot_wal_keep_size is `-1`, SHOW wal_keep_size `0`.
        assert_eq!(Entry::new("-1").with_unit("MB").display_value(), "-1");
        assert_eq!(Entry::new("0").with_unit("MB").display_value(), "0");
        assert_eq!(Entry::new("16384").with_unit("8kB").display_value(), "16384 8kB");
        assert_eq!(Entry::new("0.5").with_unit("s").display_value(), "0.5 s");
        assert_eq!(Entry::new("on").display_value(), "on");
    }

    #[test]
    fn digest_is_stable_and_sensitive() {
        let a = sample();
        assert_eq!(a.digest(), sample().digest());
        assert_eq!(a.digest().0.len(), 64);
        let mut b = sample();
        b.config.get_mut("setting.wal_level").unwrap().value = "logical".into();
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn location_prefers_file_and_line() {
        let mut e = Entry::new("on");
        assert_eq!(e.location(), None);
        e.source = Some("default".into());
        assert_eq!(e.location().as_deref(), Some("default"));
        e.source_file = Some("/etc/postgresql/15/main/postgresql.conf".into());
        e.source_line = Some(12);
        assert_eq!(e.location().as_deref(), Some("/etc/postgresql/15/main/postgresql.conf:12"));
    }
}
