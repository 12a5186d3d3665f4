//! Group operators: rules that compare a target with the other members of its
//! replication group (`same_as`/`at_least = "primary"`, `unique`) or with what the
//! config declares it to be (`matches_declared_role`), and the one cross-component
//! operator: the group's poolers against their PostgreSQL primary
//! (`fits_primary_connections`). Pure.

mod pool;

use super::rule::{Missing, Parity, Rule};
use super::{Lookup, TargetFacts};
use crate::engine::quantity::{Expected, Quantity};
use crate::engine::reported_bool;
use crate::finding::FindingStatus;
use crate::snapshot::{Entry, Kind, Role, Snapshot, State};

/// One collected member of a group.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub name: &'a str,
    /// The role the config declares.
    pub role: Role,
    pub snapshot: &'a Snapshot,
    pub state: &'a State,
}

/// A replication group as one run saw it: the members it could collect, and the names
/// of the members it could not.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    pub name: &'a str,
    pub members: &'a [Member<'a>],
    pub not_collected: &'a [(&'a str, Role)],
}

impl<'a> Group<'a> {
    /// The member declared primary, or why there is none to compare with.
    fn primary(&self) -> Result<&Member<'a>, String> {
        let declared: Vec<&Member<'a>> =
            self.members.iter().filter(|m| m.role == Role::Primary).collect();
        match declared.as_slice() {
            [one] => Ok(one),
            [] => match self.not_collected.iter().find(|(_, role)| *role == Role::Primary) {
                Some((name, _)) => Err(format!(
                    "the group's primary {name} could not be collected (in this run, or by another schedule within audit.group_member_max_age)"
                )),
                None => Err(format!("group {} declares no primary", self.name)),
            },
            many => {
                let names: Vec<&str> = many.iter().map(|m| m.name).collect();
                Err(format!(
                    "group {} declares several primaries ({})",
                    self.name,
                    names.join(", ")
                ))
            }
        }
    }
}

/// The `group.` keys a rule (or its `when`) may read: facts of the target's
/// replication group as the configuration declares it, collected or not; and
/// `group.primary.<key>`, the group primary's own value of `<key>`.
pub const GROUP_KEYS: &[&str] = &["members", "replicas", "primary.<key>"];

/// A `group.` key's value for `group`: `group.members` (every declared member),
/// `group.replicas` (members declared `replica`), `group.primary.<key>` (the declared
/// primary's value, absent when it was not collected or has no such key). Absent for
/// other names; a target without a group has none (its rules with such a `when` are
/// not applicable).
pub fn fact(group: &Group<'_>, key: &str) -> Option<Entry> {
    let name = key.strip_prefix("group.")?;
    if let Some(theirs) = name.strip_prefix("primary.") {
        let primary = group.primary().ok()?;
        let lookup =
            Lookup { snapshot: primary.snapshot, state: primary.state, earlier: None, group: None };
        return lookup.get(theirs);
    }
    let roles = group.members.iter().map(|m| m.role).chain(group.not_collected.iter().map(|n| n.1));
    let count = match name {
        "members" => roles.count(),
        "replicas" => roles.filter(|r| *r == Role::Replica).count(),
        _ => return None,
    };
    Some(Entry::new(count.to_string()))
}

/// The verdict of a group operator on one target.
pub(super) fn verdict(
    parity: Parity,
    rule: &Rule,
    target: &TargetFacts<'_>,
    snapshot: &Snapshot,
    observed: Option<&Entry>,
    group: Option<&Group<'_>>,
) -> (FindingStatus, String) {
    use FindingStatus as S;
    if parity == Parity::DeclaredRole {
        return declared_role(target, snapshot);
    }
    let Some(group) = group else {
        return (S::NotApplicable, "Not applicable: needs the live replication group.".to_owned());
    };
    let key = &rule.key;
    let Some(observed) = observed else {
        return match rule.missing {
            Missing::NotApplicable | Missing::Pass => {
                (S::NotApplicable, format!("Not applicable: {key} is absent on this server."))
            }
            Missing::Fail => (S::Fail, format!("{key} is absent.")),
            Missing::Error => (S::Error, format!("{key} is absent from the snapshot.")),
        };
    };
    match parity {
        Parity::Unique => unique(key, target, observed, group),
        Parity::FitsPrimaryConnections => pool::fits_primary_connections(key, target, group),
        Parity::SameAsPrimary | Parity::AtLeastPrimary => {
            let primary = match group.primary() {
                Ok(primary) => primary,
                Err(why) => {
                    return (S::Error, format!("Cannot compare {key} with the primary: {why}."));
                }
            };
            if primary.name == target.name {
                return (
                    S::NotApplicable,
                    format!("Not applicable: {} is the group's primary.", target.name),
                );
            }
            let lookup = Lookup {
                snapshot: primary.snapshot,
                state: primary.state,
                earlier: None,
                group: None,
            };
            let Some(theirs) = lookup.get(key) else {
                return (
                    S::Error,
                    format!("The primary {} has no {key} to compare with.", primary.name),
                );
            };
            compare(parity, key, observed, &theirs, primary.name)
        }
        Parity::DeclaredRole => unreachable!("handled above"),
    }
}

