//! `/targets/{t}/settings/{key}`: one setting of one target over time. The current
//! value on top (with where it was set, and a pending value that takes effect at the
//! next restart or reload), then every value the change index recorded for it (its
//! `setting.<name>` and `pending.<name>` changes), newest first, and the results of the
//! rules on that key in the runs that changed it and the latest one. Pure: the server
//! reads the change index, the latest snapshot and those runs' findings.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::ids::setting_name;
use super::super::text::{self, Val};
use super::super::view::{Badge, Layout, Link};
use super::{NavItem, Place};
use crate::diff::Change;
use crate::finding::Finding;
use crate::run::RunId;
use crate::snapshot::{Entry, PENDING_PREFIX, PendingKind};

/// The key a setting page is about, and the key of its pending value: `pending.<name>`
/// and `setting.<name>` are one page (the setting's).
pub fn keys(key: &str) -> (String, Option<String>) {
    if let Some(name) = key.strip_prefix(PENDING_PREFIX) {
        return (format!("setting.{name}"), Some(key.to_owned()));
    }
    match key.strip_prefix("setting.") {
        Some(name) => (key.to_owned(), Some(format!("{PENDING_PREFIX}{name}"))),
        None => (key.to_owned(), None),
    }
}

/// One change of the setting (or of its pending value).
#[derive(Debug, Clone, Copy)]
pub struct ChangePoint<'a> {
    pub run_id: &'a RunId,
    pub at: DateTime<Utc>,
    pub change: &'a Change,
}

/// The rules on the key in one run.
#[derive(Debug, Clone)]
pub struct RunResults {
    pub run_id: RunId,
    pub at: DateTime<Utc>,
    pub findings: Vec<Finding>,
}

/// What the page is made from.
#[derive(Debug, Clone, Copy)]
pub struct SettingInput<'a> {
    pub target: &'a str,
    /// The page's key (`setting.<name>`, or another namespace's key).
    pub key: &'a str,
    /// The key's entry in the latest snapshot, and its pending value's.
    pub current: Option<&'a Entry>,
    pub pending: Option<&'a Entry>,
    /// When that snapshot was collected, and in which run (when the status knows).
    pub collected: Option<(Option<&'a RunId>, DateTime<Utc>)>,
    /// Its changes, any order (shown newest first).
    pub changes: &'a [ChangePoint<'a>],
    /// Rule results per run, any order (shown newest first).
    pub results: &'a [RunResults],
    /// Index entries (runs that changed anything on the target) looked through.
    pub runs_indexed: usize,
}

#[derive(Debug, Serialize)]
pub struct SettingView {
    pub layout: Layout,
    pub nav: Vec<NavItem>,
    pub target: String,
    pub target_href: String,
    pub setting: String,
    pub key: String,
    pub current: Option<CurrentView>,
    pub pending: Option<PendingView>,
    pub values: Vec<ValueRow>,
    pub results: Vec<ResultRow>,
    /// What the history shown covers.
    pub covered: String,
}

#[derive(Debug, Serialize)]
pub struct CurrentView {
    pub value: Val,
    pub location: Option<String>,
    /// `postmaster`, `sighup`, … when the engine says.
    pub context: Option<String>,
    pub as_of: String,
    pub run: String,
    pub run_href: String,
}

