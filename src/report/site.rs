//! What every page builder shares: the runs in order, which pages exist (so links only
//! point at rendered pages), ids, and the components built the same way everywhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::compare::{self, TargetIndex, is_failing};
use super::fragments;
use super::ids::{Ids, setting_name};
use super::text::{self, Val, count, utc};
use super::view::{
    Badge, ChangeView, FindingGroups, FindingView, Layout, Link, RefView, RowView, RunRow, Sev,
    WaiverView,
};
use super::{MAX_RUN_PAGES, SettingIndex};
use crate::diff::{Change, ExpectedDifferences};
use crate::finding::{Drift, Finding, FindingStatus, Reference};
use crate::integrity::{Attestation, RunAttestation};
use crate::run::{Detail, Run, TargetRun};

pub struct Site<'a> {
    pub run: &'a Run,
    /// `run` then the history, newest first.
    pub runs: Vec<&'a Run>,
    pub ids: Ids,
    /// Runs that get a page in this render.
    pub run_pages: BTreeSet<&'a str>,
    /// Targets that get a page in this render (those of `run`).
    pub target_pages: BTreeSet<&'a str>,
    /// Which settings the current snapshots hold (links to inventory rows).
    pub settings: &'a dyn SettingIndex,
    /// Each run's targets by name, built once (`Run::target` scans the list).
    pub index: TargetIndex<'a>,
    /// Each group's members in `run`, by name: the groups that get a page in this
    /// render (a page per group would otherwise scan every target: O(groups × targets)).
    pub members: BTreeMap<&'a str, Vec<&'a TargetRun>>,
    /// Every target any of the runs put in each group: whose collections a group's
    /// timeline reads.
    pub ever_members: HashMap<&'a str, BTreeSet<&'a str>>,
    /// `run`'s pre-flight findings by the member whose restart brings them on
    /// (`restarting`), for that member's page.
    pub restarts: HashMap<&'a str, Vec<(&'a TargetRun, &'a Finding)>>,
    /// What the history's chain said of these runs when the report was published
    /// (`None`: not checked, as in renders outside an audit).
    pub integrity: Option<&'a Attestation>,
    /// What the policies say may differ between members of a group (the group page
    /// folds those differences away); none unless the caller says.
    pub expected: &'a ExpectedDifferences,
}

/// The expected differences of a render whose caller gives none.
static NO_EXPECTED_DIFFERENCES: ExpectedDifferences = ExpectedDifferences::NONE;

