//! The MySQL collector against the local MariaDB primary (3306) and its GTID replica
//! (3307), as root and as the least-privilege auditor, plus unreachable servers and
//! deliberate misconfigurations of the replica (each reverted by a Drop guard).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use driftwatch::collect::mysql::collect;
use driftwatch::collect::{CollectError, Collected};
use driftwatch::finding::{Finding, FindingStatus};
use driftwatch::policy::{TargetFacts, evaluate, parse};
use driftwatch::policy_files;
use driftwatch::snapshot::{Kind, Role};

use crate::support::lock::ServerLock;
use crate::support::{
    MY_PRIMARY, MY_REPLICA, MY_REPLICA_SERVER_ID, START_SERVICES, endpoint, entry, my_endpoint,
    my_replica_dir, my_url_as, require_service, value,
};

const AUDITOR: &str = "driftwatch_auditor";
const AUDITOR_PASSWORD: &str = "driftwatch-auditor-pw";
const REPL_SECRET: &str = "driftwatch-test-secret";
/// The lock on the replica's configuration and replication threads.
const REPLICA_LOCK: &str = "mariadb-replica";
const CONN: &str = "state.replication.default";

async fn collect_ok(port: u16) -> Collected {
    let endpoint = my_endpoint(port);
    collect(&endpoint).await.unwrap_or_else(|e| panic!("collecting 127.0.0.1:{port}: {e}"))
}

/// Runs SQL on the local MariaDB on `port` as root with the `mariadb` client; its output.
#[track_caller]
fn sql(port: u16, statement: &str) -> String {
    let out = Command::new("mariadb")
        .args(["--protocol=tcp", "-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root"])
        .args(["-e", statement])
        .output()
        .expect("run the mariadb client");
    assert!(
        out.status.success(),
        "mariadb -P {port} -e {statement:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`sql`] for Drop guards: never panics (a panic while unwinding aborts).
fn sql_best_effort(port: u16, statement: &str) {
    let status = Command::new("mariadb")
        .args(["--protocol=tcp", "-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root"])
        .args(["-e", statement])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("could not run {statement:?} on 127.0.0.1:{port}: {status:?}");
    }
}

/// `Name: value` of `SHOW SLAVE STATUS\G` on the replica.
fn slave_field(field: &str) -> String {
    sql(MY_REPLICA, "SHOW SLAVE STATUS\\G")
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{field}:")).map(str::trim))
        .unwrap_or_default()
        .to_owned()
}

fn replicating() -> bool {
    std::panic::catch_unwind(|| {
        slave_field("Slave_IO_Running") == "Yes" && slave_field("Slave_SQL_Running") == "Yes"
    })
    .unwrap_or(false)
}

#[track_caller]
fn check_many_settings(c: &Collected) {
    let settings = c.snapshot.config.keys().filter(|k| k.starts_with("setting.")).count();
    assert!(settings > 300, "only {settings} settings");
}

/// Every finding of the shipped baseline for a target declared `role`.
fn findings(c: &Collected, role: Role) -> Vec<Finding> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    let set = parse(policy_files::read(dir).unwrap_or_else(|d| panic!("{d}")))
        .unwrap_or_else(|d| panic!("{d}"));
    let labels = BTreeMap::new();
    let target = TargetFacts { name: "mariadb", kind: Kind::Mysql, role, labels: &labels };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    evaluate(&set, &target, &c.snapshot, &c.state, today)
}

#[track_caller]
fn status_of(findings: &[Finding], rule: &str) -> FindingStatus {
    let f = findings.iter().find(|f| f.rule == rule).unwrap_or_else(|| panic!("no {rule}"));
    f.status
}

