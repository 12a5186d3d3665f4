//! Runs the real `driftwatch` binary against the real local servers, in a scratch
//! folder with its own config and store.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub use crate::support::lock::ServerLock;
pub use crate::support::pg::TestPg;

pub const PRIMARY_PORT: u16 = crate::support::PG_PRIMARY;
pub const REPLICA_PORT: u16 = crate::support::PG_REPLICA;
pub const REPLICA_SECRET: &str = "driftwatch-test-secret";

/// Fails (never skips) with the command that brings the service up.
#[track_caller]
pub fn require_port(port: u16, what: &str) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!(
            "{what} is not listening on 127.0.0.1:{port}. Start the test services with \
             `bash tests/setup/services.sh` (or run everything with `bash tests/run.sh`)."
        );
    }
}

/// A scratch workspace: a config file, a store folder and the repository's policies.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

pub struct Target<'a> {
    pub name: &'a str,
    pub port: u16,
    pub role: &'a str,
    pub user: &'a str,
}

pub const PRIMARY: Target<'static> =
    Target { name: "pg-primary", port: PRIMARY_PORT, role: "primary", user: "postgres" };
pub const REPLICA: Target<'static> =
    Target { name: "pg-replica", port: REPLICA_PORT, role: "replica", user: "postgres" };

impl Target<'_> {
    /// This target on a test's own server: `PRIMARY.on(&pg)`.
    pub fn on(self, pg: &TestPg) -> Self {
        Target { port: pg.port, ..self }
    }
}

impl Workspace {
    pub fn new(targets: &[Target<'_>]) -> Workspace {
        let body: String = targets
            .iter()
            .map(|t| {
                format!(
                    "[[targets]]\nname = \"{}\"\nkind = \"postgres\"\nurl = \"postgres://{}@127.0.0.1:{}/postgres\"\nrole = \"{}\"\ngroup = \"ci\"\n\n",
                    t.name, t.user, t.port, t.role
                )
            })
            .collect();
        Workspace::with_config(&format!(
            "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"3s\"\ntarget_timeout = \"20s\"\n\n{body}",
            policies_dir().display()
        ))
    }

    pub fn with_config(text: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("driftwatch.toml"), text).expect("write config");
        Workspace { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("driftwatch.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `driftwatch <args> --config <this workspace>` with debug logs on.
    pub fn driftwatch(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_driftwatch"))
            .args(args)
            .arg("--config")
            .arg(self.config())
            .env("RUST_LOG", "debug")
            .output()
            .expect("run driftwatch")
    }

    /// Runs `audit --output json` and returns the parsed run manifest.
    #[track_caller]
    pub fn audit_json(&self) -> serde_json::Value {
        let out = self.driftwatch(&["audit", "--output", "json"]);
        assert!(
            out.status.success(),
            "audit failed with {:?}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
    }

    /// Every file under the store, with its bytes.
    pub fn store_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(&self.store(), &mut out);
        out.sort();
        out
    }

    pub fn count_files(&self, under: &str) -> usize {
        let root = self.store().join(under);
        self.store_files().iter().filter(|(p, _)| p.starts_with(&root)).count()
    }

    /// Every relative link in the store's report pages that names a missing page or a
    /// missing id, as `<page> -> <href>`.
    pub fn broken_report_links(&self) -> Vec<String> {
        broken_report_links(&self.store())
    }
}

/// Every relative link in the report pages of the local store at `store` that names a
/// missing page or a missing id, as `<page> -> <href>`.
pub fn broken_report_links(store: &Path) -> Vec<String> {
    let reports = store.join("reports");
    let mut files = Vec::new();
    walk(store, &mut files);
    let pages: std::collections::BTreeMap<PathBuf, String> = files
        .into_iter()
        .filter(|(p, _)| p.starts_with(&reports) && p.extension().is_some_and(|e| e == "html"))
        .map(|(p, bytes)| (p, String::from_utf8(bytes).expect("utf-8 page")))
        .collect();
    let href = regex::Regex::new(r#"\shref="([^"]*)""#).unwrap();
    let id = regex::Regex::new(r#"\sid="([^"]*)""#).unwrap();
    let values = |re: &regex::Regex, html: &str| -> Vec<String> {
        re.captures_iter(html).map(|c| c[1].replace("&amp;", "&")).collect()
    };
    // Each page's ids, found once.
    let ids: std::collections::BTreeMap<&PathBuf, std::collections::HashSet<String>> =
        pages.iter().map(|(p, html)| (p, values(&id, html).into_iter().collect())).collect();
    let mut broken = Vec::new();
    for (page, html) in &pages {
        for href in values(&href, html) {
            if href.contains("://") || href.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = href.split_once('#').unwrap_or((&href, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                normalize(&page.parent().unwrap().join(file))
            };
            let ok = ids.get(&target).is_some_and(|ids| anchor.is_empty() || ids.contains(anchor));
            if !ok {
                let shown = page.strip_prefix(&reports).unwrap_or(page).display();
                broken.push(format!("{shown} -> {href}"));
            }
        }
    }
    broken
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            match std::fs::read(&path) {
                Ok(bytes) => out.push((path, bytes)),
                // A running audit's temporary file (`<object>#<n>`), renamed into place
                // between the listing and the read: the object itself is read next time.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("read store file {}: {e}", path.display()),
            }
        }
    }
}

pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Runs SQL as the superuser through psql on the server at `port`: reads of the shared
/// servers, or writes to a server the setup started (a test's own servers have
/// [`TestPg::psql`]).
#[track_caller]
pub fn psql(port: u16, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atqc",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Sets a setting of a test's own server with ALTER SYSTEM + reload, and resets it when
/// dropped (also when the test panics), for a test that audits the way back. Never the
/// shared primary: a killed test would leave it changed.
pub struct AlteredSetting<'a> {
    pg: &'a TestPg,
    name: &'static str,
}

impl AlteredSetting<'_> {
    #[track_caller]
    pub fn set<'a>(pg: &'a TestPg, name: &'static str, value: &str) -> AlteredSetting<'a> {
        pg.psql(&format!("ALTER SYSTEM SET {name} = '{value}'"));
        pg.psql("SELECT pg_reload_conf()");
        wait_for_setting(pg, name, value);
        AlteredSetting { pg, name }
    }
}

impl Drop for AlteredSetting<'_> {
    fn drop(&mut self) {
        // Best effort: in a panicking test the server may be gone, and it is ours anyway.
        let _ = self.pg.try_psql("postgres", &format!("ALTER SYSTEM RESET {}", self.name));
        let _ = self.pg.try_psql("postgres", "SELECT pg_reload_conf()");
    }
}

/// A reload is asynchronous: wait until new sessions see the value.
#[track_caller]
fn wait_for_setting(pg: &TestPg, name: &str, value: &str) {
    for _ in 0..50 {
        if pg.psql(&format!("SELECT setting FROM pg_settings WHERE name = '{name}'")) == value {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name} did not become {value} after reload");
}
