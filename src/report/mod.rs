//! HTML reports: tera templates from `report-templates/` (embedded in the binary),
//! rendered from plain data. Pure: no store, no clock, no I/O.
//!
//! [`render`] turns one run (plus earlier runs, the current snapshots and what the
//! policies expect to differ between group members) into pages:
//! `reports/index.html`, `reports/controls.html` (the run's findings by benchmark
//! control), `reports/runs/<run>.html` for the run and the most recent
//! earlier ones (so every link in the folder resolves offline), and
//! `reports/targets/<target>.html` for each target of the run and
//! `reports/groups/<group>.html` for each replication group of the run. View models are built in
//! Rust (`view`, `*_page`), already formatted; templates only lay them out, with
//! autoescape on. The components that repeat by the thousand are marked safe:
//! settings inventory rows, finding articles and passed/not-applicable rows, change
//! rows and group timeline rows (`fragments`), written in Rust with the autoescape's
//! own rules because at fleet scale they are most of the HTML and, through tera's
//! values, most of the time and memory of rendering.
//!
//! [`ui`] holds the view models of `serve`'s web UI pages (findings, search, a
//! setting's timeline), rendered by [`Renderer::ui_page`] with the same templates'
//! base and escaping.

mod chart;
mod compare;
mod controls_page;
mod fragments;
mod group_page;
mod ids;
mod index_page;
mod run_page;
mod site;
mod splice;
mod target_page;
mod text;
mod timeline;
pub mod ui;
mod view;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod group_fixtures;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tera::{Context, Tera};

pub use ids::slug;
pub use timeline::is_event_key;

use crate::diff::ExpectedDifferences;
use crate::run::{Detail, Run, TargetRun};
use crate::snapshot::Snapshot;

/// How many runs, newest first and the run itself included, the pages link to. A run's
/// page is the record of that run: publishing writes it once (and any of these that is
/// missing) and leaves the pages of earlier runs as they were written.
pub const MAX_RUN_PAGES: usize = index_page::RECENT_RUNS;

/// Everything a report is made from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The run being published.
    pub run: &'a Run,
    /// Earlier runs, newest first (may be empty).
    pub history: &'a [Run],
    /// The current stable snapshot per target name; may lack unreachable targets.
    pub snapshots: &'a BTreeMap<String, Snapshot>,
    /// Settings the policies expect to differ between members of a group, with why
    /// (the group pages fold them below the drift).
    pub expected: &'a ExpectedDifferences,
}

/// One rendered file, its path relative to the publishing root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `reports/index.html`, `reports/runs/<run>.html`, `reports/targets/<target>.html`.
    pub path: String,
    pub html: String,
}

/// How the footer every page ends with starts (`base.html`): the time the page was
/// generated, the one part of a page that changes when nothing it shows does.
const GENERATED_AT: &str = "<footer>generated at ";

