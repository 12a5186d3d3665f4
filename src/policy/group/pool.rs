//! `fits_primary_connections`: the server connections a group's poolers may open, added
//! up, against what their PostgreSQL primary accepts. The classic way a routine pool
//! size change (or one more pooler) makes every new connection time out: the pools fill
//! past the primary's `max_connections`, PostgreSQL refuses the extra server logins, and
//! clients queue in PgBouncer until `query_wait_timeout`.

use super::{Group, Member};
use crate::finding::FindingStatus;
use crate::policy::{Lookup, TargetFacts};
use crate::snapshot::{Kind, Role, Snapshot};

/// The verdict on one pooler: the sum of `key` over the members of its kind (each
/// pooler's most server connections) within the primary's usable connections.
pub(super) fn fits_primary_connections(
    key: &str,
    target: &TargetFacts<'_>,
    group: &Group<'_>,
) -> (FindingStatus, String) {
    use FindingStatus as S;
    let primary = match group.primary() {
        Ok(primary) => primary,
        Err(why) => {
            return (S::Error, format!("Cannot size the poolers against the primary: {why}."));
        }
    };
    if primary.snapshot.kind != Kind::Postgres {
        return (
            S::Error,
            format!(
                "The group's primary {} is a {} server; poolers are sized against a PostgreSQL primary.",
                primary.name, primary.snapshot.kind
            ),
        );
    }
    let Some(usable) = usable_connections(primary.snapshot) else {
        return (
            S::Error,
            format!("The primary {} reports no setting.max_connections.", primary.name),
        );
    };
    let poolers: Vec<&Member<'_>> =
        group.members.iter().filter(|m| m.snapshot.kind == target.kind).collect();
    let mut parts = Vec::new();
    let mut total = 0u64;
    for m in &poolers {
        let lookup = Lookup { snapshot: m.snapshot, state: m.state, earlier: None, group: None };
        let Some(n) = lookup.get(key).and_then(|e| e.value.trim().parse::<u64>().ok()) else {
            return (S::Error, format!("The pooler {} has no {key} to add up.", m.name));
        };
        total += n;
        parts.push(format!("{} {n}", m.name));
    }
    let (limit, how) = usable;
    let summary = format!(
        "The group's {} pooler(s) ({}) open up to {total} server connections; the primary {} accepts {limit} ({how})",
        poolers.len(),
        parts.join(", "),
        primary.name
    );
    if total > limit {
        return (
            S::Fail,
            format!(
                "{summary}. Once the pools fill, PostgreSQL refuses the extra logins and clients wait in the pooler until query_wait_timeout."
            ),
        );
    }
    // Poolers are declared standalone: one that could not be collected may hold the rest.
    let missing: Vec<&str> = group
        .not_collected
        .iter()
        .filter(|(_, role)| *role == Role::Standalone)
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return (
            S::Error,
            format!("{summary}, but {} could not be collected to add up.", missing.join(", ")),
        );
    }
    (S::Pass, format!("{summary}."))
}