#[tokio::test]
async fn primary_reports_variables_flavor_role_and_its_replica() {
    require_service("127.0.0.1", MY_REPLICA, START_SERVICES);
    let _lock = ServerLock::shared(REPLICA_LOCK);
    let c = collect_ok(MY_PRIMARY).await;
    let config = &c.snapshot.config;
    assert_eq!(c.snapshot.kind, Kind::Mysql);
    assert_eq!(c.snapshot.server.role, Role::Primary);
    assert!(c.snapshot.server.version.contains("MariaDB"), "{:?}", c.snapshot.server);
    assert_eq!(value(config, "server.flavor"), "mariadb");
    check_many_settings(&c);

    // Provenance from information_schema.SYSTEM_VARIABLES.
    let log_bin = entry(config, "setting.log_bin");
    assert_eq!(log_bin.value, "ON");
    // MariaDB derives @@log_bin from --log-bin and reports it as compiled in.
    assert_eq!(log_bin.context.as_deref(), Some("restart"));
    let port = entry(config, "setting.port");
    assert_eq!(port.source_file.as_deref(), Some("/etc/mysql/my.cnf"), "{port:?}");
    let binlog_format = entry(config, "setting.binlog_format");
    assert_eq!(binlog_format.value, "ROW");
    assert_eq!(binlog_format.source.as_deref(), Some("configuration file"));
    assert!(
        binlog_format.source_file.as_deref().is_some_and(|f| f.ends_with("90-driftwatch-ci.cnf")),
        "{binlog_format:?}"
    );
    assert_eq!(entry(config, "setting.read_only").context.as_deref(), Some("dynamic"));
    assert_eq!(entry(config, "setting.read_only").vartype.as_deref(), Some("boolean"));
    // Positions are state, not configuration.
    assert!(!config.contains_key("setting.gtid_binlog_pos"));
    assert!(!config.contains_key("setting.gtid_current_pos"));
    assert!(config.contains_key("setting.gtid_domain_id"));

    assert_eq!(value(&c.state, "state.replication.count"), "0");
    assert!(value(&c.state, "state.binlog.file").starts_with("mysql-bin."));
    let position = entry(&c.state, "state.binlog.position");
    assert_eq!(position.unit.as_deref(), Some("B"));
    assert!(position.value.parse::<u64>().unwrap() > 0);
    assert!(value(&c.state, "state.gtid.binlog_pos").starts_with("0-1-"));
    assert!(c.state.contains_key("state.gtid.current_pos"));
    assert!(c.state.contains_key("state.gtid.slave_pos"));

    // The replica registered with report_host/report_port and its server_id.
    let replica = format!("state.replica.{MY_REPLICA_SERVER_ID}");
    assert_eq!(value(&c.state, &format!("{replica}.host")), "127.0.0.1");
    assert_eq!(value(&c.state, &format!("{replica}.port")), MY_REPLICA.to_string());
    assert_eq!(value(&c.state, &format!("{replica}.source_id")), "1");
    let replicas: u32 = value(&c.state, "state.replicas.count").parse().unwrap();
    assert!(replicas >= 1);
    assert_eq!(entry(&c.state, "state.connect_ms").unit.as_deref(), Some("ms"));
}

#[tokio::test]
async fn replica_reports_role_and_both_threads_running() {
    let _lock = ServerLock::shared(REPLICA_LOCK);
    let c = collect_ok(MY_REPLICA).await;
    let config = &c.snapshot.config;
    assert_eq!(c.snapshot.server.role, Role::Replica);
    assert_eq!(value(config, "server.flavor"), "mariadb");
    check_many_settings(&c);
    assert_eq!(value(config, "setting.read_only"), "ON");
    // read_only's origin turns to `set global` once a test has set it; this one stays.
    let recovery = entry(config, "setting.relay_log_recovery");
    assert_eq!(recovery.value, "ON");
    assert_eq!(recovery.source.as_deref(), Some("configuration file"));
    let cnf = my_replica_dir().join("driftwatch-replica.cnf");
    assert_eq!(recovery.source_file.as_deref(), cnf.to_str(), "{recovery:?}");

    assert_eq!(value(&c.state, "state.replication.count"), "1");
    assert_eq!(value(&c.state, &format!("{CONN}.io_running")), "Yes");
    assert_eq!(value(&c.state, &format!("{CONN}.sql_running")), "Yes");
    let behind = entry(&c.state, &format!("{CONN}.seconds_behind"));
    assert_eq!(behind.unit.as_deref(), Some("s"));
    assert!(behind.value.parse::<u64>().is_ok(), "{behind:?}");
    assert_eq!(value(&c.state, &format!("{CONN}.source_host")), "127.0.0.1");
    assert_eq!(value(&c.state, &format!("{CONN}.source_port")), MY_PRIMARY.to_string());
    assert_eq!(value(&c.state, &format!("{CONN}.using_gtid")), "Slave_Pos");
    assert_eq!(value(&c.state, &format!("{CONN}.last_io_errno")), "0");
    assert_eq!(value(&c.state, &format!("{CONN}.last_sql_errno")), "0");
    assert_eq!(value(&c.state, &format!("{CONN}.last_sql_error")), "");
    assert!(value(&c.state, &format!("{CONN}.gtid_io_pos")).starts_with("0-1-"));

    let findings = findings(&c, Role::Replica);
    for rule in ["MY-REPL-020", "MY-REPL-022", "MY-REPL-030", "MY-REPL-031", "MY-REPL-032"] {
        assert_eq!(status_of(&findings, rule), FindingStatus::Pass, "{rule}: {findings:#?}");
    }
}