impl Page {
    /// The sha256 (hex) of what the page shows: its HTML but the generation time in its
    /// footer. Two renderings with the same digest differ at most in that time, so a
    /// publish leaves a page whose stored digest is the same as it was (it still says
    /// when it was generated, and that it shows the same as then).
    pub fn content_digest(&self) -> String {
        use sha2::Digest as _;
        let html = self.html.as_bytes();
        let mut hash = sha2::Sha256::new();
        let footer = self.html.rfind(GENERATED_AT).and_then(|start| {
            let end = self.html[start..].find("</footer>")? + start;
            Some((start, end))
        });
        match footer {
            Some((start, end)) => {
                hash.update(&html[..start + GENERATED_AT.len()]);
                hash.update(&html[end..]);
            }
            None => hash.update(html),
        }
        hex::encode(hash.finalize())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the embedded report templates do not load")]
    Templates(#[source] tera::Error),
    #[error("rendering {page} with {template} failed")]
    Render {
        page: String,
        template: &'static str,
        #[source]
        source: tera::Error,
    },
    #[error("rendering {page} with {template} failed")]
    Splice {
        page: String,
        template: &'static str,
        #[source]
        source: splice::SpliceError,
    },
    /// A page would show findings of a collection read as an outline
    /// ([`Detail::Outline`]): its text and values are not there.
    #[error("run {run}: target {target} was read as an outline, which a run page cannot show")]
    Outlined { run: String, target: String },
}

const TEMPLATES: [(&str, &str); 18] = [
    ("base.html", include_str!("../../report-templates/base.html")),
    ("_badge.html", include_str!("../../report-templates/_badge.html")),
    ("_value.html", include_str!("../../report-templates/_value.html")),
    ("_chain.html", include_str!("../../report-templates/_chain.html")),
    ("_chart.html", include_str!("../../report-templates/_chart.html")),
    ("_findings.html", include_str!("../../report-templates/_findings.html")),
    ("_preflight.html", include_str!("../../report-templates/_preflight.html")),
    ("index.html", include_str!("../../report-templates/index.html")),
    ("run.html", include_str!("../../report-templates/run.html")),
    ("target.html", include_str!("../../report-templates/target.html")),
    ("group.html", include_str!("../../report-templates/group.html")),
    ("controls.html", include_str!("../../report-templates/controls.html")),
    ("_nav.html", include_str!("../../report-templates/_nav.html")),
    ("_ui_style.html", include_str!("../../report-templates/_ui_style.html")),
    ("ui-findings.html", include_str!("../../report-templates/ui-findings.html")),
    ("ui-search.html", include_str!("../../report-templates/ui-search.html")),
    ("ui-setting.html", include_str!("../../report-templates/ui-setting.html")),
    ("ui-missing.html", include_str!("../../report-templates/ui-missing.html")),
];

/// The reports' input for which setting names each target's current snapshot holds:
/// links to a setting's row on a target page are made only when the page shows it.
/// The snapshots themselves are only needed by that target's own page
/// ([`Prepared::target_page`]) and its group's page ([`Prepared::group_page`]); the
/// audit, which drops snapshots as it goes, answers from the names it kept.
pub trait SettingIndex: Sync {
    fn has_setting(&self, target: &str, key: &str) -> bool;
}

impl SettingIndex for BTreeMap<String, Snapshot> {
    fn has_setting(&self, target: &str, key: &str) -> bool {
        self.get(target).is_some_and(|s| s.config.contains_key(key))
    }
}

/// The parsed templates, built once and reused for every render.
pub struct Renderer {
    tera: Tera,
}

impl Renderer {
    pub fn new() -> Result<Renderer, ReportError> {
        let mut tera = Tera::new();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates(TEMPLATES).map_err(ReportError::Templates)?;
        Ok(Renderer { tera })
    }

    /// Every page for `input`, index and controls first, then run pages newest first, then target
    /// pages by name, then group pages by name. The same input gives byte-identical pages.
    pub fn render(&self, input: &ReportInput<'_>) -> Result<Vec<Page>, ReportError> {
        let prepared = self
            .prepare(input.run, input.history, input.snapshots)
            .with_expected_differences(input.expected);
        let mut pages = vec![prepared.index_page()?, prepared.controls_page()?];
        for page in prepared.run_pages() {
            pages.push(page?);
        }
        for t in prepared.targets() {
            pages.push(prepared.target_page(t, input.snapshots.get(&t.name))?);
        }
        for (g, _) in prepared.groups() {
            pages.push(prepared.group_page(g, input.snapshots)?);
        }
        Ok(pages)
    }

    /// The shared part of a render (ids, which pages exist, each run's targets by
    /// name), built once; pages are then rendered one at a time, so a caller can write
    /// each and drop it, and read each target's snapshot only for its own page.
    /// Together the pages are those of [`Renderer::render`], byte for byte.
    pub fn prepare<'a>(
        &'a self,
        run: &'a Run,
        history: &'a [Run],
        settings: &'a dyn SettingIndex,
    ) -> Prepared<'a> {
        Prepared { renderer: self, site: site::Site::new(run, history, settings) }
    }

    /// A web UI page ([`ui`]): `template` is one of `ui-findings.html`,
    /// `ui-search.html`, `ui-setting.html`, `ui-missing.html`.
    pub fn ui_page(
        &self,
        template: &'static str,
        view: impl Serialize,
    ) -> Result<String, ReportError> {
        Ok(self.page(template.to_owned(), template, view)?.html)
    }

    /// Renders `view` with `template`. The view's fragments ([`splice::Html`]) go around
    /// tera, spliced into its output; the rest of the view is dropped once tera has its
    /// own copy (its context), before rendering.
    fn page(
        &self,
        path: String,
        template: &'static str,
        view: impl Serialize,
    ) -> Result<Page, ReportError> {
        let fail = |source| ReportError::Render { page: path.clone(), template, source };
        let (context, fragments) = splice::collect(|| Context::from_serialize(&view));
        let context = context.map_err(fail)?;
        drop(view);
        let html = self.tera.render(template, &context).map_err(fail)?;
        drop(context);
        let html = splice::splice(html, fragments).map_err(|source| ReportError::Splice {
            page: path.clone(),
            template,
            source,
        })?;
        Ok(Page { path, html })
    }
}

