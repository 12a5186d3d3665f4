//! The Redis collector against the system Redis (6379) and the replica `redis.sh` starts
//! on 6380, as the default user and as least-privilege ACL users, plus dead and silent
//! servers. Tests that change the replica's configuration hold the `redis-replica` lock
//! exclusively and put it back in a `Drop` guard, so a failed assertion cannot leave it
//! changed; tests that depend on it hold the lock shared.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use driftwatch::collect::redis::collect;
use driftwatch::collect::{CollectError, Collected};
use driftwatch::finding::{Finding, FindingStatus};
use driftwatch::policy::{TargetFacts, evaluate, parse};
use driftwatch::policy_files;
use driftwatch::snapshot::{Kind, Role};

use crate::support::lock::ServerLock;
use crate::support::{
    REDIS_AUDITOR, REDIS_NOCONFIG, REDIS_PRIMARY, REDIS_REPLICA, START_SERVICES, endpoint, entry,
    redis_endpoint, redis_replica_dir, redis_url, redis_url_as, require_service, value,
};

const LOCK: &str = "redis-replica";
const SECRET: &str = "driftwatch-test-secret";

async fn collect_ok(port: u16) -> Collected {
    let endpoint = redis_endpoint(port);
    collect(&endpoint).await.unwrap_or_else(|e| panic!("collecting 127.0.0.1:{port}: {e}"))
}

/// An admin connection (default user, no password) for changing the servers.
fn admin(port: u16) -> redis::Connection {
    require_service("127.0.0.1", port, START_SERVICES);
    redis::Client::open(redis_url(port))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("admin connection to 127.0.0.1:{port}: {e}"))
}

fn run(port: u16, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut admin(port)).unwrap_or_else(|e| panic!("{args:?} on :{port}: {e}"))
}

fn replication_field(port: u16, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg("replication").query(&mut admin(port)).unwrap();
    info.lines().find_map(|l| l.trim().strip_prefix(&format!("{field}:")).map(str::to_owned))
}

/// Waits (up to 30 s) until the replica's link to the primary is up.
fn wait_link_up() {
    let deadline = Instant::now() + Duration::from_secs(30);
    while replication_field(REDIS_REPLICA, "master_link_status").as_deref() != Some("up") {
        assert!(Instant::now() < deadline, "replica link not up after 30s; run `{START_SERVICES}`");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[track_caller]
fn check_many_settings(c: &Collected) {
    let settings = c.snapshot.config.keys().filter(|k| k.starts_with("setting.")).count();
    assert!(settings > 150, "only {settings} settings");
}

fn shipped_findings(c: &Collected, role: Role) -> Vec<Finding> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    let set = parse(policy_files::read(dir).unwrap_or_else(|d| panic!("{d}")))
        .unwrap_or_else(|d| panic!("{d}"));
    let labels = BTreeMap::new();
    let target = TargetFacts { name: "redis-test", kind: Kind::Redis, role, labels: &labels };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    evaluate(&set, &target, &c.snapshot, &c.state, today)
}

#[track_caller]
fn finding<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    findings.iter().find(|f| f.rule == rule).unwrap_or_else(|| panic!("no finding {rule}"))
}

