//! Hostile setting values in headless Chromium. A value can hold anything a server
//! lets a user write: markup that runs script, attribute and element breakouts, NUL and
//! control bytes, bytes that are not UTF-8 (collectors read them lossily), megabytes
//! of text. A run whose snapshot, findings, changes, errors and waivers carry them is
//! rendered with `driftwatch::report::render`, every page is opened in Chromium, and
//! the DOM proves no script ran (the `<title>` is unchanged, no script element, no
//! event handler) and the page parsed whole (its footer is there). Screenshots go to
//! `target/report-screenshots/hostile-*.png`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use driftwatch::diff::Change;
use driftwatch::finding::{AppliedWaiver, Finding, FindingStatus, Severity};
use driftwatch::report::{ReportInput, render};
use driftwatch::run::{PolicyBundle, Run, RunId, Summary, TargetRun, TargetStatus};
use driftwatch::snapshot::{Digest, Entry, Kind, Role, ServerInfo, Snapshot};

use super::reports::{assert_inert, chromium, dump_dom, require_chromium, screenshots_dir};

const IMG: &str = r#"<img src=x onerror="document.title='pwned'">"#;
const SCRIPT: &str = "<script>document.title='pwned'</script>";
const BREAKOUTS: &str = r#""><svg onload="document.title='pwned'"></code></pre></details></td></table><script>document.title='pwned'</script><!--"#;
const QUOTES: &str = r#"' onmouseover='document.title="pwned"' x='"#;

