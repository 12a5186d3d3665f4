//! Publishing a committed run's reports, leaves first, so a page that exists never
//! links to a page not yet written: run pages, then the target and group pages that
//! did not exist yet, then those that did (rewritten), and `index.html` last. Every
//! page is written whole (atomically). New pages are unreachable from the old index
//! until an existing page or the new index links to them, by which time they are
//! there; a publish cut short (a kill, a full disk) leaves the old index and pages it
//! reaches whole, and the next run writes what is missing. Target and group pages go
//! in batches ([`batches`]), each batch's snapshots read back from the store for its own
//! pages only and a few batches in flight at a time, so memory does not grow with the
//! fleet (1,000 targets' pages are ~150 MB of HTML); a batch with both new and existing
//! pages is rendered twice, once for each.
//!
//! A run's page is the record of that run: it is written when the run is published,
//! and the pages of earlier runs are left as written (each is ~9.5 MB at 1,000
//! targets; writing the 20 the reports link to on every audit was most of a large
//! audit). Only a recent run whose page is missing gets one. `gc`, which removes run
//! pages, publishes again ([`republish`]) so that no page links to one it removed.

use std::collections::BTreeSet;

use futures::StreamExt as _;

use super::batches;
use super::evaluate::SettingNames;
use super::{AuditError, REPORT_HISTORY};
use crate::diff::ExpectedDifferences;
use crate::report::{self, MAX_RUN_PAGES, Page};
use crate::run::{Run, RunId};
use crate::store::{ManifestsRead, PageDigests, Store, Written};

/// Snapshots read at a time.
const READ_AHEAD: usize = 8;

/// Which run pages a publish writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunPages {
    /// The run's own, and any recent run's that is missing (an audit).
    Unwritten,
    /// Every recent run's (after `gc`, whose removals change their links).
    All,
}

/// Renders the reports for a committed run and writes them to the store. `expected`:
/// what the policies expect to differ between group members (the group pages fold it).
pub(super) async fn publish_reports(
    store: &Store,
    run: &Run,
    settings: &SettingNames,
    expected: &ExpectedDifferences,
    run_pages: RunPages,
    public_key: Option<&crate::integrity::PublicKey>,
) -> Result<(), AuditError> {
    let clock = std::time::Instant::now();
    let requests_before = store.requests();
    // One listing of `reports/`: what is there, and which pages hold what this store
    // last wrote (a page rendered the same is not written again).
    let digests = store.page_digests().await?;
    let written = match run_pages {
        RunPages::Unwritten => digests.in_folder("runs"),
        RunPages::All => BTreeSet::new(),
    };
    // Earlier runs only compared with need outlines of their findings, unless one of
    // them is about to get its page.
    // One listing of `runs/` (it grows with the history), after the commit: the pages
    // show the runs other instances committed meanwhile (the other shards' runs of the
    // same slot), and not a run `gc` removed during the audit.
    let committed = store.list_runs().await?;
    let older_pages_written = run_pages == RunPages::Unwritten
        && committed
            .iter()
            .rev()
            .filter(|id| **id != run.run_id)
            .take(MAX_RUN_PAGES - 1)
            .all(|id| written.contains(&format!("runs/{id}.html")));
    // The manifests as read here are what the chain's attestation below checks.
    let mut read = ManifestsRead::default();
    let history: Vec<Run> = if older_pages_written {
        store
            .runs_outlined(&committed, REPORT_HISTORY, &run.run_id, report::is_event_key, &mut read)
            .await?
    } else {
        store
            .runs_noting(&committed, REPORT_HISTORY + 1, &mut read)
            .await?
            .into_iter()
            .filter(|r| r.run_id != run.run_id)
            .take(REPORT_HISTORY)
            .collect()
    };
    let lap = |since: &mut std::time::Duration| {
        let now = clock.elapsed();
        let ms = (now - *since).as_millis() as u64;
        *since = now;
        ms
    };
    let mut since = std::time::Duration::ZERO;
    let history_ms = lap(&mut since);
    // What the chain says of the runs on the pages (`None`: the chain could not be
    // read, which the pages then say: "not checked").
    let covered: Vec<RunId> = std::iter::once(run)
        .chain(&history)
        .take(MAX_RUN_PAGES)
        .map(|r| r.run_id.clone())
        .collect();
    let attestation = match store.attest_read(&covered, public_key, &read).await {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the history chain for the reports");
            None
        }
    };
    let integrity_ms = lap(&mut since);
    let renderer = report::Renderer::new()?;
    let mut prepared =
        renderer.prepare(run, &history, settings).with_expected_differences(expected);
    if let Some(a) = &attestation {
        prepared = prepared.with_integrity(a);
    }
    let mut pages = Pages::default();
    for page in prepared.unwritten_run_pages(&written) {
        let page = page?;
        pages.add(write_page(store, &digests, page).await?);
    }
    let run_pages_ms = lap(&mut since);
    // Target and group pages, in batches (a group's members and its page share snapshots,
    // read and parsed once): the new ones, then the existing ones.
    let all = batches::of(&prepared);
    let paths: Vec<Vec<String>> = all.iter().map(|u| u.page_paths(&prepared)).collect();
    let is_new = |path: &str| !digests.exists(path);
    let with = |new: bool| -> Vec<&batches::Batch<'_>> {
        all.iter()
            .zip(&paths)
            .filter(|(_, p)| p.iter().any(|p| is_new(p) == new))
            .map(|(u, _)| u)
            .collect()
    };
    pages += batches::publish(store, &digests, &prepared, &with(true), &is_new).await?;
    pages += batches::publish(store, &digests, &prepared, &with(false), &|p| !is_new(p)).await?;
    let target_and_group_pages_ms = lap(&mut since);
    let controls = prepared.controls_page()?;
    pages.add(write_page(store, &digests, controls).await?);
    let index = prepared.index_page()?;
    pages.add(write_page(store, &digests, index).await?);
    // After the index: a publish cut before this leaves pages whose tags the old
    // record does not know, and the next publish writes them.
    store.save_page_digests(digests).await?;
    let index_ms = lap(&mut since);
    let r = store.requests().since(&requests_before);
    tracing::debug!(
        pages = pages.written,
        pages_unchanged = pages.unchanged,
        gets = r.gets,
        puts = r.puts,
        heads = r.heads,
        bytes_read = r.bytes_read,
        bytes_written = r.bytes_written,
        history_ms,
        integrity_ms,
        index_ms,
        run_pages_ms,
        target_and_group_pages_ms,
        "reports written"
    );
    Ok(())
}

