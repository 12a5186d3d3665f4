//! The shipped `policies/` baseline: it loads without a diagnostic, and a stock
//! PostgreSQL 15 gets a realistic mix of findings from it.

use std::collections::BTreeMap;
use std::path::Path;

use super::{snapshot, today};
use crate::policy::{PolicySet, TargetFacts, evaluate, parse};
use crate::policy_files;
use crate::snapshot::{Kind, Role};

/// `SELECT name, setting, unit FROM pg_settings` on a stock PostgreSQL 15 from Debian
/// (`pg_createcluster 15 main`), for the settings the baseline reads.
const PG15_DEFAULTS: &str = "
    wal_level = replica
    max_wal_senders = 10
    max_replication_slots = 10
    max_slot_wal_keep_size = -1 MB
    wal_keep_size = 0 MB
    synchronous_commit = on
    synchronous_standby_names =
    wal_sender_timeout = 60000 ms
    wal_receiver_timeout = 60000 ms
    hot_standby = on
    hot_standby_feedback = off
    fsync = on
    full_page_writes = on
    archive_mode = off
    archive_command =
    data_checksums = off
    statement_timeout = 0 ms
    idle_in_transaction_session_timeout = 0 ms
    max_connections = 100
    superuser_reserved_connections = 3
    archive_library =
    autovacuum = on
    track_counts = on
    max_standby_streaming_delay = 30000 ms
    password_encryption = scram-sha-256
    ssl = on
    ssl_min_protocol_version = TLSv1.2
    listen_addresses = localhost
    log_connections = off
    log_disconnections = off
    log_lock_waits = off
    log_replication_commands = off
    log_error_verbosity = default
    log_min_messages = warning
    log_min_error_statement = error
    log_line_prefix = %m
    log_statement = none
";

fn shipped() -> PolicySet {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    let sources = policy_files::read(dir).unwrap_or_else(|d| panic!("{d}"));
    parse(sources).unwrap_or_else(|d| panic!("{d}"))
}

/// What the collector reads on an idle, healthy pair.
const PRIMARY_STATE: &str = "
    state.slots.lost = 0
    state.slots.inactive_retained_bytes = 0 B
    state.connect_ms = 5 ms
    state.connections.usage_pct = 10
    state.connections.oldest_idle_in_transaction_s = 0 s
    state.connections.longest_lock_wait_s = 0 s
";
const REPLICA_STATE: &str = "
    state.slots.lost = 0
    state.slots.inactive_retained_bytes = 0 B
    state.connect_ms = 5 ms
    state.connections.usage_pct = 10
    state.connections.oldest_idle_in_transaction_s = 0 s
    state.connections.longest_lock_wait_s = 0 s
    state.wal_receiver.status = streaming
    state.replication.replay_lag_s = 0 s
    state.replication.replay_paused = false
";

/// `SHOW GLOBAL VARIABLES` on a stock MariaDB 10.11 from Debian, for the variables the
/// baseline reads, plus a replica's healthy replication state (ignored on a primary).
const MARIADB1011_DEFAULTS: &str = "
    server.flavor = mariadb
    innodb_flush_log_at_trx_commit = 1
    sync_binlog = 0
    log_bin = OFF
    binlog_format = MIXED
    slave_skip_errors = OFF
    slave_net_timeout = 60
    read_only = OFF
    relay_log_recovery = OFF
    innodb_force_recovery = 0
    innodb_doublewrite = ON
    binlog_expire_logs_seconds = 0
    gtid_strict_mode = OFF
    log_slave_updates = OFF
    slave_parallel_threads = 0
    rpl_semi_sync_master_enabled = OFF
    rpl_semi_sync_master_wait_point = AFTER_COMMIT
    have_ssl = DISABLED
    require_secure_transport = OFF
    tls_version = TLSv1.2,TLSv1.3
    local_infile = ON
    bind_address = 127.0.0.1
    skip_name_resolve = OFF
    old_passwords = OFF
    secure_file_priv =
    have_symlink = YES
    sql_mode = STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION
    max_connect_errors = 100
    log_warnings = 2
    log_error = /var/log/mysql/error.log
    wait_timeout = 28800
    state.replication.default.io_running = Yes
    state.replication.default.sql_running = Yes
    state.replication.default.seconds_behind = 0 s
    state.replication.default.sql_delay = 0 s
    state.replication.default.lag_beyond_delay_s = 0 s
    state.connect_ms = 5 ms
    state.connections.usage_pct = 10
    state.connections.refused = 0
    state.connections.aborted_connects = 0
";

