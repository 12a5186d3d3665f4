//! `reports/runs/<run>.html`: the evidence for one run, what changed since the previous
//! one, and every finding in reading order.

use serde::Serialize;

use super::compare;
use super::fragments;
use super::ids::setting_name;
use super::site::{Site, home};
use super::splice::Html;
use super::text::{self, Val, count, utc};
use super::view::{Badge, FindingGroups, Layout, Link, Sev};
use crate::finding::{Finding, FindingStatus, Severity};
use crate::run::{Run, TargetRun, TargetStatus};

#[derive(Debug, Serialize)]
pub struct RunPage {
    pub layout: Layout,
    pub anchor: String,
    pub evidence: Evidence,
    pub matrix: Matrix,
    pub changes: Vec<TargetChanges>,
    pub findings: FindingGroups,
    pub uncollected: Vec<Uncollected>,
    /// Restart pre-flight findings of every target ("On the next restart"), as
    /// articles (HTML).
    pub preflight: Html,
    pub preflight_count: String,
    pub preflight_note: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Evidence {
    pub run_id: String,
    pub started: String,
    pub finished: String,
    pub duration: String,
    pub trigger: String,
    pub version: String,
    pub baselines: Vec<Baseline>,
    /// The policy packs the run chose.
    pub packs: String,
    pub bundle_digest: String,
    pub previous: Option<Link>,
    /// Shown when there is a previous run but no page for it.
    pub previous_text: String,
    /// The run's standing in the history's chain when this page was written.
    pub chain: super::site::ChainStanding,
}

#[derive(Debug, Serialize)]
pub struct Baseline {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub path: String,
    /// The file's pack; `—` for a file that always runs.
    pub pack: String,
}

#[derive(Debug, Serialize)]
pub struct Matrix {
    pub columns: Vec<Badge>,
    pub rows: Vec<MatrixRow>,
    pub totals: Vec<String>,
    pub total: String,
}

#[derive(Debug, Serialize)]
pub struct MatrixRow {
    pub sev: Sev,
    pub cells: Vec<String>,
    pub total: String,
}

#[derive(Debug, Serialize)]
pub struct TargetChanges {
    pub target: String,
    pub href: Option<String>,
    /// `compared with run R (2026-11-24 16:15:00 UTC)` or `first collection`.
    pub against: String,
    /// Set when the target was not collected in this run.
    pub uncollected: Option<String>,
    pub new_failures: Vec<DeltaRow>,
    pub resolved: Vec<DeltaRow>,
    pub waivers_added: Vec<DeltaRow>,
    pub waivers_expired: Vec<DeltaRow>,
    /// Table rows, already HTML ([`fragments::change_rows`]).
    pub changes: Html,
}

#[derive(Debug, Serialize)]
pub struct DeltaRow {
    pub rule: String,
    pub setting: String,
    pub href: Option<String>,
    pub sev: Sev,
    pub badge: Badge,
    pub observed: Val,
}

#[derive(Debug, Serialize)]
pub struct Uncollected {
    pub target: String,
    pub href: Option<String>,
    pub status: &'static str,
    pub address: String,
    pub error: String,
}

const ROOT: &str = "../";

pub fn build(site: &Site<'_>, run: &Run) -> RunPage {
    let older = site.older_than(run);
    let run_id = text::clean(&run.run_id.0);
    let previous_run = run
        .previous_run
        .as_ref()
        .map(|p| p.0.as_str())
        .or_else(|| older.first().map(|r| r.run_id.0.as_str()));
    let previous = previous_run
        .and_then(|p| site.run_href(ROOT, p).map(|href| Link { href, text: text::clean(p) }));
    let previous_text = match (previous_run, &previous) {
        (Some(p), None) => format!("{} (no page in this report)", text::clean(p)),
        (None, _) => "none: this is the first run".to_owned(),
        _ => String::new(),
    };
    let evidence = Evidence {
        run_id: run_id.clone(),
        started: utc(run.started_at),
        finished: utc(run.finished_at),
        duration: text::duration_ms((run.finished_at - run.started_at).num_milliseconds()),
        trigger: text::clean(&run.trigger),
        version: text::clean(&run.driftwatch_version),
        baselines: run
            .policy_bundle
            .policies
            .iter()
            .map(|p| Baseline {
                name: text::clean(&p.name),
                version: text::clean(&p.version),
                sha256: text::clean(&p.sha256),
                path: text::clean(&p.path),
                pack: text::clean(p.pack.as_deref().unwrap_or("\u{2014}")),
            })
            .collect(),
        packs: super::controls_page::packs_text(&run.policy_bundle.packs),
        bundle_digest: text::clean(&run.policy_bundle.digest),
        previous,
        previous_text,
        chain: site.chain_standing(run),
    };

    let targets: Vec<&TargetRun> = run.targets.iter().collect();
    let mut changes = Vec::new();
    for t in &run.targets {
        let prev = compare::previous_collection(&site.index, older, &t.name);
        let d = compare::delta(prev.map(|(_, pt)| pt), t);
        let uncollected = (t.status != TargetStatus::Ok).then(|| {
            format!(
                "{}: {}",
                t.status.as_str(),
                text::clean(t.error.as_deref().unwrap_or("no error message"))
            )
        });
        if d.is_empty() && t.changes.is_empty() && uncollected.is_none() {
            continue;
        }
        let row = |f: &Finding, now: Option<&Finding>| {
            let shown = now.unwrap_or(f);
            DeltaRow {
                rule: text::clean(&f.rule),
                setting: text::clean(setting_name(&f.key)),
                href: now.map(|n| format!("#{}", site.ids.finding(&t.name, &n.rule))),
                sev: Sev::of(f.severity),
                badge: now.map_or(Badge::NA, |n| Badge::of(n.status)),
                observed: Val::opt(shown.actual.as_deref()),
            }
        };
        changes.push(TargetChanges {
            target: text::clean(&t.name),
            href: site.target_href(ROOT, &t.name),
            against: prev.map_or_else(
                || "first collection in this history".to_owned(),
                |(r, _)| {
                    format!(
                        "compared with run {} ({})",
                        text::clean(&r.run_id.0),
                        utc(r.started_at)
                    )
                },
            ),
            uncollected,
            new_failures: d.new_failures.iter().map(|f| row(f, Some(f))).collect(),
            resolved: d.resolved.iter().map(|(f, now)| row(f, *now)).collect(),
            waivers_added: d.waivers_added.iter().map(|f| row(f, Some(f))).collect(),
            waivers_expired: d.waivers_expired.iter().map(|f| row(f, Some(f))).collect(),
            changes: fragments::change_rows(
                &t.changes.iter().map(|c| site.change(ROOT, run, &t.name, c)).collect::<Vec<_>>(),
            ),
        });
    }

    let uncollected = run
        .targets
        .iter()
        .filter(|t| t.status != TargetStatus::Ok)
        .map(|t| Uncollected {
            target: text::clean(&t.name),
            href: site.target_href(ROOT, &t.name),
            status: t.status.as_str(),
            address: text::clean(&t.address),
            error: text::clean(t.error.as_deref().unwrap_or("no error message")),
        })
        .collect();

    let preflight = site.preflights(ROOT, run, &targets);
    RunPage {
        layout: site.layout(
            ROOT,
            format!("Run {run_id}"),
            vec![home(ROOT)],
            format!("Run {run_id}"),
        ),
        anchor: site.ids.run_anchor(&run.run_id.0),
        evidence,
        matrix: matrix(&targets),
        changes,
        findings: site.groups(ROOT, run, &targets),
        preflight_count: count(preflight.len()),
        preflight: fragments::finding_articles(&preflight),
        preflight_note: "No pending configuration would break anything on the next restart.",
        uncollected,
    }
}

const STATUSES: [FindingStatus; 5] = [
    FindingStatus::Fail,
    FindingStatus::Error,
    FindingStatus::Waived,
    FindingStatus::Pass,
    FindingStatus::NotApplicable,
];

/// Status × severity counts, most severe first.
pub fn matrix(targets: &[&TargetRun]) -> Matrix {
    let mut cells = [[0usize; 5]; 5];
    for f in targets.iter().flat_map(|t| t.findings.iter()) {
        let row = Severity::DESCENDING.iter().position(|s| *s == f.severity).unwrap_or(4);
        let col = STATUSES.iter().position(|s| *s == f.status).unwrap_or(4);
        cells[row][col] += 1;
    }
    let rows = Severity::DESCENDING
        .iter()
        .zip(cells)
        .map(|(s, row)| MatrixRow {
            sev: Sev::of(*s),
            cells: row.iter().map(|n| count(*n)).collect(),
            total: count(row.iter().sum()),
        })
        .collect();
    let totals = (0..5).map(|c| count(cells.iter().map(|r| r[c]).sum())).collect();
    Matrix {
        columns: STATUSES.iter().map(|s| Badge::of(*s)).collect(),
        rows,
        totals,
        total: count(cells.iter().flatten().sum()),
    }
}
