//! The HTML reports as a browser sees them: headless Chromium opening them from
//! `file://` after the report folder was copied elsewhere. The pages carry no script
//! and no event handler (checked on the DOM), so what Chromium shows is what a reader
//! with JavaScript off sees. (Chromium's own `--dump-dom` and `--screenshot` need
//! JavaScript enabled in headless mode, so it is left on.)

use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::*;
use crate::support::MEMCACHED;

const CHROMIUM: &str = "/usr/bin/chromium";

#[track_caller]
pub(crate) fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "headless Chromium is needed for report tests: `apt-get install -y chromium` \
         (tests/run.sh installs it)"
    );
}

pub(crate) fn chromium(profile: &Path) -> Command {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The DOM Chromium builds from a page.
pub(super) fn dump_dom(page: &Path, profile: &Path) -> String {
    let out = chromium(profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// No script element, no inline event handler, no `javascript:` URL.
#[track_caller]
pub(crate) fn assert_inert(dom: &str, what: &str) {
    let lower = dom.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{what} carries a script");
    assert!(!lower.contains("javascript:"), "{what} carries a javascript: URL");
    let handler = regex::Regex::new(r#"<[^>]*\son[a-z]+\s*="#).unwrap();
    assert!(!handler.is_match(&lower), "{what} carries an event handler");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub(super) fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn reports_read_without_javascript_in_chromium_after_a_copy() {
    require_chromium();
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let ws = Workspace::new(&[PRIMARY]);
    let run = ws.audit_json();
    let run_id = run["run_id"].as_str().unwrap();
    let failing: Vec<String> = run["targets"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["rule"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(!failing.is_empty(), "a stock server fails some rule");

    // Reports must work from anywhere: copy the folder and open the copy.
    let elsewhere = tempfile::tempdir().unwrap();
    copy_dir(&ws.store().join("reports"), &elsewhere.path().join("reports"));
    let profile = tempfile::tempdir().unwrap();
    let run_page = elsewhere.path().join(format!("reports/runs/{run_id}.html"));
    let dom = dump_dom(&run_page, profile.path());
    assert_inert(&dom, "the run page");
    for rule in &failing {
        let id = format!("id=\"f-pg-primary-{rule}\"");
        assert!(dom.contains(&id), "failing finding {id} is not in the rendered run page");
    }
    for page in ["reports/index.html", "reports/targets/pg-primary.html"] {
        let dom = dump_dom(&elsewhere.path().join(page), profile.path());
        assert!(dom.contains("pg-primary"), "{page} does not show the target");
        assert_inert(&dom, page);
    }
    let dom = dump_dom(&elsewhere.path().join("reports/controls.html"), profile.path());
    assert_inert(&dom, "the controls page");
    assert!(dom.contains("<h1>Controls</h1>") && dom.contains("Packs that ran: "), "{dom}");
    let index = dump_dom(&elsewhere.path().join("reports/index.html"), profile.path());
    assert!(index.contains(r#"<a href="controls.html">"#), "the index links to the controls");

    // Screenshots for a person to look at (kept under target/).
    for (name, page) in [
        ("index", "reports/index.html".to_owned()),
        ("run", format!("reports/runs/{run_id}.html")),
        ("target", "reports/targets/pg-primary.html".to_owned()),
        ("controls", "reports/controls.html".to_owned()),
    ] {
        screenshot(&elsewhere.path().join(page), name, 2000, profile.path());
    }
}

/// `<screenshots_dir>/<name>.png` of `page`, 1280 px wide and `height` high.
#[track_caller]
fn screenshot(page: &Path, name: &str, height: u32, profile: &Path) {
    let png = screenshots_dir().join(format!("{name}.png"));
    let out = chromium(profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success() && png.is_file(), "screenshot of {name} failed");
}

/// A run's page is the record of that run: later audits add their own page and leave
/// earlier ones as written, and every link in the folder still resolves.
#[test]
fn an_earlier_runs_page_is_left_as_written() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let ws = Workspace::new(&[PRIMARY]);
    let first = ws.audit_json()["run_id"].as_str().unwrap().to_owned();
    let first_page = ws.store().join(format!("reports/runs/{first}.html"));
    let written = std::fs::read(&first_page).expect("the first run's page");
    let second = ws.audit_json()["run_id"].as_str().unwrap().to_owned();
    let third = ws.audit_json()["run_id"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read(&first_page).unwrap(), written, "the first run's page was rewritten");
    assert_eq!(ws.count_files("reports/runs"), 3);
    let third_page =
        std::fs::read_to_string(ws.store().join(format!("reports/runs/{third}.html"))).unwrap();
    assert!(
        third_page.contains(&format!("href=\"../runs/{second}.html\"")),
        "the newest run's page links to the previous run's"
    );
    let index = std::fs::read_to_string(ws.store().join("reports/index.html")).unwrap();
    for id in [&first, &second, &third] {
        assert!(index.contains(&format!("runs/{id}.html")), "the index links to run {id}");
    }
    assert_eq!(ws.broken_report_links(), Vec::<String>::new());
}

/// An audit in which nothing changed rewrites only the pages whose content changed: a
/// group of two memcached targets (no replication, no live readings) has the same group
/// page run after run, left as written (same file, same bytes, its footer still saying
/// when it was generated), while the target pages, whose charts gain a run, and the
/// index are written again. Once the record is lost, everything is written again.
#[test]
fn an_unchanged_page_is_left_as_written() {
    use std::os::unix::fs::MetadataExt as _;
    require_port(MEMCACHED, "memcached");
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"cache-a\"\nkind = \"memcached\"\n\
         url = \"memcached://127.0.0.1:{MEMCACHED}\"\nrole = \"standalone\"\ngroup = \"caches\"\n\n\
         [[targets]]\nname = \"cache-b\"\nkind = \"memcached\"\n\
         url = \"memcached://127.0.0.1:{MEMCACHED}\"\nrole = \"standalone\"\ngroup = \"caches\"\n",
        policies_dir().display()
    ));
    // (inode, modification time, bytes): a page written again is a new file.
    let page = |relative: &str| {
        let path = ws.store().join("reports").join(relative);
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{relative}: {e}"));
        (meta.ino(), meta.modified().unwrap(), std::fs::read(&path).unwrap())
    };
    ws.audit_json();
    ws.audit_json();
    let (group, target, index) =
        (page("groups/caches.html"), page("targets/cache-a.html"), page("index.html"));
    let third = ws.driftwatch(&["audit"]);
    assert!(third.status.success(), "{}", String::from_utf8_lossy(&third.stderr));
    assert_eq!(page("groups/caches.html"), group, "the unchanged group page was rewritten");
    assert_ne!(page("targets/cache-a.html").2, target.2, "a target page charts the new run");
    assert_ne!(page("index.html").0, index.0, "the index was not written again");
    let log = String::from_utf8_lossy(&third.stderr);
    assert!(log.contains("pages_unchanged=1"), "the publish counts the page it left:\n{log}");
    assert_eq!(ws.broken_report_links(), Vec::<String>::new());

    // Without the record (or after someone else wrote the page) it is written again.
    std::fs::remove_file(ws.store().join("index/pages.json")).unwrap();
    ws.audit_json();
    let again = page("groups/caches.html");
    assert_ne!(again.0, group.0, "without the record the group page is written again");
    assert_ne!(again.1, group.1);
}

/// The controls page of a real audit, in Chromium: each control a rule cites, per
/// target, in the benchmark's order, with its status and a link to the finding.
#[test]
fn controls_page_shows_each_cited_control_in_chromium() {
    require_chromium();
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let policies = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(policies.path().join("postgres")).unwrap();
    std::fs::write(
        policies.path().join("postgres/controls.toml"),
        r#"[policy]
name = "ci-controls"
version = "1"
applies_to = { kind = "postgres" }

[[rule]]
id = "CI-CTL-001"
key = "setting.fsync"
expect = { equals = true }
severity = "low"
references = [{ benchmark = "CI benchmark", control = "1.2", title = "fsync <on>", url = "https://www.postgresql.org/docs/15/runtime-config-wal.html" }]

[[rule]]
id = "CI-CTL-002"
key = "setting.fsync"
expect = { equals = false }
severity = "low"
references = [{ benchmark = "CI benchmark", control = "1.10", title = "fsync off" }]

[[rule]]
id = "CI-CTL-003"
key = "setting.ci_no_such_setting"
expect = { equals = 1 }
missing = "not_applicable"
severity = "low"
references = [{ benchmark = "CI benchmark", control = "2.1", title = "absent" }]
"#,
    )
    .unwrap();
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n[[targets]]\nname = \"pg-primary\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PRIMARY_PORT}/postgres\"\nrole = \"primary\"\n",
        policies.path().display()
    ));
    ws.audit_json();
    let profile = tempfile::tempdir().unwrap();
    let dom = dump_dom(&ws.store().join("reports/controls.html"), profile.path());
    assert_inert(&dom, "the controls page");
    let at = |s: &str| dom.find(s).unwrap_or_else(|| panic!("no {s} in {dom}"));
    let (a, b, c) = (at("<code>1.2</code>"), at("<code>1.10</code>"), at("<code>2.1</code>"));
    assert!(a < b && b < c, "controls in the benchmark's order");
    let row = |from: usize| &dom[from..from + dom[from..].find("</tr>").unwrap()];
    assert!(row(a).contains("PASS") && row(a).contains("fsync &lt;on&gt;"), "{}", row(a));
    assert!(row(b).contains("FAIL"), "{}", row(b));
    assert!(row(c).contains("N/A"), "{}", row(c));
    assert!(row(a).contains(r#"href="targets/pg-primary.html#f-pg-primary-ci-ctl-001""#));
    assert!(dom.contains("CI benchmark"), "{dom}");
    assert_eq!(ws.broken_report_links(), Vec::<String>::new());
    let target = dump_dom(&ws.store().join("reports/targets/pg-primary.html"), profile.path());
    assert!(
        target.contains(r#"<a href="https://www.postgresql.org/docs/15/runtime-config-wal.html" rel="external noreferrer">CI-CTL-001</a>"#),
        "the passed row links the rule to its documentation"
    );
}

/// A real group, the primary and its streaming replica, in Chromium: a setting no
/// policy expects to differ (`work_mem`, which the replica's audit session sets and its
/// collector therefore leaves out, so no server is changed) comes first, counted; the ones the topology policy expects
/// (port, data directory, the standby's upstream) are folded below it in a closed
/// `<details>`, each with its reason. The trend charts have their axes and window.
#[test]
fn group_page_lists_the_drift_first_and_folds_expected_differences_in_chromium() {
    require_chromium();
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    require_port(REPLICA_PORT, "PostgreSQL streaming replica");
    let target = |name: &str, port: u16, role: &str, options: &str| {
        format!(
            "[[targets]]\nname = \"{name}\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{port}/postgres{options}\"\nrole = \"{role}\"\ngroup = \"ci\"\n\n"
        )
    };
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n{}{}",
        policies_dir().display(),
        target("pg-primary", PRIMARY_PORT, "primary", ""),
        target("pg-replica", REPLICA_PORT, "replica", "?options=-c%20work_mem%3D7MB"),
    ));
    ws.audit_json();
    let profile = tempfile::tempdir().unwrap();
    let page = ws.store().join("reports/groups/ci.html");
    let dom = dump_dom(&page, profile.path());
    assert_inert(&dom, "the group page");
    let at = |s: &str| dom.find(s).unwrap_or_else(|| panic!("no {s} in {dom}"));
    let fold = at(r#"<details id="expected-differences"><summary>"#);
    // Long values fold in a `<details>` of their own: the fold ends with its table.
    let end = fold + dom[fold..].find("</tbody></table></details>").unwrap();
    let drift = at(r#"<tr id="d-work-mem">"#);
    assert!(drift < fold, "the drift comes before the expected differences");
    assert!(dom[drift..].starts_with(r#"<tr id="d-work-mem"><td><code>work_mem</code>"#));
    assert!(at("that no policy expects to differ.</p>") < drift, "the drift is counted");
    for key in ["port", "data-directory", "primary-conninfo"] {
        let row = at(&format!(r#"<tr id="d-{key}">"#));
        assert!(fold < row && row < end, "{key} is folded with the expected differences");
    }
    let folded = &dom[fold..end];
    assert!(folded.contains("<td>identity: where each server lives</td>"), "{folded}");
    assert!(folded.contains("<td>set by role: a standby has an upstream and replays WAL</td>"));
    assert!(!folded.contains(r#"id="d-work-mem""#));
    let rows = folded.matches(r#"<tr id="d-"#).count();
    assert!(folded.contains(&format!("<summary>{rows} expected differences ")), "{folded}");

    // The index's trend chart: axes with numbers, the run's time, the window covered.
    let index = dump_dom(&ws.store().join("reports/index.html"), profile.path());
    assert!(index.contains(r#"<path class="axis" d="M"#), "the chart has axes");
    assert!(index.contains(r#"<text x="#) && index.contains(">0</text>"), "y ticks");
    assert!(index.contains("Runs covered: 1, from "), "the caption names the window");

    for (name, page) in [("group", "reports/groups/ci.html"), ("index-group", "reports/index.html")]
    {
        screenshot(&ws.store().join(page), name, 2400, profile.path());
    }
}
