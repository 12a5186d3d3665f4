//! `driftwatch audit` end to end on the MariaDB primary (as root) and its replica (as
//! the least-privilege auditor, password from a file).

use super::harness::*;
use super::{state_value, target};
use crate::support::{self, lock::ServerLock};

const MY_PRIMARY_PORT: u16 = support::MY_PRIMARY;
const MY_REPLICA_PORT: u16 = support::MY_REPLICA;

fn finding_status<'a>(target: &'a serde_json::Value, rule: &str) -> &'a str {
    target["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .and_then(|f| f["status"].as_str())
        .unwrap_or_else(|| panic!("no finding {rule} in {:#}", target["findings"]))
}

#[test]
fn mariadb_primary_and_replica_are_audited() {
    require_port(MY_PRIMARY_PORT, "MariaDB (primary)");
    require_port(MY_REPLICA_PORT, "MariaDB replica");
    let _lock = ServerLock::shared("mariadb-replica");
    let ws = Workspace::with_config(&format!(
        r#"[store]
url = "store"

[policies]
dir = "{}"

[audit]
connect_timeout = "3s"
target_timeout = "20s"

[[targets]]
name = "my-primary"
kind = "mysql"
url = "mysql://root@127.0.0.1:{MY_PRIMARY_PORT}/"
role = "primary"
group = "mariadb"

[[targets]]
name = "my-replica"
kind = "mysql"
url = "mysql://driftwatch_auditor@127.0.0.1:{MY_REPLICA_PORT}/"
password_file = "auditor.pw"
role = "replica"
group = "mariadb"
"#,
        policies_dir().display()
    ));
    std::fs::write(ws.dir.path().join("auditor.pw"), "driftwatch-auditor-pw\n").unwrap();
    let run = ws.audit_json();

    let primary = target(&run, "my-primary");
    assert_eq!(primary["status"], "ok", "{primary:#}");
    assert_eq!(primary["kind"], "mysql");
    assert_eq!(primary["detected_role"], "primary");
    assert!(primary["server_version"].as_str().unwrap().contains("MariaDB"));
    let replica_port = format!("state.replica.{}.port", support::MY_REPLICA_SERVER_ID);
    assert_eq!(state_value(primary, &replica_port), MY_REPLICA_PORT.to_string());
    assert_eq!(finding_status(primary, "MY-REPL-001"), "pass");
    assert_eq!(finding_status(primary, "MY-REPL-020"), "not_applicable");

    let replica = target(&run, "my-replica");
    assert_eq!(replica["status"], "ok", "{replica:#}");
    assert_eq!(replica["detected_role"], "replica");
    assert_eq!(state_value(replica, "state.replication.default.io_running"), "Yes");
    for rule in ["MY-REPL-020", "MY-REPL-030", "MY-REPL-031"] {
        assert_eq!(finding_status(replica, rule), "pass", "{rule}");
    }

    for (path, bytes) in ws.store_files() {
        let text = String::from_utf8_lossy(&bytes);
        for secret in [REPLICA_SECRET, "driftwatch-auditor-pw"] {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
    for page in ["reports/targets/my-primary.html", "reports/targets/my-replica.html"] {
        assert!(ws.store().join(page).is_file(), "{page} was not written");
    }
}