/// Writes a page unless the store already holds what it shows
/// ([`crate::report::Page::content_digest`]).
pub(super) async fn write_page(
    store: &Store,
    digests: &PageDigests,
    page: Page,
) -> Result<Written, crate::store::StoreError> {
    let digest = page.content_digest();
    store.put_page(digests, &page.path, page.html, digest).await
}

/// How many pages a publish wrote, and how many it left as they were (rendered the
/// same as what the store holds).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Pages {
    pub written: usize,
    pub unchanged: usize,
}

impl Pages {
    pub(super) fn add(&mut self, w: Written) {
        match w {
            Written::New => self.written += 1,
            Written::AlreadyThere => self.unchanged += 1,
        }
    }
}

impl std::ops::AddAssign for Pages {
    fn add_assign(&mut self, other: Pages) {
        self.written += other.written;
        self.unchanged += other.unchanged;
    }
}

/// Publishes the reports of the newest run again, every recent run's page included,
/// and the page of the oldest run left when it is older than those: what `gc` does
/// after removing runs, so that no page links to a run page it removed. Returns the
/// newest run's id, or `None` for a store without runs. `expected` as for an audit
/// (`PolicySet::expected_differences`).
pub async fn republish(
    store: &Store,
    expected: &ExpectedDifferences,
    public_key: Option<&crate::integrity::PublicKey>,
) -> Result<Option<RunId>, AuditError> {
    let ids = store.list_runs().await?;
    let Some(newest) = ids.last() else { return Ok(None) };
    let run = store.get_run(newest).await?;
    let mut settings = SettingNames::default();
    let reads: Vec<_> = run
        .targets
        .iter()
        .filter_map(|t| Some((t, t.snapshot.as_ref()?)))
        .map(|(t, digest)| async move {
            Ok::<_, AuditError>((t, store.get_snapshot(&t.name, digest).await?))
        })
        .collect();
    let mut snapshots = futures::stream::iter(reads).buffered(READ_AHEAD);
    while let Some(next) = snapshots.next().await {
        let (t, snapshot) = next?;
        settings.insert(&t.name, &snapshot);
    }
    publish_reports(store, &run, &settings, expected, RunPages::All, public_key).await?;
    if ids.len() > MAX_RUN_PAGES {
        // Its "previous run" may be a run gc removed; alone, it links to no earlier run.
        let oldest = store.get_run(&ids[0]).await?;
        let renderer = report::Renderer::new()?;
        let attestation = store.attest(std::slice::from_ref(&oldest.run_id), public_key).await?;
        let prepared = renderer.prepare(&oldest, &[], &settings).with_integrity(&attestation);
        if let Some(page) = prepared.run_pages().next() {
            let page = page?;
            store.put_report(&page.path, page.html).await?;
        }
    }
    Ok(Some(run.run_id))
}

/// The reports ask which settings a target has through their own input type.
impl report::SettingIndex for SettingNames {
    fn has_setting(&self, target: &str, key: &str) -> bool {
        self.has(target, key)
    }
}
