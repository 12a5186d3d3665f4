//! HTML reports: tera templates from `report-templates/` (embedded in the binary),
//! rendered from plain data. Pure: no store, no clock, no I/O.
//!
//! [`render`] turns one run (plus earlier runs and the current snapshots) into pages:
//! `reports/index.html`, `reports/runs/<run>.html` for the run and the most recent
//! earlier ones (so every link in the folder resolves offline), and
//! `reports/targets/<target>.html` for each target of the run and
//! `reports/groups/<group>.html` for each replication group of the run. View models are built in
//! Rust (`view`, `*_page`), already formatted; templates only lay them out, with
//! autoescape on and nothing marked safe.

mod chart;
mod group_page;
mod history;
mod ids;
mod index_page;
mod run_page;
mod site;
mod target_page;
mod text;
mod timeline;
mod view;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod group_fixtures;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use tera::{Context, Tera};

pub use ids::slug;

use crate::run::Run;
use crate::snapshot::Snapshot;

/// Earlier runs that also get a page (the run itself counts as one).
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
}

/// One rendered file, its path relative to the publishing root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `reports/index.html`, `reports/runs/<run>.html`, `reports/targets/<target>.html`.
    pub path: String,
    pub html: String,
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
}

const TEMPLATES: [(&str, &str); 12] = [
    ("base.html", include_str!("../../report-templates/base.html")),
    ("_badge.html", include_str!("../../report-templates/_badge.html")),
    ("_value.html", include_str!("../../report-templates/_value.html")),
    ("_chart.html", include_str!("../../report-templates/_chart.html")),
    ("_change.html", include_str!("../../report-templates/_change.html")),
    ("_finding.html", include_str!("../../report-templates/_finding.html")),
    ("_findings.html", include_str!("../../report-templates/_findings.html")),
    ("_preflight.html", include_str!("../../report-templates/_preflight.html")),
    ("index.html", include_str!("../../report-templates/index.html")),
    ("run.html", include_str!("../../report-templates/run.html")),
    ("target.html", include_str!("../../report-templates/target.html")),
    ("group.html", include_str!("../../report-templates/group.html")),
];

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

    /// Every page for `input`, index first, then run pages newest first, then target
    /// pages by name, then group pages by name. The same input gives byte-identical pages.
    pub fn render(&self, input: &ReportInput<'_>) -> Result<Vec<Page>, ReportError> {
        let site = site::Site::new(input);
        let mut pages = vec![self.page(
            "reports/index.html".to_owned(),
            "index.html",
            &index_page::build(&site),
        )?];
        for run in site.runs.iter().take(MAX_RUN_PAGES) {
            let path = format!("reports/{}", site.ids.run_page(&run.run_id.0));
            pages.push(self.page(path, "run.html", &run_page::build(&site, run))?);
        }
        let mut targets: Vec<_> = input.run.targets.iter().collect();
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        for t in targets {
            let path = format!("reports/{}", site.ids.target_page(&t.name));
            pages.push(self.page(path, "target.html", &target_page::build(&site, t))?);
        }
        for g in &site.group_pages {
            let path = format!("reports/{}", site.ids.group_page(g));
            pages.push(self.page(path, "group.html", &group_page::build(&site, g))?);
        }
        Ok(pages)
    }

    fn page(
        &self,
        path: String,
        template: &'static str,
        view: &impl Serialize,
    ) -> Result<Page, ReportError> {
        let fail = |source| ReportError::Render { page: path.clone(), template, source };
        let context = Context::from_serialize(view).map_err(fail)?;
        let html = self.tera.render(template, &context).map_err(fail)?;
        Ok(Page { path, html })
    }
}

/// Render every page for `input` (builds a [`Renderer`] first; keep one to render often).
pub fn render(input: &ReportInput<'_>) -> Result<Vec<Page>, ReportError> {
    Renderer::new()?.render(input)
}
