//! Test runs: a postgres primary and a replica that became unreachable, over two runs,
//! with every finding status, changes, a hostile value and a 5,000-character value;
//! and a large run for the size budgets.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::diff::Change;
use crate::finding::{AppliedWaiver, Finding, FindingStatus, Reference, Severity};
use crate::run::{PolicyBundle, PolicyRef, Run, RunId, Summary, TargetRun, TargetStatus};
use crate::snapshot::{Digest, Entry, Kind, Role, ServerInfo, Snapshot};

pub const HOSTILE: &str = "<script>alert(1)</script>\"'&";

pub fn long_value() -> String {
    "pg_stat_statements,".repeat(264)[..5_000].to_owned()
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("fixture time").to_utc()
}

pub fn finding(
    rule: &str,
    key: &str,
    sev: Severity,
    status: FindingStatus,
    expected: &str,
    actual: &str,
) -> Finding {
    Finding {
        rule: rule.to_owned(),
        policy: "postgres-replication".to_owned(),
        key: format!("setting.{key}"),
        severity: sev,
        status,
        expected: expected.to_owned(),
        actual: Some(actual.to_owned()),
        message: format!("{key} is {actual}, expected {expected}"),
        rationale: Some(format!("Replication needs a suitable {key}.").into()),
        remediation: Some(
            format!("ALTER SYSTEM SET {key} = '…';\nSELECT pg_reload_conf();").into(),
        ),
        references: Default::default(),
        location: Some("postgresql.conf:42".to_owned()),
        waiver: None,
        drift: Default::default(),
        restarting: None,
    }
}

fn cis(control: &str, title: &str) -> Reference {
    Reference {
        benchmark: Some("CIS PostgreSQL 16".into()),
        control: Some(control.into()),
        title: title.into(),
        url: None,
    }
}

fn bundle() -> PolicyBundle {
    PolicyBundle {
        digest: "9f2c".repeat(16),
        policies: vec![
            PolicyRef {
                name: "postgres-replication".into(),
                version: "3".into(),
                sha256: "ab12".repeat(16),
                path: "postgres/replication.toml".into(),
                pack: Some("replication".into()),
            },
            PolicyRef {
                name: "postgres-security".into(),
                version: "1".into(),
                sha256: "cd34".repeat(16),
                path: "postgres/security.toml".into(),
                pack: None,
            },
        ],
        packs: vec!["replication".into(), "connections".into()],
    }
}

pub fn target(name: &str, role: Role, collected_at: DateTime<Utc>) -> TargetRun {
    TargetRun {
        name: name.to_owned(),
        kind: Kind::Postgres,
        role,
        detected_role: Some(role),
        group: Some("orders".to_owned()),
        labels: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        address: format!("postgres://auditor@{name}:5432/postgres"),
        status: TargetStatus::Ok,
        error: None,
        server_version: Some("15.20".to_owned()),
        snapshot: Some(Digest("e3b0".repeat(16))),
        previous_snapshot: None,
        collected_at,
        duration_ms: 850,
        state: Default::default(),
        findings: Default::default(),
        changes: vec![],
        preflight: vec![],
        detail: Default::default(),
    }
}

fn unreachable(mut t: TargetRun) -> TargetRun {
    t.status = TargetStatus::Unreachable;
    t.error = Some("connection refused (os error 111) <b>".to_owned());
    t.detected_role = None;
    t.server_version = None;
    t.snapshot = None;
    t
}

pub fn run(id: &str, started: &str, previous: Option<&str>, targets: Vec<TargetRun>) -> Run {
    let started_at = at(started);
    Run {
        run_id: RunId(id.to_owned()),
        started_at,
        finished_at: started_at + Duration::seconds(42),
        trigger: "schedule".into(),
        driftwatch_version: "0.1.0".into(),
        policy_bundle: bundle(),
        previous_run: previous.map(|p| RunId(p.to_owned())),
        summary: Summary::of(&targets),
        targets,
        slot: None,
    }
}