fn compare(
    parity: Parity,
    key: &str,
    ours: &Entry,
    theirs: &Entry,
    primary: &str,
) -> (FindingStatus, String) {
    use FindingStatus as S;
    let (mine, other) = (ours.display_value(), theirs.display_value());
    let order = match (quantity(ours), quantity(theirs)) {
        (Some(a), Some(b)) if a.dimension == b.dimension => Some(if a.same_amount(b) {
            std::cmp::Ordering::Equal
        } else {
            a.amount.total_cmp(&b.amount)
        }),
        _ => None,
    };
    let holds = match (parity, order) {
        (Parity::AtLeastPrimary, Some(o)) => o.is_ge(),
        (Parity::AtLeastPrimary, None) => {
            return (
                S::Error,
                format!("Cannot compare {key} ({mine}) with {primary}'s ({other}) as quantities."),
            );
        }
        (_, Some(o)) => o.is_eq(),
        (_, None) => match (reported_bool(&ours.value), reported_bool(&theirs.value)) {
            (Some(a), Some(b)) => a == b,
            _ => ours.value.trim().eq_ignore_ascii_case(theirs.value.trim()),
        },
    };
    let relation = if parity == Parity::AtLeastPrimary { "at least" } else { "the same as" };
    if holds {
        (S::Pass, format!("{key} is {mine}, {relation} the primary {primary} ({other})."))
    } else {
        (
            S::Fail,
            format!(
                "{key} is {mine} but the primary {primary} has {other}; expected {relation} the primary's."
            ),
        )
    }
}

/// A value as a quantity: in the server's unit (`16384` `8kB`), or written with its
/// unit (`128MB`, as config files have it).
fn quantity(e: &Entry) -> Option<Quantity> {
    Quantity::observed(&e.value, e.unit.as_deref()).ok().or_else(|| {
        match Expected::parse(&e.value) {
            Ok(Expected::Quantity(q)) if e.unit.is_none() => Some(q),
            _ => None,
        }
    })
}

fn unique(
    key: &str,
    target: &TargetFacts<'_>,
    ours: &Entry,
    group: &Group<'_>,
) -> (FindingStatus, String) {
    let clashes: Vec<&str> = group
        .members
        .iter()
        .filter(|m| m.name != target.name)
        .filter(|m| {
            Lookup { snapshot: m.snapshot, state: m.state, earlier: None, group: None }
                .get(key)
                .is_some_and(|e| e.value.trim().eq_ignore_ascii_case(ours.value.trim()))
        })
        .map(|m| m.name)
        .collect();
    let value = ours.display_value();
    if clashes.is_empty() {
        (FindingStatus::Pass, format!("{key} is {value}, unique in group {}.", group.name))
    } else {
        (
            FindingStatus::Fail,
            format!(
                "{key} is {value} on {} too; it must be unique in group {}.",
                clashes.join(", "),
                group.name
            ),
        )
    }
}

