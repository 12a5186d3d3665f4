//! `check` on in-memory files: live-only rules, locations of defaults and written values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::*;
use crate::collect::conffile::{self, MemoryFiles};
use crate::policy::{PolicySource, parse};

const POLICY: &str = r#"[policy]
name = "p"
version = "1"
applies_to = { kind = "postgres" }

[[rule]]
id = "R-FSYNC"
key = "setting.fsync"
expect = { equals = true }
severity = "critical"

[[rule]]
id = "R-BUFFERS"
key = "setting.shared_buffers"
expect = { min = "256MB" }
severity = "medium"

[[rule]]
id = "R-LAG"
key = "state.replication.replay_lag_bytes"
expect = { max = 1000 }
severity = "high"

[[rule]]
id = "R-VERSION"
key = "server.version"
expect = { matches = "^15" }
severity = "info"

[[rule]]
id = "R-WHEN"
key = "setting.hot_standby"
expect = { equals = true }
severity = "low"
when = { key = "state.wal_receiver.status", equals = "streaming" }
"#;

/// Checks `conf` (at `/etc/pg/postgresql.conf`); one `rule status file:line` per
/// finding, sorted by rule id.
#[track_caller]
fn check_conf(conf: &str, expect: &str) {
    let set = parse(vec![PolicySource {
        path: "p.toml".into(),
        file: PathBuf::from("p.toml"),
        text: POLICY.into(),
    }])
    .unwrap_or_else(|d| panic!("{d}"));
    let path = Path::new("/etc/pg/postgresql.conf");
    let files = MemoryFiles::new([("/etc/pg/postgresql.conf", conf)]);
    let snapshot = conffile::snapshot(Kind::Postgres, path, Role::Primary, &files).unwrap();
    let list = [path.to_owned()];
    let labels = BTreeMap::new();
    let adjusted = BTreeMap::new();
    let subject = Subject {
        files: &list,
        target: "db",
        role: Role::Primary,
        labels: &labels,
        adjusted: &adjusted,
    };
    let report = check(&set, &snapshot, &subject, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
    let mut got: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{}{}",
                f.finding.rule,
                f.finding.status,
                f.file,
                f.line,
                if f.default { " default" } else { "" }
            )
        })
        .collect();
    got.sort();
    assert_eq!(got.join("\n"), expect.trim());
}

#[test]
fn values_written_defaults_and_live_only_rules() {
    check_conf(
        "# tuned\nshared_buffers = 512MB\n",
        "R-BUFFERS pass /etc/pg/postgresql.conf:2\nR-FSYNC pass /etc/pg/postgresql.conf:1 default\nR-LAG not_applicable /etc/pg/postgresql.conf:1\nR-VERSION not_applicable /etc/pg/postgresql.conf:1\nR-WHEN not_applicable /etc/pg/postgresql.conf:1 default",
    );
    check_conf(
        "fsync = off\nshared_buffers = 128MB\n",
        "R-BUFFERS fail /etc/pg/postgresql.conf:2\nR-FSYNC fail /etc/pg/postgresql.conf:1\nR-LAG not_applicable /etc/pg/postgresql.conf:1\nR-VERSION not_applicable /etc/pg/postgresql.conf:1\nR-WHEN not_applicable /etc/pg/postgresql.conf:1 default",
    );
}

#[test]
fn live_only_reasons() {
    let set = parse(vec![PolicySource {
        path: "p.toml".into(),
        file: PathBuf::from("p.toml"),
        text: POLICY.into(),
    }])
    .unwrap();
    let why: Vec<String> = set.policies()[0]
        .rules
        .iter()
        .map(|r| format!("{}: {:?}", r.id, needs_live_server(r)))
        .collect();
    assert_eq!(
        why,
        [
            "R-FSYNC: None",
            "R-BUFFERS: None",
            "R-LAG: Some(\"state.replication.replay_lag_bytes is read from the running server\")",
            "R-VERSION: Some(\"server.version is read from the running server\")",
            "R-WHEN: Some(\"its condition reads state.wal_receiver.status from the running server\")",
        ]
    );
}

#[test]
fn junit_and_text_escape_xml() {
    assert_eq!(
        output::xml_escape("a<b & \"c\"\n'd'\u{1}"),
        "a&lt;b &amp; &quot;c&quot;&#10;&apos;d&apos;\u{fffd}"
    );
}