#[tokio::test]
async fn primary_reports_every_setting_and_its_replica() {
    let _lock = ServerLock::shared(LOCK);
    require_service("127.0.0.1", REDIS_REPLICA, START_SERVICES);
    let c = collect_ok(REDIS_PRIMARY).await;
    assert_eq!(c.snapshot.kind, Kind::Redis);
    assert_eq!(c.snapshot.server.role, Role::Primary);
    assert!(c.snapshot.server.version.starts_with('7'), "{:?}", c.snapshot.server);
    check_many_settings(&c);
    let config = &c.snapshot.config;
    assert_eq!(value(config, "setting.port"), REDIS_PRIMARY.to_string());
    assert_eq!(value(config, "setting.save"), "", "the test primary runs without persistence");
    assert_eq!(entry(config, "setting.maxmemory").unit.as_deref(), Some("B"));
    assert_eq!(entry(config, "setting.repl-timeout").unit.as_deref(), Some("s"));
    assert_eq!(value(config, "server.redis_mode"), "standalone");

    assert_eq!(value(&c.state, "state.role"), "master");
    let replicas: u32 = value(&c.state, "state.connected_replicas").parse().unwrap();
    assert!(replicas >= 1, "{replicas}");
    let replica = format!("state.replica.127.0.0.1:{REDIS_REPLICA}");
    assert_eq!(value(&c.state, &format!("{replica}.state")), "online");
    let offset: i64 = value(&c.state, &format!("{replica}.offset")).parse().unwrap();
    assert!(offset >= 0);
    assert_eq!(entry(&c.state, &format!("{replica}.lag")).unit.as_deref(), Some("s"));
    let lag = entry(&c.state, &format!("{replica}.offset_lag_bytes"));
    assert_eq!(lag.unit.as_deref(), Some("B"));
    assert!(lag.value.parse::<i64>().unwrap() >= 0, "{lag:?}");
    assert!(!c.state.contains_key("state.master_link_status"), "a primary has no upstream");

    assert_eq!(value(&c.state, "state.persistence.rdb_last_bgsave_status"), "ok");
    assert_eq!(value(&c.state, "state.persistence.aof_enabled"), "0");
    assert!(c.state.contains_key("state.persistence.rdb_changes_since_last_save"));
    let used = entry(&c.state, "state.memory.used_memory");
    assert_eq!(used.unit.as_deref(), Some("B"));
    assert!(used.value.parse::<u64>().unwrap() > 0);
    assert_eq!(entry(&c.state, "state.connect_ms").unit.as_deref(), Some("ms"));
}

#[tokio::test]
async fn replica_reports_its_link_and_config_file() {
    let _lock = ServerLock::shared(LOCK);
    let c = collect_ok(REDIS_REPLICA).await;
    assert_eq!(c.snapshot.server.role, Role::Replica);
    check_many_settings(&c);
    let config = &c.snapshot.config;
    assert_eq!(value(config, "setting.replica-read-only"), "yes");
    let conf = redis_replica_dir().join("redis.conf");
    assert_eq!(Some(value(config, "server.config_file")), conf.to_str());
    assert_eq!(value(&c.state, "state.role"), "slave");
    assert_eq!(value(&c.state, "state.master_link_status"), "up");
    assert_eq!(value(&c.state, "state.master_host"), "127.0.0.1");
    assert_eq!(value(&c.state, "state.master_port"), REDIS_PRIMARY.to_string());
    assert_eq!(value(&c.state, "state.master_sync_in_progress"), "0");
    let io = entry(&c.state, "state.master_last_io_seconds_ago");
    assert_eq!(io.unit.as_deref(), Some("s"));
    let lag = entry(&c.state, "state.replication.offset_lag_bytes");
    assert_eq!(lag.unit.as_deref(), Some("B"));
    assert!(lag.value.parse::<i64>().unwrap() >= 0, "{lag:?}");

    // The shipped baseline reads only keys the collector provides: nothing is `error`.
    for f in shipped_findings(&c, Role::Replica) {
        assert_ne!(f.status, FindingStatus::Error, "{f:?}");
    }
    let findings = shipped_findings(&c, Role::Replica);
    assert_eq!(finding(&findings, "RD-REPL-020").status, FindingStatus::Pass);
    assert_eq!(finding(&findings, "RD-REPL-022").status, FindingStatus::Pass);
}

#[tokio::test]
async fn shipped_baseline_evaluates_on_the_primary() {
    let _lock = ServerLock::shared(LOCK);
    let c = collect_ok(REDIS_PRIMARY).await;
    let findings = shipped_findings(&c, Role::Primary);
    for f in &findings {
        assert_ne!(f.status, FindingStatus::Error, "{f:?}");
    }
    // A primary with replicas and no persistence: the hazard RD-DUR-001 is about.
    assert_eq!(finding(&findings, "RD-DUR-001").status, FindingStatus::Fail);
    assert_eq!(finding(&findings, "RD-SEC-001").status, FindingStatus::Pass);
    assert_eq!(finding(&findings, "RD-SEC-003").status, FindingStatus::Pass, "bind 127.0.0.1 -::1");
    assert_eq!(finding(&findings, "RD-SEC-002").status, FindingStatus::Fail, "no requirepass");
    assert_eq!(finding(&findings, "RD-REPL-020").status, FindingStatus::NotApplicable);
}

