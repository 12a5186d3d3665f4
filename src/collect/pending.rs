//! Pending configuration: values that take effect on the next restart or reload, and
//! runtime values a restart would lose. Pure: collectors read the rows (and the Redis
//! collector its configured file), this module decides which `pending.<name>` entries
//! they make.
//!
//! `pending.<name>` holds the value `setting.<name>` will have after the next restart
//! (or reload), in the live entry's unit, with the file and line that will set it, and
//! [`Entry::pending`] saying when it takes effect. It exists only while that value
//! differs from the live one, so an unchanged server keeps an unchanged digest.
//!
//! `server.pending_source` ([`SOURCE_KEY`]) says what the collector could see, so a
//! reader can tell "nothing pending" from "could not look":
//!
//! | value | engine | meaning |
//! |---|---|---|
//! | `pg_file_settings` | PostgreSQL | full view: what is pending, where, and when |
//! | `pending_restart_flag` | PostgreSQL | least privilege: `pg_settings.pending_restart` says *that* a setting awaits a restart, not *what* it becomes |
//! | `persisted_variables` | MySQL 8 | `performance_schema.persisted_variables` |
//! | `not_applicable` | MariaDB, memcached | the engine keeps no pending configuration |
//! | `config_file` | Redis | the runtime compared with the target's `config_file` |
//! | `unavailable` | Redis | no `config_file` configured, or it could not be read or parsed: runtime-only changes cannot be seen |
//!
//! The entry's `source` explains a limited view (and the grant that lifts it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::collect::conffile::postgresql::normalise_value;
use crate::engine::reported_bool;
use crate::snapshot::{Entry, PENDING_PREFIX, PendingKind};

/// The stable-config key that says how much of the pending configuration was visible.
pub const SOURCE_KEY: &str = "server.pending_source";

/// What PostgreSQL's `pending_restart` alone cannot tell, and the grants that lift it.
pub fn pg_limited_note(user: &str) -> String {
    format!(
        "pg_file_settings is not readable by {user}: pg_settings.pending_restart shows that a \
         setting awaits a restart, not its new value (and nothing about reloads); for the full \
         view: GRANT SELECT ON pg_file_settings TO {user}; GRANT EXECUTE ON FUNCTION \
         pg_show_all_file_settings() TO {user};"
    )
}

/// The `server.pending_source` entry.
pub fn source_entry(value: &str, note: Option<String>) -> Entry {
    Entry { source: note, ..Entry::new(value) }
}

/// One row of PostgreSQL's `pg_file_settings`, read in `seqno` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub name: String,
    /// The raw value as written (`128MB`, `'200'` already unquoted).
    pub value: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// PostgreSQL: what each setting becomes on the next restart or reload.
///
/// The last row of `pg_file_settings` for a name wins (as in the server). Only settings
/// whose live value the files govern (`source` = `default` or `configuration file`)
/// are compared; a setting now set from a file that no file sets any more goes back
/// to its `boot` value. The file's value is normalised to the live entry's unit
/// (`128MB` → `16384` `8kB`, `true` → `on`). `postmaster` settings wait for a
/// restart; every other context for a reload.
pub fn postgres(
    config: &BTreeMap<String, Entry>,
    rows: &[FileRow],
    boot: &BTreeMap<String, String>,
) -> BTreeMap<String, Entry> {
    let mut last: BTreeMap<String, &FileRow> = BTreeMap::new();
    for row in rows {
        last.insert(row.name.to_ascii_lowercase(), row);
    }
    let mut out = BTreeMap::new();
    for (key, live) in config {
        let Some(name) = key.strip_prefix("setting.") else { continue };
        let governed = matches!(live.source.as_deref(), Some("default" | "configuration file"));
        if !governed || live.context.as_deref() == Some("internal") {
            continue;
        }
        let mut next = match last.get(&name.to_ascii_lowercase()) {
            Some(row) => Entry {
                value: normalise_value(live.vartype.as_deref(), live.unit.as_deref(), &row.value)
                    .unwrap_or_else(|_| row.value.clone()),
                source: Some("configuration file".into()),
                source_file: row.file.clone(),
                source_line: row.line,
                ..Entry::default()
            },
            None if live.source.as_deref() == Some("configuration file") => match boot.get(name) {
                Some(value) => Entry {
                    value: value.clone(),
                    source: Some("default".into()),
                    ..Entry::default()
                },
                None => continue,
            },
            None => continue,
        };
        if same_value(live, &next.value) {
            continue;
        }
        next.unit = live.unit.clone();
        next.vartype = live.vartype.clone();
        next.context = live.context.clone();
        next.pending = Some(match live.context.as_deref() {
            Some("postmaster") => PendingKind::Restart,
            _ => PendingKind::Reload,
        });
        out.insert(format!("{PENDING_PREFIX}{name}"), next);
    }
    out
}

