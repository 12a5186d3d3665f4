//! Loading tests: each feeds policy text to [`super::super::parse`] and compares the
//! diagnostics (`file:line:col: message`) or a summary of what loaded.

use std::path::PathBuf;

use crate::policy::{PolicySource, parse};

fn source(path: &str, text: &str) -> PolicySource {
    PolicySource {
        path: path.into(),
        file: PathBuf::from(format!("policies/{path}")),
        text: text.into(),
    }
}

/// Parse `files` and expect exactly these diagnostics, in order.
#[track_caller]
fn check_errors(files: &[(&str, &str)], expect: &[&str]) {
    let sources = files.iter().map(|(p, t)| source(p, t)).collect();
    let got = match parse(sources) {
        Ok(set) => panic!("expected diagnostics, got {} policies", set.policies().len()),
        Err(d) => d.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    assert_eq!(got, expect, "\n{}", got.join("\n"));
}

/// Parse one file and expect it to load; return a one-line summary per rule.
#[track_caller]
fn check_ok(text: &str, expect: &[&str]) {
    let set = match parse(vec![source("p.toml", text)]) {
        Ok(set) => set,
        Err(d) => panic!("unexpected diagnostics:\n{d}"),
    };
    let got: Vec<String> = set.policies()[0]
        .rules
        .iter()
        .map(|r| {
            let when = r
                .when
                .as_ref()
                .map(|w| format!(" when {} {}", w.key, w.expect))
                .unwrap_or_default();
            format!(
                "{} {} {} {}{when} {:?} {:?}",
                r.id, r.key, r.expect, r.severity, r.roles, r.missing
            )
        })
        .collect();
    assert_eq!(got, expect);
}

const HEADER: &str =
    "[policy]\nname = \"p\"\nversion = \"1\"\napplies_to = { kind = \"postgres\" }\n";

fn with_header(rules: &str) -> String {
    format!("{HEADER}{rules}")
}

#[test]
fn loads_every_operator() {
    let text = with_header(
        r#"
[[rule]]
id = "A"
key = "setting.wal_level"
expect = { one_of = ["replica", "logical"] }
severity = "critical"

[[rule]]
id = "B"
key = "setting.shared_buffers"
expect = { min = "64MB", max = "8GB" }
severity = "High"
roles = "primary"

[[rule]]
id = "C"
key = "setting.archive_command"
expect = { matches = '^\S' }
severity = "medium"
when = { key = "setting.archive_mode", one_of = ["on", "always"] }
missing = "not_applicable"

[[rule]]
id = "D"
key = "state.replication_slots"
expect = { present = true }
severity = "info"
roles = ["primary", "standalone"]
missing = "fail"

[[rule]]
id = "E"
key = "setting.fsync"
expect = { equals = true }
severity = "low"

[[rule]]
id = "F"
key = "setting.max_slot_wal_keep_size"
expect = { not_equals = -1 }
severity = "low"
"#,
    );
    check_ok(
        &text,
        &[
            "A setting.wal_level one of replica, logical critical [] Error",
            "B setting.shared_buffers ≥ 64MB and ≤ 8GB high [Primary] Error",
            r"C setting.archive_command matches ^\S medium when setting.archive_mode one of on, always [] NotApplicable",
            "D state.replication_slots present info [Primary, Standalone] Fail",
            "E setting.fsync = true low [] Error",
            "F setting.max_slot_wal_keep_size ≠ -1 low [] Error",
        ],
    );
}

#[test]
fn policy_header_and_waivers_load() {
    let text = r#"
[policy]
name = "postgres-durability"
version = "2"
description = "d"
applies_to = { kind = "postgres", role = ["primary", "standalone"], labels = { env = "prod" } }

[[rule]]
id = "PG-DUR-002"
key = "setting.synchronous_commit"
expect = { not_equals = "off" }
severity = "high"

[[waiver]]
rule = "PG-DUR-002"
target = "reporting"
reason = "accepted"
expires = 2027-03-31

[[waiver]]
rule = "PG-DUR-002"
reason = "string dates work too"
expires = "2026-12-31"
"#;
    let set = parse(vec![source("d.toml", text)]).unwrap();
    let p = &set.policies()[0];
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.path.as_str()),
        ("postgres-durability", "2", "d.toml")
    );
    assert_eq!(format!("{:?}", p.applies_to.roles), "[Primary, Standalone]");
    assert_eq!(p.applies_to.labels.get("env").map(String::as_str), Some("prod"));
    let waivers: Vec<String> =
        set.waivers().map(|w| format!("{} {:?} {}", w.rule, w.target, w.expires)).collect();
    assert_eq!(
        waivers,
        ["PG-DUR-002 Some(\"reporting\") 2027-03-31", "PG-DUR-002 None 2026-12-31"]
    );
}