fn statuses(role: Role) -> String {
    let readings = if role == Role::Replica { REPLICA_STATE } else { PRIMARY_STATE };
    statuses_of(Kind::Postgres, role, &format!("{PG15_DEFAULTS}{readings}"))
}

fn statuses_of(kind: Kind, role: Role, settings: &str) -> String {
    let set = shipped();
    let (snap, state) = snapshot(role, settings);
    let labels = BTreeMap::new();
    let target = TargetFacts { name: "db1", kind, role, labels: &labels };
    let findings = evaluate(&set, &target, &snap, &state, today());
    findings.iter().map(|f| format!("{} {} {}\n", f.rule, f.severity, f.status)).collect()
}

#[test]
fn shipped_baseline_loads() {
    let set = shipped();
    let names: Vec<(&str, &str)> =
        set.bundle().policies.iter().map(|p| (p.path.as_str(), p.name.as_str())).collect();
    assert_eq!(
        names,
        [
            ("memcached/capacity.toml", "memcached-capacity"),
            ("memcached/connections.toml", "memcached-connections"),
            ("memcached/security.toml", "memcached-security"),
            ("mysql/connections.toml", "mysql-connections"),
            ("mysql/durability.toml", "mysql-durability"),
            ("mysql/limits.toml", "mysql-limits"),
            ("mysql/replication.toml", "mysql-replication"),
            ("mysql/security.toml", "mysql-security"),
            ("mysql/topology.toml", "mysql-topology"),
            ("pgbouncer/connections.toml", "pgbouncer-connections"),
            ("pgbouncer/security.toml", "pgbouncer-security"),
            ("postgres/connections.toml", "postgres-connections"),
            ("postgres/durability.toml", "postgres-durability"),
            ("postgres/replication.toml", "postgres-replication"),
            ("postgres/security.toml", "postgres-security"),
            ("postgres/sessions.toml", "postgres-sessions"),
            ("postgres/topology.toml", "postgres-topology"),
            ("redis/connections.toml", "redis-connections"),
            ("redis/limits.toml", "redis-limits"),
            ("redis/replication.toml", "redis-replication"),
            ("redis/resources.toml", "redis-resources"),
            ("redis/security.toml", "redis-security"),
            ("redis/topology.toml", "redis-topology"),
        ]
    );
    for rule in set.policies().iter().flat_map(|p| &p.rules) {
        assert!(
            rule.rationale.is_some() && rule.remediation.is_some(),
            "{} lacks rationale or remediation",
            rule.id
        );
    }
}

#[test]
fn shipped_baseline_on_stock_pg15_primary() {
    let want = "\
PG-DUR-001 critical pass
PG-DUR-003 critical pass
PG-HEALTH-001 critical not_applicable
PG-HEALTH-004 critical pass
PG-REPL-001 critical pass
PG-REPL-009 critical not_applicable
PG-REPL-010 critical not_applicable
PG-REPL-011 critical not_applicable
PG-REPL-012 critical not_applicable
PG-REPL-013 critical not_applicable
PG-REPL-014 critical not_applicable
PG-TOPO-001 critical pass
PG-CONN-002 high pass
PG-DUR-002 high pass
PG-DUR-005 high not_applicable
PG-DUR-007 high pass
PG-DUR-008 high pass
PG-HEALTH-002 high not_applicable
PG-HEALTH-003 high not_applicable
PG-HEALTH-005 high pass
PG-REPL-002 high pass
PG-REPL-004 high fail
PG-REPL-020 high not_applicable
PG-SEC-001 high pass
PG-SEC-002 high pass
PG-CONN-001 medium pass
PG-CONN-003 medium pass
PG-CONN-004 medium pass
PG-DUR-004 medium fail
PG-LOG-001 medium fail
PG-REPL-003 medium pass
PG-REPL-006 medium not_applicable
PG-REPL-007 medium not_applicable
PG-REPL-008 medium pass
PG-REPL-015 medium not_applicable
PG-REPL-021 medium not_applicable
PG-REPL-022 medium not_applicable
PG-REPL-023 medium not_applicable
PG-SEC-003 medium pass
PG-SEC-004 medium pass
PG-SESS-002 medium fail
PG-SESS-003 medium pass
PG-CONN-005 low pass
PG-DUR-006 low fail
PG-LOG-002 low fail
PG-LOG-003 low fail
PG-LOG-004 low fail
PG-LOG-005 low pass
PG-LOG-006 low pass
PG-LOG-007 low pass
PG-LOG-008 low pass
PG-LOG-009 low fail
PG-REPL-005 low fail
PG-SESS-001 low not_applicable
PG-SESS-004 low pass
PG-SESS-006 low not_applicable
PG-SESS-005 info pass
";
    assert_eq!(statuses(Role::Primary), want);
}

