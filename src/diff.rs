//! Snapshot → snapshot changes: what differs in the stable configuration of one target
//! between two collections, and which differences between two targets are expected
//! ([`ExpectedDifferences`]: paths, ports, roles). Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::snapshot::{Entry, Kind, Snapshot};

/// One key whose value differs between two snapshots. `before` is `None` for a key
/// that appeared, `after` is `None` for a key that disappeared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Where the new value was set, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Where the old value had been set, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_location: Option<String>,
    /// The statement that puts the old value back (never run by driftwatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
}

/// Settings that legitimately differ between two targets of one kind (by role or by
/// identity), each with why: what the policies' `[[expected_difference]]` tables say,
/// built by `PolicySet::expected_differences`. `driftwatch diff` and the group page
/// show these apart from the drift; both ask [`ExpectedDifferences::reason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedDifferences {
    reasons: BTreeMap<Kind, BTreeMap<String, String>>,
}

impl ExpectedDifferences {
    /// No setting is expected to differ.
    pub const NONE: ExpectedDifferences = ExpectedDifferences { reasons: BTreeMap::new() };

    /// Declares `key` expected to differ between targets of `kind`; the first
    /// declaration of a key keeps its reason.
    pub fn insert(&mut self, kind: Kind, key: &str, reason: &str) {
        let of_kind = self.reasons.entry(kind).or_default();
        of_kind.entry(key.to_owned()).or_insert_with(|| reason.to_owned());
    }

    /// Why `key` may differ between two targets of `kind`, if a policy says it may.
    pub fn reason(&self, kind: Kind, key: &str) -> Option<&str> {
        self.reasons.get(&kind)?.get(key).map(String::as_str)
    }

    /// Why `key` may differ between targets of all of `kinds` (each kind must declare
    /// it; the first kind's reason is given). `None` for no kinds.
    pub fn reason_for_all(&self, kinds: &[Kind], key: &str) -> Option<&str> {
        let (first, rest) = kinds.split_first()?;
        let reason = self.reason(*first, key)?;
        rest.iter().all(|k| self.reason(*k, key).is_some()).then_some(reason)
    }

    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// The changes from `before` to `after`, in key order. Only values (with their units)
/// count as a change; a value set again from another file shows as a change too,
/// because provenance is part of what an auditor needs.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut old = before.config.iter().peekable();
    let mut new = after.config.iter().peekable();
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some((k, e)), None) => {
                changes.push(removed(k, e));
                old.next();
            }
            (None, Some((k, e))) => {
                changes.push(added(k, e));
                new.next();
            }
            (Some((ko, eo)), Some((kn, en))) => match ko.cmp(kn) {
                std::cmp::Ordering::Less => {
                    changes.push(removed(ko, eo));
                    old.next();
                }
                std::cmp::Ordering::Greater => {
                    changes.push(added(kn, en));
                    new.next();
                }
                std::cmp::Ordering::Equal => {
                    if differs(eo, en) {
                        changes.push(Change {
                            key: (*kn).clone(),
                            before: Some(eo.display_value()),
                            after: Some(en.display_value()),
                            location: en.location(),
                            previous_location: eo.location(),
                            rollback: None,
                        });
                    }
                    old.next();
                    new.next();
                }
            },
        }
    }
    changes
}

fn differs(a: &Entry, b: &Entry) -> bool {
    a.value != b.value || a.unit != b.unit || a.source_file != b.source_file || a.source != b.source
}

fn added(key: &str, e: &Entry) -> Change {
    Change {
        key: key.to_owned(),
        before: None,
        after: Some(e.display_value()),
        location: e.location(),
        previous_location: None,
        rollback: None,
    }
}

fn removed(key: &str, e: &Entry) -> Change {
    Change {
        key: key.to_owned(),
        before: Some(e.display_value()),
        after: None,
        location: None,
        previous_location: e.location(),
        rollback: None,
    }
}

/// Two snapshots compared (`driftwatch diff`): the changes from `a` to `b`, split
/// into the drift and what a policy's `[[expected_difference]]` accounts for.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Differences nobody declared expected: the drift.
    pub differences: Vec<Change>,
    /// Differences a policy expects between targets of `b`'s kind, with its reason.
    pub expected: Vec<(Change, String)>,
}

