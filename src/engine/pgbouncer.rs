//! PgBouncer: its settings (generated metadata: `SHOW CONFIG` of a pgbouncer started on
//! a minimal file, each setting's type asked of pgbouncer), how it reads a value written
//! in `pgbouncer.ini` (its `cf_set_int`, `cf_set_time_usec`, `cf_set_lookup`) and shows
//! it, and the units of the values. Times are written and shown in seconds, fractions
//! allowed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{EngineInfo, cnum};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub engine: EngineInfo,
    pub settings: BTreeMap<String, Setting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// How PgBouncer reads a value of it.
    #[serde(rename = "type")]
    pub kind: Type,
    /// A `lookup` setting's names, as PgBouncer shows them.
    #[serde(default)]
    pub values: Vec<String>,
    /// What `SHOW CONFIG` shows when no file sets it.
    #[serde(default)]
    pub default: Option<String>,
    /// RELOAD (or the console's `SET`) applies it; `false`: only a restart.
    pub changeable: bool,
    /// Set by how pgbouncer is started (`conffile`).
    #[serde(default)]
    pub varies: Option<String>,
}

/// The newest PgBouncer series embedded.
pub fn metadata() -> &'static Metadata {
    static CACHE: OnceLock<Metadata> = OnceLock::new();
    super::newest("pgbouncer", &CACHE)
}

/// The columns of `SHOW DATABASES` a snapshot keeps as configuration, one
/// `database.<name>.<field>` key each: what a `[databases]` entry sets (`max_connections`
/// is its `max_db_connections`, `0` = none).
pub const DATABASE_FIELDS: &[&str] = &[
    "host",
    "port",
    "database",
    "force_user",
    "pool_size",
    "min_pool_size",
    "reserve_pool",
    "pool_mode",
    "max_connections",
];

/// The unit of a setting's value as `SHOW CONFIG` shows it and `pgbouncer.ini` takes it:
/// `time` settings are seconds; of the integers, three are seconds (pgbouncer(5)), one is
/// milliseconds (`TCP_USER_TIMEOUT`) and three are sizes in bytes.
pub fn unit(name: &str) -> Option<&'static str> {
    match name {
        "stats_period" | "tcp_keepidle" | "tcp_keepintvl" => Some("s"),
        "tcp_user_timeout" => Some("ms"),
        "pkt_buf" | "max_packet_size" | "tcp_socket_buffer" => Some("B"),
        _ if metadata().settings.get(name).is_some_and(|s| s.kind == Type::Time) => Some("s"),
        _ => None,
    }
}

/// How PgBouncer reads a value (`cf_set_*` in its configuration parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    String,
    /// `strtol(value, &end, 0)`, the whole value, stored in a C `int`.
    Int,
    /// Seconds, `strtod`, the whole value, ≥ 0, stored in microseconds.
    Time,
    /// One of fixed names, case-insensitive.
    Lookup,
}

/// The value PgBouncer runs with (as `SHOW CONFIG` shows it) for `text` written in
/// `pgbouncer.ini`, or `None` when it refuses it (`invalid value`).
pub fn value(name: &str, setting: &Setting, text: &str) -> Option<String> {
    match setting.kind {
        Type::String => Some(text.to_owned()),
        Type::Int => {
            let n = cnum::strtol(text, 0);
            if n.consumed == 0 || n.consumed != text.len() {
                return None;
            }
            // `max_packet_size` is the one `unsigned int` (`strtoul`, printed `%u`).
            Some(if name == "max_packet_size" {
                (n.value as u32).to_string()
            } else {
                (n.value as i32).to_string()
            })
        }
        Type::Time => {
            let d = cnum::strtod(text);
            if d.consumed == 0 || d.consumed != text.len() || d.range_error {
                return None;
            }
            if d.value.is_nan() || d.value < 0.0 || d.value.is_infinite() {
                return None;
            }
            let usec = (1e6 * d.value) as u64;
            Some(cnum::format_g(usec as f64 / 1e6))
        }
        Type::Lookup => setting.values.iter().find(|v| v.eq_ignore_ascii_case(text)).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_has_the_pool_settings_with_their_defaults() {
        let m = metadata();
        assert_eq!(m.engine.kind, "pgbouncer");
        let default = |n: &str| m.settings[n].default.clone();
        assert_eq!(default("default_pool_size").as_deref(), Some("20"));
        assert_eq!(default("query_wait_timeout").as_deref(), Some("120"));
        assert_eq!(default("listen_port").as_deref(), Some("6432"));
        assert!(!m.settings["listen_port"].changeable);
        assert!(m.settings["conffile"].varies.is_some());
    }

    #[test]
    fn units() {
        assert_eq!(unit("query_wait_timeout"), Some("s"));
        assert_eq!(unit("server_check_delay"), Some("s"));
        assert_eq!(unit("tcp_user_timeout"), Some("ms"));
        assert_eq!(unit("default_pool_size"), None);
    }

    #[track_caller]
    fn check(name: &str, text: &str, expect: Option<&str>) {
        let setting = &metadata().settings[name];
        assert_eq!(value(name, setting, text).as_deref(), expect, "{name} = {text}");
    }

    #[test]
    fn values_as_pgbouncer_reads_and_shows_them() {
        check("default_pool_size", "0x10", Some("16"));
        check("default_pool_size", "010", Some("8"));
        check("default_pool_size", "20 ", None);
        check("default_pool_size", "", None);
        check("default_pool_size", "2.5", None);
        check("max_packet_size", "-1", Some("4294967295"));
        check("query_wait_timeout", "0.5", Some("0.5"));
        check("query_wait_timeout", "1e3", Some("1000"));
        check("query_wait_timeout", "1234567", Some("1.23457e+06"));
        check("query_wait_timeout", "-1", None);
        check("query_wait_timeout", "5s", None);
        check("pool_mode", "Transaction", Some("transaction"));
        check("pool_mode", "tx", None);
        check("server_check_query", "SELECT 1 ; x", Some("SELECT 1 ; x"));
    }
}
