//! `driftwatch serve` end to end: the real binary on a 1-second schedule against the
//! real PostgreSQL primary and replica, its web server, signals, webhooks, and the
//! Prometheus alert rules in `deploy/`.

mod access;
pub mod process;
mod webui;

use std::time::Duration;

use process::*;

use crate::audit::harness::Workspace;
use crate::support::{PG_PRIMARY, PG_REPLICA, START_SERVICES, require_service};

const SIGTERM: i32 = libc::SIGTERM;

/// Every sample line of a metrics page as `(name, labels, value)`; panics on a line
/// that is not `name{labels} value`.
#[track_caller]
fn parse_metrics(page: &str) -> Vec<(String, String, f64)> {
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$"#,
    )
    .unwrap();
    page.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let c = sample.captures(l).unwrap_or_else(|| panic!("bad metrics line: {l:?}"));
            let v = c[3].parse().unwrap_or_else(|_| panic!("bad value in {l:?}"));
            (c[1].to_owned(), c.get(2).map_or("", |m| m.as_str()).to_owned(), v)
        })
        .collect()
}

#[test]
fn serve_audits_on_schedule_serves_everything_and_stops_on_sigterm() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    require_service("127.0.0.1", PG_REPLICA, START_SERVICES);
    let port = free_port();
    let targets = pg_target("pg-primary", PG_PRIMARY, "primary")
        + &pg_target("pg-replica", PG_REPLICA, "replica");
    let ws = Workspace::with_config(&config(port, "*/1 * * * * *", "5s", "20s", &targets));
    let mut serve = Serve::start(ws, port);
    serve.wait_for("two committed runs", Duration::from_secs(30), || serve.runs().len() >= 2);

    // Metrics parse line by line and carry the expected series.
    let metrics = serve.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let samples = parse_metrics(&metrics.body);
    let has =
        |name: &str, labels: &str| samples.iter().any(|(n, l, _)| n == name && l.contains(labels));
    let value = |name: &str, labels: &str| {
        samples.iter().find(|(n, l, _)| n == name && l.contains(labels)).map(|s| s.2)
    };
    assert!(
        has("driftwatch_findings", r#"target="pg-primary",severity="critical",status="pass""#),
        "{}",
        metrics.body
    );
    assert_eq!(value("driftwatch_target_up", r#"target="pg-primary",kind="postgres""#), Some(1.0));
    assert_eq!(value("driftwatch_target_up", r#"target="pg-replica",kind="postgres""#), Some(1.0));
    assert!(
        has(
            "driftwatch_replication_lag_seconds",
            &format!(r#"target="pg-primary",replica="{}""#, crate::support::pg_replica_slot())
        ),
        "{}",
        metrics.body
    );
    assert!(
        has("driftwatch_replication_lag_seconds", r#"target="pg-replica",replica="pg-replica""#),
        "{}",
        metrics.body
    );
    assert_eq!(value("driftwatch_last_run_success", ""), Some(1.0));
    let last = value("driftwatch_last_run_timestamp_seconds", "").unwrap();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - last).abs() < 30.0, "last run at {last}, now {now}");
    assert!(value("driftwatch_last_run_duration_seconds", "").unwrap() >= 0.0);
    assert!(has("driftwatch_last_run_changes", ""));
    assert!(has("driftwatch_policy_bundle_info", "digest="));

    assert_eq!(serve.get("/healthz").status, 200);
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let root = serve.get("/");
    assert!((300..400).contains(&root.status));
    assert_eq!(root.header("location"), Some("/reports/index.html"));

    let index = serve.get("/reports/index.html");
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").unwrap().starts_with("text/html"));
    assert!(index.body.contains("pg-primary"));
    assert_eq!(serve.get("/reports/nope.html").status, 404);
    for sneaky in ["/reports/../runs", "/reports/%2e%2e/driftwatch.toml", "/reports/a/..%2F..%2Fx"]
    {
        assert_eq!(serve.get(sneaky).status, 404, "{sneaky}");
    }

    let runs = serve.get("/api/runs?limit=5").json();
    let listed = runs["runs"].as_array().unwrap();
    assert!(listed.len() >= 2, "{runs:#}");
    let ids: Vec<&str> = listed.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    for field in ["started_at", "finished_at", "summary"] {
        assert!(!listed[0][field].is_null(), "{field} in {:#}", listed[0]);
    }
    let older = serve.get(&format!("/api/runs?limit=1&before={}", ids[0])).json();
    assert_eq!(older["runs"][0]["run_id"], ids[1]);

    let manifest = serve.get(&format!("/api/runs/{}", ids[1]));
    assert_eq!(manifest.status, 200);
    assert_eq!(manifest.json()["run_id"], ids[1]);
    assert_eq!(serve.get("/api/runs/20000101T000000Z-0000").status, 404);

    let targets = serve.get("/api/targets").json();
    let primary = targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pg-primary")
        .unwrap()
        .clone();
    assert_eq!(primary["status"], "ok");
    let changes = serve.get("/api/targets/pg-primary/changes");
    assert_eq!(changes.status, 200);
    assert_eq!(changes.json()["target"], "pg-primary");
    assert!(changes.json()["changes"].is_array());
    assert_eq!(serve.get("/api/targets/nope/changes").status, 404);

    // Fleet-wide questions, from the export.
    let fleet = serve.get("/api/changes?since=1h&target=pg-*");
    assert_eq!(fleet.status, 200);
    assert!(fleet.json().is_array());
    let failing = serve.get("/api/findings?since=1h&status=fail&severity=low");
    assert_eq!(failing.status, 200);
    assert!(
        failing.json().as_array().is_some_and(|rows| rows.iter().all(|r| r["status"] == "fail"))
    );
    assert_eq!(serve.get("/api/changes").status, 400, "since is required");
    assert_eq!(serve.get("/api/findings?since=1h&status=pass").status, 400);

    // One structured event per run and per target.
    let events = serve.log_events();
    assert!(
        events.iter().any(|e| e["message"] == "scheduled run finished" && e["run_id"].is_string())
    );
    assert!(events.iter().any(|e| e["message"] == "target audited" && e["target"] == "pg-replica"));

    serve.signal(SIGTERM);
    let status = serve.exit_within(Duration::from_secs(25));
    assert_eq!(status.code(), Some(0), "logs:\n{}", serve.logs());
    assert!(serve.logs().contains("driftwatch serve stopped"));
}

#[test]
fn serve_skips_ticks_while_a_run_is_still_going() {
    let (_hung, hung_port) = black_hole();
    let port = free_port();
    let targets = pg_target("hung", hung_port, "primary");
    let ws = Workspace::with_config(&config(port, "*/1 * * * * *", "3s", "10s", &targets));
    let mut serve = Serve::start(ws, port);
    serve.wait_for("two committed runs", Duration::from_secs(30), || serve.runs().len() >= 2);

    let skipped = serve
        .log_events()
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.starts_with("tick skipped")))
        .count();
    assert!(skipped >= 2, "a 3 s run on a 1 s schedule skips ticks; logs:\n{}", serve.logs());
    let metrics = parse_metrics(&serve.get("/metrics").body);
    let skipped_total =
        metrics.iter().find(|(n, _, _)| n == "driftwatch_runs_skipped_total").unwrap().2;
    assert!(skipped_total >= 2.0);
    let up = metrics
        .iter()
        .find(|(n, l, _)| n == "driftwatch_target_up" && l.contains("hung"))
        .unwrap()
        .2;
    assert_eq!(up, 0.0);

    serve.signal(SIGTERM);
    assert_eq!(serve.exit_within(Duration::from_secs(15)).code(), Some(0), "{}", serve.logs());
    let runs = serve.runs();
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            b["started_at"].as_str().unwrap() >= a["finished_at"].as_str().unwrap(),
            "runs overlap: {} ends {}, {} starts {}",
            a["run_id"],
            a["finished_at"],
            b["run_id"],
            b["started_at"]
        );
        assert_eq!(b["targets"][0]["status"], "unreachable", "{:#}", b["targets"][0]);
    }
}

