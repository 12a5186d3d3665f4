//! Pre-flight over small groups: who restarts, who breaks, and what stays quiet.

use std::path::PathBuf;

use super::*;
use crate::policy::tests::{snapshot, today};
use crate::policy::{PolicySource, parse};

const RULES: &str = r#"
[policy]
name = "topology"
version = "1"
applies_to = { kind = "postgres" }

[[rule]]
id = "T-MORE"
key = "setting.max_connections"
expect = { at_least = "primary" }
severity = "critical"
roles = ["replica"]

[[rule]]
id = "T-WAL"
key = "setting.wal_level"
expect = { one_of = ["replica", "logical"] }
severity = "critical"

[[rule]]
id = "T-MEM"
key = "setting.work_mem"
expect = { max = "64MB" }
severity = "medium"
"#;

fn set() -> PolicySet {
    parse(vec![PolicySource {
        path: "t.toml".into(),
        file: PathBuf::from("t.toml"),
        text: RULES.into(),
    }])
    .unwrap_or_else(|d| panic!("{d}"))
}

/// `(name, role, settings)`; a `pending.<x> = v` line becomes a pending-restart value,
/// `flag.<x>` marks `setting.<x>` pending_restart without a visible value.
fn member(role: Role, lines: &str) -> (Snapshot, State) {
    let plain: String = lines
        .lines()
        .filter(|l| !l.trim().starts_with("flag."))
        .map(|l| format!("{l}\n"))
        .collect();
    let (mut snap, state) = snapshot(role, &plain);
    for (key, e) in snap.config.iter_mut() {
        if key.starts_with(PENDING_PREFIX) {
            e.pending = Some(PendingKind::Restart);
            e.source_file = Some("postgresql.auto.conf".into());
            e.source_line = Some(3);
        }
    }
    for l in lines.lines().filter_map(|l| l.trim().strip_prefix("flag.")) {
        snap.config.get_mut(&format!("setting.{}", l.trim())).unwrap().pending_restart = true;
    }
    (snap, state)
}

/// One `target rule status drift restarting` line per pre-flight finding, then each
/// finding's message.
fn run(members: &[(&str, Role, &str)]) -> (Vec<String>, Vec<String>) {
    let set = set();
    let labels = Default::default();
    let data: Vec<(&str, Role, Snapshot, State)> = members
        .iter()
        .map(|(n, r, l)| {
            let (s, st) = member(*r, l);
            (*n, *r, s, st)
        })
        .collect();
    let live_members: Vec<Member<'_>> = data
        .iter()
        .map(|(n, r, s, st)| Member { name: n, role: *r, snapshot: s, state: st })
        .collect();
    let group = Group { name: "g", members: &live_members, not_collected: &[] };
    let facts: Vec<TargetFacts<'_>> = data
        .iter()
        .map(|(n, r, _, _)| TargetFacts {
            name: n,
            kind: Kind::Postgres,
            role: *r,
            labels: &labels,
        })
        .collect();
    let live: Vec<Vec<Finding>> = data
        .iter()
        .zip(&facts)
        .map(|((_, _, s, st), f)| evaluate_in(&set, f, s, st, Some(&group), None, today()))
        .collect();
    let subjects: Vec<Subject<'_>> = data
        .iter()
        .zip(&facts)
        .zip(&live)
        .map(|(((_, _, s, st), f), l)| Subject {
            facts: *f,
            snapshot: s,
            state: st,
            earlier: None,
            live: l,
        })
        .collect();
    let got = evaluate(&set, Some("g"), &subjects, &[], today());
    let mut lines = Vec::new();
    let mut messages = Vec::new();
    for s in &subjects {
        for f in &got[s.facts.name] {
            lines.push(format!(
                "{} {} {} {} {}",
                s.facts.name,
                f.rule,
                f.status,
                f.drift.as_str(),
                f.restarting.as_deref().unwrap_or("-")
            ));
            messages.push(f.message.clone());
        }
    }
    (lines, messages)
}

const STANDBY: &str = "max_connections = 100\nwal_level = replica\nwork_mem = 4096 kB";