use FindingStatus::*;
use Severity::*;

/// The earlier run: both targets collected.
pub fn first_run() -> Run {
    let t0 = at("2026-11-24T16:15:05Z");
    let mut primary = target("pg-primary", Role::Primary, t0);
    primary.findings = vec![
        finding("PG-REPL-001", "wal_level", High, Pass, "one of replica, logical", "replica"),
        finding("PG-REPL-002", "max_wal_senders", Medium, Fail, "\u{2265} 10", "5"),
        finding("PG-CONN-001", "max_connections", Low, Fail, "\u{2265} 200", "100"),
        finding("PG-SEC-001", "ssl", Critical, Pass, "on", "on"),
        finding("PG-REPL-003", "hot_standby", Low, NotApplicable, "on", "on"),
    ]
    .into();
    let mut replica = target("pg-replica-2", Role::Replica, t0);
    replica.findings = vec![finding("PG-REPL-003", "hot_standby", Low, Pass, "on", "on")].into();
    run("20261124T161500Z-0001", "2026-11-24T16:15:00Z", None, vec![primary, replica])
}

/// The run being published: the replica is unreachable, the primary drifted.
pub fn second_run() -> Run {
    let t0 = at("2026-11-25T16:15:04Z");
    let mut primary = target("pg-primary", Role::Primary, t0);
    let mut hostile =
        finding("PG-APP-001", "application_name", Medium, Fail, "driftwatch", HOSTILE);
    hostile.message = format!("application_name is {HOSTILE}");
    hostile.references = vec![
        Reference {
            benchmark: Some(format!("CIS {HOSTILE}")),
            control: Some("9.9".into()),
            title: format!("Ensure {HOSTILE}"),
            url: None,
        },
        Reference {
            benchmark: None,
            control: None,
            title: "PostgreSQL docs: application_name".into(),
            url: Some(
                "https://www.postgresql.org/docs/15/runtime-config-logging.html?a=1&b=2".into(),
            ),
        },
    ]
    .into();
    let mut expired =
        finding("PG-AUTH-001", "password_encryption", High, Fail, "scram-sha-256", "md5");
    expired.policy = "postgres-security".into();
    expired.waiver = Some(AppliedWaiver {
        reason: "legacy client until migration".into(),
        expires: "2026-11-20".into(),
        expired: true,
    });
    let mut waived = finding("PG-LOG-001", "log_statement", Low, Waived, "ddl", "none");
    waived.waiver = Some(AppliedWaiver {
        reason: "noise during the migration".into(),
        expires: "2026-12-01".into(),
        expired: false,
    });
    waived.references = vec![cis("3.1.20", "Ensure 'log_statement' is set correctly")].into();
    let mut error = finding("PG-MEM-001", "work_mem", Medium, Error, "\u{2264} 64MB", "4x");
    error.references = vec![cis("3.1.2", "Ensure the log destinations are set correctly")].into();
    error.message = "work_mem value 4x does not parse as a size".into();
    let mut long = finding(
        "PG-EXT-001",
        "shared_preload_libraries",
        Info,
        Pass,
        "contains pg_stat_statements",
        "",
    );
    long.actual = Some(long_value());
    let mut wal_level =
        finding("PG-REPL-001", "wal_level", High, Pass, "one of replica, logical", "replica");
    wal_level.references = vec![Reference {
        url: Some("https://www.postgresql.org/docs/15/runtime-config-wal.html".into()),
        ..cis("6.9", "Ensure WAL archiving is configured")
    }]
    .into();
    primary.findings = vec![
        wal_level,
        finding("PG-REPL-002", "max_wal_senders", Medium, Fail, "\u{2265} 10", "8"),
        finding("PG-CONN-001", "max_connections", Low, Pass, "\u{2265} 200", "200"),
        finding("PG-SEC-001", "ssl", Critical, Fail, "on", "off"),
        finding("PG-REPL-003", "hot_standby", Low, NotApplicable, "on", "on"),
        hostile,
        expired,
        waived,
        error,
        long,
    ]
    .into();
    primary.changes = vec![
        Change {
            key: "setting.ssl".into(),
            before: Some("on".into()),
            after: Some("off".into()),
            location: Some("postgresql.auto.conf:3".into()),
            previous_location: Some("postgresql.conf:101".into()),
            rollback: Some("ALTER SYSTEM RESET ssl;".into()),
        },
        Change {
            key: "setting.max_wal_senders".into(),
            before: Some("5".into()),
            after: Some("8".into()),
            location: Some("postgresql.conf:88".into()),
            previous_location: Some("postgresql.conf:88".into()),
            rollback: None,
        },
        Change {
            key: "setting.application_name".into(),
            before: None,
            after: Some(HOSTILE.into()),
            location: Some("command line".into()),
            previous_location: None,
            rollback: None,
        },
        Change {
            key: "setting.shared_preload_libraries".into(),
            before: Some("pg_stat_statements".into()),
            after: Some(long_value()),
            location: Some("postgresql.conf:12".into()),
            previous_location: Some("postgresql.conf:12".into()),
            rollback: None,
        },
    ];
    let replica = unreachable(target("pg-replica-2", Role::Replica, t0));
    run(
        "20261125T161500Z-3f9a",
        "2026-11-25T16:15:00Z",
        Some("20261124T161500Z-0001"),
        vec![primary, replica],
    )
}