impl<'a> Site<'a> {
    pub fn new(run: &'a Run, history: &'a [Run], settings: &'a dyn SettingIndex) -> Site<'a> {
        let runs: Vec<&Run> = std::iter::once(run).chain(history).collect();
        let mut members: BTreeMap<&str, Vec<&TargetRun>> = BTreeMap::new();
        let mut restarts: HashMap<&str, Vec<(&TargetRun, &Finding)>> = HashMap::new();
        for t in &run.targets {
            if let Some(g) = t.group.as_deref() {
                members.entry(g).or_default().push(t);
            }
            for f in &t.preflight {
                if let Some(by) = f.restarting.as_deref() {
                    restarts.entry(by).or_default().push((t, f));
                }
            }
        }
        for m in members.values_mut() {
            m.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut ever_members: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for t in runs.iter().flat_map(|r| &r.targets) {
            if let Some(g) = t.group.as_deref() {
                ever_members.entry(g).or_default().insert(t.name.as_str());
            }
        }
        Site {
            run,
            ids: Ids::new(&runs),
            run_pages: runs.iter().take(MAX_RUN_PAGES).map(|r| r.run_id.0.as_str()).collect(),
            target_pages: run.targets.iter().map(|t| t.name.as_str()).collect(),
            settings,
            index: TargetIndex::new(&runs),
            members,
            ever_members,
            restarts,
            integrity: None,
            expected: &NO_EXPECTED_DIFFERENCES,
            runs,
        }
    }

    /// The runs older than `run` (newest first).
    pub fn older_than(&self, run: &Run) -> &[&'a Run] {
        let i = self.runs.iter().position(|r| r.run_id == run.run_id).unwrap_or(self.runs.len());
        self.runs.get(i + 1..).unwrap_or(&[])
    }

    pub fn layout(&self, root: &str, title: String, crumbs: Vec<Link>, here: String) -> Layout {
        Layout {
            title,
            root: root.to_owned(),
            crumbs,
            here,
            generated_at: utc(self.run.finished_at),
            version: text::clean(&self.run.driftwatch_version),
        }
    }

    pub fn run_href(&self, root: &str, id: &str) -> Option<String> {
        self.run_pages.contains(id).then(|| format!("{root}{}", self.ids.run_page(id)))
    }

    pub fn target_href(&self, root: &str, name: &str) -> Option<String> {
        self.target_pages.contains(name).then(|| format!("{root}{}", self.ids.target_page(name)))
    }

    pub fn group_href(&self, root: &str, name: &str) -> Option<String> {
        self.members.contains_key(name).then(|| format!("{root}{}", self.ids.group_page(name)))
    }

    /// A pre-flight finding as an article (`p-<target>-<rule>`): when it bites and whose
    /// restart brings it on.
    pub fn preflight(&self, root: &str, run: &Run, t: &TargetRun, f: &Finding) -> FindingView {
        let mut v = self.finding(root, run, t, f);
        v.id = self.ids.preflight(&t.name, &f.rule);
        v.first_seen = None;
        v.previous = None;
        v.drift = Some(match f.drift {
            Drift::RuntimeOnly => {
                "runtime-only drift: the next restart brings the file's value back"
            }
            Drift::Pending | Drift::Live => "pending: takes effect on the next restart or reload",
        });
        v.restarting = f.restarting.as_deref().map(|name| Link {
            href: self.target_href(root, name).unwrap_or_default(),
            text: text::clean(name),
        });
        v
    }

    /// The pre-flight findings of `targets` that fail or cannot be judged, most severe
    /// first, then by target and rule.
    pub fn preflights(&self, root: &str, run: &Run, targets: &[&TargetRun]) -> Vec<FindingView> {
        let all = targets.iter().flat_map(|t| t.preflight.iter().map(move |f| (*t, f)));
        self.preflight_views(root, run, all)
    }

    /// The pre-flight findings of `run`'s other targets that `target`'s restart brings
    /// on, as [`Site::preflights`] orders them.
    pub fn preflights_restarting(&self, root: &str, run: &Run, target: &str) -> Vec<FindingView> {
        let all = self.restarts.get(target).into_iter().flatten().copied();
        self.preflight_views(root, run, all.filter(|(t, _)| t.name != target))
    }

    fn preflight_views<'f>(
        &self,
        root: &str,
        run: &Run,
        findings: impl Iterator<Item = (&'f TargetRun, &'f Finding)>,
    ) -> Vec<FindingView> {
        let mut all: Vec<(&TargetRun, &Finding)> = findings
            .filter(|(_, f)| matches!(f.status, FindingStatus::Fail | FindingStatus::Error))
            .collect();
        all.sort_by(|(ta, fa), (tb, fb)| {
            (fb.severity, &ta.name, &fa.rule).cmp(&(fa.severity, &tb.name, &fb.rule))
        });
        all.into_iter().map(|(t, f)| self.preflight(root, run, t, f)).collect()
    }

    /// Link to a setting's inventory row, when the target page shows that setting.
    pub fn setting_href(&self, root: &str, target: &str, key: &str) -> Option<String> {
        let page = self.target_href(root, target)?;
        self.settings
            .has_setting(target, key)
            .then(|| format!("{page}#{}", self.ids.setting(target, key)))
    }

    /// Where a finding's article lives: on the target page when there is one.
    pub fn finding_href(&self, root: &str, run: &Run, target: &str, rule: &str) -> String {
        let id = self.ids.finding(target, rule);
        match (run.run_id == self.run.run_id, self.target_href(root, target)) {
            (true, Some(page)) => format!("{page}#{id}"),
            _ => format!("{root}{}#{id}", self.ids.run_page(&run.run_id.0)),
        }
    }

    /// A finding as an article, with its history: first seen, previous value.
    pub fn finding(&self, root: &str, run: &Run, t: &TargetRun, f: &Finding) -> FindingView {
        let older = self.older_than(run);
        // The previous collection is whole in any history the store reads
        // (`Store::recent_runs_outlined`); an outline has no value to show.
        let prev = compare::previous_collection(&self.index, older, &t.name)
            .filter(|(_, pt)| pt.detail == Detail::Whole)
            .and_then(|(_, pt)| pt.findings.iter().find(|p| p.rule == f.rule));
        let previous = prev.filter(|p| p.actual != f.actual).map(|p| Val::opt(p.actual.as_deref()));
        let first_seen = is_failing(f).then(|| {
            let mut chain = vec![run];
            chain.extend_from_slice(older);
            match compare::first_failing(&self.index, &chain, &t.name, &f.rule) {
                Some(r) if r.run_id != run.run_id => {
                    format!("since {} (run {})", utc(r.started_at), r.run_id)
                }
                _ => "new in this run".to_owned(),
            }
        });
        FindingView {
            id: self.ids.finding(&t.name, &f.rule),
            target: text::clean(&t.name),
            target_href: self.target_href(root, &t.name),
            rule: text::clean(&f.rule),
            policy: text::clean(&f.policy),
            setting: text::clean(setting_name(&f.key)),
            setting_href: self.setting_href(root, &t.name, &f.key),
            badge: Badge::of(f.status),
            sev: Sev::of(f.severity),
            observed: Val::opt(f.actual.as_deref()),
            expected: Val::of(&f.expected),
            location: f.location.as_deref().map(text::clean),
            message: text::clean(&f.message),
            rationale: f.rationale.as_deref().map(text::clean),
            remediation: f.remediation.as_deref().map(text::clean),
            references: references(&f.references),
            waiver: f.waiver.as_ref().map(|w| WaiverView {
                reason: text::clean(&w.reason),
                expires: text::clean(&w.expires),
                note: text::expiry_note(&w.expires, run.finished_at),
                expired: w.expired,
            }),
            first_seen,
            previous,
            drift: None,
            restarting: None,
        }
    }

    fn row(&self, t: &TargetRun, f: &Finding) -> RowView {
        RowView {
            id: self.ids.finding(&t.name, &f.rule),
            target: text::clean(&t.name),
            rule: text::clean(&f.rule),
            rule_href: f.references.iter().find_map(|r| web_address(r.url.as_deref())),
            controls: controls(&f.references),
            setting: text::clean(setting_name(&f.key)),
            observed: Val::opt(f.actual.as_deref()),
            expected: Val::of(&f.expected),
        }
    }

    /// The findings of `targets` (of `run`) in reading order: failing by severity, most
    /// severe first, then target and rule; the other groups by target and rule.
    pub fn groups(&self, root: &str, run: &Run, targets: &[&TargetRun]) -> FindingGroups {
        let mut all: Vec<(&TargetRun, &Finding)> =
            targets.iter().flat_map(|t| t.findings.iter().map(move |f| (*t, f))).collect();
        all.sort_by(|(ta, fa), (tb, fb)| {
            (fb.severity, &ta.name, &fa.rule).cmp(&(fa.severity, &tb.name, &fb.rule))
        });
        let (mut failing, mut errors, mut waived) = (Vec::new(), Vec::new(), Vec::new());
        let (mut passed, mut not_applicable) = (Vec::new(), Vec::new());
        for (t, f) in all {
            match f.status {
                FindingStatus::Fail => failing.push(self.finding(root, run, t, f)),
                FindingStatus::Error => errors.push(self.finding(root, run, t, f)),
                FindingStatus::Waived => waived.push(self.finding(root, run, t, f)),
                FindingStatus::Pass => passed.push(self.row(t, f)),
                FindingStatus::NotApplicable => not_applicable.push(self.row(t, f)),
            }
        }
        let by_place = |a: &RowView, b: &RowView| (&a.target, &a.rule).cmp(&(&b.target, &b.rule));
        passed.sort_by(by_place);
        not_applicable.sort_by(by_place);
        FindingGroups {
            failing_count: count(failing.len()),
            errors_count: count(errors.len()),
            waived_count: count(waived.len()),
            passed_count: count(passed.len()),
            na_count: count(not_applicable.len()),
            failing: fragments::finding_articles(&failing),
            errors: fragments::finding_articles(&errors),
            waived: fragments::finding_articles(&waived),
            passed: fragments::finding_rows(&passed),
            not_applicable: fragments::finding_rows(&not_applicable),
        }
    }

    pub fn change(&self, root: &str, run: &Run, target: &str, c: &Change) -> ChangeView {
        ChangeView {
            id: self.ids.change(&run.run_id.0, target, &c.key),
            setting: text::clean(setting_name(&c.key)),
            setting_href: self.setting_href(root, target, &c.key),
            kind: match (&c.before, &c.after) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            },
            before: c.before.as_deref().map(Val::of),
            after: c.after.as_deref().map(Val::of),
            location: c.location.as_deref().map(text::clean),
            previous_location: c.previous_location.as_deref().map(text::clean),
            rollback: c.rollback.as_deref().map(text::clean),
        }
    }