#[test]
fn shipped_baseline_on_stock_pg15_replica() {
    let want = "\
PG-DUR-001 critical pass
PG-DUR-003 critical pass
PG-HEALTH-001 critical pass
PG-HEALTH-004 critical pass
PG-REPL-001 critical pass
PG-REPL-009 critical not_applicable
PG-REPL-010 critical not_applicable
PG-REPL-011 critical not_applicable
PG-REPL-012 critical not_applicable
PG-REPL-013 critical not_applicable
PG-REPL-014 critical not_applicable
PG-TOPO-001 critical pass
PG-CONN-002 high pass
PG-DUR-002 high pass
PG-DUR-005 high not_applicable
PG-DUR-007 high pass
PG-DUR-008 high pass
PG-HEALTH-002 high pass
PG-HEALTH-003 high pass
PG-HEALTH-005 high pass
PG-REPL-002 high not_applicable
PG-REPL-004 high not_applicable
PG-REPL-020 high pass
PG-SEC-001 high pass
PG-SEC-002 high pass
PG-CONN-001 medium pass
PG-CONN-003 medium pass
PG-CONN-004 medium pass
PG-DUR-004 medium not_applicable
PG-LOG-001 medium fail
PG-REPL-003 medium not_applicable
PG-REPL-006 medium not_applicable
PG-REPL-007 medium not_applicable
PG-REPL-008 medium not_applicable
PG-REPL-015 medium not_applicable
PG-REPL-021 medium fail
PG-REPL-022 medium pass
PG-REPL-023 medium pass
PG-SEC-003 medium pass
PG-SEC-004 medium pass
PG-SESS-002 medium fail
PG-SESS-003 medium pass
PG-CONN-005 low pass
PG-DUR-006 low fail
PG-LOG-002 low fail
PG-LOG-003 low fail
PG-LOG-004 low fail
PG-LOG-005 low pass
PG-LOG-006 low pass
PG-LOG-007 low pass
PG-LOG-008 low pass
PG-LOG-009 low fail
PG-REPL-005 low not_applicable
PG-SESS-001 low not_applicable
PG-SESS-004 low pass
PG-SESS-006 low not_applicable
PG-SESS-005 info pass
";
    assert_eq!(statuses(Role::Replica), want);
}

#[test]
fn shipped_baseline_on_stock_mariadb_primary() {
    let want = "\
MY-DUR-003 critical pass
MY-REPL-001 critical fail
MY-REPL-010 critical not_applicable
MY-REPL-011 critical not_applicable
MY-REPL-030 critical not_applicable
MY-REPL-031 critical not_applicable
MY-TOPO-001 critical pass
MY-CONN-002 high pass
MY-CONN-003 high not_applicable
MY-DUR-001 high pass
MY-DUR-002 high not_applicable
MY-DUR-004 high pass
MY-REPL-002 high not_applicable
MY-REPL-005 high pass
MY-REPL-006 high not_applicable
MY-REPL-012 high not_applicable
MY-REPL-020 high not_applicable
MY-REPL-032 high not_applicable
MY-REPL-033 high not_applicable
MY-REPL-034 high not_applicable
MY-REPL-035 high not_applicable
MY-SEC-001 high fail
MY-SEC-007 high pass
MY-CONN-001 medium pass
MY-CONN-004 medium not_applicable
MY-CONN-005 medium pass
MY-DUR-005 medium not_applicable
MY-REPL-003 medium not_applicable
MY-REPL-004 medium not_applicable
MY-REPL-007 medium pass
MY-REPL-008 medium not_applicable
MY-REPL-009 medium fail
MY-REPL-021 medium not_applicable
MY-REPL-022 medium not_applicable
MY-REPL-023 medium not_applicable
MY-REPL-024 medium not_applicable
MY-REPL-026 medium not_applicable
MY-REPL-036 medium not_applicable
MY-SEC-002 medium not_applicable
MY-SEC-003 medium pass
MY-SEC-004 medium fail
MY-SEC-005 medium pass
MY-SEC-008 medium fail
MY-LIM-001 low pass
MY-LOG-001 low pass
MY-LOG-002 low not_applicable
MY-LOG-003 low pass
MY-REPL-025 low not_applicable
MY-SEC-006 low fail
MY-SEC-009 low fail
MY-SEC-010 low pass
MY-SEC-011 low pass
";
    assert_eq!(statuses_of(Kind::Mysql, Role::Primary, MARIADB1011_DEFAULTS), want);
}

