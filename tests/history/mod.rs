//! `history`, `diff` and `rollback` over a real history: settings changed between
//! audits on a PostgreSQL of the test's own (with its own standby where a replica is
//! compared), then read back, compared, and rolled back by running the printed
//! statements.

mod drill;
mod fleet;
mod integrity;

use serde_json::Value;

use crate::audit::harness::*;

fn json(ws: &Workspace, args: &[&str]) -> Value {
    let out = ws.driftwatch(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.driftwatch(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn keys(rows: &Value) -> Vec<String> {
    rows.as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn history_diff_and_rollback_follow_real_changes() {
    let pg = TestPg::start(&[]);
    let standby = pg.standby();
    let ws = Workspace::new(&[PRIMARY.on(&pg), REPLICA.on(&standby)]);
    let first = ws.audit_json()["run_id"].as_str().unwrap().to_owned();
    let _work_mem = AlteredSetting::set(&pg, "work_mem", "8192");
    let second = ws.audit_json()["run_id"].as_str().unwrap().to_owned();
    let _sync = AlteredSetting::set(&pg, "synchronous_commit", "off");
    let third = ws.audit_json()["run_id"].as_str().unwrap().to_owned();

    // History: newest first, from the change index.
    let rows = json(&ws, &["history", "--target", "pg-primary", "--output", "json"]);
    assert_eq!(keys(&rows), ["setting.synchronous_commit", "setting.work_mem"], "{rows:#}");
    assert_eq!(rows[0]["run_id"], third.as_str());
    assert_eq!(rows[1]["run_id"], second.as_str());
    assert_eq!(rows[1]["before"], "4096 kB");
    assert_eq!(rows[1]["after"], "8192 kB");
    assert!(rows[0]["rollback"].as_str().unwrap().contains("synchronous_commit"), "{rows:#}");
    let only =
        json(&ws, &["history", "--target", "pg-primary", "--key", "work_mem", "--output", "json"]);
    assert_eq!(keys(&only), ["setting.work_mem"]);
    let none = json(&ws, &["history", "--target", "pg-replica", "--output", "json"]);
    assert_eq!(keys(&none), Vec::<String>::new());
    assert_eq!(ws.count_files("index/changes/pg-primary"), 2);

    // Diff of one target at two runs.
    let a = format!("pg-primary@{first}");
    let d = json(&ws, &["diff", &a, "pg-primary", "--output", "json"]);
    assert_eq!(
        keys(&d["differences"]),
        ["setting.synchronous_commit", "setting.work_mem"],
        "{d:#}"
    );
    // Primary against replica: role and identity differences are shown apart.
    let d = json(&ws, &["diff", "pg-primary", "pg-replica", "--output", "json"]);
    let expected: Vec<String> = d["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.contains(&"setting.primary_conninfo".to_owned()), "{d:#}");
    assert!(expected.contains(&"setting.port".to_owned()), "{d:#}");
    assert!(!keys(&d["differences"]).contains(&"setting.port".to_owned()));

    // Rollback to the first run: print, apply ourselves, audit, and nothing differs.
    let script = text(&ws, &["rollback", "--target", "pg-primary", "--to", &first]);
    assert!(script.contains("ALTER SYSTEM RESET synchronous_commit;"), "{script}");
    assert!(script.contains("ALTER SYSTEM RESET work_mem;"), "{script}");
    assert!(script.contains("SELECT pg_reload_conf();"), "{script}");
    for statement in script.lines().filter(|l| !l.starts_with("--") && !l.trim().is_empty()) {
        pg.psql(statement);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    ws.audit_json();
    let d = json(&ws, &["diff", &a, "pg-primary", "--output", "json"]);
    assert_eq!(
        keys(&d["differences"]),
        Vec::<String>::new(),
        "rollback restored everything: {d:#}"
    );
    // A stock server fails some rule in every run: there is no last-pass to go back to,
    // and the command says so instead of printing an empty plan.
    let last_pass = ws.driftwatch(&["rollback", "--target", "pg-primary", "--to", "last-pass"]);
    assert_eq!(last_pass.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&last_pass.stderr).contains("never passed every rule"));
}

#[test]
fn gc_deletes_old_runs_and_unreferenced_snapshots_only() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let ws = Workspace::new(&[PRIMARY]);
    ws.audit_json();
    ws.audit_json();
    assert_eq!(ws.count_files("runs"), 2);
    let out = ws.driftwatch(&["gc", "--older-than", "1s", "--dry-run"]);
    assert!(out.status.success());
    assert_eq!(ws.count_files("runs"), 2, "a dry run deletes nothing");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = ws.driftwatch(&["gc", "--older-than", "1s"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("deleted 1 runs"), "{stdout}");
    assert_eq!(ws.count_files("runs"), 1, "the newest run is always kept");
    assert_eq!(ws.count_files("snapshots"), 1, "the snapshot the kept run names stays");
    // The kept run's page linked to the removed one's: gc published the reports again.
    assert!(stdout.contains("published the reports of run"), "{stdout}");
    assert_eq!(ws.count_files("reports/runs"), 1);
    assert_eq!(ws.broken_report_links(), Vec::<String>::new());
    // The kept history still reads.
    text(&ws, &["diff", "pg-primary", "pg-primary"]);
    let no_age = ws.driftwatch(&["gc"]);
    assert_eq!(no_age.status.code(), Some(2), "no retention configured and no --older-than");
}

/// `last-good` on a server that has always failed some rule: `last-pass` finds no run,
/// `last-good` puts back only what a failing rule needs, from the newest run in which
/// that rule passed, and names the rules that never passed.
#[test]
fn rollback_to_last_good_restores_what_failing_rules_need() {
    let pg = TestPg::start(&[]);
    let ws = Workspace::new(&[PRIMARY.on(&pg)]);
    let first = ws.audit_json();
    let first_id = first["run_id"].as_str().unwrap().to_owned();
    let always_failing: Vec<String> = first["targets"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect();
    assert!(!always_failing.is_empty(), "the stock server fails some rule");
    {
        let _work_mem = AlteredSetting::set(&pg, "work_mem", "8192");
        let _sync = AlteredSetting::set(&pg, "synchronous_commit", "off");
        ws.audit_json();
    }

    let out = ws.driftwatch(&["rollback", "--target", "pg-primary", "--to", "last-pass"]);
    assert!(!out.status.success(), "no run passed every rule: last-pass has nothing");
    let script = text(&ws, &["rollback", "--target", "pg-primary", "--to", "last-good"]);
    assert!(script.contains("ALTER SYSTEM RESET synchronous_commit;"), "{script}");
    assert!(
        script.contains(&format!(
            "PG-DUR-002 (setting.synchronous_commit): values of run {first_id}"
        )),
        "{script}"
    );
    assert!(!script.contains("work_mem"), "no failing rule needs work_mem back: {script}");
    for rule in &always_failing {
        assert!(script.contains(&format!("{rule} (")), "{rule} is listed: {script}");
    }
    let plan =
        json(&ws, &["rollback", "--target", "pg-primary", "--to", "last-good", "--output", "json"]);
    let steps: Vec<&str> =
        plan["steps"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(steps, ["setting.synchronous_commit"], "{plan:#}");
    let picks = plan["last_good"].as_array().unwrap();
    let sync = picks.iter().find(|p| p["key"] == "setting.synchronous_commit").unwrap();
    assert_eq!(sync["run_id"], first_id.as_str());
    assert!(
        picks
            .iter()
            .filter(|p| always_failing.contains(&p["rule"].as_str().unwrap().to_owned()))
            .all(|p| p["run_id"].is_null()),
        "{plan:#}"
    );
}
