//! Rules over every role or database: a key `role.*.<setting>` or
//! `database.*.<setting>` judges that setting in each scope. `role.*` ranges over the
//! roles that can log in (the snapshot's `role.<role>` entries) and any other role that
//! sets it; `database.*` over the databases that set it. One finding for the rule: the
//! worst of the scopes (fail, then error, pass), naming those that do not pass.

use crate::finding::{Finding, FindingStatus};
use crate::scoped::{self, Scope};
use crate::snapshot::Snapshot;

/// Whether `key` is a pattern this module expands; the loader refuses any other `*`.
pub fn is_pattern(key: &str) -> bool {
    key.contains('*')
}

/// A well-formed pattern: `role.*.<setting>` or `database.*.<setting>`, the setting
/// without `*`.
pub fn valid_pattern(key: &str) -> bool {
    ["role.*.", "database.*."].iter().any(|p| {
        key.strip_prefix(p).is_some_and(|setting| !setting.is_empty() && !setting.contains('*'))
    })
}

/// The concrete keys of a pattern in `snapshot`, sorted, each with its scope's name.
pub fn keys(pattern: &str, snapshot: &Snapshot) -> Vec<(String, String)> {
    let (roles, setting) = match pattern.split_once(".*.") {
        Some(("role", s)) => (true, s),
        Some(("database", s)) => (false, s),
        _ => return vec![],
    };
    let mut names = std::collections::BTreeSet::new();
    for key in
        snapshot.config.keys().filter(|k| k.starts_with(if roles { "role." } else { "database." }))
    {
        let Some(parsed) = scoped::parse(key) else { continue };
        match (parsed.scope, parsed.setting.as_deref()) {
            (Scope::Role(r), None) if roles => names.insert(r),
            (Scope::Role(r), Some(s)) if roles && s == setting => names.insert(r),
            (Scope::Database(d), Some(s)) if !roles && s == setting => names.insert(d),
            _ => false,
        };
    }
    names
        .into_iter()
        .map(|n| {
            let scope = if roles { Scope::Role(n.clone()) } else { Scope::Database(n.clone()) };
            (scope.key(setting), n)
        })
        .collect()
}

fn rank(s: FindingStatus) -> u8 {
    match s {
        FindingStatus::Fail => 0,
        FindingStatus::Error => 1,
        FindingStatus::Pass => 2,
        FindingStatus::Waived | FindingStatus::NotApplicable => 3,
    }
}

/// How many scopes a finding's observed value lists before `… and N more`.
const SHOWN: usize = 10;

/// One finding from the findings of each scope (`each`, with the scope names); `none`
/// is the finding when no scope exists.
pub fn combine(pattern: &str, each: Vec<(String, Finding)>, none: Finding) -> Finding {
    let what = if pattern.starts_with("role.") { "role" } else { "database" };
    let Some(worst) = each.iter().map(|(_, f)| f.status).min_by_key(|s| rank(*s)) else {
        let mut f = none;
        f.status = FindingStatus::NotApplicable;
        f.message = format!("Not applicable: no {what} on this server matches {pattern}.");
        f.actual = None;
        return f;
    };
    let mut first = each[0].1.clone();
    let notable: Vec<&(String, Finding)> =
        each.iter().filter(|(_, f)| f.status != FindingStatus::Pass).collect();
    let listed = if notable.is_empty() { each.iter().collect() } else { notable };
    let mut observed: Vec<String> = listed
        .iter()
        .take(SHOWN)
        .map(|(n, f)| format!("{} = {}", scoped::quote(n), f.actual.as_deref().unwrap_or("absent")))
        .collect();
    if listed.len() > SHOWN {
        observed.push(format!("… and {} more", listed.len() - SHOWN));
    }
    first.key = pattern.to_owned();
    first.status = worst;
    first.actual = Some(observed.join(", "));
    first.location = None;
    first.message = if worst == FindingStatus::Pass {
        format!("Every {what} ({}) satisfies {}.", each.len(), first.expected)
    } else {
        let msgs: Vec<&str> = listed.iter().take(SHOWN).map(|(_, f)| f.message.as_str()).collect();
        format!("{} of {} {what}s do not pass: {}", listed.len(), each.len(), msgs.join(" "))
    };
    first
}
