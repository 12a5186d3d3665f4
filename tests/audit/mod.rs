//! `driftwatch audit` end to end: the real binary, the real PostgreSQL primary and its
//! streaming replica, a real store folder.

mod connections;
mod counters;
pub mod harness;
mod hostile;
mod mysql;
mod pooler;
pub(crate) mod reports;
mod restart;
mod roles;
mod secrets;
mod shipped;
mod topology;

use harness::*;
use serde_json::Value;

fn target<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {run:#}"))
}

fn state_value<'a>(target: &'a Value, key: &str) -> &'a str {
    target["state"][key]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no state {key} in {:#}", target["state"]))
}

#[test]
fn primary_and_replica_are_audited_with_roles_state_and_reports() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    require_port(REPLICA_PORT, "PostgreSQL streaming replica");
    let ws = Workspace::new(&[PRIMARY, REPLICA]);
    let run = ws.audit_json();

    for field in ["run_id", "started_at", "finished_at", "summary"] {
        assert!(!run[field].is_null(), "missing {field}");
    }
    assert_eq!(run["policy_bundle"]["digest"].as_str().unwrap().len(), 64);
    assert!(!run["policy_bundle"]["policies"].as_array().unwrap().is_empty());

    let primary = target(&run, "pg-primary");
    assert_eq!(primary["status"], "ok");
    assert_eq!(primary["kind"], "postgres");
    assert_eq!(primary["role"], "primary");
    assert_eq!(primary["detected_role"], "primary");
    assert_eq!(primary["snapshot"].as_str().unwrap().len(), 64);
    let replica = format!("state.replica.{}.state", crate::support::pg_replica_slot());
    assert_eq!(state_value(primary, &replica), "streaming");
    let findings = primary["findings"].as_array().unwrap();
    assert!(findings.len() >= 10, "a real baseline evaluates many rules: {findings:#?}");
    for f in findings {
        for field in ["rule", "key", "severity", "status", "expected", "message"] {
            assert!(f[field].is_string(), "finding without {field}: {f:#}");
        }
    }

    let replica = target(&run, "pg-replica");
    assert_eq!(replica["status"], "ok");
    assert_eq!(replica["detected_role"], "replica");
    assert_eq!(state_value(replica, "state.wal_receiver.status"), "streaming");
    let lag: f64 = state_value(replica, "state.replication.replay_lag_bytes").parse().unwrap();
    assert!(lag >= 0.0);

    let run_id = run["run_id"].as_str().unwrap();
    for page in [
        "reports/index.html".to_owned(),
        format!("reports/runs/{run_id}.html"),
        "reports/targets/pg-primary.html".to_owned(),
        "reports/targets/pg-replica.html".to_owned(),
    ] {
        assert!(ws.store().join(&page).is_file(), "{page} was not written");
    }
    assert_eq!(ws.count_files("runs"), 1);
}

#[test]
fn unchanged_server_writes_one_snapshot_and_two_manifests() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let ws = Workspace::new(&[PRIMARY]);
    let first = ws.audit_json();
    let second = ws.audit_json();

    assert_eq!(ws.count_files("snapshots/pg-primary"), 1);
    assert_eq!(ws.count_files("runs"), 2);
    let (a, b) = (target(&first, "pg-primary"), target(&second, "pg-primary"));
    assert_eq!(a["snapshot"], b["snapshot"]);
    assert_eq!(b["previous_snapshot"], a["snapshot"]);
    assert_eq!(b["changes"].as_array().unwrap().len(), 0);
    assert_eq!(second["previous_run"], first["run_id"]);
}

