//! Target and group pages rendered by unit: a target outside any group, or a group's
//! members with the group page. A unit's snapshots are read once and serve all of its
//! pages; a batch of units is rendered on every core (rendering is CPU-bound and, once
//! collection is over, the only work left).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::AuditError;
use crate::report::{Page, Prepared, ReportError};
use crate::run::TargetRun;
use crate::snapshot::Snapshot;
use crate::store::Store;

/// More threads than this buys little and holds more pages at once.
const MAX_RENDER_THREADS: usize = 4;

pub(super) enum Unit<'a> {
    Target(&'a TargetRun),
    Group(&'a str, Vec<&'a TargetRun>),
}

/// The run's units: each group (by name), then each target outside a group (by name).
pub(super) fn of<'a>(prepared: &Prepared<'a>) -> Vec<Unit<'a>> {
    let mut units: Vec<Unit<'a>> =
        prepared.groups().into_iter().map(|(g, members)| Unit::Group(g, members)).collect();
    units.extend(prepared.targets().into_iter().filter(|t| t.group.is_none()).map(Unit::Target));
    units
}

impl Unit<'_> {
    fn members(&self) -> &[&TargetRun] {
        match self {
            Unit::Target(t) => std::slice::from_ref(t),
            Unit::Group(_, members) => members,
        }
    }

    /// The current snapshots of the unit's collected members, by target name.
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
        if let Unit::Group(group, _) = self {
            pages.push(prepared.group_page(group, snapshots)?);
        }
        Ok(pages)
    }
}

/// Every page of `units` (`snapshots[i]` is `units[i]`'s), in unit order, rendered on
/// up to [`MAX_RENDER_THREADS`] threads. On a current-thread runtime (tests) the
/// rendering stays on the one thread.
pub(super) fn render(
    prepared: &Prepared<'_>,
    units: &[Unit<'_>],
    snapshots: &[BTreeMap<String, Snapshot>],
) -> Result<Vec<Page>, ReportError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_RENDER_THREADS)
        .min(units.len());
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if threads <= 1 || !multi_thread {
        let mut pages = Vec::new();
        for (unit, snapshots) in units.iter().zip(snapshots) {
            pages.extend(unit.render(prepared, snapshots)?);
        }
        return Ok(pages);
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = units.get(i) else { return done };
            done.push((i, unit.render(prepared, &snapshots[i])));
        }
    };
    // This worker thread renders too; tokio moves its other tasks elsewhere meanwhile.
    let mut done = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
            let mut done = work();
            for helper in helpers {
                done.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            done
        })
    });
    done.sort_by_key(|(i, _)| *i);
    let mut pages = Vec::new();
    for (_, rendered) in done {
        pages.extend(rendered?);
    }
    Ok(pages)
}
