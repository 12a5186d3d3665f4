//! Per-role settings on a PostgreSQL of the test's own (roles are cluster-wide: on the
//! shared primary a killed test would leave one behind): `ALTER ROLE … SET
//! statement_timeout` between two audits is a change (history, diff, rollback, the
//! target page's inventory) and PG-SESS-001 judges it.

use super::harness::*;
use super::target;
use serde_json::Value;

const APP: &str = "driftwatch_ci_app";

fn finding<'a>(run: &'a Value, rule: &str) -> &'a Value {
    target(run, "pg-primary")["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding {rule}"))
}

#[test]
fn alter_role_set_is_a_change_and_is_judged() {
    let pg = TestPg::start(&[]);
    pg.psql(&format!("CREATE ROLE {APP} LOGIN"));
    let ws = Workspace::new(&[PRIMARY.on(&pg)]);
    let key = format!("role.{APP}.statement_timeout");

    let before = ws.audit_json();
    let first_run = before["run_id"].as_str().unwrap().to_owned();
    let sess = finding(&before, "PG-SESS-001");
    assert_eq!(sess["status"], "fail", "{sess:#}");
    assert!(sess["actual"].as_str().unwrap().contains(&format!("{APP} = absent")), "{sess:#}");

    pg.psql(&format!("ALTER ROLE {APP} SET statement_timeout = '30s'"));
    let after = ws.audit_json();

    let change = target(&after, "pg-primary")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key.as_str())
        .unwrap_or_else(|| panic!("no change of {key}: {:#}", target(&after, "pg-primary")));
    assert!(change["before"].is_null(), "{change:#}");
    assert_eq!(change["after"], "30s");
    assert_eq!(change["location"], format!("ALTER ROLE {APP}"));
    assert_eq!(change["rollback"], format!("ALTER ROLE {APP} RESET statement_timeout;"));
    // Judged: the only login role of this server now satisfies PG-SESS-001.
    let sess = finding(&after, "PG-SESS-001");
    assert_eq!(sess["status"], "pass", "{sess:#}");
    assert_eq!(sess["actual"], format!("{APP} = 30s"), "{sess:#}");
    assert_eq!(ws.count_files("snapshots/pg-primary"), 2, "the role setting is configuration");

    let out = ws.driftwatch(&["rollback", "--target", "pg-primary", "--to", &first_run]);
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(script.contains(&format!("ALTER ROLE {APP} RESET statement_timeout;")), "{script}");
    let out = ws.driftwatch(&["history", "--target", "pg-primary"]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(history.contains(&key) && history.contains("30s"), "{history}");
    let page = std::fs::read_to_string(ws.store().join("reports/targets/pg-primary.html")).unwrap();
    assert!(page.contains(&format!("<code>{key}</code>")), "the inventory shows the role setting");
    assert!(page.contains(&format!("ALTER ROLE {APP}")), "with where it was set");
}
