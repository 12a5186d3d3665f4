//! `reports/index.html`: the verdict, counts with their change, what needs attention,
//! every target (failing first), the trend and the recent runs.

use serde::Serialize;

use super::chart;
use super::compare::{self, is_failing};
use super::site::Site;
use super::text::{self, Val, count, delta, utc};
use super::view::{Badge, Layout, RunRow, Sev, Trend};
use crate::finding::FindingStatus;
use crate::run::{Run, TargetRun, TargetStatus};

/// Rows in the recent runs table and bars in the trend.
pub const RECENT_RUNS: usize = 20;

#[derive(Debug, Serialize)]
pub struct IndexPage {
    pub layout: Layout,
    pub run_id: String,
    pub run_href: Option<String>,
    pub verdict: String,
    /// The policy packs the run chose.
    pub packs: String,
    pub tiles: Vec<Tile>,
    pub attention: Vec<AttentionRow>,
    pub targets: Vec<TargetRow>,
    /// Targets this run did not audit (another schedule or shard does), as the newest
    /// run that had them saw them.
    pub elsewhere: Vec<ElsewhereRow>,
    pub trend: Trend,
    pub runs: Vec<RunRow>,
    /// What the history's chain said of the recent runs (absent when not checked).
    pub integrity: Option<IntegritySummary>,
}

#[derive(Debug, Serialize)]
pub struct IntegritySummary {
    /// `pass`, `error` (runs not linked yet) or `fail`.
    pub class: &'static str,
    pub summary: String,
    pub breaks: Vec<String>,
}

fn integrity_summary(a: &crate::integrity::Attestation) -> IntegritySummary {
    use crate::integrity::RunAttestation::{Changed, Linked, Unlinked};
    let linked = a.runs.values().filter(|r| matches!(r, Linked { .. })).count();
    let changed = a.runs.values().filter(|r| matches!(r, Changed { .. })).count();
    let unlinked = a.runs.values().filter(|r| matches!(r, Unlinked)).count();
    let keys: Vec<String> = a.keys.iter().map(|k| text::clean(k)).collect();
    let signed = match (keys.is_empty(), a.signatures_checked) {
        (true, _) => "; links are not signed".to_owned(),
        (false, true) => format!("; signed by key {} (signatures checked)", keys.join(", ")),
        (false, false) => format!("; signed by key {}", keys.join(", ")),
    };
    let class = if changed > 0 || !a.breaks.is_empty() {
        "fail"
    } else if unlinked > 0 {
        "error"
    } else {
        "pass"
    };
    let mut summary = format!(
        "History chain, checked when this page was written: {} of {} recent runs linked with their manifests unchanged",
        count(linked),
        count(a.runs.len())
    );
    if changed > 0 {
        summary.push_str(&format!(", {} CHANGED after they were linked", count(changed)));
    }
    if unlinked > 0 {
        summary.push_str(&format!(", {} not linked yet", count(unlinked)));
    }
    summary.push_str(&format!(
        "; the newest {} links {}{signed}. `driftwatch verify` checks the whole history and every object it names.",
        count(a.links),
        if a.breaks.is_empty() { "are whole" } else { "have breaks" },
    ));
    IntegritySummary { class, summary, breaks: a.breaks.iter().map(|b| text::clean(b)).collect() }
}

