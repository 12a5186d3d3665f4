//! "What happens on the next restart", end to end on real servers: pending values
//! written with ALTER SYSTEM (primary) or into `postgresql.auto.conf` (standby), a
//! Redis `CONFIG SET` never rewritten, and replay paused on the standby for the group
//! timeline. The PostgreSQL pair is the test's own (a primary and a `pg_basebackup`
//! standby, gone with the test); the Redis is the replica the setup starts, under its
//! exclusive lock. No test restarts a server: pending values stay pending, and Drop
//! guards put back what a later audit of the same test reads (also on panic).

use std::time::Duration;

use serde_json::Value;

use super::harness::*;
use crate::support::{self, START_SERVICES};

/// A PostgreSQL primary of the test's own, its streaming standby, and the role the
/// setup gives the shared primary for the least-privilege auditor.
fn group() -> (TestPg, TestPg) {
    let primary = TestPg::start(&[]);
    primary.psql("CREATE ROLE driftwatch_auditor LOGIN IN ROLE pg_monitor");
    let standby = primary.standby();
    (primary, standby)
}

/// The group's targets, named as on the shared servers (`pg-primary`, `pg-replica`,
/// group `ci`).
fn group_workspace(primary: &TestPg, standby: &TestPg, user: &str) -> Workspace {
    Workspace::new(&[
        Target { user, ..PRIMARY.on(primary) },
        Target { user, ..REPLICA.on(standby) },
    ])
}

fn target<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["targets"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()
}

fn preflight<'a>(run: &'a Value, name: &str) -> &'a [Value] {
    target(run, name)["preflight"].as_array().map_or(&[], Vec::as_slice)
}

fn finding<'a>(list: &'a [Value], rule: &str) -> &'a Value {
    list.iter().find(|f| f["rule"] == rule).unwrap_or_else(|| panic!("no {rule} in {list:#?}"))
}

/// The stored snapshot a target's result points at.
fn snapshot(ws: &Workspace, run: &Value, name: &str) -> Value {
    let digest = target(run, name)["snapshot"].as_str().unwrap();
    let path = ws.store().join(format!("snapshots/{name}/{digest}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `ALTER SYSTEM SET <name>` on the primary and a reload, no restart: the value is
/// pending until someone restarts. Reset and reloaded when dropped.
struct PendingOnPrimary<'a>(&'a TestPg, &'static str);

impl PendingOnPrimary<'_> {
    fn set<'a>(primary: &'a TestPg, name: &'static str, value: &str) -> PendingOnPrimary<'a> {
        primary.psql(&format!("ALTER SYSTEM SET {name} = '{value}'"));
        primary.psql("SELECT pg_reload_conf()");
        wait_for(primary, name, "true");
        PendingOnPrimary(primary, name)
    }
}

impl Drop for PendingOnPrimary<'_> {
    fn drop(&mut self) {
        self.0.psql(&format!("ALTER SYSTEM RESET {}", self.1));
        self.0.psql("SELECT pg_reload_conf()");
        wait_for(self.0, self.1, "false");
    }
}

/// Waits until `pg_settings.pending_restart` of `name` on `pg` is `want`.
fn wait_for(pg: &TestPg, name: &str, want: &str) {
    let sql = format!("SELECT pending_restart FROM pg_settings WHERE name = '{name}'");
    for _ in 0..50 {
        if pg.psql(&sql) == if want == "true" { "t" } else { "f" } {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pending_restart of {name} on :{} did not become {want}", pg.port);
}

/// A line appended to the standby's `postgresql.auto.conf` (the standby refuses ALTER
/// SYSTEM), then a reload; the file's exact bytes come back when dropped.
struct PendingOnStandby<'a> {
    standby: &'a TestPg,
    original: Vec<u8>,
}

impl PendingOnStandby<'_> {
    fn append<'a>(standby: &'a TestPg, line: &str) -> PendingOnStandby<'a> {
        let path = standby.data_dir().join("postgresql.auto.conf");
        let original = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): this test needs root or the postgres user",
                path.display()
            )
        });
        let mut changed = original.clone();
        changed.extend_from_slice(format!("{line}\n").as_bytes());
        std::fs::write(&path, changed).expect("write the standby's postgresql.auto.conf");
        let guard = PendingOnStandby { standby, original };
        standby.psql("SELECT pg_reload_conf()");
        guard
    }
}

impl Drop for PendingOnStandby<'_> {
    fn drop(&mut self) {
        let path = self.standby.data_dir().join("postgresql.auto.conf");
        std::fs::write(path, &self.original).expect("restore the standby's postgresql.auto.conf");
        self.standby.psql("SELECT pg_reload_conf()");
        wait_for(self.standby, "max_connections", "false");
    }
}

