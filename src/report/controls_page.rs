//! `reports/controls.html`: the run's findings seen through the benchmark controls their
//! rules cite. Per benchmark, per target, each control's standing: the worst of the
//! findings that cite it (fail, then error, waived, pass, not applicable), with links
//! to those findings. A control that only errors or does not apply cannot be judged.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::ids::slug;
use super::site::{Site, home};
use super::text::{self, count};
use super::view::{Badge, Layout, Link};
use crate::finding::{Finding, FindingStatus};
use crate::run::{TargetRun, TargetStatus};

#[derive(Debug, Serialize)]
pub struct ControlsPage {
    pub layout: Layout,
    pub run_id: String,
    pub run_href: Option<String>,
    pub packs: String,
    pub benchmarks: Vec<BenchmarkView>,
}

#[derive(Debug, Serialize)]
pub struct BenchmarkView {
    pub id: String,
    pub name: String,
    pub controls: String,
    pub targets: Vec<TargetControls>,
}

#[derive(Debug, Serialize)]
pub struct TargetControls {
    pub id: String,
    pub target: String,
    pub href: Option<String>,
    pub pass: String,
    pub fail: String,
    pub waived: String,
    pub unjudged: String,
    /// Open when a control fails or cannot be judged.
    pub open: bool,
    /// `unreachable: connection refused` for a target this run could not collect.
    pub note: String,
    pub rows: Vec<ControlRow>,
}

#[derive(Debug, Serialize)]
pub struct ControlRow {
    pub control: String,
    pub title: String,
    pub badge: Badge,
    /// The findings that cite the control, linked to their articles.
    pub rules: Vec<Link>,
}

/// Worst first: what a control shows when several findings cite it.
fn rank(s: FindingStatus) -> u8 {
    match s {
        FindingStatus::Fail => 0,
        FindingStatus::Error => 1,
        FindingStatus::Waived => 2,
        FindingStatus::Pass => 3,
        FindingStatus::NotApplicable => 4,
    }
}

/// `3.1.2` before `3.1.20`: numeric parts compare as numbers.
fn control_order(id: &str) -> Vec<(u64, String)> {
    id.split(['.', '-']).map(|part| (part.parse().unwrap_or(u64::MAX), part.to_owned())).collect()
}

/// One target's findings that cite `benchmark`, by control: (title, findings).
fn cited<'f>(
    benchmark: &str,
    findings: &'f [Finding],
) -> BTreeMap<String, (String, Vec<&'f Finding>)> {
    let mut by_control: BTreeMap<String, (String, Vec<&Finding>)> = BTreeMap::new();
    for f in findings {
        for r in f.references.iter().filter(|r| r.benchmark.as_deref() == Some(benchmark)) {
            let Some(control) = &r.control else { continue };
            let entry =
                by_control.entry(control.clone()).or_insert_with(|| (r.title.clone(), vec![]));
            if !entry.1.iter().any(|g| g.rule == f.rule) {
                entry.1.push(f);
            }
        }
    }
    by_control
}

pub fn build(site: &Site<'_>) -> ControlsPage {
    let run = site.run;
    let mut targets: Vec<&TargetRun> = run.targets.iter().collect();
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    // Every benchmark cited, with the kinds of target whose findings cite it (a target
    // not collected stands under the benchmarks of its kind).
    let mut benchmarks: BTreeMap<&str, BTreeSet<crate::snapshot::Kind>> = BTreeMap::new();
    for t in &targets {
        for f in t.findings.iter() {
            for b in f.references.iter().filter_map(|r| r.benchmark.as_deref()) {
                benchmarks.entry(b).or_default().insert(t.kind);
            }
        }
    }
    let benchmarks = benchmarks
        .into_iter()
        .map(|(name, kinds)| {
            let id = format!("k-{}", slug(name));
            let mut all_controls = BTreeSet::new();
            let mut views = Vec::new();
            for t in targets.iter().filter(|t| kinds.contains(&t.kind)) {
                let by_control = cited(name, &t.findings);
                all_controls.extend(by_control.keys().cloned());
                if by_control.is_empty() && t.status == TargetStatus::Ok {
                    continue;
                }
                let mut rows: Vec<(Vec<(u64, String)>, ControlRow)> = by_control
                    .into_iter()
                    .map(|(control, (title, findings))| {
                        let worst = findings
                            .iter()
                            .map(|f| f.status)
                            .min_by_key(|s| rank(*s))
                            .unwrap_or(FindingStatus::NotApplicable);
                        let rules = findings
                            .iter()
                            .map(|f| Link {
                                href: site.finding_href("", run, &t.name, &f.rule),
                                text: text::clean(&f.rule),
                            })
                            .collect();
                        let row = ControlRow {
                            control: text::clean(&control),
                            title: text::clean(&title),
                            badge: Badge::of(worst),
                            rules,
                        };
                        (control_order(&control), row)
                    })
                    .collect();
                rows.sort_by(|a, b| a.0.cmp(&b.0));
                let rows: Vec<ControlRow> = rows.into_iter().map(|(_, r)| r).collect();
                let n = |b: &[Badge]| rows.iter().filter(|r| b.contains(&r.badge)).count();
                let unjudged = n(&[Badge::ERROR, Badge::NA]);
                let fail = n(&[Badge::FAIL]);
                let note = (t.status != TargetStatus::Ok).then(|| {
                    format!(
                        "{}: {}; its controls cannot be judged",
                        t.status.as_str(),
                        text::clean(t.error.as_deref().unwrap_or("no error message"))
                    )
                });
                views.push(TargetControls {
                    id: format!("{id}-{}", site.ids.target(&t.name)),
                    target: text::clean(&t.name),
                    href: site.target_href("", &t.name),
                    pass: count(n(&[Badge::PASS])),
                    fail: count(fail),
                    waived: count(n(&[Badge::WAIVED])),
                    unjudged: count(unjudged),
                    open: fail + unjudged > 0,
                    note: note.unwrap_or_default(),
                    rows,
                });
            }
            // A target not collected: every control of the benchmark is unjudged.
            for v in views.iter_mut().filter(|v| !v.note.is_empty() && v.rows.is_empty()) {
                v.unjudged = count(all_controls.len());
                v.open = true;
            }
            BenchmarkView {
                id,
                name: text::clean(name),
                controls: count(all_controls.len()),
                targets: views,
            }
        })
        .collect();
    let packs = &run.policy_bundle.packs;
    ControlsPage {
        layout: site.layout(
            "",
            format!("Controls: run {}", run.run_id),
            vec![home("")],
            "Controls".to_owned(),
        ),
        run_id: text::clean(&run.run_id.0),
        run_href: site.run_href("", &run.run_id.0),
        packs: packs_text(packs),
        benchmarks,
    }
}

/// `replication, connections`, or what an empty list means.
pub fn packs_text(packs: &[String]) -> String {
    if packs.is_empty() {
        "not recorded (every policy file ran)".to_owned()
    } else {
        text::clean(&packs.join(", "))
    }
}