#[test]
fn shipped_baseline_on_stock_mariadb_replica() {
    let want = "\
MY-DUR-003 critical pass
MY-REPL-001 critical not_applicable
MY-REPL-010 critical not_applicable
MY-REPL-011 critical not_applicable
MY-REPL-030 critical pass
MY-REPL-031 critical pass
MY-TOPO-001 critical pass
MY-CONN-002 high pass
MY-CONN-003 high not_applicable
MY-DUR-001 high pass
MY-DUR-002 high not_applicable
MY-DUR-004 high pass
MY-REPL-002 high not_applicable
MY-REPL-005 high pass
MY-REPL-006 high not_applicable
MY-REPL-012 high not_applicable
MY-REPL-020 high fail
MY-REPL-032 high pass
MY-REPL-033 high not_applicable
MY-REPL-034 high not_applicable
MY-REPL-035 high not_applicable
MY-SEC-001 high fail
MY-SEC-007 high pass
MY-CONN-001 medium pass
MY-CONN-004 medium not_applicable
MY-CONN-005 medium pass
MY-DUR-005 medium not_applicable
MY-REPL-003 medium not_applicable
MY-REPL-004 medium not_applicable
MY-REPL-007 medium pass
MY-REPL-008 medium not_applicable
MY-REPL-009 medium fail
MY-REPL-021 medium not_applicable
MY-REPL-022 medium fail
MY-REPL-023 medium fail
MY-REPL-024 medium not_applicable
MY-REPL-026 medium not_applicable
MY-REPL-036 medium not_applicable
MY-SEC-002 medium not_applicable
MY-SEC-003 medium pass
MY-SEC-004 medium fail
MY-SEC-005 medium pass
MY-SEC-008 medium fail
MY-LIM-001 low pass
MY-LOG-001 low pass
MY-LOG-002 low not_applicable
MY-LOG-003 low pass
MY-REPL-025 low fail
MY-SEC-006 low fail
MY-SEC-009 low fail
MY-SEC-010 low pass
MY-SEC-011 low pass
";
    assert_eq!(statuses_of(Kind::Mysql, Role::Replica, MARIADB1011_DEFAULTS), want);
}

/// The status and message of one shipped rule on a target with these settings.
fn one(kind: Kind, role: Role, settings: &str, rule: &str) -> String {
    let set = shipped();
    let (mut snap, state) = snapshot(role, settings);
    snap.kind = kind;
    let labels = BTreeMap::new();
    let target = TargetFacts { name: "db1", kind, role, labels: &labels };
    let findings = evaluate(&set, &target, &snap, &state, today());
    let f = findings.iter().find(|f| f.rule == rule).unwrap_or_else(|| panic!("no {rule}"));
    format!("{}: {}", f.status, f.message)
}

#[track_caller]
fn check_one(kind: Kind, role: Role, settings: &str, rule: &str, want: &str) {
    let got = one(kind, role, settings, rule);
    assert!(got.starts_with(want), "{rule} on {settings}: {got}");
}

#[test]
fn binlog_format_mixed_is_replication_safe() {
    let on = "server.flavor = mariadb\nlog_bin = ON\nbinlog_format = ";
    check_one(Kind::Mysql, Role::Primary, &format!("{on}MIXED"), "MY-REPL-002", "pass");
    check_one(Kind::Mysql, Role::Primary, &format!("{on}ROW"), "MY-REPL-002", "pass");
    check_one(Kind::Mysql, Role::Primary, &format!("{on}STATEMENT"), "MY-REPL-002", "fail");
}

#[test]
fn a_delayed_replica_is_judged_beyond_its_delay() {
    let replica = |behind: &str, delay: &str, beyond: &str| {
        format!(
            "server.flavor = mariadb\nstate.replication.default.seconds_behind = {behind} s\n\
             state.replication.default.sql_delay = {delay} s\n\
             state.replication.default.lag_beyond_delay_s = {beyond} s"
        )
    };
    check_one(Kind::Mysql, Role::Replica, &replica("3605", "3600", "5"), "MY-REPL-032", "pass");
    check_one(Kind::Mysql, Role::Replica, &replica("3700", "3600", "100"), "MY-REPL-032", "fail");
    check_one(Kind::Mysql, Role::Replica, &replica("45", "0", "45"), "MY-REPL-032", "fail");
    // NULL lag (a thread stopped): unknown and growing.
    check_one(Kind::Mysql, Role::Replica, "server.flavor = mariadb", "MY-REPL-032", "fail");
}