/// On a PostgreSQL of the test's own (the shared primary is never changed).
#[test]
fn changed_setting_shows_as_change_and_failing_finding() {
    let pg = TestPg::start(&[]);
    let ws = Workspace::new(&[PRIMARY.on(&pg)]);
    let before = ws.audit_json();
    let key = "setting.synchronous_commit";
    let failing_on_key = |run: &Value| {
        target(run, "pg-primary")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == key && f["status"] == "fail")
    };
    assert!(!failing_on_key(&before), "synchronous_commit=on must pass the baseline");

    let after = {
        let _altered = AlteredSetting::set(&pg, "synchronous_commit", "off");
        ws.audit_json()
    };
    let primary = target(&after, "pg-primary");
    let change = primary["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no change of {key}: {:#}", primary["changes"]));
    assert_eq!(change["before"], "on");
    assert_eq!(change["after"], "off");
    assert!(change["location"].as_str().unwrap().contains("postgresql.auto.conf"), "{change:#}");
    assert!(failing_on_key(&after), "synchronous_commit=off must fail the baseline");

    // Reset: the next audit sees it go back.
    let restored = ws.audit_json();
    let back = target(&restored, "pg-primary")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["key"] == key && c["before"] == "off" && c["after"] == "on");
    assert!(back, "the reset shows as a change back");
    assert_eq!(ws.count_files("snapshots/pg-primary"), 2, "the third config equals the first");
}

#[test]
fn replication_password_appears_nowhere() {
    require_port(REPLICA_PORT, "PostgreSQL streaming replica");
    // The secret is really there on the server: otherwise this test proves nothing.
    assert!(psql(REPLICA_PORT, "SHOW primary_conninfo").contains(REPLICA_SECRET));

    let ws = Workspace::new(&[REPLICA]);
    let text = ws.driftwatch(&["audit"]);
    let json = ws.driftwatch(&["audit", "--output", "json", "--log-format", "json"]);
    for out in [&text, &json] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(REPLICA_SECRET), "secret printed");
        }
    }
    let files = ws.store_files();
    assert!(files.len() > 5);
    for (path, bytes) in &files {
        assert!(
            !String::from_utf8_lossy(bytes).contains(REPLICA_SECRET),
            "secret stored in {}",
            path.display()
        );
    }
    let snapshot =
        files.iter().find(|(p, _)| p.to_string_lossy().contains("snapshots/pg-replica/")).unwrap();
    let snapshot: Value = serde_json::from_slice(&snapshot.1).unwrap();
    let stored = snapshot["config"]["setting.primary_conninfo"]["value"].as_str().unwrap();
    assert!(
        stored.contains("password=[REDACTED]") && stored.contains("host=127.0.0.1"),
        "{stored}"
    );
}

#[test]
fn unreachable_target_is_recorded_and_the_run_goes_on() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let ws = Workspace::new(&[
        PRIMARY,
        Target { name: "gone", port: closed, role: "replica", user: "postgres" },
    ]);
    let run = ws.audit_json();
    assert_eq!(target(&run, "pg-primary")["status"], "ok");
    let gone = target(&run, "gone");
    assert_eq!(gone["status"], "unreachable");
    assert!(gone["error"].as_str().unwrap().to_lowercase().contains("refused"), "{gone:#}");
    assert_eq!(run["summary"]["targets_unreachable"], 1);
    assert!(ws.store().join("reports/targets/gone.html").is_file());
}

/// Target pages are rendered on several threads while the runtime writes them: a write
/// that fails must end the audit with the error (exit 4: committed, reports incomplete),
/// not leave it waiting on the renderers, and the run stays committed.
#[test]
fn a_report_write_that_fails_ends_the_audit_with_the_run_committed() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let names: Vec<String> = (0..24).map(|i| format!("gone-{i:02}")).collect();
    let targets: Vec<Target<'_>> = names
        .iter()
        .map(|name| Target { name, port: closed, role: "primary", user: "postgres" })
        .collect();
    let ws = Workspace::new(&targets);
    ws.audit_json();
    let pages = ws.store().join("reports/targets");
    std::fs::remove_dir_all(&pages).unwrap();
    std::fs::write(&pages, "a file where the folder was").unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["audit", "--config"])
        .arg(ws.config())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the audit still runs a minute after its report writes failed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("reports/targets/gone-"), "the error names the page:\n{stderr}");
    assert_eq!(ws.count_files("runs"), 2, "both runs committed");
}

