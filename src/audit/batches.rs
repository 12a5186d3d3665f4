//! Target and group pages rendered in batches: a target outside any group, or a group's
//! members with the group page. A batch's snapshots are read once and serve all of its
//! pages; batches are rendered on every core (rendering is CPU-bound and, once collection
//! is over, the only work left) while the runtime reads and writes around them. The
//! caller says which of a batch's pages to write (`publish`'s `write`), so new pages
//! can go out before the existing pages that will link to them.

use std::collections::BTreeMap;

use futures::{StreamExt as _, TryStreamExt as _};

use super::AuditError;
use super::publish::{Pages, write_page};
use crate::report::{Page, Prepared, ReportError};
use crate::run::TargetRun;
use crate::snapshot::Snapshot;
use crate::store::{PageDigests, Store};

/// More threads than this buys little and holds more pages at once.
const MAX_RENDER_THREADS: usize = 4;

pub(super) enum Batch<'a> {
    Target(&'a TargetRun),
    Group(&'a str, Vec<&'a TargetRun>),
}

/// The run's batches: each group (by name), then each target outside a group (by name).
pub(super) fn of<'a>(prepared: &Prepared<'a>) -> Vec<Batch<'a>> {
    let mut batches: Vec<Batch<'a>> =
        prepared.groups().into_iter().map(|(g, members)| Batch::Group(g, members)).collect();
    batches.extend(prepared.targets().into_iter().filter(|t| t.group.is_none()).map(Batch::Target));
    batches
}

impl Batch<'_> {
    /// The paths of the batch's pages: its members', then its group's.
    pub(super) fn page_paths(&self, prepared: &Prepared<'_>) -> Vec<String> {
        let mut paths: Vec<String> =
            self.members().iter().map(|t| prepared.target_page_path(&t.name)).collect();
        if let Batch::Group(group, _) = self {
            paths.push(prepared.group_page_path(group));
        }
        paths
    }

    fn members(&self) -> &[&TargetRun] {
        match self {
            Batch::Target(t) => std::slice::from_ref(t),
            Batch::Group(_, members) => members,
        }
    }

    /// The current snapshots of the batch's collected members, by target name.
    pub(super) async fn read(
        &self,
        store: &Store,
    ) -> Result<BTreeMap<String, Snapshot>, AuditError> {
        let mut snapshots = BTreeMap::new();
        for t in self.members() {
            if let Some(digest) = &t.snapshot {
                snapshots.insert(t.name.clone(), store.get_snapshot(&t.name, digest).await?);
            }
        }
        Ok(snapshots)
    }

    fn render(
        &self,
        prepared: &Prepared<'_>,
        snapshots: &BTreeMap<String, Snapshot>,
    ) -> Result<Vec<Page>, ReportError> {
        let mut pages = Vec::with_capacity(self.members().len() + 1);
        for t in self.members() {
            pages.push(prepared.target_page(t, snapshots.get(&t.name))?);
        }
        if let Batch::Group(group, _) = self {
            pages.push(prepared.group_page(group, snapshots)?);
        }
        Ok(pages)
    }
}

