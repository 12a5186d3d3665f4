//! Publishing a committed run's reports: pages rendered and written one at a time, each
//! target's snapshot read back from the store for its own page only (and each group's
//! members' snapshots for the group page), so memory does not grow with the fleet (1,000 targets' pages are ~175 MB of HTML).

use std::collections::BTreeMap;

use futures::StreamExt as _;

use super::evaluate::SettingNames;
use super::{AuditError, REPORT_HISTORY};
use crate::report;
use crate::run::Run;
use crate::snapshot::Snapshot;
use crate::store::Store;

/// Snapshots read ahead of the page being rendered.
const READ_AHEAD: usize = 8;

/// Renders the reports for a committed run and writes them to the store.
pub(super) async fn publish_reports(
    store: &Store,
    run: &Run,
    settings: &SettingNames,
) -> Result<(), AuditError> {
    let history: Vec<Run> = store
        .recent_runs(REPORT_HISTORY + 1)
        .await?
        .into_iter()
        .filter(|r| r.run_id != run.run_id)
        .take(REPORT_HISTORY)
        .collect();
    let renderer = report::Renderer::new()?;
    let prepared = renderer.prepare(run, &history, settings);
    let mut pages = 0;
    let index = prepared.index_page()?;
    store.put_report(&index.path, &index.html).await?;
    pages += 1;
    for page in prepared.run_pages() {
        let page = page?;
        store.put_report(&page.path, &page.html).await?;
        pages += 1;
    }
    // Futures collected into a Vec (not a stream of closures) keep this future `Send`.
    let reads: Vec<_> = prepared
        .targets()
        .into_iter()
        .map(|t| async move {
            let snapshot = match &t.snapshot {
                Some(digest) => Some(store.get_snapshot(&t.name, digest).await?),
                None => None,
            };
            Ok::<_, AuditError>((t, snapshot))
        })
        .collect();
    let mut snapshots = futures::stream::iter(reads).buffered(READ_AHEAD);
    while let Some(next) = snapshots.next().await {
        let (t, snapshot) = next?;
        let page = prepared.target_page(t, snapshot.as_ref())?;
        store.put_report(&page.path, &page.html).await?;
        pages += 1;
    }
    // Group pages compare their members' settings: each group's member snapshots are
    // read back for its own page only.
    for (group, members) in prepared.groups() {
        let reads: Vec<_> = members
            .into_iter()
            .filter_map(|t| Some((t, t.snapshot.as_ref()?)))
            .map(|(t, digest)| async move {
                Ok::<_, AuditError>((t.name.clone(), store.get_snapshot(&t.name, digest).await?))
            })
            .collect();
        let snapshots: BTreeMap<String, Snapshot> = futures::stream::iter(reads)
            .buffered(READ_AHEAD)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let page = prepared.group_page(group, &snapshots)?;
        store.put_report(&page.path, &page.html).await?;
        pages += 1;
    }
    tracing::debug!(pages, "reports written");
    Ok(())
}
