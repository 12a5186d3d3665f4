//! Secrets end to end: a changed Redis `masterauth` shows as a change of keyed
//! fingerprints and appears nowhere (store, stdout, stderr); `check` prints no secret
//! from a file in any output format; a wrong password makes an error that does not
//! hold it, for every engine that takes one.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::harness::{Workspace, policies_dir};
use crate::support::lock::ServerLock;
use crate::support::{
    MY_PRIMARY, PG_PRIMARY, REDIS_PRIMARY, REDIS_REPLICA, START_SERVICES, redis_url,
    require_service,
};

const KEY: &str = "driftwatch-integration-test-fingerprint-key";
const OLD_SECRET: &str = "driftwatch-test-secret";
const NEW_SECRET: &str = "rotated-masterauth-7f3a9c";

fn audit(ws: &Workspace, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["audit", "--output", "json", "--config"])
        .arg(ws.config())
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .output()
        .expect("run driftwatch")
}

#[track_caller]
fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "audit failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn admin() -> redis::Connection {
    redis::Client::open(redis_url(REDIS_REPLICA))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .expect("admin connection to the Redis replica")
}

fn set_masterauth(value: &str) {
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("masterauth").arg(value).query(&mut admin()).unwrap();
}

/// Puts the replica's `masterauth` back and waits for its link to the primary.
struct RestoreMasterauth;

impl Drop for RestoreMasterauth {
    fn drop(&mut self) {
        set_masterauth(OLD_SECRET);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info: String =
                redis::cmd("INFO").arg("replication").query(&mut admin()).unwrap_or_default();
            if info.contains("master_link_status:up") || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn a_changed_masterauth_is_a_change_of_fingerprints_and_the_secret_is_nowhere() {
    require_service("127.0.0.1", REDIS_REPLICA, START_SERVICES);
    let _lock = ServerLock::exclusive("redis-replica");
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"redis-replica\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_REPLICA}\"\nrole = \"replica\"\n",
        policies_dir().display()
    ));
    let key = [("DRIFTWATCH_SECRET_KEY", KEY)];
    let first = audit(&ws, &key);
    let run1 = json(&first);
    assert_eq!(run1["targets"][0]["status"], "ok", "the replica was collected: {run1:#}");

    let restore = RestoreMasterauth;
    set_masterauth(NEW_SECRET);
    let second = audit(&ws, &key);
    drop(restore);
    let run2 = json(&second);
    let changes = run2["targets"][0]["changes"].as_array().unwrap();
    let change = changes
        .iter()
        .find(|c| c["key"] == "setting.masterauth")
        .unwrap_or_else(|| panic!("no masterauth change in {changes:#?}"));
    let fingerprint = regex::Regex::new(r"^\[REDACTED hmac:[0-9a-f]{12}\]$").unwrap();
    let (before, after) = (change["before"].as_str().unwrap(), change["after"].as_str().unwrap());
    assert!(fingerprint.is_match(before) && fingerprint.is_match(after), "{change:#}");
    assert_ne!(before, after, "a changed secret has a new fingerprint");
    assert!(change.get("rollback").is_none(), "no rollback statement for a secret: {change:#}");

    for out in [&first, &second] {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            for secret in [OLD_SECRET, NEW_SECRET, KEY] {
                assert!(!text.contains(secret), "{secret} printed:\n{text}");
            }
        }
    }
    let files = ws.store_files();
    assert!(files.len() > 5, "the store holds the history");
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        for secret in [OLD_SECRET, NEW_SECRET, KEY] {
            assert!(!text.contains(secret), "{secret} stored in {}", path.display());
        }
    }

    // Without the key a secret reads [REDACTED] (going from keyed to unkeyed is a change).
    let unkeyed = json(&audit(&ws, &[]));
    let t = &unkeyed["targets"][0];
    assert!(t["changes"].as_array().unwrap().iter().any(|c| c["after"] == "[REDACTED]"));
}

#[test]
fn check_prints_no_secret_from_a_file_in_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let redis_conf = dir.path().join("redis.conf");
    std::fs::write(
        &redis_conf,
        "requirepass hunter2-file-secret\nmasterauth hunter2-file-secret\nmasteruser repl\n",
    )
    .unwrap();
    let pg_conf = dir.path().join("postgresql.conf");
    std::fs::write(
        &pg_conf,
        "primary_conninfo = 'host=10.0.0.1 user=r password=hunter2-file-secret'\n\
         ssl_passphrase_command = 'echo hunter2-file-secret'\n",
    )
    .unwrap();
    for (kind, file) in [("redis", &redis_conf), ("postgres", &pg_conf)] {
        for format in ["text", "json", "junit", "sarif"] {
            let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
                .args(["check", "--kind", kind, "--output", format, "--policies"])
                .arg(policies_dir())
                .arg("--file")
                .arg(file)
                .output()
                .unwrap();
            assert!(matches!(out.status.code(), Some(0 | 1)), "{kind} {format}: {out:?}");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!all.contains("hunter2"), "{kind} {format} printed the secret:\n{all}");
        }
    }
}

fn target(kind: &str, url: &str) -> String {
    format!(
        "[[targets]]\nname = \"{kind}\"\nkind = \"{kind}\"\nurl = \"{url}\"\npassword_env = \"DW_TEST_PASSWORD\"\nrole = \"primary\"\n\n"
    )
}

#[test]
fn a_wrong_password_never_reaches_errors_logs_or_the_store() {
    for port in [PG_PRIMARY, MY_PRIMARY, REDIS_PRIMARY] {
        require_service("127.0.0.1", port, START_SERVICES);
    }
    let password = "wrong-pw-9d2e41";
    let targets = [
        // Local PostgreSQL trusts 127.0.0.1: a missing role is its login failure.
        target("postgres", &format!("postgres://no_such_role@127.0.0.1:{PG_PRIMARY}/postgres")),
        target("mysql", &format!("mysql://driftwatch_auditor@127.0.0.1:{MY_PRIMARY}/")),
        target("redis", &format!("redis://driftwatch-auditor@127.0.0.1:{REDIS_PRIMARY}")),
    ]
    .concat();
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n{targets}",
        policies_dir().display()
    ));
    let out = audit(&ws, &[("DW_TEST_PASSWORD", password)]);
    let run = json(&out);
    for t in run["targets"].as_array().unwrap() {
        assert_ne!(t["status"], "ok", "{} logged in with a wrong password", t["name"]);
        let error = t["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty() && !error.contains(password), "{}: {error}", t["name"]);
    }
    let all =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains(password), "the password was printed:\n{all}");
    for (path, bytes) in ws.store_files() {
        assert!(!String::from_utf8_lossy(&bytes).contains(password), "{}", path.display());
    }
    assert!(Path::new(&ws.store()).is_dir());
}