/// Declared and reported roles agree. Servers report `primary` when nothing replicates
/// from them, so a declared standalone may report primary; memcached has no roles.
fn declared_role(target: &TargetFacts<'_>, snapshot: &Snapshot) -> (FindingStatus, String) {
    let (declared, reported) = (target.role, snapshot.server.role);
    let agrees = declared == reported
        || (declared == Role::Standalone && reported == Role::Primary)
        || matches!(target.kind, Kind::Memcached | Kind::Pgbouncer);
    if agrees {
        return (FindingStatus::Pass, format!("{} reports {reported}, as declared.", target.name));
    }
    let why = match (declared, reported) {
        (Role::Replica, _) => {
            "a replica that stopped replicating: promoted by accident, detached, or split brain"
        }
        (_, Role::Replica) => {
            "a server declared as source that replicates from another: demoted, or the config is stale"
        }
        _ => "the topology is not what the config says",
    };
    (
        FindingStatus::Fail,
        format!("{} is declared {declared} but reports {reported}: {why}.", target.name),
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::policy::tests::{snapshot, today};
    use crate::policy::{PolicySource, evaluate_in, parse};

    const RULES: &str = r#"
[policy]
name = "topology"
version = "1"
applies_to = { kind = "postgres" }

[[rule]]
id = "T-ROLE"
key = "server.role"
expect = { matches_declared_role = true }
severity = "critical"

[[rule]]
id = "T-SAME"
key = "setting.wal_level"
expect = { same_as = "primary" }
severity = "high"

[[rule]]
id = "T-MORE"
key = "setting.max_connections"
expect = { at_least = "primary" }
severity = "critical"

[[rule]]
id = "T-UNIQ"
key = "setting.server_id"
expect = { unique = true }
severity = "critical"
missing = "not_applicable"

[[rule]]
id = "T-TWO"
key = "setting.max_connections"
expect = { min = 1 }
severity = "medium"
roles = ["primary"]
when = { key = "group.replicas", min = 2 }
"#;

    /// Members are `(name, declared role, reported role, settings)`; the result is one
    /// `rule status` line per finding of `of`, sorted by rule.
    #[track_caller]
    fn check(
        members: &[(&str, Role, Role, &str)],
        not_collected: &[(&str, Role)],
        of: &str,
        expect: &str,
    ) {
        let set = parse(vec![PolicySource {
            path: "t.toml".into(),
            file: PathBuf::from("t.toml"),
            text: RULES.into(),
        }])
        .unwrap_or_else(|d| panic!("{d}"));
        let collected: Vec<_> = members
            .iter()
            .map(|(name, declared, reported, settings)| {
                (*name, *declared, snapshot(*reported, settings))
            })
            .collect();
        let list: Vec<Member<'_>> = collected
            .iter()
            .map(|(name, role, (snap, state))| Member { name, role: *role, snapshot: snap, state })
            .collect();
        let group = Group { name: "g", members: &list, not_collected };
        let me = list.iter().find(|m| m.name == of).unwrap();
        let labels = Default::default();
        let facts = TargetFacts { name: of, kind: Kind::Postgres, role: me.role, labels: &labels };
        let mut findings =
            evaluate_in(&set, &facts, me.snapshot, me.state, Some(&group), None, today());
        findings.sort_by(|a, b| a.rule.cmp(&b.rule));
        let got: Vec<String> =
            findings.iter().map(|f| format!("{} {}", f.rule, f.status)).collect();
        assert_eq!(got.join("\n"), expect.trim(), "{findings:#?}");
    }

    const PRIMARY: &str = "wal_level = replica\nmax_connections = 200\nserver_id = 1";

    #[test]
    fn replica_in_line_with_its_primary() {
        check(
            &[
                ("p", Role::Primary, Role::Primary, PRIMARY),
                (
                    "r",
                    Role::Replica,
                    Role::Replica,
                    "wal_level = replica\nmax_connections = 300\nserver_id = 2",
                ),
            ],
            &[],
            "r",
            "T-MORE pass\nT-ROLE pass\nT-SAME pass\nT-TWO not_applicable\nT-UNIQ pass",
        );
    }

    #[test]
    fn undersized_replica_and_clashing_ids_fail() {
        check(
            &[
                ("p", Role::Primary, Role::Primary, PRIMARY),
                (
                    "r",
                    Role::Replica,
                    Role::Replica,
                    "wal_level = logical\nmax_connections = 100\nserver_id = 1",
                ),
            ],
            &[],
            "r",
            "T-MORE fail\nT-ROLE pass\nT-SAME fail\nT-TWO not_applicable\nT-UNIQ fail",
        );
    }

    #[test]
    fn the_primary_is_not_compared_with_itself() {
        check(
            &[
                ("p", Role::Primary, Role::Primary, PRIMARY),
                (
                    "r",
                    Role::Replica,
                    Role::Replica,
                    "wal_level = replica\nmax_connections = 200\nserver_id = 2",
                ),
            ],
            &[],
            "p",
            "T-MORE not_applicable\nT-ROLE pass\nT-SAME not_applicable\nT-TWO not_applicable\nT-UNIQ pass",
        );
    }

    #[test]
    fn group_facts_count_declared_members_collected_or_not() {
        let r = "wal_level = replica\nmax_connections = 200\nserver_id = 2";
        let q = "wal_level = replica\nmax_connections = 200\nserver_id = 3";
        // Two replicas declared, one of them not collected: the rule applies.
        check(
            &[("p", Role::Primary, Role::Primary, PRIMARY), ("r", Role::Replica, Role::Replica, r)],
            &[("q", Role::Replica)],
            "p",
            "T-MORE not_applicable\nT-ROLE pass\nT-SAME not_applicable\nT-TWO pass\nT-UNIQ pass",
        );
        check(
            &[
                ("p", Role::Primary, Role::Primary, PRIMARY),
                ("r", Role::Replica, Role::Replica, r),
                ("q", Role::Replica, Role::Replica, q),
            ],
            &[],
            "p",
            "T-MORE not_applicable\nT-ROLE pass\nT-SAME not_applicable\nT-TWO pass\nT-UNIQ pass",
        );
        let members = [Member {
            name: "p",
            role: Role::Primary,
            snapshot: &snapshot(Role::Primary, PRIMARY).0,
            state: &Default::default(),
        }];
        let g = Group { name: "g", members: &members, not_collected: &[("q", Role::Replica)] };
        assert_eq!(fact(&g, "group.members").map(|e| e.value), Some("2".to_owned()));
        assert_eq!(fact(&g, "group.replicas").map(|e| e.value), Some("1".to_owned()));
        assert_eq!(fact(&g, "group.primaries"), None);
        assert_eq!(
            fact(&g, "group.primary.setting.max_connections").map(|e| e.value),
            Some("200".to_owned())
        );
        assert_eq!(fact(&g, "group.primary.setting.nothing"), None);
    }

    #[test]
    fn promoted_replica_is_a_role_mismatch() {
        check(
            &[
                ("p", Role::Primary, Role::Primary, PRIMARY),
                (
                    "r",
                    Role::Replica,
                    Role::Primary,
                    "wal_level = replica\nmax_connections = 200\nserver_id = 2",
                ),
            ],
            &[],
            "r",
            "T-MORE pass\nT-ROLE fail\nT-SAME pass\nT-TWO not_applicable\nT-UNIQ pass",
        );
    }

    #[test]
    fn unreachable_primary_makes_parity_an_error() {
        check(
            &[("r", Role::Replica, Role::Replica, "wal_level = replica\nmax_connections = 200")],
            &[("p", Role::Primary)],
            "r",
            "T-MORE error\nT-ROLE pass\nT-SAME error\nT-TWO not_applicable\nT-UNIQ not_applicable",
        );
    }

    #[test]
    fn units_compare_as_quantities() {
        let (a, _) = snapshot(Role::Replica, "x = 16384 8kB");
        let (b, _) = snapshot(Role::Primary, "x = 128MB");
        let (status, _) = compare(
            Parity::SameAsPrimary,
            "setting.x",
            &a.config["setting.x"],
            &b.config["setting.x"],
            "p",
        );
        assert_eq!(status, FindingStatus::Pass);
        let (status, _) = compare(
            Parity::AtLeastPrimary,
            "setting.x",
            &a.config["setting.x"],
            &b.config["setting.x"],
            "p",
        );
        assert_eq!(status, FindingStatus::Pass);
    }

    #[test]
    fn alone_group_rules_are_not_applicable() {
        let set = parse(vec![PolicySource {
            path: "t.toml".into(),
            file: PathBuf::from("t.toml"),
            text: RULES.into(),
        }])
        .unwrap();
        let (snap, state) = snapshot(Role::Replica, PRIMARY);
        let labels = Default::default();
        let facts =
            TargetFacts { name: "r", kind: Kind::Postgres, role: Role::Replica, labels: &labels };
        let findings = crate::policy::evaluate(&set, &facts, &snap, &state, today());
        let statuses: Vec<_> = findings.iter().map(|f| (f.rule.as_str(), f.status)).collect();
        assert!(statuses.contains(&("T-SAME", FindingStatus::NotApplicable)));
        assert!(statuses.contains(&("T-ROLE", FindingStatus::Pass)));
    }
}
