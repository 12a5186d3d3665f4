//! Run-to-run diffing and webhook bodies.

use super::*;
use crate::finding::{FindingStatus as S, Severity as Sev};
use crate::status::fixture::{self, change, finding, run};

fn ok_target(name: &str, findings: Vec<Finding>) -> TargetRun {
    let mut t = fixture::target(name, TargetStatus::Ok);
    t.findings = findings.into();
    t
}

fn prev(t: &TargetRun) -> Previous {
    Previous {
        status: Some(t.status),
        collected: (t.status == TargetStatus::Ok).then(|| t.clone()),
    }
}

/// `events` of `current` against `before`, each rendered as a short line.
#[track_caller]
fn check(before: &[TargetRun], current: Vec<TargetRun>, expect: &[&str]) {
    let previous: BTreeMap<String, Previous> =
        before.iter().map(|t| (t.name.clone(), prev(t))).collect();
    let got: Vec<String> = events(&previous, &run("20261125T161500Z-0002", current))
        .iter()
        .map(|e| match e {
            Event::NewFailure { target, rule, before, after, .. } => {
                format!("new {target} {rule} {before:?}->{after:?}")
            }
            Event::Resolved { target, rule, status, .. } => {
                format!("resolved {target} {rule} {status}")
            }
            Event::Change { target, key, before, after, .. } => {
                format!("change {target} {key} {before:?}->{after:?}")
            }
            Event::Unreachable { target, status, .. } => {
                format!("down {target} {}", status.as_str())
            }
        })
        .collect();
    assert_eq!(got, expect);
}

#[test]
fn first_sight_reports_current_failures() {
    check(
        &[],
        vec![ok_target(
            "a",
            vec![
                finding("R1", "setting.x", Sev::High, S::Fail),
                finding("R2", "setting.y", Sev::Low, S::Pass),
            ],
        )],
        &["new a R1 None->Some(\"off\")"],
    );
}

#[test]
fn unchanged_failures_are_not_repeated() {
    let a = ok_target("a", vec![finding("R1", "setting.x", Sev::High, S::Fail)]);
    check(std::slice::from_ref(&a), vec![a.clone()], &[]);
}

#[test]
fn new_and_resolved_failures() {
    let mut was_passing = finding("R2", "setting.y", Sev::Critical, S::Pass);
    was_passing.actual = Some("on".into());
    let before = ok_target("a", vec![finding("R1", "setting.x", Sev::High, S::Fail), was_passing]);
    let now = ok_target(
        "a",
        vec![
            finding("R1", "setting.x", Sev::High, S::Waived),
            finding("R2", "setting.y", Sev::Critical, S::Fail),
        ],
    );
    check(&[before], vec![now], &["new a R2 Some(\"on\")->Some(\"off\")", "resolved a R1 waived"]);
}

#[test]
fn a_rule_that_disappears_is_resolved_as_absent() {
    let before = ok_target("a", vec![finding("R1", "setting.x", Sev::High, S::Fail)]);
    check(&[before], vec![ok_target("a", vec![])], &["resolved a R1 absent"]);
}

#[test]
fn changes_are_reported() {
    let mut now = ok_target("a", vec![]);
    now.changes = vec![change("setting.wal_level", "replica", "minimal")];
    check(
        &[ok_target("a", vec![])],
        vec![now],
        &["change a setting.wal_level Some(\"replica\")->Some(\"minimal\")"],
    );
}

#[test]
fn unreachable_once_then_quiet_and_findings_kept_across_the_outage() {
    let up = ok_target("a", vec![finding("R1", "setting.x", Sev::High, S::Fail)]);
    let down = fixture::target("a", TargetStatus::Unreachable);
    check(std::slice::from_ref(&up), vec![down.clone()], &["down a unreachable"]);
    check(&[], vec![down.clone()], &["down a unreachable"]);
    // Still down: nothing new.
    let previous: BTreeMap<String, Previous> = [(
        "a".to_owned(),
        Previous { status: Some(TargetStatus::Unreachable), collected: Some(up.clone()) },
    )]
    .into();
    assert!(events(&previous, &run("r", vec![down])).is_empty());
    // Back up with the same failure: compared with the last collection, nothing new.
    assert!(events(&previous, &run("r", vec![up])).is_empty());
}

fn sample_events() -> (Run, Vec<Event>) {
    let mut now = ok_target("db1", vec![finding("R1", "setting.fsync", Sev::Critical, S::Fail)]);
    now.changes = vec![change("setting.fsync", "on", "<off>")];
    let r =
        run("20261125T161500Z-0002", vec![now, fixture::target("gone", TargetStatus::Unreachable)]);
    let e = events(&BTreeMap::new(), &r);
    (r, e)
}

#[test]
fn json_body_names_everything() {
    let (r, e) = sample_events();
    let chosen = select(&e, &NotifyEvent::ALL.into_iter().collect());
    let url = report_url(Some("https://dw.example.com"), &r);
    let body = json_body(&r, &chosen, url.as_deref());
    assert_eq!(body["run_id"], "20261125T161500Z-0002");
    assert_eq!(
        body["report_url"],
        "https://dw.example.com/reports/runs/20261125T161500Z-0002.html"
    );
    assert_eq!(body["counts"]["new_failures"], 1);
    assert_eq!(body["counts"]["unreachable"], 1);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["event"], "new_failure");
    assert_eq!(events[0]["target"], "db1");
    assert_eq!(events[0]["severity"], "critical");
    assert_eq!(events[0]["key"], "setting.fsync");
    assert_eq!(events[0]["after"], "off");
    assert_eq!(events[1]["event"], "change");
    assert_eq!(events[1]["before"], "on");
    assert_eq!(events[2]["event"], "unreachable");
    assert_eq!(events[2]["error"], "connection refused");
}

#[test]
fn webhooks_get_only_what_they_asked_for() {
    let (_, e) = sample_events();
    let only_down = select(&e, &[NotifyEvent::Unreachable].into());
    assert_eq!(only_down.len(), 1);
    assert!(select(&e, &[NotifyEvent::Resolved].into()).is_empty());
}

#[test]
fn slack_body_is_escaped_and_linked() {
    let (r, e) = sample_events();
    let chosen: Vec<&Event> = e.iter().collect();
    let body = slack_body(&r, &chosen, Some("https://dw/reports/runs/x.html"));
    assert!(body["text"].as_str().unwrap().contains("1 new failures"));
    let all = body["blocks"].to_string();
    assert!(all.contains("&lt;off&gt;") && !all.contains("<off>"), "{all}");
    assert!(all.contains("<https://dw/reports/runs/x.html|View the report>"));
    assert!(all.contains("CRITICAL") && all.contains("setting.fsync") && all.contains("gone"));
}
