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

use super::view::{Layout, Link};

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
        NavItem {
            href: format!("{root}reports/index.html"),
            text: "Reports",
            current: false,
        },
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

    #[test]
    fn typos_get_the_nearest_names() {
        let known = ["pg-primary", "pg-replica", "redis-cache"];
        assert_eq!(did_you_mean("pg-primery", known.into_iter()), ["pg-primary"]);
        assert!(did_you_mean("zzz", known.into_iter()).is_empty());
    }
}
