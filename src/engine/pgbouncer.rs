//! PgBouncer: its settings (generated metadata: `SHOW CONFIG` of a pgbouncer started on
//! a minimal file) and the units PgBouncer reads them in. Times (`CF_TIME_USEC` in
//! PgBouncer's `main.c`) are written and shown in seconds, fractions allowed;
//! `tcp_user_timeout` is milliseconds (a socket option); three are sizes in bytes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::EngineInfo;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub engine: EngineInfo,
    pub settings: BTreeMap<String, Setting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
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

/// The `CF_TIME_USEC` settings of PgBouncer 1.18's `main.c`: seconds.
const SECONDS: &[&str] = &[
    "autodb_idle_timeout",
    "cancel_wait_timeout",
    "client_idle_timeout",
    "client_login_timeout",
    "dns_max_ttl",
    "dns_nxdomain_ttl",
    "dns_zone_check_period",
    "idle_transaction_timeout",
    "query_timeout",
    "query_wait_timeout",
    "reserve_pool_timeout",
    "server_check_delay",
    "server_connect_timeout",
    "server_idle_timeout",
    "server_lifetime",
    "server_login_retry",
    "suspend_timeout",
];

/// The unit of a setting's value as `SHOW CONFIG` shows it and `pgbouncer.ini` takes it.
pub fn unit(name: &str) -> Option<&'static str> {
    match name {
        _ if SECONDS.contains(&name) => Some("s"),
        "stats_period" | "tcp_keepidle" | "tcp_keepintvl" => Some("s"),
        "tcp_user_timeout" => Some("ms"),
        "pkt_buf" | "max_packet_size" | "tcp_socket_buffer" => Some("B"),
        _ => None,
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
    fn every_unit_names_a_setting_pgbouncer_has() {
        let m = metadata();
        for name in SECONDS.iter().filter(|n| **n != "cancel_wait_timeout") {
            assert!(m.settings.contains_key(*name), "{name}");
        }
        assert_eq!(unit("query_wait_timeout"), Some("s"));
        assert_eq!(unit("default_pool_size"), None);
    }
}