/// Every hostile value, by the setting that carries it.
fn hostile_values() -> Vec<(&'static str, String)> {
    let mut huge = "A".repeat(1_000_000);
    huge.push_str(SCRIPT);
    huge.push_str(&"B".repeat(1_000_000));
    huge.push_str(IMG);
    vec![
        ("application_name", IMG.to_owned()),
        ("cluster_name", SCRIPT.to_owned()),
        ("search_path", BREAKOUTS.to_owned()),
        ("log_line_prefix", QUOTES.to_owned()),
        ("listen_addresses", "a\u{0}b\u{1b}[31mc\u{7f}d\u{8}e\r\nf".to_owned()),
        // What the MySQL and Redis collectors make of bytes that are not UTF-8.
        ("dynamic_library_path", String::from_utf8_lossy(b"caf\xe9 \xff\xfe <b>x</b>").into()),
        ("shared_preload_libraries", huge),
        // A long value whose markup starts after the cut-off, inside the folded part.
        ("local_preload_libraries", format!("{}{SCRIPT}", "x".repeat(100))),
    ]
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn target(name: &str, collected_at: DateTime<Utc>) -> TargetRun {
    TargetRun {
        name: name.to_owned(),
        kind: Kind::Postgres,
        role: Role::Primary,
        detected_role: Some(Role::Primary),
        group: Some("hostile".to_owned()),
        labels: BTreeMap::from([("env".to_owned(), IMG.to_owned())]),
        address: format!("postgres://auditor@{name}:5432/{SCRIPT}"),
        status: TargetStatus::Ok,
        error: None,
        server_version: Some(format!("15.20 {IMG}")),
        snapshot: Some(Digest("e3b0".repeat(16))),
        previous_snapshot: Some(Digest("a1b2".repeat(16))),
        collected_at,
        duration_ms: 850,
        state: BTreeMap::from([("state.replication.note".to_owned(), Entry::new(SCRIPT))]).into(),
        findings: Default::default(),
        preflight: Vec::new(),
        detail: Default::default(),
        changes: Vec::new(),
    }
}

fn hostile_run() -> (Run, BTreeMap<String, Snapshot>) {
    let t0 = at("2026-11-25T16:15:04Z");
    let mut db = target("pg-hostile", t0);
    let mut config = BTreeMap::new();
    for (i, (name, value)) in hostile_values().into_iter().enumerate() {
        let key = format!("setting.{name}");
        let mut entry = Entry::new(value.clone());
        entry.source = Some(format!("configuration file {IMG}"));
        entry.source_file = Some(format!("/etc/{SCRIPT}.conf"));
        entry.source_line = Some(i as u32 + 1);
        config.insert(key.clone(), entry);
        std::sync::Arc::make_mut(&mut db.findings).push(Finding {
            rule: format!("HOSTILE-{i:03}"),
            policy: "hostile".to_owned(),
            key: key.clone(),
            severity: Severity::High,
            status: if i % 3 == 2 { FindingStatus::Waived } else { FindingStatus::Fail },
            expected: format!("not {IMG}"),
            actual: Some(value.clone()),
            message: format!("{name} is {value}"),
            rationale: Some(BREAKOUTS.into()),
            remediation: Some(format!("ALTER SYSTEM SET {name} = '{QUOTES}';").into()),
            references: Default::default(),
            location: Some(format!("{SCRIPT}:{i}")),
            waiver: (i % 3 == 2).then(|| AppliedWaiver {
                reason: IMG.to_owned(),
                expires: "2027-01-01".to_owned(),
                expired: false,
            }),
            drift: Default::default(),
            restarting: None,
        });
        db.changes.push(Change {
            key,
            before: Some(SCRIPT.to_owned()),
            after: Some(value),
            location: Some(format!("{IMG}:{i}")),
            previous_location: Some(QUOTES.to_owned()),
            rollback: Some(format!("ALTER SYSTEM SET {name} = '{SCRIPT}';")),
        });
    }
    // A setting name a server could report, carrying markup too.
    config.insert(format!("setting.x{IMG}"), Entry::new("on"));
    let mut down = target("pg-down", t0);
    down.status = TargetStatus::Error;
    down.error = Some(format!("server said: {BREAKOUTS}\u{0}"));
    down.snapshot = None;
    down.detected_role = None;
    let snapshot = Snapshot {
        target: "pg-hostile".to_owned(),
        kind: Kind::Postgres,
        server: ServerInfo { version: format!("15.20 {SCRIPT}"), role: Role::Primary },
        config,
    };
    let targets = vec![db, down];
    let run = Run {
        run_id: RunId("20261125T161500Z-6666".to_owned()),
        started_at: at("2026-11-25T16:15:00Z"),
        finished_at: at("2026-11-25T16:15:42Z"),
        trigger: format!("manual {IMG}"),
        driftwatch_version: "0.1.0".to_owned(),
        policy_bundle: PolicyBundle { digest: "9f2c".repeat(16), policies: vec![], packs: vec![] },
        previous_run: None,
        slot: None,
        summary: Summary::of(&targets),
        targets,
    };
    (run, BTreeMap::from([("pg-hostile".to_owned(), snapshot)]))
}

fn title(html: &str) -> String {
    let start = html.find("<title>").expect("a <title>") + "<title>".len();
    let end = start + html[start..].find("</title>").expect("</title>");
    html[start..end].to_owned()
}

#[test]
fn hostile_values_run_no_script_in_chromium_and_pages_stay_whole() {
    require_chromium();
    let (run, snapshots) = hostile_run();
    let pages = render(&ReportInput {
        run: &run,
        history: &[],
        snapshots: &snapshots,
        expected: &driftwatch::diff::ExpectedDifferences::NONE,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for page in &pages {
        let path = dir.path().join(&page.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &page.html).unwrap();
        assert!(page.html.len() < 2 * 1024 * 1024, "{} is {} bytes", page.path, page.html.len());
        assert!(!page.html.contains('\u{0}'), "{} holds a NUL", page.path);
    }
    let profile = tempfile::tempdir().unwrap();
    for page in &pages {
        let dom = dump_dom(&dir.path().join(&page.path), profile.path());
        let what = &page.path;
        assert_inert(&dom, what);
        assert!(!dom.contains("<img"), "{what}: an <img> element was created");
        assert!(!dom.contains("<svg onload"), "{what}: an <svg> element was created");
        assert_eq!(title(&dom), title(&page.html), "{what}: the title changed: a script ran");
        assert!(!title(&dom).contains("pwned"), "{what}: a script ran");
        assert!(dom.contains("generated at"), "{what}: the page did not parse to its footer");
    }
    let dom = dump_dom(&dir.path().join("reports/targets/pg-hostile.html"), profile.path());
    // The values are there, as text: escaped markup, visible control pictures, U+FFFD.
    assert!(dom.contains("&lt;img src=x onerror="), "the hostile value is not shown");
    assert!(dom.contains("a\u{2400}b\u{241b}[31mc\u{2421}d\u{2408}e"), "controls not visible");
    assert!(dom.contains("caf\u{fffd} \u{fffd}\u{fffd}"), "bad bytes not shown as U+FFFD");
    assert!(dom.contains("2,000,"), "the huge value's length is not shown");

    let shots = screenshots_dir();
    for (name, page) in [
        ("index", "reports/index.html".to_owned()),
        ("run", format!("reports/runs/{}.html", run.run_id.0)),
        ("target", "reports/targets/pg-hostile.html".to_owned()),
    ] {
        let png = shots.join(format!("hostile-{name}.png"));
        let _ = std::fs::remove_file(&png);
        let out = chromium(profile.path())
            .arg(format!("--screenshot={}", png.display()))
            .arg("--window-size=1280,2000")
            .arg(format!("file://{}", Path::new(dir.path()).join(&page).display()))
            .output()
            .expect("run chromium");
        assert!(out.status.success() && png.is_file(), "screenshot of {name} failed");
    }
}

/// Restores the replica's `replica-announce-ip` when dropped (also on panic).
struct AnnounceIp(Vec<u8>);

impl Drop for AnnounceIp {
    fn drop(&mut self) {
        let _: () = redis_admin()
            .and_then(|mut c| {
                redis::cmd("CONFIG")
                    .arg("SET")
                    .arg("replica-announce-ip")
                    .arg(&self.0)
                    .query(&mut c)
            })
            .expect("restore replica-announce-ip");
    }
}

fn redis_admin() -> redis::RedisResult<redis::Connection> {
    redis::Client::open(crate::support::redis_url(crate::support::REDIS_REPLICA))?
        .get_connection_with_timeout(std::time::Duration::from_secs(5))
}

#[test]
fn a_hostile_non_utf8_redis_value_is_audited_and_rendered_inert() {
    require_chromium();
    let port = crate::support::REDIS_REPLICA;
    crate::support::require_service("127.0.0.1", port, crate::support::START_SERVICES);
    let _lock = crate::support::lock::ServerLock::exclusive("redis-replica");
    let mut admin = redis_admin().unwrap();
    let old: Vec<Vec<u8>> =
        redis::cmd("CONFIG").arg("GET").arg("replica-announce-ip").query(&mut admin).unwrap();
    let _restore = AnnounceIp(old[1].clone());
    let hostile = [IMG.as_bytes(), b"\xff\xfe caf\xe9 ", SCRIPT.as_bytes()].concat();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-announce-ip")
        .arg(&hostile)
        .query(&mut admin)
        .unwrap();

    let ws = super::harness::Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"redis-replica\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\nrole = \"replica\"\n",
        super::harness::policies_dir().display()
    ));
    let run = ws.audit_json();
    let t = &run["targets"][0];
    assert_eq!(t["status"], "ok", "one odd byte must not fail the target: {t:#}");

    let profile = tempfile::tempdir().unwrap();
    let page = ws.store().join("reports/targets/redis-replica.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let dom = dump_dom(&page, profile.path());
    assert_inert(&dom, "the Redis target page");
    assert_eq!(title(&dom), title(&html), "the title changed: a script ran");
    assert!(dom.contains("&lt;img src=x onerror="), "the value is not shown as text");
    assert!(dom.contains("\u{fffd}\u{fffd} caf\u{fffd} "), "bad bytes not shown as U+FFFD");
}