#[test]
fn nothing_pending_nothing_to_say() {
    let (lines, _) = run(&[("p", Role::Primary, STANDBY), ("r", Role::Replica, STANDBY)]);
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn primary_raising_a_hot_standby_setting_pauses_the_standby() {
    let primary = format!("{STANDBY}\npending.max_connections = 200");
    let (lines, messages) = run(&[("p", Role::Primary, &primary), ("r", Role::Replica, STANDBY)]);
    assert_eq!(lines, ["r T-MORE fail pending p"]);
    assert!(
        messages[0].contains("After the primary p restarts, standby r pauses replay"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("postgresql.auto.conf:3"), "{}", messages[0]);
}

#[test]
fn standby_lowering_a_hot_standby_setting_will_not_start() {
    let standby = format!("{STANDBY}\npending.max_connections = 50");
    let (lines, messages) = run(&[("p", Role::Primary, STANDBY), ("r", Role::Replica, &standby)]);
    assert_eq!(lines, ["r T-MORE fail pending r"]);
    assert!(messages[0].starts_with("Standby r will refuse to start"), "{}", messages[0]);
}

#[test]
fn pending_wal_level_minimal_names_the_standbys() {
    let primary = format!("{STANDBY}\npending.wal_level = minimal");
    let (lines, messages) = run(&[("p", Role::Primary, &primary), ("r", Role::Replica, STANDBY)]);
    assert_eq!(lines, ["p DW-PREFLIGHT-001 fail pending p"]);
    assert!(messages[0].contains("standbys r can no longer follow"), "{}", messages[0]);
}

#[test]
fn own_pending_value_fails_a_plain_rule() {
    let primary = format!("{STANDBY}\npending.work_mem = 131072 kB");
    let (lines, messages) = run(&[("p", Role::Primary, &primary), ("r", Role::Replica, STANDBY)]);
    assert_eq!(lines, ["p T-MEM fail pending p"]);
    assert!(
        messages[0].starts_with("After p restarts, work_mem becomes 131072 kB"),
        "{}",
        messages[0]
    );
}

#[test]
fn an_invisible_pending_value_is_an_error_not_a_pass() {
    let primary = format!("{STANDBY}\nflag.max_connections");
    let (lines, messages) = run(&[("p", Role::Primary, &primary), ("r", Role::Replica, STANDBY)]);
    assert_eq!(lines, ["r T-MORE error pending p"]);
    assert!(messages[0].contains("GRANT SELECT ON pg_file_settings"), "{}", messages[0]);
}

#[test]
fn a_pending_value_that_fixes_things_is_not_a_preflight_finding() {
    let standby = "max_connections = 50\nwal_level = replica\nwork_mem = 4096 kB\npending.max_connections = 100";
    let (lines, _) = run(&[("p", Role::Primary, STANDBY), ("r", Role::Replica, standby)]);
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn restarted_applies_values_and_keeps_provenance() {
    let (snap, _) = member(Role::Primary, "max_connections = 100\npending.max_connections = 200");
    let r = restarted(&snap);
    let e = &r.snapshot.config["setting.max_connections"];
    assert_eq!(
        (e.value.as_str(), e.location().as_deref()),
        ("200", Some("postgresql.auto.conf:3"))
    );
    assert!(!r.snapshot.config.contains_key("pending.max_connections"));
    assert_eq!(r.changed.get("setting.max_connections"), Some(&PendingKind::Restart));
}

#[test]
fn awaits_restart_agrees_with_restarted() {
    let cases = [
        ("max_connections = 100\nwal_level = replica", false),
        ("max_connections = 100\npending.max_connections = 200", true),
        ("max_connections = 100\nflag.max_connections", true),
        // A key that sorts right after the `pending.` range is no pending value.
        ("max_connections = 100\npendingx = 1", false),
    ];
    for (lines, expected) in cases {
        let (snap, _) = member(Role::Primary, lines);
        assert_eq!(awaits_restart(&snap), expected, "{lines}");
        let r = restarted(&snap);
        assert_eq!(!(r.changed.is_empty() && r.unknown.is_empty()), expected, "{lines}");
    }
}
