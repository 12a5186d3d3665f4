//! The shipped `policies/` baseline: it loads without a diagnostic, and a stock
//! PostgreSQL 15 gets a realistic mix of findings from it.

use std::collections::BTreeMap;
use std::path::Path;

use super::{snapshot, today};
use crate::policy::{PolicySet, TargetFacts, evaluate, parse, read_dir};
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
";

fn shipped() -> PolicySet {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    let sources = read_dir(dir).unwrap_or_else(|d| panic!("{d}"));
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
    state.replication.default.io_running = Yes
    state.replication.default.sql_running = Yes
    state.replication.default.seconds_behind = 0 s
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
            ("mysql/replication.toml", "mysql-replication"),
            ("mysql/topology.toml", "mysql-topology"),
            ("postgres/connections.toml", "postgres-connections"),
            ("postgres/durability.toml", "postgres-durability"),
            ("postgres/replication.toml", "postgres-replication"),
            ("postgres/sessions.toml", "postgres-sessions"),
            ("postgres/topology.toml", "postgres-topology"),
            ("redis/connections.toml", "redis-connections"),
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
PG-REPL-010 critical not_applicable
PG-REPL-011 critical not_applicable
PG-REPL-012 critical not_applicable
PG-REPL-013 critical not_applicable
PG-REPL-014 critical not_applicable
PG-TOPO-001 critical pass
PG-CONN-002 high pass
PG-DUR-002 high pass
PG-DUR-005 high not_applicable
PG-HEALTH-002 high not_applicable
PG-HEALTH-003 high not_applicable
PG-HEALTH-005 high pass
PG-REPL-002 high pass
PG-REPL-004 high fail
PG-REPL-020 high not_applicable
PG-CONN-001 medium pass
PG-CONN-003 medium pass
PG-CONN-004 medium pass
PG-DUR-004 medium fail
PG-REPL-003 medium pass
PG-REPL-006 medium not_applicable
PG-REPL-007 medium not_applicable
PG-REPL-008 medium pass
PG-REPL-015 medium not_applicable
PG-REPL-021 medium not_applicable
PG-REPL-022 medium not_applicable
PG-SESS-002 medium fail
PG-SESS-003 medium pass
PG-CONN-005 low pass
PG-DUR-006 low fail
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
PG-REPL-010 critical not_applicable
PG-REPL-011 critical not_applicable
PG-REPL-012 critical not_applicable
PG-REPL-013 critical not_applicable
PG-REPL-014 critical not_applicable
PG-TOPO-001 critical pass
PG-CONN-002 high pass
PG-DUR-002 high pass
PG-DUR-005 high not_applicable
PG-HEALTH-002 high pass
PG-HEALTH-003 high pass
PG-HEALTH-005 high pass
PG-REPL-002 high not_applicable
PG-REPL-004 high not_applicable
PG-REPL-020 high pass
PG-CONN-001 medium pass
PG-CONN-003 medium pass
PG-CONN-004 medium pass
PG-DUR-004 medium not_applicable
PG-REPL-003 medium not_applicable
PG-REPL-006 medium not_applicable
PG-REPL-007 medium not_applicable
PG-REPL-008 medium not_applicable
PG-REPL-015 medium not_applicable
PG-REPL-021 medium fail
PG-REPL-022 medium pass
PG-SESS-002 medium fail
PG-SESS-003 medium pass
PG-CONN-005 low pass
PG-DUR-006 low fail
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
MY-REPL-002 high not_applicable
MY-REPL-005 high pass
MY-REPL-006 high not_applicable
MY-REPL-012 high not_applicable
MY-REPL-020 high not_applicable
MY-REPL-032 high not_applicable
MY-CONN-001 medium pass
MY-CONN-004 medium not_applicable
MY-CONN-005 medium pass
MY-REPL-003 medium not_applicable
MY-REPL-004 medium not_applicable
MY-REPL-007 medium pass
MY-REPL-008 medium not_applicable
MY-REPL-021 medium not_applicable
MY-REPL-022 medium not_applicable
";
    assert_eq!(statuses_of(Kind::Mysql, Role::Primary, MARIADB1011_DEFAULTS), want);
}

#[test]
fn shipped_baseline_on_stock_mariadb_replica() {
    let want = "\
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
MY-REPL-002 high not_applicable
MY-REPL-005 high pass
MY-REPL-006 high not_applicable
MY-REPL-012 high not_applicable
MY-REPL-020 high fail
MY-REPL-032 high pass
MY-CONN-001 medium pass
MY-CONN-004 medium not_applicable
MY-CONN-005 medium pass
MY-REPL-003 medium not_applicable
MY-REPL-004 medium not_applicable
MY-REPL-007 medium pass
MY-REPL-008 medium not_applicable
MY-REPL-021 medium not_applicable
MY-REPL-022 medium fail
";
    assert_eq!(statuses_of(Kind::Mysql, Role::Replica, MARIADB1011_DEFAULTS), want);
}