/// `max_connections − superuser_reserved_connections − reserved_connections` (16+) of a
/// PostgreSQL snapshot, and how it was reckoned.
fn usable_connections(primary: &Snapshot) -> Option<(u64, String)> {
    let setting = |name: &str| {
        primary.get(&format!("setting.{name}")).and_then(|e| e.value.trim().parse::<u64>().ok())
    };
    let max = setting("max_connections")?;
    let mut how = format!("max_connections {max}");
    let mut usable = max;
    for name in ["superuser_reserved_connections", "reserved_connections"] {
        if let Some(n) = setting(name) {
            usable = usable.saturating_sub(n);
            how.push_str(&format!(" − {name} {n}"));
        }
    }
    Some((usable, how))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::policy::tests::{snapshot, today};
    use crate::policy::{PolicySource, evaluate_in, parse};

    const RULE: &str = r#"
[policy]
name = "pools"
version = "1"
applies_to = { kind = "pgbouncer" }

[[rule]]
id = "T-POOL"
key = "state.pools.server_connections_max"
expect = { fits_primary_connections = true }
severity = "critical"
"#;

    const PRIMARY: &str = "max_connections = 100\nsuperuser_reserved_connections = 3";

    /// Members are `(name, declared role, kind, lines)`; the status and message of the
    /// rule on pooler `of`.
    #[track_caller]
    fn check(
        members: &[(&str, Role, Kind, &str)],
        not_collected: &[(&str, Role)],
        of: &str,
        expect: (FindingStatus, &str),
    ) {
        let set = parse(vec![PolicySource {
            path: "t.toml".into(),
            file: PathBuf::from("t.toml"),
            text: RULE.into(),
        }])
        .unwrap_or_else(|d| panic!("{d}"));
        let collected: Vec<_> = members
            .iter()
            .map(|(name, role, kind, lines)| {
                let (mut snap, state) = snapshot(Role::Primary, lines);
                snap.kind = *kind;
                (*name, *role, snap, state)
            })
            .collect();
        let list: Vec<Member<'_>> = collected
            .iter()
            .map(|(name, role, snap, state)| Member { name, role: *role, snapshot: snap, state })
            .collect();
        let group = Group { name: "g", members: &list, not_collected };
        let me = list.iter().find(|m| m.name == of).unwrap();
        let labels = Default::default();
        let facts = TargetFacts { name: of, kind: Kind::Pgbouncer, role: me.role, labels: &labels };
        let findings =
            evaluate_in(&set, &facts, me.snapshot, me.state, Some(&group), None, today());
        let f = findings.iter().find(|f| f.rule == "T-POOL").unwrap();
        assert_eq!((f.status, f.message.as_str()), expect, "{f:#?}");
    }

    fn pooler(n: u64) -> String {
        format!("state.pools.server_connections_max = {n}")
    }

    #[test]
    fn poolers_within_the_primary_pass() {
        let (a, b) = (pooler(45), pooler(52));
        check(
            &[
                ("db", Role::Primary, Kind::Postgres, PRIMARY),
                ("pb1", Role::Standalone, Kind::Pgbouncer, &a),
                ("pb2", Role::Standalone, Kind::Pgbouncer, &b),
            ],
            &[],
            "pb1",
            (
                FindingStatus::Pass,
                "The group's 2 pooler(s) (pb1 45, pb2 52) open up to 97 server connections; the primary db accepts 97 (max_connections 100 − superuser_reserved_connections 3).",
            ),
        );
    }

    #[test]
    fn one_connection_past_the_primary_fails() {
        let (a, b) = (pooler(45), pooler(53));
        check(
            &[
                ("db", Role::Primary, Kind::Postgres, PRIMARY),
                ("pb1", Role::Standalone, Kind::Pgbouncer, &a),
                ("pb2", Role::Standalone, Kind::Pgbouncer, &b),
            ],
            &[],
            "pb2",
            (
                FindingStatus::Fail,
                "The group's 2 pooler(s) (pb1 45, pb2 53) open up to 98 server connections; the primary db accepts 97 (max_connections 100 − superuser_reserved_connections 3). Once the pools fill, PostgreSQL refuses the extra logins and clients wait in the pooler until query_wait_timeout.",
            ),
        );
    }

    #[test]
    fn reserved_connections_of_postgres_16_count_too() {
        let a = pooler(90);
        let primary = format!("{PRIMARY}\nreserved_connections = 10");
        check(
            &[
                ("db", Role::Primary, Kind::Postgres, &primary),
                ("pb1", Role::Standalone, Kind::Pgbouncer, &a),
            ],
            &[],
            "pb1",
            (
                FindingStatus::Fail,
                "The group's 1 pooler(s) (pb1 90) open up to 90 server connections; the primary db accepts 87 (max_connections 100 − superuser_reserved_connections 3 − reserved_connections 10). Once the pools fill, PostgreSQL refuses the extra logins and clients wait in the pooler until query_wait_timeout.",
            ),
        );
    }

    #[test]
    fn a_pooler_not_collected_is_an_error_not_a_pass() {
        let a = pooler(10);
        check(
            &[
                ("db", Role::Primary, Kind::Postgres, PRIMARY),
                ("pb1", Role::Standalone, Kind::Pgbouncer, &a),
            ],
            &[("pb2", Role::Standalone)],
            "pb1",
            (
                FindingStatus::Error,
                "The group's 1 pooler(s) (pb1 10) open up to 10 server connections; the primary db accepts 97 (max_connections 100 − superuser_reserved_connections 3), but pb2 could not be collected to add up.",
            ),
        );
    }

    #[test]
    fn without_a_collected_primary_it_is_an_error() {
        let a = pooler(10);
        check(
            &[("pb1", Role::Standalone, Kind::Pgbouncer, &a)],
            &[("db", Role::Primary)],
            "pb1",
            (
                FindingStatus::Error,
                "Cannot size the poolers against the primary: the group's primary db could not be collected (in this run, or by another schedule within audit.group_member_max_age).",
            ),
        );
    }
}