#[test]
fn semi_sync_is_judged_by_what_the_server_does_not_what_it_is_set_to() {
    let primary = |enabled: &str, status: &str, clients: &str| {
        format!(
            "server.flavor = mariadb\nrpl_semi_sync_master_enabled = {enabled}\n\
             state.semi_sync.primary.status = {status}\nstate.semi_sync.primary.clients = {clients}"
        )
    };
    let (mysql, p) = (Kind::Mysql, Role::Primary);
    // Enabled, fell back to asynchronous: the setting alone would read as fine.
    check_one(mysql, p, &primary("ON", "OFF", "0"), "MY-REPL-033", "fail");
    check_one(mysql, p, &primary("ON", "OFF", "0"), "MY-REPL-034", "fail");
    check_one(mysql, p, &primary("ON", "ON", "1"), "MY-REPL-033", "pass");
    check_one(mysql, p, &primary("ON", "ON", "1"), "MY-REPL-034", "pass");
    // Not enabled: nothing to judge, whatever the status says.
    check_one(mysql, p, &primary("OFF", "OFF", "0"), "MY-REPL-033", "not_applicable");
    check_one(mysql, p, &primary("OFF", "OFF", "0"), "MY-REPL-034", "not_applicable");
    let replica = |enabled: &str, status: &str| {
        format!(
            "server.flavor = mariadb\nrpl_semi_sync_slave_enabled = {enabled}\n\
             state.semi_sync.replica.status = {status}"
        )
    };
    let r = Role::Replica;
    check_one(mysql, r, &replica("ON", "OFF"), "MY-REPL-036", "fail");
    check_one(mysql, r, &replica("ON", "ON"), "MY-REPL-036", "pass");
    check_one(mysql, r, &replica("OFF", "OFF"), "MY-REPL-036", "not_applicable");
}

#[test]
fn archiving_through_archive_library_needs_no_archive_command() {
    let pg = |library: &str| format!("archive_mode = on\narchive_command =\n{library}");
    check_one(
        Kind::Postgres,
        Role::Primary,
        &pg("archive_library = basic_archive"),
        "PG-DUR-005",
        "not_applicable",
    );
    check_one(Kind::Postgres, Role::Primary, &pg("archive_library ="), "PG-DUR-005", "fail");
    // Before PostgreSQL 15 there is no archive_library: archive_command is the only way.
    check_one(Kind::Postgres, Role::Primary, &pg(""), "PG-DUR-005", "fail");
    check_one(
        Kind::Postgres,
        Role::Primary,
        "archive_mode = off\narchive_command =\narchive_library =",
        "PG-DUR-005",
        "not_applicable",
    );
}

#[test]
fn redis_replica_defaults_pass_the_replication_rules() {
    // Redis 7 defaults on a replica (CONFIG GET), with its primary's view absent.
    let replica = "replica-serve-stale-data = yes\nreplica-ignore-maxmemory = yes\nmaxmemory = 0 B\nreplica-read-only = yes";
    check_one(Kind::Redis, Role::Replica, replica, "RD-REPL-021", "pass");
    check_one(Kind::Redis, Role::Replica, replica, "RD-REPL-012", "pass");
    check_one(Kind::Redis, Role::Replica, "replica-serve-stale-data = no", "RD-REPL-021", "fail");
    check_one(Kind::Redis, Role::Replica, "replica-ignore-maxmemory = no", "RD-REPL-012", "fail");
    // No group: the replica-count gate cannot be judged.
    check_one(
        Kind::Redis,
        Role::Primary,
        "min-replicas-to-write = 0",
        "RD-REPL-001",
        "not_applicable",
    );
}

/// `policies/README.md`'s coverage tables name only rules that exist, and every
/// shipped rule is in them.
#[test]
fn coverage_tables_list_every_shipped_rule() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/README.md"))
            .expect("policies/README.md");
    let id = regex::Regex::new(r"\b[A-Z]{2}-[A-Z]+-[0-9]{3}\b").unwrap();
    let listed: std::collections::BTreeSet<&str> = readme
        .lines()
        .filter(|l| l.starts_with('|'))
        .flat_map(|l| id.find_iter(l).map(|m| m.as_str()))
        .collect();
    let set = shipped();
    let shipped: std::collections::BTreeSet<&str> =
        set.policies().iter().flat_map(|p| &p.rules).map(|r| r.id.as_str()).collect();
    let unknown: Vec<_> = listed.difference(&shipped).collect();
    let unlisted: Vec<_> = shipped.difference(&listed).collect();
    assert!(unknown.is_empty(), "policies/README.md lists rules that do not exist: {unknown:?}");
    assert!(unlisted.is_empty(), "shipped rules missing from policies/README.md: {unlisted:?}");
}
