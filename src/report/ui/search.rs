//! `/search?q=`: target names, labels, setting keys and values of each target's latest
//! snapshot. The [`SearchIndex`] is built once per status generation (the server
//! caches it) from what the snapshots hold, which is already redacted; a redacted
//! value is not indexed at all, so no search can probe a secret's fingerprint. Matching
//! is a case-insensitive substring. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::ids::setting_name;
use super::super::text::{self, Val};
use super::super::view::{Layout, Link};
use super::{NavItem, Place};
use crate::snapshot::Snapshot;

/// Hits shown per target and in all.
pub const MAX_HITS_PER_TARGET: usize = 100;
pub const MAX_HITS: usize = 1000;
/// Longer queries are cut to this many characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// What a search looks through: per target, lowercased once.
#[derive(Debug, Default)]
pub struct SearchIndex {
    targets: Vec<Indexed>,
}

#[derive(Debug)]
struct Indexed {
    name: String,
    labels: Vec<String>,
    /// `(key, value, key lowercased, value lowercased)`; redacted values are `None`.
    settings: Vec<(String, Option<String>, String, Option<String>)>,
}

impl SearchIndex {
    /// From each target's name, labels and latest snapshot (none when never collected).
    pub fn build<'a>(
        targets: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>, Option<&'a Snapshot>)>,
    ) -> SearchIndex {
        let targets = targets
            .into_iter()
            .map(|(name, labels, snapshot)| Indexed {
                name: name.to_owned(),
                labels: labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                settings: snapshot
                    .map(|s| {
                        s.config
                            .iter()
                            .map(|(k, e)| {
                                let value = (!e.redacted).then(|| e.display_value());
                                let lower = value.as_ref().map(|v| v.to_lowercase());
                                (k.clone(), value, k.to_lowercase(), lower)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        SearchIndex { targets }
    }

    /// Settings indexed, over all targets.
    pub fn len(&self) -> usize {
        self.targets.iter().map(|t| t.settings.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Every hit of `q`, by target (in index order), each target's hits in key order.
    pub fn search(&self, q: &str) -> Vec<TargetHits> {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            return vec![];
        }
        let mut out = Vec::new();
        for t in &self.targets {
            let mut hits = Vec::new();
            let name = t.name.to_lowercase().contains(&q);
            let labels: Vec<&str> = t
                .labels
                .iter()
                .filter(|l| l.to_lowercase().contains(&q))
                .map(|l| l.as_str())
                .collect();
            for (key, value, key_lower, value_lower) in &t.settings {
                let in_key = key_lower.contains(&q);
                let in_value = value_lower.as_ref().is_some_and(|v| v.contains(&q));
                if in_key || in_value {
                    hits.push(Hit {
                        key: key.clone(),
                        value: value.clone(),
                        matched: if in_key { Matched::Key } else { Matched::Value },
                    });
                }
            }
            if name || !labels.is_empty() || !hits.is_empty() {
                out.push(TargetHits {
                    target: t.name.clone(),
                    name,
                    labels: labels.into_iter().map(str::to_owned).collect(),
                    hits,
                });
            }
        }
        out
    }
}

/// What one target matched.
#[derive(Debug, PartialEq, Eq)]
pub struct TargetHits {
    pub target: String,
    /// Its name matched.
    pub name: bool,
    pub labels: Vec<String>,
    pub hits: Vec<Hit>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Hit {
    pub key: String,
    /// `None`: redacted, not shown.
    pub value: Option<String>,
    pub matched: Matched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    Key,
    Value,
}

#[derive(Debug, Serialize)]
pub struct SearchView {
    pub layout: Layout,
    pub nav: Vec<NavItem>,
    pub q: String,
    /// `7 settings on 2 targets match` (and what is not shown), empty without a query.
    pub summary: String,
    pub groups: Vec<GroupView>,
    /// `1,204 settings of 12 targets, as of their latest collection`.
    pub scope: String,
}

#[derive(Debug, Serialize)]
pub struct GroupView {
    pub target: String,
    pub target_href: String,
    pub name_matched: bool,
    pub labels: Vec<String>,
    pub rows: Vec<HitView>,
    /// Hits of this target not shown.
    pub more: String,
}

#[derive(Debug, Serialize)]
pub struct HitView {
    pub setting: String,
    pub href: String,
    pub value: Val,
    /// `key` or `value`.
    pub matched: &'static str,
}

/// The page for `q` over `index`.
pub fn view(index: &SearchIndex, q: &str, now: &str) -> SearchView {
    let root = "";
    let q: String = q.chars().take(MAX_QUERY_CHARS).collect();
    let found = index.search(&q);
    let mut shown = 0;
    let total: usize = found.iter().map(|t| t.hits.len()).sum();
    let groups: Vec<GroupView> = found
        .iter()
        .map(|t| {
            let room = MAX_HITS_PER_TARGET.min(MAX_HITS - shown.min(MAX_HITS));
            let rows: Vec<HitView> = t
                .hits
                .iter()
                .take(room)
                .map(|h| HitView {
                    setting: text::clean(setting_name(&h.key)),
                    href: super::setting_href(root, &t.target, &h.key),
                    value: h.value.as_deref().map_or_else(|| Val::of("[REDACTED]"), Val::of),
                    matched: match h.matched {
                        Matched::Key => "key",
                        Matched::Value => "value",
                    },
                })
                .collect();
            shown += rows.len();
            let left = t.hits.len() - rows.len();
            GroupView {
                target: text::clean(&t.target),
                target_href: super::target_href(root, &t.target),
                name_matched: t.name,
                labels: t.labels.iter().map(|l| text::clean(l)).collect(),
                more: if left > 0 {
                    format!("{} more not shown", text::count(left))
                } else {
                    String::new()
                },
                rows,
            }
        })
        .collect();
    let summary = if q.trim().is_empty() {
        String::new()
    } else if found.is_empty() {
        format!("Nothing matches “{}”.", text::clean(q.trim()))
    } else {
        let mut s = format!(
            "{} on {} match",
            text::plural(total, "setting"),
            text::plural(found.len(), "target")
        );
        if shown < total {
            s.push_str(&format!(" ({} shown)", text::count(shown)));
        }
        s
    };
    SearchView {
        layout: super::layout(
            if q.trim().is_empty() {
                "Search".to_owned()
            } else {
                format!("Search: {}", text::clean(q.trim()))
            },
            root,
            vec![],
            "Search".to_owned(),
            now,
        ),
        nav: super::nav(root, Place::Search),
        q: text::clean(&q),
        summary,
        groups,
        scope: format!(
            "{} of {}, as each was last collected",
            text::plural(index.len(), "setting"),
            text::plural(index.targets.len(), "target")
        ),
    }
}

/// A link to a target's report page, for the missing page's suggestions.
pub fn target_link(target: &str) -> Link {
    Link { href: super::target_href("", target), text: text::clean(target) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Entry, Kind, Role, ServerInfo};

    fn snapshot(pairs: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            target: "t".into(),
            kind: Kind::Postgres,
            server: ServerInfo { version: "16".into(), role: Role::Primary },
            config: pairs.iter().map(|(k, v)| ((*k).to_owned(), Entry::new(*v))).collect(),
        }
    }

    fn index() -> SearchIndex {
        let mut a = snapshot(&[
            ("setting.max_connections", "100"),
            ("setting.shared_buffers", "16384"),
            ("pending.max_connections", "50"),
        ]);
        a.config.get_mut("setting.shared_buffers").unwrap().unit = Some("8kB".into());
        let mut secret = Entry::new("[REDACTED hmac:1a2b3c]");
        secret.redacted = true;
        a.config.insert("setting.primary_conninfo".into(), secret);
        let b =
            snapshot(&[("setting.maxmemory-policy", "allkeys-lru"), ("setting.timeout", "100")]);
        let prod: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())].into();
        let empty = BTreeMap::new();
        // The index keeps copies: nothing it was built from stays borrowed.
        SearchIndex::build([
            ("pg-primary", &prod, Some(&a)),
            ("redis-cache", &empty, Some(&b)),
            ("never-seen", &empty, None),
        ])
    }

    #[track_caller]
    fn check(q: &str, expect: &[&str]) {
        let got: Vec<String> = index()
            .search(q)
            .iter()
            .flat_map(|t| {
                let mut out: Vec<String> =
                    t.hits.iter().map(|h| format!("{}:{}", t.target, h.key)).collect();
                if t.name {
                    out.insert(0, format!("{}:(name)", t.target));
                }
                out.extend(t.labels.iter().map(|l| format!("{}:{l}", t.target)));
                out
            })
            .collect();
        assert_eq!(got, expect, "{q:?}");
    }

    #[test]
    fn finds_targets_labels_keys_and_values() {
        check(
            "MAX_CONN",
            &["pg-primary:pending.max_connections", "pg-primary:setting.max_connections"],
        );
        check("100", &["pg-primary:setting.max_connections", "redis-cache:setting.timeout"]);
        check("8kb", &["pg-primary:setting.shared_buffers"]);
        check("allkeys", &["redis-cache:setting.maxmemory-policy"]);
        check("redis", &["redis-cache:(name)"]);
        check("env=prod", &["pg-primary:env=prod"]);
        check("  ", &[]);
        check("nothing-like-this", &[]);
    }

    #[test]
    fn redacted_values_are_neither_searched_nor_shown() {
        check("1a2b3c", &[]);
        check("hmac", &[]);
        let view = view(&index(), "conninfo", "now");
        let row = &view.groups[0].rows[0];
        assert_eq!(row.value.short, "[REDACTED]");
        assert_eq!(row.href, "targets/pg-primary/settings/setting.primary_conninfo");
    }

    #[test]
    fn the_view_groups_by_target_and_counts() {
        let v = view(&index(), "100", "now");
        assert_eq!(v.summary, "2 settings on 2 targets match");
        assert_eq!(v.groups.len(), 2);
        assert_eq!(v.groups[0].rows[0].setting, "max_connections");
        assert_eq!(v.groups[0].rows[0].matched, "value");
        assert_eq!(v.scope, "6 settings of 3 targets, as each was last collected");
        assert_eq!(view(&index(), "zzz", "now").summary, "Nothing matches “zzz”.");
    }
}