#[test]
fn every_problem_at_once() {
    let bad = with_header(
        r#"
[[rule]]
id = "R1"
key = "setting.a"
expect = { greater_than = 3 }
severity = "high"

[[rule]]
id = "R2"
key = "setting.b"
expect = { matches = "(unclosed" }
severity = "high"

[[rule]]
id = "R3"
key = "setting.c"
expect = { equals = 1 }
severity = "urgent"

[[rule]]
id = "R5"
key = "setting.f"
expect = { absent = true }
severity = "low"
colour = "red"

[[rule]]
id = "R4"
key = "setting.d"
expect = { min = "64mb" }
severity = "low"

[[rule]]
id = "R1"
key = "setting.e"
expect = { present = true }
severity = "low"

[[waiver]]
rule = "PG-NOPE-001"
reason = "r"
expires = 2027-01-01
"#,
    );
    check_errors(
        &[("bad.toml", &bad)],
        &[
            "policies/bad.toml:9:12: unknown operator `greater_than` in `expect` (expected one of equals, not_equals, one_of, min, max, matches, present, absent, same_as, at_least, unique, matches_declared_role, increase, rate)",
            "policies/bad.toml:15:22: invalid regex: unclosed group",
            "policies/bad.toml:22:12: unknown severity `urgent` (expected critical, high, medium, low or info)",
            "policies/bad.toml:29:1: [[rule]]: unknown field `colour`, expected one of `id`, `key`, `expect`, `severity`, `rationale`, `remediation`, `when`, `roles`, `missing`, `references`",
            "policies/bad.toml:34:18: invalid quantity `64mb`: unknown unit `mb` (memory units: B, kB, MB, GB, TB; time units: us, ms, s, min, h, d)",
            "policies/bad.toml:38:6: duplicate rule id `R1` (first defined in bad.toml)",
            "policies/bad.toml:44:8: waiver for unknown rule `PG-NOPE-001`",
        ],
    );
}

/// One rule with the given body lines after `id` (line 7 of the file onwards).
fn one_rule(body: &str) -> String {
    with_header(&format!("\n[[rule]]\nid = \"R\"\n{body}\n"))
}

#[test]
fn syntax_error() {
    check_errors(
        &[("s.toml", "[policy]\nname = \"p\nversion = 1\n")],
        &["policies/s.toml:2:10: invalid TOML: invalid basic string, expected `\"`"],
    );
}

#[test]
fn missing_field() {
    check_errors(
        &[("m.toml", &one_rule("key = \"setting.a\"\nexpect = { equals = 1 }"))],
        &["policies/m.toml:6:1: [[rule]]: missing field `severity`"],
    );
}

#[test]
fn type_error() {
    check_errors(
        &[("t.toml", &one_rule("key = \"setting.a\"\nexpect = { equals = 1 }\nseverity = 3"))],
        &["policies/t.toml:10:12: [[rule]]: invalid type: integer `3`, expected a string"],
    );
}

#[test]
fn two_operators() {
    check_errors(
        &[(
            "o.toml",
            &one_rule("key = \"setting.a\"\nexpect = { equals = 1, min = 0 }\nseverity = \"low\""),
        )],
        &["policies/o.toml:9:24: `expect` takes exactly one operator (found `equals` and `min`)"],
    );
}

#[test]
fn empty_expect() {
    check_errors(
        &[("e.toml", &one_rule("key = \"setting.a\"\nexpect = {}\nseverity = \"low\""))],
        &[
            "policies/e.toml:9:10: `expect` needs one operator (equals, not_equals, one_of, min, max, matches, present, absent, same_as, at_least, unique, matches_declared_role, increase, rate)",
        ],
    );
}

#[test]
fn bad_ranges() {
    let text = with_header(
        r#"
[[rule]]
id = "A"
key = "setting.a"
expect = { min = "1GB", max = "1MB" }
severity = "low"

[[rule]]
id = "B"
key = "setting.b"
expect = { min = "1GB", max = "1s" }
severity = "low"

[[rule]]
id = "C"
key = "setting.c"
expect = { min = 1, max = "1s" }
severity = "low"

[[rule]]
id = "D"
key = "setting.d"
expect = { max = true }
severity = "low"
"#,
    );
    check_errors(
        &[("r.toml", &text)],
        &[
            "policies/r.toml:9:31: `max` (1MB) is below `min` (1GB)",
            "policies/r.toml:15:31: `min` and `max` measure different things (memory vs time)",
            "policies/r.toml:21:27: `min` and `max` must both have units or both be plain numbers",
            "policies/r.toml:27:18: expected a number or a quantity like \"64MB\" or \"5min\", found a boolean",
        ],
    );
}