#[test]
fn fail_on_turns_findings_into_exit_code_1() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let ws = Workspace::new(&[PRIMARY]);
    assert_eq!(ws.driftwatch(&["audit"]).status.code(), Some(0));
    let out = ws.driftwatch(&["audit", "--fail-on", "info"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a stock server fails some rule: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL") && stdout.contains("report: "), "{stdout}");
}

/// Each malformed config: exit 2, `file:line:col: message` on stderr, nothing written.
#[track_caller]
fn check_bad_config(text: &str, expect: &[&str]) {
    let ws = Workspace::with_config(text);
    let out = ws.driftwatch(&["audit"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    for e in expect {
        let (place, fragment) = e.split_once(' ').unwrap_or((e, ""));
        let found = stderr
            .lines()
            .any(|l| l.contains(&format!("driftwatch.toml:{place}")) && l.contains(fragment));
        assert!(found, "stderr should have `driftwatch.toml:{place} …{fragment}…`:\n{stderr}");
    }
    assert!(out.stdout.is_empty());
    assert!(
        !ws.store().exists() && !ws.dir.path().join("driftwatch-data").exists(),
        "nothing is written"
    );
}

#[test]
fn bad_configs_exit_2_with_places() {
    let target = "[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://127.0.0.1/x\"\nrole = \"primary\"\n";
    check_bad_config("[store\n", &["1:7: invalid TOML"]);
    check_bad_config(
        &format!("[audit]\nconcurrency = \"many\"\n{target}"),
        &["2:15: invalid type"],
    );
    check_bad_config(&format!("{target}bogus = 1\n"), &["6:1: unknown field `bogus`"]);
    check_bad_config(
        &format!("[audit]\ntarget_timeout = \"-3s\"\n{target}{target}"),
        &["2:18: ", "9:8: duplicate target name"],
    );
    check_bad_config(
        "[store]\nurl = \"s3x://b\"\n",
        &["1:1: no [[targets]]", "2:7: not supported"],
    );
}

#[test]
fn bad_policy_exits_2_with_place() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("broken.toml"),
        "[policy]\nname = \"x\"\nversion = \"1\"\n\n[[rule]]\nid = \"X-1\"\nkey = \"setting.a\"\nexpect = { matches = \"(\" }\nseverity = \"high\"\n",
    )
    .unwrap();
    let ws = Workspace::with_config(&format!(
        "[policies]\ndir = \"{}\"\n[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://127.0.0.1/x\"\nrole = \"primary\"\n",
        policies.display()
    ));
    let out = ws.driftwatch(&["audit"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.toml:8:"), "{stderr}");
    assert!(!ws.dir.path().join("driftwatch-data").exists(), "nothing is written");
}

fn finding<'a>(target: &'a Value, rule: &str) -> &'a Value {
    target["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding {rule}: {:#}", target["findings"]))
}

#[test]
fn group_rules_compare_the_standby_with_its_primary() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    require_port(REPLICA_PORT, "PostgreSQL streaming replica");
    let ws = Workspace::new(&[PRIMARY, REPLICA]);
    let run = ws.audit_json();
    let replica = target(&run, "pg-replica");
    let sizing = finding(replica, "PG-REPL-010");
    assert_eq!(sizing["status"], "pass", "{sizing:#}");
    assert!(sizing["message"].as_str().unwrap().contains("pg-primary"), "{sizing:#}");
    assert_eq!(finding(replica, "PG-HEALTH-001")["status"], "pass");
    assert_eq!(finding(replica, "PG-TOPO-001")["status"], "pass");
    assert_eq!(finding(target(&run, "pg-primary"), "PG-REPL-010")["status"], "not_applicable");
}

#[test]
fn a_replica_declared_primary_is_a_critical_role_mismatch() {
    require_port(REPLICA_PORT, "PostgreSQL streaming replica");
    let ws = Workspace::new(&[Target {
        name: "claims-primary",
        port: REPLICA_PORT,
        role: "primary",
        user: "postgres",
    }]);
    let run = ws.audit_json();
    let mismatch = finding(target(&run, "claims-primary"), "PG-TOPO-001");
    assert_eq!(mismatch["status"], "fail", "{mismatch:#}");
    assert_eq!(mismatch["severity"], "critical");
    assert!(
        mismatch["message"].as_str().unwrap().contains("declared primary but reports replica"),
        "{mismatch:#}"
    );
}
