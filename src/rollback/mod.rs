//! Rollback plans: the statements that put a server's settings back to what an earlier
//! snapshot recorded. Pure: driftwatch prints them, never runs them.

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{self, Change};
use crate::redact;
use crate::scoped;
use crate::snapshot::{Entry, Kind, Snapshot};

/// One statement of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The snapshot key, `setting.<name>` (PostgreSQL also `role.<role>.<name>`, …).
    pub key: String,
    /// The value now, as the server reports it.
    pub now: Option<String>,
    /// The value to restore.
    pub restore: Option<String>,
    /// The statement to run, or a comment when there is nothing safe to run.
    pub statement: String,
    /// True when the value only takes effect after a restart.
    pub needs_restart: bool,
}

/// Everything to run, in order, with what ends it (reload, rewrite).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub kind: Kind,
    pub steps: Vec<Step>,
    /// Statements that make the steps take effect or persist (`SELECT pg_reload_conf()`).
    pub finish: Vec<String>,
}

impl Plan {
    /// The plan as a script for the engine's client (`psql`, `mariadb`, `redis-cli`).
    pub fn script(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            let restart = if step.needs_restart { "  -- restart required" } else { "" };
            let _ = writeln!(out, "{}{restart}", step.statement);
        }
        for line in &self.finish {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    pub fn needs_restart(&self) -> bool {
        self.steps.iter().any(|s| s.needs_restart)
    }
}

/// The plan that takes `current` back to `desired` (two snapshots of one target),
/// pending values included: a value the next restart (or reload) would apply that
/// `desired` did not have is put back too, or the rollback would be undone then.
pub fn plan(desired: &Snapshot, current: &Snapshot) -> Plan {
    let kind = current.kind;
    let changes = diff::diff(desired, current);
    let mut steps: Vec<Step> = changes
        .iter()
        .filter(|c| c.key.starts_with("setting.") || scoped_setting(kind, &c.key).is_some())
        .map(|c| step(kind, c, desired.get(&c.key), current.get(&c.key), current))
        .collect();
    let set_by_step: std::collections::HashSet<String> = steps
        .iter()
        .filter(|s| !s.statement.starts_with("--") && !s.statement.contains(" RESET "))
        .map(|s| s.key.trim_start_matches("setting.").to_owned())
        .collect();
    steps.extend(
        changes
            .iter()
            .filter(|c| c.key.starts_with("pending."))
            .filter(|c| !set_by_step.contains(c.key.trim_start_matches("pending.")))
            .filter_map(|c| pending_step(kind, c, desired, current)),
    );
    let finish = match kind {
        _ if steps.is_empty() => Vec::new(),
        Kind::Postgres => vec!["SELECT pg_reload_conf();".to_owned()],
        Kind::Redis => vec!["CONFIG REWRITE".to_owned()],
        Kind::Mysql | Kind::Memcached => Vec::new(),
    };
    Plan { kind, steps, finish }
}

/// `last-good`: sets `desired`'s value of `key` (a rule's key, maybe a `role.*.…`
/// pattern) to what `good` had (removed when `good` did not have it), skipping keys
/// already in `taken`; returns the keys it set. Only configuration keys: a `state.`
/// reading cannot be put back.
pub fn adopt(
    desired: &mut Snapshot,
    good: &Snapshot,
    key: &str,
    taken: &mut std::collections::BTreeSet<String>,
) -> Vec<String> {
    if key.starts_with("state.") {
        return vec![];
    }
    let keys: Vec<String> = if crate::policy::each::is_pattern(key) {
        let mut all: Vec<String> = crate::policy::each::keys(key, good)
            .into_iter()
            .chain(crate::policy::each::keys(key, desired))
            .map(|(k, _)| k)
            .collect();
        all.sort();
        all.dedup();
        all
    } else {
        vec![key.to_owned()]
    };
    let mut set = Vec::new();
    for k in keys {
        if !taken.insert(k.clone()) {
            continue;
        }
        match good.config.get(&k) {
            Some(e) => desired.config.insert(k.clone(), e.clone()),
            None => desired.config.remove(&k),
        };
        set.push(k);
    }
    set
}

/// The statement that restores one changed setting, for the reports: `None` when there
/// is nothing to run.
pub fn statement_for(
    kind: Kind,
    change: &Change,
    desired: Option<&Entry>,
    current: Option<&Entry>,
    snapshot: &Snapshot,
) -> Option<String> {
    let step = step(kind, change, desired, current, snapshot);
    (!step.statement.starts_with("--")).then_some(step.statement)
}

fn step(
    kind: Kind,
    change: &Change,
    desired: Option<&Entry>,
    current: Option<&Entry>,
    snapshot: &Snapshot,
) -> Step {
    let name = change.key.strip_prefix("setting.").unwrap_or(&change.key);
    let mut step = Step {
        key: change.key.clone(),
        now: change.after.clone(),
        restore: change.before.clone(),
        statement: String::new(),
        needs_restart: false,
    };
    if let Some((scope, setting)) = scoped_setting(kind, &change.key) {
        // ALTER ROLE/DATABASE … SET, or RESET when it was not set then.
        step.statement = match desired {
            Some(d) if d.redacted || redact::is_secret_name(&change.key) => {
                format!("-- {name}: holds a secret (redacted); restore it by hand")
            }
            d => scope.statement(&setting, d.map(|d| d.value.as_str())),
        };
        return step;
    }
    let Some(desired) = desired else {
        step.statement = format!("-- {name}: did not exist then; nothing to restore");
        return step;
    };
    if desired.redacted || redact::is_secret_name(&change.key) {
        step.statement = format!("-- {name}: holds a secret (redacted); restore it by hand");
        return step;
    }
    let value = &desired.value;
    match kind {
        Kind::Postgres => {
            let from_auto = |e: &Entry| {
                e.source_file.as_deref().is_some_and(|f| f.ends_with("postgresql.auto.conf"))
            };
            let reset = current.is_some_and(from_auto) && !from_auto(desired);
            step.statement = if reset {
                format!("ALTER SYSTEM RESET {};", pg_ident(name))
            } else {
                format!("ALTER SYSTEM SET {} = {};", pg_ident(name), sql_string(value))
            };
            step.needs_restart =
                current.or(Some(desired)).and_then(|e| e.context.as_deref()) == Some("postmaster");
        }
        Kind::Mysql => {
            let persist = snapshot.get("server.flavor").is_some_and(|f| f.value == "mysql");
            let verb = if persist { "SET PERSIST" } else { "SET GLOBAL" };
            step.statement = format!("{verb} {name} = {};", mysql_value(value));
            step.needs_restart = MYSQL_RESTART_ONLY.contains(&name);
            if !persist {
                step.statement.push_str(" -- and in the option file, or a restart loses it");
            }
        }
        Kind::Redis => {
            step.statement = format!("CONFIG SET {name} {}", redis_string(value));
            step.needs_restart = REDIS_RESTART_ONLY.contains(&name);
        }
        Kind::Memcached => {
            step.statement = format!("-- restart memcached with {name} = {value}");
            step.needs_restart = true;
        }
    }
    step
}

/// The step that keeps the next restart (or reload) from applying a pending value
/// `desired` did not have: `None` when `desired` had the same one (nothing to do).
fn pending_step(
    kind: Kind,
    change: &Change,
    desired: &Snapshot,
    current: &Snapshot,
) -> Option<Step> {
    let name = change.key.strip_prefix("pending.")?;
    let pending = current.get(&change.key);
    let wanted = desired.get(&change.key).or_else(|| desired.get(&format!("setting.{name}")));
    let mut step = Step {
        key: change.key.clone(),
        now: change.after.clone(),
        restore: wanted.map(|e| e.value.clone()),
        statement: String::new(),
        needs_restart: false,
    };
    let Some(pending) = pending else {
        // A pending value then, none now: the server already runs what it awaited.
        step.statement = format!(
            "-- {name}: a restart was pending then ({}); nothing awaits one now",
            change.before.as_deref().unwrap_or("?")
        );
        return Some(step);
    };
    let Some(wanted) = wanted else {
        step.statement = format!("-- {name}: did not exist then; nothing to restore");
        return Some(step);
    };
    if wanted.redacted || pending.redacted || redact::is_secret_name(name) {
        step.statement = format!("-- {name}: holds a secret (redacted); restore it by hand");
        return Some(step);
    }
    let at = match (&pending.source_file, pending.source_line) {
        (Some(f), Some(l)) => format!("{f}:{l}"),
        (Some(f), None) => f.clone(),
        _ => "the configuration file".to_owned(),
    };
    let value = &wanted.value;
    step.statement = match kind {
        Kind::Postgres => {
            let in_auto =
                pending.source_file.as_deref().is_some_and(|f| f.ends_with("postgresql.auto.conf"));
            let wanted_in_auto =
                wanted.source_file.as_deref().is_some_and(|f| f.ends_with("postgresql.auto.conf"));
            if in_auto && !wanted_in_auto {
                format!(
                    "ALTER SYSTEM RESET {};  -- the next restart would apply {}",
                    pg_ident(name),
                    pending.value
                )
            } else {
                // postgresql.auto.conf overrides postgresql.conf.
                format!(
                    "ALTER SYSTEM SET {} = {};  -- {at} sets {} for the next restart",
                    pg_ident(name),
                    sql_string(value),
                    pending.value
                )
            }
        }
        Kind::Mysql => format!(
            "-- {name}: {at} sets {} for the next restart: change it there to {value}",
            pending.value
        ),
        // CONFIG REWRITE (in the plan's finish) writes the running values back to the file.
        Kind::Redis => format!(
            "-- {name}: {at} sets {} for the next restart; CONFIG REWRITE below puts {value} back",
            pending.value
        ),
        Kind::Memcached => format!("-- restart memcached with {name} = {value}"),
    };
    step.needs_restart = false;
    Some(step)
}

/// A PostgreSQL per-role or per-database setting (`role.app.statement_timeout`): its
/// scope and setting name.
fn scoped_setting(kind: Kind, key: &str) -> Option<(scoped::Scope, String)> {
    let parsed = scoped::parse(key).filter(|_| kind == Kind::Postgres)?;
    Some((parsed.scope, parsed.setting?))
}

/// MySQL/MariaDB variables that cannot change while the server runs.
const MYSQL_RESTART_ONLY: &[&str] = &[
    "bind_address",
    "datadir",
    "innodb_buffer_pool_instances",
    "innodb_data_file_path",
    "innodb_log_file_size",
    "innodb_page_size",
    "log_bin",
    "log_bin_basename",
    "log_slave_updates",
    "log_replica_updates",
    "lower_case_table_names",
    "port",
    "relay_log",
    "relay_log_recovery",
    "server_uuid",
    "skip_name_resolve",
    "socket",
];

/// Redis directives `CONFIG SET` refuses.
const REDIS_RESTART_ONLY: &[&str] = &[
    "daemonize",
    "databases",
    "io-threads",
    "logfile",
    "pidfile",
    "supervised",
    "syslog-enabled",
    "syslog-ident",
    "syslog-facility",
    "unixsocket",
    "unixsocketperm",
    "cluster-enabled",
    "cluster-config-file",
    "aclfile",
    "always-show-logo",
    "set-proc-title",
];

fn pg_ident(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn mysql_value(value: &str) -> String {
    let bare = !value.is_empty()
        && (value.parse::<f64>().is_ok()
            || value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if bare {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    }
}

fn redis_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests;
