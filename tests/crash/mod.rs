//! Crash consistency: `driftwatch audit` killed with SIGKILL mid-run never leaves a
//! manifest that points at something missing, and the next audit commits.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftwatch::run::Run;
use driftwatch::store::Store;
use driftwatch::store::StoreLocation;

use crate::audit::harness::{Workspace, policies_dir};
use crate::support::invariant::check_history;
use crate::support::{PG_PRIMARY, START_SERVICES, require_service};

/// The config: the local PostgreSQL, and when `hung_port` is given a target there that
/// accepts TCP and never answers (so the run waits out the 5 s timeouts).
fn config(hung_port: Option<u16>) -> String {
    let mut text = format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"5s\"\ntarget_timeout = \"5s\"\n\n\
         [[targets]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\n\n",
        policies_dir().display()
    );
    if let Some(port) = hung_port {
        text += &format!(
            "[[targets]]\nname = \"hung\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{port}/postgres\"\nrole = \"primary\"\n"
        );
    }
    text
}

fn spawn_audit(ws: &Workspace) -> Child {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["audit", "--config"])
        .arg(ws.config())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start driftwatch audit")
}

fn kill9(child: &mut Child) {
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill failed");
    let status = child.wait().unwrap();
    assert!(status.code().is_none() || status.success(), "{status:?}");
}

fn committed(ws: &Workspace) -> Vec<Run> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(&StoreLocation::Local(ws.store())).unwrap();
        check_history(&store).await
    })
}

#[track_caller]
fn audit_commits(ws: &Workspace, before: usize) -> Vec<Run> {
    let out = ws.driftwatch(&["audit", "--output", "json"]);
    assert!(out.status.success(), "audit failed: {}", String::from_utf8_lossy(&out.stderr));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = committed(ws);
    assert_eq!(runs.len(), before + 1, "the audit after the crash commits");
    assert_eq!(runs.last().unwrap().run_id.0, run["run_id"].as_str().unwrap());
    runs
}

/// Milliseconds in `0..upto` that differ from run to run (no RNG crate needed).
fn random_ms(upto: u64) -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos(),
    );
    h.finish() % upto
}

#[test]
fn crash_killed_while_waiting_for_a_hung_target_leaves_no_manifest() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let ws = Workspace::with_config(&config(Some(hung.local_addr().unwrap().port())));

    // Kill once the PostgreSQL snapshot is stored: the run is waiting for `hung`.
    let mut child = spawn_audit(&ws);
    let start = Instant::now();
    while ws.count_files("snapshots/pg") == 0 {
        assert!(start.elapsed() < Duration::from_secs(4), "no PostgreSQL snapshot after 4 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the audit ended before the kill");
    kill9(&mut child);
    assert_eq!(ws.count_files("snapshots/pg"), 1, "the snapshot was written");
    assert_eq!(ws.count_files("runs"), 0, "no manifest for the killed run");
    assert!(committed(&ws).is_empty());

    // The next audit commits, and reuses the orphan snapshot (same configuration).
    let runs = audit_commits(&ws, 0);
    let run = runs.last().unwrap();
    assert_eq!(run.target("pg").unwrap().status.as_str(), "ok");
    let hung = run.target("hung").unwrap();
    assert_ne!(hung.status.as_str(), "ok", "{hung:?}");
    assert_eq!(ws.count_files("snapshots/pg"), 1);
}

#[test]
fn crash_killed_at_random_points_keeps_every_manifest_whole() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    // PostgreSQL alone: a run takes well under a second, so random kills land in
    // collection, the snapshot and policy writes, the commit, the index and reports.
    let ws = Workspace::with_config(&config(None));
    let clock = Instant::now();
    let mut runs = audit_commits(&ws, 0).len();
    // Kill within the span a whole run takes here (at most 800 ms).
    let upto = (clock.elapsed().as_millis() as u64).clamp(100, 800);
    let mut delays = Vec::new();
    for _ in 0..5 {
        let delay = random_ms(upto);
        delays.push(delay);
        let mut child = spawn_audit(&ws);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            kill9(&mut child);
        } else {
            child.wait().unwrap();
        }
        let now = committed(&ws).len();
        assert!(now == runs || now == runs + 1, "after a kill at {delay} ms: {runs} → {now}");
        runs = now;
    }
    eprintln!("killed after {delays:?} ms; {runs} runs committed");
    audit_commits(&ws, runs);
}