/// `a` against `b`. Expected differences are differences *between targets*: a target
/// compared with itself (two points of its history) has none, whatever `expected` says.
pub fn compare(a: &Snapshot, b: &Snapshot, expected: &ExpectedDifferences) -> Comparison {
    let same_target = a.target == b.target;
    let mut out = Comparison { differences: Vec::new(), expected: Vec::new() };
    for c in diff(a, b) {
        match expected.reason(b.kind, &c.key).filter(|_| !same_target) {
            Some(reason) => {
                let reason = reason.to_owned();
                out.expected.push((c, reason));
            }
            None => out.differences.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::snapshot::{Kind, Role, ServerInfo};

    fn snap(pairs: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            target: "t".into(),
            kind: Kind::Postgres,
            server: ServerInfo { version: "15".into(), role: Role::Primary },
            config: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Entry::new(*v)))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[track_caller]
    fn check(
        before: &[(&str, &str)],
        after: &[(&str, &str)],
        expect: &[(&str, Option<&str>, Option<&str>)],
    ) {
        let got = diff(&snap(before), &snap(after));
        let got: Vec<_> =
            got.iter().map(|c| (c.key.as_str(), c.before.as_deref(), c.after.as_deref())).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn unchanged_is_empty() {
        check(&[("a", "1"), ("b", "2")], &[("a", "1"), ("b", "2")], &[]);
    }

    #[test]
    fn changed_value() {
        check(&[("a", "1"), ("b", "2")], &[("a", "1"), ("b", "3")], &[("b", Some("2"), Some("3"))]);
    }

    #[test]
    fn added_and_removed_keys() {
        check(
            &[("a", "1"), ("c", "3")],
            &[("b", "2"), ("c", "3"), ("d", "4")],
            &[("a", Some("1"), None), ("b", None, Some("2")), ("d", None, Some("4"))],
        );
    }

    #[test]
    fn expected_differences_are_per_kind_and_the_first_reason_wins() {
        let mut e = ExpectedDifferences::default();
        assert!(e.is_empty());
        e.insert(Kind::Postgres, "setting.port", "identity");
        e.insert(Kind::Postgres, "setting.port", "said again");
        e.insert(Kind::Pgbouncer, "setting.port", "pooler identity");
        e.insert(Kind::Postgres, "setting.data_directory", "identity");
        assert_eq!(e.reason(Kind::Postgres, "setting.port"), Some("identity"));
        assert_eq!(e.reason(Kind::Pgbouncer, "setting.port"), Some("pooler identity"));
        assert_eq!(e.reason(Kind::Redis, "setting.port"), None);
        assert_eq!(e.reason(Kind::Postgres, "setting.work_mem"), None);
        let both = [Kind::Postgres, Kind::Pgbouncer];
        assert_eq!(e.reason_for_all(&both, "setting.port"), Some("identity"));
        assert_eq!(e.reason_for_all(&both, "setting.data_directory"), None);
        assert_eq!(e.reason_for_all(&[], "setting.port"), None);
    }

    #[test]
    fn provenance_change_counts() {
        let before = snap(&[("a", "1")]);
        let mut after = snap(&[("a", "1")]);
        after.config.get_mut("a").unwrap().source_file = Some("postgresql.auto.conf".into());
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].location.as_deref(), Some("postgresql.auto.conf"));
    }

    /// Between two targets a declared difference is expected; between two points of
    /// one target's history nothing is.
    #[test]
    fn compare_splits_expected_only_between_targets() {
        let mut table = ExpectedDifferences::default();
        table.insert(Kind::Postgres, "setting.port", "each member listens on its own port");
        let a = snap(&[("setting.port", "5432"), ("setting.work_mem", "4MB")]);
        let mut b = snap(&[("setting.port", "5433"), ("setting.work_mem", "8MB")]);
        let keys = |c: &[Change]| c.iter().map(|c| c.key.clone()).collect::<Vec<_>>();

        let same = compare(&a, &b, &table);
        assert_eq!(keys(&same.differences), ["setting.port", "setting.work_mem"]);
        assert!(same.expected.is_empty());

        b.target = "other".into();
        let between = compare(&a, &b, &table);
        assert_eq!(keys(&between.differences), ["setting.work_mem"]);
        let expected: Vec<(&str, &str)> =
            between.expected.iter().map(|(c, r)| (c.key.as_str(), r.as_str())).collect();
        assert_eq!(expected, [("setting.port", "each member listens on its own port")]);
    }
}