#[test]
fn pending_raise_on_the_primary_names_the_standby_it_pauses() {
    let (primary, standby) = group();
    let ws = group_workspace(&primary, &standby, "postgres");
    let least = group_workspace(&primary, &standby, "driftwatch_auditor");
    let before = ws.audit_json();
    assert!(preflight(&before, "pg-replica").is_empty(), "{:#}", target(&before, "pg-replica"));
    let standby_max: u32 = standby.psql("SHOW max_connections").parse().unwrap();
    let higher = (standby_max + 100).to_string();

    let (during, limited) = {
        let _pending = PendingOnPrimary::set(&primary, "max_connections", &higher);
        (ws.audit_json(), least.audit_json())
    };
    let snap = snapshot(&ws, &during, "pg-primary");
    let pending = &snap["config"]["pending.max_connections"];
    assert_eq!(pending["value"], higher.as_str(), "{pending:#}");
    assert_eq!(pending["pending"], "restart");
    assert!(pending["source_file"].as_str().unwrap().ends_with("postgresql.auto.conf"));
    assert_eq!(snap["config"]["server.pending_source"]["value"], "pg_file_settings");
    let change = target(&during, "pg-primary")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "pending.max_connections")
        .unwrap_or_else(|| panic!("no pending change: {:#}", target(&during, "pg-primary")));
    assert_eq!(change["after"], higher.as_str());

    let f = finding(preflight(&during, "pg-replica"), "PG-REPL-010");
    assert_eq!((f["status"].as_str(), f["severity"].as_str()), (Some("fail"), Some("critical")));
    assert_eq!(
        (f["drift"].as_str(), f["restarting"].as_str()),
        (Some("pending"), Some("pg-primary"))
    );
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("standby pg-replica pauses replay"), "{message}");
    assert!(during["summary"]["preflight"].as_u64().unwrap() >= 1);
    let page = std::fs::read_to_string(ws.store().join("reports/groups/ci.html")).unwrap();
    assert!(page.contains(r#"id="p-pg-replica-pg-repl-010""#), "group page lacks it");

    // What a pg_monitor auditor sees: that a restart is awaited, not what it brings.
    let snap = snapshot(&least, &limited, "pg-primary");
    assert_eq!(snap["config"]["server.pending_source"]["value"], "pending_restart_flag");
    assert!(snap["config"].get("pending.max_connections").is_none());
    assert_eq!(snap["config"]["setting.max_connections"]["pending_restart"], true);
    let f = finding(preflight(&limited, "pg-replica"), "PG-REPL-010");
    assert_eq!(f["status"], "error", "{f:#}");
    assert!(f["message"].as_str().unwrap().contains("GRANT SELECT ON pg_file_settings"));

    let after = ws.audit_json();
    assert!(preflight(&after, "pg-replica").is_empty(), "{:#}", target(&after, "pg-replica"));
    let gone = &target(&after, "pg-primary")["changes"];
    assert!(
        gone.as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "pending.max_connections" && c["after"].is_null()),
        "{gone:#}"
    );
}

#[test]
fn pending_lower_value_on_the_standby_will_refuse_to_start() {
    let (primary, standby) = group();
    let ws = group_workspace(&primary, &standby, "postgres");
    let during = {
        let _pending = PendingOnStandby::append(&standby, "max_connections = 50");
        wait_for(&standby, "max_connections", "true");
        ws.audit_json()
    };
    let f = finding(preflight(&during, "pg-replica"), "PG-REPL-010");
    assert_eq!(
        (f["status"].as_str(), f["restarting"].as_str()),
        (Some("fail"), Some("pg-replica"))
    );
    let message = f["message"].as_str().unwrap();
    assert!(message.starts_with("Standby pg-replica will refuse to start"), "{message}");
    assert!(message.contains("50"), "{message}");
    let snap = snapshot(&ws, &during, "pg-replica");
    assert_eq!(snap["config"]["pending.max_connections"]["value"], "50");

    let after = ws.audit_json();
    assert!(preflight(&after, "pg-replica").is_empty(), "{:#}", target(&after, "pg-replica"));
}

/// `CONFIG SET` on the Redis replica, put back when dropped.
struct RuntimeOnly {
    name: &'static str,
    original: String,
}

fn redis_cli(args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &support::REDIS_REPLICA.to_string(), "--no-auth-warning"])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl RuntimeOnly {
    fn set(name: &'static str, value: &str) -> RuntimeOnly {
        let got = redis_cli(&["CONFIG", "GET", name]);
        let original = got.lines().nth(1).unwrap_or_default().to_owned();
        assert_eq!(redis_cli(&["CONFIG", "SET", name, value]), "OK");
        RuntimeOnly { name, original }
    }
}

