//! `reports/targets/<target>.html`: one target's identity, its current findings (the
//! same articles and ids as the run page), its change timeline, a chart of failing
//! findings over runs, its connection headroom over runs (when the collector reads
//! connections) and the full settings inventory.

use serde::Serialize;

use super::chart;
use super::chart::Chart;
use super::compare::is_failing;
use super::fragments;
use super::index_page::RECENT_RUNS;
use super::site::{Site, home};
use super::splice::Html;
use super::text::{self, count, utc};
use super::view::{Badge, FindingGroups, Layout};
use crate::run::{TargetRun, TargetStatus};
use crate::snapshot::{IN_USE_KEY, LIMIT_KEY, Snapshot, USAGE_PCT_KEY};

#[derive(Debug, Serialize)]
pub struct TargetPage {
    pub layout: Layout,
    pub header: Header,
    /// False when this run could not collect the target: it has no findings then.
    pub collected: bool,
    pub findings: FindingGroups,
    /// Pre-flight findings on this target, and those its own restart causes elsewhere,
    /// as articles (HTML).
    pub preflight: Html,
    pub preflight_count: String,
    pub preflight_note: &'static str,
    pub timeline: Vec<TimelineEntry>,
    pub chart: Chart,
    /// The numbers behind the chart, oldest first.
    pub history: Vec<HistoryRow>,
    /// In use against the usable limit, over the runs the report covers; absent when no
    /// run read the target's connections.
    pub connections: Option<Headroom>,
    pub inventory: Option<Inventory>,
    /// Why there is no inventory.
    pub inventory_note: String,
}

#[derive(Debug, Serialize)]
pub struct Header {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub address: String,
    pub role: String,
    pub detected_role: String,
    pub group: String,
    pub group_href: Option<String>,
    pub labels: Vec<Pair>,
    pub last_run: String,
    pub last_run_href: Option<String>,
    pub collected_at: String,
    pub badge: Badge,
    pub status_note: String,
    pub baselines: String,
    pub snapshot: String,
}

#[derive(Debug, Serialize)]
pub struct Pair {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    pub run: String,
    pub href: Option<String>,
    pub at: String,
    /// Table rows, already HTML ([`fragments::change_rows`]).
    pub changes: Html,
}

#[derive(Debug, Serialize)]
pub struct HistoryRow {
    pub run: String,
    pub href: Option<String>,
    pub started: String,
    pub status: String,
    pub failing: String,
}

/// Connection headroom: the latest reading in words, and usage (% of the usable limit)
/// per run as a chart and as numbers.
#[derive(Debug, Serialize)]
pub struct Headroom {
    /// `8 of 97 in use (8.2%), 89 free`.
    pub now: String,
    pub chart: Chart,
    pub rows: Vec<HeadroomRow>,
}

#[derive(Debug, Serialize)]
pub struct HeadroomRow {
    pub run: String,
    pub href: Option<String>,
    pub in_use: String,
    pub limit: String,
    pub usage: String,
}

#[derive(Debug, Serialize)]
pub struct Inventory {
    pub count: String,
    /// The rows, already HTML ([`fragments::inventory_rows`]: every value escaped).
    pub rows_html: Html,
}

const ROOT: &str = "../";

