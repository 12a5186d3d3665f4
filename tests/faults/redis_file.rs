//! A Redis server chooses what its `INFO server` says: here it names a FIFO (which
//! hung the run forever), `/dev/zero` (2 GB of RSS) and another target's password file
//! (whose content reached the snapshot and the report). The collector reads only the
//! `config_file` an operator configured, so none of them is opened; and when the
//! operator configures such a path by mistake, the bounded reader refuses the FIFO
//! and the device and never quotes the secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{driftwatch, run_measured};
use crate::audit::harness::{Workspace, policies_dir};
use crate::serve::process::{Serve, free_port};
use crate::support::fake_redis::{ConfigReply, FakeRedis};

const SECRET: &str = "pa55wordOfAnotherTarget";

/// Peak RSS of an audit of six fake Redis targets; the binary idles at ~20 MB.
const MAX_RSS_KIB: u64 = 100 * 1024;

/// A FIFO, `/dev/zero` and a secret file, as paths.
struct Hostile {
    _dir: tempfile::TempDir,
    fifo: PathBuf,
    zero: PathBuf,
    secret: PathBuf,
}

fn hostile() -> Hostile {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    // Another target's password_file, as systemd hands credentials over.
    let credentials = dir.path().join("credentials/driftwatch.service");
    std::fs::create_dir_all(&credentials).unwrap();
    let secret = credentials.join("orders-db");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    Hostile { fifo, zero: PathBuf::from("/dev/zero"), secret, _dir: dir }
}

fn target(name: &str, url: &str, config_file: Option<&Path>) -> String {
    let file = config_file.map(|f| format!("config_file = \"{}\"\n", f.display()));
    format!(
        "[[targets]]\nname = \"{name}\"\nkind = \"redis\"\nurl = \"{url}\"\nrole = \"primary\"\n{}\n",
        file.unwrap_or_default()
    )
}

/// Every target against a fake naming one of the paths; the `-configured` ones also
/// have that path as their `config_file` (an operator's mistake).
fn targets(h: &Hostile, fakes: &[FakeRedis; 3]) -> String {
    let paths = [("fifo", &h.fifo), ("zero", &h.zero), ("secret", &h.secret)];
    let mut text = String::new();
    for ((name, path), fake) in paths.iter().zip(fakes) {
        text += &target(&format!("{name}-named"), &fake.url(), None);
        text += &target(&format!("{name}-configured"), &fake.url(), Some(path));
    }
    text
}

fn fakes(h: &Hostile) -> [FakeRedis; 3] {
    [&h.fifo, &h.zero, &h.secret]
        .map(|p| FakeRedis::start(&p.display().to_string(), ConfigReply::Normal))
}

/// `server.pending_source` of `target` in the stored snapshot the run names.
fn pending_source(ws: &Workspace, run: &serde_json::Value, target: &str) -> (String, String) {
    let t = run["targets"].as_array().unwrap().iter().find(|t| t["name"] == target).unwrap();
    assert_eq!(t["status"], "ok", "{target} was collected: {t:#}");
    let digest = t["snapshot"].as_str().unwrap();
    let path = ws.store().join(format!("snapshots/{target}/{digest}.json"));
    let snap: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let e = &snap["config"]["server.pending_source"];
    (e["value"].as_str().unwrap().to_owned(), e["source"].as_str().unwrap_or("").to_owned())
}

#[track_caller]
fn assert_secret_nowhere(what: &str, text: &str) {
    let lower = text.to_ascii_lowercase();
    assert!(!lower.contains(&SECRET.to_ascii_lowercase()), "the secret reached {what}");
}

#[test]
fn a_server_naming_a_fifo_dev_zero_or_a_secret_gets_none_of_them_read() {
    let h = hostile();
    let fakes = fakes(&h);
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [audit]\nstatement_timeout = \"3s\"\ntarget_timeout = \"10s\"\n\n{}",
        policies_dir().display(),
        targets(&h, &fakes)
    ));
    let out = run_measured(
        &mut driftwatch(&ws.config(), &["audit", "--output", "json"]),
        Duration::from_secs(120),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let run: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();

    for name in ["fifo", "zero", "secret"] {
        let (value, note) = pending_source(&ws, &run, &format!("{name}-named"));
        assert_eq!(value, "unavailable");
        assert!(note.contains("the target has no config_file: set it"), "{note}");
        assert!(note.contains("the server says it was started from /"), "{note}");
    }
    let configured = |name: &str| pending_source(&ws, &run, &format!("{name}-configured"));
    let (value, note) = configured("fifo");
    assert_eq!(value, "unavailable");
    assert!(note.contains("fifo is a FIFO, not a regular file"), "{note}");
    let (_, note) = configured("zero");
    assert!(note.contains("/dev/zero is a character device, not a regular file"), "{note}");
    let (_, note) = configured("secret");
    let expect = format!("{}:1 did not parse as redis configuration", h.secret.display());
    assert!(note.contains(&expect), "{note}");

    assert_secret_nowhere("stdout", &out.stdout);
    assert_secret_nowhere("the logs", &out.stderr);
    for (path, bytes) in ws.store_files() {
        assert_secret_nowhere(&path.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
    assert!(
        out.max_rss_kib < MAX_RSS_KIB,
        "peak RSS {} KiB, bound {MAX_RSS_KIB} KiB",
        out.max_rss_kib
    );
    eprintln!("peak RSS {} KiB", out.max_rss_kib);
}

#[test]
fn serve_answers_healthz_and_stops_on_sigterm_whatever_the_server_names() {
    let h = hostile();
    let fakes = fakes(&h);
    let port = free_port();
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [audit]\nstatement_timeout = \"3s\"\ntarget_timeout = \"10s\"\n\n\
         [schedule]\ncron = \"*/1 * * * * *\"\nrun_at_start = true\ngrace_period = \"10s\"\n\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
        policies_dir().display(),
        targets(&h, &fakes)
    ));
    let mut serve = Serve::start(ws, port);
    let mut answered = 0;
    serve.wait_for("three committed runs", Duration::from_secs(60), || {
        // The web server answers all along, between and during runs.
        let health = serve.get("/healthz");
        assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
        answered += 1;
        serve.runs().len() >= 3
    });
    assert!(answered > 0);
    serve.signal(libc::SIGTERM);
    let status = serve.exit_within(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", serve.logs());
    assert_secret_nowhere("the serve logs", &serve.logs());
    for (path, bytes) in serve.ws.store_files() {
        assert_secret_nowhere(&path.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}
