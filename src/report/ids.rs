//! Stable element ids and page paths, the same on every page: finding
//! `f-<target>-<rule>`, pre-flight finding `p-<target>-<rule>`, setting
//! `s-<target>-<setting>`, change `c-<run>-<target>-<setting>`, run `r-<run>`; on group
//! pages member `m-<target>`, differing setting `d-<setting>`, replication event
//! `e-<run>-<target>-<state key>`. Lowercase `[a-z0-9-]` only.

use std::collections::{BTreeMap, BTreeSet};

use crate::run::Run;

/// Lowercase; every character outside `[a-z0-9]` becomes `-`; runs of `-` collapse;
/// no leading or trailing `-`. Never empty (`x` stands in).
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    if s.is_ascii() {
        // The common case, a byte at a time (a non-ASCII character may lowercase to
        // ASCII: the Kelvin sign to `k`).
        for b in s.bytes().map(|b| b.to_ascii_lowercase()) {
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                out.push(char::from(b));
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed = out.trim_matches('-');
        return if trimmed.is_empty() { "x".to_owned() } else { trimmed.to_owned() };
    }
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() { "x".to_owned() } else { trimmed.to_owned() }
}

/// A setting's name as people read it: `setting.wal_level` → `wal_level`; other
/// namespaces (`server.version`) keep their prefix.
pub fn setting_name(key: &str) -> &str {
    key.strip_prefix("setting.").unwrap_or(key)
}

/// The slug of every target and run the pages mention, decided once so that two
/// names that slug alike (`db_1`, `db-1`) still get distinct ids and files: the name
/// that sorts first keeps the plain slug, the next gets `-2`, and so on.
#[derive(Debug, Default)]
pub struct Ids {
    targets: BTreeMap<String, String>,
    runs: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
}

impl Ids {
    pub fn new(runs: &[&Run]) -> Ids {
        let targets: BTreeSet<&str> =
            runs.iter().flat_map(|r| r.targets.iter().map(|t| t.name.as_str())).collect();
        let run_ids: BTreeSet<&str> = runs.iter().map(|r| r.run_id.0.as_str()).collect();
        let groups: BTreeSet<&str> =
            runs.iter().flat_map(|r| r.targets.iter().filter_map(|t| t.group.as_deref())).collect();
        Ids {
            targets: unique_slugs(targets),
            runs: unique_slugs(run_ids),
            groups: unique_slugs(groups),
        }
    }

    pub fn preflight(&self, target: &str, rule: &str) -> String {
        format!("p-{}-{}", self.target(target), slug(rule))
    }

    pub fn member(&self, target: &str) -> String {
        format!("m-{}", self.target(target))
    }

    pub fn difference(&self, key: &str) -> String {
        format!("d-{}", slug(setting_name(key)))
    }

    pub fn event(&self, run: &str, target: &str, key: &str) -> String {
        format!("e-{}-{}-{}", self.run(run), self.target(target), slug(key))
    }

    /// Page path below `reports/`: `groups/<group>.html` (a name that is not file-safe
    /// falls back to its slug, as target pages do).
    pub fn group_page(&self, name: &str) -> String {
        let file = if file_safe(name) {
            name.to_owned()
        } else {
            self.groups.get(name).cloned().unwrap_or_else(|| slug(name))
        };
        format!("groups/{file}.html")
    }

    pub fn target(&self, name: &str) -> String {
        self.targets.get(name).cloned().unwrap_or_else(|| slug(name))
    }

    pub fn run(&self, id: &str) -> String {
        self.runs.get(id).cloned().unwrap_or_else(|| slug(id))
    }

    pub fn finding(&self, target: &str, rule: &str) -> String {
        format!("f-{}-{}", self.target(target), slug(rule))
    }

    pub fn setting(&self, target: &str, key: &str) -> String {
        format!("s-{}-{}", self.target(target), slug(setting_name(key)))
    }

    /// The ids of one target's settings, its slug looked up once (an inventory has
    /// hundreds): `settings(t).id(key) == setting(t, key)`.
    pub fn settings(&self, target: &str) -> SettingIds {
        SettingIds { prefix: format!("s-{}-", self.target(target)) }
    }

    pub fn change(&self, run: &str, target: &str, key: &str) -> String {
        format!("c-{}-{}-{}", self.run(run), self.target(target), slug(setting_name(key)))
    }

    pub fn run_anchor(&self, run: &str) -> String {
        format!("r-{}", self.run(run))
    }

    /// Page path below `reports/`: `targets/<target>.html`, the store layout's
    /// contract. Config only admits file-safe target names; any other name (never
    /// produced by driftwatch) falls back to its slug.
    pub fn target_page(&self, name: &str) -> String {
        format!(
            "targets/{}.html",
            if file_safe(name) { name.to_owned() } else { self.target(name) }
        )
    }

    /// Page path below `reports/`: `runs/<run-id>.html`, as the store layout says.
    pub fn run_page(&self, id: &str) -> String {
        format!("runs/{}.html", if file_safe(id) { id.to_owned() } else { self.run(id) })
    }
}

/// See [`Ids::settings`].
pub struct SettingIds {
    prefix: String,
}

impl SettingIds {
    pub fn id(&self, key: &str) -> String {
        let mut id = self.prefix.clone();
        id.push_str(&slug(setting_name(key)));
        id
    }
}

/// A name that can stand as a file name in any store and URL without escaping.
fn file_safe(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn unique_slugs<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for name in names.into_iter().collect::<BTreeSet<_>>() {
        let base = slug(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while !taken.insert(candidate.clone()) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        out.insert(name.to_owned(), candidate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expect: &str) {
        assert_eq!(slug(input), expect);
    }

    #[test]
    fn slugs() {
        check("PG-REPL-001", "pg-repl-001");
        check("setting.wal_level", "setting-wal-level");
        check("20261125T161500Z-3f9a", "20261125t161500z-3f9a");
        check("a  b__c", "a-b-c");
        check("<script>", "script");
        check("Ünïcode", "n-code");
        check("---", "x");
        check("\u{212a}elvin", "kelvin");
        check("-Max_Connections-", "max-connections");
    }

    #[test]
    fn setting_ids_are_the_same_either_way() {
        let ids = Ids::default();
        for key in ["setting.wal_level", "server.version", "setting.Ünï code"] {
            assert_eq!(ids.settings("DB 1").id(key), ids.setting("DB 1", key));
        }
    }

    #[test]
    fn colliding_names_get_distinct_slugs() {
        let got = unique_slugs(["db-1", "db_1", "DB 1"]);
        let values: BTreeSet<_> = got.values().collect();
        assert_eq!(values.len(), 3);
        assert_eq!(got["DB 1"], "db-1");
    }
}