/// The current snapshot of the primary (the replica has none: it was unreachable).
pub fn snapshots() -> BTreeMap<String, Snapshot> {
    let mut config = BTreeMap::new();
    let mut put = |key: &str, e: Entry, file: &str, line: u32| {
        let mut e = e;
        e.source = Some("configuration file".into());
        e.source_file = Some(file.into());
        e.source_line = Some(line);
        config.insert(format!("setting.{key}"), e);
    };
    put("wal_level", Entry::new("replica"), "postgresql.conf", 20);
    put("max_wal_senders", Entry::new("8"), "postgresql.conf", 88);
    put("max_connections", Entry::new("200"), "postgresql.conf", 64);
    put("ssl", Entry::new("off"), "postgresql.auto.conf", 3);
    put("shared_buffers", Entry::new("16384").with_unit("8kB"), "postgresql.conf", 30);
    put("application_name", Entry::new(HOSTILE), "postgresql.conf", 7);
    put("cluster_name", Entry::new("main\u{0}x"), "postgresql.conf", 8);
    put("shared_preload_libraries", Entry::new(long_value()), "postgresql.conf", 12);
    let snap = Snapshot {
        target: "pg-primary".into(),
        kind: Kind::Postgres,
        server: ServerInfo { version: "15.20".into(), role: Role::Primary },
        config,
    };
    BTreeMap::from([("pg-primary".to_owned(), snap)])
}

/// A run with 10 targets × 100 findings, 10 failing on each.
pub fn big_run() -> Run {
    let t0 = at("2026-11-25T16:15:04Z");
    let targets = (0..10)
        .map(|i| {
            let mut t = target(&format!("pg-{i:02}"), Role::Primary, t0);
            t.findings = (0..100)
                .map(|j| {
                    let (status, actual) = if j % 10 == 0 { (Fail, "5") } else { (Pass, "on") };
                    let rule = format!("PG-RULE-{j:03}");
                    finding(
                        &rule,
                        &format!("setting_number_{j}"),
                        Medium,
                        status,
                        "\u{2265} 10",
                        actual,
                    )
                })
                .collect::<Vec<_>>()
                .into();
            t
        })
        .collect();
    run("20261125T161500Z-b16b", "2026-11-25T16:15:00Z", None, targets)
}
