//! `audit` killed (SIGKILL) at random points while it publishes, on a first audit and on
//! re-audits that add a target and a group each time. The index used to be written
//! before the pages it links to: a kill in that window left it linking to a missing
//! run page (and, on a first run, missing target and group pages). Now after every kill
//! no page reachable from the index links to a missing page, the next audit commits,
//! and once one finishes every link (anchors included) resolves.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{driftwatch, temporary_files, unreachable_links};
use crate::audit::harness::{Workspace, policies_dir};
use crate::support::fake_redis::{ConfigReply, FakeRedis};
use crate::support::{PG_PRIMARY, PG_REPLICA, START_SERVICES, require_service};

/// Enough pages that publishing takes a while: PostgreSQL primary and replica in one
/// group, fake Redis servers in another and on their own, and `extra` more targets
/// each in a group of its own (new pages on a re-audit).
fn config(fakes: &[FakeRedis], extra: usize) -> String {
    let mut text = format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"pg-primary\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\ngroup = \"pg\"\n\n\
         [[targets]]\nname = \"pg-replica\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_REPLICA}/postgres\"\nrole = \"replica\"\ngroup = \"pg\"\n\n",
        policies_dir().display()
    );
    for (i, fake) in fakes.iter().enumerate() {
        let group = if i % 2 == 0 { "group = \"cache\"\n" } else { "" };
        text += &format!(
            "[[targets]]\nname = \"cache-{i}\"\nkind = \"redis\"\nurl = \"{}\"\nrole = \"primary\"\n{group}\n",
            fake.url()
        );
    }
    for i in 0..extra {
        text += &format!(
            "[[targets]]\nname = \"added-{i}\"\nkind = \"redis\"\nurl = \"{}\"\nrole = \"primary\"\ngroup = \"added-{i}\"\n\n",
            fakes[0].url()
        );
    }
    text
}

/// Milliseconds in `0..upto` that differ from call to call (no RNG crate needed).
fn random_ms(upto: u64) -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos(),
    );
    h.finish() % upto.max(1)
}

/// Starts `audit` and returns once it logged `run committed` (publishing starts), with
/// the time since it started.
fn start_until_committed(ws: &Workspace) -> (Child, Duration) {
    let started = Instant::now();
    let mut child = driftwatch(&ws.config(), &["audit"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if line.contains("run committed") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("the audit never committed (hung?)");
    (child, started.elapsed())
}

/// How long publishing takes here: a whole audit, from its commit to its exit.
fn publish_time(ws: &Workspace) -> u64 {
    let (mut child, _) = start_until_committed(ws);
    let committed = Instant::now();
    assert!(child.wait().unwrap().success());
    committed.elapsed().as_millis() as u64
}

/// Kills an audit at a random point of its publishing; whether it finished first.
fn kill_while_publishing(ws: &Workspace, upto: u64) -> (u64, bool) {
    let (mut child, _) = start_until_committed(ws);
    let delay = random_ms(upto);
    std::thread::sleep(Duration::from_millis(delay));
    let finished = child.try_wait().unwrap().is_some();
    if !finished {
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    }
    child.wait().unwrap();
    (delay, finished)
}

#[track_caller]
fn check_reachable(ws: &Workspace, when: &str) {
    assert_eq!(unreachable_links(&ws.store()), Vec::<String>::new(), "{when}");
}

/// Makes every temporary file left by a kill look old, so the next audit removes it.
fn age_temporary_files(ws: &Workspace) -> usize {
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    let files = temporary_files(&ws.store());
    for f in &files {
        std::fs::File::options().write(true).open(f).unwrap().set_modified(old).unwrap();
    }
    files.len()
}

#[track_caller]
fn finish(ws: &Workspace) {
    let out = driftwatch(&ws.config(), &["audit"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ws.broken_report_links(), Vec::<String>::new());
    assert_eq!(temporary_files(&ws.store()), Vec::<PathBuf>::new(), "stale temporary files");
}

#[test]
fn killed_while_publishing_a_first_or_a_later_audit_no_reachable_link_breaks() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    require_service("127.0.0.1", PG_REPLICA, START_SERVICES);
    let fakes: Vec<FakeRedis> =
        (0..8).map(|_| FakeRedis::start("/etc/redis/redis.conf", ConfigReply::Normal)).collect();

    let probe = Workspace::with_config(&config(&fakes, 0));
    let upto = publish_time(&probe).clamp(20, 2000);
    let mut log = Vec::new();

    // First audits: each kill lands in the publishing of a store's first run.
    for _ in 0..4 {
        let ws = Workspace::with_config(&config(&fakes, 0));
        let (delay, finished) = kill_while_publishing(&ws, upto);
        log.push((delay, finished));
        check_reachable(&ws, &format!("first audit killed after {delay} ms"));
        age_temporary_files(&ws);
        finish(&ws);
    }

    // Re-audits, each adding a target in a new group (new pages), killed.
    let ws = Workspace::with_config(&config(&fakes, 0));
    finish(&ws);
    for extra in 1..=6 {
        std::fs::write(ws.config(), config(&fakes, extra)).unwrap();
        let (delay, finished) = kill_while_publishing(&ws, upto);
        log.push((delay, finished));
        check_reachable(&ws, &format!("re-audit {extra} killed after {delay} ms"));
    }
    let aged = age_temporary_files(&ws);
    eprintln!(
        "publishing takes ~{upto} ms; kills (ms, finished first): {log:?}; {aged} temporary files left"
    );
    assert!(log.iter().any(|(_, finished)| !finished), "no kill landed while publishing");
    finish(&ws);
}
