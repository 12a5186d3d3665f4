//! Metric text: escaping, the lag table, and a whole page that parses line by line.

use super::*;
use crate::finding::{FindingStatus as S, Severity as Sev};
use crate::run::TargetStatus;
use crate::status::fixture::{self, *};

#[track_caller]
fn check_escape(input: &str, expect: &str) {
    assert_eq!(escape_label(input), expect);
}

#[test]
fn label_values_are_escaped_and_redacted() {
    check_escape("plain-name_1", "plain-name_1");
    check_escape(r#"a"b"#, r#"a\"b"#);
    check_escape(r"a\b", r"a\\b");
    check_escape("a\nb", r"a\nb");
    check_escape("postgres://u:hunter2@h/x", "postgres://u:[REDACTED]@h/x");
    check_escape("host=h password=hunter2", "host=h password=[REDACTED]");
}

#[track_caller]
fn check_lags(target: &str, state: &[(&str, &str)], expect: &[(&str, f64)]) {
    let t = with_state(fixture::target(target, TargetStatus::Ok), state);
    let got = replication_lags(target, &t.state);
    let expect: Vec<(String, f64)> = expect.iter().map(|(r, s)| ((*r).to_owned(), *s)).collect();
    assert_eq!(got, expect);
}

#[test]
fn lag_keys() {
    check_lags(
        "primary",
        &[
            ("state.replica.r1.replay_lag_s", "0.25"),
            ("state.replica.r1.write_lag_s", "9"),
            ("state.replica.r2.replay_lag_s", "3"),
            ("state.replica.r3.replay_lag_s", "not a number"),
        ],
        &[("r1", 0.25), ("r2", 3.0)],
    );
    check_lags("standby", &[("state.replication.replay_lag_s", "12.5")], &[("standby", 12.5)]);
    check_lags("standby", &[("state.replication.replay_lag_bytes", "100")], &[]);
}

/// Every non-comment line is `name{labels} value` with a parseable value.
#[track_caller]
fn parse(page: &str) -> Vec<(String, String, f64)> {
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$"#,
    )
    .unwrap();
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let c = sample.captures(l).unwrap_or_else(|| panic!("bad sample line: {l:?}"));
            let value = c[3].parse::<f64>().unwrap_or_else(|_| panic!("bad value: {l:?}"));
            (c[1].to_owned(), c.get(2).map_or("", |m| m.as_str()).to_owned(), value)
        })
        .collect()
}

