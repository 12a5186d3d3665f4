//! `driftwatch check`, `policy lint` and `baseline capture` through the real binary:
//! the machine's own configuration files parse cleanly, committed bad fixtures fail
//! with the right rule at the right file:line in every output format.

mod baseline;
mod lint;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `driftwatch <args>` from the repository root.
pub fn driftwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run driftwatch")
}

#[track_caller]
fn exit(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `check` of `file` (relative to the repository root) with the shipped or the test
/// policies, in `format`.
fn check(kind: &str, file: &str, role: &str, format: &str, code: i32) -> String {
    let policies = if kind == "postgres" { "policies" } else { "tests/fixtures/check/policies" };
    let out = driftwatch(&[
        "check",
        "--kind",
        kind,
        "--file",
        file,
        "--role",
        role,
        "--policies",
        policies,
        "--output",
        format,
    ]);
    exit(&out, code)
}

fn finding<'a>(report: &'a Value, rule: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding {rule} in {report:#}"))
}

const BAD_PG: &str = "tests/fixtures/check/postgres/bad/postgresql.conf";
const REPLICA_CNF: &str = "tests/fixtures/check/mysql/replica/my.cnf";
const REDIS: &str = "tests/fixtures/check/redis/redis.conf";

#[test]
fn the_machines_own_files_parse_without_errors() {
    let files = [
        ("postgres", "/usr/share/postgresql/15/postgresql.conf.sample"),
        ("postgres", "/etc/postgresql/15/main/postgresql.conf"),
        ("mysql", "/etc/mysql/my.cnf"),
        ("redis", "/etc/redis/redis.conf"),
        ("memcached", "tests/fixtures/check/memcached/memcached.conf"),
    ];
    for (kind, file) in files {
        assert!(
            root().join(file).is_file(),
            "{file} is missing: install the {kind} server package"
        );
        let out = driftwatch(&[
            "check",
            "--kind",
            kind,
            "--file",
            file,
            "--policies",
            "tests/fixtures/check/policies",
            "--output",
            "json",
        ]);
        assert_ne!(out.status.code(), Some(2), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["kind"], kind);
    }
}

#[test]
fn all_commented_sample_is_all_defaults() {
    let out =
        check("postgres", "/usr/share/postgresql/15/postgresql.conf.sample", "primary", "json", 1);
    let report: Value = serde_json::from_str(&out).unwrap();
    for f in report["findings"].as_array().unwrap() {
        if f["status"] == "pass" || f["status"] == "fail" {
            assert_eq!(f["default"], true, "{f:#}");
            assert_eq!(f["line"], 1);
        }
    }
    assert_eq!(finding(&report, "PG-DUR-001")["status"], "pass");
    assert_eq!(finding(&report, "PG-REPL-001")["status"], "pass");
}

#[test]
fn bad_postgres_text_names_rule_file_and_line() {
    let out = check("postgres", BAD_PG, "primary", "text", 1);
    assert!(
        out.contains("FAIL CRITICAL PG-DUR-001 setting.fsync: off (expected = true)  at tests/fixtures/check/postgres/bad/durability.conf:2"),
        "{out}"
    );
    assert!(
        out.contains("PG-REPL-001 setting.wal_level: minimal (expected one of replica, logical)  at tests/fixtures/check/postgres/bad/conf.d/20-override.conf:2"),
        "{out}"
    );
}

#[test]
fn bad_postgres_json() {
    let report: Value =
        serde_json::from_str(&check("postgres", BAD_PG, "primary", "json", 1)).unwrap();
    assert_eq!(report["file"], BAD_PG);
    assert_eq!(report["kind"], "postgres");
    assert_eq!(report["role"], "primary");
    let fsync = finding(&report, "PG-DUR-001");
    assert_eq!(fsync["status"], "fail");
    assert_eq!(fsync["file"], "tests/fixtures/check/postgres/bad/durability.conf");
    assert_eq!(fsync["line"], 2);
    let wal = finding(&report, "PG-REPL-001");
    assert_eq!((wal["status"].as_str(), wal["line"].as_u64()), (Some("fail"), Some(2)));
    // 1GB written in the file, 131072 pages of 8kB as pg_settings would say.
    assert_eq!(finding(&report, "PG-SESS-003")["status"], "pass");
    assert!(report["summary"]["fail"].as_u64().unwrap() >= 2);
}

#[test]
fn live_only_rules_are_not_applicable_never_pass() {
    let report: Value =
        serde_json::from_str(&check("mysql", REPLICA_CNF, "replica", "json", 1)).unwrap();
    let lag = finding(&report, "MY-REPL-005");
    assert_eq!(lag["status"], "not_applicable");
    assert!(lag["message"].as_str().unwrap().contains("needs a live server"), "{lag:#}");
}

#[test]
fn mariadb_replica_without_read_only() {
    let report: Value =
        serde_json::from_str(&check("mysql", REPLICA_CNF, "replica", "json", 1)).unwrap();
    let ro = finding(&report, "MY-REPL-001");
    assert_eq!((ro["status"].as_str(), ro["actual"].as_str()), (Some("fail"), Some("OFF")));
    assert_eq!(
        (ro["file"].as_str(), ro["line"].as_u64(), ro["default"].as_bool()),
        (Some(REPLICA_CNF), Some(1), Some(true))
    );
    // loose-gtid-strict-mode = 1 in conf.d/50-server.cnf; log-bin = name means ON.
    let gtid = finding(&report, "MY-REPL-002");
    assert_eq!(gtid["status"], "pass");
    assert_eq!(gtid["file"], "tests/fixtures/check/mysql/replica/conf.d/50-server.cnf");
    assert_eq!(finding(&report, "MY-REPL-004")["status"], "pass");
    assert_eq!(finding(&report, "MY-REPL-003")["status"], "pass");
    // The same file as a primary: the replica rule does not apply.
    let report: Value =
        serde_json::from_str(&check("mysql", REPLICA_CNF, "primary", "json", 0)).unwrap();
    assert_eq!(finding(&report, "MY-REPL-001")["status"], "not_applicable");
}

#[test]
fn sarif_locates_the_line_that_set_the_value() {
    let sarif: Value = serde_json::from_str(&check("redis", REDIS, "primary", "sarif", 1)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "driftwatch");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in rules {
        assert!(
            r["id"].is_string()
                && r["shortDescription"]["text"].is_string()
                && r["help"]["text"].is_string(),
            "{r:#}"
        );
    }
    let pm_rule = rules.iter().find(|r| r["id"] == "RD-SEC-001").expect("RD-SEC-001 rule");
    assert_eq!(
        pm_rule["helpUri"],
        "https://redis.io/docs/latest/operate/oss_and_stack/management/security/"
    );
    let tags = pm_rule["properties"]["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t == "Redis baseline redis-04"), "{tags:?}");
    assert_eq!(pm_rule["properties"]["references"][0]["control"], "redis-04");
    let unreferenced = rules.iter().find(|r| r["id"] == "RD-SEC-002").expect("RD-SEC-002 rule");
    assert!(unreferenced.get("helpUri").is_none(), "{unreferenced:#}");
    let results = run["results"].as_array().unwrap();
    let pm = results.iter().find(|r| r["ruleId"] == "RD-SEC-001").expect("RD-SEC-001 result");
    assert_eq!(pm["level"], "error");
    assert!(pm["message"]["text"].as_str().unwrap().contains("protected-mode"));
    let loc = &pm["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], REDIS);
    assert_eq!(loc["region"]["startLine"], 4);
    for r in results {
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(rules.iter().any(|x| x["id"] == r["ruleId"]));
    }

    let sarif: Value =
        serde_json::from_str(&check("postgres", BAD_PG, "primary", "sarif", 1)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let at = |rule: &str| {
        let r = results.iter().find(|r| r["ruleId"] == rule).unwrap();
        let loc = &r["locations"][0]["physicalLocation"];
        (
            loc["artifactLocation"]["uri"].as_str().unwrap().to_owned(),
            loc["region"]["startLine"].as_u64().unwrap(),
            r["level"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        at("PG-DUR-001"),
        ("tests/fixtures/check/postgres/bad/durability.conf".into(), 2, "error".into())
    );
    assert_eq!(at("PG-SESS-002"), (BAD_PG.into(), 1, "warning".into()));
    assert_eq!(at("PG-REPL-005"), (BAD_PG.into(), 1, "note".into()));
}

#[test]
fn junit_is_xml_with_one_testcase_per_rule() {
    let xml = check("postgres", BAD_PG, "primary", "junit", 1);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let json: Value =
        serde_json::from_str(&check("postgres", BAD_PG, "primary", "json", 1)).unwrap();
    assert_eq!(cases.len(), json["findings"].as_array().unwrap().len());
    let fsync =
        cases.iter().find(|c| c.attribute("name") == Some("PG-DUR-001 setting.fsync")).unwrap();
    assert_eq!(fsync.attribute("classname"), Some("postgres-durability"));
    let failure = fsync.children().find(|n| n.has_tag_name("failure")).expect("failure");
    assert!(failure.attribute("message").unwrap().contains("setting.fsync is off"));
    assert!(failure.text().unwrap().contains("durability.conf:2"));
    let skipped = cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("skipped"))).count();
    assert_eq!(skipped as u64, json["summary"]["not_applicable"].as_u64().unwrap());
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    assert_eq!(suite.attribute("failures").unwrap(), json["summary"]["fail"].to_string());
}

/// A rule's references are its testcase's properties; the JSON carries them too.
#[test]
fn references_reach_junit_and_json() {
    let xml = check("redis", REDIS, "primary", "junit", 1);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let case = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("RD-SEC-001 setting.protected-mode"))
        .expect("RD-SEC-001 testcase");
    let props: Vec<(&str, &str)> = case
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
        .collect();
    assert_eq!(
        props,
        [
            ("control", "Redis baseline redis-04"),
            ("reference", "Protected mode is on"),
            ("reference", "Redis security"),
            ("url", "https://redis.io/docs/latest/operate/oss_and_stack/management/security/"),
        ]
    );
    assert!(case.children().any(|n| n.has_tag_name("failure")), "{xml}");
    let json: Value = serde_json::from_str(&check("redis", REDIS, "primary", "json", 1)).unwrap();
    let refs = &finding(&json, "RD-SEC-001")["references"];
    assert_eq!(refs[0]["benchmark"], "Redis baseline");
    assert_eq!(
        refs[1]["url"],
        "https://redis.io/docs/latest/operate/oss_and_stack/management/security/"
    );
    assert!(finding(&json, "RD-SEC-002").get("references").is_none());
}

#[test]
fn fail_on_threshold() {
    // The all-defaults sample fails only high and lower rules.
    let sample = "/usr/share/postgresql/15/postgresql.conf.sample";
    exit(
        &driftwatch(&["check", "--kind", "postgres", "--file", sample, "--fail-on", "critical"]),
        0,
    );
    exit(&driftwatch(&["check", "--kind", "postgres", "--file", sample, "--fail-on", "high"]), 1);
    exit(&driftwatch(&["check", "--kind", "postgres", "--file", sample]), 1);
}

#[test]
fn overlays_and_waivers_apply_with_labels_and_target() {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(root().join("policies/postgres")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("staging.toml"),
        "[policy]\nname = \"staging\"\nversion = \"1\"\napplies_to = { kind = \"postgres\" }\n\n\
         [[overlay]]\nwhen = { labels = { env = \"staging\" } }\nrule = \"PG-DUR-001\"\nseverity = \"low\"\n\n\
         [[waiver]]\nrule = \"PG-REPL-001\"\ntarget = \"db7\"\nreason = \"bulk load host\"\nexpires = 2999-01-01\n",
    )
    .unwrap();
    let policies = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| -> Value {
        let mut args = vec![
            "check",
            "--kind",
            "postgres",
            "--file",
            BAD_PG,
            "--policies",
            policies,
            "--output",
            "json",
        ];
        args.extend(extra);
        serde_json::from_slice(&driftwatch(&args).stdout).unwrap()
    };
    let plain = run(&[]);
    assert_eq!(finding(&plain, "PG-DUR-001")["severity"], "critical");
    assert_eq!(finding(&plain, "PG-REPL-001")["status"], "fail");
    let staged = run(&["--label", "env=staging", "--target", "db7"]);
    assert_eq!(finding(&staged, "PG-DUR-001")["severity"], "low");
    assert_eq!(finding(&staged, "PG-REPL-001")["status"], "waived");
}

#[test]
fn parse_errors_exit_2_with_file_and_line() {
    let out = driftwatch(&[
        "check",
        "--kind",
        "postgres",
        "--file",
        "tests/fixtures/check/postgres/syntax-error.conf",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // A file with a syntax error is refused for it; its values are not checked at all
    // (the server stops after the syntax pass), so `128mb` on line 2 goes unreported.
    assert!(
        stderr.contains("syntax-error.conf:3:1: syntax error in file \"tests/fixtures/check/postgres/syntax-error.conf\" line 3, near token \"'\""),
        "{stderr}"
    );
    assert!(!stderr.contains("syntax-error.conf:2:"), "{stderr}");
    let out = driftwatch(&["check", "--kind", "redis", "--file", "tests/fixtures/check/nope.conf"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn json_lists_what_was_read_with_what_the_engine_adjusts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my.cnf");
    std::fs::write(
        &file,
        "[mysqld]\nread_only = yes\nmax_allowed_packet = 1000\nmax_connections = 500\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = driftwatch(&[
        "check",
        "--kind",
        "mysql",
        "--file",
        file,
        "--role",
        "replica",
        "--policies",
        "tests/fixtures/check/policies",
        "--output",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let setting = |key: &str| {
        report["snapshot"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no {key}"))
    };
    // MariaDB reads `yes` as OFF (with a warning): the replica is writable, and says why.
    let ro = setting("setting.read_only");
    assert_eq!(
        (ro["value"].as_str(), ro["written"].as_str(), ro["line"].as_u64()),
        (Some("OFF"), Some("yes"), Some(2))
    );
    assert!(ro["note"].as_str().unwrap().contains("wasn't recognized"), "{ro:#}");
    assert_eq!(finding(&report, "MY-REPL-001")["status"], "fail");
    let packet = setting("setting.max_allowed_packet");
    assert_eq!(
        (packet["value"].as_str(), packet["written"].as_str()),
        (Some("1024"), Some("1000"))
    );
    // Sized from max_connections, at its line; a default at line 1.
    let cache = setting("setting.thread_cache_size");
    assert_eq!(
        (cache["value"].as_str(), cache["line"].as_u64(), cache["default"].as_bool()),
        (Some("256"), Some(4), Some(false))
    );
    let timeout = setting("setting.wait_timeout");
    assert_eq!(
        (timeout["value"].as_str(), timeout["default"].as_bool()),
        (Some("28800"), Some(true))
    );
    // The text output notes the same.
    let out = driftwatch(&["check", "--kind", "mysql", "--file", file, "--policies", "policies"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOTE setting.read_only = OFF (written `yes`)"), "{text}");
}