/// MySQL 8: `performance_schema.persisted_variables` (`SET PERSIST`, `SET PERSIST_ONLY`)
/// whose value differs from the live global one; they apply at the next restart.
pub fn mysql(
    config: &BTreeMap<String, Entry>,
    persisted: &[(String, String)],
) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for (name, value) in persisted {
        let name = name.to_ascii_lowercase();
        let Some(live) = config.get(&format!("setting.{name}")) else { continue };
        if same_value(live, value) {
            continue;
        }
        let next = Entry {
            unit: live.unit.clone(),
            vartype: live.vartype.clone(),
            context: live.context.clone(),
            source: Some("persisted".into()),
            source_file: Some("mysqld-auto.cnf".into()),
            pending: Some(PendingKind::Restart),
            ..Entry::new(value.clone())
        };
        out.insert(format!("{PENDING_PREFIX}{name}"), next);
    }
    out
}

/// Redis settings whose runtime value never comes from the file as such: where the
/// server was started from, and values it derives at start-up.
const REDIS_DERIVED: [&str; 3] = ["dir", "maxclients", "unixsocketperm"];

/// Redis: settings whose runtime value (`CONFIG GET`) differs from what the server
/// would start with (`file`: the configuration file's settings over the engine's
/// defaults). A restart loses the runtime value: `pending.<name>` holds the file's.
pub fn redis(
    config: &BTreeMap<String, Entry>,
    file: &BTreeMap<String, Entry>,
) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for (key, live) in config {
        let Some(name) = key.strip_prefix("setting.") else { continue };
        let Some(from_file) = file.get(key) else { continue };
        let written = from_file.source.as_deref() != Some("default");
        if (!written && REDIS_DERIVED.contains(&name)) || same_value(live, &from_file.value) {
            continue;
        }
        let next = Entry {
            unit: live.unit.clone(),
            source: from_file.source.clone(),
            source_file: from_file.source_file.clone(),
            source_line: from_file.source_line,
            pending: Some(PendingKind::RuntimeOnly),
            ..Entry::new(from_file.value.clone())
        };
        out.insert(format!("{PENDING_PREFIX}{name}"), next);
    }
    out
}

/// What the Redis collector learnt of the file a restart reads: the target's
/// `config_file`, never a path the server names.
#[derive(Debug, Clone)]
pub enum RedisFile {
    /// The target's config names no `config_file`.
    NotConfigured,
    /// The settings a restart brings: the file's over the engine's defaults.
    Parsed { path: PathBuf, restart: BTreeMap<String, Entry> },
    /// Not read, or not configuration; `why` names files and lines, never content.
    Unreadable { path: PathBuf, why: Vec<String> },
}

/// Redis: adds `pending.<name>` for settings a restart would change back (from a
/// parsed `file`), and `server.pending_source` saying what could be seen. The note
/// says so when the file `INFO server` names (`server.config_file`) is not the one
/// configured: worth knowing, and the named file is still not read.
pub fn redis_from_file(config: &mut BTreeMap<String, Entry>, file: RedisFile) {
    let named = config.get("server.config_file").map(|e| e.value.clone());
    let named_note = |configured: &Path| match &named {
        Some(n) if Path::new(n) != configured => Some(format!(
            "the server says it was started from {n}, not from the configured config_file \
             {}: only the configured file is read",
            configured.display()
        )),
        None => Some(format!(
            "the server says it was started without a configuration file; compared with the \
             configured config_file {} anyway",
            configured.display()
        )),
        Some(_) => None,
    };
    let entry = match file {
        RedisFile::NotConfigured => {
            let started = match &named {
                Some(n) => format!("the server says it was started from {n}"),
                None => "the server says it was started without a configuration file".to_owned(),
            };
            let why = format!(
                "the target has no config_file: set it to the file this server starts from to \
                 see runtime-only changes (CONFIG SET without CONFIG REWRITE); {started}"
            );
            source_entry("unavailable", Some(why))
        }
        RedisFile::Parsed { path, restart } => {
            let found = redis(config, &restart);
            config.extend(found);
            source_entry("config_file", named_note(&path))
        }
        RedisFile::Unreadable { path, why } => {
            let mut why = format!(
                "config_file {} cannot be read or parsed: {}",
                path.display(),
                why.join("; ")
            );
            if let Some(note) = named_note(&path) {
                why = format!("{why}; {note}");
            }
            source_entry("unavailable", Some(crate::redact::text(&why).into_owned()))
        }
    };
    config.insert(SOURCE_KEY.into(), entry);
}