#[test]
fn bad_values() {
    let text = with_header(
        r#"
[[rule]]
id = "A"
key = "wal_level"
expect = { present = false }
severity = "low"

[[rule]]
id = "B"
key = "setting.b"
expect = { one_of = [] }
severity = "low"
when = { equals = "on" }

[[rule]]
id = "C"
key = "setting.c"
expect = { equals = [1] }
severity = "low"
roles = []

[[rule]]
id = "D"
key = "setting.d"
expect = { equals = 1 }
severity = "low"
missing = "ignore"
"#,
    );
    check_errors(
        &[("v.toml", &text)],
        &[
            "policies/v.toml:8:7: key `wal_level` needs a namespace, e.g. `setting.wal_level` or `state.wal_level`",
            "policies/v.toml:9:22: `present` must be `true` (to expect the opposite, write `absent = true`)",
            "policies/v.toml:15:21: `one_of` needs at least one value",
            "policies/v.toml:17:8: `when` needs a `key` and one operator",
            "policies/v.toml:22:21: expected a string, number or boolean, found an array",
            "policies/v.toml:24:9: roles must name at least one role (or be left out)",
            "policies/v.toml:31:11: [[rule]]: unknown variant `ignore`, expected one of `error`, `fail`, `pass`, `not_applicable`",
        ],
    );
}

#[test]
fn bad_header_and_top_level() {
    let text = r#"
[policy]
name = ""
version = " "
applies_to = { kind = "oracle" }

[rule]
id = "A"

[extra]
"#;
    check_errors(
        &[("h.toml", text)],
        &[
            "policies/h.toml:3:8: [policy] name must not be empty",
            "policies/h.toml:4:11: [policy] version must not be empty",
            "policies/h.toml:5:23: unknown kind `oracle` (expected one of postgres, mysql, redis, memcached)",
            "policies/h.toml:7:1: `rule` must be an array of tables: write [[rule]], found a table",
            "policies/h.toml:10:2: unknown top-level key `extra` (expected [policy], [[rule]], [[waiver]], [[overlay]] or [[expected_difference]])",
        ],
    );
    check_errors(
        &[("n.toml", "[policy]\nname = \"p\"\nversion = \"1\"\n")],
        &["policies/n.toml:1:1: [policy]: missing field `applies_to`"],
    );
    check_errors(&[("e.toml", "")], &["policies/e.toml:1:1: missing [policy] table"]);
}

#[test]
fn bad_waivers() {
    let text = one_rule(
        r#"key = "setting.a"
expect = { equals = 1 }
severity = "low"

[[waiver]]
rule = "R"
target = ""
reason = ""
expires = "2027-02-30"

[[waiver]]
rule = "R"
reason = "r"
expires = "next year"

[[waiver]]
rule = "R"
reason = "r"
expires = 2027-01-01T10:00:00"#,
    );
    check_errors(
        &[("w.toml", &text)],
        &[
            "policies/w.toml:14:10: waiver target must not be empty (leave it out to cover every target)",
            "policies/w.toml:15:10: a waiver needs a reason",
            "policies/w.toml:16:11: `expires` must be a date like 2027-03-31",
            "policies/w.toml:21:11: `expires` must be a date like 2027-03-31",
            "policies/w.toml:26:11: `expires` must be a date like 2027-03-31",
        ],
    );
}

#[test]
fn across_files() {
    let a = one_rule("key = \"setting.a\"\nexpect = { equals = 1 }\nseverity = \"low\"");
    let b = format!(
        "{}\n[[waiver]]\nrule = \"R\"\nreason = \"r\"\nexpires = 2027-01-01\n",
        one_rule("key = \"setting.b\"\nexpect = { equals = 1 }\nseverity = \"low\"")
    );
    check_errors(
        &[("b.toml", &b), ("a.toml", &a)],
        &[
            "policies/b.toml:2:8: policy name `p` is already used by a.toml",
            "policies/b.toml:7:6: duplicate rule id `R` (first defined in a.toml)",
        ],
    );
}

#[test]
fn counter_operators_load_with_bounds() {
    let text = with_header(
        r#"
[[rule]]
id = "A"
key = "state.evictions"
expect = { increase = { max = 0 } }
severity = "low"

[[rule]]
id = "B"
key = "state.aborted_connects"
expect = { rate = { min = 0, max = 0.5 } }
severity = "medium"
"#,
    );
    check_ok(
        &text,
        &[
            "A state.evictions increase ≤ 0 since the previous collection low [] Error",
            "B state.aborted_connects rate ≥ 0/s and ≤ 0.5/s since the previous collection medium [] Error",
        ],
    );
}

