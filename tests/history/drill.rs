//! The on-call drill on a PostgreSQL of the test's own: `ALTER SYSTEM SET
//! synchronous_commit = off` (reloaded) and a pending `max_connections = 50` (applied
//! only by a restart), then `history`, `rollback` and a mistyped target, as an engineer
//! would type them. The server goes away with the test: nothing to undo.

use super::{json, text};
use crate::audit::harness::*;

#[test]
fn the_drill_finds_the_pending_change_and_rolls_both_back() {
    let pg = TestPg::start(&[]);
    let ws = Workspace::new(&[PRIMARY.on(&pg)]);
    let before = json(&ws, &["audit", "--output", "json"]);
    let before_id = before["run_id"].as_str().unwrap().to_owned();

    pg.psql("ALTER SYSTEM SET synchronous_commit = off");
    pg.psql("ALTER SYSTEM SET max_connections = 50");
    pg.psql("SELECT pg_reload_conf()");
    std::thread::sleep(std::time::Duration::from_millis(500));
    ws.audit_json();

    let rows = json(
        &ws,
        &["history", "--target", "pg-primary", "--key", "max_connections", "--output", "json"],
    );
    let keys: Vec<&str> =
        rows.as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["pending.max_connections"], "{rows:#}");
    assert_eq!(rows[0]["after"], "50");

    let plan = text(&ws, &["rollback", "--target", "pg-primary", "--to", &before_id]);
    assert!(plan.contains("ALTER SYSTEM RESET synchronous_commit;"), "{plan}");
    assert!(
        plan.contains("ALTER SYSTEM RESET max_connections;  -- the next restart would apply 50"),
        "{plan}"
    );
    let json_plan =
        json(&ws, &["rollback", "--target", "pg-primary", "--to", &before_id, "--output", "json"]);
    let steps: Vec<&str> =
        json_plan["steps"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert!(
        steps.contains(&"pending.max_connections") && steps.contains(&"setting.synchronous_commit"),
        "{json_plan:#}"
    );

    // A typo is a usage error that names the closest target.
    for args in [
        vec!["history", "--target", "pg-primari"],
        vec!["rollback", "--target", "pg-primari", "--to", "last-pass"],
        vec!["diff", "pg-primari", "pg-primary"],
    ] {
        let out = ws.driftwatch(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no target `pg-primari`")
                && stderr.contains("did you mean `pg-primary`?"),
            "{args:?}: {stderr}"
        );
    }
    // Older than the history: says where it starts.
    let out =
        ws.driftwatch(&["rollback", "--target", "pg-primary", "--to", "2020-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("the stored history starts at run {before_id}")), "{stderr}");
}