pub fn build(site: &Site<'_>, t: &TargetRun, snapshot: Option<&Snapshot>) -> TargetPage {
    let run = site.run;
    let name = text::clean(&t.name);
    let failing = t.findings.iter().filter(|f| is_failing(f)).count();
    let (badge, status_note) = match t.status {
        TargetStatus::Ok if failing > 0 => (Badge::FAIL, format!("{} failing", count(failing))),
        TargetStatus::Ok => (Badge::PASS, "no failing findings".to_owned()),
        s => (
            Badge::ERROR,
            format!(
                "{}: {}",
                s.as_str(),
                text::clean(t.error.as_deref().unwrap_or("no error message"))
            ),
        ),
    };
    let mut baselines: Vec<String> = t.findings.iter().map(|f| text::clean(&f.policy)).collect();
    baselines.sort();
    baselines.dedup();
    let header = Header {
        name: name.clone(),
        kind: t.kind.to_string(),
        version: text::clean(t.server_version.as_deref().unwrap_or("unknown")),
        address: text::clean(&t.address),
        role: t.role.to_string(),
        detected_role: t.detected_role.map_or("not detected".to_owned(), |r| r.to_string()),
        group: text::clean(t.group.as_deref().unwrap_or("\u{2014}")),
        group_href: t.group.as_deref().and_then(|g| site.group_href(ROOT, g)),
        labels: t
            .labels
            .iter()
            .map(|(k, v)| Pair { key: text::clean(k), value: text::clean(v) })
            .collect(),
        last_run: text::clean(&run.run_id.0),
        last_run_href: site.run_href(ROOT, &run.run_id.0),
        collected_at: utc(t.collected_at),
        badge,
        status_note,
        baselines: if baselines.is_empty() { "\u{2014}".to_owned() } else { baselines.join(", ") },
        snapshot: t.snapshot.as_ref().map_or("\u{2014}".to_owned(), |d| d.short().to_owned()),
    };

    let timeline = site
        .runs
        .iter()
        .filter_map(|r| {
            let rt = site.index.target(r, &t.name).filter(|rt| !rt.changes.is_empty())?;
            Some(TimelineEntry {
                run: text::clean(&r.run_id.0),
                href: site.run_href(ROOT, &r.run_id.0),
                at: utc(rt.collected_at),
                changes: fragments::change_rows(
                    &rt.changes
                        .iter()
                        .map(|c| site.change(ROOT, r, &t.name, c))
                        .collect::<Vec<_>>(),
                ),
            })
        })
        .collect();

    let recent: Vec<_> = site.runs.iter().take(RECENT_RUNS).rev().collect();
    let failing_in = |rt: Option<&TargetRun>| {
        rt.map_or(0, |x| x.findings.iter().filter(|f| is_failing(f)).count())
    };
    let series: Vec<_> =
        recent.iter().map(|r| (r.started_at, failing_in(site.index.target(r, &t.name)))).collect();
    let history = recent
        .iter()
        .map(|r| {
            let rt = site.index.target(r, &t.name);
            HistoryRow {
                run: text::clean(&r.run_id.0),
                href: site.run_href(ROOT, &r.run_id.0),
                started: utc(r.started_at),
                status: rt.map_or("not in this run", |x| x.status.as_str()).to_owned(),
                failing: count(failing_in(rt)),
            }
        })
        .collect();

    let connections = headroom(site, &recent, t);

    let inventory = snapshot.map(|s| Inventory {
        count: count(s.config.len()),
        rows_html: fragments::inventory_rows(&site.ids, &t.name, s),
    });
    let inventory_note = if inventory.is_some() {
        String::new()
    } else {
        "No snapshot of this target is available (it has not been collected).".to_owned()
    };

    // Its own pre-flight findings, and what its restart would break on other members.
    let mut preflight = site.preflights(ROOT, run, &[t]);
    preflight.extend(site.preflights_restarting(ROOT, run, &t.name));
    TargetPage {
        preflight_count: count(preflight.len()),
        preflight: fragments::finding_articles(&preflight),
        preflight_note: "No pending configuration of this target, or of its primary, would break anything here on the next restart.",
        layout: site.layout(
            ROOT,
            format!("Target {name}"),
            vec![home(ROOT)],
            format!("Target {name}"),
        ),
        header,
        collected: t.status == TargetStatus::Ok,
        findings: site.groups(ROOT, run, &[t]),
        timeline,
        chart: chart::bars("Failing findings on this target per run", &series, 42),
        history,
        connections,
        inventory,
        inventory_note,
    }
}

/// The target's connections over `recent` (oldest first): `None` when no run read them.
fn headroom(site: &Site<'_>, recent: &[&&crate::run::Run], t: &TargetRun) -> Option<Headroom> {
    let reading = |rt: Option<&TargetRun>, key: &str| {
        rt.and_then(|x| x.state.get(key)).and_then(|e| e.value.trim().parse::<f64>().ok())
    };
    let mut rows = Vec::new();
    let mut usage = Vec::new();
    for r in recent {
        let rt = site.index.target(r, &t.name);
        let pct = reading(rt, USAGE_PCT_KEY);
        usage.push((r.started_at, pct));
        let shown = |v: Option<f64>| v.map_or("\u{2014}".to_owned(), |v| v.to_string());
        rows.push(HeadroomRow {
            run: text::clean(&r.run_id.0),
            href: site.run_href(ROOT, &r.run_id.0),
            in_use: shown(reading(rt, IN_USE_KEY)),
            limit: shown(reading(rt, LIMIT_KEY)),
            usage: pct.map_or("\u{2014}".to_owned(), |p| format!("{p}%")),
        });
    }
    if usage.iter().all(|(_, pct)| pct.is_none()) {
        return None;
    }
    let now = match (reading(Some(t), IN_USE_KEY), reading(Some(t), LIMIT_KEY)) {
        (Some(in_use), Some(limit)) => {
            let pct = reading(Some(t), USAGE_PCT_KEY).map_or(String::new(), |p| format!(" ({p}%)"));
            format!("{in_use} of {limit} in use{pct}, {} free", (limit - in_use).max(0.0))
        }
        _ => "not read in this run".to_owned(),
    };
    let chart =
        chart::percent_bars("Connections in use, % of the usable limit, per run", &usage, 42);
    Some(Headroom { now, chart, rows })
}