#[tokio::test]
async fn auditor_with_minimal_grants_sees_settings_and_replication() {
    require_service("127.0.0.1", MY_PRIMARY, START_SERVICES);
    require_service("127.0.0.1", MY_REPLICA, START_SERVICES);
    let _lock = ServerLock::shared(REPLICA_LOCK);
    let grants = sql(MY_PRIMARY, &format!("SHOW GRANTS FOR '{AUDITOR}'@'127.0.0.1'"));
    assert!(grants.contains("GRANT BINLOG MONITOR, SLAVE MONITOR ON *.*"), "{grants}");

    let primary = my_url_as(AUDITOR, AUDITOR_PASSWORD, MY_PRIMARY);
    let c = collect(&endpoint(Kind::Mysql, &primary, Duration::from_secs(5)))
        .await
        .unwrap_or_else(|e| panic!("collecting as {AUDITOR}: {e}; run `{START_SERVICES}`"));
    check_many_settings(&c);
    assert_eq!(c.snapshot.server.role, Role::Primary);
    assert!(c.state.contains_key("state.binlog.file"));
    // SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN: only the count without it.
    let replicas: u32 = value(&c.state, "state.replicas.count").parse().unwrap();
    assert!(replicas >= 1);
    assert!(!c.state.keys().any(|k| k.starts_with("state.replica.")), "{:?}", c.state.keys());

    // Without FILE, MariaDB hides GLOBAL_VALUE_PATH: the loss is said, not silent.
    let from_files: Vec<&String> = c
        .snapshot
        .config
        .iter()
        .filter(|(_, e)| e.source.as_deref() == Some("configuration file"))
        .map(|(k, _)| k)
        .collect();
    assert!(!from_files.is_empty(), "the primary sets some variables in an option file");
    let provenance = entry(&c.snapshot.config, "server.provenance");
    assert_eq!(provenance.value, "no_source_file");
    let note = provenance.source.as_deref().unwrap();
    assert!(note.contains(&format!("GLOBAL_VALUE_PATH is NULL for {AUDITOR}@")), "{note}");
    assert!(note.contains(&format!("{} settings set in an option file", from_files.len())));
    assert!(note.contains("GRANT FILE ON *.* TO"), "{note}");
    // Root (which has FILE) sees every path, and no such entry.
    let root = collect(&my_endpoint(MY_PRIMARY)).await.unwrap();
    assert!(!root.snapshot.config.contains_key("server.provenance"));
    for key in &from_files {
        assert!(root.snapshot.config[*key].source_file.is_some(), "{key}");
    }

    let replica = my_url_as(AUDITOR, AUDITOR_PASSWORD, MY_REPLICA);
    let c = collect(&endpoint(Kind::Mysql, &replica, Duration::from_secs(5))).await.unwrap();
    assert_eq!(c.snapshot.server.role, Role::Replica);
    assert_eq!(value(&c.state, &format!("{CONN}.io_running")), "Yes");
    assert_eq!(value(&c.state, &format!("{CONN}.sql_running")), "Yes");
}

#[tokio::test]
async fn missing_grant_is_named() {
    require_service("127.0.0.1", MY_PRIMARY, START_SERVICES);
    // mariadb.sh creates this login with no grants.
    let url = my_url_as("driftwatch_unprivileged", "driftwatch-unprivileged-pw", MY_PRIMARY);
    let err = collect(&endpoint(Kind::Mysql, &url, Duration::from_secs(5))).await.unwrap_err();
    assert_eq!(
        err,
        CollectError::Failed(
            "reading replica status: Access denied; you need (at least one of) the SUPER, \
             SLAVE MONITOR privilege(s) for this operation: GRANT BINLOG MONITOR, SLAVE \
             MONITOR ON *.* to the auditor (MariaDB 10.5+; older: REPLICATION CLIENT)"
                .into()
        )
    );
}

/// Puts the replica's `read_only` back, even when the test panics.
struct ReadOnlyGuard;

impl Drop for ReadOnlyGuard {
    fn drop(&mut self) {
        sql_best_effort(MY_REPLICA, "SET GLOBAL read_only = ON");
    }
}

#[tokio::test]
async fn writable_replica_is_seen_and_fails_the_baseline() {
    require_service("127.0.0.1", MY_REPLICA, START_SERVICES);
    let _lock = ServerLock::exclusive(REPLICA_LOCK);
    let guard = ReadOnlyGuard;
    sql(MY_REPLICA, "SET GLOBAL read_only = OFF");

    let c = collect_ok(MY_REPLICA).await;
    let read_only = entry(&c.snapshot.config, "setting.read_only");
    assert_eq!(read_only.value, "OFF");
    assert_eq!(read_only.source.as_deref(), Some("set global"), "{read_only:?}");
    let findings = findings(&c, Role::Replica);
    let f = findings.iter().find(|f| f.rule == "MY-REPL-020").unwrap();
    assert_eq!(f.status, FindingStatus::Fail, "{f:?}");
    assert_eq!(f.actual.as_deref(), Some("OFF"));
    assert!(f.remediation.as_deref().unwrap().contains("SET GLOBAL read_only = ON"));

    drop(guard);
    let c = collect_ok(MY_REPLICA).await;
    assert_eq!(value(&c.snapshot.config, "setting.read_only"), "ON");
}

