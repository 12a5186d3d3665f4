//! Values `mariadbd` works out from others once it has read its options (mysqld.cc
//! `get_options`, `init_common_variables`, the variables' update hooks):
//!
//! - auto-sized ones, unless set: `back_log` = min(900, 50 + max_connections / 5),
//!   `host_cache_size` = min(65536, 128 + max_connections), `thread_cache_size` =
//!   min(256, max_connections), `max_relay_log_size` = `max_binlog_size` (when 0),
//!   `slave_load_tmpdir` = `tmpdir`, `report_port` = `port`;
//! - `expire_logs_days` and `binlog_expire_logs_seconds` follow each other (the one set
//!   last wins);
//! - `skip_networking` makes `port` 0;
//! - `character_set_server` brings its default collation unless `collation_server` is
//!   given (which must then belong to it); both move the database's and the
//!   connection defaults (`character_set_client`, `_connection`, `_results`,
//!   `_database`, `collation_connection`, `collation_database`);
//! - `innodb_open_files` follows `table_open_cache` unless set;
//! - `version` ends in `-log` while a log (general, slow or binary) is on.

use std::collections::BTreeMap;

/// `COLLATION 'x' is not valid for CHARACTER SET 'y'`, when the server collation does
/// not belong to the server character set.
pub fn charset_conflict(
    meta: &super::Metadata,
    values: &BTreeMap<String, String>,
    set: &[String],
) -> Option<String> {
    if !set.iter().any(|s| s == "collation_server") {
        return None;
    }
    let charset = values.get("character_set_server")?;
    let collation = values.get("collation_server")?;
    let owner = meta.collations.get(collation)?;
    (owner != charset)
        .then(|| format!("COLLATION '{collation}' is not valid for CHARACTER SET '{charset}'"))
}

/// A value derived from others, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub variable: &'static str,
    pub shown: String,
    pub why: String,
}

/// Derived values. `values`: every variable as it stands after the file (defaults for
/// the rest); `set`: the variables the file set, in the order it set them.
pub fn derive(
    meta: &super::Metadata,
    values: &BTreeMap<String, String>,
    set: &[String],
) -> Vec<Derived> {
    let int = |n: &str| values.get(n).and_then(|v| v.parse::<i64>().ok());
    let explicit = |n: &str| set.iter().any(|s| s == n);
    let mut out = Vec::new();
    let mut push = |variable: &'static str, shown: String, why: &str| {
        if values.get(variable) != Some(&shown) {
            out.push(Derived { variable, shown, why: why.to_owned() });
        }
    };
    if let Some(mc) = int("max_connections") {
        if !explicit("back_log") {
            push("back_log", (50 + mc / 5).min(900).to_string(), "sized from max_connections");
        }
        if !explicit("host_cache_size") {
            push(
                "host_cache_size",
                (128 + mc).min(65536).to_string(),
                "sized from max_connections",
            );
        }
        if !explicit("thread_cache_size") {
            push("thread_cache_size", mc.min(256).to_string(), "sized from max_connections");
        }
    }
    if (!explicit("max_relay_log_size") || int("max_relay_log_size") == Some(0))
        && let Some(size) = values.get("max_binlog_size")
    {
        push("max_relay_log_size", size.clone(), "0 follows max_binlog_size");
    }
    if !explicit("slave_load_tmpdir")
        && let Some(tmp) = values.get("tmpdir")
    {
        push("slave_load_tmpdir", tmp.clone(), "follows tmpdir");
    }
    let days_at = set.iter().rposition(|s| s == "expire_logs_days");
    let seconds_at = set.iter().rposition(|s| s == "binlog_expire_logs_seconds");
    match (days_at, seconds_at) {
        (Some(d), s) if s.is_none_or(|s| d > s) => {
            if let Some(days) = values.get("expire_logs_days").and_then(|v| v.parse::<f64>().ok()) {
                let seconds = (days * 86400.0) as i64;
                push("binlog_expire_logs_seconds", seconds.to_string(), "follows expire_logs_days");
            }
        }
        (_, Some(_)) => {
            if let Some(seconds) = int("binlog_expire_logs_seconds") {
                let days = seconds as f64 / 86400.0;
                push(
                    "expire_logs_days",
                    format!("{days:.6}"),
                    "follows binlog_expire_logs_seconds",
                );
            }
        }
        _ => {}
    }
    if values.get("skip_networking").map(String::as_str) == Some("ON") {
        push("port", "0".into(), "skip_networking listens on no TCP port");
    }
    if !explicit("report_port")
        && let Some(port) = values.get("port")
        && values.get("skip_networking").map(String::as_str) != Some("ON")
    {
        push("report_port", port.clone(), "follows port");
    }
    if !explicit("innodb_open_files")
        && let Some(cache) = values.get("table_open_cache").filter(|_| explicit("table_open_cache"))
    {
        push("innodb_open_files", cache.clone(), "follows table_open_cache");
    }
    if explicit("character_set_server") || explicit("collation_server") {
        let charset = values.get("character_set_server").cloned().unwrap_or_default();
        let collation = if explicit("collation_server") {
            values.get("collation_server").cloned().unwrap_or_default()
        } else {
            let default = meta.charsets.get(&charset).cloned().unwrap_or_default();
            push(
                "collation_server",
                default.clone(),
                "the default collation of character_set_server",
            );
            default
        };
        for v in [
            "character_set_client",
            "character_set_connection",
            "character_set_results",
            "character_set_database",
        ] {
            push(v, charset.clone(), "follows character_set_server");
        }
        for v in ["collation_connection", "collation_database"] {
            push(v, collation.clone(), "follows collation_server");
        }
    }
    let logging = ["general_log", "log_slow_query", "log_bin"]
        .iter()
        .any(|n| values.get(*n).map(String::as_str) == Some("ON"));
    if let Some(version) = values.get("version") {
        let base = version.strip_suffix("-log").unwrap_or(version);
        let shown = if logging { format!("{base}-log") } else { base.to_owned() };
        push("version", shown, "ends in -log while a general, slow or binary log is on");
    }
    out
}