impl Drop for RuntimeOnly {
    fn drop(&mut self) {
        redis_cli(&["CONFIG", "SET", self.name, &self.original]);
    }
}

#[test]
fn redis_config_set_without_rewrite_is_runtime_only_drift() {
    support::require_service("127.0.0.1", support::REDIS_REPLICA, START_SERVICES);
    let _lock = ServerLock::exclusive("redis-replica");
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n[[targets]]\nname = \"redis-replica\"\n\
         kind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\nrole = \"replica\"\ngroup = \"cache\"\n\
         config_file = \"{}\"\n",
        policies_dir().display(),
        support::REDIS_REPLICA,
        // The file `tests/setup/redis.sh` starts the Redis replica from.
        support::redis_replica_dir().join("redis.conf").display()
    ));
    let before = ws.audit_json();
    let snap = snapshot(&ws, &before, "redis-replica");
    assert_eq!(snap["config"]["server.pending_source"]["value"], "config_file");
    let pending: Vec<&String> =
        snap["config"].as_object().unwrap().keys().filter(|k| k.starts_with("pending.")).collect();
    assert!(
        pending.is_empty(),
        "a replica started from its file has no runtime-only drift: {pending:?}"
    );

    let during = {
        let _set = RuntimeOnly::set("maxmemory", "104857600");
        ws.audit_json()
    };
    let snap = snapshot(&ws, &during, "redis-replica");
    let entry = &snap["config"]["pending.maxmemory"];
    assert_eq!(
        (entry["value"].as_str(), entry["pending"].as_str()),
        (Some("0"), Some("runtime_only"))
    );
    let keys: Vec<&str> = target(&during, "redis-replica")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"setting.maxmemory") && keys.contains(&"pending.maxmemory"), "{keys:?}");
    // The live value passes the memory rule; the restart would bring back "no limit".
    let f = finding(preflight(&during, "redis-replica"), "RD-MEM-001");
    assert_eq!(
        (f["drift"].as_str(), f["restarting"].as_str()),
        (Some("runtime_only"), Some("redis-replica"))
    );
    assert!(
        f["message"].as_str().unwrap().starts_with("A restart of redis-replica loses"),
        "{f:#}"
    );

    let after = ws.audit_json();
    assert!(preflight(&after, "redis-replica").is_empty());
    assert!(snapshot(&ws, &after, "redis-replica")["config"].get("pending.maxmemory").is_none());
}

/// Replay paused on the standby and a table written on the primary; replay resumed
/// when dropped (the servers are the test's own: the table may stay).
struct Lag<'a>(&'a TestPg);

impl Lag<'_> {
    fn start<'a>(primary: &TestPg, standby: &'a TestPg) -> Lag<'a> {
        standby.psql("SELECT pg_wal_replay_pause()");
        let guard = Lag(standby);
        primary.psql(
            "CREATE TABLE driftwatch_restart_lag AS \
             SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 40000) g",
        );
        // The standby receives while it does not replay: wait until it has.
        for _ in 0..50 {
            let lag = standby.psql(
                "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())",
            );
            if lag.parse::<f64>().unwrap_or(0.0) > 1_048_576.0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        guard
    }
}

impl Drop for Lag<'_> {
    fn drop(&mut self) {
        let _ = self.0.try_psql("postgres", "SELECT pg_wal_replay_resume()");
    }
}

#[test]
fn group_page_shows_the_change_then_the_standby_lag_in_order() {
    let (primary, standby) = group();
    let ws = group_workspace(&primary, &standby, "postgres");
    ws.audit_json();
    let _altered = AlteredSetting::set(&primary, "log_min_duration_statement", "2500");
    let changed = ws.audit_json();
    let lagging = {
        let _lag = Lag::start(&primary, &standby);
        ws.audit_json()
    };
    assert_eq!(
        target(&lagging, "pg-replica")["state"]["state.replication.replay_paused"]["value"],
        "true"
    );
    let page = std::fs::read_to_string(ws.store().join("reports/groups/ci.html")).unwrap();
    let run: String = changed["run_id"]
        .as_str()
        .unwrap()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let change = page
        .find(&format!(r#"<tr id="c-{run}-pg-primary-log-min-duration-statement">"#))
        .unwrap_or_else(|| panic!("no change row for run {run}"));
    let paused = page.find("<td>replay paused</td>").expect("a replay paused event");
    let lag = page.find("<td>lag rose above").expect("a lag event");
    assert!(change < paused && change < lag, "the change reads before the lag it caused");
    assert!(page.contains("streaming, replay paused"), "topology shows the paused standby");
}
