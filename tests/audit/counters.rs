//! Counter rules in a real audit: judged against the target's previous collection in
//! the store, so they are not applicable on the first audit and see only what happened
//! in between on the next ones.

use super::harness::{Workspace, require_port};
use crate::support::MEMCACHED;

/// Every collection opens one connection to memcached, so `total_connections` grows
/// between two audits whatever else uses the server: a counter rule that allows no
/// increase fails on the second audit, and one that allows it passes.
#[test]
fn counter_rules_compare_with_the_previous_audit() {
    require_port(MEMCACHED, "memcached");
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"policies\"\n\n\
         [[targets]]\nname = \"cache\"\nkind = \"memcached\"\n\
         url = \"memcached://127.0.0.1:{MEMCACHED}\"\nrole = \"standalone\"\n"
    ));
    let policies = ws.dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("counters.toml"),
        r#"[policy]
name = "counters"
version = "1"
applies_to = { kind = "memcached" }

[[rule]]
id = "T-NONE"
key = "state.total_connections"
expect = { increase = { max = 0 } }
severity = "low"

[[rule]]
id = "T-SOME"
key = "state.total_connections"
expect = { increase = { min = 1 } }
severity = "low"
"#,
    )
    .unwrap();
    let finding = |run: &serde_json::Value, rule: &str| -> (String, String) {
        let f = run["targets"][0]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("no finding for {rule}: {run:#}"))
            .clone();
        (f["status"].as_str().unwrap().to_owned(), f["actual"].as_str().unwrap_or("").to_owned())
    };

    let first = ws.audit_json();
    assert_eq!(finding(&first, "T-NONE").0, "not_applicable", "{first:#}");
    assert_eq!(finding(&first, "T-SOME").0, "not_applicable");

    let second = ws.audit_json();
    let (none, actual) = finding(&second, "T-NONE");
    assert_eq!(none, "fail", "{second:#}");
    assert!(actual.starts_with('+'), "the observed value is the change: {actual}");
    assert_eq!(finding(&second, "T-SOME").0, "pass");
}