#[test]
fn page_from_a_run() {
    let mut primary = with_state(
        fixture::target("db\"1", TargetStatus::Ok),
        &[
            ("state.replica.r1.replay_lag_s", "1.5"),
            ("state.connections.in_use", "8"),
            ("state.connections.limit", "97"),
            ("state.connect_ms", "250"),
            ("state.connections.refused", "3"),
            ("state.connections.aborted_connects", "not a number"),
        ],
    );
    primary.findings = vec![
        finding("A", "setting.a", Sev::Critical, S::Fail),
        finding("B", "setting.b", Sev::Critical, S::Fail),
        finding("C", "setting.c", Sev::Low, S::Pass),
    ]
    .into();
    primary.changes = vec![change("setting.a", "on", "off")];
    let mut gone = fixture::target("gone", TargetStatus::Unreachable);
    gone.error = Some("timed out after 5s (connect_timeout) connecting to gone:5432".into());
    let mut status = Status::from_history(&[run("20261125T161500Z-0001", vec![primary, gone])]);
    status.skipped_ticks = 2;
    status.slots_lost = 3;
    let page = render(&status);
    let samples = parse(&page);
    let find = |name: &str, labels: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .unwrap_or_else(|| panic!("no {name}{labels} in\n{page}"))
            .2
    };
    assert_eq!(
        find("driftwatch_findings", r#"{target="db\"1",severity="critical",status="fail"}"#),
        2.0
    );
    assert_eq!(
        find("driftwatch_findings", r#"{target="db\"1",severity="low",status="pass"}"#),
        1.0
    );
    assert_eq!(find("driftwatch_target_up", r#"{target="db\"1",kind="postgres"}"#), 1.0);
    assert_eq!(find("driftwatch_target_up", r#"{target="gone",kind="postgres"}"#), 0.0);
    assert_eq!(find("driftwatch_replication_lag_seconds", r#"{target="db\"1",replica="r1"}"#), 1.5);
    let db1 = r#"{target="db\"1",kind="postgres"}"#;
    let gone = r#"{target="gone",kind="postgres"}"#;
    assert_eq!(find("driftwatch_connections_in_use", db1), 8.0);
    assert_eq!(find("driftwatch_connections_limit", db1), 97.0);
    assert_eq!(find("driftwatch_connect_duration_seconds", db1), 0.25);
    assert_eq!(find("driftwatch_connections_refused_total", db1), 3.0);
    assert!(!page.contains("driftwatch_connections_aborted_total{"), "not a number: no sample");
    assert!(!page.contains(r#"driftwatch_connections_in_use{target="gone""#));
    assert_eq!(find("driftwatch_connect_timeout", db1), 0.0);
    assert_eq!(find("driftwatch_connect_timeout", gone), 1.0);
    assert_eq!(find("driftwatch_last_run_timestamp_seconds", ""), 1_795_623_302.5);
    assert_eq!(find("driftwatch_last_run_duration_seconds", ""), 2.5);
    assert_eq!(find("driftwatch_last_run_success", ""), 1.0);
    assert_eq!(find("driftwatch_last_run_changes", ""), 1.0);
    assert_eq!(find("driftwatch_last_run_reports_complete", ""), 1.0);
    assert_eq!(find("driftwatch_runs_skipped_total", ""), 2.0);
    assert_eq!(find("driftwatch_slots_lost_total", ""), 3.0);
    assert_eq!(find("driftwatch_policy_bundle_info", r#"{digest="d1"}"#), 1.0);
    // Each family is announced once, before its samples.
    for (name, _, _) in &samples {
        assert_eq!(page.matches(&format!("# TYPE {name} ")).count(), 1, "{name}");
    }
}

#[test]
fn failed_run_and_empty_status() {
    let page = render(&Status::default());
    assert!(!page.contains("driftwatch_last_run_success"));
    let mut status = Status::default();
    status.record_failure(at("2026-11-25T16:15:00Z"), at("2026-11-25T16:15:01Z"), "x".into());
    let samples = parse(&render(&status));
    assert!(samples.iter().any(|(n, _, v)| n == "driftwatch_last_run_success" && *v == 0.0));
}

#[test]
fn a_committed_run_with_missing_pages_is_told_apart_from_a_failed_one() {
    let mut status = Status::default();
    let run = crate::status::fixture::run("20261125T161500Z-0001", vec![]);
    status.record(&run);
    status.record_unpublished(&run.run_id, "store put reports/index.html: no space".into());
    let samples = parse(&render(&status));
    let value = |name: &str| samples.iter().find(|(n, _, _)| n == name).map(|s| s.2);
    assert_eq!(value("driftwatch_last_run_success"), Some(1.0), "it was committed");
    assert_eq!(value("driftwatch_last_run_reports_complete"), Some(0.0));
}

#[test]
fn pooler_waits_per_pgbouncer_target() {
    let mut pooler = with_state(
        fixture::target("pb1", TargetStatus::Ok),
        &[("state.pools.cl_waiting", "3"), ("state.pools.maxwait_s", "1.5")],
    );
    pooler.kind = crate::snapshot::Kind::Pgbouncer;
    // A PostgreSQL target never has these keys; if it did, they are not pooler metrics.
    let db =
        with_state(fixture::target("db", TargetStatus::Ok), &[("state.pools.cl_waiting", "9")]);
    let status = Status::from_history(&[run("20261202T140000Z-0001", vec![pooler, db])]);
    let samples: Vec<_> = parse(&render(&status))
        .into_iter()
        .filter(|(name, _, _)| name.starts_with("driftwatch_pooler_"))
        .collect();
    assert_eq!(
        samples,
        vec![
            ("driftwatch_pooler_clients_waiting".into(), r#"{target="pb1"}"#.into(), 3.0),
            ("driftwatch_pooler_max_wait_seconds".into(), r#"{target="pb1"}"#.into(), 1.5),
        ]
    );
}

/// The shipped Grafana dashboard is JSON, and every `driftwatch_*` series it queries is
/// a family `/metrics` announces.
#[test]
fn grafana_dashboard_queries_only_metrics_that_exist() {
    let text = include_str!("../../../deploy/grafana/driftwatch.json");
    let dashboard: serde_json::Value = serde_json::from_str(text).expect("dashboard JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let t = with_state(
        fixture::target("db1", TargetStatus::Ok),
        &[("state.replica.r1.replay_lag_s", "1"), ("state.connections.in_use", "1")],
    );
    let page = render(&Status::from_history(&[run("20261125T161500Z-0001", vec![t])]));
    let name = regex::Regex::new(r"driftwatch_[a-z_]+").unwrap();
    for expr in &exprs {
        for m in name.find_iter(expr) {
            assert!(page.contains(&format!("# TYPE {} ", m.as_str())), "{} in {expr}", m.as_str());
        }
    }
    for family in ["driftwatch_replication_lag_seconds", "driftwatch_connections_in_use"] {
        assert!(exprs.iter().any(|e| e.contains(family)), "{family} not on the dashboard");
    }
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
