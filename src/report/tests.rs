//! Report properties over the fixtures: deterministic, escaped, self-contained, linked,
//! within budget; and a snapshot of the index page.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::fixtures::{self, HOSTILE};
use super::{Page, ReportInput, render};
use std::sync::Arc;

use crate::finding::Finding;
use crate::run::{Detail, Run};

fn pages_for(
    run: &Run,
    history: &[Run],
    snapshots: &BTreeMap<String, crate::snapshot::Snapshot>,
) -> Vec<Page> {
    let expected = crate::diff::ExpectedDifferences::NONE;
    render(&ReportInput { run, history, snapshots, expected: &expected }).expect("fixture renders")
}

fn fixture_pages() -> Vec<Page> {
    pages_for(&fixtures::second_run(), &[fixtures::first_run()], &fixtures::snapshots())
}

fn page<'a>(pages: &'a [Page], path: &str) -> &'a Page {
    pages.iter().find(|p| p.path == path).unwrap_or_else(|| panic!("no page {path}"))
}

fn attr(html: &str, name: &str) -> Vec<String> {
    let re = Regex::new(&format!(r#"\s{name}="([^"]*)""#)).unwrap();
    re.captures_iter(html).map(|c| c[1].to_owned()).collect()
}

fn ids(html: &str) -> BTreeSet<String> {
    attr(html, "id").into_iter().collect()
}

/// `reports/runs` + `../targets/a.html` → `reports/targets/a.html`.
fn resolve(from: &str, href: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in href.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[test]
fn renders_the_expected_pages() {
    let paths: Vec<String> = fixture_pages().into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        [
            "reports/index.html",
            "reports/controls.html",
            "reports/runs/20261125T161500Z-3f9a.html",
            "reports/runs/20261124T161500Z-0001.html",
            "reports/targets/pg-primary.html",
            "reports/targets/pg-replica-2.html",
            "reports/groups/orders.html",
        ]
    );
}

#[test]
fn render_is_deterministic() {
    assert_eq!(fixture_pages(), fixture_pages());
}

#[test]
fn hostile_values_appear_only_escaped() {
    let pages = fixture_pages();
    let all: String = pages.iter().map(|p| p.html.as_str()).collect();
    assert!(
        all.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || all.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(
        all.contains("&quot;&#39;&amp;") || all.contains("&quot;&#x27;&amp;"),
        "quotes escaped"
    );
    for p in &pages {
        assert!(!p.html.to_ascii_lowercase().contains("<script"), "{} has a script tag", p.path);
        assert!(!p.html.contains('\u{0}'), "{} has a NUL", p.path);
        assert!(!p.html.contains(HOSTILE), "{} has the raw hostile value", p.path);
        assert!(!p.html.contains("<b>"), "{} has an unescaped error message", p.path);
    }
    assert!(all.contains("main\u{2400}x"), "NUL shown as a control picture");
}

#[test]
fn failing_findings_have_the_same_id_on_run_and_target_pages() {
    let pages = fixture_pages();
    let run = fixtures::second_run();
    let run_page = ids(&page(&pages, "reports/runs/20261125T161500Z-3f9a.html").html);
    let target_page = ids(&page(&pages, "reports/targets/pg-primary.html").html);
    let failing: Vec<_> = run.targets[0]
        .findings
        .iter()
        .filter(|f| f.status == crate::finding::FindingStatus::Fail)
        .collect();
    assert_eq!(failing.len(), 4);
    for f in failing {
        let id = format!("f-pg-primary-{}", super::slug(&f.rule));
        assert!(run_page.contains(&id), "run page lacks {id}");
        assert!(target_page.contains(&id), "target page lacks {id}");
    }
}

#[test]
fn ids_are_unique_and_well_formed() {
    check_links_and_ids(&fixture_pages());
}

/// Every id unique on its page and well formed; every relative link lands on a page
/// and, with an anchor, on an id of that page.
pub fn check_links_and_ids(pages: &[Page]) {
    let re = Regex::new("^[a-z0-9-]+$").unwrap();
    let by_path: BTreeMap<&str, BTreeSet<String>> =
        pages.iter().map(|p| (p.path.as_str(), ids(&p.html))).collect();
    for p in pages {
        for href in attr(&p.html, "href").into_iter().filter(|h| !is_web(h)) {
            let (file, anchor) = href.split_once('#').unwrap_or((&href, ""));
            let target = if file.is_empty() { p.path.clone() } else { resolve(&p.path, file) };
            let Some(target_ids) = by_path.get(target.as_str()) else {
                panic!("{} links to {href}: no page {target}", p.path);
            };
            assert!(
                anchor.is_empty() || target_ids.contains(anchor),
                "{} links to {href}: no id {anchor}",
                p.path
            );
        }
    }
    for p in pages {
        let all = attr(&p.html, "id");
        let unique: BTreeSet<_> = all.iter().collect();
        assert_eq!(all.len(), unique.len(), "duplicate id on {}", p.path);
        for id in &all {
            assert!(re.is_match(id), "{id} on {}", p.path);
        }
    }
}

#[test]
fn every_relative_link_resolves() {
    let pages = fixture_pages();
    let by_path: BTreeMap<&str, BTreeSet<String>> =
        pages.iter().map(|p| (p.path.as_str(), ids(&p.html))).collect();
    let mut checked = 0;
    for p in &pages {
        for href in attr(&p.html, "href").into_iter().filter(|h| !is_web(h)) {
            let (file, anchor) = href.split_once('#').unwrap_or((&href, ""));
            let target = if file.is_empty() { p.path.clone() } else { resolve(&p.path, file) };
            let Some(target_ids) = by_path.get(target.as_str()) else {
                panic!("{} links to {href}: no page {target}", p.path);
            };
            assert!(
                anchor.is_empty() || target_ids.contains(anchor),
                "{} links to {href}: no id {anchor}",
                p.path
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} links");
}

/// A rule's documentation address: the only absolute links a page may hold.
fn is_web(href: &str) -> bool {
    href.starts_with("https://") || href.starts_with("http://")
}

/// Links out to a rule's documentation are marked `rel="external noreferrer"`; nothing
/// else on a page points elsewhere, and nothing is fetched.
#[test]
fn nothing_is_fetched_from_elsewhere() {
    let outbound = Regex::new(r#"<a href="https?://[^"]*" rel="external noreferrer">"#).unwrap();
    let mut links_out = 0;
    for mut p in fixture_pages() {
        links_out += outbound.find_iter(&p.html).count();
        p.html = outbound.replace_all(&p.html, "<a>").into_owned();
        for url in attr(&p.html, "href").into_iter().chain(attr(&p.html, "src")) {
            assert!(!url.contains("://") && !url.starts_with("//"), "{} has {url}", p.path);
        }
        assert!(!p.html.contains("http://") && !p.html.contains("https://"), "{}", p.path);
        assert!(!p.html.contains("@import") && !p.html.contains("url("), "{}", p.path);
    }
    assert!(links_out > 0, "the fixtures' references link to their documentation");
}

#[test]
fn findings_show_their_references() {
    let pages = fixture_pages();
    let html = &page(&pages, "reports/targets/pg-primary.html").html;
    assert!(
        html.contains(r#"<span class="ctl">CIS &lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp; 9.9</span> Ensure &lt;script&gt;"#),
        "a failing finding shows its control id"
    );
    assert!(html.contains(r#"<a href="https://www.postgresql.org/docs/15/runtime-config-logging.html?a=1&amp;b=2" rel="external noreferrer">PostgreSQL docs: application_name</a>"#));
    // A passed row: the rule id links to the docs, the control id beside it.
    assert!(html.contains(r#"<a href="https://www.postgresql.org/docs/15/runtime-config-wal.html" rel="external noreferrer">PG-REPL-001</a> <span class="muted">CIS PostgreSQL 16 6.9</span>"#), "passed row");
}

#[test]
fn every_page_has_breadcrumb_and_footer() {
    for p in fixture_pages() {
        assert!(p.html.contains(r#"<nav aria-label="Breadcrumb">"#), "{}", p.path);
        assert!(
            p.html.contains("generated at 2026-11-25 16:15:42 UTC by driftwatch 0.1.0"),
            "{}",
            p.path
        );
    }
}

#[test]
fn css_and_charts_stay_within_budget() {
    let pages = fixture_pages();
    let index = &page(&pages, "reports/index.html").html;
    let css = &index[index.find("<style>").unwrap()..index.find("</style>").unwrap()];
    assert!(css.len() <= 12 * 1024, "CSS is {} bytes", css.len());
    for p in &pages {
        let mut rest = p.html.as_str();
        while let Some(start) = rest.find("<svg") {
            let end = rest[start..].find("</svg>").unwrap() + start + 6;
            let svg = &rest[start..end];
            assert!(svg.len() < 1024, "{}: SVG of {} bytes", p.path, svg.len());
            assert!(
                svg.contains(r#"role="img""#)
                    && svg.contains("aria-label=")
                    && svg.contains("<title>")
            );
            rest = &rest[end..];
        }
    }
}

#[test]
fn run_page_with_1000_findings_stays_under_500_kb() {
    let run = fixtures::big_run();
    let pages = pages_for(&run, &[], &BTreeMap::new());
    let run_page = page(&pages, "reports/runs/20261125T161500Z-b16b.html");
    assert!(run_page.html.len() < 500 * 1024, "run page is {} bytes", run_page.html.len());
    assert_eq!(run_page.html.matches("<article ").count(), 100);
    let index = page(&pages, "reports/index.html");
    assert!(index.html.len() < 200 * 1024, "index is {} bytes", index.html.len());
}

#[test]
fn changes_show_before_and_after() {
    let pages = fixture_pages();
    let html = &page(&pages, "reports/runs/20261125T161500Z-3f9a.html").html;
    assert!(html.contains(r#"<tr id="c-20261125t161500z-3f9a-pg-primary-ssl">"#));
    assert!(html.contains("<del><code>on</code></del> &rarr; <span class=\"lbl\">now</span><ins><code>off</code></ins>"));
    assert!(html.contains("PG-CONN-001"), "resolved finding listed");
    assert!(html.contains("… (5,000 chars)"));
}

/// Per benchmark and target: controls in their numeric order, each with the worst
/// status of the findings that cite it and links to them; a target not collected
/// cannot be judged.
#[test]
fn controls_page_shows_each_control_per_target() {
    let pages = fixture_pages();
    let html = &page(&pages, "reports/controls.html").html;
    let section = &html[html.find(r#"<h2 id="k-cis-postgresql-16">"#).expect("CIS section")..];
    let section = &section[..section.find("</section>").unwrap()];
    let row = Regex::new(r#"<tr><td><code>([^<]*)</code></td><td>[^<]*</td><td><span class="b ([a-z]+)">.*?</td><td>(.*?)</td></tr>"#).unwrap();
    let rows: Vec<String> =
        row.captures_iter(section).map(|c| format!("{} {} {}", &c[1], &c[2], &c[3])).collect();
    assert_eq!(
        rows,
        [
            r#"3.1.2 error <a href="targets/pg-primary.html#f-pg-primary-pg-mem-001">PG-MEM-001</a>"#,
            r#"3.1.20 waived <a href="targets/pg-primary.html#f-pg-primary-pg-log-001">PG-LOG-001</a>"#,
            r#"6.9 pass <a href="targets/pg-primary.html#f-pg-primary-pg-repl-001">PG-REPL-001</a>"#,
        ]
    );
    assert!(section.contains(r##"<tr><td><a href="#k-cis-postgresql-16-pg-primary">pg-primary</a></td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">1</td></tr>"##), "{section}");
    assert!(section.contains(r##"<tr><td><a href="#k-cis-postgresql-16-pg-replica-2">pg-replica-2</a></td><td class="n">0</td><td class="n">0</td><td class="n">0</td><td class="n">3</td></tr>"##), "the unreachable replica cannot be judged");
    assert!(html.contains(
        "unreachable: connection refused (os error 111) &lt;b&gt;; its controls cannot be judged"
    ));
    // The hostile benchmark name is escaped, and its failing control shown.
    assert!(html.contains(r#"CIS &lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"#));
    assert!(html.contains("Packs that ran: replication, connections."));
    let index = &page(&pages, "reports/index.html").html;
    assert!(
        index.contains(
            r#"Policy packs that ran: replication, connections. <a href="controls.html">"#
        )
    );
    let run = &page(&pages, "reports/runs/20261125T161500Z-3f9a.html").html;
    assert!(run.contains("<dt>policy packs</dt><dd>replication, connections</dd>"));
    assert!(run.contains("<td>v3</td><td>replication</td>"), "each baseline's pack");
}

#[test]
fn index_page_snapshot() {
    let pages = fixture_pages();
    insta::assert_snapshot!("index", page(&pages, "reports/index.html").html);
}

/// Writes the fixture pages to `$DRIFTWATCH_REPORT_PREVIEW` (e.g. `/tmp/report-preview`)
/// for a look in a browser; does nothing when the variable is unset.
#[test]
fn write_preview_when_asked() {
    let Some(dir) = std::env::var_os("DRIFTWATCH_REPORT_PREVIEW") else { return };
    let dir = std::path::PathBuf::from(dir);
    for p in fixture_pages()
        .into_iter()
        .chain(pages_for(&fixtures::big_run(), &[], &BTreeMap::new()).into_iter().skip(1).take(1))
    {
        let path = dir.join(&p.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, p.html).unwrap();
    }
}

/// A target's connection headroom over the runs, and usage crossing 80% in the group
/// timeline next to the changes.
#[test]
fn connection_headroom_and_threshold_crossings() {
    let with_connections = |mut run: Run, in_use: &str, usage: &str, refused: &str| {
        let t = run.targets.iter_mut().find(|t| t.name == "pg-primary").expect("pg-primary");
        let state = std::sync::Arc::make_mut(&mut t.state);
        for (key, value) in [
            (crate::snapshot::IN_USE_KEY, in_use),
            (crate::snapshot::LIMIT_KEY, "97"),
            (crate::snapshot::USAGE_PCT_KEY, usage),
            (crate::snapshot::REFUSED_KEY, refused),
        ] {
            state.insert(key.to_owned(), crate::snapshot::Entry::new(value));
        }
        run
    };
    let first = with_connections(fixtures::first_run(), "40", "41.2", "0");
    let second = with_connections(fixtures::second_run(), "90", "92.8", "2");
    let pages = pages_for(&second, &[first], &fixtures::snapshots());
    let target = &page(&pages, "reports/targets/pg-primary.html").html;
    assert!(target.contains("<h2 id=\"connections\">Connection headroom</h2>"), "{target}");
    assert!(target.contains("90 of 97 in use (92.8%), 7 free"), "{target}");
    assert!(
        target.contains("per run, oldest to newest: 41.2%, 92.8%"),
        "the chart's text alternative: {target}"
    );
    let group = &page(&pages, "reports/groups/orders.html").html;
    assert!(
        group.contains("connection usage rose above 80% (92.8% of the usable limit)"),
        "{group}"
    );
    assert!(group.contains("connections refused: +2 since the previous collection"), "{group}");
    // A target without connection readings has no such section.
    let replica = &page(&pages, "reports/targets/pg-replica-2.html").html;
    assert!(!replica.contains("Connection headroom"));
}

/// Pages for people in a hurry: a run page opens with what changed and what newly
/// fails, the evidence comes last, folded; a target page shows its changes before its
/// findings.
#[test]
fn pages_open_with_what_changed_and_fold_the_evidence() {
    let pages = fixture_pages();
    let run = &pages.iter().find(|p| p.path.starts_with("reports/runs/")).unwrap().html;
    let changes = run.find(r#"id="changes""#).unwrap();
    let findings = run.find(r#"id="failing""#).unwrap();
    let evidence = run.find(r#"<details id="evidence">"#).expect("the evidence, folded");
    assert!(changes < findings && findings < evidence, "changes, findings, then evidence");
    let target = &pages.iter().find(|p| p.path.starts_with("reports/targets/")).unwrap().html;
    assert!(target.find(r#"id="timeline""#).unwrap() < target.find(r#"id="failing""#).unwrap());
}

/// With several schedules a run holds only some targets: the index lists the others as
/// the newest run that had them saw them, and its tiles compare this run's targets
/// with their own earlier collections, not with another target set.
#[test]
fn the_index_shows_targets_of_other_runs_and_compares_like_with_like() {
    let mut first = fixtures::first_run();
    // The replica failed something then: a delta over the whole previous run would
    // count it against the primary.
    let replica = first.targets.iter_mut().find(|t| t.name == "pg-replica-2").unwrap();
    let failing = fixtures::finding(
        "PG-REPL-005",
        "hot_standby",
        crate::finding::Severity::High,
        crate::finding::FindingStatus::Fail,
        "on",
        "off",
    );
    replica.findings = vec![failing].into();
    let mut second = fixtures::second_run();
    second.targets.retain(|t| t.name == "pg-primary");
    let pages = pages_for(&second, &[first.clone()], &fixtures::snapshots());
    let index = &page(&pages, "reports/index.html").html;
    let elsewhere = &index[index.find(r#"id="elsewhere""#).expect("a table of the others")..];
    assert!(elsewhere.contains("<td>pg-replica-2</td>"), "{elsewhere}");
    assert!(elsewhere.contains(&first.run_id.0), "as of the run that had it");
    // The primary alone, then and now: its own findings only.
    let primary_then = first.targets.iter().find(|t| t.name == "pg-primary").unwrap();
    let fail = |t: &crate::run::TargetRun| {
        t.findings.iter().filter(|f| f.status == crate::finding::FindingStatus::Fail).count()
    };
    let expect = super::text::delta(fail(&second.targets[0]), Some(fail(primary_then)));
    // (Against the whole previous run it would say something else.)
    let whole: usize = first.targets.iter().map(fail).sum();
    assert_ne!(expect, super::text::delta(fail(&second.targets[0]), Some(whole)));
    let tile = &index[index.find(r#"<div class="tile fail">"#).unwrap()..];
    let tile = &tile[..tile.find("</div></div>").unwrap_or(tile.len())];
    assert!(tile.contains(&expect), "tile {tile} should say {expect}");
}

/// An earlier collection read as an outline (`Detail::Outline`) has no values: a
/// finding shows no previous value from it rather than a blank one, and no run page is
/// made of it. The same history read whole shows the value.
#[test]
fn outlined_collections_show_no_values() {
    let run = fixtures::second_run();
    let snapshots = fixtures::snapshots();
    let renderer = super::Renderer::new().unwrap();
    let primary = run.target("pg-primary").unwrap();
    let previous_value = "<dt>previous value</dt><dd><code>5</code>";

    let whole = [fixtures::first_run()];
    let prepared = renderer.prepare(&run, &whole, &snapshots);
    let page = prepared.target_page(primary, snapshots.get("pg-primary")).unwrap();
    assert!(page.html.contains(previous_value), "the whole history shows it");

    let mut outlined = fixtures::first_run();
    for t in &mut outlined.targets {
        t.findings = Arc::new(t.findings.iter().map(Finding::outline).collect());
        t.detail = Detail::Outline;
    }
    let outlined = [outlined];
    let prepared = renderer.prepare(&run, &outlined, &snapshots);
    let page = prepared.target_page(primary, snapshots.get("pg-primary")).unwrap();
    assert!(!page.html.contains("<dt>previous value</dt><dd><code></code>"), "no blank value");
    assert!(!page.html.contains("previous value"), "nothing from an outline");
    let pages: Vec<_> = prepared.run_pages().collect();
    assert!(pages[0].is_ok(), "the run's own page is whole");
    match &pages[1] {
        Err(super::ReportError::Outlined { run, target }) => {
            assert_eq!((run.as_str(), target.as_str()), ("20261124T161500Z-0001", "pg-primary"));
        }
        other => {
            panic!("an outlined run page must not render: {:?}", other.as_ref().map(|p| &p.path))
        }
    }
}