#[tokio::test]
async fn least_privilege_acl_user_sees_everything() {
    let _lock = ServerLock::shared(LOCK);
    require_service("127.0.0.1", REDIS_REPLICA, START_SERVICES);
    let url = redis_url_as(REDIS_AUDITOR, REDIS_REPLICA);
    let c =
        collect(&endpoint(Kind::Redis, &url, Duration::from_secs(5))).await.unwrap_or_else(|e| {
            panic!("collecting as {}: {e}; run `{START_SERVICES}`", REDIS_AUDITOR.0)
        });
    assert_eq!(c.snapshot.server.role, Role::Replica);
    check_many_settings(&c);
    assert_eq!(value(&c.state, "state.master_link_status"), "up");
}

#[tokio::test]
async fn user_without_config_get_is_told_which_permission() {
    require_service("127.0.0.1", REDIS_PRIMARY, START_SERVICES);
    let url = redis_url_as(REDIS_NOCONFIG, REDIS_PRIMARY);
    let err = collect(&endpoint(Kind::Redis, &url, Duration::from_secs(5))).await.unwrap_err();
    let CollectError::Failed(message) = &err else { panic!("expected Failed, got {err:?}") };
    assert!(
        message.starts_with("CONFIG GET *: permission denied for user driftwatch-noconfig"),
        "{message}"
    );
    assert!(message.contains("ACL SETUSER driftwatch-noconfig +config|get"), "{message}");
    assert!(!message.contains(REDIS_NOCONFIG.1), "{message}");
}