/// Restarts replication on the replica and waits for both threads, even on panic.
struct SlaveGuard;

impl Drop for SlaveGuard {
    fn drop(&mut self) {
        sql_best_effort(MY_REPLICA, "START SLAVE");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !replicating() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[tokio::test]
async fn stopped_replication_is_seen_and_fails_the_baseline() {
    require_service("127.0.0.1", MY_REPLICA, START_SERVICES);
    let _lock = ServerLock::exclusive(REPLICA_LOCK);
    let guard = SlaveGuard;
    sql(MY_REPLICA, "STOP SLAVE");

    let c = collect_ok(MY_REPLICA).await;
    // Still a replica: the source stays configured while the threads are stopped.
    assert_eq!(c.snapshot.server.role, Role::Replica);
    assert_eq!(value(&c.state, &format!("{CONN}.io_running")), "No");
    assert_eq!(value(&c.state, &format!("{CONN}.sql_running")), "No");
    assert!(!c.state.contains_key(&format!("{CONN}.seconds_behind")), "NULL lag is absent");
    let findings = findings(&c, Role::Replica);
    for rule in ["MY-REPL-030", "MY-REPL-031", "MY-REPL-032"] {
        assert_eq!(status_of(&findings, rule), FindingStatus::Fail, "{rule}");
    }

    drop(guard);
    let c = collect_ok(MY_REPLICA).await;
    assert_eq!(value(&c.state, &format!("{CONN}.io_running")), "Yes");
    assert_eq!(value(&c.state, &format!("{CONN}.sql_running")), "Yes");
}

#[tokio::test]
async fn replication_password_is_never_collected() {
    require_service("127.0.0.1", MY_REPLICA, START_SERVICES);
    let _lock = ServerLock::shared(REPLICA_LOCK);
    // The server itself never shows it in what the collector reads.
    for statement in ["SHOW ALL SLAVES STATUS\\G", "SHOW GLOBAL VARIABLES", "SHOW MASTER STATUS"] {
        assert!(!sql(MY_REPLICA, statement).contains(REPL_SECRET), "{statement}");
    }
    let check = |c: &Collected, when: &str| {
        let all = c.snapshot.config.iter().chain(&c.state);
        for (key, e) in all {
            assert!(!format!("{e:?}").contains(REPL_SECRET), "{when}: {key} = {e:?}");
        }
    };
    for port in [MY_REPLICA, MY_PRIMARY] {
        let mut c = collect_ok(port).await;
        check(&c, "raw");
        driftwatch::redact::snapshot(&mut c.snapshot);
        driftwatch::redact::state(&mut c.state);
        check(&c, "redacted");
        let json = String::from_utf8(c.snapshot.canonical_json()).unwrap();
        assert!(!json.contains(REPL_SECRET));
    }
}

#[tokio::test]
async fn closed_port_is_unreachable_at_once_without_the_password() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("mysql://u:hunter2@127.0.0.1:{port}/");
    let started = Instant::now();
    let err = collect(&endpoint(Kind::Mysql, &url, Duration::from_secs(5))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(err, CollectError::Unreachable(format!("connection refused by 127.0.0.1:{port}")));
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn silent_server_times_out_as_unreachable() {
    // Accepts TCP (the kernel completes the handshake) but never sends a greeting.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("mysql://u:hunter2@127.0.0.1:{port}/");
    let started = Instant::now();
    let err = collect(&endpoint(Kind::Mysql, &url, Duration::from_millis(500))).await.unwrap_err();
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
async fn wrong_password_is_a_failure_not_unreachable() {
    require_service("127.0.0.1", MY_PRIMARY, START_SERVICES);
    let url = my_url_as(AUDITOR, "not-the-password", MY_PRIMARY);
    let err = collect(&endpoint(Kind::Mysql, &url, Duration::from_secs(5))).await.unwrap_err();
    let CollectError::Failed(message) = &err else { panic!("expected Failed, got {err:?}") };
    assert!(
        message.starts_with(&format!(
            "connecting to 127.0.0.1:{MY_PRIMARY} as {AUDITOR}: Access denied"
        )),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn collect_dispatches_mysql_by_kind() {
    let c = driftwatch::collect::collect(&my_endpoint(MY_PRIMARY)).await.unwrap();
    assert_eq!(c.snapshot.target, "test-mysql");
    assert_eq!(c.snapshot.kind, Kind::Mysql);
}
