//! Every setting name an engine knows, with its default, as the readers and `policy
//! lint` need them: a view of the generated engine metadata ([`crate::engine`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::engine;
use crate::snapshot::Kind;

/// One setting's default, as the live server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultSetting {
    /// The value a server started on an empty file shows (empty when it varies).
    pub value: String,
    /// The unit the live collector attaches (PostgreSQL's `8kB`, `ms`; Redis and
    /// memcached `B`, `s`, …), when it has one.
    pub unit: Option<String>,
    pub vartype: Option<String>,
    /// PostgreSQL's `context`; `internal` settings cannot be set in a file.
    pub context: Option<String>,
    /// Absent from a snapshot read from files: fixed when the engine was built or
    /// initialised, or dependent on the host or on how the server is started.
    pub fixed: bool,
}

/// Setting name (as the live server spells it) → default, for one engine: every name
/// the engine's newest embedded metadata knows.
pub fn defaults(kind: Kind) -> &'static BTreeMap<String, DefaultSetting> {
    static CACHE: [OnceLock<BTreeMap<String, DefaultSetting>>; Kind::ALL.len()] =
        [const { OnceLock::new() }; Kind::ALL.len()];
    let slot = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    CACHE[slot].get_or_init(|| build(kind))
}

fn build(kind: Kind) -> BTreeMap<String, DefaultSetting> {
    match kind {
        Kind::Postgres => engine::postgres::metadata()
            .settings
            .iter()
            .map(|(name, s)| {
                let d = DefaultSetting {
                    value: s.default.clone().unwrap_or_default(),
                    unit: s.unit.clone(),
                    vartype: Some(s.vartype.as_str().to_owned()),
                    context: Some(s.context.clone()),
                    fixed: s.internal() || s.varies.is_some(),
                };
                (name.clone(), d)
            })
            .collect(),
        Kind::Mysql => engine::mariadb::metadata()
            .variables
            .iter()
            .map(|(name, v)| {
                let d = DefaultSetting {
                    value: v.default.clone().unwrap_or_default(),
                    unit: None,
                    vartype: None,
                    context: None,
                    fixed: v.varies.is_some() || v.default.is_none(),
                };
                (name.clone(), d)
            })
            .collect(),
        Kind::Redis => engine::redis::metadata()
            .configs
            .iter()
            .map(|(name, c)| {
                let d = DefaultSetting {
                    value: c.default.clone().unwrap_or_default(),
                    unit: engine::redis::unit(name).map(str::to_owned),
                    vartype: None,
                    context: None,
                    fixed: c.varies.is_some(),
                };
                (name.clone(), d)
            })
            .collect(),
        Kind::Memcached => engine::memcached::metadata()
            .defaults
            .iter()
            .map(|(name, value)| {
                let d = DefaultSetting {
                    value: value.clone(),
                    unit: engine::memcached::unit(name).map(str::to_owned),
                    vartype: None,
                    context: None,
                    fixed: false,
                };
                (name.clone(), d)
            })
            .collect(),
        Kind::Pgbouncer => engine::pgbouncer::metadata()
            .settings
            .iter()
            .map(|(name, s)| {
                let d = DefaultSetting {
                    value: s.default.clone().unwrap_or_default(),
                    unit: engine::pgbouncer::unit(name).map(str::to_owned),
                    vartype: None,
                    context: Some(if s.changeable { "reload" } else { "restart" }.to_owned()),
                    fixed: s.varies.is_some(),
                };
                (name.clone(), d)
            })
            .collect(),
    }
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
        assert!(pg["block_size"].fixed);
        assert_eq!(defaults(Kind::Mysql)["read_only"].value, "OFF");
        assert_eq!(defaults(Kind::Redis)["protected-mode"].value, "yes");
        assert_eq!(defaults(Kind::Redis)["maxmemory"].unit.as_deref(), Some("B"));
        assert_eq!(defaults(Kind::Memcached)["maxconns"].value, "1024");
    }
}
