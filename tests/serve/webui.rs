//! The web UI in headless Chromium against a real `serve`: the history is made by four
//! audits of a Redis and a PostgreSQL of this test's own (Redis changed between them
//! with `CONFIG SET`, PostgreSQL given a pending `max_connections` with `ALTER
//! SYSTEM`), then `serve` answers from it. Each filter
//! of `/findings` changes the rows shown, search finds a setting by its value, the
//! per-setting timeline lists the three values the setting was given, and a typo
//! gets a 404 with a suggestion. Screenshots go to `target/screenshots/webui-*.png`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::process::*;
use crate::audit::harness::Workspace;
use crate::audit::reports::{assert_inert, chromium, require_chromium};
use crate::support::pg::TestPg;

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A redis-server of this test's own, on a free port, nothing saved; stopped (by its
/// pid) when dropped.
struct OwnRedis {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        assert!(
            Path::new(REDIS_SERVER).exists(),
            "this test starts its own Redis: apt-get install -y redis-server"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--timeout", "0", "--loglevel", "notice"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let redis = OwnRedis { port, child, _dir: dir };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    /// One command, its reply line (`+OK`).
    #[track_caller]
    fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut resp = format!("*{}\r\n", args.len());
        for a in args {
            resp.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(resp.as_bytes()).unwrap();
        let mut reply = [0u8; 256];
        let n = stream.read(&mut reply).unwrap();
        let reply = String::from_utf8_lossy(&reply[..n]).trim().to_owned();
        assert_eq!(reply, "+OK", "{args:?}");
        reply
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The DOM Chromium builds from a served page.
#[track_caller]
fn dom(port: u16, path: &str, profile: &Path) -> String {
    let out = chromium(profile)
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8(out.stdout).expect("utf-8 DOM");
    assert_inert(&dom, path);
    dom
}

#[track_caller]
fn screenshot(port: u16, path: &str, name: &str, profile: &Path) {
    let png = screenshots_dir().join(format!("webui-{name}.png"));
    let _ = std::fs::remove_file(&png);
    let out = chromium(profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,900")
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run chromium");
    assert!(out.status.success() && png.is_file(), "screenshot of {path} failed");
}

/// The rows of the findings table, as `target/rule`.
fn finding_rows(dom: &str) -> Vec<String> {
    let row = regex::Regex::new(
        r#"(?s)<tr class="finding">.*?<td class="nw"><a href="[^"]*">([^<]*)</a></td><td class="nw"><a href="[^"]*">([^<]*)</a></td>"#,
    )
    .unwrap();
    row.captures_iter(dom).map(|c| format!("{}/{}", &c[1], &c[2])).collect()
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

#[test]
fn web_ui_filters_searches_and_shows_a_settings_timeline_in_chromium() {
    require_chromium();
    let pg = TestPg::start(&["max_connections=100", "superuser_reserved_connections=3"]);
    let redis = OwnRedis::start();
    redis.command(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]);

    let port = free_port();
    let targets = format!(
        "[[targets]]\nname = \"pg-primary\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{}/postgres\"\nrole = \"primary\"\nlabels = {{ env = \"test\" }}\n\n\
         [[targets]]\nname = \"redis-cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\nrole = \"standalone\"\nlabels = {{ env = \"prod\" }}\n\n",
        pg.port, redis.port
    );
    // A schedule that does not tick during the test: the history is the four audits.
    // The security pack holds the rules on timeout and loglevel.
    let text = config(port, "0 0 0 1 1 *", "5s", "5s", &targets)
        .replace("run_at_start = true", "run_at_start = false")
        .replace(
            "\n\n[audit]",
            "\npacks = [\"replication\", \"connections\", \"security\"]\n\n[audit]",
        );
    assert!(text.contains("packs = ["), "{text}");
    let ws = Workspace::with_config(&text);
    ws.audit_json();
    // Three changes of timeout: passing, failing (RD-SEC-009 wants at least 1s), passing.
    let values = [("10", "10 s"), ("0", "0"), ("30", "30 s")];
    for (i, (timeout, shown)) in values.into_iter().enumerate() {
        redis.command(&["CONFIG", "SET", "timeout", timeout]);
        if i == 2 {
            // Newly failing in the last audit: RD-LOG-001 wants notice or verbose.
            redis.command(&["CONFIG", "SET", "loglevel", "warning"]);
            // And a value that takes effect at the next restart (max_connections is
            // given on this server's command line, which outranks the file).
            pg.psql("ALTER SYSTEM SET max_wal_senders = 7");
            pg.psql("SELECT pg_reload_conf()");
        }
        let run = ws.audit_json();
        let redis_run =
            run["targets"].as_array().unwrap().iter().find(|t| t["name"] == "redis-cache").unwrap();
        assert!(
            redis_run["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["key"] == "setting.timeout" && c["after"] == shown),
            "audit {} saw timeout {timeout}: {redis_run:#}",
            i + 2
        );
    }
    let serve = Serve::start(ws, port);
    let profile = tempfile::tempdir().unwrap();
    let profile = profile.path();

    // Findings: the default is every target's failing findings.
    let all = dom(port, "/findings", profile);
    let baseline = finding_rows(&all);
    assert!(baseline.iter().any(|r| r == "redis-cache/RD-LOG-001"), "{baseline:?}");
    assert!(baseline.iter().any(|r| r.starts_with("pg-primary/")), "{baseline:?}");
    assert!(
        !baseline.iter().any(|r| r == "redis-cache/RD-SEC-009"),
        "timeout 30 passes: {baseline:?}"
    );
    assert!(all.contains(r#"value="fail" checked"#), "the form shows the default status");
    screenshot(port, "/findings", "findings", profile);
    for (query, expect) in [
        ("severity=low", "only low"),
        ("status=pass", "passing ones"),
        ("target=redis-cache", "one target"),
        ("label=env%3Dprod", "one label"),
        ("rule=RD-LOG-001", "one rule"),
        ("policy=redis-security", "one policy"),
        ("new=1", "new failures"),
    ] {
        let page = dom(port, &format!("/findings?{query}"), profile);
        let rows = finding_rows(&page);
        assert!(!rows.is_empty(), "{query} ({expect}) shows nothing");
        assert_ne!(rows, baseline, "{query} ({expect}) does not change the rows");
        let (name, value) = query.split_once('=').unwrap();
        let value = value.replace("%3D", "=");
        let selected = page.contains(&format!(r#"name="{name}" value="{value}" checked"#))
            || page.contains(&format!(r#"<option value="{value}" selected"#));
        assert!(selected, "{query}: the form does not show the filter");
        match name {
            "target" | "label" | "policy" => {
                assert!(rows.iter().all(|r| r.starts_with("redis-cache/")), "{query}: {rows:?}")
            }
            "rule" | "new" => {
                assert!(rows.contains(&"redis-cache/RD-LOG-001".to_owned()), "{query}: {rows:?}")
            }
            _ => {}
        }
        if name == "rule" {
            assert_eq!(rows, ["redis-cache/RD-LOG-001"]);
        }
        if name == "new" {
            assert!(page.contains(r#"<span class="new">NEW</span>"#));
            screenshot(port, &format!("/findings?{query}"), "findings-new", profile);
        }
    }

    // Search by value: the setting is found and links to its page.
    let found = dom(port, "/search?q=volatile-ttl", profile);
    assert!(found.contains("redis-cache"), "{found}");
    assert!(found.contains("targets/redis-cache/settings/setting.maxmemory-policy"), "{found}");
    assert_eq!(count(&found, r#"<tr class="hit">"#), 1, "{found}");
    screenshot(port, "/search?q=volatile-ttl", "search", profile);

    // The timeline of timeout: three changes, the three values, the rule's results.
    let path = "/targets/redis-cache/settings/setting.timeout";
    let timeline = dom(port, path, profile);
    assert_eq!(count(&timeline, r#"<tr class="value">"#), 3, "{timeline}");
    for (_, value) in values {
        assert!(
            timeline.contains(&format!("<ins><code>{value}</code>")),
            "value {value}: {timeline}"
        );
    }
    assert!(timeline.contains("RD-SEC-009"), "{timeline}");
    assert!(
        timeline.contains("FAIL") && timeline.contains("PASS"),
        "fails at 0, passes at 10 s and 30 s: {timeline}"
    );
    assert!(timeline.contains("../../../reports/runs/"), "links to the run pages");
    screenshot(port, path, "setting", profile);
    // Following a link resolves: the run page it names exists.
    let run_link =
        regex::Regex::new(r#"href="\.\./\.\./\.\./(reports/runs/[^"]+\.html)""#).unwrap();
    let first = run_link.captures(&timeline).expect("a run link")[1].to_owned();
    assert_eq!(serve.get(&format!("/{first}")).status, 200, "{first}");

    // A pending value: the live one on top, the pending one beside it, and its
    // appearance in the timeline (a bare name is the engine setting's).
    let path = "/targets/pg-primary/settings/max_wal_senders";
    let pending = dom(port, path, profile);
    assert!(pending.contains("<dt>now</dt><dd><code>10</code>"), "the live value: {pending}");
    assert!(
        pending.contains("<code>7</code> <strong>takes effect at restart</strong>"),
        "{pending}"
    );
    assert_eq!(count(&pending, r#"<tr class="value">"#), 1, "{pending}");
    assert!(pending.contains("pending (takes effect at restart)"), "{pending}");
    screenshot(port, path, "setting-pending", profile);

    // A typo is a 404 page with the target it meant.
    let typo = serve.get("/targets/redis-cahce/settings/setting.timeout");
    assert_eq!(typo.status, 404);
    assert!(typo.body.contains("redis-cache"), "{}", typo.body);
    let key_typo = serve.get("/targets/redis-cache/settings/setting.timout");
    assert_eq!(key_typo.status, 404);
    assert!(key_typo.body.contains("setting.timeout"), "{}", key_typo.body);
    assert_eq!(serve.get("/findings?severity=huge").status, 400);
    screenshot(port, "/targets/redis-cahce/settings/setting.timeout", "missing", profile);
}