    /// A row for the runs tables.
    pub fn run_row(&self, root: &str, run: &Run) -> RunRow {
        let (new, fixed) = compare::run_new_and_fixed(&self.index, run, self.older_than(run));
        let baselines: Vec<String> = run
            .policy_bundle
            .policies
            .iter()
            .map(|p| format!("{} v{}", text::clean(&p.name), text::clean(&p.version)))
            .collect();
        let failing: usize =
            run.targets.iter().flat_map(|t| t.findings.iter()).filter(|f| is_failing(f)).count();
        let ok = run.targets.iter().filter(|t| t.status == crate::run::TargetStatus::Ok).count();
        RunRow {
            id: text::clean(&run.run_id.0),
            href: self.run_href(root, &run.run_id.0),
            started: utc(run.started_at),
            duration: text::duration_ms((run.finished_at - run.started_at).num_milliseconds()),
            baselines: baselines.join(", "),
            targets: format!("{}/{}", count(ok), count(run.targets.len())),
            failing: count(failing),
            new: count(new),
            fixed: count(fixed),
            changes: count(run.targets.iter().map(|t| t.changes.len()).sum()),
            chain: self.chain_standing(run),
        }
    }

    /// `run`'s standing in the history's chain, in words, with its CSS class.
    pub fn chain_standing(&self, run: &Run) -> ChainStanding {
        let checked = self.integrity.is_some_and(|a| a.signatures_checked);
        let (class, word, detail) = match self.integrity.and_then(|a| a.runs.get(&run.run_id)) {
            None => ("", "not checked", String::new()),
            Some(RunAttestation::Linked { seq, signed_by }) => {
                let signed = match (signed_by, checked) {
                    (Some(key), true) => {
                        format!(", signed by key {} (signature checked)", text::clean(key))
                    }
                    (Some(key), false) => format!(", signed by key {}", text::clean(key)),
                    (None, _) => String::new(),
                };
                ("pass", "linked", format!("link {seq}, manifest unchanged{signed}"))
            }
            Some(RunAttestation::Changed { seq }) => (
                "fail",
                "CHANGED",
                format!("the manifest differs from what link {seq} of the chain vouches for"),
            ),
            Some(RunAttestation::Unlinked) => {
                ("error", "not linked", "the next audit links it".to_owned())
            }
        };
        ChainStanding { class, word, detail }
    }
}

/// A run's standing in the history's chain (see [`Site::chain_standing`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainStanding {
    /// `pass`, `error` (not linked yet), `fail`, or empty when not checked.
    pub class: &'static str,
    pub word: &'static str,
    pub detail: String,
}

/// A finding's references as the pages show them.
pub fn references(refs: &[Reference]) -> Vec<RefView> {
    refs.iter()
        .map(|r| RefView {
            control: r.control_id().as_deref().map(text::clean).unwrap_or_default(),
            title: text::clean(&r.title),
            href: web_address(r.url.as_deref()),
        })
        .collect()
}

/// The control ids of `refs`, comma-separated.
pub fn controls(refs: &[Reference]) -> String {
    let ids: Vec<String> = refs.iter().filter_map(Reference::control_id).collect();
    text::clean(&ids.join(", "))
}

/// Only `http(s)` addresses become links (the loader refuses others; a run read back
/// from the store is not trusted to have been written by it).
fn web_address(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .filter(|u| !u.contains(char::is_control))
        .map(str::to_owned)
}

/// Breadcrumb root link.
pub fn home(root: &str) -> Link {
    Link { href: format!("{root}index.html"), text: "Reports".to_owned() }
}
