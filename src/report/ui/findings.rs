//! `/findings`: each target's latest findings (its newest committed run, as the
//! service's status holds it), filtered by the query string, which is the shareable
//! state of the page: `severity`, `status`, `target`, `label=k=v`, `rule`, `policy`
//! (each repeatable: any of the values; labels: all of them) and `new=1` (failing now,
//! not failing in the target's previous collection). Without `status`, failing
//! findings are shown. Pure.

use std::collections::BTreeSet;

use serde::Serialize;

use super::super::compare;
use super::super::text::{self, Val};
use super::super::view::{Badge, Layout, Sev};
use super::{NavItem, Place};
use crate::finding::{Finding, FindingStatus, Severity};
use crate::run::{RunId, TargetRun, TargetStatus};

/// Rows shown at most; the rest are counted.
pub const MAX_ROWS: usize = 2000;

/// Every status, in the order the form lists them.
const STATUSES: [FindingStatus; 5] = [
    FindingStatus::Fail,
    FindingStatus::Error,
    FindingStatus::Waived,
    FindingStatus::Pass,
    FindingStatus::NotApplicable,
];

/// The filters of a findings view, as the query string gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub severities: Vec<Severity>,
    pub statuses: Vec<FindingStatus>,
    pub targets: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub rules: Vec<String>,
    pub policies: Vec<String>,
    pub new_only: bool,
}

impl Filters {
    /// From decoded query parameters, in order. Empty values are ignored (a form
    /// sends its empty fields); unknown parameters and bad values are an error.
    pub fn parse(params: &[(String, String)]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for (k, v) in params {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "severity" => f.severities.push(Severity::parse(v).ok_or_else(|| {
                    format!("severity `{v}`: critical, high, medium, low or info")
                })?),
                "status" => {
                    f.statuses.push(STATUSES.into_iter().find(|s| s.as_str() == v).ok_or_else(
                        || format!("status `{v}`: fail, error, waived, pass or not_applicable"),
                    )?)
                }
                "target" => f.targets.push(v.to_owned()),
                "label" => {
                    let (lk, lv) = v
                        .split_once('=')
                        .filter(|(lk, _)| !lk.is_empty())
                        .ok_or_else(|| format!("label `{v}` is not key=value"))?;
                    f.labels.push((lk.to_owned(), lv.to_owned()));
                }
                "rule" => f.rules.push(v.to_owned()),
                "policy" => f.policies.push(v.to_owned()),
                "new" => f.new_only = matches!(v, "1" | "true" | "on" | "yes"),
                other => return Err(format!("unknown parameter `{other}`")),
            }
        }
        Ok(f)
    }

    /// The statuses shown: the ones asked for, failing when none was.
    pub fn statuses(&self) -> Vec<FindingStatus> {
        if self.statuses.is_empty() { vec![FindingStatus::Fail] } else { self.statuses.clone() }
    }

    /// The query string that gives these filters back (canonical order), without `?`.
    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for s in &self.severities {
            q.append_pair("severity", s.as_str());
        }
        for s in &self.statuses {
            q.append_pair("status", s.as_str());
        }
        for t in &self.targets {
            q.append_pair("target", t);
        }
        for (k, v) in &self.labels {
            q.append_pair("label", &format!("{k}={v}"));
        }
        for r in &self.rules {
            q.append_pair("rule", r);
        }
        for p in &self.policies {
            q.append_pair("policy", p);
        }
        if self.new_only {
            q.append_pair("new", "1");
        }
        q.finish()
    }

    fn admits_target(&self, t: &TargetRun) -> bool {
        (self.targets.is_empty() || self.targets.contains(&t.name))
            && self.labels.iter().all(|(k, v)| t.labels.get(k) == Some(v))
    }

    fn admits(&self, f: &Finding, statuses: &[FindingStatus], new: bool) -> bool {
        statuses.contains(&f.status)
            && (self.severities.is_empty() || self.severities.contains(&f.severity))
            && (self.rules.is_empty() || self.rules.iter().any(|r| r.eq_ignore_ascii_case(&f.rule)))
            && (self.policies.is_empty() || self.policies.contains(&f.policy))
            && (!self.new_only || new)
    }
}

