//! Store outages against a real S3-compatible server (a private moto, see
//! `support::moto`): a store that stays away fails the audit with exit 3 and leaves no
//! manifest; a store that comes back within the retry window does not fail the run;
//! a restarted (emptied) store serves the next audit.

use std::process::{Command, Output};
use std::time::Duration;

use driftwatch::store::Store;

use crate::audit::harness::{Workspace, policies_dir};
use crate::support::moto::{KEY_ID, Link, PrivateMoto, SECRET, store_section};
use crate::support::{PG_PRIMARY, START_SERVICES, require_service};

fn workspace(store_port: u16, prefix: &str, retries: usize, retry_timeout: &str) -> Workspace {
    Workspace::with_config(&format!(
        "{}[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"3s\"\ntarget_timeout = \"20s\"\n\n\
         [[targets]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\n",
        store_section(store_port, prefix, retries, retry_timeout),
        policies_dir().display()
    ))
}

fn audit(ws: &Workspace) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftwatch"));
    cmd.args(["audit", "--output", "json", "--config"])
        .arg(ws.config())
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("RUST_LOG", "driftwatch=debug");
    cmd
}

#[track_caller]
fn run_id_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "audit failed with {:?}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    run["run_id"].as_str().unwrap().to_owned()
}

/// Run ids committed under `prefix`, read from moto directly.
fn committed(moto: &PrivateMoto, prefix: &str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(&moto.location(prefix)).unwrap();
        store.list_runs().await.unwrap().into_iter().map(|id| id.0).collect()
    })
}

#[test]
fn audit_exits_3_and_commits_nothing_while_the_store_is_down_then_recovers() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let moto = PrivateMoto::start();
    let link = Link::new(moto.port);
    let ws = workspace(link.port, "down", 2, "2s");

    let first = run_id_of(&audit(&ws).output().unwrap());
    assert_eq!(committed(&moto, "down"), std::slice::from_ref(&first));

    link.cut();
    let out = audit(&ws).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "exit 3 when the store is down:\n{stderr}");
    assert!(stderr.contains("error: run failed: store"), "names the store:\n{stderr}");
    assert!(out.stdout.is_empty(), "no result printed for a failed run");
    assert!(!stderr.contains(SECRET), "the S3 secret reached the logs");
    assert_eq!(
        committed(&moto, "down"),
        std::slice::from_ref(&first),
        "the failed run left a manifest"
    );

    link.restore();
    let third = run_id_of(&audit(&ws).output().unwrap());
    assert_eq!(committed(&moto, "down"), [first, third]);
}

#[test]
fn a_store_back_within_the_retry_window_does_not_fail_the_run() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let moto = PrivateMoto::start();
    let link = Link::new(moto.port);
    let ws = workspace(link.port, "blip", 10, "30s");

    link.cut();
    let child = audit(&ws)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    link.restore();
    let out = child.wait_with_output().unwrap();
    let run = run_id_of(&out);
    assert_eq!(committed(&moto, "blip"), [run]);
}

#[test]
fn a_killed_store_fails_the_audit_and_the_restarted_one_serves_the_next() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let mut moto = PrivateMoto::start();
    let ws = workspace(moto.port, "restart", 1, "1s");
    run_id_of(&audit(&ws).output().unwrap());

    moto.kill();
    let out = audit(&ws).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));

    // moto keeps objects in memory: the restarted server is empty, bucket recreated.
    moto.restart();
    assert!(committed(&moto, "restart").is_empty());
    let run = run_id_of(&audit(&ws).output().unwrap());
    assert_eq!(committed(&moto, "restart"), [run]);
}

/// The metric's value in a Prometheus text exposition.
fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

#[test]
fn serve_marks_a_failed_run_and_recovers_on_the_next_tick() {
    use crate::serve::process::{Serve, free_port};
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let moto = PrivateMoto::start();
    let link = Link::new(moto.port);
    let port = free_port();
    let ws = Workspace::with_config(&format!(
        "{}\noptions = {{ aws_access_key_id = \"{KEY_ID}\", aws_secret_access_key = \"{SECRET}\" }}\n\n\
         [policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"3s\"\ntarget_timeout = \"10s\"\n\n\
         [schedule]\ncron = \"*/2 * * * * *\"\nrun_at_start = false\ngrace_period = \"5s\"\n\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[targets]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\n",
        store_section(link.port, "serve", 1, "1s").trim_end(),
        policies_dir().display()
    ));
    // The service starts with the store up (it reads the history at start-up and exits 3
    // when it cannot), then the store goes away under it.
    let serve = Serve::start(ws, port);
    serve.wait_for("start-up", Duration::from_secs(20), || {
        serve.logs().contains("driftwatch serve started")
    });
    link.cut();
    let success = || metric(&serve.get("/metrics").body, "driftwatch_last_run_success");
    serve.wait_for("a failed run", Duration::from_secs(30), || success() == Some(0.0));
    assert!(serve.logs().contains("scheduled run failed"), "{}", serve.logs());
    assert!(committed(&moto, "serve").is_empty(), "a failed run left a manifest");

    link.restore();
    serve.wait_for("a run after the store came back", Duration::from_secs(30), || {
        success() == Some(1.0)
    });
    assert!(!committed(&moto, "serve").is_empty());
    assert!(!serve.logs().contains(SECRET), "the S3 secret reached the logs");
}

#[test]
fn a_2_s_s3_outage_inside_the_default_retry_budget_does_not_fail_the_run() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let moto = PrivateMoto::start();
    let link = Link::new(moto.port);
    // The documented defaults: 5 retries, 100 ms doubling (3.1 s in all), 30 s.
    let section = store_section(link.port, "two-seconds", 5, "30s");
    let section: String = section
        .lines()
        .filter(|l| !l.starts_with("retries") && !l.starts_with("retry_timeout"))
        .map(|l| format!("{l}\n"))
        .collect();
    let ws = Workspace::with_config(&format!(
        "{section}\n[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"3s\"\ntarget_timeout = \"20s\"\n\n\
         [[targets]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\n",
        policies_dir().display()
    ));
    link.cut();
    let child = audit(&ws)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    link.restore();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run = run_id_of(&out);
    assert!(stderr.contains("store error, retrying"), "the outage was not met:\n{stderr}");
    assert_eq!(committed(&moto, "two-seconds"), [run]);
}
