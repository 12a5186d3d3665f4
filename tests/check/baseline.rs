//! `driftwatch baseline capture` round trip against a PostgreSQL of the test's own:
//! capture, audit with the captured policy (all pass), change a setting (its rule fails).

use serde_json::Value;

use crate::audit::harness::{AlteredSetting, PRIMARY, TestPg, Workspace};

fn failing(run: &Value) -> Vec<String> {
    run["targets"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "pass")
        .map(|f| format!("{} {} {} {}", f["rule"], f["key"], f["status"], f["message"]))
        .collect()
}

#[test]
fn captured_baseline_passes_then_catches_a_change() {
    let pg = TestPg::start(&[]);
    let ws = Workspace::new(&[PRIMARY.on(&pg)]);
    ws.audit_json();

    let captured = ws.dir.path().join("captured/baseline.toml");
    std::fs::create_dir_all(captured.parent().unwrap()).unwrap();
    let out = ws.driftwatch(&[
        "baseline",
        "capture",
        "--target",
        "pg-primary",
        "--out",
        captured.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&captured).unwrap();
    assert!(text.contains("id = \"BL-PG-PRIMARY-001\""), "{text}");
    assert!(text.contains("applies_to = { kind = \"postgres\", labels = {} }"), "{text}");
    assert!(!text.contains("setting.data_directory"), "volatile settings are left out");

    // Audit again with only the captured policy.
    let config = std::fs::read_to_string(ws.config()).unwrap();
    let policies_line = config.lines().find(|l| l.starts_with("dir = ")).unwrap().to_owned();
    let config = config
        .replace(&policies_line, &format!("dir = \"{}\"", captured.parent().unwrap().display()));
    std::fs::write(ws.config(), config).unwrap();
    let run = ws.audit_json();
    assert!(failing(&run).is_empty(), "{:#?}", failing(&run));

    let _altered = AlteredSetting::set(&pg, "work_mem", "5123");
    let run = ws.audit_json();
    let bad = failing(&run);
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert!(bad[0].contains("setting.work_mem") && bad[0].contains("\"fail\""), "{bad:#?}");
}
