//! Evaluation tests: small policies evaluated against hand-built snapshots, the bundle
//! digest, and the shipped `policies/postgres/` baseline against a stock
//! PostgreSQL 15.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::*;
use crate::snapshot::ServerInfo;

const HEADER: &str =
    "[policy]\nname = \"p\"\nversion = \"1\"\napplies_to = { kind = \"postgres\" }\n";

fn source(path: &str, text: &str) -> PolicySource {
    PolicySource { path: path.into(), file: PathBuf::from(path), text: text.into() }
}

pub(crate) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

/// A snapshot from `key = value [unit]` lines; keys without a namespace are settings.
pub(crate) fn snapshot(role: Role, lines: &str) -> (Snapshot, State) {
    let mut config = BTreeMap::new();
    let mut state = State::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, rest) = line.split_once('=').unwrap();
        let (key, rest) = (key.trim(), rest.trim());
        let mut entry = match rest.split_once(' ') {
            Some((v, u)) => Entry::new(v).with_unit(u),
            None => Entry::new(rest),
        };
        entry.source = Some("default".into());
        let key = if key.contains('.') { key.to_owned() } else { format!("setting.{key}") };
        if key.starts_with("state.") {
            state.insert(key, entry);
        } else {
            config.insert(key, entry);
        }
    }
    let server = ServerInfo { version: "15.20".into(), role };
    (Snapshot { target: "db1".into(), kind: Kind::Postgres, server, config }, state)
}

fn summary(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} {} {}: {}\n", f.rule, f.severity, f.status, f.message))
        .collect()
}

/// Evaluate `rules` (TOML after the `[policy]` header) on a target `db1` with `role`
/// and the `settings`; compare one line per finding.
#[track_caller]
fn check(rules: &str, role: Role, settings: &str, expect: &str) {
    let set = parse(vec![source("p.toml", &format!("{HEADER}{rules}"))])
        .unwrap_or_else(|d| panic!("{d}"));
    let (snap, state) = snapshot(role, settings);
    let labels = BTreeMap::new();
    let target = TargetFacts { name: "db1", kind: Kind::Postgres, role, labels: &labels };
    let got = summary(&evaluate(&set, &target, &snap, &state, today()));
    let want: String =
        expect.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
    assert_eq!(got, want, "\n{got}");
}

fn rule(key: &str, expect: &str, extra: &str) -> String {
    format!(
        "[[rule]]\nid = \"R\"\nkey = \"{key}\"\nexpect = {expect}\nseverity = \"high\"\n{extra}\n"
    )
}