#[derive(Debug, Serialize)]
pub struct Tile {
    pub badge: Badge,
    pub label: &'static str,
    pub count: String,
    pub delta: String,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct AttentionRow {
    pub sev: Sev,
    pub target: String,
    pub setting: String,
    pub expected: Val,
    pub observed: Val,
    pub was: Option<Val>,
    pub first_seen: String,
    pub href: String,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct TargetRow {
    pub name: String,
    pub href: String,
    pub kind: String,
    pub version: String,
    pub role: String,
    pub group: String,
    pub group_href: Option<String>,
    pub badge: Badge,
    /// `unreachable: connection refused` for targets not collected.
    pub note: String,
    pub failing: String,
    pub new: String,
    pub changes: String,
    pub last_change: String,
}

#[derive(Debug, Serialize)]
pub struct ElsewhereRow {
    pub name: String,
    pub kind: String,
    pub badge: Badge,
    pub failing: String,
    pub note: String,
    pub run: String,
    pub run_href: Option<String>,
    pub at: String,
}

/// Targets of the earlier runs that `run` does not have, each from the newest run
/// that has it (`older` is newest first).
fn elsewhere(site: &Site<'_>, run: &Run, older: &[&Run]) -> Vec<ElsewhereRow> {
    let in_run: std::collections::BTreeSet<&str> =
        run.targets.iter().map(|t| t.name.as_str()).collect();
    let mut seen: std::collections::BTreeMap<&str, (&Run, &TargetRun)> = Default::default();
    for r in older {
        for t in r.targets.iter().filter(|t| !in_run.contains(t.name.as_str())) {
            seen.entry(t.name.as_str()).or_insert((*r, t));
        }
    }
    seen.into_values()
        .map(|(r, t)| {
            let failing = t.findings.iter().filter(|f| is_failing(f)).count();
            let (badge, note) = match t.status {
                TargetStatus::Ok if failing > 0 => (Badge::FAIL, String::new()),
                TargetStatus::Ok => (Badge::PASS, String::new()),
                s => (Badge::ERROR, s.as_str().to_owned()),
            };
            ElsewhereRow {
                name: text::clean(&t.name),
                kind: t.kind.to_string(),
                badge,
                failing: count(failing),
                note,
                run: text::clean(&r.run_id.0),
                run_href: site.run_href("", &r.run_id.0),
                at: utc(t.collected_at),
            }
        })
        .collect()
}

/// Counts for the tiles: (fail, waived, waiver expired, finding errors, targets not
/// collected, pass).
fn counts<'a>(targets: impl IntoIterator<Item = &'a TargetRun>) -> [usize; 6] {
    let mut c = [0; 6];
    for t in targets {
        if t.status != TargetStatus::Ok {
            c[4] += 1;
        }
        for f in t.findings.iter() {
            match f.status {
                FindingStatus::Fail => {
                    c[0] += 1;
                    if f.waiver.as_ref().is_some_and(|w| w.expired) {
                        c[2] += 1;
                    }
                }
                FindingStatus::Waived => c[1] += 1,
                FindingStatus::Error => c[3] += 1,
                FindingStatus::Pass => c[5] += 1,
                FindingStatus::NotApplicable => {}
            }
        }
    }
    c
}

pub fn build(site: &Site<'_>) -> IndexPage {
    let run = site.run;
    let older = site.older_than(run);
    let now = counts(&run.targets);
    // Like with like: the same targets as their newest earlier run saw them (with
    // several schedules the previous run may hold other targets).
    let before = (!older.is_empty()).then(|| {
        counts(
            run.targets
                .iter()
                .filter_map(|t| older.iter().find_map(|r| site.index.target(r, &t.name))),
        )
    });
    let d = |i: usize| delta(now[i], before.map(|b| b[i]));
    let tile = |badge, label, value: usize, delta: String, note: String| Tile {
        badge,
        label,
        count: count(value),
        delta,
        note,
    };
    let errors_now = now[3] + now[4];
    let tiles = vec![
        tile(Badge::FAIL, "FAIL", now[0], d(0), String::new()),
        tile(Badge::WAIVED, "WAIVED", now[1], d(1), String::new()),
        tile(Badge::FAIL, "WAIVER EXPIRED", now[2], d(2), "included in FAIL".to_owned()),
        tile(
            Badge::ERROR,
            "ERROR",
            errors_now,
            delta(errors_now, before.map(|b| b[3] + b[4])),
            format!(
                "{} not evaluated, {} not collected",
                text::plural(now[3], "finding"),
                text::plural(now[4], "target")
            ),
        ),
        tile(Badge::PASS, "PASS", now[5], d(5), String::new()),
    ];

    let mut attention = Vec::new();
    let mut targets = Vec::new();
    let mut new_total = 0;
    let mut failing_targets = 0;
    for t in &run.targets {
        let prev = compare::previous_collection(&site.index, older, &t.name).map(|(_, pt)| pt);
        let new = compare::delta(prev, t).new_failures.len();
        new_total += new;
        let failing = t.findings.iter().filter(|f| is_failing(f)).count();
        failing_targets += usize::from(failing > 0);
        for f in t.findings.iter().filter(|f| is_failing(f)) {
            let v = site.finding("", run, t, f);
            attention.push((
                f.severity,
                AttentionRow {
                    sev: v.sev,
                    target: v.target,
                    setting: v.setting,
                    expected: v.expected,
                    observed: v.observed,
                    was: v.previous,
                    first_seen: v.first_seen.unwrap_or_default(),
                    href: site.finding_href("", run, &t.name, &f.rule),
                    id: v.id,
                },
            ));
        }
        let (badge, note) = match t.status {
            TargetStatus::Ok if failing > 0 => (Badge::FAIL, String::new()),
            TargetStatus::Ok => (Badge::PASS, String::new()),
            s => (
                Badge::ERROR,
                format!(
                    "{}: {}",
                    s.as_str(),
                    text::clean(t.error.as_deref().unwrap_or("no error message"))
                ),
            ),
        };
        let last_change = site
            .runs
            .iter()
            .find(|r| site.index.target(r, &t.name).is_some_and(|x| !x.changes.is_empty()))
            .map_or_else(|| "none seen".to_owned(), |r| utc(r.started_at));
        let detected = t.detected_role.map_or("not detected".to_owned(), |r| r.to_string());
        let sort_key =
            (failing == 0, t.status == TargetStatus::Ok, usize::MAX - failing, t.name.clone());
        targets.push((
            sort_key,
            TargetRow {
                name: text::clean(&t.name),
                href: site.ids.target_page(&t.name),
                kind: t.kind.to_string(),
                version: text::clean(t.server_version.as_deref().unwrap_or("unknown")),
                role: format!("{} / {detected}", t.role),
                group: text::clean(t.group.as_deref().unwrap_or("\u{2014}")),
                group_href: t.group.as_deref().and_then(|g| site.group_href("", g)),
                badge,
                note,
                failing: count(failing),
                new: count(new),
                changes: count(t.changes.len()),
                last_change,
            },
        ));
    }
    attention.sort_by(|(sa, a), (sb, b)| (sb, &a.id).cmp(&(sa, &b.id)));
    targets.sort_by(|(a, _), (b, _)| a.cmp(b));

    let baselines: Vec<String> = run
        .policy_bundle
        .policies
        .iter()
        .map(|p| format!("{} v{}", text::clean(&p.name), text::clean(&p.version)))
        .collect();
    let unreachable = now[4];
    let mut verdict = format!(
        "Run {}: {} failing on {} of {} targets, {} new since the previous run",
        text::clean(&run.run_id.0),
        count(now[0]),
        count(failing_targets),
        count(run.targets.len()),
        count(new_total),
    );
    if unreachable > 0 {
        verdict.push_str(&format!("; {} not collected", count(unreachable)));
    }
    if !baselines.is_empty() {
        verdict.push_str(&format!("; baselines {}", baselines.join(", ")));
    }
    verdict.push('.');

    let recent: Vec<&Run> = site.runs.iter().take(RECENT_RUNS).copied().collect();
    let failing_series: Vec<_> = recent
        .iter()
        .rev()
        .map(|r| {
            let failing =
                r.targets.iter().flat_map(|t| t.findings.iter()).filter(|f| is_failing(f));
            (r.started_at, failing.count())
        })
        .collect();
    let runs: Vec<RunRow> = recent.iter().map(|r| site.run_row("", r)).collect();
    let trend_rows: Vec<RunRow> = recent.iter().rev().map(|r| site.run_row("", r)).collect();

    IndexPage {
        layout: site.layout(
            "",
            format!("driftwatch report: {}", run.run_id),
            vec![],
            "Reports".to_owned(),
        ),
        run_id: text::clean(&run.run_id.0),
        run_href: site.run_href("", &run.run_id.0),
        verdict,
        packs: super::controls_page::packs_text(&run.policy_bundle.packs),
        tiles,
        attention: attention.into_iter().map(|(_, a)| a).collect(),
        targets: targets.into_iter().map(|(_, t)| t).collect(),
        elsewhere: elsewhere(site, run, older),
        trend: Trend {
            chart: chart::bars("Failing findings per run", &failing_series, 56),
            rows: trend_rows,
        },
        runs,
        integrity: site.integrity.map(integrity_summary),
    }
}
