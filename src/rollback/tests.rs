//! Rollback plans per engine.

use std::collections::BTreeMap;

use super::*;
use crate::snapshot::{Role, ServerInfo};

fn snap(kind: Kind, entries: &[(&str, Entry)]) -> Snapshot {
    Snapshot {
        target: "t".into(),
        kind,
        server: ServerInfo { version: "x".into(), role: Role::Primary },
        config: entries
            .iter()
            .map(|(k, e)| ((*k).to_owned(), e.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn pg(value: &str, context: &str, file: Option<&str>) -> Entry {
    let mut e = Entry::new(value);
    e.context = Some(context.into());
    e.source_file = file.map(str::to_owned);
    e.source = Some(if file.is_some() { "configuration file" } else { "default" }.into());
    e
}

#[track_caller]
fn check(desired: Snapshot, current: Snapshot, expect: &str) {
    assert_eq!(plan(&desired, &current).script(), expect);
}

#[test]
fn postgres_set_reset_and_restart() {
    let desired = snap(
        Kind::Postgres,
        &[
            ("setting.synchronous_commit", pg("on", "user", None)),
            (
                "setting.max_connections",
                pg("100", "postmaster", Some("/etc/postgresql/15/main/postgresql.conf")),
            ),
            (
                "setting.work_mem",
                pg("4096", "user", Some("/var/lib/postgresql/15/main/postgresql.auto.conf")),
            ),
        ],
    );
    let current = snap(
        Kind::Postgres,
        &[
            (
                "setting.synchronous_commit",
                pg("off", "user", Some("/var/lib/postgresql/15/main/postgresql.auto.conf")),
            ),
            (
                "setting.max_connections",
                pg("200", "postmaster", Some("/etc/postgresql/15/main/postgresql.conf")),
            ),
            (
                "setting.work_mem",
                pg("8192", "user", Some("/var/lib/postgresql/15/main/postgresql.auto.conf")),
            ),
        ],
    );
    check(
        desired,
        current,
        "ALTER SYSTEM SET max_connections = '100';  -- restart required\n\
         ALTER SYSTEM RESET synchronous_commit;\n\
         ALTER SYSTEM SET work_mem = '4096';\n\
         SELECT pg_reload_conf();\n",
    );
}

#[test]
fn quoting_is_safe() {
    let desired = snap(
        Kind::Postgres,
        &[("setting.archive_command", pg("cp '%p' /a", "sighup", Some("x.conf")))],
    );
    let current =
        snap(Kind::Postgres, &[("setting.archive_command", pg("", "sighup", Some("x.conf")))]);
    check(
        desired,
        current,
        "ALTER SYSTEM SET archive_command = 'cp ''%p'' /a';\nSELECT pg_reload_conf();\n",
    );
}

#[test]
fn secrets_are_never_written_out() {
    let mut secret = pg("[REDACTED]", "sighup", Some("x.conf"));
    secret.redacted = true;
    let desired = snap(Kind::Redis, &[("setting.masterauth", secret)]);
    let current = snap(Kind::Redis, &[("setting.masterauth", Entry::new(""))]);
    check(
        desired,
        current,
        "-- masterauth: holds a secret (redacted); restore it by hand\nCONFIG REWRITE\n",
    );
}

#[test]
fn mysql_and_redis_forms() {
    let desired = snap(
        Kind::Mysql,
        &[("setting.read_only", Entry::new("ON")), ("setting.log_bin", Entry::new("ON"))],
    );
    let current = snap(
        Kind::Mysql,
        &[("setting.read_only", Entry::new("OFF")), ("setting.log_bin", Entry::new("OFF"))],
    );
    let p = plan(&desired, &current);
    assert_eq!(
        p.steps[0].statement,
        "SET GLOBAL log_bin = ON; -- and in the option file, or a restart loses it"
    );
    assert!(p.steps[0].needs_restart);
    assert_eq!(
        p.steps[1].statement,
        "SET GLOBAL read_only = ON; -- and in the option file, or a restart loses it"
    );

    let desired = snap(
        Kind::Redis,
        &[
            ("setting.save", Entry::new("3600 1 300 100")),
            ("setting.replica-read-only", Entry::new("yes")),
        ],
    );
    let current = snap(
        Kind::Redis,
        &[("setting.save", Entry::new("")), ("setting.replica-read-only", Entry::new("no"))],
    );
    check(
        desired,
        current,
        "CONFIG SET replica-read-only \"yes\"\nCONFIG SET save \"3600 1 300 100\"\nCONFIG REWRITE\n",
    );
}

#[test]
fn nothing_changed_nothing_to_run() {
    let s = snap(Kind::Postgres, &[("setting.a", pg("1", "user", None))]);
    assert_eq!(plan(&s, &s).script(), "");
}

/// A value the next restart would apply (`pending.`) that the earlier snapshot did not
/// have is put back too: the drill's `ALTER SYSTEM SET max_connections = 50`, pending.
#[test]
fn pending_values_are_rolled_back_too() {
    let auto = "/var/lib/postgresql/15/main/postgresql.auto.conf";
    let conf = "/etc/postgresql/15/main/postgresql.conf";
    let desired =
        snap(Kind::Postgres, &[("setting.max_connections", pg("100", "postmaster", Some(conf)))]);
    let mut pending = pg("50", "postmaster", Some(auto));
    pending.source_line = Some(3);
    let current = snap(
        Kind::Postgres,
        &[
            ("setting.max_connections", pg("100", "postmaster", Some(conf))),
            ("pending.max_connections", pending.clone()),
        ],
    );
    check(
        desired.clone(),
        current,
        "ALTER SYSTEM RESET max_connections;  -- the next restart would apply 50\nSELECT pg_reload_conf();\n",
    );
    // Pending from postgresql.conf: auto.conf overrides it with the value wanted.
    let mut edited = pending;
    edited.source_file = Some(conf.into());
    let current = snap(
        Kind::Postgres,
        &[
            ("setting.max_connections", pg("100", "postmaster", Some(conf))),
            ("pending.max_connections", edited),
        ],
    );
    let script = plan(&desired, &current).script();
    assert_eq!(
        script,
        format!(
            "ALTER SYSTEM SET max_connections = '100';  -- {conf}:3 sets 50 for the next restart\nSELECT pg_reload_conf();\n"
        )
    );
    // Nothing pending on either side: nothing to do.
    check(desired.clone(), desired, "");
}

/// Per-role and per-database settings go back with ALTER ROLE/DATABASE: SET what was
/// set then, RESET what was not; the `role.<role>` login marks are not settings.
#[test]
fn postgres_role_and_database_settings() {
    let scoped = |v: &str, source: &str| Entry { source: Some(source.into()), ..Entry::new(v) };
    let desired = snap(
        Kind::Postgres,
        &[
            ("role.app", Entry::new("login")),
            ("database.shop.work_mem", scoped("64MB", "ALTER DATABASE shop")),
            ("role.etl@shop.statement_timeout", scoped("0", "ALTER ROLE etl IN DATABASE shop")),
        ],
    );
    let current = snap(
        Kind::Postgres,
        &[
            ("role.report", Entry::new("login")),
            ("role.app.statement_timeout", scoped("30s", "ALTER ROLE app")),
            ("database.shop.work_mem", scoped("1GB", "ALTER DATABASE shop")),
        ],
    );
    check(
        desired,
        current,
        "ALTER DATABASE shop SET work_mem = '64MB';\n\
         ALTER ROLE app RESET statement_timeout;\n\
         ALTER ROLE etl IN DATABASE shop SET statement_timeout = '0';\n\
         SELECT pg_reload_conf();\n",
    );
}

/// `last-good` adopts one rule's keys from a good snapshot: a pattern's every role, a
/// key the good run lacked is removed, a key already taken is left, readings never.
#[test]
fn adopt_takes_a_rules_keys_from_a_good_snapshot() {
    let good = snap(
        Kind::Postgres,
        &[
            ("role.app.statement_timeout", Entry::new("30s")),
            ("setting.work_mem", Entry::new("4096")),
        ],
    );
    let mut desired = snap(
        Kind::Postgres,
        &[
            ("role.app.statement_timeout", Entry::new("0")),
            ("role.etl.statement_timeout", Entry::new("0")),
            ("setting.work_mem", Entry::new("8192")),
        ],
    );
    let mut taken = std::collections::BTreeSet::from(["setting.work_mem".to_owned()]);
    let keys = adopt(&mut desired, &good, "role.*.statement_timeout", &mut taken);
    assert_eq!(keys, ["role.app.statement_timeout", "role.etl.statement_timeout"]);
    assert_eq!(desired.config["role.app.statement_timeout"].value, "30s");
    assert!(!desired.config.contains_key("role.etl.statement_timeout"));
    assert!(adopt(&mut desired, &good, "setting.work_mem", &mut taken).is_empty());
    assert_eq!(desired.config["setting.work_mem"].value, "8192");
    assert!(adopt(&mut desired, &good, "state.replicas.count", &mut taken).is_empty());
}