#[derive(Debug, Serialize)]
pub struct PendingView {
    pub value: Val,
    /// `takes effect at restart`.
    pub when: &'static str,
    pub location: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ValueRow {
    pub at: String,
    pub run: String,
    pub run_href: String,
    /// `live`, or `pending (takes effect at restart)` for a pending value.
    pub kind: String,
    pub before: Val,
    pub after: Val,
    pub location: Option<String>,
    pub previous_location: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ResultRow {
    pub at: String,
    pub run: String,
    pub run_href: String,
    pub rule: String,
    pub rule_href: String,
    pub policy: String,
    pub badge: Badge,
    pub observed: Val,
    pub expected: Val,
}

/// When a pending value takes effect.
pub fn takes_effect(entry: &Entry) -> &'static str {
    match entry.pending {
        Some(PendingKind::Reload) => "takes effect at the next reload",
        Some(PendingKind::RuntimeOnly) => {
            "takes effect at restart (the live value was set at runtime only)"
        }
        Some(PendingKind::Restart) | None => "takes effect at restart",
    }
}

pub fn build(input: &SettingInput<'_>, now: &str) -> SettingView {
    // The page is /targets/<t>/settings/<key>: three folders below the root.
    let root = "../../../";
    let run_href = |id: &RunId| super::run_href(root, &id.0);
    let pending_kind = input.pending.map_or("takes effect at restart", takes_effect);
    let mut changes = input.changes.to_vec();
    changes.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.run_id.cmp(a.run_id)));
    let values = changes
        .iter()
        .map(|c| ValueRow {
            at: text::utc(c.at),
            run: c.run_id.0.clone(),
            run_href: run_href(c.run_id),
            kind: if c.change.key.starts_with(PENDING_PREFIX) {
                format!("pending ({pending_kind})")
            } else {
                "live".to_owned()
            },
            before: Val::opt(c.change.before.as_deref()),
            after: Val::opt(c.change.after.as_deref()),
            location: c.change.location.as_deref().map(text::clean),
            previous_location: c.change.previous_location.as_deref().map(text::clean),
        })
        .collect();
    let mut results = input.results.to_vec();
    results.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.run_id.cmp(&a.run_id)));
    let ids = super::super::ids::Ids::default();
    let target_href = super::target_href(root, input.target);
    let result_rows = results
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(|f| ResultRow {
                at: text::utc(r.at),
                run: r.run_id.0.clone(),
                run_href: run_href(&r.run_id),
                rule: text::clean(&f.rule),
                rule_href: format!("{target_href}#{}", ids.finding(input.target, &f.rule)),
                policy: text::clean(&f.policy),
                badge: Badge::of(f.status),
                observed: Val::opt(f.actual.as_deref()),
                expected: Val::of(&f.expected),
            })
        })
        .collect();
    let setting = text::clean(setting_name(input.key));
    let target = text::clean(input.target);
    SettingView {
        layout: super::layout(
            format!("{setting} on {target}"),
            root,
            vec![Link { href: target_href.clone(), text: target.clone() }],
            setting.clone(),
            now,
        ),
        nav: super::nav(root, Place::Elsewhere),
        current: input.current.map(|e| {
            let (run, at) = input.collected.map_or((String::new(), String::new()), |(id, at)| {
                (id.map(|id| id.0.clone()).unwrap_or_default(), text::utc(at))
            });
            CurrentView {
                value: Val::of(&e.display_value()),
                location: e.location().as_deref().map(text::clean),
                context: e.context.as_deref().map(text::clean),
                as_of: at,
                run_href: if run.is_empty() { String::new() } else { super::run_href(root, &run) },
                run,
            }
        }),
        pending: input.pending.map(|e| PendingView {
            value: Val::of(&e.display_value()),
            when: takes_effect(e),
            location: e.location().as_deref().map(text::clean),
        }),
        covered: format!(
            "{} found in the change index ({} that changed anything on this target); rule results of {}.",
            text::plural(changes.len(), "change"),
            text::plural(input.runs_indexed, "run"),
            text::plural(results.len(), "run"),
        ),
        values,
        results: result_rows,
        target,
        target_href,
        key: text::clean(input.key),
        setting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingStatus, Severity};
    use crate::status::fixture::{at, change, finding};

    #[test]
    fn pending_and_live_keys_are_one_page() {
        assert_eq!(
            keys("setting.max_connections"),
            ("setting.max_connections".into(), Some("pending.max_connections".into()))
        );
        assert_eq!(
            keys("pending.max_connections"),
            ("setting.max_connections".into(), Some("pending.max_connections".into()))
        );
        assert_eq!(keys("server.version"), ("server.version".into(), None));
    }

    #[test]
    fn the_timeline_lists_every_value_newest_first_with_the_rule_results() {
        let ids: Vec<RunId> =
            (1..=4).map(|i| RunId(format!("20261125T16{i}000Z-000{i}"))).collect();
        let c1 = change("setting.timeout", "0", "10");
        let mut c2 = change("setting.timeout", "10", "20");
        c2.location = Some("/etc/redis/redis.conf:12".into());
        let c3 = change("setting.timeout", "20", "30");
        let mut p = change("pending.timeout", "", "60");
        p.before = None;
        let points = [
            ChangePoint { run_id: &ids[0], at: at("2026-11-25T16:10:00Z"), change: &c1 },
            ChangePoint { run_id: &ids[2], at: at("2026-11-25T16:30:00Z"), change: &c3 },
            ChangePoint { run_id: &ids[1], at: at("2026-11-25T16:20:00Z"), change: &c2 },
            ChangePoint { run_id: &ids[3], at: at("2026-11-25T16:40:00Z"), change: &p },
        ];
        let fail = finding("RD-SEC-009", "setting.timeout", Severity::Low, FindingStatus::Fail);
        let pass = finding("RD-SEC-009", "setting.timeout", Severity::Low, FindingStatus::Pass);
        let results = [
            RunResults {
                run_id: ids[0].clone(),
                at: at("2026-11-25T16:10:00Z"),
                findings: vec![fail],
            },
            RunResults {
                run_id: ids[3].clone(),
                at: at("2026-11-25T16:40:00Z"),
                findings: vec![pass],
            },
        ];
        let mut current = Entry::new("30");
        current.source_file = Some("/etc/redis/redis.conf".into());
        let mut pending = Entry::new("60");
        pending.pending = Some(PendingKind::Restart);
        let view = build(
            &SettingInput {
                target: "redis-a",
                key: "setting.timeout",
                current: Some(&current),
                pending: Some(&pending),
                collected: Some((Some(&ids[3]), at("2026-11-25T16:40:00Z"))),
                changes: &points,
                results: &results,
                runs_indexed: 5,
            },
            "now",
        );
        let afters: Vec<&str> = view.values.iter().map(|v| v.after.short.as_str()).collect();
        assert_eq!(afters, ["60", "30", "20", "10"]);
        assert_eq!(view.values[0].kind, "pending (takes effect at restart)");
        assert_eq!(view.values[0].before.short, "(absent)");
        assert_eq!(view.values[1].kind, "live");
        assert_eq!(view.values[2].location.as_deref(), Some("/etc/redis/redis.conf:12"));
        assert_eq!(view.values[3].run_href, "../../../reports/runs/20261125T161000Z-0001.html");
        let current = view.current.as_ref().unwrap();
        assert_eq!(
            (current.value.short.as_str(), current.location.as_deref()),
            ("30", Some("/etc/redis/redis.conf"))
        );
        assert_eq!(view.pending.as_ref().unwrap().when, "takes effect at restart");
        let statuses: Vec<&str> = view.results.iter().map(|r| r.badge.word).collect();
        assert_eq!(statuses, ["PASS", "FAIL"], "newest first");
        assert_eq!(
            view.results[0].rule_href,
            "../../../reports/targets/redis-a.html#f-redis-a-rd-sec-009"
        );
        assert_eq!(view.setting, "timeout");
        assert_eq!(
            view.covered,
            "4 changes found in the change index (5 runs that changed anything on this target); rule results of 2 runs."
        );
        assert_eq!(view.nav[1].href, "../../../findings");
    }
}
