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

fn statuses(role: Role) -> String {
    let set = shipped();
    let (snap, state) = snapshot(role, PG15_DEFAULTS);
    let labels = BTreeMap::new();
    let target = TargetFacts { name: "db1", kind: Kind::Postgres, role, labels: &labels };
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
            ("memcached/security.toml", "memcached-security"),
            ("postgres/durability.toml", "postgres-durability"),
            ("postgres/replication.toml", "postgres-replication"),
            ("postgres/sessions.toml", "postgres-sessions"),
            ("redis/replication.toml", "redis-replication"),
            ("redis/resources.toml", "redis-resources"),
            ("redis/security.toml", "redis-security"),
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
PG-REPL-001 critical pass
PG-DUR-002 high pass
PG-DUR-005 high not_applicable
PG-REPL-002 high pass
PG-REPL-004 high fail
PG-REPL-020 high not_applicable
PG-DUR-004 medium fail
PG-REPL-003 medium pass
PG-REPL-006 medium not_applicable
PG-REPL-007 medium not_applicable
PG-REPL-008 medium pass
PG-REPL-021 medium not_applicable
PG-REPL-022 medium not_applicable
PG-SESS-002 medium fail
PG-SESS-003 medium pass
PG-DUR-006 low fail
PG-REPL-005 low fail
PG-SESS-001 low fail
PG-SESS-004 low pass
";
    assert_eq!(statuses(Role::Primary), want);
}

#[test]
fn shipped_baseline_on_stock_pg15_replica() {
    let want = "\
PG-DUR-001 critical pass
PG-DUR-003 critical pass
PG-REPL-001 critical pass
PG-DUR-002 high pass
PG-DUR-005 high not_applicable
PG-REPL-002 high not_applicable
PG-REPL-004 high not_applicable
PG-REPL-020 high pass
PG-DUR-004 medium not_applicable
PG-REPL-003 medium not_applicable
PG-REPL-006 medium not_applicable
PG-REPL-007 medium not_applicable
PG-REPL-008 medium not_applicable
PG-REPL-021 medium fail
PG-REPL-022 medium pass
PG-SESS-002 medium fail
PG-SESS-003 medium pass
PG-DUR-006 low fail
PG-REPL-005 low not_applicable
PG-SESS-001 low not_applicable
PG-SESS-004 low pass
";
    assert_eq!(statuses(Role::Replica), want);
}
