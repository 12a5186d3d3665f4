//! Fleet-wide questions over a real history: `changes` and `findings` across targets
//! and a time window, answered from the store's date-partitioned export, and the same
//! answers from the real DuckDB reading that export with no driftwatch involved.

use std::process::Command;

use serde_json::Value;

use crate::audit::harness::*;
use crate::support::{MEMCACHED, duckdb_python};

fn json(ws: &Workspace, args: &[&str]) -> Value {
    let out = ws.driftwatch(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// `(target, key, before, after, run_id)` of each row, sorted.
fn changes(rows: &Value) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut out: Vec<_> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(&r["target"]), s(&r["key"]), s(&r["before"]), s(&r["after"]), s(&r["run_id"])))
        .collect();
    out.sort();
    out
}

/// The same question asked of DuckDB over the export folder.
fn duckdb(store: &std::path::Path, sql: &str) -> Value {
    let python = duckdb_python();
    assert!(
        python.exists(),
        "{} is missing: run `bash tests/setup/tools.sh` (it installs DuckDB)",
        python.display()
    );
    let script = "import duckdb, json, sys\n\
         con = duckdb.connect()\n\
         con.execute(\"SET TimeZone = 'UTC'\")\n\
         rows = con.execute(sys.argv[1]).fetchall()\n\
         cols = [d[0] for d in con.description]\n\
         print(json.dumps([dict(zip(cols, [None if v is None else str(v) for v in r])) for r in rows]))\n";
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(sql.replace("$STORE", &store.display().to_string()))
        .output()
        .expect("run python");
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn fleet_questions_from_the_export_match_duckdb() {
    require_port(MEMCACHED, "memcached");
    let pg = TestPg::start(&[]);
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"orders-primary\"\nkind = \"postgres\"\n\
         url = \"postgres://postgres@127.0.0.1:{}/postgres\"\nrole = \"standalone\"\n\
         labels = {{ env = \"production\" }}\n\n\
         [[targets]]\nname = \"cache\"\nkind = \"memcached\"\n\
         url = \"memcached://127.0.0.1:{MEMCACHED}\"\nrole = \"standalone\"\n\
         labels = {{ env = \"staging\" }}\n",
        policies_dir().display(),
        pg.port
    ));
    ws.audit_json();
    let _work_mem = AlteredSetting::set(&pg, "work_mem", "8192");
    let second = ws.audit_json()["run_id"].as_str().unwrap().to_owned();

    let rows = json(&ws, &["changes", "--since", "1h", "--key", "work_mem", "--output", "json"]);
    assert_eq!(
        changes(&rows),
        [(
            "orders-primary".into(),
            "setting.work_mem".into(),
            "4096 kB".into(),
            "8192 kB".into(),
            second.clone()
        )],
        "{rows:#}"
    );
    assert_eq!(rows[0]["labels"]["env"], "production");
    // Narrowed by label and by target glob, and by a window that ends before.
    let by_label =
        json(&ws, &["changes", "--since", "1h", "--label", "env=staging", "--output", "json"]);
    assert_eq!(changes(&by_label), [], "{by_label:#}");
    let by_glob =
        json(&ws, &["changes", "--since", "1h", "--target", "orders-*", "--output", "json"]);
    assert!(!changes(&by_glob).is_empty());
    let before = json(&ws, &["changes", "--since", "2d", "--until", "1d", "--output", "json"]);
    assert_eq!(changes(&before), []);
    let text = ws.driftwatch(&["changes", "--since", "1h", "--key", "work_mem"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("orders-primary  setting.work_mem  4096 kB → 8192 kB"), "{text}");

    // DuckDB over the export, row for row.
    let all = json(&ws, &["changes", "--since", "1h", "--output", "json"]);
    let ducks = duckdb(
        &ws.store(),
        "SELECT target, key, before, after, run_id, dt FROM read_json_auto(\
         '$STORE/exports/v1/changes/*/*.ndjson.gz', hive_partitioning = true) \
         WHERE collected_at >= now() - INTERVAL 1 HOUR",
    );
    assert_eq!(changes(&ducks), changes(&all), "DuckDB {ducks:#} vs driftwatch {all:#}");
    let day = format!("{}-{}-{}", &second[..4], &second[4..6], &second[6..8]);
    assert_eq!(ducks[0]["dt"].as_str(), Some(day.as_str()), "partitioned by the run's day");

    // Findings: what fails, by rule, the same in DuckDB.
    let failing = json(&ws, &["findings", "--since", "1h", "--output", "json"]);
    let ours: std::collections::BTreeSet<(String, String, String)> = failing
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("run_id"), s("target"), s("rule"))
        })
        .collect();
    assert!(!ours.is_empty(), "the stock servers fail some rule");
    let ducks = duckdb(
        &ws.store(),
        "SELECT run_id, target, rule FROM read_json_auto(\
         '$STORE/exports/v1/findings/*/*.ndjson.gz', hive_partitioning = true) \
         WHERE status = 'fail'",
    );
    let theirs: std::collections::BTreeSet<(String, String, String)> = ducks
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("run_id"), s("target"), s("rule"))
        })
        .collect();
    assert_eq!(ours, theirs);
    let bad = ws.driftwatch(&["findings", "--since", "1h", "--status", "pass"]);
    assert_eq!(bad.status.code(), Some(2), "pass findings are not exported: a usage error");
}