#[test]
fn pass_and_fail_messages() {
    let r = rule("setting.shared_buffers", r#"{ min = "64MB" }"#, "");
    check(
        &r,
        Role::Primary,
        "shared_buffers = 16384 8kB",
        "R high pass: setting.shared_buffers is 16384 8kB (128MB), which satisfies ≥ 64MB.",
    );
    check(
        &r,
        Role::Primary,
        "shared_buffers = 1024 8kB",
        "R high fail: setting.shared_buffers is 1024 8kB (8MB); expected ≥ 64MB.",
    );
}

#[test]
fn dimension_mismatch_is_error() {
    let r = rule("setting.shared_buffers", r#"{ min = "5min" }"#, "");
    check(
        &r,
        Role::Primary,
        "shared_buffers = 16384 8kB",
        "R high error: Could not compare setting.shared_buffers (16384 8kB (128MB)) with ≥ 5min: expected a time value but the server reports a memory value.",
    );
}

#[test]
fn missing_modes() {
    let with = |m: &str| rule("setting.gone", "{ equals = 1 }", &format!("missing = \"{m}\""));
    check(
        &rule("setting.gone", "{ equals = 1 }", ""),
        Role::Primary,
        "",
        "R high error: setting.gone is absent from the snapshot; expected = 1.",
    );
    check(
        &with("error"),
        Role::Primary,
        "",
        "R high error: setting.gone is absent from the snapshot; expected = 1.",
    );
    check(&with("fail"), Role::Primary, "", "R high fail: setting.gone is absent; expected = 1.");
    check(
        &with("pass"),
        Role::Primary,
        "",
        "R high pass: setting.gone is absent, which the rule accepts.",
    );
    check(
        &with("not_applicable"),
        Role::Primary,
        "",
        "R high not_applicable: Not applicable: setting.gone is absent on this server.",
    );
}

#[test]
fn present_and_absent() {
    check(
        &rule("setting.x", "{ present = true }", ""),
        Role::Primary,
        "",
        "R high fail: setting.x is absent; expected present.",
    );
    check(
        &rule("setting.x", "{ absent = true }", ""),
        Role::Primary,
        "",
        "R high pass: setting.x is absent, which satisfies absent.",
    );
    check(
        &rule("setting.x", "{ absent = true }", ""),
        Role::Primary,
        "x = 1",
        "R high fail: setting.x is 1; expected absent.",
    );
}

#[test]
fn when_precondition() {
    let r = rule(
        "setting.archive_command",
        r"{ matches = '\S' }",
        r#"when = { key = "setting.archive_mode", one_of = ["on", "always"] }"#,
    );
    check(
        &r,
        Role::Primary,
        "archive_mode = on\narchive_command = cp",
        r"R high pass: setting.archive_command is cp, which satisfies matches \S.",
    );
    check(
        &r,
        Role::Primary,
        "archive_mode = on\narchive_command =",
        r"R high fail: setting.archive_command is ''; expected matches \S.",
    );
    check(
        &r,
        Role::Primary,
        "archive_mode = off",
        "R high not_applicable: Not applicable: setting.archive_mode is off, and the rule applies only when it is one of on, always.",
    );
    check(
        &r,
        Role::Primary,
        "",
        "R high not_applicable: Not applicable: setting.archive_mode is absent, and the rule applies only when it is one of on, always.",
    );
    let r = rule("setting.a", "{ equals = 1 }", r#"when = { key = "setting.b", min = "1GB" }"#);
    check(
        &r,
        Role::Primary,
        "a = 1\nb = 5 s",
        "R high error: Could not evaluate the precondition on setting.b: expected a memory value but the server reports a time value.",
    );
}

#[test]
fn roles_filter() {
    let r = rule("setting.hot_standby", "{ equals = true }", r#"roles = ["replica"]"#);
    check(
        &r,
        Role::Replica,
        "hot_standby = on",
        "R high pass: setting.hot_standby is on, which satisfies = true.",
    );
    check(
        &r,
        Role::Primary,
        "hot_standby = on",
        "R high not_applicable: Applies only to replica targets; db1 is declared primary.",
    );
}

#[test]
fn server_and_state_keys() {
    let rules = format!(
        "{}{}",
        rule("server.role", r#"{ equals = "primary" }"#, ""),
        rule("state.replication_lag", r#"{ max = "30s" }"#, "").replace("\"R\"", "\"S\""),
    );
    check(
        &rules,
        Role::Primary,
        "state.replication_lag = 45 s",
        "R high pass: server.role is primary, which satisfies = primary.\nS high fail: state.replication_lag is 45 s; expected ≤ 30s.",
    );
}

#[test]
fn findings_sorted_by_severity_then_id() {
    let rules = r#"
[[rule]]
id = "B"
key = "setting.a"
expect = { equals = 1 }
severity = "low"
[[rule]]
id = "C"
key = "setting.a"
expect = { equals = 1 }
severity = "critical"
[[rule]]
id = "A"
key = "setting.a"
expect = { equals = 1 }
severity = "low"
"#;
    let msg = "setting.a is 1, which satisfies = 1.";
    check(
        rules,
        Role::Primary,
        "a = 1",
        &format!("C critical pass: {msg}\nA low pass: {msg}\nB low pass: {msg}"),
    );
}

#[test]
fn waivers_in_evaluation() {
    let rules = r#"
[[rule]]
id = "PG-DUR-002"
key = "setting.synchronous_commit"
expect = { not_equals = "off" }
severity = "high"

[[waiver]]
rule = "PG-DUR-002"
target = "db1"
reason = "reporting copy"
expires = 2026-06-01

[[waiver]]
rule = "PG-DUR-002"
target = "db2"
reason = "other target"
expires = 2030-01-01
"#;
    check(
        rules,
        Role::Replica,
        "synchronous_commit = off",
        "PG-DUR-002 high waived: setting.synchronous_commit is off; expected ≠ off; waived until 2026-06-01: reporting copy.",
    );
    let expired = rules.replace("2026-06-01", "2026-05-31");
    check(
        &expired,
        Role::Replica,
        "synchronous_commit = off",
        "PG-DUR-002 high fail: setting.synchronous_commit is off; expected ≠ off; the waiver for it expired on 2026-05-31.",
    );
    check(
        rules,
        Role::Replica,
        "synchronous_commit = on",
        "PG-DUR-002 high pass: setting.synchronous_commit is on, which satisfies ≠ off.",
    );
}

#[test]
fn applies_to_filters_whole_policies() {
    let text = r#"[policy]
name = "p"
version = "1"
applies_to = { kind = "postgres", role = "replica", labels = { env = "prod" } }
[[rule]]
id = "R"
key = "setting.a"
expect = { equals = 1 }
severity = "low"
"#;
    let set = parse(vec![source("p.toml", text)]).unwrap();
    let (snap, state) = snapshot(Role::Replica, "a = 1");
    let prod: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())].into();
    let dev: BTreeMap<String, String> = [("env".to_owned(), "dev".to_owned())].into();
    let none = BTreeMap::new();
    let count = |kind, role, labels| {
        let t = TargetFacts { name: "db1", kind, role, labels };
        evaluate(&set, &t, &snap, &state, today()).len()
    };
    assert_eq!(count(Kind::Postgres, Role::Replica, &prod), 1);
    assert_eq!(count(Kind::Postgres, Role::Primary, &prod), 0);
    assert_eq!(count(Kind::Postgres, Role::Replica, &dev), 0);
    assert_eq!(count(Kind::Postgres, Role::Replica, &none), 0);
    assert_eq!(count(Kind::Mysql, Role::Replica, &prod), 0);
}

#[test]
fn finding_fields() {
    let set = parse(vec![source(
        "p.toml",
        &format!(
            "{HEADER}{}",
            rule(
                "setting.a",
                "{ min = 10 }",
                "rationale = \"why\"\nremediation = \"fix\"\nreferences = [{ title = \"docs\", url = \"https://example.org/a\" }]"
            )
        ),
    )])
    .unwrap();
    let (mut snap, state) = snapshot(Role::Primary, "a = 5 s");
    let e = snap.config.get_mut("setting.a").unwrap();
    e.source_file = Some("/etc/postgresql/15/main/postgresql.conf".into());
    e.source_line = Some(12);
    let labels = BTreeMap::new();
    let t = TargetFacts { name: "db1", kind: Kind::Postgres, role: Role::Primary, labels: &labels };
    let f = &evaluate(&set, &t, &snap, &state, today())[0];
    assert_eq!(f.policy, "p");
    assert_eq!(f.key, "setting.a");
    assert_eq!(f.status, FindingStatus::Fail);
    assert_eq!(f.expected, "≥ 10");
    assert_eq!(f.actual.as_deref(), Some("5 s"));
    assert_eq!(f.location.as_deref(), Some("/etc/postgresql/15/main/postgresql.conf:12"));
    assert_eq!((f.rationale.as_deref(), f.remediation.as_deref()), (Some("why"), Some("fix")));
    assert_eq!(f.references[0].url.as_deref(), Some("https://example.org/a"));
    let json = serde_json::to_value(f).unwrap();
    assert_eq!(json["references"][0]["title"], "docs", "{json}");
    assert_eq!(f.waiver, None);
}

fn policy_text(name: &str) -> String {
    format!(
        "[policy]\nname = \"{name}\"\nversion = \"1\"\napplies_to = {{ kind = \"postgres\" }}\n"
    )
}

#[test]
fn bundle_digest_is_deterministic() {
    let a = || source("a.toml", &policy_text("a"));
    let b = || source("sub/b.toml", &policy_text("b"));
    let one = parse(vec![a(), b()]).unwrap();
    let two = parse(vec![b(), a()]).unwrap();
    assert_eq!(one.bundle(), two.bundle());
    let paths: Vec<&str> = one.bundle().policies.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["a.toml", "sub/b.toml"]);
    // The documented formula: sha256 over `path NUL sha256 LF`, sorted by path.
    let lines: String =
        one.bundle().policies.iter().map(|p| format!("{}\0{}\n", p.path, p.sha256)).collect();
    assert_eq!(one.bundle().digest, crate::snapshot::Digest::of(lines.as_bytes()).0);
    assert_eq!(
        one.bundle().policies[0].sha256,
        crate::snapshot::Digest::of(policy_text("a").as_bytes()).0
    );

    let changed =
        parse(vec![a(), source("sub/b.toml", &format!("{}# comment\n", policy_text("b")))])
            .unwrap();
    assert_ne!(changed.bundle().digest, one.bundle().digest);
    let renamed = parse(vec![a(), source("sub/c.toml", &policy_text("b"))]).unwrap();
    assert_ne!(renamed.bundle().digest, one.bundle().digest);
}

mod baseline;

/// Counter rules through `evaluate_in`: judged against the target's previous
/// collection, with the change (not the total) as the observed value.
#[test]
fn counter_rules_judge_the_change_since_the_previous_collection() {
    let rules = r#"
[[rule]]
id = "EVICT"
key = "state.evictions"
expect = { increase = { max = 0 } }
severity = "low"
"#;
    let set = parse(vec![source("p.toml", &format!("{HEADER}{rules}"))]).unwrap();
    let labels = BTreeMap::new();
    let target =
        TargetFacts { name: "db1", kind: Kind::Postgres, role: Role::Primary, labels: &labels };
    let (snap, now) = snapshot(Role::Primary, "state.evictions = 12\nstate.uptime_s = 4000");
    let (_, then) = snapshot(Role::Primary, "state.evictions = 3\nstate.uptime_s = 3700");
    let run = |earlier| evaluate_in(&set, &target, &snap, &now, None, earlier, today()).remove(0);

    let first = run(None);
    assert_eq!(first.status, FindingStatus::NotApplicable, "{}", first.message);

    let grew = run(Some(Earlier { state: &then, seconds: 300.0 }));
    assert_eq!(grew.status, FindingStatus::Fail, "{}", grew.message);
    assert_eq!(grew.actual.as_deref(), Some("+9 in 5 min (now 12)"));
    assert_eq!(grew.expected, "increase ≤ 0 since the previous collection");

    let (_, same) = snapshot(Role::Primary, "state.evictions = 12\nstate.uptime_s = 3700");
    let quiet = run(Some(Earlier { state: &same, seconds: 300.0 }));
    assert_eq!(quiet.status, FindingStatus::Pass, "{}", quiet.message);

    let (_, before_restart) =
        snapshot(Role::Primary, "state.evictions = 1\nstate.uptime_s = 90000");
    let restarted = run(Some(Earlier { state: &before_restart, seconds: 300.0 }));
    assert_eq!(restarted.status, FindingStatus::NotApplicable, "{}", restarted.message);
    assert!(restarted.message.contains("restarted"), "{}", restarted.message);
}

#[test]
fn packs_select_their_files_and_keep_those_of_no_pack() {
    let file = |name: &str, pack: &str| {
        let pack = if pack.is_empty() { String::new() } else { format!("pack = \"{pack}\"\n") };
        source(
            &format!("{name}.toml"),
            &format!(
                "[policy]\nname = \"{name}\"\n{pack}version = \"1\"\napplies_to = {{ kind = \"postgres\" }}\n"
            ),
        )
    };
    let set = parse(vec![file("a", "replication"), file("b", "security"), file("mine", "")])
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(set.packs(), ["replication", "security"]);
    let chosen = set.select(&["replication".to_owned()]).unwrap();
    let names: Vec<&str> = chosen.policies().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "mine"]);
    assert_eq!(chosen.bundle().packs, ["replication"]);
    assert_eq!(chosen.sources().len(), 2);
    assert_ne!(chosen.bundle().digest, set.bundle().digest, "the digest covers what ran");
    let err = set.select(&["pci".to_owned()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no policy file belongs to pack `pci` (packs here: replication, security)"
    );
    let bad = parse(vec![file("c", "Not A Pack")]).unwrap_err().to_string();
    assert!(bad.contains("pack `Not A Pack` must be lowercase"), "{bad}");
}

/// `role.*.<setting>`: every login role and every role that sets it, one finding
/// naming those that do not pass; none of them: not applicable.
#[test]
fn every_role_patterns() {
    let r = rule("role.*.statement_timeout", "{ not_equals = 0 }", "missing = \"fail\"");
    check(
        &r,
        Role::Primary,
        "role.app = login\nrole.report = login\nrole.report.statement_timeout = 30s\nrole.etl.statement_timeout = 0",
        "R high fail: 2 of 3 roles do not pass: role.app.statement_timeout is absent; expected ≠ 0. role.etl.statement_timeout is 0; expected ≠ 0.",
    );
    check(
        &r,
        Role::Primary,
        "role.report = login\nrole.report.statement_timeout = 30000 ms\nrole.report@shop.statement_timeout = 0\nstatement_timeout = 0 ms",
        "R high pass: Every role (1) satisfies ≠ 0.",
    );
    check(
        &r,
        Role::Primary,
        "statement_timeout = 0 ms",
        "R high not_applicable: Not applicable: no role on this server matches role.*.statement_timeout.",
    );
    let d = rule("database.*.work_mem", r#"{ max = "256MB" }"#, "");
    check(
        &d,
        Role::Primary,
        "database.shop.work_mem = 1GB\ndatabase.crm.work_mem = 64MB\nrole.app = login",
        "R high fail: 1 of 2 databases do not pass: database.shop.work_mem is 1GB; expected ≤ 256MB.",
    );
    let set = parse(vec![source("p.toml", &format!("{HEADER}{r}"))]).unwrap();
    let (snap, state) = snapshot(Role::Primary, "role.a = login\nrole.b = login");
    let labels = BTreeMap::new();
    let t = TargetFacts { name: "db1", kind: Kind::Postgres, role: Role::Primary, labels: &labels };
    let f = &evaluate(&set, &t, &snap, &state, today())[0];
    assert_eq!(
        (f.key.as_str(), f.actual.as_deref()),
        ("role.*.statement_timeout", Some("a = absent, b = absent"))
    );
}

#[test]
fn patterns_are_whole_names() {
    for key in ["setting.*", "role.*", "role.a*.x", "role.*@*.x", "state.*.x"] {
        let text = format!("{HEADER}{}", rule(key, "{ present = true }", ""));
        let err =
            parse(vec![source("p.toml", &text)]).err().map(|d| d.to_string()).unwrap_or_default();
        assert!(err.contains("`*` stands for every role or every database"), "{key}: {err}");
    }
}
