//! The web UI's pages (`serve` only): findings across the fleet with filters
//! ([`findings`]), search over targets, settings and values ([`search`]), one
//! setting's timeline ([`setting_page`]) and the page for what is not there
//! ([`missing`]). View models are pure functions of data the server hands in (the
//! in-memory status, snapshots, change-index entries); the templates are
//! `report-templates/ui-*.html`, escaped like the reports. Links are relative to the
//! page (`root` climbs back to the server's root), so the pages work behind a proxy
//! that mounts the service under a path.

pub mod findings;
pub mod search;
pub mod setting_page;

use serde::Serialize;

pub use super::ids::setting_name;
use super::view::Layout;
pub use super::view::Link;

/// The UI's three places, on every UI page.
#[derive(Debug, Serialize)]
pub struct NavItem {
    pub href: String,
    pub text: &'static str,
    pub current: bool,
}

/// Which of the nav's places a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Findings,
    Search,
    /// A setting page or a missing page: none of the three.
    Elsewhere,
}

/// The nav, its links relative to a page `root` (`""` at the server's root).
pub fn nav(root: &str, here: Place) -> Vec<NavItem> {
    vec![
        NavItem { href: format!("{root}reports/index.html"), text: "Reports", current: false },
        NavItem {
            href: format!("{root}findings"),
            text: "Findings",
            current: here == Place::Findings,
        },
        NavItem { href: format!("{root}search"), text: "Search", current: here == Place::Search },
    ]
}

/// A UI page's layout: `title`, and the breadcrumb `crumbs` › `here`.
pub fn layout(title: String, root: &str, crumbs: Vec<Link>, here: String, now: &str) -> Layout {
    Layout {
        title,
        root: root.to_owned(),
        crumbs,
        here,
        generated_at: now.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// A path segment, percent-encoded (a setting key may hold `@`, `%`, spaces): every
/// byte but the unreserved characters of RFC 3986.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `targets/<target>/settings/<key>`, relative to the server's root.
pub fn setting_href(root: &str, target: &str, key: &str) -> String {
    format!("{root}targets/{}/settings/{}", segment(target), segment(key))
}

/// The report page of a target, relative to the server's root.
pub fn target_href(root: &str, target: &str) -> String {
    format!("{root}reports/{}", super::ids::Ids::default().target_page(target))
}

/// The report page of a run, relative to the server's root.
pub fn run_href(root: &str, run_id: &str) -> String {
    format!("{root}reports/{}", super::ids::Ids::default().run_page(run_id))
}

/// Up to three of `known` that look like `wanted` (a typo), best first.
pub fn did_you_mean<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .map(|k| (strsim::normalized_levenshtein(&wanted, &k.to_lowercase()), k))
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// The 404 page: no such target, or no such setting on it.
#[derive(Debug, Serialize)]
pub struct MissingView {
    pub layout: Layout,
    pub nav: Vec<NavItem>,
    /// `No target called “pg-primery”.`
    pub message: String,
    pub suggestions: Vec<Link>,
}

/// The 404 page for `message` (`root`: the page's way back to the server's root).
pub fn missing(message: String, suggestions: Vec<Link>, root: &str, now: &str) -> MissingView {
    MissingView {
        layout: layout("Not found".to_owned(), root, vec![], "Not found".to_owned(), now),
        nav: nav(root, Place::Elsewhere),
        message,
        suggestions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_links_encode_what_a_path_cannot_hold() {
        assert_eq!(
            setting_href("../", "db 1", "role.app@main.search_path"),
            "../targets/db%201/settings/role.app%40main.search_path"
        );
        assert_eq!(setting_href("", "a", "x/../y"), "targets/a/settings/x%2F..%2Fy");
        assert_eq!(setting_href("", "a", "ü"), "targets/a/settings/%C3%BC");
    }

    /// Every UI page escapes what it shows: names, keys, values and messages from a
    /// hostile server or config never become markup.
    #[test]
    fn every_page_escapes_hostile_values() {
        use crate::finding::{FindingStatus, Severity};
        use crate::run::{RunId, TargetStatus};
        use crate::snapshot::{Entry, Kind, Role, ServerInfo, Snapshot};
        use crate::status::fixture::{at, change, finding, target};
        let evil = "<script>alert(1)</script>\"'&";
        let renderer = crate::report::Renderer::new().unwrap();
        let mut t = target(evil, TargetStatus::Ok);
        t.labels.insert(evil.into(), evil.into());
        let mut f = finding(evil, evil, Severity::High, FindingStatus::Fail);
        f.actual = Some(evil.into());
        f.policy = evil.into();
        t.findings = std::sync::Arc::new(vec![f.clone()]);
        let id = RunId("20261125T161500Z-0001".into());
        let filters = findings::Filters::parse(&[("rule".into(), evil.into())]).unwrap();
        let latest = [findings::Latest { run_id: &id, target: &t, before: None }];
        let snapshot = Snapshot {
            target: evil.into(),
            kind: Kind::Redis,
            server: ServerInfo { version: "7".into(), role: Role::Primary },
            config: [(evil.to_owned(), Entry::new(evil))].into(),
        };
        let index = search::SearchIndex::build([(evil, &t.labels, Some(&snapshot))]);
        let c = change(evil, evil, evil);
        let points =
            [setting_page::ChangePoint { run_id: &id, at: at("2026-11-25T16:15:00Z"), change: &c }];
        let results = [setting_page::RunResults {
            run_id: id.clone(),
            at: at("2026-11-25T16:15:00Z"),
            findings: vec![f],
        }];
        let entry = Entry::new(evil);
        let setting = setting_page::SettingInput {
            target: evil,
            key: evil,
            current: Some(&entry),
            pending: Some(&entry),
            collected: Some((Some(&id), at("2026-11-25T16:15:00Z"))),
            changes: &points,
            results: &results,
            runs_indexed: 1,
        };
        let pages = [
            renderer.ui_page("ui-findings.html", findings::build(&latest, &filters, evil)).unwrap(),
            renderer.ui_page("ui-search.html", search::view(&index, "script", evil)).unwrap(),
            renderer.ui_page("ui-setting.html", setting_page::build(&setting, evil)).unwrap(),
            renderer
                .ui_page(
                    "ui-missing.html",
                    missing(evil.into(), vec![search::target_link(evil)], "", evil),
                )
                .unwrap(),
        ];
        for page in pages {
            assert!(!page.contains("<script"), "{page}");
            assert!(page.contains("&lt;script&gt;"), "the value is shown, escaped: {page}");
            assert!(!page.contains("alert(1)</"), "{page}");
        }
    }

    #[test]
    fn typos_get_the_nearest_names() {
        let known = ["pg-primary", "pg-replica", "redis-cache"];
        assert_eq!(did_you_mean("pg-primery", known.into_iter()), ["pg-primary"]);
        assert!(did_you_mean("zzz", known.into_iter()).is_empty());
    }
}