/// One target's latest result, and the collection before it (`None`: its first).
#[derive(Debug, Clone, Copy)]
pub struct Latest<'a> {
    pub run_id: &'a RunId,
    pub target: &'a TargetRun,
    pub before: Option<&'a TargetRun>,
}

#[derive(Debug, Serialize)]
pub struct FindingsView {
    pub layout: Layout,
    pub nav: Vec<NavItem>,
    pub form: Form,
    /// `12 findings on 3 targets` (and how many are not shown).
    pub summary: String,
    pub rows: Vec<Row>,
    /// This view's address, relative to the page (`findings?…`).
    pub share: String,
    /// Targets the filters admit whose latest audit has no findings to show
    /// (unreachable, error), with why.
    pub notes: Vec<String>,
}

/// The filter form, with the current filters selected.
#[derive(Debug, Serialize)]
pub struct Form {
    pub severities: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub targets: Vec<Choice>,
    pub labels: Vec<Choice>,
    pub rules: Vec<Choice>,
    pub policies: Vec<Choice>,
    pub new_only: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub selected: bool,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub sev: Sev,
    pub badge: Badge,
    /// Failing now, not failing in the previous collection.
    pub new: bool,
    pub target: String,
    pub target_href: String,
    pub rule: String,
    /// The finding on the target's report page.
    pub rule_href: String,
    pub policy: String,
    pub setting: String,
    pub setting_href: String,
    pub observed: Val,
    pub expected: Val,
    pub run: String,
    pub run_href: String,
    pub at: String,
}

