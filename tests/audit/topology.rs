//! Replication topologies end to end: the real binary audits a primary and its replica
//! as one group, and the group rules (declared vs reported role, parity with the
//! primary, unique ids) see what a misconfigured replica does.

use std::process::Command;
use std::time::{Duration, Instant};

use super::harness::*;
use super::target;
use crate::support::lock::ServerLock;

use crate::support::{MY_PRIMARY, MY_REPLICA, REDIS_PRIMARY, REDIS_REPLICA};

fn redis(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn finding<'a>(target: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    target["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding {rule} in {:#}", target["findings"]))
}

fn redis_group() -> Workspace {
    Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"cache-primary\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_PRIMARY}\"\nrole = \"primary\"\ngroup = \"cache\"\n\n\
         [[targets]]\nname = \"cache-replica\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_REPLICA}\"\nrole = \"replica\"\ngroup = \"cache\"\n",
        policies_dir().display()
    ))
}

/// Sets a replica setting with `CONFIG SET` and puts the old value back on drop.
struct ReplicaSetting(&'static str, String);

impl ReplicaSetting {
    fn set(name: &'static str, value: &str) -> ReplicaSetting {
        let old =
            redis(REDIS_REPLICA, &["CONFIG", "GET", name]).lines().nth(1).unwrap_or("").to_owned();
        redis(REDIS_REPLICA, &["CONFIG", "SET", name, value]);
        ReplicaSetting(name, old)
    }
}

impl Drop for ReplicaSetting {
    fn drop(&mut self) {
        redis(REDIS_REPLICA, &["CONFIG", "SET", self.0, &self.1]);
    }
}

/// `REPLICAOF NO ONE` on the replica; on drop it follows the primary again.
struct Detached;

impl Drop for Detached {
    fn drop(&mut self) {
        redis(REDIS_REPLICA, &["REPLICAOF", "127.0.0.1", &REDIS_PRIMARY.to_string()]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !redis(REDIS_REPLICA, &["INFO", "replication"]).contains("master_link_status:up") {
            assert!(Instant::now() < deadline, "the replica did not reconnect to its primary");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn redis_replica_evicting_differently_fails_parity_with_its_primary() {
    require_port(REDIS_PRIMARY, "Redis (primary)");
    require_port(REDIS_REPLICA, "Redis replica");
    let _lock = ServerLock::exclusive("redis-replica");
    let ws = redis_group();
    let before = ws.audit_json();
    assert_eq!(finding(target(&before, "cache-replica"), "RD-REPL-010")["status"], "pass");
    assert_eq!(finding(target(&before, "cache-replica"), "RD-TOPO-001")["status"], "pass");

    let primary_policy = redis(REDIS_PRIMARY, &["CONFIG", "GET", "maxmemory-policy"]);
    let other = if primary_policy.contains("allkeys-lru") { "volatile-ttl" } else { "allkeys-lru" };
    let after = {
        let _policy = ReplicaSetting::set("maxmemory-policy", other);
        ws.audit_json()
    };
    let replica = target(&after, "cache-replica");
    let parity = finding(replica, "RD-REPL-010");
    assert_eq!(parity["status"], "fail", "{parity:#}");
    assert!(parity["message"].as_str().unwrap().contains("cache-primary"), "{parity:#}");
    let changed = replica["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["key"] == "setting.maxmemory-policy");
    assert!(changed, "the change shows too: {:#}", replica["changes"]);
}

#[test]
fn redis_replica_detached_while_declared_replica_is_a_role_mismatch() {
    require_port(REDIS_PRIMARY, "Redis (primary)");
    require_port(REDIS_REPLICA, "Redis replica");
    let _lock = ServerLock::exclusive("redis-replica");
    let ws = redis_group();
    let run = {
        let _detached = Detached;
        redis(REDIS_REPLICA, &["REPLICAOF", "NO", "ONE"]);
        ws.audit_json()
    };
    let replica = target(&run, "cache-replica");
    assert_eq!(replica["detected_role"], "primary");
    let mismatch = finding(replica, "RD-TOPO-001");
    assert_eq!(mismatch["status"], "fail", "{mismatch:#}");
    assert_eq!(mismatch["severity"], "critical");
}

#[test]
fn one_server_audited_twice_in_a_group_breaks_server_id_uniqueness() {
    require_port(MY_PRIMARY, "MariaDB (primary)");
    require_port(MY_REPLICA, "MariaDB replica");
    let _lock = ServerLock::shared("mariadb-replica");
    let target_toml = |name: &str, port: u16, role: &str| {
        format!(
            "[[targets]]\nname = \"{name}\"\nkind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:{port}/\"\nrole = \"{role}\"\ngroup = \"orders\"\n\n"
        )
    };
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n{}{}{}",
        policies_dir().display(),
        target_toml("orders-primary", MY_PRIMARY, "primary"),
        target_toml("orders-replica", MY_REPLICA, "replica"),
        target_toml("orders-clone", MY_REPLICA, "replica"),
    ));
    let run = ws.audit_json();
    assert_eq!(finding(target(&run, "orders-primary"), "MY-REPL-010")["status"], "pass");
    for clone in ["orders-replica", "orders-clone"] {
        let f = finding(target(&run, clone), "MY-REPL-010");
        assert_eq!(f["status"], "fail", "{f:#}");
    }
    let twin = finding(target(&run, "orders-clone"), "MY-REPL-010");
    assert!(twin["message"].as_str().unwrap().contains("orders-replica"), "{twin:#}");
}