#[tokio::test]
async fn wrong_password_fails_without_showing_it() {
    require_service("127.0.0.1", REDIS_PRIMARY, START_SERVICES);
    let url = redis_url_as(("driftwatch-auditor", "hunter2-wrong"), REDIS_PRIMARY);
    let err = collect(&endpoint(Kind::Redis, &url, Duration::from_secs(5))).await.unwrap_err();
    let CollectError::Failed(message) = &err else { panic!("expected Failed, got {err:?}") };
    assert!(message.contains("driftwatch-auditor"), "{message}");
    assert!(
        message.to_lowercase().contains("wrongpass") || message.contains("authentication"),
        "{message}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn masterauth_is_raw_until_redacted() {
    let _lock = ServerLock::shared(LOCK);
    let mut c = collect_ok(REDIS_REPLICA).await;
    assert_eq!(value(&c.snapshot.config, "setting.masterauth"), SECRET, "the test means something");
    assert_eq!(value(&c.snapshot.config, "setting.masteruser"), "driftwatch-replicator");

    driftwatch::redact::snapshot(&mut c.snapshot);
    driftwatch::redact::state(&mut c.state);
    let masterauth = entry(&c.snapshot.config, "setting.masterauth");
    assert_eq!(masterauth.value, "[REDACTED]");
    assert!(masterauth.redacted);
    assert_eq!(value(&c.snapshot.config, "setting.masteruser"), "[REDACTED]");
    assert_eq!(value(&c.snapshot.config, "setting.requirepass"), "", "unset stays empty");
    let everything = format!(
        "{}{}",
        String::from_utf8(c.snapshot.canonical_json()).unwrap(),
        serde_json::to_string(&c.state).unwrap()
    );
    assert!(!everything.contains(SECRET), "the secret survived redaction");
}

/// Sets a replica setting for the life of the guard, restoring the old value on drop.
struct ReplicaSetting {
    name: &'static str,
    old: String,
}

impl ReplicaSetting {
    fn set(name: &'static str, value: &str) -> ReplicaSetting {
        let pair: Vec<String> =
            redis::cmd("CONFIG").arg("GET").arg(name).query(&mut admin(REDIS_REPLICA)).unwrap();
        let guard = ReplicaSetting { name, old: pair[1].clone() };
        run(REDIS_REPLICA, &["CONFIG", "SET", name, value]);
        guard
    }
}

impl Drop for ReplicaSetting {
    fn drop(&mut self) {
        run(REDIS_REPLICA, &["CONFIG", "SET", self.name, &self.old]);
    }
}

#[tokio::test]
async fn writable_replica_is_seen_and_fails_the_baseline() {
    let _lock = ServerLock::exclusive(LOCK);
    let before = collect_ok(REDIS_REPLICA).await;
    let findings = shipped_findings(&before, Role::Replica);
    assert_eq!(finding(&findings, "RD-REPL-020").status, FindingStatus::Pass);

    let after = {
        let _writable = ReplicaSetting::set("replica-read-only", "no");
        collect_ok(REDIS_REPLICA).await
    };
    assert_eq!(value(&after.snapshot.config, "setting.replica-read-only"), "no");
    assert_ne!(before.snapshot.digest(), after.snapshot.digest());
    let findings = shipped_findings(&after, Role::Replica);
    let f = finding(&findings, "RD-REPL-020");
    assert_eq!(f.status, FindingStatus::Fail, "{f:?}");
    assert_eq!(f.actual.as_deref(), Some("no"));

    let restored = collect_ok(REDIS_REPLICA).await;
    assert_eq!(value(&restored.snapshot.config, "setting.replica-read-only"), "yes");
}

/// Detaches the replica (`REPLICAOF NO ONE`); on drop re-points it at the primary and
/// waits for the link.
struct Detached;

impl Detached {
    fn replica() -> Detached {
        let guard = Detached;
        run(REDIS_REPLICA, &["REPLICAOF", "NO", "ONE"]);
        guard
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        run(REDIS_REPLICA, &["REPLICAOF", "127.0.0.1", &REDIS_PRIMARY.to_string()]);
        wait_link_up();
    }
}

#[tokio::test]
async fn detached_replica_is_detected_as_primary() {
    let _lock = ServerLock::exclusive(LOCK);
    let c = {
        let _detached = Detached::replica();
        collect_ok(REDIS_REPLICA).await
    };
    assert_eq!(c.snapshot.server.role, Role::Primary);
    assert_eq!(value(&c.state, "state.role"), "master");
    assert!(!c.state.contains_key("state.master_link_status"));
    // Declared a replica, it now fails the replica-side state rule by its absence.
    let findings = shipped_findings(&c, Role::Replica);
    assert_ne!(finding(&findings, "RD-REPL-022").status, FindingStatus::Pass);

    let back = collect_ok(REDIS_REPLICA).await;
    assert_eq!(back.snapshot.server.role, Role::Replica);
    assert_eq!(value(&back.state, "state.master_link_status"), "up");
}

#[tokio::test]
async fn closed_port_is_unreachable_at_once_without_the_password() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://u:hunter2@127.0.0.1:{port}");
    let started = Instant::now();
    let err = collect(&endpoint(Kind::Redis, &url, Duration::from_secs(5))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(err, CollectError::Unreachable(format!("connection refused by 127.0.0.1:{port}")));
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn silent_server_times_out_as_unreachable() {
    // Accepts TCP (the kernel completes the handshake) but never answers PING.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let err = collect(&endpoint(Kind::Redis, &url, Duration::from_millis(500))).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(
        err,
        CollectError::Unreachable(format!(
            "timed out after 500ms (connect_timeout) connecting to 127.0.0.1:{port}"
        ))
    );
    drop(listener);
}

#[tokio::test]
async fn collect_dispatches_redis_by_kind() {
    let c = driftwatch::collect::collect(&redis_endpoint(REDIS_PRIMARY)).await.unwrap();
    assert_eq!(c.snapshot.target, "test-redis");
    assert_eq!(c.snapshot.kind, Kind::Redis);
}