/// A render in progress (see [`Renderer::prepare`]).
pub struct Prepared<'a> {
    renderer: &'a Renderer,
    site: site::Site<'a>,
}

impl<'a> Prepared<'a> {
    /// The chain's word on the runs this render covers, shown on the run pages and
    /// the index.
    pub fn with_integrity(mut self, integrity: &'a crate::integrity::Attestation) -> Self {
        self.site.integrity = Some(integrity);
        self
    }

    /// What the policies expect to differ between group members, with why: the group
    /// pages show those differences folded, below the ones nobody expects.
    pub fn with_expected_differences(mut self, expected: &'a ExpectedDifferences) -> Self {
        self.site.expected = expected;
        self
    }

    /// `reports/index.html`.
    pub fn index_page(&self) -> Result<Page, ReportError> {
        let view = index_page::build(&self.site);
        self.renderer.page("reports/index.html".to_owned(), "index.html", view)
    }

    /// `reports/controls.html`: the run's benchmark controls, per benchmark and target.
    pub fn controls_page(&self) -> Result<Page, ReportError> {
        let view = controls_page::build(&self.site);
        self.renderer.page("reports/controls.html".to_owned(), "controls.html", view)
    }

    /// The run pages, newest first, each rendered when asked for.
    pub fn run_pages(&self) -> impl Iterator<Item = Result<Page, ReportError>> + Send + '_ {
        self.site.runs.iter().take(MAX_RUN_PAGES).map(|run| self.run_page(run))
    }

    /// The run pages the other pages link to that are not in `written` (paths below
    /// `reports/`, `runs/<run-id>.html`), newest first. The run's own page is always
    /// among them: an earlier page of the same run is written again.
    pub fn unwritten_run_pages<'s>(
        &'s self,
        written: &'s BTreeSet<String>,
    ) -> impl Iterator<Item = Result<Page, ReportError>> + Send + 's {
        self.site
            .runs
            .iter()
            .take(MAX_RUN_PAGES)
            .enumerate()
            .filter(|(i, run)| *i == 0 || !written.contains(&self.site.ids.run_page(&run.run_id.0)))
            .map(|(_, run)| self.run_page(run))
    }

    fn run_page(&self, run: &Run) -> Result<Page, ReportError> {
        if let Some(t) = run.targets.iter().find(|t| t.detail == Detail::Outline) {
            return Err(ReportError::Outlined {
                run: run.run_id.0.clone(),
                target: t.name.clone(),
            });
        }
        let path = format!("reports/{}", self.site.ids.run_page(&run.run_id.0));
        self.renderer.page(path, "run.html", run_page::build(&self.site, run))
    }

    /// The run's targets in page order (by name).
    pub fn targets(&self) -> Vec<&'a TargetRun> {
        let mut targets: Vec<&TargetRun> = self.site.run.targets.iter().collect();
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        targets
    }

    /// Where a target's page goes (`reports/targets/<target>.html`), without rendering it.
    pub fn target_page_path(&self, name: &str) -> String {
        format!("reports/{}", self.site.ids.target_page(name))
    }

    /// Where a group's page goes (`reports/groups/<group>.html`), without rendering it.
    pub fn group_page_path(&self, group: &str) -> String {
        format!("reports/{}", self.site.ids.group_page(group))
    }

    /// One target's page; `snapshot` is its current snapshot, when collected.
    pub fn target_page(
        &self,
        t: &TargetRun,
        snapshot: Option<&Snapshot>,
    ) -> Result<Page, ReportError> {
        let path = format!("reports/{}", self.site.ids.target_page(&t.name));
        self.renderer.page(path, "target.html", target_page::build(&self.site, t, snapshot))
    }

    /// The run's replication groups in page order (by name), each with its members
    /// (by name).
    pub fn groups(&self) -> Vec<(&'a str, Vec<&'a TargetRun>)> {
        self.site.members.iter().map(|(g, members)| (*g, members.clone())).collect()
    }

    /// One group's page; `snapshots` holds the current snapshots of its collected
    /// members (keyed by target name; others are ignored).
    pub fn group_page(
        &self,
        group: &str,
        snapshots: &BTreeMap<String, Snapshot>,
    ) -> Result<Page, ReportError> {
        let path = format!("reports/{}", self.site.ids.group_page(group));
        self.renderer.page(path, "group.html", group_page::build(&self.site, group, snapshots))
    }
}

/// Render every page for `input` (builds a [`Renderer`] first; keep one to render often).
pub fn render(input: &ReportInput<'_>) -> Result<Vec<Page>, ReportError> {
    Renderer::new()?.render(input)
}
