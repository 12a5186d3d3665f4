//! The engines' defaults for settings a file leaves out, shipped as data
//! (`defaults/<kind>.toml`, embedded in the binary) and generated from real servers (each
//! file says how). They are also the list of setting names `policy lint` knows.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::snapshot::{Entry, Kind};

/// One setting's default, as the live server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultSetting {
    pub value: String,
    /// PostgreSQL's unit for the setting (`8kB`, `ms`), when it has one.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub vartype: Option<String>,
    /// PostgreSQL's `context`; `internal` settings cannot be set in a file.
    #[serde(default)]
    pub context: Option<String>,
}

impl DefaultSetting {
    /// The entry a snapshot holds for a setting left at its default.
    pub fn entry(&self) -> Entry {
        Entry {
            unit: self.unit.clone(),
            vartype: self.vartype.clone(),
            context: self.context.clone(),
            source: Some("default".into()),
            ..Entry::new(self.value.clone())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    settings: BTreeMap<String, DefaultSetting>,
}

/// Setting name (as the live server spells it) → default, for one engine.
pub fn defaults(kind: Kind) -> &'static BTreeMap<String, DefaultSetting> {
    static CACHE: [OnceLock<BTreeMap<String, DefaultSetting>>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (slot, text) = match kind {
        Kind::Postgres => (0, include_str!("defaults/postgres.toml")),
        Kind::Mysql => (1, include_str!("defaults/mysql.toml")),
        Kind::Redis => (2, include_str!("defaults/redis.toml")),
        Kind::Memcached => (3, include_str!("defaults/memcached.toml")),
    };
    CACHE[slot].get_or_init(|| {
        toml::from_str::<File>(text)
            .unwrap_or_else(|e| panic!("shipped defaults for {kind} are invalid: {e}"))
            .settings
    })
}

/// The name as the engine spells it, found case-insensitively (`datestyle` → `DateStyle`).
pub fn canonical_name(kind: Kind, name: &str) -> Option<&'static str> {
    let known = defaults(kind);
    if let Some((k, _)) = known.get_key_value(name) {
        return Some(k.as_str());
    }
    known.keys().find(|k| k.eq_ignore_ascii_case(name)).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_defaults() {
        for kind in Kind::ALL {
            assert!(defaults(kind).len() > 20, "{kind}");
        }
        let pg = defaults(Kind::Postgres);
        assert_eq!(pg["shared_buffers"].unit.as_deref(), Some("8kB"));
        assert_eq!(pg["wal_level"].value, "replica");
        assert_eq!(defaults(Kind::Mysql)["read_only"].value, "OFF");
        assert_eq!(defaults(Kind::Redis)["protected-mode"].value, "yes");
        assert_eq!(defaults(Kind::Memcached)["maxconns"].value, "1024");
    }
}