/// The view of `latest` (each target's latest result, by name) under `filters`.
pub fn build(latest: &[Latest<'_>], filters: &Filters, now: &str) -> FindingsView {
    let root = "";
    let statuses = filters.statuses();
    let ids = super::super::ids::Ids::default();
    let mut rows = Vec::new();
    let mut targets_shown = BTreeSet::new();
    let mut notes = Vec::new();
    let mut total = 0;
    for l in latest.iter().filter(|l| filters.admits_target(l.target)) {
        let t = l.target;
        if t.status != TargetStatus::Ok {
            let why = t.error.as_deref().map(text::clean).unwrap_or_default();
            notes.push(format!("{}: {} in run {} {why}", t.name, t.status.as_str(), l.run_id));
            continue;
        }
        let new: BTreeSet<(&str, &str)> = compare::delta(l.before, t)
            .new_failures
            .iter()
            .map(|f| (f.rule.as_str(), f.key.as_str()))
            .collect();
        for f in t.findings.iter() {
            let is_new = new.contains(&(f.rule.as_str(), f.key.as_str()));
            if !filters.admits(f, &statuses, is_new) {
                continue;
            }
            total += 1;
            targets_shown.insert(t.name.as_str());
            if rows.len() >= MAX_ROWS {
                continue;
            }
            rows.push(Row {
                sev: Sev::of(f.severity),
                badge: Badge::of(f.status),
                new: is_new,
                target: text::clean(&t.name),
                target_href: super::target_href(root, &t.name),
                rule: text::clean(&f.rule),
                rule_href: format!(
                    "{}#{}",
                    super::target_href(root, &t.name),
                    ids.finding(&t.name, &f.rule)
                ),
                policy: text::clean(&f.policy),
                setting: text::clean(super::super::ids::setting_name(&f.key)),
                setting_href: super::setting_href(root, &t.name, &f.key),
                observed: Val::opt(f.actual.as_deref()),
                expected: Val::of(&f.expected),
                run: l.run_id.0.clone(),
                run_href: super::run_href(root, &l.run_id.0),
                at: text::utc(t.collected_at),
            });
        }
    }
    rows.sort_by(|a, b| {
        let rank = |r: &Row| Severity::parse(r.sev.word).map(std::cmp::Reverse);
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.target.cmp(&b.target))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let mut summary = format!(
        "{} on {}",
        text::plural(total, "finding"),
        text::plural(targets_shown.len(), "target")
    );
    if total > rows.len() {
        summary.push_str(&format!(" (the first {} shown)", text::count(rows.len())));
    }
    let query = filters.query();
    FindingsView {
        layout: super::layout("Findings".to_owned(), root, vec![], "Findings".to_owned(), now),
        nav: super::nav(root, Place::Findings),
        form: form(latest, filters, &statuses),
        summary,
        rows,
        share: if query.is_empty() { "findings".to_owned() } else { format!("findings?{query}") },
        notes,
    }
}

/// The form's choices: every value the fleet's latest results hold, the filters'
/// values among them selected (a filtered-for value no target has is listed too).
fn form(latest: &[Latest<'_>], filters: &Filters, statuses: &[FindingStatus]) -> Form {
    let mut targets = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let mut rules = BTreeSet::new();
    let mut policies = BTreeSet::new();
    for l in latest {
        targets.insert(l.target.name.clone());
        labels.extend(l.target.labels.iter().map(|(k, v)| format!("{k}={v}")));
        for f in l.target.findings.iter() {
            rules.insert(f.rule.clone());
            policies.insert(f.policy.clone());
        }
    }
    let choices = |all: BTreeSet<String>, chosen: Vec<String>| -> Vec<Choice> {
        let mut all = all;
        all.extend(chosen.iter().cloned());
        all.into_iter()
            .map(|value| Choice { selected: chosen.contains(&value), value: text::clean(&value) })
            .collect()
    };
    Form {
        severities: Severity::DESCENDING
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                selected: filters.severities.contains(s),
            })
            .collect(),
        statuses: STATUSES
            .iter()
            .map(|s| Choice { value: s.as_str().to_owned(), selected: statuses.contains(s) })
            .collect(),
        targets: choices(targets, filters.targets.clone()),
        labels: choices(labels, filters.labels.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        rules: choices(rules, filters.rules.clone()),
        policies: choices(policies, filters.policies.clone()),
        new_only: filters.new_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::fixture::*;

    fn params(q: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into(), v.into())).collect()
    }

    struct Fleet {
        id: RunId,
        a: TargetRun,
        a_before: TargetRun,
        b: TargetRun,
        down: TargetRun,
    }

    fn fleet() -> Fleet {
        let mut a = target("pg-a", TargetStatus::Ok);
        a.labels.insert("env".into(), "prod".into());
        let mut ssl = finding("PG-SEC-001", "setting.ssl", Severity::High, FindingStatus::Fail);
        ssl.policy = "postgres-security".into();
        let wal = finding("PG-DUR-001", "setting.fsync", Severity::Critical, FindingStatus::Fail);
        let ok = finding("PG-DUR-002", "setting.wal_level", Severity::Medium, FindingStatus::Pass);
        a.findings = std::sync::Arc::new(vec![ssl.clone(), wal.clone(), ok]);
        // Before, only fsync failed: ssl is new.
        let mut a_before = a.clone();
        a_before.findings = std::sync::Arc::new(vec![wal]);
        let mut b = target("redis-b", TargetStatus::Ok);
        b.kind = crate::snapshot::Kind::Redis;
        b.labels.insert("env".into(), "test".into());
        let timeout = finding("RD-SEC-009", "setting.timeout", Severity::Low, FindingStatus::Fail);
        let waived =
            finding("RD-LOG-001", "setting.loglevel", Severity::Low, FindingStatus::Waived);
        b.findings = std::sync::Arc::new(vec![timeout, waived]);
        let down = target("gone", TargetStatus::Unreachable);
        Fleet { id: RunId("20261125T161500Z-0001".into()), a, a_before, b, down }
    }

    #[track_caller]
    fn check(q: &str, expect: &[&str]) {
        let f = fleet();
        let latest = [
            Latest { run_id: &f.id, target: &f.a, before: Some(&f.a_before) },
            Latest { run_id: &f.id, target: &f.b, before: Some(&f.b) },
            Latest { run_id: &f.id, target: &f.down, before: None },
        ];
        let filters = Filters::parse(&params(q)).unwrap();
        let view = build(&latest, &filters, "now");
        let got: Vec<String> =
            view.rows.iter().map(|r| format!("{}/{}", r.target, r.rule)).collect();
        assert_eq!(got, expect, "{q}");
        assert_eq!(Filters::parse(&params(&filters.query())).unwrap(), filters, "{q} round-trips");
    }

    #[test]
    fn every_filter_narrows_the_rows() {
        // By default: failing findings, most severe first.
        check("", &["pg-a/PG-DUR-001", "pg-a/PG-SEC-001", "redis-b/RD-SEC-009"]);
        check("severity=high&severity=critical", &["pg-a/PG-DUR-001", "pg-a/PG-SEC-001"]);
        check("status=waived", &["redis-b/RD-LOG-001"]);
        check(
            "status=pass&status=fail&target=pg-a",
            &["pg-a/PG-DUR-001", "pg-a/PG-SEC-001", "pg-a/PG-DUR-002"],
        );
        check("target=redis-b", &["redis-b/RD-SEC-009"]);
        check("label=env%3Dprod", &["pg-a/PG-DUR-001", "pg-a/PG-SEC-001"]);
        check("label=env=prod&label=env=test", &[]);
        check("rule=rd-sec-009", &["redis-b/RD-SEC-009"]);
        check("policy=postgres-security", &["pg-a/PG-SEC-001"]);
        check("new=1", &["pg-a/PG-SEC-001"]);
        check(
            "target=&severity=&new=",
            &["pg-a/PG-DUR-001", "pg-a/PG-SEC-001", "redis-b/RD-SEC-009"],
        );
    }

    #[test]
    fn a_first_collection_fails_all_new_and_unreachable_targets_are_noted() {
        let f = fleet();
        let latest = [
            Latest { run_id: &f.id, target: &f.a, before: None },
            Latest { run_id: &f.id, target: &f.down, before: None },
        ];
        let view = build(&latest, &Filters::parse(&params("new=1")).unwrap(), "now");
        assert_eq!(view.rows.len(), 2);
        assert!(view.rows.iter().all(|r| r.new));
        assert_eq!(view.notes.len(), 1);
        assert!(view.notes[0].starts_with("gone: unreachable"), "{:?}", view.notes);
        assert_eq!(view.summary, "2 findings on 1 target");
    }

    #[test]
    fn the_form_shows_the_filters_and_links_resolve_from_the_root() {
        let f = fleet();
        let latest = [Latest { run_id: &f.id, target: &f.a, before: None }];
        let filters =
            Filters::parse(&params("severity=high&target=pg-a&label=env=prod&new=1")).unwrap();
        let view = build(&latest, &filters, "now");
        let selected = |c: &[Choice]| -> Vec<String> {
            c.iter().filter(|c| c.selected).map(|c| c.value.clone()).collect()
        };
        assert_eq!(selected(&view.form.severities), ["high"]);
        assert_eq!(selected(&view.form.statuses), ["fail"], "failing by default");
        assert_eq!(selected(&view.form.targets), ["pg-a"]);
        assert_eq!(selected(&view.form.labels), ["env=prod"]);
        assert!(view.form.new_only);
        assert_eq!(view.share, "findings?severity=high&target=pg-a&label=env%3Dprod&new=1");
        let row = &view.rows[0];
        assert_eq!(row.target_href, "reports/targets/pg-a.html");
        assert_eq!(row.rule_href, "reports/targets/pg-a.html#f-pg-a-pg-sec-001");
        assert_eq!(row.setting_href, "targets/pg-a/settings/setting.ssl");
        assert_eq!(row.run_href, "reports/runs/20261125T161500Z-0001.html");
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        for (q, e) in [
            ("severity=huge", "severity `huge`: critical, high, medium, low or info"),
            ("status=broken", "status `broken`: fail, error, waived, pass or not_applicable"),
            ("label=env", "label `env` is not key=value"),
            ("sort=x", "unknown parameter `sort`"),
        ] {
            assert_eq!(Filters::parse(&params(q)).unwrap_err(), e);
        }
    }
}
