//! The one home of engine knowledge: what each engine's settings are and how the engine
//! reads their values. Parsers (`collect::conffile`) and, later, collectors, policy and
//! reports ask here instead of knowing it themselves.
//!
//! # Metadata is data
//!
//! Per engine and version, `data/<engine>-<series>.toml` holds what the engine itself
//! says about its settings: names, types, units, ranges, enum values and aliases,
//! contexts, defaults of a server started on an empty file, and which values depend on
//! the host or on how the server was started (`varies`). The files are written by
//! `scripts/engine-metadata/generate.py`, which asks the engines installed on the
//! machine it runs on (see `docs/development.md`); each names the engine version it
//! came from. `build.rs` embeds every file found there, and each is parsed once, on
//! first use. Supporting PostgreSQL 16 or MariaDB 11.4 is one more generated file: the
//! newest series of each engine is the one `check` reads files as
//! ([`postgres::metadata`], …), and any embedded series can be asked for by name.
//!
//! # Value semantics are code
//!
//! How an engine turns the text of a configuration file into the value it runs with is
//! code, one module per engine, written from the engine's source and held to the real
//! engine by the differential suite (`tests/differential/`):
//!
//! - [`postgres`]: booleans with unique prefixes (`t`, `of`), integers through
//!   `strtol` (octal, hex) or `strtod` (`1e1`), units converted to the setting's unit
//!   and rounded the engine's way, ranges, enum names and aliases, string checks
//!   (time zones, `DateStyle`, lists), derived values and start-up cross-checks.
//! - [`mariadb`]: option names (unique prefixes, `loose-`, `skip-`, …), booleans,
//!   numbers with `K`…`E` suffixes, clamping and block-size rounding with the engine's
//!   warning, enums and sets, aliases and values sized from other settings.
//! - [`redis`]: `yes`/`no`, memory units, integer ranges, enums, the configs with their
//!   own syntax, and the units the collector attaches.
//! - [`memcached`]: options as memcached's `getopt` and `atoi` read them.
//! - [`pgbouncer`]: its settings and the units it reads them in.
//! - [`cnum`]: `strtol`, `strtod`, `atoi` and `%g` as glibc does them, which the
//!   engines call on configuration values.
//!
//! # Values as servers report them
//!
//! [`reported_bool`]: the boolean spellings servers report (`on`, `true`, `yes`,
//! `1`, …), which collectors, rules and the group operators compare alike.
//! [`quantity`]: memory and time quantities with PostgreSQL's units, normalised so an
//! observed value and a policy's expected one compare. [`state`]: the `state.` keys
//! collectors write and the reports, `/metrics` and group rules read.

pub mod cnum;
pub mod mariadb;
pub mod memcached;
pub mod pgbouncer;
pub mod postgres;
pub mod quantity;
pub mod redis;
pub mod state;

use serde::Deserialize;

/// A boolean as the engines report one (`SHOW`, `SHOW VARIABLES`, `CONFIG GET`):
/// `on`/`off`, `true`/`false`, `yes`/`no`, `1`/`0`, case-insensitive, surrounding
/// space ignored. Not how a configuration file is read (see [`postgres`] for that).
pub fn reported_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/engine_data.rs"));
}

/// Which engine build a metadata file came from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineInfo {
    /// driftwatch's engine kind (`postgres`, `mysql`, `redis`, `memcached`).
    pub kind: String,
    /// `mariadb` for MariaDB metadata.
    #[serde(default)]
    pub flavor: Option<String>,
    /// The major series (`15`, `10.11`, `7.0`, `1.6`).
    pub series: String,
    /// The exact version the file was generated from.
    pub version: String,
}

/// The embedded metadata files of `engine` (the file name's prefix), as
/// (series, text), oldest series first.
pub fn files(engine: &str) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<_> = embedded::FILES
        .iter()
        .filter(|(e, _, _)| *e == engine)
        .map(|(_, series, text)| (*series, *text))
        .collect();
    out.sort_by_key(|a| series_order(a.0));
    out
}

/// `10.11` → [10, 11], so `10.6` < `10.11`.
fn series_order(series: &str) -> Vec<u32> {
    series.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Parses an embedded file; a broken one is a build defect, found by the tests.
fn parse<T: serde::de::DeserializeOwned>(engine: &str, series: &str, text: &str) -> T {
    toml::from_str(text)
        .unwrap_or_else(|e| panic!("embedded metadata {engine}-{series}.toml is invalid: {e}"))
}

/// The newest embedded series of `engine`, parsed once and cached in `cache`.
fn newest<T: serde::de::DeserializeOwned>(
    engine: &str,
    cache: &'static std::sync::OnceLock<T>,
) -> &'static T {
    cache.get_or_init(|| {
        let files = files(engine);
        let (series, text) =
            files.last().unwrap_or_else(|| panic!("no metadata for {engine} in src/engine/data"));
        parse(engine, series, text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_metadata_naming_its_version() {
        for (engine, kind) in [
            ("postgres", "postgres"),
            ("mariadb", "mysql"),
            ("redis", "redis"),
            ("memcached", "memcached"),
            ("pgbouncer", "pgbouncer"),
        ] {
            let files = files(engine);
            assert!(!files.is_empty(), "{engine}");
            for (series, text) in files {
                #[derive(Deserialize)]
                struct Head {
                    engine: EngineInfo,
                }
                let head: Head = toml::from_str(text)
                    .or_else(|_| {
                        // Only the [engine] table matters here.
                        let start = text.find("[engine]").unwrap_or(0);
                        let rest = &text[start..];
                        let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
                        toml::from_str(&rest[..end])
                    })
                    .unwrap_or_else(|e| panic!("{engine}-{series}: {e}"));
                assert_eq!(head.engine.kind, kind);
                assert_eq!(head.engine.series, series);
                assert!(head.engine.version.starts_with(series), "{engine}: {:?}", head.engine);
            }
        }
        assert!(series_order("10.6") < series_order("10.11"));
    }
}