/// The live entry's value and another compare equal: as numbers, as booleans, else
/// as text ignoring case and surrounding blanks.
fn same_value(live: &Entry, other: &str) -> bool {
    let (a, b) = (live.value.trim(), other.trim());
    if a == b {
        return true;
    }
    if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) {
        return (x - y).abs() <= x.abs().max(y.abs()) * 1e-12;
    }
    if let (Some(x), Some(y)) = (reported_bool(a), reported_bool(b)) {
        return x == y;
    }
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(value: &str, unit: Option<&str>, vartype: &str, context: &str, source: &str) -> Entry {
        Entry {
            unit: unit.map(str::to_owned),
            vartype: Some(vartype.into()),
            context: Some(context.into()),
            source: Some(source.into()),
            ..Entry::new(value)
        }
    }

    fn row(name: &str, value: &str, file: &str, line: u32) -> FileRow {
        FileRow {
            name: name.into(),
            value: value.into(),
            file: Some(file.into()),
            line: Some(line),
        }
    }

    fn pg_config() -> BTreeMap<String, Entry> {
        BTreeMap::from([
            (
                "setting.max_connections".into(),
                live("100", None, "integer", "postmaster", "configuration file"),
            ),
            (
                "setting.shared_buffers".into(),
                live("16384", Some("8kB"), "integer", "postmaster", "configuration file"),
            ),
            ("setting.work_mem".into(), live("4096", Some("kB"), "integer", "user", "default")),
            ("setting.port".into(), live("5432", None, "integer", "postmaster", "command line")),
            (
                "setting.hot_standby".into(),
                live("on", None, "bool", "postmaster", "configuration file"),
            ),
            (
                "setting.DateStyle".into(),
                live("ISO, MDY", None, "string", "sighup", "configuration file"),
            ),
        ])
    }

    #[test]
    fn postgres_last_row_wins_in_the_live_unit() {
        let rows = [
            row("max_connections", "100", "postgresql.conf", 65),
            row("max_connections", "200", "postgresql.auto.conf", 3),
            row("shared_buffers", "128MB", "postgresql.conf", 127),
            row("work_mem", "8MB", "postgresql.auto.conf", 4),
            row("port", "5499", "postgresql.conf", 64),
            row("hot_standby", "true", "postgresql.conf", 5),
            row("datestyle", "iso, mdy", "postgresql.conf", 711),
        ];
        let got = postgres(&pg_config(), &rows, &BTreeMap::new());
        let keys: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(keys, ["pending.max_connections", "pending.work_mem"], "{got:#?}");
        let mc = &got["pending.max_connections"];
        assert_eq!(mc.value, "200");
        assert_eq!(mc.pending, Some(PendingKind::Restart));
        assert_eq!(mc.location().as_deref(), Some("postgresql.auto.conf:3"));
        let wm = &got["pending.work_mem"];
        assert_eq!((wm.value.as_str(), wm.unit.as_deref()), ("8192", Some("kB")));
        assert_eq!(wm.pending, Some(PendingKind::Reload));
    }

    #[test]
    fn postgres_removed_line_goes_back_to_the_boot_value() {
        let boot = BTreeMap::from([("max_connections".to_owned(), "100".to_owned())]);
        let mut config = pg_config();
        config.get_mut("setting.max_connections").unwrap().value = "300".into();
        let got = postgres(&config, &[], &boot);
        let mc = &got["pending.max_connections"];
        assert_eq!((mc.value.as_str(), mc.source.as_deref()), ("100", Some("default")));
        assert_eq!(got.len(), 1, "{got:#?}");
    }

    #[test]
    fn redis_runtime_values_differing_from_the_file_are_runtime_only() {
        let config = BTreeMap::from([
            ("setting.maxmemory".to_owned(), Entry::new("104857600").with_unit("B")),
            ("setting.port".to_owned(), Entry::new("6380")),
            ("setting.dir".to_owned(), Entry::new("/var/lib/redis")),
        ]);
        let file_entry = |v: &str, line| Entry {
            source: Some("configuration file".into()),
            source_file: Some("/etc/redis.conf".into()),
            source_line: Some(line),
            ..Entry::new(v)
        };
        let file = BTreeMap::from([
            (
                "setting.maxmemory".to_owned(),
                Entry { source: Some("default".into()), ..Entry::new("0") },
            ),
            ("setting.port".to_owned(), file_entry("6380", 3)),
            ("setting.dir".to_owned(), Entry { source: Some("default".into()), ..Entry::new("") }),
        ]);
        let got = redis(&config, &file);
        assert_eq!(got.keys().collect::<Vec<_>>(), ["pending.maxmemory"]);
        let e = &got["pending.maxmemory"];
        assert_eq!((e.value.as_str(), e.pending), ("0", Some(PendingKind::RuntimeOnly)));
    }

    #[test]
    fn redis_source_says_what_was_read_and_what_the_server_named() {
        let named = |path: Option<&str>| {
            let mut config = BTreeMap::from([("setting.maxmemory".to_owned(), Entry::new("100"))]);
            if let Some(p) = path {
                config.insert("server.config_file".to_owned(), Entry::new(p));
            }
            config
        };
        let source = |config: &BTreeMap<String, Entry>| {
            let e = &config[SOURCE_KEY];
            (e.value.clone(), e.source.clone().unwrap_or_default())
        };
        let mut config = named(Some("/etc/redis/redis.conf"));
        redis_from_file(&mut config, RedisFile::NotConfigured);
        let (value, note) = source(&config);
        assert_eq!(value, "unavailable");
        assert!(note.contains("set it to the file this server starts from"), "{note}");
        assert!(note.contains("started from /etc/redis/redis.conf"), "{note}");

        let parsed = |path: &str| RedisFile::Parsed {
            path: PathBuf::from(path),
            restart: BTreeMap::from([(
                "setting.maxmemory".to_owned(),
                Entry { source: Some("default".into()), ..Entry::new("0") },
            )]),
        };
        let mut config = named(Some("/etc/redis/redis.conf"));
        redis_from_file(&mut config, parsed("/etc/redis/redis.conf"));
        assert_eq!(source(&config), ("config_file".to_owned(), String::new()));
        assert_eq!(config["pending.maxmemory"].value, "0");

        let mut config = named(Some("/run/fifo"));
        redis_from_file(&mut config, parsed("/etc/redis/redis.conf"));
        let (value, note) = source(&config);
        assert_eq!(value, "config_file");
        assert!(note.contains("started from /run/fifo, not from the configured"), "{note}");

        let mut config = named(None);
        let why = vec!["/etc/r.conf:3 did not parse as redis configuration".to_owned()];
        let unreadable = RedisFile::Unreadable { path: PathBuf::from("/etc/r.conf"), why };
        redis_from_file(&mut config, unreadable);
        let (value, note) = source(&config);
        assert_eq!(value, "unavailable");
        assert!(note.contains("/etc/r.conf:3 did not parse"), "{note}");
        assert!(note.contains("started without a configuration file"), "{note}");
        assert!(!config.contains_key("pending.maxmemory"));
    }

    #[test]
    fn mysql_persisted_values_differing_from_live_ones_wait_for_a_restart() {
        let config = BTreeMap::from([
            ("setting.max_connections".to_owned(), Entry::new("151")),
            ("setting.read_only".to_owned(), Entry::new("OFF")),
        ]);
        let persisted = [
            ("max_connections".to_owned(), "500".to_owned()),
            ("read_only".to_owned(), "0".to_owned()),
        ];
        let got = mysql(&config, &persisted);
        assert_eq!(got.keys().collect::<Vec<_>>(), ["pending.max_connections"]);
        assert_eq!(got["pending.max_connections"].pending, Some(PendingKind::Restart));
    }
}