#[test]
fn serve_posts_a_webhook_after_a_run_with_an_unreachable_target() {
    let (hook_port, bodies) = webhook_receiver();
    let closed = free_port();
    let port = free_port();
    let rest = pg_target("gone", closed, "replica")
        + &format!(
            "[[notify]]\nurl = \"http://127.0.0.1:{hook_port}/hook?token=s3cret\"\nformat = \"json\"\ntimeout = \"5s\"\nretries = 1\n"
        );
    let ws = Workspace::with_config(&config(port, "*/1 * * * * *", "3s", "10s", &rest));
    let mut serve = Serve::start(ws, port);
    let (request_line, body) = bodies
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no webhook call; logs:\n{}", serve.logs()));
    assert!(request_line.starts_with("POST /hook?token=s3cret "), "{request_line}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let run_id = body["run_id"].as_str().unwrap();
    assert_eq!(body["report_url"], format!("http://dw.example.com/reports/runs/{run_id}.html"));
    assert_eq!(body["counts"]["unreachable"], 1);
    let event = &body["events"][0];
    assert_eq!(event["event"], "unreachable");
    assert_eq!(event["target"], "gone");
    assert_eq!(event["status"], "unreachable");
    assert!(event["error"].as_str().unwrap().to_lowercase().contains("refused"), "{event:#}");
    assert_eq!(body["summary"]["targets_unreachable"], 1);

    // Unreachable again on the next runs: not repeated.
    serve.wait_for("three runs", Duration::from_secs(20), || serve.runs().len() >= 3);
    std::thread::sleep(Duration::from_millis(500));
    assert!(bodies.try_recv().is_err(), "an unreachable target is reported once");

    serve.signal(SIGTERM);
    assert_eq!(serve.exit_within(Duration::from_secs(15)).code(), Some(0));
    let logs = serve.logs();
    assert!(logs.contains("notification sent") && logs.contains(&format!("127.0.0.1:{hook_port}")));
    assert!(!logs.contains("s3cret"), "the webhook URL's token is logged:\n{logs}");
}

#[test]
fn serve_exits_at_once_on_a_second_signal() {
    let (_hung, hung_port) = black_hole();
    let port = free_port();
    let targets = pg_target("hung", hung_port, "primary");
    let ws = Workspace::with_config(&config(port, "0 0 0 1 1 *", "60s", "60s", &targets));
    let mut serve = Serve::start(ws, port);
    serve.wait_for("a run in progress", Duration::from_secs(10), || {
        serve.logs().contains("schedule added")
    });
    std::thread::sleep(Duration::from_millis(500));

    serve.signal(SIGTERM);
    serve.wait_for("the shutdown to begin", Duration::from_secs(5), || {
        serve.logs().contains("waiting for the running audit")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(serve.is_running(), "the first signal waits for the running audit (grace 60 s)");
    serve.signal(SIGTERM);
    let status = serve.exit_within(Duration::from_secs(3));
    assert_eq!(status.code(), Some(130), "logs:\n{}", serve.logs());
    assert!(serve.runs().is_empty(), "the abandoned run is not committed");
}

#[test]
fn serve_config_errors_exit_2_and_a_busy_port_exits_3() {
    let bad = Workspace::with_config(&config(
        free_port(),
        "*/5 * * *",
        "3s",
        "5s",
        &pg_target("a", 1, "primary"),
    ));
    let out = bad.driftwatch(&["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("driftwatch.toml:12:8: cron `*/5 * * *` has 4 fields"), "{stderr}");

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let ws = Workspace::with_config(&config(
        port,
        "*/5 * * * * *",
        "3s",
        "5s",
        &pg_target("a", 1, "primary"),
    ));
    let out = ws.driftwatch(&["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn serve_alert_rules_pass_promtool() {
    let rules =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yml");
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool not found ({e}): install it with `bash tests/setup/tools.sh`")
        });
    assert!(
        out.status.success(),
        "promtool check rules failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every metric the rules use is one driftwatch exports.
    let text = std::fs::read_to_string(&rules).unwrap();
    for name in regex::Regex::new(r"driftwatch_[a-z_]+").unwrap().find_iter(&text) {
        assert!(
            [
                "driftwatch_findings",
                "driftwatch_target_up",
                "driftwatch_replication_lag_seconds",
                "driftwatch_last_run_timestamp_seconds",
                "driftwatch_last_run_duration_seconds",
                "driftwatch_last_run_success",
                "driftwatch_last_run_changes",
                "driftwatch_runs_skipped_total",
                "driftwatch_policy_bundle_info",
                "driftwatch_pooler_clients_waiting",
                "driftwatch_pooler_max_wait_seconds",
                "driftwatch_connections_in_use",
                "driftwatch_connections_limit",
                "driftwatch_connect_duration_seconds",
                "driftwatch_connections_refused_total",
                "driftwatch_connections_aborted_total",
                "driftwatch_connect_timeout",
            ]
            .contains(&name.as_str()),
            "unknown metric {} in alerts.yml",
            name.as_str()
        );
    }
}

/// Every file of deploy/prometheus/tests/: input series → the alerts expected to fire.
#[test]
fn serve_alert_rule_tests_pass_promtool() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/tests");
    let mut tests: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no rule tests in {}", dir.display());
    for test in tests {
        let out = std::process::Command::new("promtool")
            .args(["test", "rules"])
            .arg(&test)
            .output()
            .unwrap_or_else(|e| {
                panic!("promtool not found ({e}): install it with `bash tests/setup/tools.sh`")
            });
        assert!(
            out.status.success(),
            "promtool test rules {} failed:\n{}{}",
            test.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn serve_shipped_configs_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for example in [
        "deploy/examples/driftwatch.toml",
        "deploy/examples/replicas.toml",
        "deploy/examples/serve.toml",
    ] {
        if let Err(e) = driftwatch::config::load(&root.join(example)) {
            panic!("{example}:\n{e}");
        }
    }
    // The TOML inside the Kubernetes ConfigMaps (a block scalar indented by 4).
    let configmap = |name: &str| {
        let text = std::fs::read_to_string(root.join("deploy/kubernetes").join(name)).unwrap();
        let (_, block) = text.split_once("driftwatch.toml: |\n").unwrap();
        let toml: String = block
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        driftwatch::config::parse(std::path::Path::new("/etc/driftwatch/driftwatch.toml"), &toml)
            .unwrap_or_else(|e| panic!("{name}:\n{e}"))
    };
    let config = configmap("configmap.yaml");
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9187");
    let sharded = configmap("configmap-sharded.yaml");
    let sharding = sharded.schedule.sharding.expect("sharded");
    assert_eq!(sharding.index("driftwatch-2"), Ok(2));
    let statefulset =
        std::fs::read_to_string(root.join("deploy/kubernetes/statefulset.yaml")).unwrap();
    assert!(
        statefulset.contains(&format!("replicas: {}", sharding.count)),
        "statefulset.yaml runs one replica per shard"
    );
}

/// A replica audited on its own schedule is judged by the group rules against its
/// primary's newest collection from another run, not told its group "declares no
/// primary" (`audit.group_member_max_age`).
#[test]
fn a_replica_on_its_own_schedule_is_judged_against_the_primary_of_another_run() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    require_service("127.0.0.1", PG_REPLICA, START_SERVICES);
    let port = free_port();
    let member = |name: &str, port: u16, role: &str, schedule: &str| {
        format!(
            "[[targets]]\nname = \"{name}\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{port}/postgres\"\nrole = \"{role}\"\ngroup = \"ci\"\n{schedule}\n"
        )
    };
    let targets = member("pg-primary", PG_PRIMARY, "primary", "schedule = \"*/3 * * * * *\"")
        + &member("pg-replica", PG_REPLICA, "replica", "");
    let ws = Workspace::with_config(&config(port, "*/1 * * * * *", "5s", "20s", &targets));
    let mut serve = Serve::start(ws, port);
    let names = |run: &serde_json::Value| -> Vec<String> {
        run["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // A replica-only run started after a run that collected the primary was committed.
    let alone = || {
        let runs = serve.runs();
        let primary = runs.iter().find(|r| names(r).contains(&"pg-primary".to_owned()))?;
        let committed = primary["finished_at"].as_str().unwrap().to_owned();
        runs.iter()
            .find(|r| {
                names(r) == ["pg-replica"] && r["started_at"].as_str().unwrap() > committed.as_str()
            })
            .map(|r| r["run_id"].as_str().unwrap().to_owned())
    };
    serve.wait_for("a replica-only run after the primary's", Duration::from_secs(40), || {
        alone().is_some()
    });
    let run = serve.get(&format!("/api/runs/{}", alone().unwrap())).json();
    let replica = &run["targets"][0];
    assert_eq!(replica["name"], "pg-replica");
    let findings = replica["findings"].as_array().unwrap();
    let about_the_group: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| {
            let m = f["message"].as_str().unwrap_or("");
            m.contains("declares no primary") || m.contains("could not be collected")
        })
        .collect();
    assert!(about_the_group.is_empty(), "{about_the_group:#?}");
    // The parity rules did compare with the primary: some group rule passed or failed.
    assert!(
        findings.iter().any(|f| f["message"].as_str().unwrap_or("").contains("pg-primary")),
        "no finding names the primary: {findings:#?}"
    );
    serve.signal(SIGTERM);
    assert_eq!(serve.exit_within(Duration::from_secs(25)).code(), Some(0), "{}", serve.logs());
}