#[test]
fn counter_operators_refuse_what_they_cannot_judge() {
    let rules = [
        (
            "key = \"setting.maxconns\"\nexpect = { increase = { max = 0 } }\nseverity = \"low\"",
            "policies/c.toml:9:10: `increase` judges a counter between two collections: its key must be a `state.` reading, not `setting.maxconns`",
        ),
        (
            "key = \"state.evictions\"\nexpect = { rate = 3 }\nseverity = \"low\"",
            "policies/c.toml:9:19: `rate` takes bounds, e.g. `rate = { max = 0 }`, found an integer",
        ),
        (
            "key = \"state.evictions\"\nexpect = { rate = { above = 3 } }\nseverity = \"low\"",
            "policies/c.toml:9:19: `rate` takes `min` and `max`, not `above`",
        ),
        (
            "key = \"state.evictions\"\nexpect = { increase = {} }\nseverity = \"low\"",
            "policies/c.toml:9:23: `increase` needs `min`, `max` or both",
        ),
        (
            "key = \"state.evictions\"\nexpect = { increase = { min = 5, max = 1 } }\nseverity = \"low\"",
            "policies/c.toml:9:23: `max` (1) is below `min` (5)",
        ),
        (
            "key = \"state.evictions\"\nexpect = { max = 0 }\nseverity = \"low\"\nwhen = { key = \"state.x\", increase = { max = 1 } }",
            "policies/c.toml:11:38: `increase` compares two collections and cannot be a `when`",
        ),
    ];
    for (rule, want) in rules {
        check_errors(&[("c.toml", &one_rule(rule))], &[want]);
    }
}

#[test]
fn references_load_as_controls_and_links() {
    let text = one_rule(
        r#"key = "setting.a"
expect = { equals = 1 }
severity = "low"
references = [
  { benchmark = "CIS PostgreSQL 16", control = "3.1.20", title = "Ensure 'log_connections' is enabled" },
  { title = "PostgreSQL docs: log_connections", url = "https://www.postgresql.org/docs/15/runtime-config-logging.html" },
]"#,
    );
    let set = parse(vec![source("p.toml", &text)]).unwrap_or_else(|d| panic!("{d}"));
    let refs = &set.policies()[0].rules[0].references;
    let got: Vec<_> = refs
        .iter()
        .map(|r| format!("{:?} {:?} {} {:?}", r.benchmark, r.control, r.title, r.url))
        .collect();
    assert_eq!(
        got,
        [
            "Some(\"CIS PostgreSQL 16\") Some(\"3.1.20\") Ensure 'log_connections' is enabled None",
            "None None PostgreSQL docs: log_connections Some(\"https://www.postgresql.org/docs/15/runtime-config-logging.html\")",
        ]
    );
    assert_eq!(refs[0].control_id().as_deref(), Some("CIS PostgreSQL 16 3.1.20"));
}

#[test]
fn bad_references() {
    let rule = |refs: &str| {
        one_rule(&format!(
            "key = \"setting.a\"\nexpect = {{ equals = 1 }}\nseverity = \"low\"\nreferences = [{refs}]"
        ))
    };
    let cases = [
        (
            r#"{ title = "t", url = "ftp://example.com/x" }"#,
            "policies/r.toml:11:36: reference url `ftp://example.com/x` must be an http:// or https:// address",
        ),
        (
            r#"{ title = "t", url = "https://" }"#,
            "policies/r.toml:11:36: reference url `https://` must be an http:// or https:// address",
        ),
        (
            r#"{ title = "t" }"#,
            "policies/r.toml:11:15: a reference is a benchmark control (`benchmark`, `control`, `title`) or a documentation link (`title`, `url`)",
        ),
        (
            r#"{ benchmark = "CIS", title = "t" }"#,
            "policies/r.toml:11:29: a reference with a `benchmark` needs the `control` id too, e.g. control = \"3.1.20\"",
        ),
        (
            r#"{ control = "1.2", title = "t", url = "https://x.org" }"#,
            "policies/r.toml:11:27: a reference with a `control` needs its `benchmark`",
        ),
        (
            r#"{ benchmark = "CIS", control = "1.2", title = " " }"#,
            "policies/r.toml:11:61: reference `title` must not be empty",
        ),
        (
            r#"{ title = "t", url = "https://x.org", colour = "red" }"#,
            "policies/r.toml:11:53: [[rule]]: unknown field `colour`, expected one of `benchmark`, `control`, `title`, `url`",
        ),
        (r#"{ url = "https://x.org" }"#, "policies/r.toml:11:15: [[rule]]: missing field `title`"),
    ];
    let mut wrong = vec![];
    for (refs, expect) in cases {
        let got = match parse(vec![source("r.toml", &rule(refs))]) {
            Ok(_) => vec!["loaded".to_owned()],
            Err(d) => d.0.iter().map(ToString::to_string).collect(),
        };
        if got != [expect] {
            wrong.push(format!("{refs}\n  got {got:?}\n  expected {expect}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