/// Renders every page of `batches` and writes those `write` accepts (by path) to the
/// store (unless one is already there as rendered, [`Store::put_page`]); returns how
/// many it wrote and left.
///
/// On a multi-thread runtime this is a pipeline: the runtime reads snapshots ahead and
/// writes finished pages while up to [`MAX_RENDER_THREADS`] threads render, so neither
/// the disk nor the cores wait for the other (a batch-at-a-time loop kept two cores
/// about half busy). What is held at once stays bounded by the channels: [`AHEAD`]
/// batches read and waiting, [`AHEAD`] batches rendered and waiting, [`WRITES_AHEAD`]
/// pages being written. On a current-thread runtime (tests) it all stays on the one
/// thread, a batch at a time.
pub(super) async fn publish(
    store: &Store,
    digests: &PageDigests,
    prepared: &Prepared<'_>,
    batches: &[&Batch<'_>],
    write: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Pages, AuditError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_RENDER_THREADS)
        .min(batches.len());
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if threads == 0 || !multi_thread {
        let mut written = Pages::default();
        for batch in batches {
            let snapshots = batch.read(store).await?;
            for page in batch.render(prepared, &snapshots)? {
                if write(&page.path) {
                    written.add(write_page(store, digests, page).await?);
                }
            }
        }
        return Ok(written);
    }
    let handle = tokio::runtime::Handle::current();
    let (work_tx, work_rx) = tokio::sync::mpsc::channel::<(usize, Snapshots)>(AHEAD);
    let (page_tx, page_rx) = tokio::sync::mpsc::channel::<Rendered>(AHEAD);
    let work_rx = std::sync::Mutex::new(work_rx);
    // This worker thread runs the I/O side; tokio moves its other tasks elsewhere.
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (work_rx, page_tx) = (&work_rx, page_tx.clone());
                scope.spawn(move || render_worker(prepared, batches, work_rx, &page_tx));
            }
            drop(page_tx);
            // Returning (on an error too) drops both channel ends the workers use, so
            // they stop and the scope can end.
            handle.block_on(async move {
                let read = read_ahead(store, batches, work_tx);
                let write = write_pages(store, digests, page_rx, write);
                futures::try_join!(read, write).map(|((), written)| written)
            })
        })
    })
}

/// A batch's snapshots, by target name.
type Snapshots = BTreeMap<String, Snapshot>;
/// A batch's pages, or why they could not be rendered.
type Rendered = Result<Vec<Page>, ReportError>;

/// Units read ahead of the renderers, and rendered batches ahead of the writes.
const AHEAD: usize = 4;
/// Snapshot reads at a time.
const READS_AHEAD: usize = 8;
/// Page writes at a time.
const WRITES_AHEAD: usize = 8;

/// Reads each batch's snapshots, in order, and hands them to the renderers.
async fn read_ahead(
    store: &Store,
    batches: &[&Batch<'_>],
    work: tokio::sync::mpsc::Sender<(usize, Snapshots)>,
) -> Result<(), AuditError> {
    let mut reads = futures::stream::iter(batches.iter().enumerate())
        .map(|(i, batch)| async move { Ok::<_, AuditError>((i, batch.read(store).await?)) })
        .buffered(READS_AHEAD);
    while let Some(read) = reads.next().await {
        if work.send(read?).await.is_err() {
            break; // the renderers stopped: the write side has the error
        }
    }
    Ok(())
}

/// Writes pages as the renderers finish them, until every renderer is done.
async fn write_pages(
    store: &Store,
    digests: &PageDigests,
    mut rendered: tokio::sync::mpsc::Receiver<Rendered>,
    write: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Pages, AuditError> {
    let batches = futures::stream::poll_fn(move |cx| rendered.poll_recv(cx));
    let pages = batches.map(|pages| pages.map_err(AuditError::from)).map_ok(|pages| {
        let wanted = pages.into_iter().filter(|page| write(&page.path));
        futures::stream::iter(wanted.map(Ok::<_, AuditError>))
    });
    pages
        .try_flatten()
        .map_ok(
            |page| async move { write_page(store, digests, page).await.map_err(AuditError::from) },
        )
        .try_buffer_unordered(WRITES_AHEAD)
        .try_fold(Pages::default(), |mut pages, w| async move {
            pages.add(w);
            Ok(pages)
        })
        .await
}

/// One rendering thread: takes the next batch read, renders it, passes its pages on.
fn render_worker(
    prepared: &Prepared<'_>,
    batches: &[&Batch<'_>],
    work: &std::sync::Mutex<tokio::sync::mpsc::Receiver<(usize, Snapshots)>>,
    pages: &tokio::sync::mpsc::Sender<Rendered>,
) {
    loop {
        let next = work.lock().expect("work queue lock").blocking_recv();
        let Some((i, snapshots)) = next else { return };
        if pages.blocking_send(batches[i].render(prepared, &snapshots)).is_err() {
            return;
        }
    }
}
